"""A job's demand (its target's `resources`) against its node's capacity, in the plan and in the scheduler's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan.bake.model import Target
from bakeplan.demand import NONE, Demand, cpuset_size, format_bytes, memory_bytes, target_demand
from bakeplan.errors import BakeplanError
from bakeplan.history import History
from bakeplan.nodes import Node
from bakeplan.plan import build_plan
from bakeplan.schedule import Task, dispatch, finish, node_down, prepare, simulate, start_state
from tests.support.plans import result, target

GiB = 1024**3
AMD = "linux/amd64"


def sized(name: str, **resources: object) -> Target:
    built = target(name, [AMD])
    return Target(built.name, {**built.fields, "resources": resources})


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 * 1024**2), ("2g", 2 * GiB), ("1.5GiB", 3 * GiB // 2), ("4GB", 4 * GiB), ("1024", 1024), ("3k", 3072)])
def test_memory_sizes_read_as_docker_reads_them(text: str, size: int) -> None:
    assert memory_bytes(text) == size


def test_a_bad_size_or_cpuset_is_one_clear_error() -> None:
    with pytest.raises(BakeplanError, match="target 'a': resources: bad memory size 'lots'"):
        target_demand(sized("a", memory="lots"))
    with pytest.raises(BakeplanError, match="bad cpuset-cpus '3-1'"):
        cpuset_size("3-1")


def test_the_demand_comes_from_quota_over_period_or_the_cpuset_the_smaller_of_both() -> None:
    assert target_demand(target("plain", [AMD])) is NONE
    assert target_demand(sized("a", **{"cpu-quota": 250000})) == Demand(2.5)  # the kernel's default period, 100 ms
    assert target_demand(sized("a", **{"cpu-quota": 50000, "cpu-period": 50000, "memory": "2g"})) == Demand(1.0, 2 * GiB)
    assert target_demand(sized("a", **{"cpuset-cpus": "0-3,6", "cpu-quota": 300000})) == Demand(3.0)
    assert target_demand(sized("a", **{"cpu-shares": 2048})) == NONE  # a weight, not a size
    assert Demand(2.5).slots(8) == 3 and Demand(16).slots(4) == 4 and Demand(0.5).slots(4) == 1
    assert format_bytes(6 * GiB) == "6 GiB" and format_bytes(1536 * 1024**2) == "1.5 GiB"


def test_a_job_never_lands_on_a_node_with_less_memory_than_it_asks_for() -> None:
    nodes = [Node("small", platforms=(AMD,), slots=4, memory=4 * GiB), Node("big", platforms=(AMD,), slots=1, memory=16 * GiB)]
    history = History({"heavy|linux/amd64": (10.0,), "light|linux/amd64": (10.0,)})
    plan = build_plan(result(sized("heavy", memory="8g"), target("light", [AMD])), nodes, history=history, cwd=Path("/"))
    assert plan.timings["heavy@linux/amd64"].node == "big"
    assert plan.reasons["heavy@linux/amd64"].endswith(
        "resources: 1 CPU, 8 GiB; needs linux/amd64: natively on big; too little memory on small")
    with pytest.raises(BakeplanError, match=r"no node has the memory heavy@linux/amd64 asks for \(32 GiB, resources.memory\): "
                                            r"small has 4 GiB, big has 16 GiB"):
        build_plan(result(sized("heavy", memory="32g")), nodes, cwd=Path("/"))


def test_memory_heavy_jobs_do_not_start_together_beyond_the_nodes_memory() -> None:
    # 4 slots, 8 GiB: two 6 GiB jobs one after the other, the small ones beside them.
    node = Node("n", platforms=(AMD,), slots=4, memory=8 * GiB)
    tasks = [Task("big1", 10.0, (AMD,), memory=6 * GiB), Task("big2", 10.0, (AMD,), memory=6 * GiB),
             Task("small1", 5.0, (AMD,)), Task("small2", 5.0, (AMD,))]
    problem = prepare(tasks, [node])
    state = start_state(problem)
    assert [p.task for p in dispatch(problem, state)] == ["big1", "small1", "small2"]
    assert state.pool_memory == [2 * GiB] and state.free == [1]
    finish(problem, state, "big1", 10.0)
    assert state.pool_memory == [8 * GiB]
    assert [p.task for p in dispatch(problem, state)] == ["big2"]
    assert simulate(problem).makespan == 20.0


def test_a_multi_cpu_job_takes_that_many_slots_and_gives_them_back() -> None:
    node = Node("n", platforms=(AMD,), slots=4)
    problem = prepare([Task("wide", 10.0, (AMD,), cpus=2.5), Task("a", 10.0, (AMD,)), Task("b", 10.0, (AMD,))], [node])
    state = start_state(problem)
    assert [p.task for p in dispatch(problem, state)] == ["wide", "a"]  # 3 + 1 slots: b waits
    assert state.free == [0]
    finish(problem, state, "wide", 10.0)
    assert state.free == [3]
    assert [p.task for p in dispatch(problem, state)] == ["b"]
    # The lower bound counts the wide job's 3 slots: 30 + 10 + 10 slot-seconds over 4 slots.
    assert problem.tasks and simulate(problem).lower_bound.work == pytest.approx(12.5)


def test_a_job_wider_than_any_node_runs_alone_on_a_whole_node() -> None:
    problem = prepare([Task("huge", 10.0, (AMD,), cpus=64), Task("a", 10.0, (AMD,))], [Node("n", platforms=(AMD,), slots=2)])
    assert [(p.task, p.start) for p in simulate(problem).placements] == [("huge", 0.0), ("a", 10.0)]


def test_a_node_going_down_gives_back_what_its_jobs_held_to_its_host() -> None:
    nodes = [Node("a", platforms=(AMD,), slots=2, memory=8 * GiB, host="h"),
             Node("b", platforms=(AMD,), slots=2, memory=8 * GiB, host="h")]
    problem = prepare([Task("big", 10.0, (AMD,), cpus=2, memory=6 * GiB)], nodes)
    state = start_state(problem)
    placed = dispatch(problem, state)
    assert state.pool_free == [0] and state.pool_memory == [2 * GiB]
    node_down(problem, state, placed[0].node, 1.0)
    assert state.pool_free == [2] and state.pool_memory == [8 * GiB]
    assert [p.node for p in dispatch(problem, state)] == ["b" if placed[0].node == "a" else "a"]


def test_a_bad_size_names_the_targets_block() -> None:
    from bakeplan.errors import Location

    bad = Target("a", {"resources": {"memory": "lots"}}, location=Location("docker-bake.hcl", 3, 1))
    with pytest.raises(BakeplanError, match=r"^docker-bake.hcl:3:1: target 'a': resources: bad memory size 'lots'"):
        target_demand(bad)
