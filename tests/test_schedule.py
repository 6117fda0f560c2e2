from __future__ import annotations

import copy
import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeplan.errors import CycleError, NoNodeError
from bakeplan.nodes import COMPATIBLE, EMULATED, EXACT, Node, host_pools, platform_rank
from bakeplan.schedule import (
    LowerBound,
    Placement,
    Problem,
    Schedule,
    State,
    Task,
    dispatch,
    fail,
    finish,
    give_up,
    node_down,
    node_up,
    prepare,
    retry,
    schedule,
    simulate,
    start_state,
    status,
    stranded,
)
from tests.support.plans import node

AMD, ARM = "linux/amd64", "linux/arm64"


def test_one_dispatch_step_starts_the_longest_path_first_and_leaves_this_state() -> None:
    tasks = [Task("short", 1, (AMD,)), Task("long", 5, (AMD,)), Task("after", 2, (AMD,), ("short",))]
    problem = prepare(tasks, [node("a", AMD, slots=1)])
    state = start_state(problem)
    started = dispatch(problem, state)
    assert started == [Placement("long", "a", 0.0, 5.0, EXACT)]
    assert state == State(
        now=0.0, waiting={"after": 1}, ready={(0,): [(-3.0, 1, 0)]},
        running={"long": Placement("long", "a", 0.0, 5.0, EXACT)}, done={}, free=[0], pool_free=[0], pool_memory=[None], load=[5.0],
    )


def test_one_finish_step_frees_the_slot_and_releases_dependents_with_the_real_end_time() -> None:
    tasks = [Task("first", 1, (AMD,)), Task("after", 2, (AMD,), ("first",))]
    problem = prepare(tasks, [node("a", AMD, slots=1)])
    state = start_state(problem)
    dispatch(problem, state)
    released = finish(problem, state, "first", 4.5)
    assert released == ["after"]
    assert state == State(
        now=4.5, waiting={}, ready={(0,): [(-2.0, 1, 1)]}, running={},
        done={"first": Placement("first", "a", 0.0, 4.5, EXACT)}, free=[1], pool_free=[1], pool_memory=[None], load=[1.0],
    )


def test_a_failure_skips_every_transitive_dependent_and_nothing_else() -> None:
    tasks = [Task("a", 1), Task("b", 1, deps=("a",)), Task("c", 1, deps=("b",)), Task("d", 1)]
    problem = prepare(tasks, [node("n", AMD, slots=2)])
    state = start_state(problem)
    dispatch(problem, state)
    assert fail(problem, state, "a", 1.0) == ["b", "c"]
    assert state == State(
        now=1.0, waiting={}, ready={}, running={"d": Placement("d", "n", 0.0, 1.0, EXACT)}, done={},
        failed={"a": Placement("a", "n", 0.0, 1.0, EXACT)}, skipped={"b": "a", "c": "a"}, free=[1], pool_free=[1], pool_memory=[None], load=[2.0],
    )


# ------------------------------------------------------------ failures, retries, rejected transitions

# "c" needs both "a" and "b"; "d" is independent. On two slots "b" (longest path) and "a" start first.
JOIN = [Task("a", 1), Task("b", 2), Task("c", 3, deps=("a", "b")), Task("d", 4)]


def _join() -> tuple[Problem, State]:
    problem = prepare(JOIN, [node("n", AMD, slots=2)])
    state = start_state(problem)
    assert [p.task for p in dispatch(problem, state)] == ["b", "a"]
    return problem, state


def test_a_dependent_skipped_by_one_failed_parent_stays_skipped_when_its_other_parent_finishes_later() -> None:
    problem, state = _join()
    assert fail(problem, state, "a", 1.0) == ["c"]
    assert state == State(
        now=1.0, waiting={}, ready={(0,): [(-4.0, 1, 3)]}, running={"b": Placement("b", "n", 0.0, 2.0, EXACT)},
        done={}, failed={"a": Placement("a", "n", 0.0, 1.0, EXACT)}, skipped={"c": "a"}, free=[1], pool_free=[1], pool_memory=[None], load=[3.0],
    )
    assert finish(problem, state, "b", 2.5) == []
    assert state == State(
        now=2.5, waiting={}, ready={(0,): [(-4.0, 1, 3)]}, running={}, done={"b": Placement("b", "n", 0.0, 2.5, EXACT)},
        failed={"a": Placement("a", "n", 0.0, 1.0, EXACT)}, skipped={"c": "a"}, free=[2], pool_free=[2], pool_memory=[None], load=[3.0],
    )
    assert dispatch(problem, state) == [Placement("d", "n", 2.5, 6.5, EXACT)]  # never the skipped "c"


