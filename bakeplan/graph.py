"""The job dependency graph (networkx).

Edges point from a dependency to its dependent (parent -> child), so a
topological order is a valid build order.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from bakeplan import dag
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
    dag.check_acyclic(graph, what="target:", label=lambda node: _target_of(graph, node))


def _target_of(graph: nx.DiGraph, node: str) -> str:
    job = graph.nodes[node].get("job")
    return job.target if isinstance(job, Job) else str(node)
