"""List scheduling of build units onto nodes: pure state transitions, no I/O, no clock.

Task selection policy
---------------------
A task (one job: one target on one platform, one `docker buildx bake`
invocation, one slot) becomes
ready when every task it depends on has finished. Among ready tasks the one
with the longest remaining estimated path to the end of the graph (its
"upward rank": its duration plus the longest rank among its dependents) goes
first; ties break by input order, so the same input gives the same plan.

Node selection policy
---------------------
A task may run on any node that can build all its platforms
(`bakeplan.nodes.platform_rank`): exactly, compatibly (arm/v7 on arm64,
386 on amd64, ...) or, where the node lists the platform, under emulation,
which is estimated `emulation_factor` times slower. Among nodes with a free
slot, the task goes where it finishes first; then exact before compatible
before emulated; then the least busy node (balances equivalent nodes); then
the least work given so far; then node order. A task that would finish
later under emulation than by waiting for a busy native node waits.

Hand-over. A task reads the results of the tasks it depends on. On the node
where a dependency ran, that costs nothing (the node re-solves it from its
own cache); on any other node the dependency's exported result is imported,
which costs `Problem.transfer(src, dst)` seconds (learned per node pair,
else `handover` seconds). So a task finishes first where its parents ran,
unless another node with a free slot finishes it sooner, transfer included;
and it waits for a busy parent node when that node frees a slot soon enough
to finish it sooner than the free node would.

Capacity. Nodes have `slots`: at most that many tasks run on a node at
once. A task's demand (`Task.cpus`, `Task.memory`: the target's `resources`)
counts against it, as Bazel's resource sets do: a task of 2.5 CPUs takes 3
slots (at most all of a node's); a task never goes to a node with less
memory than it states, and tasks stating memory run together on a host only
as far as its memory goes. Nodes on one host (`Node.host`) also share the host's slots
(`nodes.host_pools`): four daemons on one 2-core machine run two tasks at
once between them. A node's `speed` scales every duration there: a task
takes `duration / speed` on it (a node at 0.625 takes 1.6 times as long), so
slower nodes finish later and get less work, and the lower bound counts
their slots for less.

Like dask's `local.py`, the state lives in one `State` object and small
functions move it forward: `start_state`, `dispatch` (place what can start
now), `finish` (a task succeeded at a given time), `fail` (it failed: every
task that needs it, transitively, is skipped) and `retry` (it failed and runs
again in its slot). `simulate` drives them with estimated durations to
produce a plan; `bakeplan run` drives them with real completion times. The
functions update the `State` they are given and touch nothing else.

Liveness. `node_down` takes a node out (its daemon stopped answering): its
slots are no longer free, and the tasks running there go back to ready, to be
placed on another node (what they lost is not a failure). `node_up` puts it
back (a health probe says it answers again). `stranded` lists the ready tasks
that no node still up can build; `give_up` fails one.

Every task is in exactly one of `waiting`, `ready`, `running`, `done`,
`failed` and `skipped`. A task skipped because one dependency failed stays
skipped when its other dependencies finish later. `finish`, `fail` and
`retry` of a task that is not running is a caller's bug: they raise
ValueError and leave the state as it was.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bakeplan.demand import fits_memory, format_bytes
from bakeplan.errors import BakeplanError, CycleError, NoNodeError
from bakeplan.nodes import EMULATED, Node, host_pools, platform_rank

DEFAULT_EMULATION_FACTOR = 3.0
K = TypeVar("K", frozenset[int], tuple[tuple[int, int], ...])


@dataclass(frozen=True, slots=True)
class Task:
    """Something to schedule: an id, its estimated duration, the platforms its node must build ((None,): any), its deps."""

    id: str
    duration: float
    platforms: tuple[str | None, ...] = (None,)
    deps: tuple[str, ...] = ()
    export: float = 0.0  # of `duration`, the part spent exporting a copy for children elsewhere
    cpus: float = 1.0  # CPU cores it uses (`bakeplan.demand`)
    memory: int | None = None  # bytes it states it needs (None: not stated)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Placement:
    """A task on a node, with its (estimated or real) start and end, and how the node builds it."""

    task: str
    node: str
    start: float
    end: float
    rank: int  # nodes.EXACT / COMPATIBLE / EMULATED


@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class LowerBound:
    """No schedule can finish before `value`: the largest of its parts."""

    critical_path: float
    work: float  # total work / total capacity (slots at their speed, a shared host counted once)
    classes: tuple[tuple[str, float], ...]  # (node set, work only those nodes can do / their slots)

    @property
    def value(self) -> float:
        """The bound itself."""
        return max([self.critical_path, self.work, *(v for _, v in self.classes)])


@dataclass(frozen=True, slots=True)
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


# ------------------------------------------------------------ preparation


def prepare(
    tasks: Sequence[Task],
    nodes: Sequence[Node],
    *,
    emulation_factor: float = DEFAULT_EMULATION_FACTOR,
    fifo: bool = False,
    handover: float = 0.0,
    transfers: Mapping[tuple[str, str], float] | None = None,
) -> Problem:
    """Check and precompute: capable nodes per task, costs, priorities; raise NoNodeError/CycleError.

    `fifo=True` replaces the critical-path priority by input order (a baseline for benchmarks).
    `handover` and `transfers` price reading a dependency's result on another node.
    """
    index = {task.id: i for i, task in enumerate(tasks)}
    ranks: dict[str | None, tuple[int | None, ...]] = {}  # platform -> rank per node, computed once
    by_platforms: dict[tuple[str | None, ...], tuple[tuple[int, int], ...]] = {}
    by_need: dict[tuple[tuple[str | None, ...], int | None], tuple[tuple[int, int], ...]] = {}
    capable = tuple(by_need[t.platforms, t.memory] if (t.platforms, t.memory) in by_need
                    else by_need.setdefault((t.platforms, t.memory), _capable(t, nodes, ranks)) for t in tasks)
    cost = tuple(_cost(t.duration, c, emulation_factor) for t, c in zip(tasks, capable))
    dependents: list[list[int]] = [[] for _ in tasks]
    for i, task in enumerate(tasks):
        for dep in dict.fromkeys(task.deps):  # a dep listed twice is waited for once
            if dep in index:
                dependents[index[dep]].append(i)
    order = _topological(tasks, index, dependents)
    priority = [0.0] * len(tasks)
    for i in reversed(order):
        priority[i] = cost[i] + max((priority[j] for j in dependents[i]), default=0.0)
    if fifo:
        priority = [-float(i) for i in range(len(tasks))]
    pools, pool_slots = host_pools(nodes)
    return Problem(tuple(tasks), tuple(nodes), index, capable, cost, tuple(priority),
                   tuple(tuple(d) for d in dependents), emulation_factor, {n.name: i for i, n in enumerate(nodes)},
                   handover, dict(transfers or {}), pools=pools, pool_slots=pool_slots)


def _capable(task: Task, nodes: Sequence[Node], cache: dict[str | None, tuple[int | None, ...]]) -> tuple[tuple[int, int], ...]:
    """(node index, worst rank over the task's platforms) for every node that can build the task."""
    for p in task.platforms:
        if p not in cache:
            cache[p] = tuple(platform_rank(node, p) for node in nodes)
    found = []
    small = []  # nodes that build the platform but have less memory than the task states
    for n in range(len(nodes)):
        ranks = [cache[p][n] for p in task.platforms]
        if all(r is not None for r in ranks):
            if not fits_memory(nodes[n], task.memory):
                small.append(nodes[n])
                continue
            found.append((n, max(r for r in ranks if r is not None)))
    if not found and small:
        raise BakeplanError(
            f"no node has the memory {task.id} asks for ({format_bytes(task.memory or 0)}, resources.memory): "
            + ", ".join(f"{n.name} has {format_bytes(n.memory or 0)}" for n in small),
            hint="Lower resources.memory, or declare the node's real memory (memory=... in bakeplan.toml or --node).")
    if not found:
        platform = next((p for p in task.platforms if not any(platform_rank(n, p) is not None for n in nodes)), None)
        label = platform or "+".join(p or "native" for p in task.platforms)
        raise NoNodeError(task.id, label, [(n.name, n.platforms) for n in nodes])
    return tuple(found)


def _cost(duration: float, capable: Sequence[tuple[int, int]], factor: float) -> float:
    """The task's duration on its best node (emulation only if nothing better exists)."""
    return duration * (factor if min(rank for _, rank in capable) == EMULATED else 1.0)


def _topological(tasks: Sequence[Task], index: Mapping[str, int], dependents: Sequence[Sequence[int]]) -> list[int]:
    """Task indices in a topological order (Kahn, input order among equals); CycleError on a cycle."""
    indegree = [sum(1 for d in set(t.deps) if d in index) for t in tasks]
    queue = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(queue)
    order = []
    while queue:
        i = heapq.heappop(queue)
        order.append(i)
        for j in dependents[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(queue, j)
    if len(order) < len(tasks):
        raise CycleError("dependency", _find_cycle(tasks, index, {i for i, d in enumerate(indegree) if d > 0}))
    return order


def _find_cycle(tasks: Sequence[Task], index: Mapping[str, int], stuck: set[int]) -> list[str]:
    """A cycle among the tasks left after Kahn's algorithm, as ids `a -> b -> a`."""
    start = min(stuck)
    path, seen = [start], {start: 0}
    while True:
        nxt = next(index[d] for d in tasks[path[-1]].deps if d in index and index[d] in stuck)
        if nxt in seen:
            cycle = [tasks[i].id for i in path[seen[nxt]:]]
            return [*cycle, cycle[0]]
        seen[nxt] = len(path)
        path.append(nxt)


# ------------------------------------------------------------ transitions


def start_state(problem: Problem, *, now: float = 0.0) -> State:
    """The state before anything ran: slots all free, tasks without deps ready."""
    state = State(now=now, free=[n.slots for n in problem.nodes], pool_free=list(problem.pool_slots),
                  pool_memory=_pool_memory(problem), load=[0.0] * len(problem.nodes))
    for i, task in enumerate(problem.tasks):
        count = len({d for d in task.deps if d in problem.index})
        if count:
            state.waiting[task.id] = count
        else:
            _push_ready(problem, state, i)
    return state


def _push_ready(problem: Problem, state: State, i: int) -> None:
    key = tuple(n for n, _ in problem.capable[i])
    # Among equal priorities the task with fewer capable nodes goes first: a task that can
    # run anywhere must not take the only node of a platform from one that needs it.
    heapq.heappush(state.ready.setdefault(key, []), (-problem.priority[i], len(key), i))


def dispatch(problem: Problem, state: State) -> list[Placement]:
    """Start every ready task that can start at `state.now`, best first; return their placements."""
    started: list[Placement] = []
    held: dict[tuple[int, ...], list[tuple[float, int, int]]] = {}  # waiting for a better node this round
    queues: dict[tuple[int, ...], list[float]] = {}  # per node set waited for: when each slot frees
    while True:
        key = _best_ready(problem, state)
        if key is None:
            break
        entry = heapq.heappop(state.ready[key])
        if not state.ready[key]:
            del state.ready[key]
        if not any(_open(problem, state, n, entry[-1]) for n in key):
            # Too big for what is free now (slots, memory): smaller tasks behind it may start meanwhile.
            held.setdefault(key, []).append(entry)
            continue
        placement = _place(problem, state, entry[-1], queues)
        if placement is None:
            held.setdefault(key, []).append(entry)
            continue
        n = problem.node_index[placement.node]
        _take(problem, state, entry[-1], n, -1)
        state.load[n] += placement.end - placement.start
        state.running[placement.task] = placement
        started.append(placement)
    for key, entries in held.items():
        for entry in entries:
            heapq.heappush(state.ready.setdefault(key, []), entry)
    return started


def _open(problem: Problem, state: State, n: int, i: int | None = None) -> bool:
    """Whether node n can start task i now (None: a one-slot task): slots of its own and of its host's, and memory."""
    need = 1 if i is None else _need(problem, i, n)
    memory = None if i is None else problem.tasks[i].memory
    left = state.pool_memory[problem.pools[n]] if state.pool_memory else None
    return (state.free[n] >= need and state.pool_free[problem.pools[n]] >= need
            and (memory is None or left is None or left >= memory))


def _need(problem: Problem, i: int, n: int) -> int:
    """The slots task i takes on node n: its CPUs rounded up, at least 1, at most the node's and its host's."""
    cpus = problem.tasks[i].cpus
    whole = 1 if cpus <= 1.0 else math.ceil(cpus - 1e-9)
    return max(1, min(whole, problem.nodes[n].slots, problem.pool_slots[problem.pools[n]]))


def _take(problem: Problem, state: State, i: int, n: int, sign: int) -> None:
    """Take (sign -1) or give back (+1) what task i holds on node n: its slots there and at its host, its memory."""
    need = _need(problem, i, n)
    state.free[n] += sign * need
    state.pool_free[problem.pools[n]] += sign * need
    memory = problem.tasks[i].memory
    left = state.pool_memory[problem.pools[n]] if state.pool_memory else None
    if memory is not None and left is not None:
        state.pool_memory[problem.pools[n]] = left + sign * memory


def _pool_memory(problem: Problem) -> list[int | None]:
    """Per host pool, the memory its nodes report (the largest known; None when none is)."""
    found: list[int | None] = [None] * len(problem.pool_slots)
    for n, node in enumerate(problem.nodes):
        p = problem.pools[n]
        if node.memory is not None:
            found[p] = max(found[p] or 0, node.memory)
    return found


def _best_ready(problem: Problem, state: State) -> tuple[int, ...] | None:
    """The capable-node set whose best ready task has the highest priority and a free node."""
    best: tuple[int, ...] | None = None
    for key, heap in state.ready.items():
        if not any(_open(problem, state, n) for n in key):
            continue
        if best is None or heap[0] < state.ready[best][0]:
            best = key
    return best


def _place(problem: Problem, state: State, i: int, queues: dict[tuple[int, ...], list[float]]) -> Placement | None:
    """The best free node for task i at `state.now`, or None when it should wait for a better node."""
    task = problem.tasks[i]
    sources = _sources(problem, state, task)
    best: tuple[float, int, float, float, int] | None = None
    for n, rank in problem.capable[i]:
        if not _open(problem, state, n, i):
            continue
        node = problem.nodes[n]
        end = state.now + _import(problem, state, sources, node.name) + _duration(problem, task, rank, n)
        candidate = (end, rank, 1.0 - state.free[n] / node.slots, state.load[n], n)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        return None
    end, rank, _, _, n = best
    if rank == EMULATED or _import(problem, state, sources, problem.nodes[n].name) > 0:
        if _wait_for_better(problem, state, i, sources, end, queues):
            return None
    return Placement(task.id, problem.nodes[n].name, state.now, end, rank)


def _sources(problem: Problem, state: State, task: Task) -> tuple[tuple[str, int], ...]:
    """(node, task index) of each finished dependency: where its result is."""
    return tuple((state.done[d].node, problem.index[d]) for d in dict.fromkeys(task.deps) if d in state.done)


def _import(problem: Problem, state: State, sources: Sequence[tuple[str, int]], dest: str) -> float:
    """Seconds before a task can build on `dest`: its dependencies' results fetched side by side (the slowest).

    Nothing for one on `dest` itself; a hand-over by digest from any other
    node (a platform-less parent has the builder's default platform set
    explicitly, so its result is the same wherever it was built).
    """
    return max((problem.transfer(source, dest) for source, _ in sources), default=0.0)


def _wait_for_better(problem: Problem, state: State, i: int, sources: Sequence[tuple[str, int]], end: float,
                     queues: dict[tuple[int, ...], list[float]]) -> bool:
    """Whether task i finishes before `end` by queueing for a busy node (one holding its parents, a native one).

    Each node's finish counts what the task would fetch there. Tasks that
    decided to wait this round hold their slot in `queues`, so a second task
    does not count on the slot the first one took. A free node finishes no
    sooner than `end` (the best free node's), so a task only ever waits for a
    running one: the run always moves on.
    """
    task = problem.tasks[i]
    best: tuple[float, int] | None = None
    for n, rank in problem.capable[i]:
        frees = _slot_queue(problem, state, (n,), queues)
        if not frees:
            continue
        finish_at = max(frees[0], state.now) + _import(problem, state, sources, problem.nodes[n].name) \
            + _duration(problem, task, rank, n)
        if finish_at < end - 1e-9 and (best is None or finish_at < best[0]):
            best = (finish_at, n)
    if best is None:
        return False
    heapq.heapreplace(queues[(best[1],)], best[0])
    return True


def _slot_queue(problem: Problem, state: State, nodes: tuple[int, ...],
                queues: dict[tuple[int, ...], list[float]]) -> list[float]:
    """When each slot of `nodes` frees (a heap), made once per dispatch round.

    A node's k-th slot is open once both its own k-th slot and its host
    pool's k-th slot are free.
    """
    if nodes not in queues:
        frees = [t for n in nodes for t in _opens(problem, state, n)]
        heapq.heapify(frees)
        queues[nodes] = frees
    return queues[nodes]


def _opens(problem: Problem, state: State, n: int) -> list[float]:
    """When each of node n's slots can next take a task: its own slots and its host pool's, paired in time order."""
    pool = problem.pools[n]
    members = {problem.nodes[m].name for m, p in enumerate(problem.pools) if p == pool}
    own = sorted([p.end for p in state.running.values() if p.node == problem.nodes[n].name]
                 + [state.now] * max(state.free[n], 0))
    shared = sorted([p.end for p in state.running.values() if p.node in members]
                    + [state.now] * max(state.pool_free[pool], 0))
    return [max(a, b) for a, b in zip(own, shared)]


def _duration(problem: Problem, task: Task, rank: int, n: int) -> float:
    """The task's duration on node n: slower under emulation, scaled by the node's speed."""
    return task.duration * (problem.emulation_factor if rank == EMULATED else 1.0) / problem.nodes[n].speed


def finish(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """Record that `task` succeeded at `now`: free its slot, release dependents; return the newly ready ids.

    A dependent already skipped (another of its dependencies failed) stays skipped.
    """
    state.done[task] = _stop(problem, state, task, now, "finish")
    released = []
    for j in problem.dependents[problem.index[task]]:
        dep_id = problem.tasks[j].id
        if dep_id in state.skipped:
            continue
        state.waiting[dep_id] -= 1
        if state.waiting[dep_id] == 0:
            del state.waiting[dep_id]
            _push_ready(problem, state, j)
            released.append(dep_id)
    return released


def fail(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """Record that `task` failed at `now`: free its slot; return the ids of every task that now cannot run.

    Those tasks (all transitive dependents not already skipped) move from
    `waiting` to `skipped`, in input order.
    """
    state.failed[task] = _stop(problem, state, task, now, "fail")
    return _skip_dependents(problem, state, task)


def _skip_dependents(problem: Problem, state: State, task: str) -> list[str]:
    """Move every waiting transitive dependent of a failed task to `skipped`; their ids in input order."""
    skipped: list[str] = []
    stack = list(problem.dependents[problem.index[task]])
    while stack:
        tid = problem.tasks[j := stack.pop()].id
        if tid in state.waiting:
            del state.waiting[tid]
            skipped.append(tid)
            stack.extend(problem.dependents[j])
    skipped.sort(key=problem.index.__getitem__)
    state.skipped.update((tid, task) for tid in skipped)
    return skipped


def node_down(problem: Problem, state: State, node: str, now: float) -> list[str]:
    """Take `node` out at `now`: no slot there is free; the tasks running there go back to ready (returned).

    Their lost time is not a failure: they are placed again by the next
    `dispatch`, never on a node that is down. Taking a down node out again
    changes nothing.
    """
    n = problem.node_index[node]
    state.now = max(state.now, now)
    state.down.add(node)
    moved = sorted((t for t, p in state.running.items() if p.node == node), key=problem.index.__getitem__)
    for task in moved:
        del state.running[task]
        _take(problem, state, problem.index[task], n, +1)  # the host's other nodes may use what the lost tasks held
        _push_ready(problem, state, problem.index[task])
    state.free[n] = 0  # after giving back what the moved tasks held: nothing starts here until `node_up`
    return moved


def node_up(problem: Problem, state: State, node: str, now: float) -> None:
    """Put a down `node` back at `now` (it answers again): its slots are free (nothing runs there)."""
    n = problem.node_index[node]
    state.now = max(state.now, now)
    if node in state.down:
        state.down.discard(node)
        state.free[n] = problem.nodes[n].slots - sum(_need(problem, problem.index[t], n)
                                                      for t, p in state.running.items() if p.node == node)


def stranded(problem: Problem, state: State) -> list[str]:
    """The ready tasks that no node still up can build, in input order."""
    found = [entry[-1] for key, heap in state.ready.items()
             if all(problem.nodes[n].name in state.down for n in key) for entry in heap]
    return [problem.tasks[i].id for i in sorted(found)]


def give_up(problem: Problem, state: State, task: str, now: float) -> list[str]:
    """A ready task that cannot run (no node up builds it) fails at `now`; return the tasks that now cannot run.

    Its placement in `failed` names no node.
    """
    i = problem.index[task]
    key = tuple(n for n, _ in problem.capable[i])
    heap = state.ready.get(key, [])
    entry = next((e for e in heap if e[-1] == i), None)
    if entry is None:
        raise ValueError(f"cannot give up task {task!r}: it is {status(problem, state, task)}, not ready")
    heap.remove(entry)
    heapq.heapify(heap)
    if not heap:
        del state.ready[key]
    state.now = max(state.now, now)
    state.failed[task] = Placement(task, "", now, now, min(rank for _, rank in problem.capable[i]))
    return _skip_dependents(problem, state, task)


def retry(problem: Problem, state: State, task: str, now: float) -> Placement:
    """Record that `task` failed at `now` and starts again in the same slot; return its new placement.

    The slot stays taken and the start stays the first attempt's; the end
    becomes a fresh estimate, so placement decisions see when the slot frees.
    """
    old = _running(problem, state, task, "retry")
    n = problem.node_index[old.node]
    duration = _duration(problem, problem.tasks[problem.index[task]], old.rank, n)
    new = Placement(old.task, old.node, old.start, now + duration, old.rank)
    state.running[task] = new
    state.load[n] += duration
    state.now = max(state.now, now)
    return new


def _stop(problem: Problem, state: State, task: str, now: float, verb: str) -> Placement:
    """Take a running task off its node at `now`: free its slot (unless the node is down); its placement."""
    placement = _running(problem, state, task, verb)
    del state.running[task]
    if placement.node not in state.down:
        _take(problem, state, problem.index[task], problem.node_index[placement.node], +1)
    state.now = max(state.now, now)
    return Placement(placement.task, placement.node, placement.start, now, placement.rank)


def _running(problem: Problem, state: State, task: str, verb: str) -> Placement:
    """The placement of a running task; ValueError (state untouched) for any other task."""
    placement = state.running.get(task)
    if placement is None:
        raise ValueError(f"cannot {verb} task {task!r}: it is {status(problem, state, task)}, not running")
    return placement


def status(problem: Problem, state: State, task: str) -> str:
    """Where a task stands: waiting, ready, running, done, failed, skipped (or unknown)."""
    if task not in problem.index:
        return "unknown"
    places: tuple[tuple[str, Container[str]], ...] = (
        ("waiting", state.waiting), ("running", state.running), ("done", state.done),
        ("failed", state.failed), ("skipped", state.skipped),
    )
    for name, place in places:
        if task in place:
            return name
    i = problem.index[task]
    if any(entry[-1] == i for heap in state.ready.values() for entry in heap):
        return "ready"
    raise AssertionError(f"task {task!r} is in no state")  # a bug in the transitions


# ------------------------------------------------------------ simulation


def simulate(problem: Problem) -> Schedule:
    """Run the transitions with estimated durations; the resulting plan."""
    state = start_state(problem)
    events: list[tuple[float, int, str]] = []
    while True:
        for placement in dispatch(problem, state):
            heapq.heappush(events, (placement.end, problem.index[placement.task], placement.task))
        if not events:
            break
        end, _, task = heapq.heappop(events)
        finish(problem, state, task, end)
    if state.waiting or state.ready:
        raise AssertionError("scheduler stalled with work left")  # a bug, not user error
    placements = sorted(state.done.values(), key=lambda p: (p.start, problem.index[p.task]))
    makespan = max((p.end for p in placements), default=0.0)
    return Schedule(tuple(placements), makespan, lower_bound(problem), critical_path(problem))


def schedule(tasks: Sequence[Task], nodes: Sequence[Node], *,
             emulation_factor: float = DEFAULT_EMULATION_FACTOR) -> Schedule:
    """Prepare and simulate in one call."""
    return simulate(prepare(tasks, nodes, emulation_factor=emulation_factor))


def critical_path(problem: Problem) -> tuple[str, ...]:
    """The longest estimated chain through the graph, as task ids from first to last."""
    if not problem.tasks:
        return ()
    has_deps = {i for deps in problem.dependents for i in deps}
    current = max((i for i in range(len(problem.tasks)) if i not in has_deps),
                  key=lambda i: (problem.priority[i], -i))
    path = [current]
    while problem.dependents[current]:
        current = max(problem.dependents[current], key=lambda j: (problem.priority[j], -j))
        path.append(current)
    return tuple(problem.tasks[i].id for i in path)


def lower_bound(problem: Problem) -> LowerBound:
    """max(critical path, work / capacity of all nodes, and per node class its work / its capacity).

    A node class is a set of nodes that is the only place some tasks can run
    (a union of tasks' capable-node sets). Its capacity counts each node's
    slots at the speed it builds those tasks: its `speed` natively, divided
    by emulation_factor when it can only emulate them; nodes sharing a host
    count no more than the host's slots at their best speed. No schedule
    finishes those tasks sooner.
    """
    groups: dict[frozenset[int], tuple[float, dict[int, float]]] = {}
    ranked: dict[tuple[tuple[int, int], ...], tuple[float, dict[int, float]]] = {}  # same nodes, same ranks
    for i, (task, capable) in enumerate(zip(problem.tasks, problem.capable)):
        # A task taking k slots does k slots' worth of work (the fewest it takes on any node it can go to).
        work = task.duration * min(_need(problem, i, n) for n, _ in capable)
        _add_work(problem, groups, frozenset(n for n, _ in capable), work, capable)
        _add_work(problem, ranked, capable, work, capable)
    everything = frozenset(range(len(problem.nodes)))
    values = {key: _class_bound(problem, key, groups) for key in _node_classes(list(groups))}
    total = values.pop(everything, None)
    if total is None:
        total = _class_bound(problem, everything, groups)
    classes = tuple(("+".join(problem.nodes[n].name for n in sorted(key)), value)
                    for key, value in sorted(values.items(), key=lambda kv: sorted(kv[0])))
    # Native and emulated work on the same nodes are one node class but not one speed:
    # the weighted bound prices them apart.
    weighted = _weighted_bound(problem, list(ranked.values()))
    if weighted > max([total, *values.values()]) + 1e-9:
        classes += (("emulation-weighted", weighted),)
    return LowerBound(_longest_path(problem), total, classes)


def _add_work(problem: Problem, table: dict[K, tuple[float, dict[int, float]]], key: K, duration: float,
              capable: Sequence[tuple[int, int]]) -> None:
    """Add a task's work to its group, and its nodes' best speed for the group."""
    work, speed = table.get(key, (0.0, {}))
    for n, rank in capable:
        rate = problem.nodes[n].speed / (problem.emulation_factor if rank == EMULATED else 1.0)
        speed[n] = max(speed.get(n, 0.0), rate)
    table[key] = (work + duration, speed)


def _capacity(problem: Problem, nodes: Iterable[int], rate: Callable[[int], float]) -> float:
    """The most work per second `nodes` do at `rate(n)` per slot, each host pool's slots counted once."""
    pools: dict[int, tuple[float, float]] = {}  # pool -> (best rate, all its nodes' slots at their rates)
    for n in nodes:
        best, total = pools.get(problem.pools[n], (0.0, 0.0))
        pools[problem.pools[n]] = (max(best, rate(n)), total + problem.nodes[n].slots * rate(n))
    return sum(min(problem.pool_slots[p] * best, total) for p, (best, total) in pools.items())


def _weighted_bound(problem: Problem, groups: Sequence[tuple[float, dict[int, float]]], *, limit: int = 7) -> float:
    """The LP-dual bound with prices in {0, 1, emulation_factor} per task group (emulation only).

    For any prices p >= 0, a schedule of length T satisfies
    sum(p_g * work_g) <= T * sum over nodes of slots * max_g(p_g * speed_g,node),
    because each slot-second does at most that much priced work. Pricing
    emulated work up shows that native and emulated work share the same slots.
    """
    if len(groups) > limit or all(speed == problem.nodes[n].speed for _, speeds in groups for n, speed in speeds.items()):
        return 0.0
    best = 0.0
    for prices in itertools.product((0.0, 1.0, problem.emulation_factor), repeat=len(groups)):
        work = sum(p * w for p, (w, _) in zip(prices, groups))
        if work <= 0:
            continue
        capacity = _capacity(problem, range(len(problem.nodes)),
                             lambda n: max(p * speeds.get(n, 0.0) for p, (_, speeds) in zip(prices, groups)))
        if capacity > 0:
            best = max(best, work / capacity)
    return best


def _node_classes(keys: Sequence[frozenset[int]], *, limit: int = 10) -> set[frozenset[int]]:
    """Every union of tasks' capable-node sets (just the sets themselves beyond `limit` of them)."""
    if len(keys) > limit:
        return set(keys)
    unions: set[frozenset[int]] = set()
    for key in keys:
        unions |= {key | other for other in unions} | {key}
    return unions


def _class_bound(problem: Problem, key: frozenset[int], groups: Mapping[frozenset[int], tuple[float, dict[int, float]]]) -> float:
    """Work that only nodes in `key` can do, over their speed-weighted slots."""
    members = [groups[g] for g in groups if g <= key]
    work = sum(w for w, _ in members)
    capacity = _capacity(problem, sorted(key), lambda n: max((speed.get(n, 0.0) for _, speed in members), default=0.0))
    return work / capacity if capacity > 0 else 0.0


def _longest_path(problem: Problem) -> float:
    """The critical-path length with each task on its fastest node."""
    order = _topological(problem.tasks, problem.index, problem.dependents)
    finish_at = [0.0] * len(problem.tasks)
    for i in order:
        finish_at[i] += min(_duration(problem, problem.tasks[i], rank, n) for n, rank in problem.capable[i])
        for j in problem.dependents[i]:
            finish_at[j] = max(finish_at[j], finish_at[i])
    return max(finish_at, default=0.0)
