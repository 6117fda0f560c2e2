"""Preparation: check the tasks and precompute what the policy reads (capable nodes, costs, priorities)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bakeplan.dag import index_order
from bakeplan.demand import fits_memory, format_bytes
from bakeplan.errors import BakeplanError, NoNodeError
from bakeplan.nodes import Node, host_pools
from bakeplan.platforms import EMULATED, platform_rank
from bakeplan.schedule.model import DEFAULT_EMULATION_FACTOR, Problem, Task


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
    by_need: dict[tuple[tuple[str | None, ...], int | None], tuple[tuple[int, int], ...]] = {}
    capable = tuple(by_need[t.platforms, t.memory] if (t.platforms, t.memory) in by_need
                    else by_need.setdefault((t.platforms, t.memory), _capable(t, nodes, ranks)) for t in tasks)
    cost = tuple(_cost(t.duration, c, emulation_factor) for t, c in zip(tasks, capable))
    dependents: list[list[int]] = [[] for _ in tasks]
    for i, task in enumerate(tasks):
        for dep in dict.fromkeys(task.deps):  # a dep listed twice is waited for once
            if dep in index:
                dependents[index[dep]].append(i)
    order = index_order(dependents, what="dependency", label=lambda i: tasks[i].id)
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
