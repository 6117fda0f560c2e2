"""`bakeplan run` as one function: each job's definition and argv at start, hand-overs collected, the run directory.

The composer is exercised on a plan over two nodes that both build both
platforms, with a hand-written run state saying where each parent ran; the
whole run goes through `runs.run` with a runner that plays buildx (it writes
the OCI layout and the metadata file the argv asks for).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bakeplan.bake.model import BakeRequest, BakeResult
from bakeplan.bake.resolve import load
from bakeplan.bake.schema import csv_fields
from bakeplan.errors import BakeplanError, ToolError
from bakeplan.handover import Handoff, HandoverStore
from bakeplan.history import History
from bakeplan.nodes import Node
from bakeplan.plan import Plan, build_plan
from bakeplan.progress import LiveReporter, redact, render_summary
from bakeplan.runs import (
    JobComposer,
    RunRequest,
    dry_run_lines,
    read_digest,
    run,
    run_directory,
    save_history,
    steps_of,
)
from bakeplan.runstate import FAILED, RUNNING, SKIPPED, SUCCEEDED, RunState, StepState
from bakeplan.steps import JobSettings, Step
from tests.support.clusters import Buildx

AMD, ARM = "linux/amd64", "linux/arm64"
ROOT = Path(__file__).resolve().parent.parent
TWO = (Node("one", builder="b-one", platforms=(AMD, ARM), native=2, slots=2),
       Node("two", builder="b-two", platforms=(AMD, ARM), native=2, slots=2))

CHAIN = """
target "root" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "base" {
  contexts = { root = "target:root" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = { A = "1" }
}
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["r.io/app:v1", "r.io/app:latest"]
}
"""


def bake(tmp_path: Path, hcl: str, *names: str) -> BakeResult:
    (tmp_path / "docker-bake.hcl").write_text(hcl)
    return load(BakeRequest(names=names, cwd=tmp_path, env={"BAKEPLAN_NO_CACHE": "1"}))


def plan_of(tmp_path: Path, hcl: str = CHAIN, *names: str, nodes: Sequence[Node] = TWO) -> Plan:
    return build_plan(bake(tmp_path, hcl, *(names or ("app",))), nodes)


def composer(plan: Plan, run_dir: Path, *, push: bool = False, handoff: Handoff | None = None) -> JobComposer:
    return JobComposer(plan, JobSettings(push=push, progress="plain"), run_dir, HandoverStore(run_dir, handoff or Handoff()))


def ran(where: Mapping[str, str], handed: Mapping[str, str] | None = None) -> RunState:
    """A run state where each job in `where` succeeded on that node, handing over `handed[job]`."""
    handed = handed or {}
    return RunState(steps={job: StepState(SUCCEEDED, 1, node, 1.0, 2.0, 0, result=(
        {"handover": handed[job]} if job in handed else {})) for job, node in where.items()})


def step_of(plan: Plan, step_id: str, *, push: bool = False) -> Step:
    return next(s for s in steps_of(plan, History(), push=push) if s.id == step_id)


def definition(run_dir: Path, name: str) -> dict[str, object]:
    """The job file `run` wrote for a job."""
    document: dict[str, object] = json.loads((run_dir / "jobs" / f"{name}.json").read_text())
    return document


def fields(platform: str, **extra: object) -> dict[str, object]:
    """A target as a job file holds it: narrowed to one platform."""
    return {"context": ".", "dockerfile": "Dockerfile", "platforms": [platform], **extra}


ROOT_ARM = "oci-layout:///elsewhere/handover/root_linux_arm64@sha256:r"
BASE_ARM = "oci-layout:///elsewhere/handover/base_linux_arm64@sha256:b"
CACHEONLY = {"output": [{"type": "cacheonly"}]}


# ---------------------------------------------------------------- a job's argv and definition at start


def test_a_grandparent_from_another_node_is_handed_to_the_parent_re_solved_here(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    state = ran({"root@linux/arm64": "two", "base@linux/arm64": "one"},
                {"root@linux/arm64": ROOT_ARM, "base@linux/arm64": BASE_ARM})
    argv = composer(plan, run_dir).argv(step_of(plan, "app@linux/arm64"), "one", state)
    assert argv == (
        "docker", "buildx", "bake", "--builder", "b-one", "-f", f"{run_dir}/jobs/app_linux_arm64.json",
        "--progress", "plain", "--allow", f"fs.read={run_dir}/handover",  # bake's entitlement for the layout
        "--set", "app.platform=linux/arm64", "--set", "base.platform=linux/arm64",
        "--set", f"base.contexts.root={ROOT_ARM}", "app")
    assert definition(run_dir, "app_linux_arm64") == {"target": {
        "app": fields(ARM, contexts={"base": "target:base"}, tags=["r.io/app:v1", "r.io/app:latest"]),
        "base": fields(ARM, contexts={"root": "target:root"}, args={"A": "1"}, **CACHEONLY),
    }}  # root is handed over: not in the file, never built here


def test_a_parent_from_another_node_is_read_by_digest_and_left_out_of_the_definition(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    state = ran({"root@linux/arm64": "one", "base@linux/arm64": "one"},
                {"root@linux/arm64": ROOT_ARM, "base@linux/arm64": BASE_ARM})
    argv = composer(plan, run_dir).argv(step_of(plan, "app@linux/arm64"), "two", state)
    assert argv[-5:] == ("--set", "app.platform=linux/arm64", "--set", f"app.contexts.base={BASE_ARM}", "app")
    assert argv[3:5] == ("--builder", "b-two")
    assert definition(run_dir, "app_linux_arm64") == {"target": {
        "app": fields(ARM, contexts={"base": "target:base"}, tags=["r.io/app:v1", "r.io/app:latest"])}}


def test_parents_that_ran_on_the_same_node_are_re_solved_each_on_one_platform(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    state = ran({"root@linux/amd64": "two", "base@linux/amd64": "two"},
                {"root@linux/amd64": "oci-layout:///h/root@sha256:r", "base@linux/amd64": "oci-layout:///h/base@sha256:b"})
    argv = composer(plan, run_dir).argv(step_of(plan, "app@linux/amd64"), "two", state)
    assert argv[-7:] == ("--set", "app.platform=linux/amd64", "--set", "base.platform=linux/amd64",
                         "--set", "root.platform=linux/amd64", "app")
    assert definition(run_dir, "app_linux_amd64") == {"target": {
        "app": fields(AMD, contexts={"base": "target:base"}, tags=["r.io/app:v1", "r.io/app:latest"]),
        "base": fields(AMD, contexts={"root": "target:root"}, args={"A": "1"}, **CACHEONLY),
        "root": fields(AMD, **CACHEONLY),
    }}


def test_a_parent_that_handed_nothing_over_is_re_solved_wherever_it_ran(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    state = ran({"root@linux/amd64": "one", "base@linux/amd64": "one"})  # e.g. resumed from a one-node run
    argv = composer(plan, tmp_path / "run").argv(step_of(plan, "app@linux/amd64"), "two", state)
    assert argv[-7:] == ("--set", "app.platform=linux/amd64", "--set", "base.platform=linux/amd64",
                         "--set", "root.platform=linux/amd64", "app")


def test_a_parent_exports_its_hand_over_into_a_fresh_partial_layout(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    stale = run_dir / "handover" / "root_linux_arm64.partial"
    stale.mkdir(parents=True)
    (stale / "index.json").write_text("{}")  # left by an interrupted export
    argv = composer(plan, run_dir).argv(step_of(plan, "root@linux/arm64"), "two", ran({}))
    assert argv == (
        "docker", "buildx", "bake", "--builder", "b-two", "-f", f"{run_dir}/jobs/root_linux_arm64.json",
        "--progress", "plain", "--allow", f"fs.write={run_dir}/handover",  # bake's entitlement for the export
        "--set", "root.platform=linux/arm64", "--set", f"root.output=type=oci,dest={stale},tar=false", "root")
    assert not any(stale.iterdir())
    assert definition(run_dir, "root_linux_arm64") == {"target": {"root": fields(ARM, **CACHEONLY)}}


def test_a_parent_whose_children_can_only_run_on_its_node_exports_nothing(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, nodes=TWO[:1])
    jobs = composer(plan, tmp_path / "run")
    assert not jobs.exports(plan.job("root@linux/arm64"), "one")
    assert composer(plan_of(tmp_path), tmp_path / "run").exports(plan.job("root@linux/arm64"), "one")
    argv = jobs.argv(step_of(plan, "root@linux/arm64"), "one", ran({}))
    assert argv[-5:] == ("--set", "root.platform=linux/arm64", "--set", "root.output=type=cacheonly", "root")


def test_a_registry_hand_over_pushes_the_parent_by_digest(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    argv = composer(plan, tmp_path / "run", handoff=Handoff("registry", "r.io/handover")).argv(
        step_of(plan, "root@linux/arm64"), "two", ran({}))
    assert argv[-5:] == ("--set", "root.platform=linux/arm64", "--set",
                         "root.output=type=image,name=r.io/handover,push-by-digest=true,name-canonical=true,push=true",
                         "root")


def test_a_merge_tags_the_digests_its_platforms_pushed(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    state = RunState(steps={"app@linux/amd64": StepState(SUCCEEDED, result={"digest": "sha256:a"}),
                            "app@linux/arm64": StepState(SUCCEEDED, result={"digest": "sha256:b"})})
    merge = step_of(plan, "merge:app", push=True)
    assert composer(plan, tmp_path / "run", push=True).argv(merge, "two", state) == (
        "docker", "buildx", "imagetools", "create", "--builder", "b-two", "--tag", "r.io/app:v1", "--tag", "r.io/app:latest",
        "r.io/app@sha256:a", "r.io/app@sha256:b")


def test_a_definition_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "jobs").write_text("a file where the folder should be")
    with pytest.raises(BakeplanError, match=f"^cannot write {tmp_path}/run/jobs/root_linux_amd64.json: ") as caught:
        composer(plan, tmp_path / "run", handoff=Handoff("registry", "r/h")).argv(
            step_of(plan, "root@linux/amd64"), "one", ran({}))
    assert caught.value.hint == "Pick a writable place with --run-dir."


# ---------------------------------------------------------------- what a finished job hands on


def blob(layout: Path, document: dict[str, object]) -> str:
    data = json.dumps(document).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return digest


def export_layout(layout: Path, name: str) -> str:
    """What BuildKit's oci exporter writes for one platform with an attestation; the image manifest's digest."""
    manifest = "application/vnd.oci.image.manifest.v1+json"
    image = blob(layout, {"mediaType": manifest, "annotations": {"name": name}})
    attestation = blob(layout, {"mediaType": manifest, "annotations": {"name": f"{name} provenance"}})
    index = blob(layout, {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": manifest, "digest": attestation, "platform": {"architecture": "unknown", "os": "unknown"}},
        {"mediaType": manifest, "digest": image, "platform": {"architecture": "arm64", "os": "linux"}}]})
    (layout / "index.json").write_text(json.dumps({"manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index}]}))
    return image


def test_collect_moves_the_finished_layout_into_place_and_hands_over_its_image_digest(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    jobs = composer(plan, run_dir)
    root = step_of(plan, "root@linux/arm64")
    jobs.argv(root, "two", ran({}))
    image = export_layout(run_dir / "handover" / "root_linux_arm64.partial", "root")
    assert jobs.collect(root, StepState(SUCCEEDED, node="two")) == {
        "handover": f"oci-layout://{run_dir}/handover/root_linux_arm64@{image}"}
    assert sorted(p.name for p in (run_dir / "handover").iterdir()) == ["root_linux_arm64"]


def test_collect_reads_the_pushed_digest_of_a_split_target(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    jobs = composer(plan, run_dir, push=True)
    app = step_of(plan, "app@linux/arm64", push=True)
    (run_dir / "metadata").mkdir(parents=True)
    (run_dir / "metadata" / "app_linux_arm64.json").write_text(json.dumps({"app": {"containerimage.digest": "sha256:d"}}))
    assert jobs.collect(app, StepState(SUCCEEDED)) == {"digest": "sha256:d"}
    assert composer(plan, run_dir).collect(app, StepState(SUCCEEDED)) == {}  # without --push nothing was pushed


def test_collect_of_a_registry_hand_over_reads_the_digest_it_pushed(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    (run_dir / "metadata").mkdir(parents=True)
    (run_dir / "metadata" / "root_linux_arm64.json").write_text(json.dumps({"root": {"containerimage.digest": "sha256:r"}}))
    jobs = composer(plan, run_dir, handoff=Handoff("registry", "r.io/handover"))
    jobs.argv(step_of(plan, "root@linux/arm64"), "two", ran({}))
    assert jobs.collect(step_of(plan, "root@linux/arm64"), StepState(SUCCEEDED)) == {
        "digest": "sha256:r", "handover": "docker-image://r.io/handover@sha256:r"}


@pytest.mark.parametrize("metadata", [None, "{", '{"other": {"containerimage.digest": "sha256:x"}}',
                                      '{"app": {}}', '{"app": {"containerimage.digest": 7}}'])
def test_a_missing_digest_is_one_clear_error(tmp_path: Path, metadata: str | None) -> None:
    path = tmp_path / "app.json"
    if metadata is not None:
        path.write_text(metadata)
    with pytest.raises(BakeplanError, match=f"^no image digest for app in {path}"):
        read_digest(path, "app")


def test_an_interrupted_run_drops_half_written_layouts_only(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    run_dir = tmp_path / "run"
    for name in ("root_linux_arm64", "base_linux_arm64.partial", "root_linux_amd64.partial"):
        (run_dir / "handover" / name).mkdir(parents=True)
    composer(plan, run_dir).interrupted()
    assert sorted(p.name for p in (run_dir / "handover").iterdir()) == ["root_linux_arm64"]


# ---------------------------------------------------------------- a whole run with a runner playing buildx


@dataclass
class Done:
    code: int

    def wait(self) -> int:
        return self.code

    def interrupt(self) -> None:
        pass

    def kill(self) -> None:
        pass


@dataclass
class PlayBuildx:
    """Plays `docker buildx bake`: writes the OCI layout of `type=oci` outputs and the metadata file."""

    fail: frozenset[str] = frozenset()
    started: list[tuple[str, ...]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> Done:
        with self.lock:
            self.started.append(tuple(argv))
        target = argv[-1]
        if argv[3] == "imagetools" or target in self.fail:
            return Done(1 if target in self.fail else 0)
        options = dict(zip(argv, argv[1:]))
        platform = next(a.split("=", 1)[1] for a in argv if a.startswith(f"{target}.platform="))
        lines = []
        for arg in argv:
            if arg.startswith(f"{target}.output=type=oci,"):
                dest = next(f[5:] for f in csv_fields(arg.split("=", 1)[1]) if f.startswith("dest="))
                export_layout(Path(dest), f"{target}@{platform}")
                lines += ["#9 exporting to oci image format", "#9 exporting layers done", "#9 DONE 0.5s"]
            if ".contexts." in arg and "=oci-layout://" in arg:
                name = arg.split(".contexts.", 1)[1].split("=", 1)[0]
                lines += [f"#4 [context {name}] OCI load from client", "#4 DONE 0.25s"]
        with log.open("a") as out:
            out.write("".join(line + "\n" for line in lines))
        digest = "sha256:" + hashlib.sha256(f"{target}@{platform}".encode()).hexdigest()
        if "--metadata-file" in options:  # asked for where a digest is read
            Path(options["--metadata-file"]).write_text(json.dumps({target: {"containerimage.digest": digest}}))
        return Done(0)


def request(run_dir: Path, **options: object) -> RunRequest:
    return RunRequest(run_dir, JobSettings(progress="plain"), HandoverStore(run_dir), **options)  # type: ignore[arg-type]


PAIR = """
target "base" {
  platforms = ["linux/amd64"]
}
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
}
"""
SPLIT = (Node("amd", builder="b-amd", platforms=(AMD,), slots=1), Node("arm", builder="b-arm", platforms=(ARM,), slots=1))


def test_steps_carry_the_estimates_the_plan_used(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, PAIR, nodes=SPLIT)
    assert {j: t.end - t.start for j, t in plan.timings.items() if j != "app@linux/arm64"} == {
        "app@linux/amd64": 60.0, "base@linux/amd64": 61.0}  # 60s by default, and base exports its hand-over: 1s
    assert {s.id: s.estimate for s in steps_of(plan, History(), push=False)} == {
        "app@linux/amd64": 60.0, "app@linux/arm64": 60.0, "base@linux/amd64": 61.0}


def test_a_run_hands_the_parent_to_the_child_on_the_other_node_and_cleans_up_after_success(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, PAIR, nodes=SPLIT)
    run_dir = tmp_path / "run"
    runner = PlayBuildx()
    state, steps, history = run(plan, request(run_dir), History(), runner=runner)
    assert {sid: (s.status, s.node) for sid, s in state.steps.items()} == {
        "app@linux/amd64": (SUCCEEDED, "amd"), "app@linux/arm64": (SUCCEEDED, "arm"), "base@linux/amd64": (SUCCEEDED, "amd")}
    handed = state.steps["base@linux/amd64"].result["handover"]
    digest = export_layout(tmp_path / "expected", "base@linux/amd64")
    assert handed == f"oci-layout://{run_dir}/handover/base_linux_amd64@{digest}"
    def bake_argv(job: str, *sets: str, allow: str = "") -> tuple[str, ...]:
        node = "b-arm" if job.endswith("arm64") else "b-amd"
        name = job.replace("@", "_").replace("/", "_")
        return ("docker", "buildx", "bake", "--builder", node, "-f", f"{run_dir}/jobs/{name}.json",
                "--progress", "plain", *(("--allow", allow) if allow else ()),
                *(arg for item in sets for arg in ("--set", item)), job.split("@")[0])

    assert sorted(runner.started) == sorted([
        bake_argv("base@linux/amd64", "base.platform=linux/amd64",
                  f"base.output=type=oci,dest={run_dir}/handover/base_linux_amd64.partial,tar=false",
                  allow=f"fs.write={run_dir}/handover"),
        bake_argv("app@linux/amd64", "app.platform=linux/amd64"),  # base re-solved: one platform, no set needed
        bake_argv("app@linux/arm64", "app.platform=linux/arm64", f"app.contexts.base={handed}",
                  allow=f"fs.read={run_dir}/handover"),
    ])
    assert runner.started[0][-1] == "base"
    assert not (run_dir / "handover").exists()  # every child has read it: removed
    assert sorted(k for k in history.samples if "|linux/" in k) == [
        "app|linux/amd64", "app|linux/arm64", "base|linux/amd64",
        "block:app|linux/amd64", "block:app|linux/arm64", "block:base|linux/amd64"]
    assert history.transfers() == {("amd", "arm"): 0.25}  # read from the builds' own logs
    assert history.export_default() == 0.5
    assert json.loads((run_dir / "state.json").read_text())["steps"]["base@linux/amd64"]["result"] == {"handover": handed}


def test_a_failed_run_keeps_its_hand_overs_for_resume(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, PAIR, nodes=SPLIT)
    run_dir = tmp_path / "run"
    state, _, _ = run(plan, request(run_dir), History(), runner=PlayBuildx(fail=frozenset({"app"})))
    assert {sid: s.status for sid, s in state.steps.items()} == {
        "app@linux/amd64": FAILED, "app@linux/arm64": FAILED, "base@linux/amd64": SUCCEEDED}
    assert sorted(p.name for p in (run_dir / "handover").iterdir()) == ["base_linux_amd64"]
    runner = PlayBuildx()
    resumed, _, _ = run(plan, request(run_dir, resume=True), History(), runner=runner)
    assert resumed.ok and resumed.steps["base@linux/amd64"] == state.steps["base@linux/amd64"]
    assert sorted(argv[-1] for argv in runner.started) == ["app", "app"]


def learned(tmp_path: Path) -> tuple[Plan, History]:
    """A plan made with what one earlier run measured (its own estimates were the 60 s default)."""
    plan = plan_of(tmp_path, PAIR, nodes=SPLIT)
    _, _, history = run(plan, request(tmp_path / "first"), History(), runner=PlayBuildx())
    assert history.runs == ()  # every estimate was the default: nothing to compare, nothing kept
    return build_plan(plan.result, SPLIT, history=history), history


def test_a_run_records_each_jobs_planned_and_measured_seconds_and_the_makespans(tmp_path: Path) -> None:
    plan, past = learned(tmp_path)
    state, steps, history = run(plan, request(tmp_path / "run"), past, runner=PlayBuildx())
    (recorded,) = history.runs
    assert recorded.jobs == {s.id: (s.estimate, state.steps[s.id].duration) for s in steps}
    assert sorted(recorded.jobs) == ["app@linux/amd64", "app@linux/arm64", "base@linux/amd64"]
    assert all(planned < 60.0 for planned, _ in recorded.jobs.values())  # measured, not the default
    starts = [s.started for s in state.steps.values() if s.started is not None]
    ends = [s.finished for s in state.steps.values() if s.finished is not None]
    assert recorded.makespan == (plan.makespan, max(ends) - min(starts))


def test_a_failed_run_records_its_succeeded_jobs_but_no_makespan_and_neither_does_its_resumption(tmp_path: Path) -> None:
    plan, past = learned(tmp_path)
    run_dir = tmp_path / "run"
    _, _, history = run(plan, request(run_dir), past, runner=PlayBuildx(fail=frozenset({"app"})))
    assert [(sorted(r.jobs), r.makespan) for r in history.runs] == [(["base@linux/amd64"], None)]
    resumed, _, history = run(plan, request(run_dir, resume=True), history, runner=PlayBuildx())
    assert resumed.ok  # the resumed part spans the pause since the first: its makespan compares with nothing
    assert [(sorted(r.jobs), r.makespan) for r in history.runs] == [
        (["base@linux/amd64"], None), (["app@linux/amd64", "app@linux/arm64"], None)]


# ---------------------------------------------------------------- the run directory, history, dry run


def test_each_run_gets_a_new_directory_and_resume_finds_the_latest(tmp_path: Path) -> None:
    first = run_directory(tmp_path / "runs", resume=False)
    assert first.is_dir() and first.parent == tmp_path / "runs"
    assert (tmp_path / "runs" / "latest").read_text() == first.name + "\n"
    assert run_directory(tmp_path / "runs", resume=True) == first
    planned = run_directory(tmp_path / "elsewhere", resume=False, create=False)
    assert not planned.exists() and not (tmp_path / "elsewhere").exists()


def test_nothing_to_resume_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BakeplanError) as caught:
        run_directory(tmp_path / "runs", resume=True)
    assert caught.value.message == f"nothing to resume: no previous run in {tmp_path}/runs"
    assert caught.value.hint == "Run without --resume first (or give the --run-dir of the run to resume)."


def test_a_run_directory_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where the runs directory should be")
    with pytest.raises(BakeplanError, match="cannot create the run directory"):
        run_directory(tmp_path / "runs", resume=False)


def test_a_history_that_cannot_be_saved_warns_instead_of_failing_the_run(tmp_path: Path) -> None:
    assert save_history(History(), tmp_path).startswith(f"durations not recorded in {tmp_path}: ")
    assert save_history(History(), tmp_path / "history.json") == ""


def test_a_dry_run_shows_each_steps_argv_on_its_planned_node(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, PAIR.replace('platforms = ["linux/amd64", "linux/arm64"]\n}',
                                          'platforms = ["linux/amd64", "linux/arm64"]\n  tags = ["r.io/app"]\n}'),
                   nodes=SPLIT)
    settings = JobSettings(files=plan.files, sets=("*.args.TOKEN=s3cret",), push=True, progress="plain")
    bake_file = tmp_path / "docker-bake.hcl"
    pushed = "app.output=type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true"
    assert dry_run_lines(plan, steps_of(plan, History(), push=True), settings) == [
        "# base@linux/amd64 on amd",
        f"docker buildx bake --builder b-amd -f {bake_file} --progress plain --set '*.args.TOKEN=***' "
        "--set base.platform=linux/amd64 --set 'base.output=type=oci,dest=<hand-over dir>,tar=false' base",
        "# app@linux/amd64 on amd",
        f"docker buildx bake --builder b-amd -f {bake_file} --progress plain --set '*.args.TOKEN=***' "
        f"--set app.platform=linux/amd64 --set {pushed} --set app.tags= app",
        "# app@linux/arm64 on arm",
        f"docker buildx bake --builder b-arm -f {bake_file} --progress plain --set '*.args.TOKEN=***' "
        f"--set app.platform=linux/arm64 --set {pushed} --set app.tags= "
        "--set 'app.contexts.base=oci-layout://<hand-over of base@linux/amd64>@<digest>' app",
        "# merge:app",
        "docker buildx imagetools create --tag r.io/app 'r.io/app@<digest of app@linux/amd64>' "
        "'r.io/app@<digest of app@linux/arm64>'",
    ]  # in the order they run: a parent before the children that read it


# ---------------------------------------------------------------- what the user sees


@pytest.mark.parametrize(("argv", "shown"), [
    (["--var", "API_TOKEN=abc"], ["--var", "API_TOKEN=***"]),
    (["--var=GITHUB_TOKEN=abc"], ["--var=GITHUB_TOKEN=***"]),
    (["--set", "app.args.NPM_PASSWORD=hunter2"], ["--set", "app.args.NPM_PASSWORD=***"]),
    (["--set", "app.args.VERSION=1"], ["--set", "app.args.VERSION=1"]),
    (["--var", "TAG=v1"], ["--var", "TAG=v1"]),
])
def test_secrets_never_appear_in_shown_commands(argv: list[str], shown: list[str]) -> None:
    assert redact(argv) == shown


def test_the_summary_lists_every_step_with_result_node_duration_and_log() -> None:
    steps = [Step("a", "bake", "a"), Step("b", "bake", "b", deps=("a",)), Step("c", "bake", "c"),
             Step("d", "bake", "d")]
    state = RunState(steps={
        "a": StepState(status=FAILED, attempts=2, node="amd", started=1.0, finished=3.5, exit_code=1, log="/l/a.log"),
        "b": StepState(status=SKIPPED, reason="a failed"),
        "c": StepState(status=SUCCEEDED, attempts=1, node="arm", started=1.0, finished=2.0, exit_code=0, log="/l/c.log"),
        "d": StepState(status=FAILED, attempts=1, node="arm", started=1.0, finished=2.0, exit_code=0, log="/l/d.log",
                       reason="no hand-over"),
    })
    out = io.StringIO()
    render_summary(state, steps, out)
    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["job", "result", "node", "duration", "log"],
        ["a", "failed", "(exit", "1)", "after", "2", "attempts", "amd", "2.5s", "/l/a.log"],
        ["b", "skipped", "(a", "failed)", "-", "-", "-"],
        ["c", "succeeded", "arm", "1.0s", "/l/c.log"],
        ["d", "failed", "(no", "hand-over)", "arm", "1.0s", "/l/d.log"],  # built, but did not deliver
        ["FAILED:", "1", "succeeded,", "2", "failed,", "1", "skipped"],
    ]


def test_the_summary_names_each_node_that_went_down_and_why_after_the_table() -> None:
    steps = [Step("a", "bake", "a"), Step("b", "bake", "b")]
    state = RunState(steps={
        "a": StepState(status=SUCCEEDED, attempts=1, node="n2", started=1.0, finished=3.0, exit_code=0, log="/l/a.log"),
        "b": StepState(status=FAILED, finished=4.0, reason="no healthy node left for it: down are n1 (EOF)"),
    }, down={"n1": "EOF", "n0": "context deadline exceeded; back after a health probe"})
    out = io.StringIO()
    render_summary(state, steps, out)
    assert out.getvalue().splitlines()[3:] == [
        "node n0 went down: context deadline exceeded; back after a health probe",
        "node n1 went down: EOF",
        "FAILED: 1 succeeded, 1 failed",
    ]
    assert "failed (no healthy node left for it: down are n1 (EOF))" in out.getvalue().splitlines()[2]


def test_the_live_view_shows_each_nodes_running_steps_and_the_estimated_work_left(tmp_path: Path) -> None:
    steps = [Step("a", "bake", "a", estimate=30), Step("b", "bake", "b", estimate=10)]
    stream = io.StringIO()
    run_clock = [1000.0]
    reporter = LiveReporter(steps, ["amd", "arm"], stream=stream, _clock=lambda: run_clock[0], _now=lambda: 105.0)
    run_clock[0] = 1007.0  # the run started 7 s ago
    state = RunState(steps={"a": StepState(status=RUNNING, node="amd", started=100.0, log=str(tmp_path / "a.log")),
                            "b": StepState()})
    reporter.tick(state)
    reporter.console.print(reporter._render())
    reporter.finished(steps[0], StepState(status=FAILED, node="amd", started=1.0, finished=2.0, log=str(tmp_path / "a.log")))
    reporter.close()
    text = stream.getvalue()
    assert re.search(r"^ *amd +a +5s +~25s *$", text, re.MULTILINE), text  # running 5 s of its estimated 30
    assert re.search(r"^ *arm +idle *$", text, re.MULTILINE), text
    assert "0/2 done, elapsed 7s, ETA ~20s" in text  # (30 + 10) seconds of work over two nodes
    assert "failed" in text and "a.log" in text


# ---------------------------------------------------------------- the command line


def bakeplan_run(tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = dict(env or os.environ, PYTHONPATH=str(ROOT), BAKEPLAN_CACHE_DIR=str(tmp_path / "c"))
    return subprocess.run([sys.executable, "-m", "bakeplan", "run", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, check=False)


@pytest.mark.buildx
def test_dry_run_prints_the_exact_commands_and_starts_nothing(buildx: Buildx, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n')
    done = bakeplan_run(tmp_path, "--dry-run", "--loader", "buildx",
                        "--node", "name=amd,builder=b-amd,platforms=linux/amd64",
                        "--node", "name=arm,builder=b-arm,platforms=linux/arm64", "--var", "API_TOKEN=s3cret", "app",
                        env=buildx.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "# app@linux/amd64 on amd",
        "docker buildx bake --builder b-amd --var 'API_TOKEN=***' --progress plain --set app.platform=linux/amd64 app",
        "# app@linux/arm64 on arm",
        "docker buildx bake --builder b-arm --var 'API_TOKEN=***' --progress plain --set app.platform=linux/arm64 app",
    ]
    assert not (tmp_path / ".bakeplan").exists()


@pytest.mark.buildx
def test_an_unknown_builder_is_one_clear_error(buildx: Buildx, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    done = bakeplan_run(tmp_path, "--loader", "buildx", "--node", "name=x,builder=no-such-builder,platforms=linux/amd64",
                        "app", env=buildx.env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: builder 'no-such-builder' is unknown or unreachable")
    assert "docker buildx create" in done.stderr


def test_a_missing_docker_cli_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    done = bakeplan_run(tmp_path, "app", env=dict(os.environ, PATH=str(tmp_path)))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: the docker CLI (docker) was not found"


def test_a_missing_buildx_plugin_is_one_clear_error(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    done = bakeplan_run(tmp_path, "--node", "name=x,builder=b,platforms=linux/amd64", "app",
                        env=dict(os.environ, DOCKER_CONFIG=str(tmp_path / "empty")))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: the docker buildx plugin is not installed", done.stderr


FAKE_DOCKER = """#!/bin/sh
# `docker buildx inspect --bootstrap` of a current builder whose daemon is down (buildx prints Error:, exits 0).
printf 'Name:          default\\nDriver:        \\nError:         failed to connect to the docker API\\n'
"""


def test_a_broken_current_builder_fails_once_before_any_job_starts(tmp_path: Path) -> None:
    from bakeplan.buildx import check_current_builder

    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    local = Node(name="local", platforms=(AMD,), source="local")
    with pytest.raises(ToolError, match="the current buildx builder is not usable: failed to connect to the docker API"):
        check_current_builder([local], docker=str(docker))
    check_current_builder(SPLIT, docker=str(tmp_path / "absent"))  # every node has its own builder: nothing to check


def test_an_unknown_progress_mode_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    done = bakeplan_run(tmp_path, "--dry-run", "--progress", "bogus", "app")
    assert done.returncode == 2 and "'bogus' is not one of" in done.stderr


def test_a_bad_handoff_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    done = bakeplan_run(tmp_path, "--dry-run", "--handoff", "s3:bucket", "app")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "error: bad --handoff 's3:bucket'"


NATIVE = """
target "base" {}
target "app" {
  contexts = { base = "target:base" }
}
"""
MIXED = (Node("amd", builder="b-amd", platforms=(AMD,), slots=1), Node("arm", builder="b-arm", platforms=(ARM,), slots=1),
         Node("amd2", builder="b-amd2", platforms=(AMD,), slots=1))


def test_platformless_targets_build_the_builders_default_on_every_node_that_runs_it(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, NATIVE, nodes=MIXED)
    assert sorted(j.id for j in plan.jobs) == ["app@linux/amd64", "base@linux/amd64"]
    handed = "oci-layout:///run/handover/base_linux_amd64@sha256:b"
    state = ran({"base@linux/amd64": "amd"}, {"base@linux/amd64": handed})
    make = composer(plan, tmp_path / "run")
    # Another amd64 node reads the very image built on `amd`, and builds app for amd64 explicitly.
    on_amd2 = make.argv(step_of(plan, "app@linux/amd64"), "amd2", state)
    assert ("--set", f"app.contexts.base={handed}") == on_amd2[-3:-1]
    targets = definition(tmp_path / "run", "app_linux_amd64")["target"]
    assert isinstance(targets, dict) and targets["app"]["platforms"] == ["linux/amd64"]
    # The arm64 node would make arm64 images of them: it never takes them.
    assert make.capable["app@linux/amd64"] == frozenset({"amd", "amd2"})
    assert step_of(plan, "app@linux/amd64").platforms == ("linux/amd64",)
    # So the parent exports for `amd2`, and would not where amd is the only amd64 node.
    assert make.exports(plan.job("base@linux/amd64"), "amd")
    assert not composer(plan_of(tmp_path, NATIVE, nodes=MIXED[:2]), tmp_path / "run2").exports(
        plan.job("base@linux/amd64"), "amd")
