"""The run loop with a recording runner and a fake composer: slots, order, failures, retries, resume, interrupts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bakeplan.buildx import node_fault
from bakeplan.errors import BakeplanError
from bakeplan.execute import NullReporter, RunOptions, execute
from bakeplan.nodes import Node
from bakeplan.runstate import FAILED, RUNNING, SUCCEEDED, RunState, StepState, read_state
from bakeplan.steps import MERGE, Step
from tests.support.fakerun import (
    AMD,
    ARM,
    NODES,
    FakeComposer,
    RecordingRunner,
    ReleaseOnTick,
    log_of,
    ran,
    release_after,
    run,
    statuses,
    step,
)

# ---------------------------------------------------------------- placement and slots


def test_each_step_runs_once_on_a_node_for_its_platform(tmp_path: Path) -> None:
    runner = RecordingRunner()
    state = run(tmp_path, [step("a"), step("b", platform=ARM), step("c")], runner)
    assert statuses(state) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert sorted(runner.started) == [
        ("build", "a", "--on", "amd"), ("build", "b", "--on", "arm"), ("build", "c", "--on", "amd")]


def test_one_step_alone_gets_its_whole_state_from_the_clock_seam(tmp_path: Path) -> None:
    composer = FakeComposer(results={"a": {"handover": "oci-layout:///h/a@sha256:a"}})
    state = run(tmp_path, [step("a")], composer=composer)
    log = str(tmp_path / "run" / "logs" / "a.log")
    assert state == RunState(steps={"a": StepState("succeeded", 1, "amd", 101.0, 102.0, 0, log, "",
                                                   {"handover": "oci-layout:///h/a@sha256:a"})})
    assert composer.composed == [("a", "amd", StepState(RUNNING, 1, "amd", 101.0, None, None, log), {})]
    assert read_state(tmp_path / "run" / "state.json") == state


def test_the_longest_critical_path_starts_first_on_a_one_slot_node(tmp_path: Path) -> None:
    runner = RecordingRunner()
    run(tmp_path, [step("short", estimate=1), step("long", estimate=9), step("after", deps=("short",), estimate=20)],
        runner)
    assert ran(runner) == ["short", "after", "long"]


def test_a_node_never_runs_more_steps_than_its_slots(tmp_path: Path) -> None:
    nodes = (Node(name="amd", platforms=(AMD,), slots=2), Node(name="arm", platforms=(ARM,), slots=3))
    steps = [*(step(f"amd{i}", estimate=i + 1) for i in range(6)),
             *(step(f"arm{i}", platform=ARM, estimate=7 - i) for i in range(7)),
             step("late", deps=("amd0", "arm6"), platform=ARM), step("later", deps=("late",))]
    runner = RecordingRunner(hold=True)
    state = run(tmp_path, steps, runner, nodes=nodes, reporter=ReleaseOnTick(runner))
    assert set(statuses(state).values()) == {"succeeded"}
    assert runner.most == {"amd": 2, "arm": 3}  # full, never more
    assert sorted(ran(runner)) == sorted(s.id for s in steps)


def test_a_step_prefers_the_node_holding_its_parents_result_when_a_hand_over_costs_time(tmp_path: Path) -> None:
    nodes = (Node(name="one", platforms=(AMD,), slots=1), Node(name="two", platforms=(AMD,), slots=1))
    steps = [step("parent", estimate=10), step("child", deps=("parent",))]
    balanced = run(tmp_path / "free", steps, nodes=nodes)
    assert {sid: s.node for sid, s in balanced.steps.items()} == {"parent": "one", "child": "two"}
    priced = run(tmp_path / "priced", steps, nodes=nodes, handover=5.0)
    assert {sid: s.node for sid, s in priced.steps.items()} == {"parent": "one", "child": "one"}
    learned = run(tmp_path / "learned", steps, nodes=nodes, transfers={("one", "two"): 5.0})
    assert {sid: s.node for sid, s in learned.steps.items()} == {"parent": "one", "child": "one"}


# ---------------------------------------------------------------- failures


def test_a_failed_step_skips_its_dependents_transitively_and_independent_steps_finish(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    steps = [step("a"), step("child", deps=("a",)), step("grandchild", deps=("child",), platform=ARM), step("other")]
    state = run(tmp_path, steps, runner)
    assert statuses(state) == {"a": "failed", "child": "skipped", "grandchild": "skipped", "other": "succeeded"}
    assert state.steps["child"] == StepState("skipped", reason="a failed")
    assert state.steps["grandchild"] == StepState("skipped", reason="a failed")
    assert state.steps["a"].exit_code == 1 and not state.ok
    assert sorted(ran(runner)) == ["a", "other"]


def test_a_failed_platform_skips_its_merge(tmp_path: Path) -> None:
    gate = threading.Event()
    steps = [step("a"), step("b", platform=ARM), step("merge:x", deps=("a", "b"), platform=None, kind=MERGE)]
    state = run(tmp_path, steps, RecordingRunner(codes={"b": [1]}, gates={"a": gate}), on_finished=release_after("b", gate))
    assert statuses(state) == {"a": "succeeded", "b": "failed", "merge:x": "skipped"}


@pytest.mark.parametrize(("failing", "finishing"), [("a", "b"), ("b", "a")])
@pytest.mark.parametrize("fails_first", [True, False])
def test_a_step_with_a_failed_and_a_succeeded_parent_is_skipped_in_either_order(
    tmp_path: Path, failing: str, finishing: str, fails_first: bool,
) -> None:
    platform = {"a": AMD, "b": ARM}
    first, second = (failing, finishing) if fails_first else (finishing, failing)
    gate = threading.Event()
    runner = RecordingRunner(codes={failing: [1]}, gates={second: gate})
    steps = [step("a", platform=platform["a"]), step("b", platform=platform["b"]),
             step("join", deps=("a", "b")), step("after", deps=(finishing,), platform=platform[finishing])]
    state = run(tmp_path, steps, runner, on_finished=release_after(first, gate))
    assert statuses(state) == {failing: "failed", finishing: "succeeded", "join": "skipped", "after": "succeeded"}
    assert state.steps["join"].reason == f"{failing} failed"
    assert sorted(ran(runner)) == ["a", "after", "b"]  # the skipped join never starts


def test_fail_fast_starts_nothing_new(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    state = run(tmp_path, [step("a", estimate=5), step("b"), step("c")], runner, fail_fast=True)
    assert statuses(state) == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert state.steps["b"] == StepState("skipped", reason="not started (--fail-fast)")
    assert state.stopped and ran(runner) == ["a"]


def test_fail_fast_lets_running_steps_finish(tmp_path: Path) -> None:
    gate = threading.Event()
    runner = RecordingRunner(codes={"a": [1]}, gates={"b": gate})
    steps = [step("a", estimate=5), step("b", platform=ARM), step("c"), step("d", platform=ARM)]
    state = run(tmp_path, steps, runner, on_finished=release_after("a", gate), fail_fast=True)
    assert statuses(state) == {"a": "failed", "b": "succeeded", "c": "skipped", "d": "skipped"}
    assert state.steps["d"].reason == "not started (--fail-fast)"
    assert sorted(ran(runner)) == ["a", "b"]


def test_without_fail_fast_independent_steps_go_on_after_a_failure(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    steps = [step("a", estimate=5), step("b", platform=ARM), step("c"), step("d", platform=ARM)]
    state = run(tmp_path, steps, runner)
    assert statuses(state) == {"a": "failed", "b": "succeeded", "c": "succeeded", "d": "succeeded"}


def test_a_step_the_composer_cannot_start_fails_saying_why_in_its_log(tmp_path: Path) -> None:
    refused = BakeplanError("cannot write /run/jobs/a.json: No space left on device",
                            hint="Pick a writable place with --run-dir.")
    runner = RecordingRunner()
    steps = [step("a"), step("child", deps=("a",)), step("other", platform=ARM)]
    state = run(tmp_path, steps, runner, FakeComposer(refuse={"a": refused}))
    log = tmp_path / "run" / "logs" / "a.log"
    assert state.steps["a"] == StepState("failed", 1, "amd", 101.0, state.steps["a"].finished, 127, str(log),
                                         "cannot write /run/jobs/a.json: No space left on device")
    assert statuses(state) == {"a": "failed", "child": "skipped", "other": "succeeded"}
    assert ran(runner) == ["other"]
    assert log.read_text() == ("bakeplan: cannot write /run/jobs/a.json: No space left on device\n"
                               "bakeplan: Pick a writable place with --run-dir.\n")


def test_a_step_that_did_not_deliver_its_hand_over_fails_and_skips_its_children(tmp_path: Path) -> None:
    undelivered = BakeplanError("no image in the hand-over layout /run/handover/a: index.json missing",
                                hint="The export did not finish; run again (--resume).")
    runner = RecordingRunner()
    steps = [step("a"), step("child", deps=("a",))]
    state = run(tmp_path, steps, runner, FakeComposer(undelivered={"a": undelivered}))
    log = tmp_path / "run" / "logs" / "a.log"
    # The build exited 0; the step failed on what it did not deliver, and says so.
    assert state.steps["a"] == StepState("failed", 1, "amd", 101.0, 102.0, 0, str(log),
                                         "no image in the hand-over layout /run/handover/a: index.json missing")
    assert state.steps["child"] == StepState("skipped", reason="a failed")
    assert ran(runner) == ["a"]
    assert log.read_text() == ("ran build a --on amd\n"
                               "bakeplan: no image in the hand-over layout /run/handover/a: index.json missing\n"
                               "bakeplan: The export did not finish; run again (--resume).\n")


def test_a_step_whose_tool_is_missing_fails_like_a_build(tmp_path: Path) -> None:
    class Missing(FakeComposer):
        def argv(self, step: Step, node: str, state: RunState) -> tuple[str, ...]:
            return ("/nonexistent/docker", "buildx", "bake", step.id)

    state = execute([step("a")], NODES, RunOptions(run_dir=tmp_path / "run", tick=0.01), Missing())
    assert statuses(state) == {"a": "failed"} and state.steps["a"].exit_code == 127
    assert Path(state.steps["a"].log).read_text() == (
        "bakeplan: /nonexistent/docker not found\n"
        "bakeplan: Install the docker CLI with the buildx plugin.\n")


def test_real_processes_exit_codes_and_log_files(tmp_path: Path) -> None:
    class Shell(FakeComposer):
        def argv(self, step: Step, node: str, state: RunState) -> tuple[str, ...]:
            return ("sh", "-c", {"ok": "echo built; exit 0", "no": "echo broken >&2; exit 3"}[step.id])

    state = execute([step("ok"), step("no", platform=ARM)], NODES, RunOptions(run_dir=tmp_path / "run", tick=0.01),
                    Shell())
    assert statuses(state) == {"ok": "succeeded", "no": "failed"}
    assert Path(state.steps["ok"].log).read_text() == "built\n"
    assert Path(state.steps["no"].log).read_text() == "broken\n"
    assert state.steps["no"].exit_code == 3


# ---------------------------------------------------------------- retries


def test_retries_rerun_a_failed_step_in_place(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 1, 0]})
    state = run(tmp_path, [step("a")], runner, retries=2)
    # Succeeded after 3 attempts: the retries are in `attempts` and the log, no reason is left.
    assert state.steps["a"] == StepState("succeeded", 3, "amd", 101.0, 104.0, 0, str(tmp_path / "run" / "logs" / "a.log"))
    assert runner.started == [("build", "a", "--on", "amd")] * 3
    assert log_of(tmp_path, "a") == (
        "ran build a --on amd\n\nbakeplan: exit 1; retry 1 of 2\n"
        "ran build a --on amd\n\nbakeplan: exit 1; retry 2 of 2\n"
        "ran build a --on amd\n")


def test_retries_run_out(tmp_path: Path) -> None:
    state = run(tmp_path, [step("a")], RecordingRunner(codes={"a": [1, 2]}), retries=1)
    assert statuses(state) == {"a": "failed"} and state.steps["a"].exit_code == 2 and state.steps["a"].attempts == 2


def test_a_retry_runs_in_the_same_slot_before_anything_else_starts_there(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 0]})
    state = run(tmp_path, [step("a", estimate=5), step("child", deps=("a",)), step("other")], runner, retries=1)
    assert ran(runner) == ["a", "a", "child", "other"]  # one amd slot: the retry holds it
    assert statuses(state) == {"a": "succeeded", "child": "succeeded", "other": "succeeded"}
    assert state.steps["a"].attempts == 2 and state.steps["a"].exit_code == 0


def test_a_step_that_fails_every_retry_skips_its_dependents_and_others_go_on(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 1, 3]})
    state = run(tmp_path, [step("a", estimate=5), step("child", deps=("a",)), step("other")], runner, retries=2)
    assert ran(runner) == ["a", "a", "a", "other"]
    assert statuses(state) == {"a": "failed", "child": "skipped", "other": "succeeded"}
    assert state.steps["a"].attempts == 3 and state.steps["a"].exit_code == 3
    assert state.steps["child"].reason == "a failed"


# ---------------------------------------------------------------- state on disk and resume


def test_resume_reruns_only_what_did_not_succeed_and_keeps_what_succeeded_handed_on(tmp_path: Path) -> None:
    handed = {"handover": "oci-layout:///run/handover/a@sha256:a"}
    steps = [step("a"), step("b", platform=ARM), step("c", deps=("a", "b"))]
    first = run(tmp_path, steps, RecordingRunner(codes={"b": [1]}), FakeComposer(results={"a": handed}))
    on_disk = read_state(tmp_path / "run" / "state.json")
    assert on_disk == first
    assert statuses(first) == {"a": "succeeded", "b": "failed", "c": "skipped"}
    runner = RecordingRunner()
    composer = FakeComposer()
    second = run(tmp_path, steps, runner, composer, previous=on_disk)
    assert sorted(ran(runner)) == ["b", "c"]
    assert statuses(second) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert second.steps["a"] == first.steps["a"] and second.steps["a"].result == handed
    assert [(sid, deps) for sid, _, _, deps in composer.composed if sid == "c"] == [("c", {"a": handed, "b": {}})]


def test_resuming_a_finished_run_runs_nothing(tmp_path: Path) -> None:
    steps = [step("a"), step("b", deps=("a",))]
    first = run(tmp_path, steps)
    runner = RecordingRunner()
    second = run(tmp_path, steps, runner, previous=first)
    assert runner.started == [] and second == first


class InterruptWhen(NullReporter):
    """Raises `error` on the first tick where `ready(state)` holds."""

    def __init__(self, ready: Callable[[RunState], bool], error: BaseException) -> None:
        self.ready, self.error = ready, error

    def tick(self, state: RunState) -> None:
        if self.ready(state):
            raise self.error


def test_an_interrupt_stops_children_records_them_cancelled_and_reraises(tmp_path: Path) -> None:
    runner = RecordingRunner(gates={"a": threading.Event(), "b": threading.Event()})
    composer = FakeComposer()
    steps = [step("a"), step("b", platform=ARM), step("c", deps=("a",))]
    both_running = InterruptWhen(lambda state: len(runner.started) == 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, steps, runner, composer, reporter=both_running)
    state = read_state(tmp_path / "run" / "state.json")
    assert statuses(state) == {"a": "cancelled", "b": "cancelled", "c": "pending"}
    assert state.steps["a"].reason == "interrupted" and state.stopped
    assert composer.interruptions == 1


def test_an_unexpected_error_also_stops_children_and_records_why(tmp_path: Path) -> None:
    runner = RecordingRunner(gates={"a": threading.Event(), "b": threading.Event()})
    broken = InterruptWhen(lambda state: True, RuntimeError("reporter broke"))
    with pytest.raises(RuntimeError):
        run(tmp_path, [step("a"), step("b", platform=ARM)], runner, reporter=broken)
    state = read_state(tmp_path / "run" / "state.json")
    assert statuses(state) == {"a": "cancelled", "b": "cancelled"}
    assert state.steps["a"].reason == "stopped: reporter broke"


def test_resume_after_an_interrupt_reruns_the_cancelled_and_never_started_steps_only(tmp_path: Path) -> None:
    steps = [step("a"), step("b", platform=ARM), step("c", deps=("a",))]
    after_a = InterruptWhen(lambda state: state.steps["a"].status == "succeeded", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, steps, RecordingRunner(gates={"b": threading.Event()}), reporter=after_a)
    interrupted = read_state(tmp_path / "run" / "state.json")
    assert statuses(interrupted) == {"a": "succeeded", "b": "cancelled", "c": "pending"}
    runner = RecordingRunner()
    resumed = run(tmp_path, steps, runner, previous=interrupted)
    assert sorted(ran(runner)) == ["b", "c"]
    assert statuses(resumed) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert resumed.steps["a"] == interrupted.steps["a"]


def test_every_finished_step_is_reported_once(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    steps = [step("a"), step("b", deps=("a",)), step("c", platform=ARM)]
    run(tmp_path, steps, RecordingRunner(codes={"c": [1]}), on_finished=lambda s, st: seen.append((s.id, st.status)))
    assert sorted(seen) == [("a", "succeeded"), ("b", "succeeded"), ("c", "failed")]


# ---------------------------------------------------------------- liveness: a node that stops answering

PAIR = (Node(name="n1", builder="bp-n1", platforms=(AMD,), slots=1),
        Node(name="n2", builder="bp-n2", platforms=(AMD,), slots=1))
EOF_ERROR = "failed to receive status: rpc error: code = Unavailable desc = error reading from server: EOF"


def test_a_job_whose_node_went_down_runs_again_on_the_other_node_and_the_lost_run_is_no_attempt(tmp_path: Path) -> None:
    runner = RecordingRunner(faults={"n1": EOF_ERROR})
    state = run(tmp_path, [step("a", estimate=5), step("b", estimate=4)], runner, nodes=PAIR)
    log = tmp_path / "run" / "logs" / "a.log"
    assert state.steps["a"] == StepState(SUCCEEDED, 1, "n2", state.steps["a"].started, state.steps["a"].finished, 0,
                                         str(log))  # no build retry was left (retries=0), none was used
    assert statuses(state) == {"a": "succeeded", "b": "succeeded"} and state.ok
    assert state.down == {"n1": EOF_ERROR}
    assert sorted(runner.started) == [("build", "a", "--on", "n1"), ("build", "a", "--on", "n2"),
                                      ("build", "b", "--on", "n2")]
    assert log.read_text() == f"bakeplan: node n1 went down: {EOF_ERROR}; running again on n2\nran build a --on n2\n"
    assert log_of(tmp_path, "a.lost-on-n1") == f"ran build a --on n1\nERROR: {EOF_ERROR}\n"
    assert read_state(tmp_path / "run" / "state.json") == state


def test_queued_jobs_never_go_to_a_down_node_and_build_retries_stay_where_they_are(tmp_path: Path) -> None:
    runner = RecordingRunner(faults={"n1": EOF_ERROR}, codes={"c": [1, 0]})
    steps = [step("a", estimate=9), *(step(s, estimate=1) for s in "bcdef")]
    state = run(tmp_path, steps, runner, nodes=PAIR, retries=1)
    assert set(statuses(state).values()) == {"succeeded"}
    assert [argv[1] for argv in runner.started if argv[3] == "n1"] == ["a"]  # the first run there, then nothing
    assert {sid: s.node for sid, s in state.steps.items()} == {sid: "n2" for sid in "abcdef"}
    assert state.steps["c"].attempts == 2  # a build error: retried in place, on the healthy node
    assert [argv for argv in runner.started if argv[1] == "c"] == [("build", "c", "--on", "n2")] * 2


def test_every_job_running_on_a_node_that_went_down_is_stopped_and_placed_again(tmp_path: Path) -> None:
    nodes = (Node(name="n1", platforms=(AMD,), slots=2), Node(name="n2", platforms=(AMD,), slots=1))
    gates = {"a": threading.Event(), "c": threading.Event()}
    runner = RecordingRunner(gates=gates)
    steps = [step("a", estimate=9), step("b", estimate=8), step("c", estimate=7)]

    class KillN1(NullReporter):  # a and c run on n1; once b ended on n2, n1 dies under a (c is stopped)
        def tick(self, state: RunState) -> None:
            if state.steps["b"].status == SUCCEEDED and not gates["a"].is_set():
                runner.faults["n1"] = EOF_ERROR
                gates["a"].set()

    state = run(tmp_path, steps, runner, nodes=nodes, reporter=KillN1())
    assert set(statuses(state).values()) == {"succeeded"}
    assert {sid: s.node for sid, s in state.steps.items()} == {"a": "n2", "b": "n2", "c": "n2"}
    assert sorted(runner.started) == [("build", "a", "--on", "n1"), ("build", "a", "--on", "n2"),
                                      ("build", "b", "--on", "n2"), ("build", "c", "--on", "n1"),
                                      ("build", "c", "--on", "n2")]
    assert state.steps["c"].attempts == 1  # stopped by bakeplan, not failed
    assert log_of(tmp_path, "c") == f"bakeplan: node n1 went down: {EOF_ERROR}; running again on n2\nran build c --on n2\n"


def test_a_job_with_no_healthy_node_left_fails_saying_so_and_its_dependents_are_skipped(tmp_path: Path) -> None:
    runner = RecordingRunner(faults={"n1": EOF_ERROR, "n2": "context deadline exceeded"})
    steps = [step("a", estimate=5), step("b", estimate=4), step("child", deps=("a",)), step("arm", platform=ARM)]
    probed: list[str] = []

    def probe(node: Node) -> str:
        probed.append(node.name)
        return "context deadline exceeded"

    state = run(tmp_path, steps, runner, nodes=(*PAIR, NODES[1]), probe=probe, retries=2)
    assert statuses(state) == {"a": "failed", "b": "failed", "child": "skipped", "arm": "succeeded"}
    assert state.steps["a"].status == FAILED and state.steps["a"].reason == (
        f"no healthy node left for it: down are n1 ({EOF_ERROR}), n2 (context deadline exceeded)")
    assert state.steps["child"].reason == "a failed"
    assert state.down == {"n1": EOF_ERROR, "n2": "context deadline exceeded"}
    assert sorted(ran(runner)) == ["a", "arm", "b"]  # no build retry on a dead node
    assert set(probed) == {"n1", "n2"}  # each was probed before the jobs were given up


def test_a_down_node_a_probe_finds_again_is_used_again(tmp_path: Path) -> None:
    gate = threading.Event()
    runner = RecordingRunner(faults={"n1": EOF_ERROR}, gates={"b": gate})
    probes: list[str] = []

    def probe(node: Node) -> str:  # the daemon was restarted: the first probe finds it
        probes.append(node.name)
        runner.faults.clear()
        return ""

    steps = [step("a", estimate=5), step("b", estimate=4)]
    state = run(tmp_path, steps, runner, nodes=PAIR, probe=probe, on_finished=release_after("a", gate))
    assert statuses(state) == {"a": "succeeded", "b": "succeeded"}
    assert runner.started == [("build", "a", "--on", "n1"), ("build", "b", "--on", "n2"), ("build", "a", "--on", "n1")]
    assert state.steps["a"].node == "n1" and state.steps["a"].attempts == 1
    assert state.down == {"n1": f"{EOF_ERROR}; back after a health probe"}
    assert probes == ["n1"]


def test_a_job_whose_node_keeps_going_down_under_it_fails_in_the_end(tmp_path: Path) -> None:
    runner = RecordingRunner(faults={"n1": EOF_ERROR})
    state = run(tmp_path, [step("a")], runner, nodes=PAIR[:1], probe=lambda node: "")  # "back" every time
    assert runner.started == [("build", "a", "--on", "n1")] * 4
    assert state.steps["a"].status == FAILED and state.steps["a"].exit_code == 1
    assert state.steps["a"].reason == f"node n1 went down under it 4 times: {EOF_ERROR}"
    assert state.down == {"n1": f"{EOF_ERROR}; back after a health probe"}


def test_a_down_node_is_not_probed_while_no_job_waits_for_it(tmp_path: Path) -> None:
    probes: list[str] = []

    def probe(node: Node) -> str:
        probes.append(node.name)
        return "down"

    state = run(tmp_path, [step("a")], RecordingRunner(faults={"n1": EOF_ERROR}), nodes=PAIR, probe=probe)
    assert statuses(state) == {"a": "succeeded"} and state.steps["a"].node == "n2"
    assert len(probes) <= 1  # at most the one made when it went down while "a" waited


@pytest.mark.parametrize(("lines", "fault"), [
    ([f"ERROR: {EOF_ERROR}"], EOF_ERROR),
    (["#2 [internal] waiting for connection", "#2 ERROR: context deadline exceeded", "------",
      "ERROR: context deadline exceeded"], "context deadline exceeded"),
    (['ERROR: no builder "bp-n1" found'], 'no builder "bp-n1" found'),
    (["ERROR: failed to dial gRPC: dial unix /run/bk.sock: connect: no such file or directory"],
     "failed to dial gRPC: dial unix /run/bk.sock: connect: no such file or directory"),
    (["ERROR: failed to solve: Unavailable: connection error: connect: connection refused"],
     "failed to solve: Unavailable: connection error: connect: connection refused"),
    # Build errors that merely mention such words are not the node's fault.
    (["#5 0.3 curl: (7) Failed to connect: Connection refused",
      'ERROR: failed to solve: process "/bin/sh -c curl x" did not complete successfully: exit code: 7'], ""),
    (["ERROR: failed to solve: failed to push 127.0.0.1:5000/x: dial tcp 127.0.0.1:5000: connect: connection refused"],
     ""),
    (["ERROR: failed to solve: 503 Service Unavailable"], ""),
    (["connection refused"], ""),
])
def test_a_node_fault_is_told_from_a_build_error_by_buildxs_own_error_line(lines: list[str], fault: str) -> None:
    assert node_fault(lines) == fault
