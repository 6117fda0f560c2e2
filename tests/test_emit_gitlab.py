"""GitLab child pipelines: jobs per leg or `parallel:matrix` chunks of at most 200; schema-valid."""

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
from bakeplan.emit import gitlab
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import BakeCall, CIPlan, Omitted, keep_only
from bakeplan.emit.source import jobs_from_result
from tests.support.tools import need


def result(**targets: dict[str, Any]) -> BakeResult:
    return BakeResult({}, {n: Target(n, f) for n, f in targets.items()}, (Path("docker-bake.hcl"),), ("default",))


def plan_of(res: BakeResult, **options: Any) -> CIPlan:
    emit = EmitOptions(runners_for("gitlab", options.pop("runners", ())), limit=gitlab.MATRIX_LIMIT, **options)
    return build_plan(jobs_from_result(res), BakeCall(files=("docker-bake.hcl",), vars=(("TAG", "1.0"),)), emit)


CHAIN = result(
    base={"context": "base", "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"]},
    app={
        "context": "app",
        "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        "contexts": {"base": "target:base"},
        "tags": ["registry.gitlab.com/acme/app:1"],
    },
)


def wide(count: int) -> BakeResult:
    return result(**{f"t{i:04d}": {"platforms": ["linux/amd64"]} for i in range(count)})


