"""`bakeplan ci` core: jobs -> legs, layers by `target:` links, chunk splits, GitHub output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema import Draft7Validator

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.emit import github
from bakeplan.emit.commands import rebuild_lines
from bakeplan.emit.legs import EmitOptions, build_plan, display_name, parse_handoff, runners_for
from bakeplan.emit.model import BakeCall, CIPlan, Handoff, Leg
from bakeplan.emit.source import jobs_from_result
from bakeplan.errors import BakeplanError, CycleError
from bakeplan.outputs import repositories
from tests.support.tools import need


def result(**targets: dict[str, Any]) -> BakeResult:
    """A resolved bake result from target fields (as `--print` shows them)."""
    return BakeResult(
        groups={"default": tuple(targets)},
        targets={name: Target(name, fields) for name, fields in targets.items()},
        files=(Path("docker-bake.hcl"),),
        requested=("default",),
    )


def plan_of(res: BakeResult, *, system: str = "github", limit: int = 256, **options: Any) -> CIPlan:
    emit = EmitOptions(runners_for(system, options.pop("runners", ())), limit=limit, **options)
    return build_plan(jobs_from_result(res), BakeCall(files=("docker-bake.hcl",)), emit)


def wide(count: int) -> BakeResult:
    """`count` independent single-platform targets."""
    return result(**{f"t{i:04d}": {"context": f"t{i:04d}", "platforms": ["linux/amd64"]} for i in range(count)})


CHAIN = result(
    base={"context": "base", "platforms": ["linux/amd64", "linux/arm64"]},
    tools={"context": "tools", "platforms": ["linux/amd64"]},
    app={
        "context": "app",
        "platforms": ["linux/amd64", "linux/arm64"],
        "contexts": {"base": "target:base", "tools": "target:tools"},
        "tags": ["ghcr.io/acme/app:1", "ghcr.io/acme/app:latest"],
    },
    test={"context": "test", "platforms": ["linux/amd64", "linux/arm64"], "contexts": {"app": "target:app"}},
    docs={"context": "docs"},
)


def test_layers_follow_target_links_per_platform() -> None:
    plan = plan_of(CHAIN)
    layer = {leg.id: leg.layer for leg in plan.legs}
    assert layer == {
        "base-linux-amd64": 0, "base-linux-arm64": 0, "tools-linux-amd64": 0, "docs-native": 0,
        "app-linux-amd64": 1, "app-linux-arm64": 1,
        "test-linux-amd64": 2, "test-linux-arm64": 2,
    }
    needs = {leg.id: leg.needs for leg in plan.legs}
    # A single-platform parent (tools) serves every platform of its child.
    assert needs["app-linux-arm64"] == ("base-linux-arm64", "tools-linux-amd64")
    assert needs["test-linux-amd64"] == ("app-linux-amd64",)
    assert [(c.id, c.needs) for c in plan.chunks] == [
        ("build-0-0", ()), ("build-1-0", ("build-0-0",)), ("build-2-0", ("build-1-0",))
    ]


def test_without_a_registry_a_child_leg_rebuilds_its_parents_from_their_cache() -> None:
    plan = plan_of(CHAIN, cache=parse_backend("gha"))
    leg = next(leg for leg in plan.legs if leg.id == "test-linux-arm64")
    assert leg.overrides == (
        "test.platform=linux/arm64",
        "test.cache-from+=type=gha,scope=test-linux-arm64",
        "test.cache-to+=type=gha,scope=test-linux-arm64,mode=max",
        "app.platform=linux/arm64",
        "app.cache-from+=type=gha,scope=app-linux-arm64",
        "base.platform=linux/arm64",
        "base.cache-from+=type=gha,scope=base-linux-arm64",
        "tools.platform=linux/amd64",
        "tools.cache-from+=type=gha,scope=tools-linux-amd64",
    )
    assert leg.rebuilt == ("app", "base", "tools") and not leg.handoffs
    assert rebuild_lines(plan) == [
        "parents rebuilt inside their children's legs (no registry to hand them over by digest: "
        "pass --push or --handoff registry:REPO): base, tools, app"
    ]


def test_without_a_registry_nor_a_cache_the_plan_warns_that_parents_are_rebuilt_from_scratch() -> None:
    assert rebuild_lines(plan_of(CHAIN))[1] == (
        "warning: no --cache: parents are rebuilt from scratch in every child leg: base, tools, app"
    )
    assert rebuild_lines(plan_of(wide(2))) == []  # nothing linked, nothing to say


def test_a_child_leg_reads_its_parents_by_digest_from_the_handoff_repository() -> None:
    plan = plan_of(CHAIN, handoff="reg.example/handoff")
    legs = {leg.id: leg for leg in plan.legs}
    app = legs["app-linux-arm64"]
    assert app.handoffs == (
        Handoff("app", "base", "base", "base-linux-arm64", "reg.example/handoff", "DIGEST_BASE_LINUX_ARM64"),
        Handoff("app", "tools", "tools", "tools-linux-amd64", "reg.example/handoff", "DIGEST_TOOLS_LINUX_AMD64"),
    )
    # The parents are not in the child's invocation: no platform, cache or output of theirs.
    # (app is itself read by `test`: it hands itself over the same way.)
    handed = "type=image,name=reg.example/handoff,push-by-digest=true,name-canonical=true,push=true"
    assert app.overrides == ("app.platform=linux/arm64", f"app.output={handed}", "app.tags=") and not app.rebuilt
    assert gitlab_line(plan, app) == (
        "docker buildx bake -f docker-bake.hcl --metadata-file bake-metadata.json --set app.platform=linux/arm64"
        f" --set app.output={handed} --set app.tags="
        ' --set "app.contexts.base=docker-image://reg.example/handoff@${DIGEST_BASE_LINUX_ARM64}"'
        ' --set "app.contexts.tools=docker-image://reg.example/handoff@${DIGEST_TOOLS_LINUX_AMD64}" app'
    )
    # Each parent leg pushes by digest to the hand-over repository and saves its digest.
    base = legs["base-linux-arm64"]
    assert base.digest and not base.merge
    assert base.overrides == (
        "base.platform=linux/arm64",
        "base.output=type=image,name=reg.example/handoff,push-by-digest=true,name-canonical=true,push=true",
    )
    assert rebuild_lines(plan) == []


def gitlab_line(plan: CIPlan, leg: Leg) -> str:
    from bakeplan.emit.commands import leg_command

    return leg_command(plan.call, leg, "bake-metadata.json")


def test_every_level_of_a_chain_reads_only_its_direct_parents() -> None:
    legs = {leg.id: leg for leg in plan_of(CHAIN, handoff="reg.example/handoff").legs}
    test = legs["test-linux-amd64"]
    assert [(h.target, h.context, h.leg) for h in test.handoffs] == [("test", "app", "app-linux-amd64")]
    assert test.overrides == ("test.platform=linux/amd64",)
    # The middle of the chain both reads its parents and hands itself over.
    app = legs["app-linux-amd64"]
    assert app.digest and [h.leg for h in app.handoffs] == ["base-linux-amd64", "tools-linux-amd64"]
    assert "app.output=type=image,name=reg.example/handoff,push-by-digest=true,name-canonical=true,push=true" in app.overrides
    # A leg no one reads saves nothing.
    assert not legs["test-linux-amd64"].digest and not legs["docs-native"].digest


def test_a_single_platform_parent_serves_every_child_platform_with_its_image_manifest() -> None:
    legs = {leg.id: leg for leg in plan_of(CHAIN, handoff="reg.example/handoff").legs}
    readers = [leg.id for leg in legs.values() for h in leg.handoffs if h.leg == "tools-linux-amd64"]
    assert readers == ["app-linux-amd64", "app-linux-arm64"]
    # An arm64 child cannot resolve an amd64-only index by platform: the leg saves the manifest digest.
    assert legs["tools-linux-amd64"].manifest and legs["tools-linux-amd64"].repository == "reg.example/handoff"
    assert not legs["base-linux-amd64"].manifest  # read on its own platform only


def test_a_pushed_parent_is_read_from_its_own_push_without_a_second_one() -> None:
    legs = {leg.id: leg for leg in plan_of(CHAIN, push=True, handoff="reg.example/handoff").legs}
    app = legs["app-linux-arm64"]
    assert app.merge and app.digest
    assert [o for o in app.overrides if ".output=" in o] == [
        "app.output=type=image,name=ghcr.io/acme/app,push-by-digest=true,name-canonical=true,push=true"
    ]
    assert legs["test-linux-arm64"].handoffs[0].repository == "ghcr.io/acme/app"


def test_push_without_handoff_reads_pushed_parents_from_their_repository() -> None:
    res = result(
        base={"platforms": ["linux/amd64"], "tags": ["r.example/base:1"]},
        app={"platforms": ["linux/amd64"], "contexts": {"base": "target:base"}, "tags": ["r.example/app:1"]},
    )
    legs = {leg.id: leg for leg in plan_of(res, push=True).legs}
    base = legs["base-linux-amd64"]
    assert base.overrides == ("base.platform=linux/amd64", "base.output=type=registry") and base.digest
    assert gitlab_line(plan_of(res, push=True), legs["app-linux-amd64"]).endswith(
        ' --set "app.contexts.base=docker-image://r.example/base@${DIGEST_BASE_LINUX_AMD64}" app'
    )


def test_push_without_handoff_rebuilds_a_parent_that_has_nowhere_to_go_and_says_so() -> None:
    plan = plan_of(CHAIN, push=True)
    legs = {leg.id: leg for leg in plan.legs}
    # base and tools have no image to push: app rebuilds them; app is pushed, so test reads it.
    assert legs["app-linux-arm64"].rebuilt == ("base", "tools") and not legs["app-linux-arm64"].handoffs
    assert [(h.leg, h.repository) for h in legs["test-linux-arm64"].handoffs] == [("app-linux-arm64", "ghcr.io/acme/app")]
    assert not legs["base-linux-arm64"].digest
    assert rebuild_lines(plan) == [
        "parents rebuilt inside their children's legs (not pushed, so no repository to hand them over by digest: "
        "pass --handoff registry:REPO): base, tools",
        "warning: no --cache: parents are rebuilt from scratch in every child leg: base, tools",
    ]


def test_a_parent_no_one_asked_for_is_pushed_only_to_the_handoff_repository() -> None:
    res = result(
        # As bake resolves a target reached only through `target:`: cache-only.
        base={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["ghcr.io/acme/base:1"], "output": [{"type": "cacheonly"}]},
        app={"platforms": ["linux/amd64", "linux/arm64"], "contexts": {"base": "target:base"}, "tags": ["ghcr.io/acme/app:1"]},
    )
    plan = plan_of(res, push=True, handoff="reg.example/handoff")
    base = next(leg for leg in plan.legs if leg.id == "base-linux-arm64")
    assert base.overrides == (
        "base.platform=linux/arm64",
        "base.output=type=image,name=reg.example/handoff,push-by-digest=true,name-canonical=true,push=true",
        "base.tags=",
    )
    assert [m.target for m in plan.merges] == ["app"]
    # Without a registry it builds for the cache only, as buildx builds a linked target.
    assert next(leg for leg in plan_of(res).legs if leg.target == "base").overrides[-1] == "base.output=type=cacheonly"


def test_a_parent_left_out_of_the_run_is_rebuilt_by_its_child_even_with_a_registry() -> None:
    jobs = jobs_from_result(CHAIN)
    running = {job.id for job in jobs if job.target != "base"}
    plan = build_plan(jobs, BakeCall(files=("docker-bake.hcl",)), EmitOptions(runners_for("github"), handoff="r/h"),
                      running=running)
    app = next(leg for leg in plan.legs if leg.id == "app-linux-arm64")
    assert app.rebuilt == ("base",) and [h.parent for h in app.handoffs] == ["tools"]
    assert app.overrides == (
        "app.platform=linux/arm64",
        "app.output=type=image,name=r/h,push-by-digest=true,name-canonical=true,push=true",  # test reads app
        "app.tags=",
        "base.platform=linux/arm64",
    )
    assert rebuild_lines(plan)[0] == "parents rebuilt inside their children's legs (their own legs are left out of this run): base"


def test_a_users_platform_and_output_sets_are_not_repeated_on_keys_bakeplan_sets() -> None:
    # The resolved targets already carry the user's sets; buildx would *collect* a repeated
    # `platform=`/`output=` and build every platform in each leg.
    res = result(app={"platforms": ["linux/amd64", "linux/arm64"], "output": [{"type": "local", "dest": "out"}]})
    sets = ("*.platform=linux/amd64,linux/arm64", "*.output=type=local,dest=out", "app.args.V=1")
    plan = build_plan(jobs_from_result(res), BakeCall(files=("docker-bake.hcl",), sets=sets), EmitOptions(runners_for("github")))
    leg = plan.legs[1]
    assert leg.sets == ("app.args.V=1",)
    assert gitlab_line(plan, leg) == (
        "docker buildx bake -f docker-bake.hcl --set app.args.V=1 --set app.platform=linux/arm64"
        " --set app.output=type=local,dest=out/linux_arm64 app"
    )


def test_a_user_set_on_a_rebuilt_parents_platform_is_replaced_by_its_resolved_value() -> None:
    res = result(base={"platforms": ["linux/arm64"]}, app={"platforms": ["linux/amd64"], "contexts": {"b": "target:base"}})
    plan = build_plan(jobs_from_result(res), BakeCall(sets=("base.platform=linux/arm64",)), EmitOptions(runners_for("github")))
    app = plan.legs[-1]
    assert app.sets == () and app.overrides == ("app.platform=linux/amd64", "base.platform=linux/arm64")


def test_the_github_row_sets_are_the_argv_sets() -> None:
    from bakeplan.emit.commands import leg_invocation
    from bakeplan.invocation import bake_argv

    res = result(app={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["a/b:1"]})
    plan = build_plan(jobs_from_result(res), BakeCall(sets=("app.args.X=1",)), EmitOptions(runners_for("github"), push=True))
    leg = plan.legs[0]
    argv = bake_argv(leg_invocation(plan.call, leg, digest=lambda h: ""))
    assert github.row(leg)["set"].split("\n") == [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]


def test_a_cycle_through_target_links_is_reported() -> None:
    looped = result(a={"contexts": {"b": "target:b"}}, b={"contexts": {"a": "target:a"}})
    with pytest.raises(CycleError, match="a -> b -> a|b -> a -> b"):
        plan_of(looped)


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(1, [1]), (256, [256]), (257, [256, 1]), (600, [256, 256, 88])],
)
def test_github_matrices_split_at_256_in_leg_order(count: int, sizes: list[int]) -> None:
    plan = plan_of(wide(count))
    assert [len(c.legs) for c in plan.chunks] == sizes
    assert [c.id for c in plan.chunks] == [f"build-0-{i}" for i in range(len(sizes))]
    assert [leg.target for leg in plan.legs] == [f"t{i:04d}" for i in range(count)]


def test_splitting_is_deterministic_and_adding_a_leg_only_touches_the_last_chunk() -> None:
    before, after = plan_of(wide(600)), plan_of(wide(601))
    assert plan_of(wide(600)) == before
    assert before.chunks[:2] == after.chunks[:2]
    assert render_text(before) == render_text(plan_of(wide(600)))


def render_text(plan: CIPlan) -> str:
    return github.render_matrix(plan) + github.render_workflow(plan, ["bakeplan", "ci", "github"], install="bakeplan==0.1.0")


def test_a_split_layer_waits_for_every_chunk_holding_a_dependency() -> None:
    parents = {f"p{i:03d}": {"platforms": ["linux/amd64"]} for i in range(300)}
    child = {"platforms": ["linux/amd64"], "contexts": {"first": "target:p000", "last": "target:p299"}}
    plan = plan_of(result(**parents, child=child))
    assert [(c.id, len(c.legs), c.needs) for c in plan.chunks] == [
        ("build-0-0", 256, ()), ("build-0-1", 44, ()), ("build-1-0", 1, ("build-0-0", "build-0-1")),
    ]


def test_matrix_rows_carry_runner_overrides_and_display_name() -> None:
    res = result(cli={"platforms": ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"], "tags": ["cli"]})
    plan = plan_of(res, runners=["linux/arm/v7=pi-runner"])
    document = json.loads(github.render_matrix(plan))
    assert [(r["name"], r["runner"], r["qemu"]) for r in document["include"]] == [
        ("cli (amd64)", "ubuntu-24.04", False),
        ("cli (arm64)", "ubuntu-24.04-arm", False),
        ("cli (arm/v7)", "pi-runner", False),
    ]
    assert document["include"][1]["set"] == "cli.platform=linux/arm64/v8"
    assert document["include"][1]["id"] == "cli-linux-arm64-v8"


def test_platforms_without_a_runner_are_emulated_on_the_default_one() -> None:
    plan = plan_of(result(x={"platforms": ["linux/riscv64", "linux/386"]}))
    assert [(leg.runner, leg.emulated) for leg in plan.legs] == [("ubuntu-24.04", True), ("ubuntu-24.04", False)]
    # A default runner of the user's: its architecture is unknown, so emulate to be safe.
    plan = plan_of(result(x={"platforms": ["linux/386"]}), runners=["default=big-box"])
    assert [(leg.runner, leg.emulated) for leg in plan.legs] == [("big-box", True)]


def test_bad_runner_option_is_a_clear_error() -> None:
    with pytest.raises(BakeplanError, match="--runner PLATFORM=LABEL"):
        runners_for("github", ["linux/arm64"])


def test_matrix_values_and_display_names() -> None:
    res = BakeResult(
        groups={},
        targets={"bin-linux": Target("bin-linux", {"platforms": ["linux/amd64"]}, matrix={"goos": "linux", "cgo": False})},
        files=(),
        requested=("default",),
    )
    row = github.row(plan_of(res).legs[0])
    assert row["values"] == {"goos": "linux", "cgo": False}
    assert display_name("app", None) == "app"
    assert display_name("app", "windows/amd64") == "app (windows/amd64)"


def test_pushed_multi_platform_targets_push_by_digest_and_merge() -> None:
    plan = plan_of(CHAIN, push=True, handoff="reg.example/handoff")
    leg = next(leg for leg in plan.legs if leg.id == "app-linux-amd64")
    assert leg.merge
    # buildx names image exports after the tags, and a tagged name cannot go by digest: no tags.
    assert leg.overrides[-2:] == (
        "app.output=type=image,name=ghcr.io/acme/app,push-by-digest=true,name-canonical=true,push=true", "app.tags=",
    )
    assert [(m.target, m.repository, m.legs) for m in plan.merges] == [
        ("app", "ghcr.io/acme/app", ("app-linux-amd64", "app-linux-arm64"))
    ]


def test_a_bake_file_that_pushes_merges_even_without_push_flag_and_pushes_to_every_repository() -> None:
    res = result(app={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["r:5000/a:1", "docker.io/b/a:1"],
                      "output": [{"type": "registry"}, {"type": "docker", "dest": "a.tar"}]})
    plan = plan_of(res)
    assert plan.legs[0].overrides[1:] == (
        'app.output=type=image,"name=r:5000/a,docker.io/b/a",push-by-digest=true,name-canonical=true,push=true',
        # The other image export keeps the name buildx would have given it from the tags.
        'app.output=type=docker,dest=a-linux_amd64.tar,"name=r:5000/a:1,docker.io/b/a:1"',
        "app.tags=",
    )
    assert plan.merges[0].tags == ("r:5000/a:1", "docker.io/b/a:1")


def test_single_platform_targets_push_by_tag() -> None:
    plan = plan_of(result(one={"platforms": ["linux/amd64"], "tags": ["x/one:1"]}), push=True)
    assert plan.legs[0].overrides[-1] == "one.output=type=registry" and not plan.merges
    pushed = result(one={"platforms": ["linux/amd64"], "tags": ["x/one:1"], "output": [{"type": "image"}, {"type": "local", "dest": "o"}]})
    assert plan_of(pushed, push=True).legs[0].overrides[1:] == ("one.output=type=image,push=true", "one.output=type=local,dest=o")


def test_a_local_export_of_a_split_target_goes_to_buildxs_per_platform_folder() -> None:
    res = result(bin={"platforms": ["linux/amd64", "linux/arm/v7"], "output": ["type=local,dest=dist"]})
    assert [leg.overrides[-1] for leg in plan_of(res).legs] == [
        "bin.output=type=local,dest=dist/linux_amd64", "bin.output=type=local,dest=dist/linux_arm_v7",
    ]


@pytest.mark.parametrize("spec", ["ghcr.io/acme/handoff", "registry:", "registry:ghcr.io/acme/h:tag", "registry:a,b"])
def test_a_bad_handoff_option_is_a_clear_error(spec: str) -> None:
    with pytest.raises(BakeplanError, match="bad --handoff"):
        parse_handoff(spec)
    assert parse_handoff("registry:localhost:5000/h") == "localhost:5000/h"


def test_repositories_of_references() -> None:
    assert repositories(["localhost:5000/a:1", "localhost:5000/a", "b@sha256:00", "c:latest"]) == (
        "localhost:5000/a", "b", "c",
    )


def test_single_chunk_prints_a_plain_strategy_matrix() -> None:
    document = json.loads(github.render_matrix(plan_of(wide(2))))
    assert list(document) == ["include"] and len(document["include"]) == 2


def test_several_chunks_print_every_matrix_with_its_needs() -> None:
    document = json.loads(github.render_matrix(plan_of(CHAIN)))
    assert [(m["id"], m["needs"], len(m["include"])) for m in document["matrices"]] == [
        ("build-0-0", [], 4), ("build-1-0", ["build-0-0"], 2), ("build-2-0", ["build-1-0"], 2),
    ]


def parse_github_output(text: str) -> dict[str, str]:
    """Read `$GITHUB_OUTPUT` as the runner does (`name<<DELIM` ... `DELIM`)."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        body = []
        for item in lines:
            if item == delimiter:
                break
            body.append(item)
        values[name] = "\n".join(body)
    return values


