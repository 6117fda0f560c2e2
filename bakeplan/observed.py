"""What a command learnt from the file system: the files it read and the paths it looked at.

A cache that replays a command's output (`bakeplan.cli.replay`) is only right
while everything the command saw is unchanged. Reads are seen by a
`sys.addaudithook` hook on `open` (every file, whichever module opens it);
existence checks cannot be audited (`os.stat` raises no event), so the code
that makes one whose answer shapes the result says so with `probe(path)`.

Nothing is recorded outside `observing()`: the hook costs one context-variable
lookup per `open` otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bakeplan.record import field, record


@record(frozen=False)
class Observed:
    """Absolute paths read and probed, in first-seen order; `ignored` prefixes are left out (interpreter, caches)."""

    ignored: tuple[str, ...] = ()
    reads: dict[str, None] = field(default_factory=dict)
    probes: dict[str, None] = field(default_factory=dict)


_CURRENT: ContextVar[Observed | None] = ContextVar("bakeplan_observed", default=None)
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_HOOKED: list[bool] = []  # audit hooks cannot be removed: install one per process, on first use


def _on_audit(event: str, args: tuple[object, ...]) -> None:
    """The audit hook: note the path of every file opened for reading while observing."""
    if event != "open":
        return
    observed = _CURRENT.get()
    if observed is None:
        return
    path, flags = args[0], args[2]  # (path, mode or None for os.open, flags)
    if not isinstance(path, str | os.PathLike) or not isinstance(flags, int) or flags & _WRITING:
        return
    full = os.path.abspath(os.fsdecode(path))
    if not full.startswith(observed.ignored):
        observed.reads.setdefault(full, None)


@contextmanager
def observing(folders: Iterable[str] = ()) -> Iterator[Observed]:
    """Record what the block reads and probes; reads under `folders` (caches) and the interpreter's and bakeplan's own are not inputs."""
    if not _HOOKED:
        sys.addaudithook(_on_audit)
        _HOOKED.append(True)
    own = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.abspath(__file__)), *folders}
    observed = Observed(ignored=tuple(os.path.join(os.path.abspath(folder), "") for folder in sorted(own) if folder))
    token = _CURRENT.set(observed)
    try:
        yield observed
    finally:
        _CURRENT.reset(token)


def probe(path: str | os.PathLike[str]) -> None:
    """Say that whether `path` exists (and what it is) shapes the result being computed."""
    observed = _CURRENT.get()
    if observed is not None:
        observed.probes.setdefault(os.path.abspath(os.fspath(path)), None)