def test_a_dependent_whose_other_parent_finished_first_is_skipped_when_one_parent_fails() -> None:
    problem, state = _join()
    assert finish(problem, state, "b", 1.0) == []
    assert state == State(
        now=1.0, waiting={"c": 1}, ready={(0,): [(-4.0, 1, 3)]}, running={"a": Placement("a", "n", 0.0, 1.0, EXACT)},
        done={"b": Placement("b", "n", 0.0, 1.0, EXACT)}, free=[1], pool_free=[1], pool_memory=[None], load=[3.0],
    )
    assert fail(problem, state, "a", 2.5) == ["c"]
    assert state == State(
        now=2.5, waiting={}, ready={(0,): [(-4.0, 1, 3)]}, running={}, done={"b": Placement("b", "n", 0.0, 1.0, EXACT)},
        failed={"a": Placement("a", "n", 0.0, 2.5, EXACT)}, skipped={"c": "a"}, free=[2], pool_free=[2], pool_memory=[None], load=[3.0],
    )


def test_a_second_failure_keeps_the_first_cause_of_a_skip_and_skips_only_what_is_left() -> None:
    tasks = [Task("a", 1), Task("b", 1), Task("c", 1, deps=("a", "b")), Task("d", 1, deps=("b",))]
    problem = prepare(tasks, [node("n", AMD, slots=2)])
    state = start_state(problem)
    dispatch(problem, state)
    assert fail(problem, state, "a", 1.0) == ["c"]
    assert fail(problem, state, "b", 2.0) == ["d"]
    assert state.skipped == {"c": "a", "d": "b"} and state.waiting == {} and state.free == [2]


def test_a_retry_keeps_the_slot_and_the_first_start_and_moves_the_estimated_end() -> None:
    problem = prepare([Task("a", 2), Task("b", 1, deps=("a",)), Task("c", 1)], [node("n", AMD, slots=1)])
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("a", "n", 0.0, 2.0, EXACT)]
    assert retry(problem, state, "a", 2.5) == Placement("a", "n", 0.0, 4.5, EXACT)
    assert state == State(
        now=2.5, waiting={"b": 1}, ready={(0,): [(-1.0, 1, 2)]}, running={"a": Placement("a", "n", 0.0, 4.5, EXACT)},
        free=[0], pool_free=[0], pool_memory=[None], load=[4.0],
    )
    assert dispatch(problem, state) == []  # the retry still holds the only slot
    assert finish(problem, state, "a", 4.0) == ["b"]
    assert state == State(
        now=4.0, waiting={}, ready={(0,): [(-1.0, 1, 1), (-1.0, 1, 2)]}, running={},
        done={"a": Placement("a", "n", 0.0, 4.0, EXACT)}, free=[1], pool_free=[1], pool_memory=[None], load=[4.0],
    )


def test_a_retried_task_that_fails_in_the_end_skips_its_dependents() -> None:
    problem = prepare([Task("a", 2), Task("b", 1, deps=("a",)), Task("c", 1)], [node("n", AMD, slots=1)])
    state = start_state(problem)
    dispatch(problem, state)
    retry(problem, state, "a", 2.0)
    assert fail(problem, state, "a", 4.0) == ["b"]
    assert state == State(
        now=4.0, waiting={}, ready={(0,): [(-1.0, 1, 2)]}, running={}, failed={"a": Placement("a", "n", 0.0, 4.0, EXACT)},
        skipped={"b": "a"}, free=[1], pool_free=[1], pool_memory=[None], load=[4.0],
    )


def test_after_a_retry_a_task_waiting_for_the_native_node_is_emulated_when_waiting_got_slower() -> None:
    nodes = [node("arm", ARM), Node("amd", platforms=(AMD, ARM), native=1, slots=2)]
    tasks = [Task("first", 21, (ARM,)), Task("gate", 5, (AMD,)), Task("second", 10, (ARM,), ("gate",))]
    problem = prepare(tasks, nodes)
    state = start_state(problem)
    dispatch(problem, state)
    finish(problem, state, "gate", 5.0)
    assert dispatch(problem, state) == []  # native at 21 + 10 beats emulated 5 + 30
    retry(problem, state, "first", 21.0)  # native now frees at 42: 52 loses to 21 + 30
    assert dispatch(problem, state) == [Placement("second", "amd", 21.0, 51.0, EMULATED)]


# ------------------------------------------------------------ liveness: nodes going down and coming back

# Two one-slot nodes of one platform; "a" (longest) goes to n1, "b" to n2, "c" waits for a slot, "d" needs "a".
LIVE = [Task("a", 4), Task("b", 3), Task("c", 2), Task("d", 1, deps=("a",))]


def _live() -> tuple[Problem, State]:
    problem = prepare(LIVE, [node("n1", AMD, slots=1), node("n2", AMD, slots=1)])
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("a", "n1", 0.0, 4.0, EXACT), Placement("b", "n2", 0.0, 3.0, EXACT)]
    return problem, state


