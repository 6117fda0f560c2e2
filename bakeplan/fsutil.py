"""Small helpers shared by the stages: the one cache folder, atomic writes, a cheap SHA-256.

Kept free of heavy imports: `bakeplan print` reaches these on every run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms), as mypy reads it

if TYPE_CHECKING:
    from hashlib import _Hash
    from pathlib import Path  # not imported at run time: `bakeplan print`'s replay path never needs pathlib


# From this many bytes on, OpenSSL's SHA-256 (~5x faster here) repays importing
# hashlib (~3 ms): a run hashes each file it reads three or four times.
_OPENSSL_WORTH = 1 << 19


def sha256(data: bytes = b"", *, more: int = 0) -> _Hash:
    """A SHA-256 hash object for `data`, with `more` bytes still to come.

    CPython's built-in implementation for small inputs: hashlib loads OpenSSL
    (~3 ms per run), which only pays off on big ones.
    """
    if len(data) + more < _OPENSSL_WORTH:
        try:
            from _sha256 import sha256 as builtin  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            small: _Hash = builtin(data)
            return small
    from hashlib import sha256 as new

    digest: _Hash = new(data)
    return digest


def cache_home(env: Mapping[str, str]) -> str | None:
    """bakeplan's cache folder, where every cache lives; None when there is no home folder at all.

    `$BAKEPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/bakeplan`, else
    `~/.cache/bakeplan` (`~` is `$HOME`, else the password database's entry).
    The parse and evaluation caches, the parser tables, replayed `print`
    output, the duration history and the build records all live under it.
    """
    if env.get("BAKEPLAN_CACHE_DIR"):
        return env["BAKEPLAN_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME")
    if not base:
        home = env.get("HOME") or _account_home()
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "bakeplan")


def _account_home() -> str | None:
    """The home folder the password database gives this user (what `~` means without `$HOME`)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir or None
    except (ImportError, KeyError, AttributeError):  # no pwd (Windows), or no entry for this uid
        return None


def user_cache_dir(env: Mapping[str, str]) -> Path | None:
    """`cache_home` as a Path: the one cache folder setting every cache uses."""
    from pathlib import Path

    home = cache_home(env)
    return None if home is None else Path(home)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    Readers (a concurrent run, a later one after a crash) see the old file or
    the new one, never half of one. OSError reaches the caller, which decides
    whether an unwritable file matters (for a cache it does not).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # What tempfile.mkstemp does (a new file only this user reads), without
    # importing tempfile (~5 ms, with random and shutil): a cache write after
    # every edit would pay it.
    tmp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
