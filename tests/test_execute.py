"""The executor with a recording runner: order, slots, failures, retries, resume, interrupts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bakeplan import execute as ex
from bakeplan.nodes import Node


@dataclass
class FakeHandle:
    """Exits with `code` once released (immediately unless `gate` is set)."""

    code: int
    gate: threading.Event | None = None
    interrupted: bool = False
    delay: float = 0.0

    def wait(self) -> int:
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(timeout=10)
        return 130 if self.interrupted else self.code

    def interrupt(self) -> None:
        self.interrupted = True
        if self.gate is not None:
            self.gate.set()

    def kill(self) -> None:
        self.interrupt()


@dataclass
class RecordingRunner:
    """Records every argv; exit codes come from `codes` (argv[-1] -> list of codes, one per attempt)."""

    codes: Mapping[str, list[int]] = field(default_factory=dict)
    delays: Mapping[str, float] = field(default_factory=dict)
    gate: threading.Event | None = None
    gates: Mapping[str, threading.Event] = field(default_factory=dict)  # argv[-1] -> its own gate
    started: list[tuple[str, ...]] = field(default_factory=list)
    on_start: Callable[[], None] | None = None

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> FakeHandle:
        self.started.append(tuple(argv))
        log.write_text(f"ran {' '.join(argv)}\n")
        attempts = [a for a in self.started if a[-1] == argv[-1]]
        codes = self.codes.get(argv[-1], [0])
        code = codes[min(len(attempts), len(codes)) - 1]
        if self.on_start is not None:
            self.on_start()
        return FakeHandle(code, self.gates.get(argv[-1], self.gate), delay=self.delays.get(argv[-1], 0.0))


def unit(uid: str, *, deps: tuple[str, ...] = (), platform: str | None = "linux/amd64", estimate: float = 1.0) -> ex.Unit:
    return ex.Unit(id=uid, command=("docker", "buildx", "bake"), args=(uid,), jobs=(uid,), targets=(uid,),
                   platforms=(platform,), deps=deps, estimate=estimate)


NODES = (
    Node(name="amd", builder="b-amd", platforms=("linux/amd64",), slots=1),
    Node(name="arm", builder="b-arm", platforms=("linux/arm64",), slots=1),
)


def run(tmp_path: Path, units: Sequence[ex.Unit], runner: RecordingRunner,
        on_finished: Callable[[ex.Unit, ex.UnitState], None] | None = None, **options: object) -> ex.RunState:
    return ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01, **options),  # type: ignore[arg-type]
                      runner=runner, on_finished=on_finished)


def release_after(first: str, gate: threading.Event) -> Callable[[ex.Unit, ex.UnitState], None]:
    """An on_finished hook: once `first` has ended (as the executor saw it), let the gated unit exit."""
    def hook(done: ex.Unit, state: ex.UnitState) -> None:
        if done.id == first:
            gate.set()
    return hook


def ran(runner: RecordingRunner) -> list[str]:
    return [argv[-1] for argv in runner.started]


def statuses(state: ex.RunState) -> dict[str, str]:
    return {uid: s.status for uid, s in state.units.items()}


def test_each_unit_runs_once_on_a_node_for_its_platform_with_that_nodes_builder(tmp_path: Path) -> None:
    runner = RecordingRunner()
    units = [unit("a"), unit("b", platform="linux/arm64"), unit("c")]
    state = run(tmp_path, units, runner)
    assert statuses(state) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert sorted(runner.started) == [
        ("docker", "buildx", "bake", "--builder", "b-amd", "a"),
        ("docker", "buildx", "bake", "--builder", "b-amd", "c"),
        ("docker", "buildx", "bake", "--builder", "b-arm", "b"),
    ]
    assert state.units["b"].node == "arm"


def test_longest_critical_path_starts_first_on_a_one_slot_node(tmp_path: Path) -> None:
    runner = RecordingRunner()
    units = [unit("short", estimate=1), unit("long", estimate=9), unit("after", deps=("short",), estimate=20)]
    run(tmp_path, units, runner)
    assert [argv[-1] for argv in runner.started] == ["short", "after", "long"]


def test_failure_skips_dependents_and_independent_units_finish(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    units = [unit("a"), unit("child", deps=("a",)), unit("grandchild", deps=("child",)), unit("other")]
    state = run(tmp_path, units, runner)
    assert statuses(state) == {"a": "failed", "child": "skipped", "grandchild": "skipped", "other": "succeeded"}
    assert state.units["child"].reason == "a failed"
    assert state.units["a"].exit_code == 1
    assert not state.ok


def test_fail_fast_starts_nothing_new(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    units = [unit("a", estimate=5), unit("b"), unit("c")]
    state = run(tmp_path, units, runner, fail_fast=True)
    assert statuses(state) == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert state.units["b"].reason == "not started (--fail-fast)"


def test_retries_rerun_a_failed_unit_in_place(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 1, 0]})
    state = run(tmp_path, [unit("a")], runner, retries=2)
    assert statuses(state) == {"a": "succeeded"}
    assert state.units["a"].attempts == 3
    assert len(runner.started) == 3


def test_retries_run_out(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 2]})
    state = run(tmp_path, [unit("a")], runner, retries=1)
    assert statuses(state) == {"a": "failed"} and state.units["a"].exit_code == 2


def test_state_is_written_and_resume_reruns_only_what_did_not_succeed(tmp_path: Path) -> None:
    units = [unit("a"), unit("b"), unit("c", deps=("b",))]
    first = run(tmp_path, units, RecordingRunner(codes={"b": [1]}))
    on_disk = ex.read_state(tmp_path / "run" / "state.json")
    assert statuses(on_disk) == statuses(first) == {"a": "succeeded", "b": "failed", "c": "skipped"}
    runner = RecordingRunner()
    second = ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01), runner=runner,
                        previous=on_disk)
    assert [argv[-1] for argv in runner.started] == ["b", "c"]
    assert statuses(second) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert second.units["a"].started == first.units["a"].started


def test_interrupt_stops_children_records_cancelled_and_reraises(tmp_path: Path) -> None:
    runner = RecordingRunner(gate=threading.Event())
    units = [unit("a"), unit("b", platform="linux/arm64"), unit("c", deps=("a",))]
    ticks = []

    class Interrupting(ex.NullReporter):
        def tick(self, state: ex.RunState) -> None:
            ticks.append(1)
            if len(ticks) == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01, grace=2), runner=runner,
                   reporter=Interrupting())
    state = ex.read_state(tmp_path / "run" / "state.json")
    assert statuses(state) == {"a": "cancelled", "b": "cancelled", "c": "pending"}


def test_an_unexpected_error_also_stops_children_and_records_why(tmp_path: Path) -> None:
    runner = RecordingRunner(gate=threading.Event())
    units = [unit("a"), unit("b", platform="linux/arm64")]

    class Broken(ex.NullReporter):
        def tick(self, state: ex.RunState) -> None:
            raise RuntimeError("reporter broke")

    with pytest.raises(RuntimeError):
        ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01, grace=2), runner=runner,
                   reporter=Broken())
    state = ex.read_state(tmp_path / "run" / "state.json")
    assert statuses(state) == {"a": "cancelled", "b": "cancelled"}
    assert state.units["a"].reason == "stopped: reporter broke"


def test_a_unit_whose_tool_is_missing_fails_like_a_build(tmp_path: Path) -> None:
    units = [ex.Unit(id="a", command=("/nonexistent/docker", "buildx", "bake"), args=("a",), platforms=("linux/amd64",))]
    state = ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01))
    assert statuses(state) == {"a": "failed"} and state.units["a"].exit_code == 127
    assert "not found" in Path(state.units["a"].log).read_text()


def test_real_subprocess_exit_codes_and_log_files(tmp_path: Path) -> None:
    units = [
        ex.Unit(id="ok", command=("sh", "-c", "echo built; exit 0"), args=(), platforms=("linux/amd64",)),
        ex.Unit(id="no", command=("sh", "-c", "echo broken >&2; exit 3"), args=(), platforms=("linux/arm64",)),
    ]
    state = ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01), builders={})
    assert statuses(state) == {"ok": "succeeded", "no": "failed"}
    assert Path(state.units["ok"].log).read_text() == "built\n"
    assert Path(state.units["no"].log).read_text() == "broken\n"
    assert state.units["no"].exit_code == 3


def test_merge_unit_appends_each_platform_digest(tmp_path: Path) -> None:
    meta = tmp_path / "m"
    meta.mkdir()
    for arch in ("amd64", "arm64"):
        (meta / f"{arch}.json").write_text(json.dumps({"app": {"containerimage.digest": f"sha256:{arch}"}}))
    parts = [ex.Unit(id=f"app@linux/{a}", command=("docker",), args=(), metadata=str(meta / f"{a}.json"))
             for a in ("amd64", "arm64")]
    merge = ex.Unit(id="merge:app", command=("docker", "buildx", "imagetools", "create"), args=("--tag", "r/app:v1"),
                    deps=tuple(p.id for p in parts), kind="merge", merge_target="app", merge_repo="r/app")
    by_id = {u.id: u for u in [*parts, merge]}
    assert ex.merge_sources(merge, by_id) == ["r/app@sha256:amd64", "r/app@sha256:arm64"]


@pytest.mark.parametrize(("reference", "repo"), [
    ("127.0.0.1:5000/ns/app:v1", "127.0.0.1:5000/ns/app"),
    ("app", "app"),
    ("r/app@sha256:abc", "r/app"),
    ("localhost:5000/app", "localhost:5000/app"),
])
def test_repository_drops_tag_and_digest(reference: str, repo: str) -> None:
    assert ex.repository(reference) == repo


def test_a_failed_platform_skips_its_merge(tmp_path: Path) -> None:
    units = [unit("a"), unit("b", platform="linux/arm64"),
             ex.Unit(id="merge:x", command=("docker",), args=("merge",), platforms=(None,), deps=("a", "b"),
                     kind="merge", merge_target="x", merge_repo="r/x")]
    state = run(tmp_path, units, RecordingRunner(codes={"b": [1]}, delays={"a": 0.2}))
    assert statuses(state) == {"a": "succeeded", "b": "failed", "merge:x": "skipped"}


def test_resuming_a_finished_run_runs_nothing(tmp_path: Path) -> None:
    units = [unit("a"), unit("b", deps=("a",))]
    first = run(tmp_path, units, RecordingRunner())
    runner = RecordingRunner()
    second = ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01), runner=runner, previous=first)
    assert runner.started == [] and second.ok


@pytest.mark.parametrize(("failing", "finishing"), [("a", "b"), ("b", "a")])
@pytest.mark.parametrize("fails_first", [True, False])
def test_a_unit_with_a_failed_and_a_succeeded_parent_is_skipped_in_either_order(
    tmp_path: Path, failing: str, finishing: str, fails_first: bool,
) -> None:
    platform = {"a": "linux/amd64", "b": "linux/arm64"}
    first, second = (failing, finishing) if fails_first else (finishing, failing)
    gate = threading.Event()
    runner = RecordingRunner(codes={failing: [1]}, gates={second: gate})
    units = [unit("a", platform=platform["a"]), unit("b", platform=platform["b"]),
             unit("join", deps=("a", "b")), unit("after", deps=(finishing,), platform=platform[finishing])]
    state = run(tmp_path, units, runner, on_finished=release_after(first, gate))
    assert statuses(state) == {failing: "failed", finishing: "succeeded", "join": "skipped", "after": "succeeded"}
    assert state.units["join"].reason == f"{failing} failed"
    assert sorted(ran(runner)) == ["a", "after", "b"]  # the skipped join never starts


def test_fail_fast_lets_running_units_finish_and_starts_nothing_new(tmp_path: Path) -> None:
    gate = threading.Event()
    runner = RecordingRunner(codes={"a": [1]}, gates={"b": gate})
    units = [unit("a", estimate=5), unit("b", platform="linux/arm64"), unit("c"), unit("d", platform="linux/arm64")]
    state = run(tmp_path, units, runner, on_finished=release_after("a", gate), fail_fast=True)
    assert statuses(state) == {"a": "failed", "b": "succeeded", "c": "skipped", "d": "skipped"}
    assert state.units["d"].reason == "not started (--fail-fast)"
    assert sorted(ran(runner)) == ["a", "b"]


def test_without_fail_fast_independent_units_go_on_after_a_failure(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1]})
    units = [unit("a", estimate=5), unit("b", platform="linux/arm64"), unit("c"), unit("d", platform="linux/arm64")]
    state = run(tmp_path, units, runner)
    assert statuses(state) == {"a": "failed", "b": "succeeded", "c": "succeeded", "d": "succeeded"}


def test_a_retry_runs_in_the_same_slot_before_anything_else_starts_there(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 0]})
    units = [unit("a", estimate=5), unit("child", deps=("a",)), unit("other")]
    state = run(tmp_path, units, runner, retries=1)
    assert ran(runner) == ["a", "a", "child", "other"]  # one amd slot: the retry holds it
    assert {argv[4] for argv in runner.started} == {"b-amd"}
    assert statuses(state) == {"a": "succeeded", "child": "succeeded", "other": "succeeded"}
    assert state.units["a"].attempts == 2 and state.units["a"].exit_code == 0


def test_a_unit_that_fails_every_retry_skips_its_dependents_and_others_go_on(tmp_path: Path) -> None:
    runner = RecordingRunner(codes={"a": [1, 1, 3]})
    units = [unit("a", estimate=5), unit("child", deps=("a",)), unit("other")]
    state = run(tmp_path, units, runner, retries=2)
    assert ran(runner) == ["a", "a", "a", "other"]
    assert statuses(state) == {"a": "failed", "child": "skipped", "other": "succeeded"}
    assert state.units["a"].attempts == 3 and state.units["a"].exit_code == 3
    assert state.units["child"].reason == "a failed"


def test_resume_after_an_interrupt_reruns_the_cancelled_and_never_started_units_only(tmp_path: Path) -> None:
    units = [unit("a"), unit("b", platform="linux/arm64"), unit("c", deps=("a",))]

    class InterruptAfterA(ex.NullReporter):
        def tick(self, state: ex.RunState) -> None:
            if state.units["a"].status == ex.SUCCEEDED:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01, grace=2),
                   runner=RecordingRunner(gates={"b": threading.Event()}), reporter=InterruptAfterA())
    interrupted = ex.read_state(tmp_path / "run" / "state.json")
    assert statuses(interrupted) == {"a": "succeeded", "b": "cancelled", "c": "pending"}
    runner = RecordingRunner()
    resumed = ex.execute(units, NODES, ex.RunOptions(run_dir=tmp_path / "run", tick=0.01), runner=runner,
                         previous=interrupted)
    assert sorted(ran(runner)) == ["b", "c"]
    assert statuses(resumed) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert resumed.units["a"] == interrupted.units["a"]


@pytest.mark.parametrize(
    ("jobs", "targets", "label"),
    [
        (("a@linux/amd64",), ("a",), "a@linux/amd64"),
        (("base@linux/arm64", "api@linux/arm64", "web@linux/arm64"), ("base", "api", "web"),
         "web@linux/arm64 (with base, api)"),
    ],
)
def test_a_unit_reads_as_its_last_job_with_the_linked_targets_built_alongside(
    jobs: tuple[str, ...], targets: tuple[str, ...], label: str
) -> None:
    unit_id = jobs[0] if len(jobs) == 1 else f"{jobs[-1]}+{len(jobs) - 1}"
    unit = ex.Unit(id=unit_id, command=("docker",), args=(), jobs=jobs, targets=targets)
    assert unit.label == label