def test_a_node_going_down_sends_its_running_task_back_to_ready_and_takes_its_slots_out() -> None:
    problem, state = _live()
    assert node_down(problem, state, "n1", 1.5) == ["a"]
    assert state == State(
        now=1.5, waiting={"d": 1}, ready={(0, 1): [(-5.0, 2, 0), (-2.0, 2, 2)]},
        running={"b": Placement("b", "n2", 0.0, 3.0, EXACT)}, free=[0, 0], pool_free=[1, 0], pool_memory=[None, None], load=[4.0, 3.0], down={"n1"},
    )
    assert node_down(problem, state, "n1", 2.0) == []  # already down: nothing more to move
    assert dispatch(problem, state) == []  # the only node up is busy; nothing ever lands on n1


def test_a_task_moved_off_a_down_node_runs_on_the_next_free_node_up_and_is_not_a_failure() -> None:
    problem, state = _live()
    node_down(problem, state, "n1", 1.5)
    assert finish(problem, state, "b", 3.0) == []
    assert dispatch(problem, state) == [Placement("a", "n2", 3.0, 7.0, EXACT)]
    assert finish(problem, state, "a", 7.0) == ["d"]
    assert state == State(
        now=7.0, waiting={}, ready={(0, 1): [(-2.0, 2, 2), (-1.0, 2, 3)]}, running={},
        done={"b": Placement("b", "n2", 0.0, 3.0, EXACT), "a": Placement("a", "n2", 3.0, 7.0, EXACT)},
        free=[0, 1], pool_free=[1, 1], pool_memory=[None, None], load=[4.0, 7.0], down={"n1"},
    )


def test_a_node_that_comes_back_gets_its_slots_again() -> None:
    problem, state = _live()
    node_down(problem, state, "n1", 1.0)
    node_up(problem, state, "n1", 2.0)
    assert state == State(
        now=2.0, waiting={"d": 1}, ready={(0, 1): [(-5.0, 2, 0), (-2.0, 2, 2)]},
        running={"b": Placement("b", "n2", 0.0, 3.0, EXACT)}, free=[1, 0], pool_free=[1, 0], pool_memory=[None, None], load=[4.0, 3.0], down=set(),
    )
    assert dispatch(problem, state) == [Placement("a", "n1", 2.0, 6.0, EXACT)]
    node_up(problem, state, "n1", 2.5)  # a node that is up stays as it is
    assert state.free == [0, 0]


def test_ready_tasks_no_node_up_can_build_are_stranded_and_giving_up_skips_their_dependents() -> None:
    problem, state = _live()
    node_down(problem, state, "n1", 1.0)
    assert stranded(problem, state) == []  # n2 still builds them
    node_down(problem, state, "n2", 1.5)
    assert stranded(problem, state) == ["a", "b", "c"]
    assert give_up(problem, state, "a", 2.0) == ["d"]
    assert state == State(
        now=2.0, waiting={}, ready={(0, 1): [(-3.0, 2, 1), (-2.0, 2, 2)]}, running={},
        failed={"a": Placement("a", "", 2.0, 2.0, EXACT)}, skipped={"d": "a"}, free=[0, 0], pool_free=[1, 1], pool_memory=[None, None], load=[4.0, 3.0],
        down={"n1", "n2"},
    )
    with pytest.raises(ValueError, match="cannot give up task 'd': it is skipped, not ready"):
        give_up(problem, state, "d", 2.0)


def test_a_task_for_another_platform_is_not_stranded_by_a_node_it_never_used() -> None:
    tasks = [Task("amd", 1, (AMD,)), Task("arm", 1, (ARM,))]
    problem = prepare(tasks, [node("a", AMD, slots=1), node("r", ARM, slots=1)])
    state = start_state(problem)
    node_down(problem, state, "a", 0.0)
    assert stranded(problem, state) == ["amd"]
    assert dispatch(problem, state) == [Placement("arm", "r", 0.0, 1.0, EXACT)]


def test_a_dependency_listed_twice_is_waited_for_once() -> None:
    problem = prepare([Task("a", 1), Task("b", 1, deps=("a", "a"))], [node("n", AMD)])
    state = start_state(problem)
    dispatch(problem, state)
    assert state.waiting == {"b": 1}
    assert finish(problem, state, "a", 1.0) == ["b"]
    assert state.waiting == {} and state.ready == {(0,): [(-1.0, 1, 1)]}


def _every_status() -> tuple[Problem, State]:
    """One task in each place: ok done, bad failed, child skipped, run running, wait waiting, idle ready."""
    tasks = [Task("ok", 5), Task("bad", 10), Task("child", 1, deps=("bad",)), Task("run", 3),
             Task("wait", 1, deps=("run",)), Task("idle", 1)]
    problem = prepare(tasks, [node("n", AMD, slots=1)])
    state = start_state(problem)
    assert [p.task for p in dispatch(problem, state)] == ["bad"]
    fail(problem, state, "bad", 10.0)
    assert [p.task for p in dispatch(problem, state)] == ["ok"]
    finish(problem, state, "ok", 15.0)
    assert [p.task for p in dispatch(problem, state)] == ["run"]
    return problem, state


