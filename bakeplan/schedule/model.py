"""The scheduler's data: tasks, the prepared problem, placements, the state between steps, the result."""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.nodes import Node
from bakeplan.record import field, record

DEFAULT_EMULATION_FACTOR = 3.0


@record
class Task:
    """Something to schedule: an id, its estimated duration, the platforms its node must build ((None,): any), its deps."""

    id: str
    duration: float
    platforms: tuple[str | None, ...] = (None,)
    deps: tuple[str, ...] = ()
    export: float = 0.0  # of `duration`, the part spent exporting a copy for children elsewhere
    cpus: float = 1.0  # CPU cores it uses (`bakeplan.demand`)
    memory: int | None = None  # bytes it states it needs (None: not stated)


@record
class Problem:
    """Tasks and nodes with everything the policy precomputes (see `prepare`)."""

    tasks: tuple[Task, ...]
    nodes: tuple[Node, ...]
    index: Mapping[str, int]  # task id -> position in `tasks`
    capable: tuple[tuple[tuple[int, int], ...], ...]  # per task: (node index, rank), node order
    cost: tuple[float, ...]  # per task: its duration on its best node
    priority: tuple[float, ...]  # per task: upward rank (larger goes first)
    dependents: tuple[tuple[int, ...], ...]
    emulation_factor: float
    node_index: Mapping[str, int]  # node name -> position in `nodes`
    handover: float = 0.0  # default seconds to import a dependency's result on another node
    transfers: Mapping[tuple[str, str], float] = field(default_factory=dict)  # learned (src, dst) seconds
    pools: tuple[int, ...] = ()  # per node: its host's slot pool (`nodes.host_pools`)
    pool_slots: tuple[int, ...] = ()  # per pool: how many tasks its nodes run at once together

    def transfer(self, source: str, dest: str) -> float:
        """Seconds to hand a result from node `source` over to node `dest` (0 on the same node)."""
        if source == dest:
            return 0.0
        return self.transfers.get((source, dest), self.handover)


@record
class Placement:
    """A task on a node, with its (estimated or real) start and end, and how the node builds it."""

    task: str
    node: str
    start: float
    end: float
    rank: int  # platforms.EXACT / COMPATIBLE / EMULATED


@record(frozen=False)
class State:
    """The scheduler's whole state between two steps.

    `waiting`: tasks with unfinished dependencies -> how many remain.
    `ready`: per capable-node set, a heap of (-priority, capable-node count, task index) ready to start.
    `running`: task id -> its placement (end is the estimate until `finish`).
    `done`: task id -> its placement with the real end (succeeded).
    `failed`: task id -> its placement with the real end (failed).
    `skipped`: task id -> the failed task it (transitively) needs.
    `free`: free slots per node (node order). `pool_free`: free slots per host pool.
    `pool_memory`: memory not yet promised per host pool (None: not known).
    `load`: work given per node.
    `down`: nodes taken out (`node_down`): no free slot, nothing placed there until `node_up`.
    """

    now: float = 0.0
    waiting: dict[str, int] = field(default_factory=dict)
    ready: dict[tuple[int, ...], list[tuple[float, int, int]]] = field(default_factory=dict)
    running: dict[str, Placement] = field(default_factory=dict)
    done: dict[str, Placement] = field(default_factory=dict)
    failed: dict[str, Placement] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    free: list[int] = field(default_factory=list)
    pool_free: list[int] = field(default_factory=list)
    pool_memory: list[int | None] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    down: set[str] = field(default_factory=set)


@record
class LowerBound:
    """No schedule can finish before `value`: the largest of its parts."""

    critical_path: float
    work: float  # total work / total capacity (slots at their speed, a shared host counted once)
    classes: tuple[tuple[str, float], ...]  # (node set, work only those nodes can do / their slots)

    @property
    def value(self) -> float:
        """The bound itself."""
        return max([self.critical_path, self.work, *(v for _, v in self.classes)])


@record
class Schedule:
    """A complete simulated schedule."""

    placements: tuple[Placement, ...]  # in start order
    makespan: float
    lower_bound: LowerBound
    critical_path: tuple[str, ...]  # task ids, first to last

    @property
    def ratio(self) -> float:
        """makespan / lower bound (1.0 is optimal)."""
        bound = self.lower_bound.value
        return self.makespan / bound if bound > 0 else 1.0
