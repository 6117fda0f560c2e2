"""A run's state: each transition's whole result, and `state.json` read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeplan.errors import BakeplanError
from bakeplan.runstate import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    STATE_VERSION,
    SUCCEEDED,
    RunState,
    StepState,
    finish_stopped,
    last_run_down,
    mark_cancelled,
    mark_finished,
    mark_moved,
    mark_node_down,
    mark_node_up,
    mark_retried,
    mark_skipped,
    mark_started,
    mark_unplaceable,
    read_state,
    start_state,
    state_from_json,
    state_to_json,
    write_state,
)
from bakeplan.steps import BAKE, MERGE, Step

STEPS = (Step("base@linux/amd64", BAKE, "base"), Step("app@linux/amd64", BAKE, "app", deps=("base@linux/amd64",)),
         Step("merge:app", MERGE, "app", deps=("app@linux/amd64",)))
HANDED = {"handover": "oci-layout:///run/handover/base_linux_amd64@sha256:b", "digest": "sha256:b"}


def test_a_fresh_state_has_every_step_pending_in_step_order() -> None:
    state = start_state(STEPS)
    assert state == RunState(steps={s.id: StepState() for s in STEPS})
    assert list(state.steps) == ["base@linux/amd64", "app@linux/amd64", "merge:app"]


def test_resuming_keeps_succeeded_steps_with_their_results_and_resets_the_rest() -> None:
    base = StepState(SUCCEEDED, 1, "amd", 1.0, 2.0, 0, "/l/base.log", result=HANDED)
    previous = RunState(steps={"base@linux/amd64": base, "app@linux/amd64": StepState(FAILED, 2, "amd", 2.0, 3.0, 1),
                               "merge:app": StepState(SKIPPED, reason="app@linux/amd64 failed"), "gone": base},
                        stopped=True)
    assert start_state(STEPS, previous) == RunState(steps={
        "base@linux/amd64": base, "app@linux/amd64": StepState(), "merge:app": StepState()})


def test_a_step_starts_retries_and_finishes_with_what_it_hands_on() -> None:
    state = mark_started(start_state(STEPS), "base@linux/amd64", "amd", 10.0, "/l/base.log")
    assert state.steps["base@linux/amd64"] == StepState(RUNNING, 1, "amd", 10.0, None, None, "/l/base.log")
    state = mark_retried(state, "base@linux/amd64", 2)
    assert state.steps["base@linux/amd64"] == StepState(RUNNING, 2, "amd", 10.0, None, 2, "/l/base.log",
                                                        "retry after exit 2")
    state = mark_finished(state, "base@linux/amd64", 0, 15.5, result=HANDED)
    assert state == RunState(steps={
        "base@linux/amd64": StepState(SUCCEEDED, 2, "amd", 10.0, 15.5, 0, "/l/base.log", "", HANDED),
        "app@linux/amd64": StepState(), "merge:app": StepState()})
    assert state.steps["base@linux/amd64"].duration == 5.5


def test_a_failure_with_fail_fast_stops_the_run_and_records_why_it_did_not_deliver() -> None:
    state = mark_started(start_state(STEPS), "base@linux/amd64", "amd", 1.0, "/l/b.log")
    failed = mark_finished(state, "base@linux/amd64", 1, 2.0, fail_fast=True, reason="no hand-over")
    assert failed.stopped and failed.steps["base@linux/amd64"] == StepState(
        FAILED, 1, "amd", 1.0, 2.0, 1, "/l/b.log", "no hand-over")
    assert not mark_finished(state, "base@linux/amd64", 1, 2.0).stopped
    assert not mark_finished(state, "base@linux/amd64", 0, 2.0, fail_fast=True).stopped


def test_only_pending_steps_are_skipped() -> None:
    state = mark_started(start_state(STEPS), "app@linux/amd64", "amd", 1.0, "/l/a.log")
    state = mark_skipped(state, ["app@linux/amd64", "merge:app"], "base@linux/amd64 failed")
    assert {k: (s.status, s.reason) for k, s in state.steps.items()} == {
        "base@linux/amd64": (PENDING, ""), "app@linux/amd64": (RUNNING, ""),
        "merge:app": (SKIPPED, "base@linux/amd64 failed")}


def test_an_interrupt_cancels_running_steps_and_leaves_pending_ones_for_resume() -> None:
    state = mark_started(start_state(STEPS), "base@linux/amd64", "amd", 1.0, "/l/b.log")
    state = mark_cancelled(state, "interrupted", 4.0)
    assert state == RunState(steps={
        "base@linux/amd64": StepState(CANCELLED, 1, "amd", 1.0, 4.0, None, "/l/b.log", "interrupted"),
        "app@linux/amd64": StepState(), "merge:app": StepState()}, stopped=True)


def test_at_the_end_what_never_started_is_skipped_keeping_an_earlier_reason() -> None:
    state = mark_skipped(start_state(STEPS), ["merge:app"], "app failed")
    state = finish_stopped(state, "not started (--fail-fast)")
    assert {k: (s.status, s.reason) for k, s in state.steps.items()} == {
        "base@linux/amd64": (SKIPPED, "not started (--fail-fast)"),
        "app@linux/amd64": (SKIPPED, "not started (--fail-fast)"), "merge:app": (SKIPPED, "app failed")}


# ---------------------------------------------------------------- state.json

FINISHED = RunState(steps={
    "base@linux/amd64": StepState(SUCCEEDED, 1, "amd", 1.0, 2.5, 0, "/l/base.log", result=HANDED),
    "app@linux/amd64": StepState(FAILED, 3, "arm", 2.5, 9.0, 2, "/l/app.log", "retry after exit 1"),
    "merge:app": StepState(SKIPPED, reason="app@linux/amd64 failed"),
}, stopped=True, down={"n1": "context deadline exceeded"})


def test_the_state_file_holds_every_field_and_reads_back_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "run" / "state.json"
    write_state(path, FINISHED)
    assert json.loads(path.read_text()) == {
        "version": STATE_VERSION, "stopped": True, "down": {"n1": "context deadline exceeded"}, "steps": {
            "base@linux/amd64": {"status": "succeeded", "attempts": 1, "node": "amd", "started": 1.0, "finished": 2.5,
                                 "exit_code": 0, "log": "/l/base.log", "reason": "", "result": HANDED},
            "app@linux/amd64": {"status": "failed", "attempts": 3, "node": "arm", "started": 2.5, "finished": 9.0,
                                "exit_code": 2, "log": "/l/app.log", "reason": "retry after exit 1", "result": {}},
            "merge:app": {"status": "skipped", "attempts": 0, "node": "", "started": None, "finished": None,
                          "exit_code": None, "log": "", "reason": "app@linux/amd64 failed", "result": {}},
        }}
    assert read_state(path) == FINISHED
    assert list(read_state(path).steps) == list(FINISHED.steps)
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary file left behind


def test_a_node_going_down_moves_its_step_back_to_pending_without_counting_the_lost_run() -> None:
    state = mark_started(start_state(STEPS), "base@linux/amd64", "n1", 10.0, "/l/base.log")
    state = mark_node_down(state, "n1", "context deadline exceeded")
    state = mark_moved(state, "base@linux/amd64", "node n1 went down: context deadline exceeded")
    assert state == RunState(steps={
        "base@linux/amd64": StepState(PENDING, 0, "n1", 10.0, None, None, "/l/base.log",
                                      "node n1 went down: context deadline exceeded"),
        "app@linux/amd64": StepState(), "merge:app": StepState()}, down={"n1": "context deadline exceeded"})
    state = mark_started(state, "base@linux/amd64", "n2", 12.0, "/l/base.log")
    assert state.steps["base@linux/amd64"] == StepState(RUNNING, 1, "n2", 12.0, None, None, "/l/base.log")
    assert mark_node_up(state, "n1").down == {"n1": "context deadline exceeded; back after a health probe"}


def test_a_step_no_node_can_build_fails_saying_why_and_the_state_keeps_the_down_nodes() -> None:
    state = mark_node_down(start_state(STEPS), "n1", "connection refused")
    state = mark_unplaceable(state, "app@linux/amd64", "no node up builds it: n1 is down (connection refused)", 3.0)
    assert state.steps["app@linux/amd64"] == StepState(
        FAILED, finished=3.0, reason="no node up builds it: n1 is down (connection refused)")
    state = mark_finished(state, "base@linux/amd64", 0, 4.0)
    assert mark_cancelled(state, "interrupted", 5.0).down == {"n1": "connection refused"}
    assert state.down == {"n1": "connection refused"} and not state.ok


@pytest.mark.parametrize("version", [None, 1, STATE_VERSION + 1])
def test_a_state_from_another_version_is_refused(version: int | None) -> None:
    data = {**state_to_json(FINISHED), "version": version}
    with pytest.raises(BakeplanError) as caught:
        state_from_json(data)
    assert caught.value.message == "the run state file is from another bakeplan version"
    assert caught.value.hint == "Start a new run without --resume."


@pytest.mark.parametrize("text", ["{", "[]", '{"version": 2, "steps": {"a": {"colour": "red"}}}'])
def test_an_unreadable_state_file_is_one_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(BakeplanError) as caught:
        read_state(path)
    assert caught.value.hint == "Start a new run without --resume."


def test_a_missing_state_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BakeplanError, match=f"^cannot read run state {tmp_path}/state.json: "):
        read_state(tmp_path / "state.json")


def test_the_last_runs_down_nodes_are_read_from_its_state(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert last_run_down(runs) is None  # no run yet
    (runs / "r1").mkdir(parents=True)
    (runs / "latest").write_text("r1\n")
    assert last_run_down(runs) is None  # a run that wrote no state
    write_state(runs / "r1" / "state.json", mark_node_down(RunState(steps={}), "k1", "daemon gone"))
    assert last_run_down(runs) == (runs / "r1", {"k1": "daemon gone"})