def test_status_names_where_each_task_stands() -> None:
    problem, state = _every_status()
    assert {t.id: status(problem, state, t.id) for t in problem.tasks} == {
        "ok": "done", "bad": "failed", "child": "skipped", "run": "running", "wait": "waiting", "idle": "ready"}
    assert status(problem, state, "ghost") == "unknown"


@pytest.mark.parametrize("verb", ["finish", "fail", "retry"])
@pytest.mark.parametrize(("task", "where"), [
    ("ghost", "unknown"),  # finish of an unknown unit
    ("ok", "done"),  # finished twice: the slot must not be freed twice
    ("bad", "failed"),  # finish after fail
    ("child", "skipped"),  # a skipped task never runs, so it cannot end
    ("wait", "waiting"),
    ("idle", "ready"),  # ready but never started
])
def test_ending_a_task_that_is_not_running_is_refused_and_leaves_the_state_alone(
    verb: str, task: str, where: str,
) -> None:
    transition = {"finish": finish, "fail": fail, "retry": retry}[verb]
    problem, state = _every_status()
    before = copy.deepcopy(state)
    with pytest.raises(ValueError, match=f"cannot {verb} task '{task}': it is {where}, not running"):
        transition(problem, state, task, 20.0)
    assert state == before


def test_balances_equal_work_over_equivalent_nodes() -> None:
    plan = schedule([Task(f"t{i}", 10, (AMD,)) for i in range(4)], [node("a", AMD), node("b", AMD)])
    assert [(p.task, p.node, p.start) for p in plan.placements] == [
        ("t0", "a", 0), ("t1", "b", 0), ("t2", "a", 10), ("t3", "b", 10)]
    assert plan.makespan == 20


def test_prefers_exact_over_compatible_nodes_when_both_are_free() -> None:
    plan = schedule([Task("x", 10, ("linux/arm/v7",))], [node("arm64", ARM), node("armv7", "linux/arm/v7")])
    assert [(p.node, p.rank) for p in plan.placements] == [("armv7", EXACT)]


def test_uses_a_compatible_node_when_no_exact_one_exists() -> None:
    plan = schedule([Task("x", 10, ("linux/386",))], [node("arm", ARM), node("amd", AMD)])
    assert [(p.node, p.rank) for p in plan.placements] == [("amd", COMPATIBLE)]


def test_waits_for_a_native_node_rather_than_emulate_when_that_finishes_sooner() -> None:
    tasks = [Task("first", 10, (ARM,)), Task("second", 10, (ARM,))]
    nodes = [node("arm", ARM), Node("amd", platforms=(AMD, ARM), native=1)]
    plan = schedule(tasks, nodes)
    assert [(p.task, p.node, p.start) for p in plan.placements] == [("first", "arm", 0.0), ("second", "arm", 10.0)]


def test_emulates_when_waiting_would_be_slower() -> None:
    tasks = [Task("long", 100, (ARM,)), Task("short", 10, (ARM,))]
    nodes = [node("arm", ARM), Node("amd", platforms=(AMD, ARM), native=1)]
    plan = schedule(tasks, nodes)
    assert [(p.task, p.node, p.rank) for p in plan.placements] == [("long", "arm", EXACT), ("short", "amd", EMULATED)]


def test_no_node_for_a_platform_names_the_job_platform_and_nodes() -> None:
    with pytest.raises(NoNodeError) as caught:
        prepare([Task("app@linux/s390x", 1, ("linux/s390x",))], [node("a", AMD), node("b", ARM, "linux/arm/v7")])
    message = str(caught.value)
    assert "no node can build app@linux/s390x for linux/s390x" in message
    assert "  a: linux/amd64" in message and "  b: linux/arm64, linux/arm/v7" in message


def test_a_dependency_cycle_is_reported_as_a_path() -> None:
    with pytest.raises(CycleError, match="a -> b -> a|b -> a -> b"):
        prepare([Task("a", 1, deps=("b",)), Task("b", 1, deps=("a",))], [node("n", AMD)])


def test_lower_bound_takes_the_largest_of_its_parts() -> None:
    tasks = [Task("c1", 5, (AMD,)), Task("c2", 5, (AMD,), ("c1",)), *[Task(f"arm{i}", 4, (ARM,)) for i in range(4)]]
    plan = schedule(tasks, [node("amd", AMD, slots=2), node("arm", ARM)])
    assert plan.lower_bound == LowerBound(critical_path=10.0, work=26 / 3, classes=(("amd", 5.0), ("arm", 16.0)))
    assert plan.lower_bound.value == 16.0 and plan.makespan == 16.0 and plan.ratio == 1.0


def test_critical_path_is_the_longest_chain() -> None:
    tasks = [Task("a", 1), Task("b", 5), Task("c", 1, deps=("a", "b")), Task("d", 1, deps=("c",))]
    assert schedule(tasks, [node("n", AMD, slots=4)]).critical_path == ("b", "c", "d")


