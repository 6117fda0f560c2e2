from __future__ import annotations

import pytest

from bakeplan.errors import CycleError
from bakeplan.graph import job_graph
from bakeplan.jobs import Job, make_jobs
from tests.support.plans import result, target


def test_edges_run_from_parent_to_child() -> None:
    graph = job_graph(make_jobs(result(target("base"), target("app", contexts={"b": "target:base"}))))
    assert list(graph.edges) == [("base@native", "app@native")]


def test_a_cycle_is_reported_as_a_path_of_targets() -> None:
    jobs = [Job("a@native", "a", None, deps=("b@native",)), Job("b@native", "b", None, deps=("a@native",))]
    with pytest.raises(CycleError) as caught:
        job_graph(jobs)
    assert caught.value.path in {("a", "b", "a"), ("b", "a", "b")}
    assert " -> " in str(caught.value)
