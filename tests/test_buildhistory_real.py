"""A project built once with plain `docker buildx bake` plans with the durations BuildKit recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clusters import Cluster

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent

BAKE = """\
group "default" { targets = ["slow", "quick"] }
target "slow" {
  target = "slow"
  platforms = ["linux/amd64"]
}
target "quick" { target = "quick" }
target "never" { target = "never" }
"""


def dockerfile(prelude: str, token: str) -> str:
    # A token per test run, so no daemon has these steps cached from an earlier session.
    return prelude + f"""\
FROM busybox AS slow
RUN sleep 1 && echo {token} > /slow
FROM busybox AS quick
RUN echo {token} > /quick
FROM busybox AS never
RUN echo {token} > /never
"""


@pytest.fixture
def built(tmp_path: Path, buildkit_nodes: Cluster, node_builders: dict[str, str],
          busybox_base: tuple[Callable[[Path], Path], str]) -> Path:
    """A bake project built once on the amd64 node with plain `docker buildx bake`."""
    put_busybox, prelude = busybox_base
    project = put_busybox(tmp_path / "project")
    (project / "Dockerfile").write_text(dockerfile(prelude, tmp_path.name))
    (project / "docker-bake.hcl").write_text(BAKE)
    cli = buildkit_nodes.cli
    done = subprocess.run([cli.docker, "buildx", "bake", "--builder", node_builders["amd64"]], cwd=project,
                          env=cli.env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return project


def plan(cluster: Cluster, project: Path, builder: str, *args: str) -> str:
    node = f"name=amd64,builder={builder},platforms=linux/amd64"
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(project.parent / "cache"), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "bakeplan", "plan", "--node", node, *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_project_built_once_plans_with_the_durations_buildkit_recorded(
        built: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]) -> None:
    data = json.loads(plan(buildkit_nodes, built, node_builders["amd64"], "--format", "json", "slow", "quick", "never"))
    spans = {job["id"]: job["end"] - job["start"] for job in data["jobs"]}
    # `slow` sleeps 1 s after installing busybox: a few seconds at most, nowhere near the 60 s default.
    assert 1.0 <= spans["slow@linux/amd64"] < 15.0, spans
    assert 0.0 < spans["quick@linux/amd64"] < spans["slow@linux/amd64"], spans
    assert spans["never@linux/amd64"] == 60.0  # never built: no record, the default


def test_the_plan_says_how_many_estimates_came_from_the_builders(
        built: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]) -> None:
    table = plan(buildkit_nodes, built, node_builders["amd64"], "slow", "quick", "never")
    assert "2 of 3 estimates from the builders' build history" in table


def test_another_builder_without_records_gives_the_default(
        built: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]) -> None:
    """The arm64 daemon never built this project: its history has nothing for it."""
    data = json.loads(plan(buildkit_nodes, built, node_builders["arm64"], "--format", "json"))
    assert {job["end"] - job["start"] for job in data["jobs"]} == {60.0}