@pytest.mark.parametrize("node_platforms, native, platform, rank", [
    ((AMD,), 1, AMD, EXACT),
    ((AMD,), 1, "linux/386", COMPATIBLE),
    ((ARM,), 1, "linux/arm/v7", COMPATIBLE),
    ((ARM,), 1, "linux/arm/v6", COMPATIBLE),
    ((ARM,), 1, "linux/arm64/v8", EXACT),
    (("linux/amd64/v3",), 1, AMD, COMPATIBLE),
    ((AMD, "linux/amd64/v2"), 1, "linux/amd64/v2", COMPATIBLE),
    ((AMD, ARM), 1, ARM, EMULATED),
    ((AMD,), 1, ARM, None),
    ((AMD,), 1, None, EXACT),
    ((ARM,), 1, "local", EXACT),
    ((AMD,), 1, "darwin/arm64", COMPATIBLE),
    ((AMD,), 1, "windows/amd64", COMPATIBLE),
    (("windows/amd64",), 1, "windows/amd64", EXACT),
    ((AMD,), 1, "linux/s390x", None),
])
def test_platform_rank(node_platforms: tuple[str, ...], native: int, platform: str | None, rank: int | None) -> None:
    assert platform_rank(Node("n", platforms=node_platforms, native=native), platform) == rank


# ------------------------------------------------------------ hand-over cost

# "a" builds both platforms with 2 slots, "b" only amd64. "P" and "B" (arm64) fill "a" at 0;
# when "P" ends at 10, "D" (arm64, after "P") takes "a"'s free slot, so "a" is busy until 100
# while "C" (amd64, after "P") could start on "b" at once, reading "P"'s result from "a".
BOTH = Node("a", platforms=(AMD, ARM), native=2, slots=2)
HANDED = [Task("P", 10, (ARM,)), Task("B", 100, (ARM,)), Task("D", 100, (ARM,), ("P",)), Task("C", 10, (AMD,), ("P",))]


def _after_parent(tasks: list[Task], nodes: list[Node], **pricing: object) -> tuple[Problem, State]:
    """The state when "P" has finished on "a" at 10."""
    problem = prepare(tasks, nodes, **pricing)  # type: ignore[arg-type]
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("P", "a", 0.0, 10.0, EXACT), Placement("B", "a", 0.0, 100.0, EXACT)]
    finish(problem, state, "P", 10.0)
    return problem, state


def test_a_transfer_costs_nothing_on_the_same_node_and_a_learned_pair_overrides_the_default() -> None:
    problem = prepare([Task("t", 1)], [node("a", AMD), node("b", AMD)], handover=4.0, transfers={("a", "b"): 1.5})
    assert [problem.transfer(*pair) for pair in [("a", "a"), ("a", "b"), ("b", "a")]] == [0.0, 1.5, 4.0]


@pytest.mark.parametrize(("pricing", "child"), [
    ({}, ("two", 10.0, 20.0)),  # nothing to hand over: balance the nodes
    ({"handover": 4.0}, ("one", 10.0, 20.0)),
    ({"transfers": {("one", "two"): 4.0}}, ("one", 10.0, 20.0)),
])
def test_a_child_prefers_its_parents_node_when_a_hand_over_costs_time(
    pricing: dict[str, object], child: tuple[str, float, float],
) -> None:
    tasks = [Task("parent", 10, (AMD,)), Task("child", 10, (AMD,), ("parent",))]
    plan = simulate(prepare(tasks, [node("one", AMD), node("two", AMD)], **pricing))  # type: ignore[arg-type]
    assert plan.placements == (Placement("parent", "one", 0.0, 10.0, EXACT), Placement("child", *child, EXACT))


def test_a_child_goes_to_another_free_node_when_its_parents_node_is_busy_and_the_transfer_is_cheap() -> None:
    problem, state = _after_parent(HANDED, [BOTH, node("b", AMD)], handover=5.0)
    assert dispatch(problem, state) == [Placement("D", "a", 10.0, 110.0, EXACT), Placement("C", "b", 10.0, 25.0, EXACT)]


def test_a_child_waits_for_its_parents_node_when_the_transfer_costs_more_than_the_wait() -> None:
    problem, state = _after_parent(HANDED, [BOTH, node("b", AMD)], handover=200.0)
    assert dispatch(problem, state) == [Placement("D", "a", 10.0, 110.0, EXACT)]
    assert status(problem, state, "C") == "ready" and state.free == [0, 1]
    finish(problem, state, "B", 100.0)
    assert dispatch(problem, state) == [Placement("C", "a", 100.0, 110.0, EXACT)]