def test_github_output_uses_delimiters_and_round_trips() -> None:
    plan = plan_of(CHAIN, cache=parse_backend("gha"))
    values = github.outputs(plan)
    parsed = parse_github_output(github.github_output_text(values))
    assert parsed == values
    assert json.loads(parsed["matrix_1_0"]) == github.matrix(plan.chunks[1])
    assert parsed["count_2_0"] == "2" and "matrix" not in parsed


def test_one_chunk_also_writes_plain_matrix_output() -> None:
    values = github.outputs(plan_of(wide(3)))
    assert values["matrix"] == values["matrix_0_0"]


def test_delimiter_never_collides_with_a_line_of_the_value() -> None:
    value = "a\nghadelimiter_x"
    delimiter = github.github_output_text({"v": value}).split("\n", 1)[0].split("<<")[1]
    assert delimiter not in value.splitlines()


def validate(document: Any, schema_name: str) -> None:
    schema = get_builtin_schema(schema_name)
    errors = sorted(Draft7Validator(schema).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.mark.parametrize("res", [CHAIN, wide(300)], ids=["chain", "wide-300"])
@pytest.mark.parametrize("push", [False, True])
def test_workflow_is_valid_for_the_github_schema(res: BakeResult, push: bool) -> None:
    plan = plan_of(res, push=push, cache=parse_backend("gha"), handoff="ghcr.io/acme/handoff" if push else None)
    text = github.render_workflow(plan, ["bakeplan", "ci", "github", "--push"], install="bakeplan==0.1.0", login="ghcr.io")
    document = yaml.safe_load(text)
    validate(document, "vendor.github-workflows")
    assert list(document["jobs"])[0] == "plan"
    assert set(document["jobs"]) >= {c.id for c in plan.chunks}
    assert ("merge" in document["jobs"]) == bool(plan.merges)


def test_workflow_wires_outputs_needs_and_merge() -> None:
    plan = plan_of(CHAIN, push=True, handoff="ghcr.io/acme/handoff")
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan", "ci", "github", "--since", "HEAD~1"], install="bakeplan==0.1.0"))["jobs"]
    assert jobs["plan"]["steps"][0]["with"] == {"fetch-depth": 0}
    assert next(s for s in jobs["plan"]["steps"] if s.get("id") == "plan")["run"] == "bakeplan ci github --since 'HEAD~1'"
    assert jobs["build-2-0"]["needs"] == ["plan", "build-1-0"]
    assert jobs["build-2-0"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix_2_0) }}"
    assert jobs["plan"]["outputs"]["count_2_0"] == "${{ steps.plan.outputs.count_2_0 }}"
    # What is merged, where from and under which tags comes from the plan job, at run time.
    assert jobs["merge"]["steps"][-1]["env"] == {"MERGES": "${{ needs.plan.outputs.merges }}"}
    assert json.loads(github.outputs(plan)["merges"]) == [
        {"target": "app", "repository": "ghcr.io/acme/app", "tags": ["ghcr.io/acme/app:1", "ghcr.io/acme/app:latest"]}]


