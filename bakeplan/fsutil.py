"""Small file-system helpers shared by the stages: the user cache folder and atomic writes.

Kept free of heavy imports: `bakeplan print` reaches these on every run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path  # not imported at run time: `bakeplan print`'s replay path never needs pathlib


def cache_home(env: Mapping[str, str]) -> str | None:
    """bakeplan's cache folder: `$XDG_CACHE_HOME/bakeplan`, else `$HOME/.cache/bakeplan`; None when neither is set."""
    base = env.get("XDG_CACHE_HOME") or (os.path.join(env["HOME"], ".cache") if env.get("HOME") else "")
    return os.path.join(base, "bakeplan") if base else None


def user_cache_dir(env: Mapping[str, str]) -> Path | None:
    """`cache_home` as a Path."""
    from pathlib import Path

    home = cache_home(env)
    return None if home is None else Path(home)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    Readers (a concurrent run, a later one after a crash) see the old file or
    the new one, never half of one. OSError reaches the caller, which decides
    whether an unwritable file matters (for a cache it does not).
    """
    import tempfile  # not at import time: most runs never write

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