@pytest.mark.parametrize(("pricing", "placed"), [
    ({"handover": 200.0, "transfers": {("a", "b"): 5.0}}, [Placement("C", "b", 10.0, 25.0, EXACT)]),
    ({"handover": 5.0, "transfers": {("a", "b"): 200.0}}, []),
    ({"handover": 5.0, "transfers": {("b", "a"): 200.0}}, [Placement("C", "b", 10.0, 25.0, EXACT)]),  # the other way
])
def test_a_learned_transfer_between_two_nodes_decides_over_the_default(
    pricing: dict[str, object], placed: list[Placement],
) -> None:
    problem, state = _after_parent(HANDED, [BOTH, node("b", AMD)], **pricing)
    assert dispatch(problem, state) == [Placement("D", "a", 10.0, 110.0, EXACT), *placed]


def test_a_child_of_parents_on_two_nodes_goes_where_the_slowest_import_is_cheapest() -> None:
    tasks = [Task("left", 10, (AMD,)), Task("right", 10, (AMD,)), Task("join", 10, (AMD,), ("left", "right"))]
    problem = prepare(tasks, [node("a", AMD), node("b", AMD), node("c", AMD)], handover=6.0,
                      transfers={("a", "b"): 1.0, ("b", "a"): 3.0})
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("left", "a", 0.0, 10.0, EXACT), Placement("right", "b", 0.0, 10.0, EXACT)]
    finish(problem, state, "left", 10.0)
    finish(problem, state, "right", 10.0)
    assert dispatch(problem, state) == [Placement("join", "b", 10.0, 21.0, EXACT)]  # a: +3, b: +1, c: +6


def test_children_waiting_for_one_busy_parent_node_queue_behind_each_other() -> None:
    # Like _wait_for_native: the second child would wait behind the first for the same slot
    # (done at 120), while "b" finishes it at 10 + 95 + 10 = 115.
    tasks = [*HANDED[:3], Task("C1", 10, (AMD,), ("P",)), Task("C2", 10, (AMD,), ("P",))]
    problem, state = _after_parent(tasks, [BOTH, node("b", AMD, slots=2)], handover=95.0)
    assert dispatch(problem, state) == [Placement("D", "a", 10.0, 110.0, EXACT), Placement("C2", "b", 10.0, 115.0, EXACT)]


# ------------------------------------------------------------ capacity: hosts shared by nodes, node speeds

def _host_pair(slots: int = 2) -> list[Node]:
    """Two daemons of one platform on one host with `slots` cores, as buildx discovery finds them."""
    return [Node("d1", platforms=(AMD,), slots=slots, host="vm"), Node("d2", platforms=(AMD,), slots=slots, host="vm")]


def _most_at_once(plan: Schedule) -> int:
    return max(sum(1 for q in plan.placements if q.start <= p.start < q.end) for p in plan.placements)


def test_two_nodes_on_one_host_share_its_slots_in_the_plan() -> None:
    tasks = [Task(f"t{i}", 10, (AMD,)) for i in range(8)]
    shared = schedule(tasks, _host_pair())
    assert shared.makespan == 40.0 and _most_at_once(shared) == 2
    assert {p.node for p in shared.placements} == {"d1", "d2"}  # both used, never more than the host at once
    apart = schedule(tasks, [Node("d1", platforms=(AMD,), slots=2), Node("d2", platforms=(AMD,), slots=2)])
    assert apart.makespan == 20.0 and _most_at_once(apart) == 4


def test_a_host_slot_taken_on_one_node_is_not_free_on_the_other() -> None:
    problem = prepare([Task(f"t{i}", 10, (AMD,)) for i in range(3)], _host_pair())
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("t0", "d1", 0.0, 10.0, EXACT), Placement("t1", "d2", 0.0, 10.0, EXACT)]
    assert (state.free, state.pool_free, problem.pools, problem.pool_slots) == ([1, 1], [0], (0, 0), (2,))
    finish(problem, state, "t1", 10.0)
    assert (state.free, state.pool_free) == ([1, 2], [1])
    assert dispatch(problem, state) == [Placement("t2", "d2", 10.0, 20.0, EXACT)]


def test_a_node_going_down_hands_its_host_slots_to_the_other_node_on_that_host() -> None:
    problem = prepare([Task(f"t{i}", 10, (AMD,)) for i in range(3)], _host_pair())
    state = start_state(problem)
    dispatch(problem, state)  # t0 on d1, t1 on d2: the host is full
    assert node_down(problem, state, "d1", 2.0) == ["t0"]
    assert (state.free, state.pool_free) == ([0, 1], [1])
    assert dispatch(problem, state) == [Placement("t0", "d2", 2.0, 12.0, EXACT)]
    assert (state.free, state.pool_free) == ([0, 0], [0])


