"""Two real buildkitd daemons on this machine share its capacity, in the plan and in the run (issue 9).

Every daemon the fixtures start runs here, so BuildKit's workers all report
this machine's hostname (`org.mobyproject.buildkit.worker.hostname`). Found
through buildx (no declared nodes), the two single-node builders are two
nodes on one host: together they run no more jobs at once than this
machine's usable cores, which each of them reports as its own slots.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bakeplan.nodes import usable_cores
from tests.support import infra
from tests.support.clusters import Cluster

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "run"


@pytest.fixture
def own_builders(buildkit_nodes: Cluster, tmp_path: Path) -> Iterator[infra.DockerCLI]:
    """A DOCKER_CONFIG holding only a single-node builder per daemon (`cap-amd64`, `cap-arm64`)."""
    plugin = buildkit_nodes.cli.config_dir / "cli-plugins" / "docker-buildx"
    cli = infra.isolated_docker_config(tmp_path / "cfg", buildkit_nodes.cli.docker, plugin)
    for daemon in buildkit_nodes.daemons:
        infra.create_builder(cli, f"cap-{daemon.name}", [daemon])
    yield cli
    for daemon in buildkit_nodes.daemons:
        infra.remove_builder(cli, f"cap-{daemon.name}")


def bake_file(project: Path, per_platform: int, sleep: int = 0) -> None:
    """`per_platform` independent targets for linux/amd64 and as many for linux/arm64."""
    blocks = [f'target "{arch}{i}" {{\n  dockerfile = "Dockerfile.busybox"\n  platforms = ["linux/{arch}"]\n'
              f'  args = {{ MARKER = "{arch}{i}", SLEEP = "{sleep}" }}\n  output = ["type=cacheonly"]\n}}\n'
              for arch in ("amd64", "arm64") for i in range(per_platform)]
    names = ", ".join(f'"{arch}{i}"' for arch in ("amd64", "arm64") for i in range(per_platform))
    (project / "docker-bake.hcl").write_text(f'group "default" {{\n  targets = [{names}]\n}}\n' + "".join(blocks))


def bakeplan(cli: infra.DockerCLI, project: Path, *args: str) -> str:
    env = dict(cli.env, BAKEPLAN_CACHE_DIR=str(project / ".cache"), PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "bakeplan", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans (start, end) open at any instant (one ending as another starts is not overlap)."""
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_two_daemons_reporting_one_hostname_share_its_capacity_in_the_plan(
    own_builders: infra.DockerCLI, tmp_path: Path,
) -> None:
    cores = usable_cores()
    project = tmp_path / "project"
    project.mkdir()
    bake_file(project, 2 * cores)  # unshared, each node's `cores` slots would halve the makespan
    nodes = {n["name"]: n for n in json.loads(bakeplan(own_builders, project, "nodes", "--format", "json"))}
    for name in ("cap-amd64", "cap-arm64"):
        assert (nodes[name]["excluded"], nodes[name]["host"], nodes[name]["slots"], nodes[name]["slots_source"],
                nodes[name]["memory_source"]) == (None, socket.gethostname(), cores, "detected", "detected")
    table = bakeplan(own_builders, project, "nodes")
    assert f"host {socket.gethostname()}: cap-amd64, cap-arm64 share its {cores} slots" in table
    plan = json.loads(bakeplan(own_builders, project, "plan", "--format", "json"))
    jobs = plan["jobs"]
    assert {j["node"] for j in jobs} == {"cap-amd64", "cap-arm64"} and len(jobs) == 4 * cores
    assert most_at_once([(j["start"], j["end"]) for j in jobs]) == cores
    assert plan["makespan"] == 4 * 60.0  # 4 x cores jobs of 60 s (no estimate yet) on `cores` shared slots
    assert plan["lower_bound"]["work"] == 4 * 60.0


def test_a_run_on_two_daemons_of_one_host_never_runs_more_jobs_than_its_cores(
    own_builders: infra.DockerCLI, tmp_path: Path, busybox_base: tuple[Callable[[Path], Path], str],
) -> None:
    cores = usable_cores()
    put_busybox, _ = busybox_base
    project = put_busybox(tmp_path / "project")
    shutil.copy(DATA / "Dockerfile.busybox", project / "Dockerfile.busybox")
    bake_file(project, cores, sleep=2)  # 2 x cores jobs of 2 s or more: unshared they would all run at once
    bakeplan(own_builders, project, "run", "--progress", "plain")
    runs = project / ".bakeplan" / "runs"
    steps = json.loads((runs / (runs / "latest").read_text().strip() / "state.json").read_text())["steps"]
    assert {s["status"] for s in steps.values()} == {"succeeded"} and len(steps) == 2 * cores
    assert {s["node"] for s in steps.values()} == {"cap-amd64", "cap-arm64"}
    assert most_at_once([(float(s["started"]), float(s["finished"])) for s in steps.values()]) == cores