def test_step_summary_lists_chunks() -> None:
    assert "`build-1-0`: 2 legs" in github.step_summary(plan_of(CHAIN))


def test_digest_and_merge_steps_run_under_bash(tmp_path: Path) -> None:
    """The workflow's own shell: each leg saves its digest, the merge passes them all to imagetools."""
    need('jq', 'bash')
    plan = plan_of(CHAIN, push=True, handoff="ghcr.io/acme/handoff")
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="bakeplan==0.1.0"))["jobs"]
    save = next(s for s in jobs["build-1-0"]["steps"] if s.get("name") == "Save digest")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (bin_dir / "docker").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "TARGET": "app"}
    for leg, digest in (("app-linux-amd64", "sha256:aa"), ("app-linux-arm64", "sha256:bb")):
        metadata = json.dumps({"app": {"containerimage.digest": digest}, "base": {"containerimage.digest": "sha256:ff"}})
        subprocess.run(["bash", "-c", save], env={**env, "LEG": leg, "METADATA": metadata}, check=True)
    merge = next(s for s in jobs["merge"]["steps"] if s.get("name") == "Merge manifests")["run"]
    merges = github.outputs(plan)["merges"]
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", merge], env={**env, "MERGES": merges},
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "buildx", "imagetools", "create", "-t", "ghcr.io/acme/app:1", "-t", "ghcr.io/acme/app:latest",
        "ghcr.io/acme/app@sha256:aa", "ghcr.io/acme/app@sha256:bb",
    ]
    # A target the plan job lists whose legs saved no digest fails the merge instead of tagging nothing.
    missing = json.dumps([{"target": "other", "repository": "ghcr.io/acme/other", "tags": ["ghcr.io/acme/other:1"]}])
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", merge], env={**env, "MERGES": missing},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stderr == "other: no digests were saved\n"


