"""Small file-system helpers shared by the stages: the user cache folder and atomic writes.

Kept free of heavy imports: `bakeplan print` reaches these on every run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def user_cache_dir(env: Mapping[str, str]) -> Path | None:
    """`$XDG_CACHE_HOME/bakeplan`, else `$HOME/.cache/bakeplan`; None when neither variable is set."""
    base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
    return Path(base) / "bakeplan" if base else None


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
        Path(tmp).unlink(missing_ok=True)
        raise
