"""`bakeplan run` against real buildkitd daemons (see the fixtures in conftest.py).

Every test runs the real CLI in a subprocess, in a throwaway DOCKER_CONFIG, on
two daemons: `amd64` (claims linux/amd64) and `arm64` (claims linux/arm64).
Bake files are resolved with bakeplan's own reader unless the test says
`--loader buildx` (real buildx's --print), which keeps these tests about
running rather than about reading.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.support import infra
from tests.support.clusters import Cluster

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

DATA = Path(__file__).parent / "data" / "run"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, busybox_base: tuple[Callable[[Path], Path], str]) -> Path:
    """A build context with busybox and the test Dockerfiles."""
    put_busybox, _ = busybox_base
    context = put_busybox(tmp_path / "project")
    for name in ("Dockerfile.busybox", "Dockerfile.scratch", "hello.txt"):
        shutil.copy(DATA / name, context / name)
    return context


def node_flags(node_builders: dict[str, str], slots: int = 2) -> list[str]:
    """Declared nodes: one per daemon, through its single-node builder."""
    flags = []
    for arch, builder in sorted(node_builders.items()):
        flags += ["--node", f"name={arch},builder={builder},platforms=linux/{arch},slots={slots}"]
    return flags


def bakeplan(
    cluster: Cluster, cwd: Path, *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `bakeplan ARGS` for real (plain progress), in the cluster's DOCKER_CONFIG."""
    done = subprocess.run(
        [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", *args],
        cwd=cwd, env=run_env(cluster, cwd), capture_output=True, text=True, timeout=timeout, check=False,
    )
    if check:
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done


def run_env(cluster: Cluster, cwd: Path) -> dict[str, str]:
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(cwd / ".cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    return env


def latest_state(cwd: Path) -> dict[str, dict[str, object]]:
    runs = cwd / ".bakeplan" / "runs"
    state = json.loads((runs / (runs / "latest").read_text().strip() / "state.json").read_text())
    return dict(state["steps"])


def log_of(steps: dict[str, dict[str, object]], step: str) -> str:
    return Path(str(steps[step]["log"])).read_text()


def write_bake(cwd: Path, text: str) -> None:
    (cwd / "docker-bake.hcl").write_text(text)


def built_here(cluster: Cluster, daemon: infra.Daemon) -> set[tuple[str, str]]:
    """(MARKER build arg, platform) of every build the daemon's history records."""
    out = subprocess.run([cluster.buildctl, "--addr", daemon.addr, "debug", "histories", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        attrs = json.loads(line).get("record", {}).get("FrontendAttrs", {})
        found.add((attrs.get("build-arg:MARKER", ""), attrs.get("platform", "")))
    return found


TWO_PLATFORMS = """
target "hello" {
  dockerfile = "Dockerfile.busybox"
  platforms = ["linux/amd64", "linux/arm64"]
  args = { MARKER = "hello-%s" }
  output = ["type=local,dest=out"]
}
target "plain" {
  dockerfile = "Dockerfile.scratch"
  platforms = ["linux/arm64"]
  output = ["type=local,dest=out-plain"]
}
"""


def test_outputs_exist_and_each_platform_ran_on_its_node(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], tmp_path: Path
) -> None:
    marker = str(time.time_ns())
    write_bake(project, TWO_PLATFORMS % marker)
    bakeplan(buildkit_nodes, project, "--loader", "buildx", *node_flags(node_builders), "hello", "plain")
    # One job per platform, each on its own node, laid out as buildx lays out a multi-platform build.
    for arch in ("amd64", "arm64"):
        assert (project / "out" / f"linux_{arch}" / "out.txt").read_text() == f"hello-{marker} for linux/{arch}\n"
    steps = latest_state(project)
    assert {u: s["status"] for u, s in steps.items()} == {
        "hello@linux/amd64": "succeeded", "hello@linux/arm64": "succeeded", "plain@linux/arm64": "succeeded",
    }
    assert steps["hello@linux/amd64"]["node"] == "amd64"
    assert steps["hello@linux/arm64"]["node"] == "arm64"
    assert f'building with "{node_builders["arm64"]}"' in log_of(steps, "hello@linux/arm64")
    assert (project / "out-plain" / "hello.txt").read_text() == "hello\n"
    # Measured durations feed the scheduler's history.
    (history,) = (project / ".cache").glob("history-*.json")  # one history per project
    samples = json.loads(history.read_text())["samples"]
    assert {"hello|linux/amd64", "hello|linux/arm64", "plain|linux/arm64"} <= set(samples)
    # The daemons agree: each built only its own platform.
    amd = built_here(buildkit_nodes, buildkit_nodes.amd64)
    arm = built_here(buildkit_nodes, buildkit_nodes.arm64)
    assert (f"hello-{marker}", "linux/amd64") in amd and (f"hello-{marker}", "linux/arm64") not in amd
    assert (f"hello-{marker}", "linux/arm64") in arm and (f"hello-{marker}", "linux/amd64") not in arm


ONE_RUN = """
target "cached" {
  dockerfile = "Dockerfile.busybox"
  platforms = ["linux/amd64", "linux/arm64"]
  args = { MARKER = "cached-%s" }
}
"""


@pytest.mark.parametrize("backend", ["registry", "local"])
def test_second_run_hits_the_cache_through_computed_refs_even_after_prune(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry, backend: str
) -> None:
    marker = str(time.time_ns())
    write_bake(project, ONE_RUN % marker)
    where = registry.ref("cache/app") if backend == "registry" else str(project / "cache")
    cache = ["--cache", f"{backend}:{where}", "--cache-scope", "main"]
    bakeplan(buildkit_nodes, project, "--loader", "buildx", *node_flags(node_builders), *cache, "cached")
    first = latest_state(project)
    assert all(s["status"] == "succeeded" for s in first.values())
    if backend == "local":
        assert (project / "cache" / "main-cached-linux-arm64" / "index.json").exists()
    buildkit_nodes.prune()
    bakeplan(buildkit_nodes, project, "--loader", "buildx", *node_flags(node_builders), *cache, "cached")
    second = latest_state(project)
    for step in ("cached@linux/amd64", "cached@linux/arm64"):
        log = log_of(second, step)
        tag = f"main-cached-linux-{step.rsplit('/', 1)[1]}"
        source = f"{where}:{tag}" if backend == "registry" else "local:"
        assert f"importing cache manifest from {source}" in log, log
        run_step = [line for line in log.splitlines() if "RUN echo" in line]
        assert run_step, log
        number = run_step[0].split()[0]  # "#7"
        assert f"{number} CACHED" in log, log


FAILING = """
target "good" {
  dockerfile = "Dockerfile.busybox"
  args = { MARKER = "good-%(m)s" }
  platforms = ["linux/amd64"]
  tags = ["%(registry)s/failing/good:v1"]
}
target "bad" {
  dockerfile = "Dockerfile.busybox"
  args = { MARKER = "bad-%(m)s", FAIL = "%(fail)s" }
  platforms = ["linux/arm64"]
  output = ["type=cacheonly"]
}
target "child" {
  dockerfile = "Dockerfile.scratch"
  contexts = { base = "target:bad" }
  platforms = ["linux/arm64"]
  tags = ["%(registry)s/failing/child:v1"]
}
target "image" {
  dockerfile = "Dockerfile.busybox"
  args = { MARKER = "image-%(m)s", FAIL = "%(fail_image)s" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["%(registry)s/failing/image:v1"]
}
"""


def test_failure_skips_dependents_others_finish_and_resume_reruns_only_those(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry
) -> None:
    values = {"m": str(time.time_ns()), "fail": "all", "fail_image": "linux/arm64", "registry": registry.host}
    write_bake(project, FAILING % values)
    # The arm64 half of `image` fails: its merge is skipped; `bad` (only linked, a job of its
    # own) fails and its child is skipped, not run; `good` and image's amd64 half still finish.
    targets = ["good", "child", "image"]
    done = bakeplan(buildkit_nodes, project, "--loader", "buildx", "--push", *node_flags(node_builders), *targets,
                    check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    first = latest_state(project)
    assert {u: s["status"] for u, s in first.items()} == {
        "good@linux/amd64": "succeeded",
        "bad@linux/arm64": "failed",
        "child@linux/arm64": "skipped",
        "image@linux/amd64": "succeeded",
        "image@linux/arm64": "failed",
        "merge:image": "skipped",
    }
    assert first["child@linux/arm64"]["reason"] == "bad@linux/arm64 failed"
    assert first["merge:image"]["reason"] == "image@linux/arm64 failed"
    assert not first["child@linux/arm64"]["log"]  # never started
    assert "FAILED" in done.stdout and "merge:image" in done.stdout  # the summary table
    started_good = first["good@linux/amd64"]["started"]
    values.update(fail="none", fail_image="none")
    write_bake(project, FAILING % values)
    done = bakeplan(buildkit_nodes, project, "--loader", "buildx", "--push", "--resume", *node_flags(node_builders),
                    *targets)
    second = latest_state(project)
    assert all(s["status"] == "succeeded" for s in second.values()), second
    assert second["good@linux/amd64"]["started"] == started_good  # not rerun
    assert second["image@linux/amd64"]["started"] == first["image@linux/amd64"]["started"]
    starts = re.findall(r"\] start\s+(\S+)", done.stdout)
    assert sorted(starts) == ["bad@linux/arm64", "child@linux/arm64", "image@linux/arm64", "merge:image"]
    # The merge tagged the amd64 digest recorded by the first run next to the new arm64 one.
    assert second["image@linux/amd64"]["result"] == first["image@linux/amd64"]["result"]
    assert merged_digests(buildkit_nodes, registry.ref("failing/image:v1")) == {
        digest_result(second, f"image@linux/{arch}") for arch in ("amd64", "arm64")}


def digest_result(steps: dict[str, dict[str, object]], step: str) -> str:
    """The pushed digest a job recorded for the merge."""
    result = steps[step]["result"]
    assert isinstance(result, dict) and str(result.get("digest", "")).startswith("sha256:"), steps[step]
    return str(result["digest"])


def merged_digests(cluster: Cluster, ref: str) -> set[str]:
    """The manifests a pushed index lists."""
    index = json.loads(cluster.cli.run("imagetools", "inspect", "--raw", ref).stdout)
    return {m["digest"] for m in index["manifests"]}


MERGED = """
target "multi" {
  dockerfile = "Dockerfile.busybox"
  args = { MARKER = "multi-%(m)s" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["%(registry)s/merged/multi:v1", "%(registry)s/merged/multi:latest"]
}
"""


def test_multi_node_platforms_merge_into_one_pushed_image(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry
) -> None:
    write_bake(project, MERGED % {"m": str(time.time_ns()), "registry": registry.host})
    bakeplan(buildkit_nodes, project, "--loader", "buildx", "--push", *node_flags(node_builders), "multi")
    steps = latest_state(project)
    assert steps["multi@linux/amd64"]["node"] == "amd64" and steps["multi@linux/arm64"]["node"] == "arm64"
    for tag in ("v1", "latest"):
        raw = buildkit_nodes.cli.run("imagetools", "inspect", "--raw", registry.ref(f"merged/multi:{tag}")).stdout
        index = json.loads(raw)
        platforms = sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"])
        assert platforms == ["linux/amd64", "linux/arm64"]
        # Exactly the images the two jobs pushed by digest.
        assert {m["digest"] for m in index["manifests"]} == {
            digest_result(steps, f"multi@linux/{arch}") for arch in ("amd64", "arm64")}


SLOW = """
target "slow" {
  dockerfile = "Dockerfile.busybox"
  args = { MARKER = "slow-%s", SLEEP = "60" }
  platforms = ["linux/amd64", "linux/arm64"]
}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_every_child_records_state_and_exits_130(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], sig: signal.Signals
) -> None:
    write_bake(project, SLOW % time.time_ns())
    argv = [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", "--loader", "buildx",
            *node_flags(node_builders), "slow"]
    proc = subprocess.Popen(argv, cwd=project, env=run_env(buildkit_nodes, project),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        children = _wait_for_children(proc.pid, count=2)
        time.sleep(2)  # let buildx reach the RUN step
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    steps = latest_state(project)
    assert {s["status"] for s in steps.values()} == {"cancelled"}


def _wait_for_children(pid: int, count: int, timeout: float = 60) -> list[psutil.Process]:
    """The `docker buildx bake` descendants of pid, once `count` of them run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in psutil.Process(pid).children(recursive=True) if "bake" in " ".join(_cmdline(p))]
        if len([p for p in found if _cmdline(p)[:1] and _cmdline(p)[0].endswith("docker")]) >= count:
            return list(psutil.Process(pid).children(recursive=True))
        time.sleep(0.1)
    raise AssertionError("bakeplan did not start its builds")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return [str(arg) for arg in process.cmdline()]
    except psutil.Error:
        return []


def test_remote_nodes_of_a_multi_node_builder_get_single_node_builders(
    project: Path, buildkit_nodes: Cluster, two_node_builder: str
) -> None:
    write_bake(project, TWO_PLATFORMS % time.time_ns())
    bakeplan(buildkit_nodes, project, "--builder", two_node_builder, "--loader", "buildx", "hello")
    steps = latest_state(project)
    for arch in ("amd64", "arm64"):
        own = f"bakeplan-{two_node_builder}-{two_node_builder}-{arch}"
        assert steps[f"hello@linux/{arch}"]["node"] == f"{two_node_builder}/{two_node_builder}-{arch}"
        assert f'building with "{own}"' in log_of(steps, f"hello@linux/{arch}")
    listing = buildkit_nodes.cli.run("ls").stdout
    assert f"bakeplan-{two_node_builder}-{two_node_builder}-arm64" in listing


def test_bakeplan_reads_the_bake_file_itself(
    project: Path, buildkit_nodes: Cluster, node_builders: dict[str, str]
) -> None:
    marker = str(time.time_ns())
    write_bake(project, """
variable "MARK" { default = "own" }
target "own" {
  name = "own-${arch}"
  matrix = { arch = ["amd64", "arm64"] }
  dockerfile = "Dockerfile.busybox"
  platforms = ["linux/${arch}"]
  args = { MARKER = "${MARK}-%s" }
  output = ["type=local,dest=out-${arch}"]
}
""" % marker)
    bakeplan(buildkit_nodes, project, *node_flags(node_builders), "own")
    for arch in ("amd64", "arm64"):
        assert (project / f"out-{arch}" / "out.txt").read_text() == f"own-{marker} for linux/{arch}\n"
    assert latest_state(project)["own-arm64@linux/arm64"]["node"] == "arm64"