@pytest.mark.parametrize("item", ["arm64=ubuntu-24.04-arm", "ubuntu=big-box"])
def test_a_runner_key_that_is_not_a_platform_is_an_error_not_a_silent_default(item: str) -> None:
    with pytest.raises(BakeplanError, match="is not a platform"):
        runners_for("github", [item])


def test_nothing_to_build_is_an_empty_include_matrix_like_a_since_with_no_change() -> None:
    plan = plan_of(result())
    assert json.loads(github.render_matrix(plan)) == {"include": []}
    assert github.outputs(plan)["matrix"] == '{"include":[]}'


def test_jobs_left_out_for_one_reason_share_a_line_and_long_lists_are_cut() -> None:
    from bakeplan.emit.commands import omitted_lines
    from bakeplan.emit.since import Omitted

    omitted = tuple(Omitted(f"bin-{i}", "no change") for i in range(8)) + (Omitted("web", "other"),)
    assert omitted_lines(omitted) == [
        "left out bin-0, bin-1, bin-2, bin-3, bin-4, bin-5 and 2 more: no change",
        "left out web: other",
    ]


@pytest.mark.parametrize(
    ("platform", "shown"),
    [("linux/arm", "app (arm/v7)"), ("linux/aarch64", "app (arm64)"), ("linux/i386", "app (386)"), ("windows/amd64", "app (windows/amd64)")],
)
def test_ci_legs_normalise_platforms_like_the_planner(platform: str, shown: str) -> None:
    from bakeplan.emit.legs import display_name

    assert display_name("app", platform) == shown


