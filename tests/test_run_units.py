"""From a plan to the exact invocations: builders, platforms, cache refs, split outputs, merges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeplan import execute as ex
from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.nodes import Node
from bakeplan.plan import build_plan
from bakeplan.progress import redact, render_summary, shell_line
from conftest import Buildx

NODES = (
    Node(name="amd", builder="b-amd", platforms=("linux/amd64",), slots=2),
    Node(name="arm", builder="b-arm", platforms=("linux/arm64",), slots=2),
)


def result(**targets: dict[str, object]) -> BakeResult:
    return BakeResult(
        groups={"default": tuple(targets)},
        targets={name: Target(name=name, fields=fields, block=name) for name, fields in targets.items()},
        files=(Path("docker-bake.hcl"),),
        requested=("default",),
    )


def units_for(res: BakeResult, tmp_path: Path, **options: object) -> dict[str, ex.Unit]:
    plan = build_plan(res, NODES)
    units = ex.units_from_plan(plan, res.targets, ex.BakeOptions(**options), tmp_path)  # type: ignore[arg-type]
    return {u.id: u for u in units}


def test_each_platform_is_one_invocation_with_its_platform_set(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64", "linux/arm64"]}), tmp_path)
    assert list(units) == ["app@linux/amd64", "app@linux/arm64"]
    assert ex.unit_argv(units["app@linux/arm64"], "b-arm") == (
        "docker", "buildx", "bake", "--builder", "b-arm", "-f", "docker-bake.hcl",
        "--set", "app.platform=linux/arm64", "--progress", "plain", "app",
    )
    assert units["app@linux/arm64"].platforms == ("linux/arm64",)


def test_user_overrides_and_flags_pass_through(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64"]}), tmp_path, sets=("app.args.X=1",),
                      vars=("TAG=v1",), allow=("network.host",), load=True)
    assert units["app@linux/amd64"].args == (
        "-f", "docker-bake.hcl", "--set", "app.platform=linux/amd64", "--set", "app.args.X=1",
        "--progress", "plain", "--var", "TAG=v1", "--allow", "network.host", "--load", "app",
    )


def test_cache_refs_are_per_job(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64", "linux/arm64"]}), tmp_path,
                      cache=parse_backend("registry:r/cache", scope="main"))
    args = units["app@linux/arm64"].args
    assert "app.cache-from+=type=registry,ref=r/cache:main-app-linux-arm64" in args
    assert "app.cache-to+=type=registry,ref=r/cache:main-app-linux-arm64,mode=max" in args
    assert not any("amd64" in a for a in args if "cache" in a)


def test_split_local_output_lands_per_platform_as_buildx_lays_it_out(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64", "linux/arm64"],
                                  "output": [{"type": "local", "dest": "out"}]}), tmp_path)
    assert "app.output=type=local,dest=out/linux_arm64" in units["app@linux/arm64"].args
    assert "app.output=type=local,dest=out/linux_amd64" in units["app@linux/amd64"].args


def test_single_platform_target_keeps_its_outputs(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/arm64"], "output": [{"type": "local", "dest": "out"}]}), tmp_path)
    assert not any(".output=" in a for a in units["app@linux/arm64"].args)


def test_pushed_split_target_goes_by_digest_then_merges(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64", "linux/arm64"], "tags": ["r.io/app:v1", "r.io/app:latest"]},
                             solo={"platforms": ["linux/amd64"], "tags": ["r.io/solo:v1"]}), tmp_path, push=True)
    arm = units["app@linux/arm64"]
    assert "app.output=type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true" in arm.args
    assert "app.tags=" in arm.args and "--push" not in arm.args
    assert arm.metadata == str(tmp_path / "metadata" / "app_linux_arm64.json")
    assert "--push" in units["solo@linux/amd64"].args
    merge = units["merge:app"]
    assert merge.kind == "merge" and merge.deps == ("app@linux/amd64", "app@linux/arm64")
    assert ex.unit_argv(merge, "b-amd") == (
        "docker", "buildx", "imagetools", "create", "--builder", "b-amd", "--tag", "r.io/app:v1", "--tag", "r.io/app:latest",
    )
    assert merge.merge_repo == "r.io/app"


@pytest.mark.parametrize(("argv", "shown"), [
    (["--var", "API_TOKEN=abc"], ["--var", "API_TOKEN=***"]),
    (["--var=GITHUB_TOKEN=abc"], ["--var=GITHUB_TOKEN=***"]),
    (["--set", "app.args.NPM_PASSWORD=hunter2"], ["--set", "app.args.NPM_PASSWORD=***"]),
    (["--set", "app.args.VERSION=1"], ["--set", "app.args.VERSION=1"]),
    (["--var", "TAG=v1"], ["--var", "TAG=v1"]),
])
def test_secrets_never_appear_in_shown_commands(argv: list[str], shown: list[str]) -> None:
    assert redact(argv) == shown


def test_summary_lists_every_unit_with_result_node_duration_and_log(tmp_path: Path) -> None:
    import io

    units = [ex.Unit(id="a", command=(), args=()), ex.Unit(id="b", command=(), args=(), deps=("a",))]
    state = ex.RunState(units={
        "a": ex.UnitState(status=ex.FAILED, attempts=2, node="amd", started=1.0, finished=3.5, exit_code=1, log="/l/a.log"),
        "b": ex.UnitState(status=ex.SKIPPED, reason="a failed"),
    })
    out = io.StringIO()
    render_summary(state, units, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["job", "result", "node", "duration", "log"]
    assert lines[1].split() == ["a", "failed", "(exit", "1)", "after", "2", "attempts", "amd", "2.5s", "/l/a.log"]
    assert lines[2].split() == ["b", "skipped", "(a", "failed)", "-", "-", "-"]
    assert lines[3] == "FAILED: 1 failed, 1 skipped"


@pytest.mark.buildx
def test_dry_run_prints_the_exact_commands_and_starts_nothing(buildx: Buildx, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n')
    env = dict(buildx.env, PYTHONPATH=str(Path(__file__).resolve().parent.parent), BAKEPLAN_CACHE_DIR=str(tmp_path / "c"))
    done = subprocess.run(
        [sys.executable, "-m", "bakeplan", "run", "--dry-run", "--loader", "buildx",
         "--node", "name=amd,builder=b-amd,platforms=linux/amd64", "--node", "name=arm,builder=b-arm,platforms=linux/arm64",
         "--var", "API_TOKEN=s3cret", "app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "# app@linux/amd64 on amd",
        "docker buildx bake --builder b-amd --set app.platform=linux/amd64 --progress plain --var 'API_TOKEN=***' app",
        "# app@linux/arm64 on arm",
        "docker buildx bake --builder b-arm --set app.platform=linux/arm64 --progress plain --var 'API_TOKEN=***' app",
    ]
    assert not (tmp_path / ".bakeplan" / "runs").exists() or not any((tmp_path / ".bakeplan" / "runs").iterdir())


@pytest.mark.buildx
def test_unknown_builder_is_one_clear_error(buildx: Buildx, tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    env = dict(buildx.env, PYTHONPATH=str(Path(__file__).resolve().parent.parent), BAKEPLAN_CACHE_DIR=str(tmp_path / "c"))
    done = subprocess.run(
        [sys.executable, "-m", "bakeplan", "run", "--loader", "buildx", "--node",
         "name=x,builder=no-such-builder,platforms=linux/amd64", "app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: builder 'no-such-builder' is unknown or unreachable")
    assert "docker buildx create" in done.stderr


def test_missing_docker_cli_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    env = dict(os.environ, PATH=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-m", "bakeplan", "run", "app"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: the docker CLI (docker) was not found"


def test_live_view_renders_nodes_running_units_and_eta(tmp_path: Path) -> None:
    import io
    import time

    from bakeplan.progress import LiveReporter

    units = [ex.Unit(id="a", command=(), args=(), estimate=30), ex.Unit(id="b", command=(), args=(), estimate=10)]
    stream = io.StringIO()
    reporter = LiveReporter(units, ["amd", "arm"], stream=stream)
    state = ex.RunState(units={
        "a": ex.UnitState(status=ex.RUNNING, node="amd", started=time.time() - 5, log=str(tmp_path / "a.log")),
        "b": ex.UnitState(),
    })
    reporter.tick(state)
    reporter.console.print(reporter._render())
    reporter.finished(units[0], ex.UnitState(status=ex.FAILED, node="amd", started=1.0, finished=2.0,
                                             log=str(tmp_path / "a.log")))
    reporter.close()
    text = stream.getvalue()
    assert "amd" in text and "idle" in text and "~25s" in text
    assert "0/2 done" in text
    assert "failed" in text and "a.log" in text


def test_missing_buildx_plugin_is_one_clear_error(tmp_path: Path) -> None:
    import shutil

    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_path / "empty"), PYTHONPATH=str(Path(__file__).resolve().parent.parent),
               BAKEPLAN_CACHE_DIR=str(tmp_path / "c"))
    done = subprocess.run(
        [sys.executable, "-m", "bakeplan", "run", "--node", "name=x,builder=b,platforms=linux/amd64", "app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: the docker buildx plugin is not installed", done.stderr


def test_a_bake_file_that_pushes_by_itself_is_merged_too(tmp_path: Path) -> None:
    units = units_for(result(app={"platforms": ["linux/amd64", "linux/arm64"],
                                  "output": [{"type": "registry", "name": "r.io/app:v1"}]}), tmp_path)
    assert "app.output=type=image,name=r.io/app,push-by-digest=true,name-canonical=true,push=true" in units["app@linux/amd64"].args
    assert units["merge:app"].args == ("--tag", "r.io/app:v1")


FAKE_DOCKER = """#!/bin/sh
# `docker buildx inspect --bootstrap` of a current builder whose daemon is down (buildx prints Error:, exits 0).
printf 'Name:          default\\nDriver:        \\nError:         failed to connect to the docker API\\n'
"""


def test_a_broken_current_builder_fails_once_before_any_job_starts(tmp_path: Path) -> None:
    from bakeplan.cli.run import check_current_builder
    from bakeplan.errors import ToolError

    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    local = Node(name="local", platforms=("linux/amd64",), source="local")
    with pytest.raises(ToolError, match="the current buildx builder is not usable: failed to connect to the docker API"):
        check_current_builder([local], docker=str(docker))
    check_current_builder(NODES, docker=str(tmp_path / "absent"))  # every node has its own builder: nothing to check


def test_an_unknown_progress_mode_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-m", "bakeplan", "run", "--dry-run", "--progress", "bogus", "app"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "'bogus' is not one of" in done.stderr


def test_a_run_directory_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    from bakeplan.cli.run import run_directory
    from bakeplan.errors import BakeplanError

    (tmp_path / "runs").write_text("a file where the runs directory should be")
    with pytest.raises(BakeplanError, match="cannot create the run directory"):
        run_directory(tmp_path / "runs", resume=False)


def test_a_history_that_cannot_be_saved_warns_instead_of_failing_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bakeplan.cli.run import _save_history
    from bakeplan.history import History

    _save_history(History(), tmp_path)  # a directory, not a file
    assert "warning: durations not recorded in" in capsys.readouterr().err
