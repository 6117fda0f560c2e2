"""A repeat `bakeplan print` answers from its last output, before typer is imported.

`print` is a pure function of the command line, the working directory, the
environment, bakeplan's own code and the files it reads. After a run that
succeeded, its output is stored under a key of all but the files; the entry
lists every file the run read (with a SHA-256 of its bytes) and every path
whose existence mattered (`bakeplan.observed`). A later run with the same key
whose files all still hash the same writes the stored bytes and stops: no
typer, no parser, no evaluator (Python's start and a few hashes).

Never stored: a failed run, a run that read stdin, files calling functions
whose results change between runs (timestamp, uuidv4, bcrypt), or any run under
`BAKEPLAN_NO_CACHE`. The key hashes the environment's values; no value is
written anywhere. The argument list is used as it is, never interpreted: a
spelling that typer reads the same way simply gets an entry of its own.

Kept to the standard library's built-in modules: importing anything heavier
here would cost every command.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar

FORMAT = b"bakeplan-replay-1"
# Shell bookkeeping that changes between two identical commands.
_VOLATILE_ENV = frozenset({"_", "OLDPWD"})
_KEY: ContextVar[str | None] = ContextVar("bakeplan_replay_key", default=None)


def _sha256(data: bytes = b"") -> object:
    """CPython's built-in SHA-256 (hashlib would load OpenSSL: ~5 ms)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from hashlib import sha256
    return sha256(data)


def _hexdigest(data: bytes) -> str:
    digest = _sha256(data)
    return str(digest.hexdigest())  # type: ignore[attr-defined]


def cache_root(env: Mapping[str, str]) -> str | None:
    """The replay entries' folder; None when caching is off or there is no cache folder."""
    from bakeplan.fsutil import cache_home

    if env.get("BAKEPLAN_NO_CACHE"):
        return None
    base = cache_home(env)
    return None if base is None else os.path.join(base, "print")


def _code_stamp() -> list[object]:
    """What identifies the code that would run: Python, bakeplan's modules, the installed packages."""
    stamp: list[object] = [sys.version, sys.executable]
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folders = [package]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    folders.append(entry.path)
                elif entry.name.endswith((".py", ".json")):
                    info = entry.stat()
                    stamp.append((entry.path, info.st_size, info.st_mtime_ns))
    # An install, upgrade or removal changes its site folder's entries, hence its mtime.
    for folder in sys.path:
        if folder.endswith(("site-packages", "dist-packages")):
            try:
                stamp.append((folder, os.stat(folder).st_mtime_ns))
            except OSError:
                stamp.append((folder, None))
    return stamp


def _terminal() -> tuple[object, ...]:
    """Whether output goes to a terminal, and its size: `--list` tables depend on both."""
    ttys = (os.isatty(1), os.isatty(2))
    try:
        size: object = tuple(os.get_terminal_size(1)) if ttys[0] else None
    except OSError:
        size = None
    return (*ttys, size, os.environ.get("COLUMNS"), os.environ.get("NO_COLOR"))


def key_for(args: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
    """The entry key of one invocation: everything but the files it reads."""
    environment = sorted((k, v) for k, v in env.items() if k not in _VOLATILE_ENV)
    payload = repr((list(args), cwd, environment, _terminal(), _code_stamp())).encode()
    return _hexdigest(FORMAT + payload)


def _entry_path(root: str, key: str) -> str:
    return os.path.join(root, key[:2], key)


def _kind(path: str) -> str:
    """What is at `path`, as far as an existence check can tell."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "absent"
    except OSError as error:
        return f"error:{error.errno}"
    if stat.S_ISREG(mode):
        return "file"
    return "dir" if stat.S_ISDIR(mode) else "other"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def replay(args: Sequence[str]) -> bool:
    """Write the stored output of this exact invocation if every input is unchanged; True when done.

    When not, remember the key so that a successful run stores its output (`store`).
    """
    env = os.environ
    root = cache_root(env)
    if root is None:
        return False
    try:
        key = key_for(args, env, os.getcwd())
    except OSError:  # the working directory is gone: let the command say so
        return False
    _KEY.set(key)
    try:
        with open(_entry_path(root, key), "rb") as handle:
            entry = marshal.load(handle)
        reads, probes, output = entry["reads"], entry["probes"], entry["out"]
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return False  # no entry yet, or a truncated or foreign one: run, then store
    for path, digest in reads:
        data = _read(path)
        if data is None or _hexdigest(data) != digest:
            return False
    if any(_kind(path) != kind for path, kind in probes):
        return False
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return True


def store(reads: Iterable[str], probes: Iterable[str], output: str, *, impure: Sequence[bytes] = ()) -> None:
    """Keep this run's output for `replay`, if `replay` was asked first and every read is stable.

    `impure` lists byte strings that make a file's result change between runs.
    """
    key = _KEY.get()
    root = cache_root(os.environ)
    if key is None or root is None:
        return
    hashed = []
    for path in reads:
        data = _read(path)
        if data is None or any(marker in data for marker in impure):
            return
        hashed.append((path, _hexdigest(data)))
    entry = {"reads": hashed, "probes": [(path, _kind(path)) for path in probes], "out": output.encode()}
    from pathlib import Path

    from bakeplan.fsutil import write_atomic

    try:
        write_atomic(Path(_entry_path(root, key)), marshal.dumps(entry))
    except OSError:
        pass  # a read-only or full disk only costs the cache