def test_github_rows_name_the_parent_artifacts_and_the_sets_they_complete() -> None:
    plan = plan_of(CHAIN, handoff="reg.example/handoff")
    rows = {row["id"]: row for chunk in plan.chunks for row in github.matrix(chunk)["include"]}
    arm = rows["app-linux-arm64"]
    assert arm["parents"] == "digest-{base-linux-arm64,tools-linux-amd64}"
    assert arm["handoff"] == (
        "base/base-linux-arm64 app.contexts.base=docker-image://reg.example/handoff@\n"
        "tools/tools-linux-amd64 app.contexts.tools=docker-image://reg.example/handoff@"
    )
    assert rows["test-linux-arm64"]["parents"] == "digest-app-linux-arm64"  # one name: no braces (minimatch)
    assert (rows["tools-linux-amd64"]["digest"], rows["tools-linux-amd64"]["manifest"]) == (True, True)
    assert rows["docs-native"]["parents"] == rows["docs-native"]["handoff"] == "" and not rows["docs-native"]["digest"]


def test_github_workflow_hands_parents_over_only_in_later_layers() -> None:
    plan = plan_of(CHAIN, handoff="reg.example/handoff")
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="bakeplan==0.1.0"))["jobs"]
    names = [step.get("name") for step in jobs["build-1-0"]["steps"]]
    assert names.index("Download parent digests") < names.index("Hand over parents") < names.index("Bake")
    assert "Hand over parents" not in [step.get("name") for step in jobs["build-0-0"]["steps"]]
    bake = next(step for step in jobs["build-1-0"]["steps"] if step.get("name") == "Bake")
    own = "${{ matrix.spill && steps.leg.outputs.set || matrix.set }}"  # the legs artifact's, when spilled
    assert bake["with"]["set"] == f"{own}\n${{{{ steps.handoff.outputs.set }}}}"
    save = next(step for step in jobs["build-0-0"]["steps"] if step.get("name") == "Save digest")
    assert save["if"] == "matrix.digest"
    # Without a registry nothing is handed over, and the file says so.
    text = github.render_workflow(plan_of(CHAIN), ["bakeplan"], install="bakeplan==0.1.0")
    assert "Hand over parents" not in text and "\n# warning: no --cache: parents are rebuilt" in text


