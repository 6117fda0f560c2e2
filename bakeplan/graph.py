"""The job dependency graph (networkx) and its linked components.

Edges point from a dependency to its dependent (parent -> child), so a
topological order is a valid build order.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import networkx as nx

from bakeplan.errors import CycleError
from bakeplan.jobs import Job


def job_graph(jobs: Sequence[Job]) -> nx.DiGraph:
    """A DiGraph over job ids (node attribute `job`), edges parent -> child; raises CycleError."""
    graph = nx.DiGraph()
    for job in jobs:
        graph.add_node(job.id, job=job)
    for job in jobs:
        for dep in job.deps:
            if dep in graph:
                graph.add_edge(dep, job.id)
    check_acyclic(graph)
    return graph


def check_acyclic(graph: nx.DiGraph) -> None:
    """Raise CycleError with the cycle's target path (`a -> b -> a`) if the graph has one."""
    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    # Edges run parent -> child; report in "reads" order: a reads b reads a.
    path = [_target_of(graph, edge[1]) for edge in reversed(edges)]
    raise CycleError("target:", [*path, path[0]])


def _target_of(graph: nx.DiGraph, node: str) -> str:
    job = graph.nodes[node].get("job")
    return job.target if isinstance(job, Job) else str(node)


def linked_components(graph: nx.DiGraph, order: Sequence[str]) -> list[list[str]]:
    """The weakly connected components, each in topological order, components ordered by `order`.

    Ties in the topological order break by `order` so the result is deterministic.
    """
    rank = {name: i for i, name in enumerate(order)}
    components = []
    for members in nx.weakly_connected_components(graph):
        components.append(_topological(graph, members, rank) if len(members) > 1 else list(members))
    components.sort(key=lambda comp: min(rank[m] for m in comp))
    return components


def _topological(graph: nx.DiGraph, members: set[str], rank: dict[str, int]) -> list[str]:
    """Kahn's algorithm over one component, earliest `rank` first among the ready."""
    indegree = {m: graph.in_degree(m) for m in members}
    ready = [(rank[m], m) for m in members if indegree[m] == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, name = heapq.heappop(ready)
        out.append(name)
        for child in graph.successors(name):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (rank[child], child))
    return out