def validate(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    errors = sorted(Draft7Validator(get_builtin_schema("vendor.gitlab-ci")).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("mode", ["jobs", "matrix"])
@pytest.mark.parametrize("push", [False, True])
def test_pipelines_are_valid_for_the_gitlab_schema(mode: str, push: bool) -> None:
    plan = plan_of(CHAIN, push=push, cache=parse_backend("registry:registry.gitlab.com/acme/cache"),
                   handoff="registry.gitlab.com/acme/handoff" if push else None)
    validate(gitlab.render(plan, mode=mode, login="$CI_REGISTRY"))


def test_jobs_mode_follows_the_graph_with_runner_tags() -> None:
    document = validate(gitlab.render(plan_of(CHAIN, push=True, handoff="registry.gitlab.com/acme/handoff")))
    assert document["stages"] == ["build-0", "build-1", "merge"]
    assert document["variables"] == {"DOCKER_TLS_CERTDIR": "/certs", "TAG": "1.0"}
    arm = document["app-linux-arm64"]
    assert arm["stage"] == "build-1"
    assert arm["tags"] == ["saas-linux-small-arm64"]
    assert arm["needs"] == ["base-linux-arm64"]  # with its artifacts: the parent's digest
    assert arm["script"][1:3] == [
        "DIGEST_BASE_LINUX_ARM64=$(cat digests/base/base-linux-arm64)",
        "docker buildx bake -f docker-bake.hcl --metadata-file bake-metadata.json --set app.platform=linux/arm64"
        " --set app.output=type=image,name=registry.gitlab.com/acme/app,push-by-digest=true,name-canonical=true,push=true"
        ' --set app.tags= --set "app.contexts.base=docker-image://registry.gitlab.com/acme/handoff@${DIGEST_BASE_LINUX_ARM64}"'
        " app",
    ]
    assert arm["artifacts"]["paths"] == ["digests/app/app-linux-arm64"]
    base = document["base-linux-amd64"]
    assert base["needs"] == [] and base["artifacts"]["paths"] == ["digests/base/base-linux-amd64"]
    assert base["script"][-2:] == [
        "mkdir -p digests/base",
        "jq -er --arg t base '.[$t][\"containerimage.digest\"]' bake-metadata.json > digests/base/base-linux-amd64",
    ]
    v7 = document["app-linux-arm-v7"]["script"]
    assert v7[1] == "docker run --privileged --rm tonistiigi/binfmt --install linux/arm/v7"
    assert v7[2] == "DIGEST_BASE_LINUX_ARM_V7=$(cat digests/base/base-linux-arm-v7)"
    merge = document["merge-app"]
    assert merge["needs"] == ["app-linux-amd64", "app-linux-arm64", "app-linux-arm-v7"]
    assert "imagetools create -t registry.gitlab.com/acme/app:1" in merge["script"][0]


def test_matrix_mode_splits_at_200() -> None:
    plan = plan_of(wide(450))
    document = validate(gitlab.render(plan, mode="matrix"))
    sizes = {name: len(job["parallel"]["matrix"]) for name, job in document.items() if name.startswith("build-")}
    assert sizes == {"build-0-0": 200, "build-0-1": 200, "build-0-2": 50}


def test_matrix_mode_rows_name_the_leg_and_its_runner() -> None:
    document = validate(gitlab.render(plan_of(CHAIN), mode="matrix"))
    job = document["build-1-0"]
    assert job["needs"] == ["build-0-0"] and job["tags"] == ["$RUNNER"]
    assert job["parallel"]["matrix"] == [
        {"LEG": "app-linux-amd64", "RUNNER": "saas-linux-small-amd64"},
        {"LEG": "app-linux-arm64", "RUNNER": "saas-linux-small-arm64"},
        {"LEG": "app-linux-arm-v7", "RUNNER": "saas-linux-small-amd64"},
    ]
    assert "  app-linux-arm-v7)\n    docker run --privileged --rm tonistiigi/binfmt --install linux/arm/v7\n" in job["script"][-1]


def test_a_201_row_matrix_would_be_rejected_by_the_schema() -> None:
    plan = build_plan(jobs_from_result(wide(201)), BakeCall(), EmitOptions(runners_for("gitlab"), limit=500))
    document = yaml.safe_load(gitlab.render(plan, mode="matrix"))
    assert list(Draft7Validator(get_builtin_schema("vendor.gitlab-ci")).iter_errors(document))


def test_left_out_jobs_are_listed_and_never_needed() -> None:
    plan = plan_of(CHAIN)
    kept = frozenset(leg.id for leg in plan.legs if leg.target == "app")
    trimmed = keep_only(plan, kept, [Omitted("base-linux-amd64", "unchanged"), Omitted("base-linux-arm64", "unchanged")])
    text = gitlab.render(trimmed)
    assert "# left out base-linux-amd64, base-linux-arm64: unchanged\n" in text
    document = validate(text)
    assert document["stages"] == ["build-1"] and document["app-linux-arm64"]["needs"] == []


def test_an_empty_plan_is_still_a_valid_pipeline() -> None:
    plan = plan_of(CHAIN)
    document = validate(gitlab.render(keep_only(plan, frozenset(), [])))
    assert list(document)[-1] == "nothing-to-build"


def fake_docker(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `docker` prints its arguments one per line (and `apk`, `jq` stubs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    (bin_dir / "docker").chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin"}


@pytest.mark.parametrize("leg", [0, 1])
def test_matrix_mode_runs_the_rows_own_command_with_each_override_as_one_argument(tmp_path: Path, leg: int) -> None:
    res = result(app={"platforms": ["linux/amd64", "linux/arm64"], "args": {"A": "1"}})
    plan = build_plan(jobs_from_result(res), BakeCall(files=("docker-bake.hcl",), sets=("*.args.A=x y,z",)),
                      EmitOptions(runners_for("gitlab"), cache=parse_backend("local:/tmp/c d")))
    document = validate(gitlab.render(plan, mode="matrix"))
    job = document["build-0-0"]
    env = {**fake_docker(tmp_path), **job["parallel"]["matrix"][leg]}
    done = subprocess.run(["sh", "-c", job["script"][-1]], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "buildx", "bake", "-f", "docker-bake.hcl", *[x for item in plan.legs[leg].overrides for x in ("--set", item)], "app",
    ]
    assert "*.args.A=x y,z" in done.stdout.splitlines()


def test_matrix_mode_rejects_an_unknown_leg(tmp_path: Path) -> None:
    job = validate(gitlab.render(plan_of(CHAIN), mode="matrix"))["build-0-0"]
    done = subprocess.run(["sh", "-c", job["script"][-1]], env={**fake_docker(tmp_path), "LEG": "nope"},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "unknown leg: nope" in done.stderr


def test_a_leg_downloads_only_the_digest_artifacts_it_reads() -> None:
    res = result(
        base={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["r/base:1"], "output": [{"type": "registry"}]},
        app={"platforms": ["linux/amd64", "linux/arm64"], "contexts": {"b": "target:base"}},
    )
    # The bake file pushes base (merged), but without --push/--handoff app rebuilds it: no digest needed.
    document = validate(gitlab.render(plan_of(res)))
    assert document["app-linux-arm64"]["needs"] == [{"job": "base-linux-arm64", "artifacts": False}]
    assert document["merge-base"]["needs"] == ["base-linux-amd64", "base-linux-arm64"]
    # With --push app reads the digest base's merge push left in r/base.
    document = validate(gitlab.render(plan_of(res, push=True)))
    assert document["app-linux-arm64"]["needs"] == ["base-linux-arm64"]
    assert '"app.contexts.b=docker-image://r/base@${DIGEST_BASE_LINUX_ARM64}"' in document["app-linux-arm64"]["script"][2]


def test_jobs_mode_digest_and_merge_scripts_run_under_sh(tmp_path: Path) -> None:
    need('jq')
    document = validate(gitlab.render(plan_of(CHAIN, push=True, handoff="registry.gitlab.com/acme/handoff")))
    env = fake_docker(tmp_path)
    for leg, digest in (("app-linux-amd64", "sha256:01"), ("app-linux-arm64", "sha256:02")):
        (tmp_path / "bake-metadata.json").write_text(json.dumps({"app": {"containerimage.digest": digest}}))
        subprocess.run(["sh", "-ec", "\n".join(document[leg]["script"][-2:])], cwd=tmp_path, env=env, check=True)
    done = subprocess.run(["sh", "-c", document["merge-app"]["script"][0]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["buildx", "imagetools", "create", "-t", "registry.gitlab.com/acme/app:1",
                                   "registry.gitlab.com/acme/app@sha256:01", "registry.gitlab.com/acme/app@sha256:02"]


def test_a_childs_script_passes_its_parents_digests_to_bake_as_whole_arguments(tmp_path: Path) -> None:
    """The leg's own shell: the digest read from the parent's artifact lands inside one `--set` argument."""
    plan = plan_of(CHAIN, handoff="registry.gitlab.com/acme/handoff")
    job = validate(gitlab.render(plan, mode="matrix"))["build-1-0"]
    (tmp_path / "digests" / "base").mkdir(parents=True)
    (tmp_path / "digests" / "base" / "base-linux-arm64").write_text("sha256:b4\n")
    env = {**fake_docker(tmp_path), "LEG": "app-linux-arm64"}
    done = subprocess.run(["sh", "-ec", job["script"][-1]], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "buildx", "bake", "-f", "docker-bake.hcl", "--set", "app.platform=linux/arm64",
        "--set", "app.contexts.base=docker-image://registry.gitlab.com/acme/handoff@sha256:b4", "app",
    ]
    # No digest from the parent: the leg fails before baking.
    (tmp_path / "digests" / "base" / "base-linux-arm64").unlink()
    done = subprocess.run(["sh", "-ec", job["script"][-1]], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "buildx" not in done.stdout


def test_without_a_registry_the_pipeline_says_which_parents_each_child_rebuilds() -> None:
    text = gitlab.render(plan_of(CHAIN))
    assert text.splitlines()[1:3] == [
        "# parents rebuilt inside their children's legs (no registry to hand them over by digest: "
        "pass --push or --handoff registry:REPO): base",
        "# warning: no --cache: parents are rebuilt from scratch in every child leg: base",
    ]
    assert validate(text)["app-linux-arm64"]["script"][1].endswith(" --set base.platform=linux/arm64 app")


def linked_wide(count: int) -> BakeResult:
    """`count` single-platform children of one two-platform parent: a second layer of `count` legs."""
    children = {f"c{i:03d}": {"platforms": ["linux/amd64"], "contexts": {"base": "target:base"}} for i in range(count)}
    return result(base={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["registry.gitlab.com/acme/base:1"]},
                  after={"platforms": ["linux/amd64"], "contexts": {"c": "target:c000"}}, **children)


def needs_counted(document: dict[str, Any]) -> dict[str, int]:
    """Each job's needs as GitLab counts them: every instance of a parallel:matrix job."""
    size = {name: len(job.get("parallel", {}).get("matrix", [None])) for name, job in document.items() if isinstance(job, dict)}
    return {name: sum(size[n if isinstance(n, str) else n["job"]] for n in job["needs"])
            for name, job in document.items() if isinstance(job, dict) and "needs" in job}


@pytest.mark.parametrize("mode", ["jobs", "matrix"])
def test_no_job_needs_more_than_50_and_a_wide_layer_waits_by_stage_instead(mode: str) -> None:
    document = validate(gitlab.render(plan_of(linked_wide(120), push=True), mode=mode))
    assert max(needs_counted(document).values()) <= gitlab.NEEDS_LIMIT
    if mode == "matrix":
        # build-2-0 would need the 120 instances of build-1-0: it follows the stages instead.
        assert "needs" not in document["build-2-0"] and document["build-2-0"]["stage"] == "build-2"
        assert document["build-1-0"]["needs"] == ["build-0-0"]  # two instances: needs stay
    else:
        assert "c000-linux-amd64" in document["after-linux-amd64"]["needs"]  # a leg needs few: they stay


def test_image_and_service_are_options_and_none_drops_the_service() -> None:
    plan = plan_of(CHAIN)
    default = yaml.safe_load(gitlab.render(plan))
    assert default["default"] == {"image": "docker:29", "services": ["docker:29-dind"]}
    assert default["variables"]["DOCKER_TLS_CERTDIR"] == "/certs"
    shell = yaml.safe_load(gitlab.render(plan, image="docker:28.3", service=None))
    assert shell["default"] == {"image": "docker:28.3"} and "DOCKER_TLS_CERTDIR" not in shell["variables"]


def test_a_pipeline_generated_in_a_subdirectory_runs_there_and_keeps_artifacts_from_the_root() -> None:
    emit = EmitOptions(runners_for("gitlab"), limit=gitlab.MATRIX_LIMIT, push=True)
    plan = build_plan(jobs_from_result(CHAIN), BakeCall(files=("docker-bake.hcl",), workdir="images/app"), emit)
    document = validate(gitlab.render(plan))
    assert document["default"]["before_script"] == ["cd -- images/app || exit 1"]
    assert document["app-linux-arm64"]["artifacts"]["paths"] == ["images/app/digests/app/app-linux-arm64"]


def test_a_runner_with_its_own_builder_and_jq_skips_creating_and_installing_them(tmp_path: Path) -> None:
    need("sh")
    document = yaml.safe_load(gitlab.render(plan_of(CHAIN, push=True)))
    script = document["app-linux-arm64"]["script"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "apk", "jq"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "$LOG"\n')
        (bin_dir / name).chmod(0o755)
    setup = [line for line in script if "buildx create" in line or "apk add" in line]
    env = {"PATH": str(bin_dir), "LOG": str(tmp_path / "log")}  # only the stubs: the machine's jq is not seen
    subprocess.run(["/bin/sh", "-ec", "\n".join(setup)], env={**env, "BUILDX_BUILDER": "mine"}, check=True)
    assert not (tmp_path / "log").exists()
    (bin_dir / "jq").unlink()
    subprocess.run(["/bin/sh", "-ec", "\n".join(setup)], env=env, check=True)
    assert (tmp_path / "log").read_text().splitlines() == [
        "docker buildx create --use --driver docker-container", "apk add --no-cache jq"]


def test_pipelines_over_gitlabs_job_limit_say_so() -> None:
    assert gitlab.limit_lines(500, 100) == []
    [jobs] = gitlab.limit_lines(501, 100)
    assert jobs.startswith("warning: 501 jobs, over GitLab.com's limit of 500")
    text = gitlab.render(plan_of(wide(501)), mode="matrix")
    assert "# warning: 501 jobs" in text.split("stages:")[0]
