"""From a plan to what a run executes: each job's invocation, its outputs and hand-overs, and merge steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan.bake.model import BakeRequest, BakeResult
from bakeplan.bake.resolve import load
from bakeplan.bake.schema import csv_fields
from bakeplan.cache import parse_backend
from bakeplan.invocation import bake_argv
from bakeplan.jobs import make_jobs
from bakeplan.nodes import Node
from bakeplan.outputs import entry_text, output_entries, repository
from bakeplan.plan import build_plan, requested_targets
from bakeplan.steps import BAKE, MERGE, JobSettings, Step, job_invocation, merge_argv, steps_from_plan

AMD, ARM = "linux/amd64", "linux/arm64"
BAKE_ARGV = ("docker", "buildx", "bake", "-f", "docker-bake.hcl")
HANDED = "oci-layout:///run/handover/base_linux_arm64@sha256:b"


def bake(tmp_path: Path, hcl: str, *names: str, sets: tuple[str, ...] = ()) -> BakeResult:
    """The resolved bake of `hcl` for `names`, as bakeplan's own loader gives it."""
    (tmp_path / "docker-bake.hcl").write_text(hcl)
    return load(BakeRequest(names=names, sets=sets, cwd=tmp_path, env={"BAKEPLAN_NO_CACHE": "1"}))


def argv(result: BakeResult, job_id: str, *, sources: dict[str, str] | None = None, export: str | bool = "",
         **settings: object) -> tuple[str, ...]:
    """The argv of one job, reading `docker-bake.hcl`, with parents in `sources` read by digest."""
    jobs = {job.id: job for job in make_jobs(result)}
    shared = JobSettings(files=("docker-bake.hcl",), **settings)  # type: ignore[arg-type]
    return bake_argv(job_invocation(jobs[job_id], jobs, result, requested_targets(result), shared, sources=sources or {},
                                    export=export))


# ---------------------------------------------------------------- one job, one platform

MULTI = """
target "app" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "solo" {
  platforms = ["linux/arm64"]
  output = ["type=local,dest=solo"]
}
target "native" {}
"""


def test_each_job_builds_its_target_on_its_own_platform(tmp_path: Path) -> None:
    result = bake(tmp_path, MULTI, "app", "solo", "native")
    assert [j.id for j in make_jobs(result)] == ["app@linux/amd64", "app@linux/arm64", "native@native", "solo@linux/arm64"]
    assert argv(result, "app@linux/amd64") == (*BAKE_ARGV, "--set", "app.platform=linux/amd64", "app")
    assert argv(result, "app@linux/arm64") == (*BAKE_ARGV, "--set", "app.platform=linux/arm64", "app")


def test_a_single_platform_target_keeps_its_outputs_and_a_native_one_its_platform(tmp_path: Path) -> None:
    result = bake(tmp_path, MULTI, "solo", "native")
    assert argv(result, "solo@linux/arm64") == (*BAKE_ARGV, "--set", "solo.platform=linux/arm64", "solo")
    assert argv(result, "native@native") == (*BAKE_ARGV, "native")


def test_user_flags_pass_through_and_sets_on_keys_bakeplan_sets_are_dropped(tmp_path: Path) -> None:
    user = ("*.platform=linux/amd64,linux/arm64", "*.args.X=1", "app.output=type=local,dest=x")
    result = bake(tmp_path, 'target "app" {}\n', "app", sets=user)
    assert argv(result, "app@linux/arm64", sets=user, variables=("TAG=v1",), allow=("network.host",), load=True,
                no_cache=True, progress="plain") == (
        *BAKE_ARGV, "--var", "TAG=v1", "--progress", "plain", "--allow", "network.host", "--load", "--no-cache",
        "--set", "*.args.X=1",  # *.platform and app.output are already in the resolved target
        "--set", "app.platform=linux/arm64", "--set", "app.output=dest=x/linux_arm64,type=local", "app",
    )