def test_a_slower_node_takes_proportionally_longer_and_gets_less_work() -> None:
    nodes = [Node("quick", platforms=(AMD,), slots=1), Node("slow", platforms=(AMD,), slots=1, speed=1 / 1.6)]
    plan = schedule([Task(f"t{i}", 10, (AMD,)) for i in range(13)], nodes)
    on = {name: [p for p in plan.placements if p.node == name] for name in ("quick", "slow")}
    assert all(p.end - p.start == pytest.approx(16.0) for p in on["slow"])
    assert (len(on["quick"]), len(on["slow"])) == (8, 5)  # 80 s against 5 x 16 = 80 s
    assert plan.makespan == pytest.approx(80.0)


def test_the_lower_bound_counts_a_shared_host_once_and_slow_slots_for_less() -> None:
    tasks = [Task(f"t{i}", 10, (AMD,)) for i in range(8)]
    assert schedule(tasks, _host_pair()).lower_bound.work == pytest.approx(40.0)  # 80 s of work on 2 host slots
    slow = [Node("a", platforms=(AMD,), slots=2, speed=0.5)]
    bound = schedule(tasks, slow).lower_bound
    assert (bound.work, bound.critical_path) == (pytest.approx(80.0), pytest.approx(20.0))


def test_a_retry_on_a_slow_node_is_estimated_at_that_node_s_speed() -> None:
    problem = prepare([Task("a", 10, (AMD,))], [Node("slow", platforms=(AMD,), slots=1, speed=0.5)])
    state = start_state(problem)
    assert dispatch(problem, state) == [Placement("a", "slow", 0.0, 20.0, EXACT)]
    assert retry(problem, state, "a", 20.0) == Placement("a", "slow", 0.0, 40.0, EXACT)


# ------------------------------------------------------------ invariants on random problems

PLATFORMS = [AMD, ARM, "linux/arm/v7", "linux/386"]
NODE_SETS = [
    [node("amd", AMD, slots=2), node("arm", ARM, slots=1)],
    [node("amd1", AMD), node("amd2", AMD, slots=3), node("arm", ARM, slots=2), Node("emu", platforms=(AMD, ARM), slots=1)],
    # Two daemons on one 3-core host (one emulates arm64), a slow arm node, a fast amd one.
    [Node("h1", platforms=(AMD,), slots=3, host="box"), Node("h2", platforms=(AMD, ARM), slots=3, host="box"),
     Node("slow", platforms=(ARM,), slots=1, speed=0.5), Node("fast", platforms=(AMD,), slots=1, speed=2.0)],
]


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[Task], list[Node]]:
    count = draw(st.integers(1, 25))
    tasks = []
    for i in range(count):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        platform = draw(st.sampled_from(PLATFORMS))
        tasks.append(Task(f"t{i}", draw(st.integers(1, 20)), (platform,), tuple(f"t{d}" for d in deps)))
    return tasks, draw(st.sampled_from(NODE_SETS))


def _check(plan: Schedule, tasks: list[Task], nodes: list[Node]) -> None:
    by_task = {p.task: p for p in plan.placements}
    assert sorted(by_task) == sorted(t.id for t in tasks) and len(plan.placements) == len(tasks)
    by_node = {n.name: n for n in nodes}
    for task in tasks:
        placement = by_task[task.id]
        assert all(by_task[d].end <= placement.start for d in task.deps)
        assert all(platform_rank(by_node[placement.node], p) is not None for p in task.platforms)
    for n in nodes:
        mine = [p for p in plan.placements if p.node == n.name]
        for p in mine:
            assert sum(1 for q in mine if q.start <= p.start < q.end) <= n.slots
    pools, sizes = host_pools(nodes)
    for pool, size in enumerate(sizes):
        members = {n.name for n, p in zip(nodes, pools) if p == pool}
        shared = [p for p in plan.placements if p.node in members]
        for p in shared:
            assert sum(1 for q in shared if q.start <= p.start < q.end) <= size
    assert plan.makespan >= plan.lower_bound.value - 1e-9


@settings(max_examples=60, deadline=None)
@given(problems())
def test_every_task_placed_once_deps_respected_slots_kept_platforms_honoured(problem: tuple[list[Task], list[Node]]) -> None:
    tasks, nodes = problem
    plan = schedule(tasks, nodes)
    _check(plan, tasks, nodes)
    assert schedule(tasks, nodes) == plan  # same input, same plan


@settings(max_examples=20, deadline=None)
@given(problems())
def test_the_fifo_baseline_keeps_the_same_invariants(problem: tuple[list[Task], list[Node]]) -> None:
    tasks, nodes = problem
    _check(simulate(prepare(tasks, nodes, fifo=True)), tasks, nodes)


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from([0.5, 5.0, 50.0]))
def test_with_hand_over_costs_the_same_invariants_hold_and_nothing_stalls(
    problem: tuple[list[Task], list[Node]], handover: float,
) -> None:
    tasks, nodes = problem
    transfers = {(nodes[0].name, nodes[-1].name): handover * 3}
    plan = simulate(prepare(tasks, nodes, handover=handover, transfers=transfers))
    _check(plan, tasks, nodes)
    assert simulate(prepare(tasks, nodes, handover=handover, transfers=transfers)) == plan


