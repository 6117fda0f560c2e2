"""Platforms as buildx means them, against a real amd64 + arm64 pair of BuildKit daemons.

- A target without `platforms` builds for the builder's default platform (its
  first node's: amd64 here) wherever its job runs: bakeplan sets it
  explicitly. Checked in each exported image's config and in each daemon's
  build history (the `platform` frontend attribute of every build).
- A job whose Dockerfile runs steps only on `$BUILDPLATFORM` (it
  cross-compiles) may go to the idle amd64 node while the arm64 node is busy;
  its output is the same as when the arm64 node builds it, and its cache ref
  names the node platform it was filled on.
- A job that runs steps on its target platform is never sent to a node of
  another platform (these nodes list no emulated platforms).
- A job whose `resources.memory` is larger than a node's memory never goes
  there, even when that node is the only idle one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import infra
from tests.support.clusters import Cluster

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NODES = ("amd64", "arm64")


def declared(node_builders: dict[str, str]) -> list[str]:
    """The amd64 daemon first (the builder's default platform), then the arm64 one, one slot each."""
    return [arg for name in NODES for arg in ("--node", f"name={name},builder={node_builders[name]},platforms=linux/{name}")]


def bakeplan(cluster: Cluster, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(cwd / ".cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "bakeplan", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ran_on(cwd: Path) -> dict[str, str]:
    """Job id -> the node it ran on, from the latest run's state."""
    runs = cwd / ".bakeplan" / "runs"
    state = json.loads((runs / (runs / "latest").read_text().strip() / "state.json").read_text())
    return {job: str(step["node"]) for job, step in state["steps"].items() if step["status"] == "succeeded"}


def histories(cluster: Cluster, daemon: infra.Daemon) -> list[dict[str, str]]:
    """The frontend attributes of every build the daemon recorded."""
    out = subprocess.run([cluster.buildctl, "--addr", daemon.addr, "debug", "histories", "--format", "json"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    records = [json.loads(line).get("record", {}) for line in out.splitlines() if line.strip()]
    return [{str(k): str(v) for k, v in r.get("FrontendAttrs", {}).items()} for r in records]


def image_platform(layout: Path) -> str:
    """`os/architecture` from the config of the single image in an OCI layout."""
    def blob(digest: str) -> dict[str, object]:
        algorithm, hexa = digest.split(":", 1)
        return dict(json.loads((layout / "blobs" / algorithm / hexa).read_text()))

    index = json.loads((layout / "index.json").read_text())
    manifest = blob(index["manifests"][0]["digest"])
    if "manifests" in manifest:  # an index (attestations): the first image manifest
        manifest = blob(manifest["manifests"][0]["digest"])  # type: ignore[index]
    config = blob(manifest["config"]["digest"])  # type: ignore[index]
    return f"{config['os']}/{config['architecture']}"


PLATFORMLESS = """\
FROM scratch
ARG MARKER
COPY marker.txt /
LABEL marker=$MARKER
"""


def test_targets_without_platforms_build_the_builders_default_wherever_they_run(
        tmp_path: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]) -> None:
    marker = str(time.time_ns())
    names = [f"p{i}" for i in range(6)]
    (tmp_path / "Dockerfile").write_text(PLATFORMLESS)
    (tmp_path / "marker.txt").write_text(marker)
    (tmp_path / "docker-bake.hcl").write_text('group "default" { targets = [%s] }\n' % ", ".join(f'"{n}"' for n in names) + "".join(
        f'target "{n}" {{\n  args = {{ MARKER = "{marker}-{n}" }}\n  output = ["type=oci,dest=out/{n},tar=false"]\n}}\n'
        for n in names))
    plan = json.loads(bakeplan(buildkit_nodes, tmp_path, "plan", *declared(node_builders), "--format", "json").stdout)
    assert {job["id"]: job["default_platform"] for job in plan["jobs"]} == {f"{n}@linux/amd64": True for n in names}
    bakeplan(buildkit_nodes, tmp_path, "run", "--progress", "plain", *declared(node_builders))
    where = ran_on(tmp_path)
    assert set(where.values()) == set(NODES), where  # no RUN step: the jobs spread over both nodes
    for name in names:
        assert image_platform(tmp_path / "out" / name) == "linux/amd64", name
    # Each daemon built its share for linux/amd64, the arm64 one included.
    for daemon in buildkit_nodes.daemons:
        ours = [a for a in histories(buildkit_nodes, daemon) if a.get("build-arg:MARKER", "").startswith(marker)]
        assert ours and all(a.get("platform") == "linux/amd64" for a in ours), (daemon.name, ours)


CROSS = """\
FROM --platform=$BUILDPLATFORM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM tools AS build
ARG TARGETPLATFORM
ARG MARKER
RUN echo "$MARKER for $TARGETPLATFORM" > /out.txt

FROM scratch AS bin
COPY --from=build /out.txt /
"""

TARGET_STAGE = infra.BUSYBOX_BASE + """
FROM busybox AS img
ARG MARKER
ARG SLEEP=0
RUN sleep "$SLEEP" && echo "$MARKER" > /img.txt
"""

SPLIT = """\
group "default" { targets = ["busy", "img", "bin"] }
target "busy" {
  dockerfile = "Dockerfile.target"
  target     = "img"
  platforms  = ["linux/arm64"]
  args       = { MARKER = "%(marker)s-busy", SLEEP = "6" }
  output     = ["type=cacheonly"]
}
target "img" {
  dockerfile = "Dockerfile.target"
  target     = "img"
  platforms  = ["linux/arm64"]
  args       = { MARKER = "%(marker)s-img" }
  output     = ["type=cacheonly"]
}
target "bin" {
  dockerfile = "Dockerfile.cross"
  target     = "bin"
  platforms  = ["linux/arm64"]
  args       = { MARKER = "%(marker)s-bin" }
  output     = ["type=local,dest=out/bin"]
}
"""


def test_a_cross_compiling_arm64_job_runs_on_the_idle_amd64_node_and_a_target_stage_one_waits_for_arm64(
        tmp_path: Path, buildkit_nodes: Cluster, node_builders: dict[str, str],
        busybox_base: tuple[Callable[[Path], Path], str]) -> None:
    put_busybox, _ = busybox_base
    project = put_busybox(tmp_path / "project")
    marker = str(time.time_ns())
    (project / "Dockerfile.cross").write_text(CROSS)
    (project / "Dockerfile.target").write_text(TARGET_STAGE)
    (project / "docker-bake.hcl").write_text(SPLIT % {"marker": marker})
    nodes = declared(node_builders)
    plan = json.loads(bakeplan(buildkit_nodes, project, "plan", *nodes, "--format", "json").stdout)
    jobs = {job["id"]: job for job in plan["jobs"]}
    assert jobs["bin@linux/arm64"]["runs_on"] == [] and jobs["img@linux/arm64"]["runs_on"] == ["linux/arm64"]
    assert "cross-compiles on any node" in jobs["bin@linux/arm64"]["reason"]
    assert "RUN in stage 'busybox' runs on the target platform" in jobs["img@linux/arm64"]["reason"]
    assert {j: jobs[j]["node"] for j in jobs} == {"busy@linux/arm64": "arm64", "img@linux/arm64": "arm64",
                                                  "bin@linux/arm64": "amd64"}

    bakeplan(buildkit_nodes, project, "run", "--progress", "plain", *nodes, "--cache", "local:cache")
    assert ran_on(project) == {"busy@linux/arm64": "arm64", "img@linux/arm64": "arm64", "bin@linux/arm64": "amd64"}
    on_amd64 = (project / "out" / "bin" / "out.txt").read_text()
    assert on_amd64 == f"{marker}-bin for linux/arm64\n"
    # The cache filled on the amd64 node is named for it; the arm64 jobs' are not.
    assert sorted(p.name for p in (project / "cache").iterdir()) == [
        "bin-linux-arm64-on-linux-amd64", "busy-linux-arm64", "img-linux-arm64"]

    # Built by the arm64 node alone: the same output.
    (project / "out" / "bin" / "out.txt").unlink()
    bakeplan(buildkit_nodes, project, "run", "--progress", "plain", "--node",
             f"name=arm64,builder={node_builders['arm64']},platforms=linux/arm64", "bin")
    assert ran_on(project) == {"bin@linux/arm64": "arm64"}
    assert (project / "out" / "bin" / "out.txt").read_text() == on_amd64


def test_a_job_asking_for_more_memory_than_a_node_has_stays_off_it(
        tmp_path: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]) -> None:
    marker = str(time.time_ns())
    (tmp_path / "Dockerfile").write_text(PLATFORMLESS)
    (tmp_path / "marker.txt").write_text(marker)
    (tmp_path / "docker-bake.hcl").write_text("".join(
        f'target "{n}" {{\n  args = {{ MARKER = "{marker}-{n}" }}\n{extra}  output = ["type=oci,dest=out/{n},tar=false"]\n}}\n'
        for n, extra in (("heavy1", '  resources = { memory = "2g" }\n'), ("heavy2", '  resources = { memory = "2g" }\n'),
                         ("light", ""))) + 'group "default" { targets = ["heavy1", "heavy2", "light"] }\n')
    nodes = ["--node", f"name=amd64,builder={node_builders['amd64']},platforms=linux/amd64,memory=8g",
             "--node", f"name=arm64,builder={node_builders['arm64']},platforms=linux/arm64,memory=1g"]
    plan = json.loads(bakeplan(buildkit_nodes, tmp_path, "plan", *nodes, "--format", "json").stdout)
    jobs = {job["id"]: job for job in plan["jobs"]}
    assert "too little memory on arm64" in jobs["heavy1@linux/amd64"]["reason"]
    bakeplan(buildkit_nodes, tmp_path, "run", "--progress", "plain", *nodes)
    where = ran_on(tmp_path)
    # One slot each: the heavy jobs queue for amd64 although arm64 is idle; the light one may go anywhere.
    assert (where["heavy1@linux/amd64"], where["heavy2@linux/amd64"], where["light@linux/amd64"]) == ("amd64", "amd64", "arm64")
    assert all(image_platform(tmp_path / "out" / n) == "linux/amd64" for n in ("heavy1", "heavy2", "light"))
