"""What a job asks of its node: CPU cores and memory, from the target's `resources`.

buildx passes a target's `resources` (`memory`, `cpu-quota`/`cpu-period`,
`cpuset-cpus`, ...) to BuildKit as limits for its RUN steps. bakeplan reads
them as the job's demand, as Bazel's resource sets do for actions:

- `cpus`: `cpu-quota / cpu-period` (the period defaults to 100000 µs, as the
  kernel's CFS does), else the number of CPUs in `cpuset-cpus`, the smaller
  of the two when both are set; 1 without either (`cpu-shares` is a weight,
  not a size). A job takes `ceil(cpus)` of its node's slots (at most all of
  them: a job bigger than a node still runs there, alone).
- `memory`: bytes. A job never lands on a node whose known memory is
  smaller, and the jobs that state a memory demand never run together on
  a node beyond its memory.
"""

from __future__ import annotations

import math

from bakeplan.bake.model import Target
from bakeplan.bake.units import SizeError, ram_in_bytes
from bakeplan.errors import BakeFileError, BakeplanError
from bakeplan.nodes import Node
from bakeplan.record import record

DEFAULT_CPU_PERIOD = 100_000  # µs, the kernel's CFS default


@record
class Demand:
    """A job's size: `cpus` cores (fractions allowed) and `memory` bytes (None: not stated)."""

    cpus: float = 1.0
    memory: int | None = None

    def slots(self, node_slots: int) -> int:
        """The slots it takes on a node of `node_slots`: its cores rounded up, between 1 and the node's all."""
        return max(1, min(math.ceil(self.cpus - 1e-9), node_slots))

    @property
    def stated(self) -> bool:
        """Whether the target states any size (else it is an ordinary one-slot job)."""
        return self.cpus != 1.0 or self.memory is not None


NONE = Demand()


def target_demand(target: Target) -> Demand:
    """The demand of each job of the target, from its printed `resources` (NONE without).

    A bad size is a BakeFileError at the target's block (`file:line:col`).
    """
    try:
        return _demand(target)
    except BakeplanError as error:
        raise BakeFileError(error.message, target.location, hint=error.hint) from None


def _demand(target: Target) -> Demand:
    resources = target.fields.get("resources")
    if not isinstance(resources, dict) or not resources:
        return NONE
    where = f"target {target.name!r}: resources"
    cpus: list[float] = []
    quota = resources.get("cpu-quota")
    if isinstance(quota, int) and quota > 0:
        period = resources.get("cpu-period")
        cpus.append(quota / (period if isinstance(period, int) and period > 0 else DEFAULT_CPU_PERIOD))
    cpuset = resources.get("cpuset-cpus")
    if isinstance(cpuset, str) and cpuset.strip():
        cpus.append(float(cpuset_size(cpuset, where)))
    memory = resources.get("memory")
    return Demand(min(cpus) if cpus else 1.0, memory_bytes(memory, where) if isinstance(memory, str) and memory else None)


def cpuset_size(text: str, where: str = "cpuset-cpus") -> int:
    """How many CPUs a cpuset list names: `0-3,6` -> 5."""
    found: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last) if sep else int(first)
        except ValueError:
            raise BakeplanError(f"{where}: bad cpuset-cpus {text!r}", hint="Use CPU numbers and ranges, e.g. 0-3,6.") from None
        if high < low:
            raise BakeplanError(f"{where}: bad cpuset-cpus {text!r}", hint="A range goes from low to high, e.g. 0-3.")
        found.update(range(low, high + 1))
    return len(found)


def memory_bytes(text: str, where: str = "memory") -> int:
    """A docker memory size (`512m`, `2g`, `1.5GiB`, `1024`) in bytes; units are binary, as docker's RAMInBytes."""
    try:
        return ram_in_bytes(text.strip())  # as buildx hands `resources` values on
    except SizeError as error:
        raise BakeplanError(f"{where}: bad memory size {text!r}: {error}", hint="Use a number with b, k, m, g or t, e.g. 4g.") from None


def fits_memory(node: Node, memory: int | None) -> bool:
    """Whether a node can take a job stating `memory` bytes (a node whose memory is not known can: who knows)."""
    return memory is None or node.memory is None or node.memory >= memory


def format_bytes(value: int) -> str:
    """`4294967296` -> `4 GiB`; `1536 MiB` stays in MiB."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            amount = value / size
            return f"{amount:.0f} {unit}" if amount == int(amount) else f"{amount:.1f} {unit}"
    return f"{value} B"
