"""Simulation with estimated durations, and what a plan is measured against: critical path, lower bound."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from bakeplan.dag import index_order
from bakeplan.nodes import Node
from bakeplan.platforms import EMULATED
from bakeplan.schedule.model import DEFAULT_EMULATION_FACTOR, LowerBound, Problem, Schedule, Task
from bakeplan.schedule.placement import _duration, _need, dispatch
from bakeplan.schedule.preparation import prepare
from bakeplan.schedule.transitions import finish, start_state

K = TypeVar("K", frozenset[int], tuple[tuple[int, int], ...])


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
        capacity = _capacity(problem, range(len(problem.nodes)), _priced_speed(prices, groups))
        if capacity > 0:
            best = max(best, work / capacity)
    return best


def _priced_speed(prices: Sequence[float], groups: Sequence[tuple[float, dict[int, float]]]) -> Callable[[int], float]:
    """A node's most valuable priced speed over the task groups."""
    return lambda n: max(p * speeds.get(n, 0.0) for p, (_, speeds) in zip(prices, groups))


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
    order = index_order(problem.dependents, what="dependency", label=lambda i: problem.tasks[i].id)
    finish_at = [0.0] * len(problem.tasks)
    for i in order:
        finish_at[i] += min(_duration(problem, problem.tasks[i], rank, n) for n, rank in problem.capable[i])
        for j in problem.dependents[i]:
            finish_at[j] = max(finish_at[j], finish_at[i])
    return max(finish_at, default=0.0)
