"""A node whose daemon dies in the middle of a run, against real buildkitd daemons.

Two daemons of one platform (`max-parallelism = 1`, like two build machines)
are started for each test alone, so killing one leaves the session's
`amd64_pair` alone. One is killed with SIGKILL (a crash: buildx's connection
breaks, `rpc error: code = Unavailable`) while it builds; the run goes on on
the other node, the lost job is built there, and the summary names the lost
node. Restarted on the same socket, a health probe finds it and it is used again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bakeplan.buildx import node_fault
from tests.support import infra
from tests.support.tools import missing

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent

SLEEPER = infra.BUSYBOX_BASE + """
FROM busybox
ARG MARKER
RUN echo "$MARKER" && sleep 2
"""

JOBS = """
target "job" {
  name = "job${i}"
  matrix = { i = [%(i)s] }
  platforms = ["linux/amd64"]
  args = { MARKER = "job${i}-%(m)s" }
  output = ["type=cacheonly"]
}
group "default" { targets = ["job"] }
"""


@pytest.fixture
def pair(tmp_path_factory: pytest.TempPathFactory, docker_cli: infra.DockerCLI) -> Iterator[dict[str, infra.Daemon]]:
    """Two fresh daemons `k1`, `k2` claiming linux/amd64, with builders `bp-k1`, `bp-k2`; stopped afterwards."""
    buildkitd, buildctl = infra.find_tool("buildkitd"), infra.find_tool("buildctl")
    for tool, path in (("buildkitd", buildkitd), ("buildctl", buildctl), ("runc", infra.find_tool("runc"))):
        if path is None:
            missing(tool)
    if os.geteuid() != 0:
        missing("root (rootful buildkitd)")
    assert buildkitd is not None and buildctl is not None
    daemons = infra.start_same_platform_nodes(tmp_path_factory.mktemp("bklive"), ["k1", "k2"], "linux/amd64",
                                              buildkitd=buildkitd, buildctl=buildctl, max_parallelism=1)
    running = {d.name: d for d in daemons}
    try:
        for daemon in daemons:
            infra.create_builder(docker_cli, f"bp-{daemon.name}", [daemon])
        yield running
    finally:
        for daemon in running.values():
            infra.remove_builder(docker_cli, f"bp-{daemon.name}")
            daemon.process.stop()


def crash(daemon: infra.Daemon) -> None:
    """SIGKILL the daemon's process group: it stops answering at once, as a crashed host does."""
    os.killpg(daemon.process.pid, signal.SIGKILL)
    daemon.process.stop()


def restart(daemon: infra.Daemon) -> infra.Daemon:
    """Start a killed daemon again with its root, socket and config (its builder finds it there)."""
    buildkitd, buildctl = infra.find_tool("buildkitd"), infra.find_tool("buildctl")
    assert buildkitd is not None and buildctl is not None
    config = daemon.config.read_text() if daemon.config is not None else ""
    return infra.start_buildkitd(daemon.root.parent.parent, daemon.name, daemon.platforms, buildkitd=buildkitd,
                                 buildctl=buildctl, config_text=config)