def test_the_bound_sees_that_emulated_and_native_work_share_slots() -> None:
    # "emu" builds amd64 natively and arm64 three times slower; "arm" builds arm64.
    nodes = [Node("emu", platforms=(AMD, ARM), native=1, slots=1), node("arm", ARM)]
    tasks = [*[Task(f"a{i}", 30, (AMD,)) for i in range(2)], *[Task(f"r{i}", 30, (ARM,)) for i in range(4)]]
    plan = schedule(tasks, nodes)
    # Prices amd64=1, arm64=3: (60 + 3*120) / (1*max(1, 3/3) + 1*3) = 420 / 4 = 105.
    assert plan.lower_bound.classes[-1] == ("emulation-weighted", 105.0)
    assert plan.makespan >= 105.0


def _places(problem: Problem, state: State) -> dict[str, str]:
    """Task id -> where it is; asserts each task is in exactly one place and slots add up."""
    ready = [problem.tasks[i].id for heap in state.ready.values() for *_, i in heap]
    places = {"waiting": list(state.waiting), "ready": ready, "running": list(state.running), "done": list(state.done),
              "failed": list(state.failed), "skipped": list(state.skipped)}
    found = {tid: name for name, ids in places.items() for tid in ids}
    assert sorted(tid for ids in places.values() for tid in ids) == sorted(t.id for t in problem.tasks)
    for n, each in enumerate(problem.nodes):
        busy = sum(1 for p in state.running.values() if p.node == each.name)
        assert 0 <= state.free[n] and state.free[n] + busy == (0 if each.name in state.down else each.slots)
    for pool, size in enumerate(problem.pool_slots):
        members = {each.name for each, p in zip(problem.nodes, problem.pools) if p == pool}
        assert state.pool_free[pool] + sum(1 for p in state.running.values() if p.node in members) == size
    return found


@settings(max_examples=40, deadline=None)
@given(problems(), st.data())
def test_with_failures_and_retries_every_task_is_in_one_place_and_ends_done_failed_or_skipped(
    problem: tuple[list[Task], list[Node]], data: st.DataObject,
) -> None:
    tasks, nodes = problem
    ids = [t.id for t in tasks]
    failing = data.draw(st.sets(st.sampled_from(ids)))
    retrying = set(data.draw(st.sets(st.sampled_from(ids))))
    prepared = prepare(tasks, nodes)
    state = start_state(prepared)
    events: list[tuple[float, int, str]] = []
    while True:
        for placement in dispatch(prepared, state):
            heapq.heappush(events, (placement.end, prepared.index[placement.task], placement.task))
        _places(prepared, state)
        if not events:
            break
        end, i, tid = heapq.heappop(events)
        if tid in retrying:
            retrying.discard(tid)
            heapq.heappush(events, (retry(prepared, state, tid, end).end, i, tid))
        elif tid in failing:
            assert set(fail(prepared, state, tid, end)) == {t for t, cause in state.skipped.items() if cause == tid}
        else:
            finish(prepared, state, tid, end)
        _places(prepared, state)
    blocked: set[str] = set()
    for task in tasks:  # deps come earlier in input order
        if any(d in blocked or (d in failing and d not in blocked) for d in task.deps):
            blocked.add(task.id)
    assert _places(prepared, state) == {
        t: "skipped" if t in blocked else "failed" if t in failing else "done" for t in ids}


@settings(max_examples=40, deadline=None)
@given(problems(), st.data())
def test_with_nodes_going_down_and_up_nothing_lands_on_a_down_node_and_every_task_ends(
    problem: tuple[list[Task], list[Node]], data: st.DataObject,
) -> None:
    tasks, nodes = problem
    prepared = prepare(tasks, nodes)
    state = start_state(prepared)
    events: list[tuple[float, int, str]] = []
    names = [n.name for n in nodes]
    while True:
        for placement in dispatch(prepared, state):
            assert placement.node not in state.down
            heapq.heappush(events, (placement.end, prepared.index[placement.task], placement.task))
        for tid in stranded(prepared, state):
            give_up(prepared, state, tid, state.now)
        _places(prepared, state)
        if not events:
            break
        end, _, tid = heapq.heappop(events)
        if tid not in state.running:
            continue  # moved off a node that went down
        change = data.draw(st.sampled_from(["finish", "down", "up"]))
        node_name = data.draw(st.sampled_from(names))
        if change == "down":
            moved = node_down(prepared, state, node_name, end)
            assert all(t not in state.running for t in moved)
        elif change == "up":
            node_up(prepared, state, node_name, end)
        if tid in state.running:
            finish(prepared, state, tid, end)
        _places(prepared, state)
    assert state.waiting == {} and state.ready == {} and state.running == {}
    assert all(p.node == "" for t, p in state.failed.items())  # only given up, never failed in a build