def test_github_hand_over_step_turns_parent_digests_into_sets(tmp_path: Path) -> None:
    need('bash')
    plan = plan_of(CHAIN, handoff="reg.example/handoff")
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="bakeplan==0.1.0"))["jobs"]
    step = next(s for s in jobs["build-1-0"]["steps"] if s.get("name") == "Hand over parents")
    row = next(r for r in github.matrix(plan.chunks[1])["include"] if r["id"] == "app-linux-arm64")
    for name, digest in (("base/base-linux-arm64", "sha256:aa"), ("tools/tools-linux-amd64", "sha256:bb")):
        (tmp_path / "parents" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "parents" / name).write_text(digest + "\n")
    env = {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"),
           "HANDOFF": row["handoff"]}
    subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env, check=True)
    assert (tmp_path / "out").read_text() == (
        "set<<BAKEPLAN_HANDOFF\n"
        "app.contexts.base=docker-image://reg.example/handoff@sha256:aa\n"
        "app.contexts.tools=docker-image://reg.example/handoff@sha256:bb\n"
        "BAKEPLAN_HANDOFF\n"
    )
    # A parent digest that did not arrive fails the leg instead of baking `REPO@`.
    (tmp_path / "parents" / "tools" / "tools-linux-amd64").unlink()
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env, capture_output=True, check=False)
    assert done.returncode != 0


