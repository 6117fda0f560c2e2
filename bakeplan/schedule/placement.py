"""The placement policy: which ready task starts next and on which node (see the package's docstring)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from bakeplan.platforms import EMULATED
from bakeplan.schedule.model import Placement, Problem, State, Task


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