def test_cache_entries_are_per_job_and_a_re_solved_parent_only_reads_its_own(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    cache = parse_backend("registry:r/cache", scope="main")
    assert argv(result, "app@linux/arm64", cache=cache) == (
        *BAKE_ARGV,
        "--set", "app.platform=linux/arm64",
        "--set", "app.cache-from+=type=registry,ref=r/cache:main-app-linux-arm64",
        "--set", "app.cache-to+=type=registry,ref=r/cache:main-app-linux-arm64,mode=max",
        "--set", "base.platform=linux/arm64",
        "--set", "base.cache-from+=type=registry,ref=r/cache:main-base-linux-arm64",
        "app",
    )


# ---------------------------------------------------------------- split targets: outputs per platform

PUSHED = """
target "app" {
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["r.io/app:v1", "other.io/ns/app:latest", "r.io/app:latest"]
}
target "solo" {
  platforms = ["linux/amd64"]
  tags = ["r.io/solo:v1"]
}
"""
DIGEST_OUTPUT = 'type=image,"name=r.io/app,other.io/ns/app",push-by-digest=true,name-canonical=true,push=true'


def test_a_pushed_multi_platform_target_goes_by_digest_to_every_repository_without_tags(tmp_path: Path) -> None:
    result = bake(tmp_path, PUSHED, "app", "solo")
    assert argv(result, "app@linux/arm64", push=True) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64", "--set", f"app.output={DIGEST_OUTPUT}", "--set", "app.tags=", "app")
    assert argv(result, "solo@linux/amd64", push=True) == (
        # One platform: it pushes its tags, by the same rule `ci` uses (as buildx's --push would).
        *BAKE_ARGV, "--set", "solo.platform=linux/amd64", "--set", "solo.output=type=registry", "solo")


def test_without_push_a_multi_platform_target_with_tags_keeps_them(tmp_path: Path) -> None:
    result = bake(tmp_path, PUSHED, "app")
    assert argv(result, "app@linux/arm64") == (*BAKE_ARGV, "--set", "app.platform=linux/arm64", "app")


def test_a_bake_file_that_pushes_by_itself_goes_by_digest_too(tmp_path: Path) -> None:
    result = bake(tmp_path, """
target "app" {
  platforms = ["linux/amd64", "linux/arm64"]
  output = ["type=registry,name=r.io/app:v1"]
}
""", "app")
    assert argv(result, "app@linux/amd64") == (
        *BAKE_ARGV, "--set", "app.platform=linux/amd64",
        "--set", "app.output=type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true",
        "app")  # no tags to drop: the name comes from the output


@pytest.mark.parametrize(("output", "amd", "arm"), [
    ("type=local,dest=out", "dest=out/linux_amd64,type=local", "dest=out/linux_arm64,type=local"),
    ("type=tar,dest=out/image.tar", "dest=out/image-linux_amd64.tar,type=tar", "dest=out/image-linux_arm64.tar,type=tar"),
    ("type=tar,dest=out/image", "dest=out/image-linux_amd64,type=tar", "dest=out/image-linux_arm64,type=tar"),
    ("type=registry,name=r.io/app", "type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true",
     "type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true"),
])
def test_a_multi_platform_export_lands_per_platform_as_buildx_lays_it_out(
    tmp_path: Path, output: str, amd: str, arm: str,
) -> None:
    result = bake(tmp_path, f'target "app" {{\n  platforms = ["{AMD}", "{ARM}"]\n  output = ["{output}"]\n}}\n', "app")
    for job_id, dest in (("app@linux/amd64", amd), ("app@linux/arm64", arm)):
        platform = job_id.split("@")[1]
        assert argv(result, job_id) == (*BAKE_ARGV, "--set", f"app.platform={platform}", "--set", f"app.output={dest}",
                                        "app")


def destinations(result: BakeResult, job_id: str) -> list[str]:
    """Where a job's outputs write files: bakeplan's outputs for it, else the target's own."""
    jobs = {job.id: job for job in make_jobs(result)}
    own = job_invocation(jobs[job_id], jobs, result, requested_targets(result), JobSettings(), sources={}).settings[0]
    target = result.targets[jobs[job_id].target]
    entries = own.outputs if own.outputs is not None else [entry_text(e) for e in output_entries(target)]
    return [field[len("dest="):] for entry in entries for field in csv_fields(entry) if field.startswith("dest=")]


@pytest.mark.parametrize("output", ["type=local,dest=out", "type=tar,dest=out/image.tar", "type=oci,dest=out/image.tar",
                                    "type=docker,dest=out/image.tar", "type=oci,dest=out/layout,tar=false"])
def test_jobs_of_a_multi_platform_export_never_write_the_same_place(tmp_path: Path, output: str) -> None:
    result = bake(tmp_path, f'target "app" {{\n  platforms = ["{AMD}", "{ARM}"]\n  output = ["{output}"]\n}}\n', "app")
    amd, arm = destinations(result, "app@linux/amd64"), destinations(result, "app@linux/arm64")
    assert amd and arm and not set(amd) & set(arm), f"both jobs write {amd}"


@pytest.mark.parametrize(("reference", "repo"), [
    ("127.0.0.1:5000/ns/app:v1", "127.0.0.1:5000/ns/app"),
    ("app", "app"),
    ("r/app@sha256:abc", "r/app"),
    ("r/app:v1@sha256:abc", "r/app"),
    ("localhost:5000/app", "localhost:5000/app"),
])
def test_repository_drops_tag_and_digest(reference: str, repo: str) -> None:
    assert repository(reference) == repo


# ---------------------------------------------------------------- linked targets

LINKED = """
target "base" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["r.io/app:v1"]
}
"""


def test_a_linked_only_parent_is_built_cacheonly_and_never_pushed_or_loaded(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert requested_targets(result) == {"app"}
    assert argv(result, "base@linux/arm64", push=True, load=True) == (
        *BAKE_ARGV, "--set", "base.platform=linux/arm64", "--set", "base.output=type=cacheonly", "base")


def test_a_parent_on_the_same_node_is_re_solved_on_the_childs_platform(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert argv(result, "app@linux/arm64") == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64", "--set", "base.platform=linux/arm64", "app")


def test_a_parent_from_another_node_is_read_by_digest_and_not_built(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert argv(result, "app@linux/arm64", sources={"base@linux/arm64": HANDED}) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64", "--set", f"app.contexts.base={HANDED}", "app")


def test_a_pushed_child_reading_a_parent_by_digest_pushes_only_itself(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert argv(result, "app@linux/arm64", sources={"base@linux/arm64": HANDED}, push=True) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64",
        "--set", "app.output=type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true",
        "--set", "app.tags=", "--set", f"app.contexts.base={HANDED}", "app")


def test_a_single_platform_parent_is_re_solved_without_a_platform_of_its_own(tmp_path: Path) -> None:
    result = bake(tmp_path, """
target "base" {
  platforms = ["linux/amd64"]
}
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
}
""", "app")
    assert [(j.id, j.deps) for j in make_jobs(result)] == [
        ("app@linux/amd64", ("base@linux/amd64",)), ("app@linux/arm64", ("base@linux/amd64",)), ("base@linux/amd64", ())]
    assert argv(result, "app@linux/arm64") == (*BAKE_ARGV, "--set", "app.platform=linux/arm64", "app")
    handed = "oci-layout:///run/handover/base_linux_amd64@sha256:b"
    assert argv(result, "app@linux/arm64", sources={"base@linux/amd64": handed}) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64", "--set", f"app.contexts.base={handed}", "app")


CHAIN = """
target "root" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "base" {
  contexts = { root = "target:root" }
  platforms = ["linux/amd64", "linux/arm64"]
}
target "app" {
  contexts = { base = "target:base", alpine = "docker-image://alpine" }
  platforms = ["linux/amd64", "linux/arm64"]
}
"""


def test_a_grandparent_from_another_node_is_handed_to_the_re_solved_parent(tmp_path: Path) -> None:
    result = bake(tmp_path, CHAIN, "app")
    root = "oci-layout:///run/handover/root_linux_arm64@sha256:r"
    assert argv(result, "app@linux/arm64", sources={"root@linux/arm64": root}) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64",
        "--set", "base.platform=linux/arm64", "--set", f"base.contexts.root={root}", "app")


def test_a_parent_read_by_digest_takes_its_own_parents_with_it(tmp_path: Path) -> None:
    result = bake(tmp_path, CHAIN, "app")
    assert argv(result, "app@linux/arm64", sources={"base@linux/arm64": HANDED}) == (
        *BAKE_ARGV, "--set", "app.platform=linux/arm64", "--set", f"app.contexts.base={HANDED}", "app")


def test_the_whole_chain_on_one_node_is_re_solved(tmp_path: Path) -> None:
    result = bake(tmp_path, CHAIN, "app")
    assert argv(result, "app@linux/amd64") == (
        *BAKE_ARGV, "--set", "app.platform=linux/amd64", "--set", "base.platform=linux/amd64",
        "--set", "root.platform=linux/amd64", "app")


# ---------------------------------------------------------------- hand-over exports

EXPORT = "type=oci,dest=/run/handover/base_linux_arm64.partial,tar=false"


def test_a_linked_only_parent_exports_only_its_hand_over(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert argv(result, "base@linux/arm64", export=EXPORT, push=True) == (
        *BAKE_ARGV, "--set", "base.platform=linux/arm64", "--set", f"base.output={EXPORT}", "base")


def test_an_exporting_job_keeps_its_own_outputs_and_adds_the_hand_over(tmp_path: Path) -> None:
    result = bake(tmp_path, """
target "base" {
  platforms = ["linux/arm64"]
  output = ["type=local,dest=out"]
}
target "app" {
  contexts = { base = "target:base" }
}
""", "base", "app")
    assert argv(result, "base@linux/arm64", export=EXPORT) == (
        *BAKE_ARGV, "--set", "base.platform=linux/arm64",
        "--set", "base.output=dest=out,type=local", "--set", f"base.output={EXPORT}", "base")


def test_an_exporting_split_pushed_job_pushes_by_digest_and_exports(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED.replace('target "base" {', 'target "base" {\n  tags = ["r.io/base"]'), "app", "base")
    assert argv(result, "base@linux/arm64", export=EXPORT, push=True) == (
        *BAKE_ARGV, "--set", "base.platform=linux/arm64",
        "--set", "base.output=type=image,name=r.io/base,push-by-digest=true,name-canonical=true,push=true",
        # buildx names every image, oci and docker export after the tags; with the tags dropped, bakeplan does.
        "--set", f"base.output={EXPORT},name=r.io/base", "--set", "base.tags=", "base")


def test_a_plan_shows_a_placeholder_for_the_hand_over(tmp_path: Path) -> None:
    result = bake(tmp_path, LINKED, "app")
    assert argv(result, "base@linux/arm64", export=True) == (
        *BAKE_ARGV, "--set", "base.platform=linux/arm64",
        "--set", "base.output=type=oci,dest=<hand-over dir>,tar=false", "base")


# ---------------------------------------------------------------- steps and merges


def test_every_job_is_a_bake_step_and_a_split_pushed_target_gets_a_merge(tmp_path: Path) -> None:
    result = bake(tmp_path, PUSHED + LINKED.replace('"app"', '"web"').replace("r.io/app", "r.io/web"), "app", "solo", "web")
    jobs = make_jobs(result)
    estimates = {job.id: float(i) for i, job in enumerate(jobs)}
    steps = steps_from_plan(jobs, result, requested_targets(result), estimates, push=True)
    assert steps == (
        Step("app@linux/amd64", BAKE, "app", (AMD,), (), 0.0),
        Step("app@linux/arm64", BAKE, "app", (ARM,), (), 1.0),
        Step("base@linux/amd64", BAKE, "base", (AMD,), (), 2.0),
        Step("base@linux/arm64", BAKE, "base", (ARM,), (), 3.0),
        Step("solo@linux/amd64", BAKE, "solo", (AMD,), (), 4.0),
        Step("web@linux/amd64", BAKE, "web", (AMD,), ("base@linux/amd64",), 5.0),
        Step("web@linux/arm64", BAKE, "web", (ARM,), ("base@linux/arm64",), 6.0),
        Step("merge:app", MERGE, "app", (None,), ("app@linux/amd64", "app@linux/arm64"), 1.0,
             ("r.io/app:v1", "other.io/ns/app:latest", "r.io/app:latest"), "r.io/app"),
        Step("merge:web", MERGE, "web", (None,), ("web@linux/amd64", "web@linux/arm64"), 1.0, ("r.io/web:v1",), "r.io/web"),
    )
    assert [s.id for s in steps_from_plan(jobs, result, requested_targets(result), estimates, push=False)] == [
        j.id for j in jobs]  # nothing pushed, nothing merged


def test_a_merge_tags_every_platforms_digest_in_the_first_repository() -> None:
    step = Step("merge:app", MERGE, "app", (None,), ("app@linux/amd64", "app@linux/arm64"), 1.0,
                ("r.io/app:v1", "other.io/app:latest"), "r.io/app")
    assert merge_argv(step, ["sha256:a", "sha256:b"], builder="b-amd") == (
        "docker", "buildx", "imagetools", "create", "--builder", "b-amd", "--tag", "r.io/app:v1",
        "--tag", "other.io/app:latest", "r.io/app@sha256:a", "r.io/app@sha256:b")
    assert merge_argv(step, ["sha256:a"], docker="/bin/docker") == (
        "/bin/docker", "buildx", "imagetools", "create", "--tag", "r.io/app:v1", "--tag", "other.io/app:latest",
        "r.io/app@sha256:a")


# ---------------------------------------------------------------- a plan's argv


def node(name: str, *platforms: str, slots: int = 2) -> Node:
    return Node(name=name, builder=f"b-{name}", platforms=platforms, native=len(platforms), slots=slots)


def test_a_plans_argv_names_the_planned_nodes_builder_and_a_placeholder_for_hand_overs(tmp_path: Path) -> None:
    result = bake(tmp_path, """
target "base" {
  platforms = ["linux/amd64"]
}
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
}
""", "app")
    plan = build_plan(result, [node("amd", AMD), node("arm", ARM)])
    files = ("-f", str(tmp_path / "docker-bake.hcl"))
    assert {j: t.node for j, t in plan.timings.items()} == {
        "app@linux/amd64": "amd", "app@linux/arm64": "arm", "base@linux/amd64": "amd"}
    assert [(h.child, h.parent, h.source, h.dest) for h in plan.handovers] == [
        ("app@linux/arm64", "base@linux/amd64", "amd", "arm")]
    assert plan.argv("app@linux/arm64") == (
        "docker", "buildx", "bake", "--builder", "b-arm", *files, "--set", "app.platform=linux/arm64",
        "--set", "app.contexts.base=oci-layout://<hand-over of base@linux/amd64>@<digest>", "app")
    assert plan.argv("app@linux/amd64") == (
        "docker", "buildx", "bake", "--builder", "b-amd", *files, "--set", "app.platform=linux/amd64", "app")
    assert plan.argv("base@linux/amd64") == (
        "docker", "buildx", "bake", "--builder", "b-amd", *files, "--set", "base.platform=linux/amd64",
        "--set", "base.output=type=oci,dest=<hand-over dir>,tar=false", "base")
