"""This machine's capacity and whether a node runs on it.

Usable cores after cgroup quota and CPU affinity (like ninja) and total
memory, from psutil; a node runs here when its endpoint is local or its
worker names this machine's hostname.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from bakeplan.record import record


def usable_cores(*, _cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPU cores this process may use: affinity, then cgroup v2/v1 quota (as ninja does)."""
    import psutil

    try:
        cores = len(psutil.Process().cpu_affinity() or []) or (psutil.cpu_count() or 1)
    except (AttributeError, OSError):
        cores = psutil.cpu_count() or 1
    quota = _cgroup_quota(_cgroup_root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota(root: Path) -> float | None:
    """The CPU quota in cores from cgroup v2 `cpu.max` or v1 `cpu.cfs_*`, None when unlimited."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def total_memory() -> int:
    """Total memory in bytes, capped by the cgroup v2 limit when one is set."""
    import psutil

    memory = int(psutil.virtual_memory().total)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            memory = min(memory, int(limit))
    except (OSError, ValueError):
        pass
    return memory


@record
class Machine:
    """The machine bakeplan runs on: its hostname, usable cores and memory (bytes)."""

    host: str
    slots: int
    memory: int | None


def this_machine() -> Machine:
    """This machine as psutil and the hostname see it."""
    import socket

    return Machine(socket.gethostname(), usable_cores(), total_memory())


_LOOPBACK = re.compile(r"^tcp://(127\.[0-9.]+|localhost|\[::1\])(:\d+)?(/.*)?$", re.IGNORECASE)


def on_machine(endpoint: str, host: str, machine: Machine) -> bool:
    """Whether a node at `endpoint` whose worker names `host` runs on `machine`.

    A unix socket or named pipe is local by nature, so is loopback TCP; else
    the worker's hostname decides (a remote daemon on this machine reports its name).
    """
    if endpoint.startswith(("unix://", "npipe://")) or _LOOPBACK.match(endpoint):
        return True
    return bool(host) and host == machine.host