def start_run(project: Path, cli: infra.DockerCLI, jobs: int) -> subprocess.Popen[str]:
    """`bakeplan run` of `jobs` independent two-second jobs on k1 and k2, in the background."""
    (project / "Dockerfile").write_text(SLEEPER)
    (project / "docker-bake.hcl").write_text(JOBS % {"m": time.time_ns(), "i": ", ".join(map(str, range(1, jobs + 1)))})
    nodes = [arg for name in ("k1", "k2") for arg in ("--node", f"name={name},builder=bp-{name},platforms=linux/amd64,slots=1")]
    env = dict(cli.env, BAKEPLAN_CACHE_DIR=str(project / ".cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    return subprocess.Popen([sys.executable, "-m", "bakeplan", "run", "--progress", "plain", *nodes], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_k1_while_it_builds(proc: subprocess.Popen[str], project: Path, pair: dict[str, infra.Daemon],
                            started: float) -> float:
    """About 3 s in, once a job on k1 is in its RUN step (connected, building): crash k1; when that was (time.time()).

    A job only started (its `docker buildx bake` not yet connected) would reach a daemon restarted
    meanwhile and never see the crash: on a loaded machine that took a few hundred milliseconds.
    """
    while time.monotonic() - started < 3 or not any(
            s["status"] == "running" and s["node"] == "k1" and _in_run_step(s) for s in latest_steps(project).values()):
        assert proc.poll() is None and time.monotonic() - started < 60, proc.communicate()
        time.sleep(0.1)
    crash(pair["k1"])
    return time.time()


def _in_run_step(step: dict[str, object]) -> bool:
    """Whether the step's build log shows its `RUN echo ... && sleep 2` started (`#N [2/2] RUN ...`) and not done."""
    try:
        text = Path(str(step.get("log", ""))).read_text()
    except OSError:
        return False
    started = re.search(r"^(#\d+) \[[^\]]*\] RUN .*&& sleep 2", text, re.MULTILINE)
    return started is not None and f"{started.group(1)} DONE" not in text and f"{started.group(1)} CACHED" not in text


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for the run; its stdout and stderr (killed after 90 s)."""
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in err, err
    return out, err


def latest_steps(cwd: Path) -> dict[str, dict[str, object]]:
    runs = cwd / ".bakeplan" / "runs"
    try:
        folder = runs / (runs / "latest").read_text().strip()
        return dict(json.loads((folder / "state.json").read_text())["steps"])
    except (OSError, ValueError):
        return {}


def test_a_daemon_killed_mid_run_loses_no_job_and_the_summary_names_it(
    tmp_path: Path, busybox_base: tuple[Callable[[Path], Path], str], docker_cli: infra.DockerCLI,
    pair: dict[str, infra.Daemon],
) -> None:
    project = busybox_base[0](tmp_path / "project")
    started = time.monotonic()
    proc = start_run(project, docker_cli, 8)
    kill_k1_while_it_builds(proc, project, pair, started)
    out, err = finish(proc)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    steps = latest_steps(project)
    assert sorted(steps) == [f"job{i}@linux/amd64" for i in range(1, 9)]
    assert {s["status"] for s in steps.values()} == {"succeeded"}, out
    assert any("moved" in line and "off k1" in line for line in out.splitlines()), out  # a job was lost there
    lines = out.splitlines()
    (down,) = [line for line in lines if line.startswith("node k1 went down: ")]
    # The first run to notice names the fault: a build cut off (`Unavailable ... EOF`), or one that had just
    # started on k1 and never connected (`context deadline exceeded`); either is a node fault, not a build error.
    reason = down.removeprefix("node k1 went down: ")
    assert node_fault([f"ERROR: {reason}"]) == reason, down
    assert lines[-1] == "ok: 8 succeeded", out


def test_a_killed_daemon_that_comes_back_is_used_again(
    tmp_path: Path, busybox_base: tuple[Callable[[Path], Path], str], docker_cli: infra.DockerCLI,
    pair: dict[str, infra.Daemon],
) -> None:
    project = busybox_base[0](tmp_path / "project")
    started = time.monotonic()
    proc = start_run(project, docker_cli, 20)  # enough left to do when k1 is back, even on a loaded machine
    killed = kill_k1_while_it_builds(proc, project, pair, started)
    pair["k1"] = restart(pair["k1"])
    out, err = finish(proc)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    steps = latest_steps(project)
    assert {s["status"] for s in steps.values()} == {"succeeded"}, out
    again = [job for job, s in steps.items() if s["node"] == "k1" and float(str(s["started"])) > killed]
    assert again, out  # built on k1 after it came back
    downs = [line for line in out.splitlines() if line.startswith("node k1 went down: ")]
    assert len(downs) == 1, out
    assert downs[0].endswith("; back after a health probe"), downs[0]