INDEX = {
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"digest": "sha256:image", "platform": {"architecture": "amd64", "os": "linux"}},
        {"digest": "sha256:attest", "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ],
}


def fake_docker_printing(tmp_path: Path, raw: dict[str, Any]) -> Path:
    """A `docker` whose `buildx imagetools inspect --raw REF` prints `raw` (and logs its arguments)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "raw.json").write_text(json.dumps(raw))
    (bin_dir / "docker").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/docker.log\ncat {tmp_path}/raw.json\n')
    (bin_dir / "docker").chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("raw", "saved"), [(INDEX, "sha256:image"), ({"mediaType": "manifest", "layers": []}, "sha256:top")])
def test_a_single_platform_parent_saves_its_image_manifest_digest(tmp_path: Path, raw: dict[str, Any], saved: str) -> None:
    need('jq', 'bash')
    plan = plan_of(CHAIN, handoff="reg.example/handoff")
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="bakeplan==0.1.0"))["jobs"]
    save = next(s for s in jobs["build-0-0"]["steps"] if s.get("name") == "Save digest")["run"]
    env = {"PATH": f"{fake_docker_printing(tmp_path, raw)}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path),
           "TARGET": "tools", "LEG": "tools-linux-amd64", "MANIFEST": "true", "REPOSITORY": "reg.example/handoff",
           "METADATA": json.dumps({"tools": {"containerimage.digest": "sha256:top"}})}
    subprocess.run(["bash", "-eo", "pipefail", "-c", save], env=env, check=True)
    assert (tmp_path / "digests" / "tools" / "tools-linux-amd64").read_text() == saved + "\n"
    assert (tmp_path / "docker.log").read_text() == "buildx imagetools inspect --raw reg.example/handoff@sha256:top\n"


def test_shell_join_expands_only_the_digest_variables() -> None:
    need('sh')
    from bakeplan.emit.commands import shell_join

    argv = ["echo", "a b", "$HOME", 'x=`q`"$HOME"@${D}', "${D}"]
    line = shell_join(argv, ["D"])
    assert line == 'echo \'a b\' \'$HOME\' "x=\\`q\\`\\"\\$HOME\\"@${D}" "${D}"'
    done = subprocess.run(["sh", "-c", line], env={"D": "sha256:0", "HOME": "/h", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    assert done.stdout == 'a b $HOME x=`q`"$HOME"@sha256:0 sha256:0\n'


def test_outputs_over_githubs_limit_move_the_overrides_to_the_legs_artifact(tmp_path: Path) -> None:
    need("bash", "jq")
    plan = plan_of(CHAIN, cache=parse_backend("registry:ghcr.io/acme/cache", fallbacks=["main"]), handoff="reg.example/h")
    full = github.outputs(plan)
    assert full["spill"] == "false" and json.loads(full["matrix_1_0"])["include"][0]["set"]
    small = github.outputs(plan, limit=sum(len(k) + len(v) for k, v in full.items()) - 1)
    assert small["spill"] == "true"
    rows = [r for c in plan.chunks for r in json.loads(small[github.output_name(c)])["include"]]
    assert all(r["spill"] and r["set"] == r["handoff"] == "" for r in rows)
    with pytest.raises(BakeplanError, match="bytes of job outputs even without their overrides"):
        github.outputs(plan, limit=100)
    # The build job's step reads the leg's own overrides back from the artifact, as the row held them.
    (tmp_path / github.LEGS_ARTIFACT).mkdir()
    (tmp_path / github.LEGS_ARTIFACT / github.LEGS_FILE).write_text(github.spilled_legs(plan))
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="bakeplan==0.1.0"))["jobs"]
    assert "spill" in jobs["plan"]["outputs"]
    step = next(s for s in jobs["build-1-0"]["steps"] if s.get("id") == "leg")
    row = next(r for r in github.matrix(plan.chunks[1])["include"] if r["id"] == "app-linux-arm64")
    env = {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out"), "LEG": row["id"]}
    subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], env=env, check=True)
    assert parse_github_output((tmp_path / "out").read_text()) == {"set": row["set"], "handoff": row["handoff"]}
