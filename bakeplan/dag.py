"""The dependency-graph helpers plan, schedule and emit share: one build order, one cycle error.

Edges run from a dependency to its dependent (parent -> child), so a
topological order is a build order. Whoever finds a cycle reports it the same
way: a `bakeplan.errors.CycleError` whose path reads `a -> b -> a` (a needs
b, b needs a), found by networkx's `find_cycle`.

Where the graph is a networkx DiGraph (`bakeplan.graph`, `bakeplan.emit`),
networkx orders it. The scheduler holds its graph as index lists and orders
it on every plan: `index_order` gives the order networkx's
`lexicographical_topological_sort` gives keyed by index (Kahn's algorithm,
lowest index first: source order among equals), without importing networkx
(about 0.2 s) and building a graph (about 0.17 s for 10,000 jobs, where
`index_order` takes 0.01 s). networkx is imported only to report a cycle.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from bakeplan.errors import CycleError

Label = Callable[[Any], str]


def index_order(dependents: Sequence[Sequence[int]], *, what: str, label: Label = str) -> list[int]:
    """Indices 0..n-1 in build order, lowest index first among the ready ones; CycleError on a cycle.

    `dependents[i]` lists the indices that need i (each once); `label(i)`
    names i in the cycle message.
    """
    indegree = [0] * len(dependents)
    for children in dependents:
        for j in children:
            indegree[j] += 1
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
    if len(order) < len(dependents):
        raise cycle_error(_stuck_graph(dependents, indegree), what=what, label=label)
    return order


def _stuck_graph(dependents: Sequence[Sequence[int]], indegree: Sequence[int]) -> Any:
    """The indices Kahn's algorithm could not order (a cycle and what waits for it), as a DiGraph in index order."""
    import networkx as nx

    graph = nx.DiGraph()
    stuck = [i for i, d in enumerate(indegree) if d > 0]
    graph.add_nodes_from(stuck)
    graph.add_edges_from((i, j) for i in stuck for j in dependents[i] if indegree[j] > 0)
    return graph


def generations(graph: Any, *, what: str, label: Label = str) -> list[list[Any]]:
    """networkx's topological generations of `graph` (nodes without parents first); CycleError on a cycle."""
    import networkx as nx

    try:
        return [list(members) for members in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:
        raise cycle_error(graph, what=what, label=label) from None


def check_acyclic(graph: Any, *, what: str, label: Label = str) -> None:
    """Raise CycleError (`a -> b -> a`) if `graph` has a cycle."""
    import networkx as nx

    try:
        edges = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    raise _cycle(edges, what, label)


def cycle_error(graph: Any, *, what: str, label: Label = str) -> CycleError:
    """The CycleError for a cycle of `graph` (edges parent -> child), in reading order: `a -> b -> a`, a needs b."""
    import networkx as nx

    return _cycle(nx.find_cycle(graph), what, label)


def _cycle(edges: Sequence[tuple[Any, ...]], what: str, label: Label) -> CycleError:
    """Cycle edges parent -> child, reversed into reading order (a needs b needs a)."""
    path = [label(edge[1]) for edge in reversed(edges)]
    return CycleError(what, [*path, path[0]])
