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

When the files did change, the command still need not load typer: the
options typer read from this exact argument list last time are kept too
(keyed by the argument list and bakeplan's code alone), and
`bakeplan.cli.printout` runs with them. typer stays the only reader of the
command line; this is its answer, remembered.

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

from bakeplan.fsutil import cache_home, sha256

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms), as mypy reads it
if TYPE_CHECKING:
    from typing import Any

FORMAT = b"bakeplan-replay-1"
# Shell bookkeeping that changes between two identical commands.
_VOLATILE_ENV = frozenset({"_", "OLDPWD"})
# (output key, arguments key) of this invocation, once `replay` has looked.
_KEYS: ContextVar[tuple[str, str] | None] = ContextVar("bakeplan_replay_keys", default=None)


def _hexdigest(data: bytes) -> str:
    return sha256(data).hexdigest()


def cache_root(env: Mapping[str, str]) -> str | None:
    """The replay entries' folder; None when caching is off or there is no cache folder."""
    if env.get("BAKEPLAN_NO_CACHE"):
        return None
    base = cache_home(env)
    return None if base is None else os.path.join(base, "print")


def _code_stamp() -> list[object]:
    """What identifies the code that would run: Python, bakeplan's modules, the installed packages."""
    stamp: list[object] = [sys.version, sys.prefix]
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
    """Whether output goes to a terminal, and its size (COLUMNS and NO_COLOR are in the environment part of the key)."""
    ttys = (os.isatty(1), os.isatty(2))
    try:
        size: object = tuple(os.get_terminal_size(1)) if ttys[0] else None
    except OSError:
        size = None
    return (*ttys, size)


def key_for(args: Sequence[str], env: Mapping[str, str], cwd: str, stamp: Sequence[object]) -> str:
    """The entry key of one invocation's output: everything but the files it reads."""
    environment = sorted((k, v) for k, v in env.items() if k not in _VOLATILE_ENV)
    payload = repr((list(args), cwd, environment, _terminal(), stamp)).encode()
    return _hexdigest(FORMAT + payload)


def arguments_key(args: Sequence[str], stamp: Sequence[object]) -> str:
    """The entry key of what typer read from `args`: the argument list and the code, nothing else."""
    return _hexdigest(FORMAT + b"arguments" + repr((list(args), stamp)).encode())


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

    When not, remember the keys so that a successful run stores its output
    (`store`) and typer's reading of the arguments (`remember_arguments`).
    """
    env = os.environ
    root = cache_root(env)
    if root is None:
        return False
    stamp = _code_stamp()
    try:
        key = key_for(args, env, os.getcwd(), stamp)
    except OSError:  # the working directory is gone: let the command say so
        return False
    _KEYS.set((key, arguments_key(args, stamp)))
    entry = _load(_entry_path(root, key))
    try:
        reads, probes, output = entry["reads"], entry["probes"], entry["out"]
    except (TypeError, KeyError):
        return False  # no entry yet, or a foreign one: run, then store
    for path, digest in reads:
        data = _read(path)
        if data is None or _hexdigest(data) != digest:
            return False
    if any(_kind(path) != kind for path, kind in probes):
        return False
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return True


def stored_arguments() -> dict[str, object] | None:
    """The options typer read from this argument list before, if `replay` looked and they were kept."""
    keys, root = _KEYS.get(), cache_root(os.environ)
    if keys is None or root is None:
        return None
    arguments = _load(_entry_path(root, keys[1]))
    return arguments if isinstance(arguments, dict) else None


def remember_arguments(arguments: Mapping[str, object]) -> None:
    """Keep what typer read from this argument list, for the next run of the same list."""
    keys, root = _KEYS.get(), cache_root(os.environ)
    if keys is not None and root is not None:
        _write(_entry_path(root, keys[1]), dict(arguments))


def _load(path: str) -> Any:
    """A marshalled entry, or None (absent, truncated, foreign)."""
    try:
        with open(path, "rb") as handle:
            return marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _write(path: str, entry: Any) -> None:
    from pathlib import Path

    from bakeplan.fsutil import write_atomic

    try:
        write_atomic(Path(path), marshal.dumps(entry))
    except (OSError, ValueError):
        pass  # a read-only or full disk only costs the cache; an unmarshallable value is not kept


def store(reads: Iterable[str], probes: Iterable[str], output: str, *, impure: Sequence[bytes] = ()) -> None:
    """Keep this run's output for `replay`, if `replay` was asked first and every read is stable.

    `impure` lists byte strings that make a file's result change between runs.
    """
    keys, root = _KEYS.get(), cache_root(os.environ)
    if keys is None or root is None:
        return
    hashed = []
    for path in reads:
        data = _read(path)
        if data is None or any(marker in data for marker in impure):
            return
        hashed.append((path, _hexdigest(data)))
    _write(_entry_path(root, keys[0]), {"reads": hashed, "probes": [(path, _kind(path)) for path in probes], "out": output.encode()})
