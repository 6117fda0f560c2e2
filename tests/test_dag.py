from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeplan import dag
from bakeplan.emit.model import layers
from bakeplan.emit.source import jobs_from_result
from bakeplan.errors import CycleError
from bakeplan.graph import job_graph
from bakeplan.jobs import Job
from bakeplan.nodes import Node
from bakeplan.schedule import Task, prepare
from tests.support.plans import result, target


@st.composite
def dags(draw: st.DrawFn) -> list[list[int]]:
    """Dependents lists of a random DAG over 0..n-1 (edges may go from a higher to a lower index)."""
    count = draw(st.integers(0, 30))
    rank = draw(st.permutations(range(count)))  # edges go from lower to higher rank
    edges = draw(st.sets(st.tuples(st.integers(0, max(count - 1, 0)), st.integers(0, max(count - 1, 0)))))
    dependents: list[list[int]] = [[] for _ in range(count)]
    for a, b in sorted(edges):
        if count and rank[a] < rank[b]:
            dependents[a].append(b)
    return dependents


@settings(max_examples=200, deadline=None)
@given(dags())
def test_index_order_is_networkx_lexicographical_topological_sort(dependents: list[list[int]]) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(dependents)))
    graph.add_edges_from((i, j) for i, children in enumerate(dependents) for j in children)
    assert dag.index_order(dependents, what="x") == list(nx.lexicographical_topological_sort(graph))


# a needs b, b needs c, c needs a; d needs a (waits behind the cycle, is not on it).
NEEDS = {"a": ("b",), "b": ("c",), "c": ("a",), "d": ("a",)}
NAMES = list(NEEDS)


def needs_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(NAMES)
    graph.add_edges_from((dep, name) for name, deps in NEEDS.items() for dep in deps)
    return graph


def test_a_cycle_reads_in_needs_order_whoever_finds_it() -> None:
    dependents = [[NAMES.index(n) for n, deps in NEEDS.items() if name in deps] for name in NAMES]
    found = []
    with pytest.raises(CycleError) as by_index:
        dag.index_order(dependents, what="x", label=NAMES.__getitem__)
    found.append(str(by_index.value))
    with pytest.raises(CycleError) as by_check:
        dag.check_acyclic(needs_graph(), what="x")
    found.append(str(by_check.value))
    with pytest.raises(CycleError) as by_generations:
        dag.generations(needs_graph(), what="x")
    found.append(str(by_generations.value))
    assert found == ["x cycle: a -> b -> c -> a"] * 3
    assert by_index.value.path == ("a", "b", "c", "a")


def test_a_task_that_needs_itself_is_a_cycle_of_one() -> None:
    with pytest.raises(CycleError, match=r"^x cycle: solo -> solo$"):
        dag.index_order([[1], [1]], what="x", label=["first", "solo"].__getitem__)


def test_generations_put_each_node_one_after_its_deepest_parent() -> None:
    graph = nx.DiGraph([("base", "lib"), ("lib", "app"), ("base", "app")])
    graph.add_node("alone")
    assert dag.generations(graph, what="x") == [["base", "alone"], ["lib"], ["app"]]


def test_plan_schedule_and_emit_report_a_target_cycle_the_same_way() -> None:
    jobs = [Job(f"{n}@native", n, None, deps=tuple(f"{d}@native" for d in deps)) for n, deps in NEEDS.items()]
    with pytest.raises(CycleError) as by_graph:
        job_graph(jobs)
    with pytest.raises(CycleError) as by_schedule:
        prepare([Task(job.id, 1, deps=job.deps) for job in jobs], [Node("n", platforms=("linux/amd64",))])
    looped = result(*(target(n, contexts={d: f"target:{d}" for d in deps}) for n, deps in NEEDS.items()))
    with pytest.raises(CycleError) as by_emit:
        layers(jobs_from_result(looped))
    assert str(by_graph.value) == str(by_emit.value) == "target: cycle: a -> b -> c -> a"
    assert str(by_schedule.value) == "dependency cycle: a@native -> b@native -> c@native -> a@native"
