"""`bakeplan ci` core: jobs -> legs, layers by `target:` links, chunk splits, GitHub output."""

from __future__ import annotations

import json
import shutil
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
from bakeplan.emit.legs import EmitOptions, build_plan, display_name, repositories, runners_for
from bakeplan.emit.model import CIPlan, Invocation
from bakeplan.emit.source import jobs_from_result
from bakeplan.errors import BakeplanError, CycleError


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
    return build_plan(jobs_from_result(res), Invocation(files=("docker-bake.hcl",)), emit)


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


def test_a_child_leg_rebuilds_its_parents_from_their_cache() -> None:
    plan = plan_of(CHAIN, cache=parse_backend("gha"))
    leg = next(leg for leg in plan.legs if leg.id == "test-linux-arm64")
    assert leg.sets == (
        "test.platform=linux/arm64",
        "test.cache-from+=type=gha,scope=test-linux-arm64",
        "test.cache-to+=type=gha,scope=test-linux-arm64,mode=max",
        "app.platform=linux/arm64",
        "app.cache-from+=type=gha,scope=app-linux-arm64",
        "base.platform=linux/arm64",
        "base.cache-from+=type=gha,scope=base-linux-arm64",
        "tools.cache-from+=type=gha,scope=tools-linux-amd64",
    )


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
    return github.render_matrix(plan) + github.render_workflow(plan, ["bakeplan", "ci", "github"], install="pip install bakeplan")


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
    plan = plan_of(CHAIN, push=True)
    leg = next(leg for leg in plan.legs if leg.id == "app-linux-amd64")
    assert leg.merge
    assert "app.output=type=image,name=ghcr.io/acme/app,push-by-digest=true,name-canonical=true,push=true" in leg.sets
    assert [(m.target, m.repository, m.legs) for m in plan.merges] == [
        ("app", "ghcr.io/acme/app", ("app-linux-amd64", "app-linux-arm64"))
    ]


def test_a_bake_file_that_pushes_merges_even_without_push_flag() -> None:
    res = result(app={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["r:5000/a:1", "docker.io/b/a:1"],
                      "output": [{"type": "registry"}]})
    plan = plan_of(res)
    assert plan.legs[0].sets[-1] == (
        'app.output=type=image,"name=r:5000/a,docker.io/b/a",push-by-digest=true,name-canonical=true,push=true'
    )
    assert plan.merges[0].tags == ("r:5000/a:1", "docker.io/b/a:1")


def test_single_platform_targets_push_by_tag() -> None:
    plan = plan_of(result(one={"platforms": ["linux/amd64"], "tags": ["x/one:1"]}), push=True)
    assert plan.legs[0].sets[-1] == "one.output=type=registry" and not plan.merges


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
    plan = plan_of(res, push=push, cache=parse_backend("gha"))
    text = github.render_workflow(plan, ["bakeplan", "ci", "github", "--push"], install="pip install bakeplan", login="ghcr.io")
    document = yaml.safe_load(text)
    validate(document, "vendor.github-workflows")
    assert list(document["jobs"])[0] == "plan"
    assert set(document["jobs"]) >= {c.id for c in plan.chunks}
    assert ("merge" in document["jobs"]) == bool(plan.merges)


def test_workflow_wires_outputs_needs_and_merge() -> None:
    plan = plan_of(CHAIN, push=True)
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan", "ci", "github", "--since", "HEAD~1"], install="pip install bakeplan"))["jobs"]
    assert jobs["plan"]["steps"][0]["with"] == {"fetch-depth": 0}
    assert jobs["plan"]["steps"][-1]["run"] == "bakeplan ci github --since 'HEAD~1'"
    assert jobs["build-2-0"]["needs"] == ["plan", "build-1-0"]
    assert jobs["build-2-0"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix_2_0) }}"
    assert jobs["plan"]["outputs"]["count_2_0"] == "${{ steps.plan.outputs.count_2_0 }}"
    merge = jobs["merge"]["steps"][-1]["run"]
    assert "docker buildx imagetools create -t ghcr.io/acme/app:1 -t ghcr.io/acme/app:latest" in merge
    assert "sed 's|^|ghcr.io/acme/app@|'" in merge


def test_step_summary_lists_chunks() -> None:
    assert "`build-1-0`: 2 legs" in github.step_summary(plan_of(CHAIN))


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("bash") is None, reason="jq or bash is not installed")
def test_digest_and_merge_steps_run_under_bash(tmp_path: Path) -> None:
    """The workflow's own shell: each leg saves its digest, the merge passes them all to imagetools."""
    plan = plan_of(CHAIN, push=True)
    jobs = yaml.safe_load(github.render_workflow(plan, ["bakeplan"], install="pip install bakeplan"))["jobs"]
    save = next(s for s in jobs["build-1-0"]["steps"] if s.get("name") == "Save digest")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (bin_dir / "docker").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "TARGET": "app"}
    for leg, digest in (("app-linux-amd64", "sha256:aa"), ("app-linux-arm64", "sha256:bb")):
        metadata = json.dumps({"app": {"containerimage.digest": digest}, "base": {"containerimage.digest": "sha256:ff"}})
        subprocess.run(["bash", "-c", save], env={**env, "LEG": leg, "METADATA": metadata}, check=True)
    merge = next(s for s in jobs["merge"]["steps"] if s.get("name") == "Merge app")["run"]
    done = subprocess.run(["bash", "-c", merge], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "buildx", "imagetools", "create", "-t", "ghcr.io/acme/app:1", "-t", "ghcr.io/acme/app:latest",
        "ghcr.io/acme/app@sha256:aa", "ghcr.io/acme/app@sha256:bb",
    ]


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
