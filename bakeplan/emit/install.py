"""How a generated workflow installs bakeplan: always a pinned, exact source.

An unpinned `pip install bakeplan` would install whatever the index serves
under that name when the workflow runs, inside a job that may hold registry
write tokens. The plan job installs one of:

- `bakeplan==VERSION` (the default: the version that generated the file);
- a wheel committed to the repository, by its path from the repository root;
- a VCS URL at a full commit hash (`git+https://host/repo@COMMIT`).
"""

from __future__ import annotations

import posixpath
import re
import shlex

from bakeplan import __version__
from bakeplan.errors import UsageError

_PINNED = re.compile(r"bakeplan\s*===?\s*[0-9][0-9A-Za-z.+!_-]*")
_VCS = re.compile(r"(bakeplan\s*@\s*)?git\+(https|ssh|file)://[^\s@]+(@[^\s@/]+)*@([0-9a-f]{40}|[0-9a-f]{64})(#[^\s]*)?")
_WHEEL = re.compile(r"[^\s]+\.whl")


def default_source() -> str:
    """The exact requirement on the version that is running."""
    return f"bakeplan=={__version__}"


def install_source(spec: str | None) -> str:
    """The `--install` value checked to be pinned (default: this version), as pip reads it."""
    if spec is None:
        return default_source()
    text = spec.strip()
    if _PINNED.fullmatch(text) or _VCS.fullmatch(text):
        return text
    if _WHEEL.fullmatch(text) and _inside(text):
        return posixpath.normpath(text)
    raise UsageError(
        f"bad --install {spec!r}: not a pinned source of bakeplan",
        hint="Use bakeplan==VERSION, a wheel's path in the repository (dist/bakeplan-0.1.0-py3-none-any.whl), "
             "or a VCS URL at a full commit hash (git+https://example.com/bakeplan.git@<40 hex digits>).",
    )


def _inside(path: str) -> bool:
    """A relative path that stays inside the repository."""
    normal = posixpath.normpath(path)
    return not posixpath.isabs(normal) and normal != ".." and not normal.startswith("../")


def install_command(source: str) -> str:
    """The shell line installing that source (a wheel path is made explicit with `./`)."""
    target = f"./{source}" if source.endswith(".whl") else source
    return shlex.join(["python", "-m", "pip", "install", "--no-input", target])
