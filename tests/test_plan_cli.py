from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bakeplan.cli import plan as plan_cli
from bakeplan.errors import BakeplanError


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    plan_cli.register(app)
    return app


def test_nodes_lists_declared_nodes_as_json(app: typer.Typer) -> None:
    out = CliRunner().invoke(app, ["nodes", "--node", "name=arm,builder=b,platforms=linux/arm64,slots=3", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [(n["name"], n["builder"], n["platforms"], n["slots"], n["excluded"]) for n in json.loads(out.output)] == [
        ("arm", "b", ["linux/arm64"], 3, None)]


def test_nodes_say_which_went_down_in_the_last_run(app: typer.Typer, tmp_path: Path) -> None:
    from bakeplan.runstate import RunState, mark_node_down, write_state

    runs = tmp_path / "runs"
    (runs / "r1").mkdir(parents=True)
    (runs / "latest").write_text("r1\n")
    write_state(runs / "r1" / "state.json", mark_node_down(RunState(steps={}), "k1", "daemon gone"))
    flags = ["nodes", "--node", "name=k1,platforms=linux/amd64", "--node", "name=k2,platforms=linux/amd64",
             "--run-dir", str(runs)]
    out = CliRunner().invoke(app, [*flags, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert [(n["name"], n["down_in_last_run"]) for n in json.loads(out.output)] == [("k1", "daemon gone"), ("k2", None)]
    out = CliRunner().invoke(app, flags)
    assert f"k1: went down in the last run ({runs / 'r1'}): daemon gone" in out.output


def test_nodes_reads_the_nodes_file(app: typer.Typer, tmp_path: Path) -> None:
    config = tmp_path / "nodes.toml"
    config.write_text('[[node]]\nname = "amd"\nplatforms = ["linux/amd64"]\n[[node]]\nname = "none"\n')
    out = CliRunner().invoke(app, ["nodes", "--nodes-file", str(config)])
    assert out.exit_code == 0, out.output
    assert "amd" in out.output and "none: left out: no platforms declared" in out.output


HCL = """
group "default" { targets = ["app", "tool"] }
target "base" { platforms = ["linux/amd64", "linux/arm64"] }
target "app" {
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
}
target "tool" {
  name = "tool-${arch}"
  matrix = { arch = ["amd64", "arm64"] }
  platforms = ["linux/${arch}"]
}
"""
NODES = ["--node", "name=amd,builder=b-amd,platforms=linux/amd64,slots=2", "--node", "name=arm,builder=b-arm,platforms=linux/arm64"]


def _plan(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    out = CliRunner().invoke(app, ["plan", *NODES, *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_plan_json_from_a_real_bake_file(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(_plan(app, tmp_path, monkeypatch, "--format", "json"))
    assert data["version"] == 3
    assert [(j["id"], j["node"], j["matrix"]) for j in data["jobs"]] == [
        ("app@linux/amd64", "amd", {}), ("app@linux/arm64", "arm", {}),
        ("base@linux/amd64", "amd", {}), ("base@linux/arm64", "arm", {}),
        ("tool-amd64@linux/amd64", "amd", {"arch": "amd64"}), ("tool-arm64@linux/arm64", "arm", {"arch": "arm64"})]
    app_job = data["jobs"][1]
    assert app_job["deps"] == ["base@linux/arm64"]
    assert app_job["argv"][-5:] == ["--set", "app.platform=linux/arm64", "--set", "base.platform=linux/arm64", "app"]
    assert data["handovers"] == []


def test_plan_json_lists_the_hand_over_of_a_single_platform_parent(
        app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL.replace(
        'target "base" { platforms = ["linux/amd64", "linux/arm64"] }', 'target "base" { platforms = ["linux/amd64"] }'))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    out = CliRunner().invoke(app, ["plan", *NODES, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["handovers"] == [
        {"child": "app@linux/arm64", "parent": "base@linux/amd64", "source": "amd", "dest": "arm", "seconds": 4.0}]
    table = CliRunner().invoke(app, ["plan", *NODES]).output
    assert "  app@linux/arm64 reads base@linux/amd64 from amd (~4s)\n" in table


def test_plan_only_selects_by_matrix_value(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(_plan(app, tmp_path, monkeypatch, "--format", "json", "--only", "arch=arm64"))
    assert [j["id"] for j in data["jobs"]] == ["tool-arm64@linux/arm64"]


def test_plan_table_mermaid_and_dot(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "estimated makespan" in _plan(app, tmp_path, monkeypatch)
    assert _plan(app, tmp_path, monkeypatch, "--format", "mermaid").startswith("flowchart LR")
    assert _plan(app, tmp_path, monkeypatch, "--format", "dot").startswith("digraph bakeplan {")


@pytest.mark.buildx
def test_real_buildx_accepts_each_job_invocation_and_prints_what_was_planned(
    buildx: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: typer.Typer
) -> None:
    import subprocess

    data = json.loads(_plan(app, tmp_path, monkeypatch, "--format", "json"))
    for job in data["jobs"]:
        argv = [a for a in job["argv"] if a not in ("--builder", "b-amd", "b-arm")]
        argv[0] = buildx.docker  # type: ignore[attr-defined]
        done = subprocess.run([*argv, "--print"], env=buildx.env, cwd=tmp_path,  # type: ignore[attr-defined]
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)["target"]
        assert printed[job["target"]].get("platforms") == [job["platform"]]
        for dep in job["deps"]:  # re-solved on the same node: the very platform the plan read
            parent, platform = dep.split("@")
            if parent in printed:
                assert printed[parent].get("platforms") == [platform]
                assert printed[parent]["output"] == [{"type": "cacheonly"}]  # linked, not requested


@pytest.mark.buildkit
def test_planned_invocations_run_on_the_real_cluster(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_cli: object, node_builders: dict[str, str]
) -> None:
    """Discover the real single-node builders, plan, and run each job's exact argv with real buildx."""
    import subprocess

    cli = docker_cli
    monkeypatch.setenv("DOCKER_CONFIG", cli.env["DOCKER_CONFIG"])  # type: ignore[attr-defined]
    (tmp_path / "hello").write_text("hi\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    (tmp_path / "docker-bake.hcl").write_text(
        'target "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n  output = ["type=local,dest=out"]\n}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    out = CliRunner().invoke(app, ["plan", "app", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    placed = {j["platform"]: j["node"] for j in data["jobs"]}
    assert placed == {"linux/amd64": node_builders["amd64"], "linux/arm64": node_builders["arm64"]}
    assert data["handovers"] == []
    for job in data["jobs"]:
        argv = [cli.docker, *job["argv"][1:], "--set", f"app.output=type=local,dest=out-{job['node']}"]  # type: ignore[attr-defined]
        done = subprocess.run(argv, env=cli.env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)  # type: ignore[attr-defined]
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"out-{job['node']}" / "hello").read_text() == "hi\n"


def test_nodes_only_offers_the_formats_it_has(app: typer.Typer) -> None:
    out = CliRunner().invoke(app, ["nodes", "--node", "name=a,platforms=linux/amd64", "--format", "dot"])
    assert out.exit_code == 2


def test_plan_with_an_unknown_builder_fails_instead_of_planning_on_this_machine(
        app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker: discovery reports it on the builder's row
    out = CliRunner().invoke(app, ["plan", "--builder", "nosuch"])
    assert out.exit_code == 1 and isinstance(out.exception, BakeplanError)
    assert "no usable node" in str(out.exception) and "nosuch (left out:" in str(out.exception)


def test_debug_is_accepted_after_the_command_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeplan.cli import main

    (tmp_path / "docker-bake.hcl").write_text('target "default" {\n  tags = [NOPE]\n}\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BakeplanError, match="docker-bake.hcl:2:11: Unknown variable"):
        main(["plan", "--node", "name=a,platforms=linux/amd64", "--debug"])


def test_builder_and_node_flags_together_are_ambiguous(app: typer.Typer) -> None:
    out = CliRunner().invoke(app, ["nodes", "--builder", "b", "--node", "name=a,platforms=linux/amd64"])
    assert out.exit_code == 1 and "--builder and --node both choose the nodes" in str(out.exception)


@pytest.mark.parametrize(("spec", "message"), [
    ("bad", "bad --node 'bad': 'bad' is not KEY=VALUE"),
    ("name=a,colour=red", "bad --node 'name=a,colour=red': unknown node field(s) colour"),
    ("name=a,memory=8x", "bad --node 'name=a,memory=8x': bad memory size '8x': invalid suffix: 'x'"),
])
def test_a_malformed_node_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           spec: str, message: str) -> None:
    from bakeplan.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docker-bake.hcl").write_text('target "default" {\n}\n')
    with pytest.raises(SystemExit) as done:
        main(["plan", "--node", spec])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")
