"""`bakeplan run` when a node dies in the middle of the run, against the same run without a failure (issue 9).

Setup (tests/support/infra.py, as tests/test_liveness_real.py): two rootful buildkitd
daemons of this benchmark's own, both linux/amd64, each limited to one build
step at a time (`max-parallelism = 1`); single-node builders `n1`, `n2`,
declared to bakeplan as nodes with `slots` = 1.

The bake file is 12 independent jobs (a matrix), each a busybox-static base +
`RUN sleep 2` with its own fresh build arg. Both runs start with both daemons'
caches pruned (`buildctl prune --all`) and from an empty duration history:

- no failure: both nodes stay up;
- node loss: `n1` is killed with SIGKILL (its process group, as a crashed
  host) 5 s into the run, once a job runs there; the run goes on on `n2`.

Reported: wall time of each run and their ratio, when `n1` died, how many
jobs were lost on it and built again elsewhere (the run's `moved` lines),
where the jobs ended up, and that every job succeeded with exit 0. Every
daemon is stopped at the end (`Process.stop()` also unmounts what a killed
daemon left below its `--root`); the table's last line says whether any
daemon process or mount was left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.run_bench import _missing_tools
from tests.support import infra

ROOT = Path(__file__).resolve().parent.parent
JOBS = 12
SLEEP = 2
KILL_AFTER = 5.0
PLATFORM = "linux/amd64"
NODES = ("n1", "n2")

BAKE = """
variable "MARKER" { default = "warm" }
target "job" {
  name = "job${i}"
  matrix = { i = [%(numbers)s] }
  platforms = ["%(platform)s"]
  args = { MARKER = "job${i}-${MARKER}" }
  output = ["type=cacheonly"]
}
group "default" { targets = ["job"] }
"""

DOCKERFILE = infra.BUSYBOX_BASE + f"""
FROM busybox
ARG MARKER
RUN echo "$MARKER" && sleep {SLEEP}
"""


@dataclass(frozen=True)
class Cluster:
    """The daemons (by node name) and the docker CLI whose builders `n1`, `n2` reach them."""

    daemons: dict[str, infra.Daemon]
    cli: infra.DockerCLI
    buildctl: str


@dataclass(frozen=True)
class Row:
    """One measured run."""

    name: str
    wall: float
    exit_code: int
    steps: dict[str, dict[str, object]]
    moved: int  # jobs lost on a node that went down and built again elsewhere
    killed_at: float | None  # seconds after the launch when n1 was killed
    down: str  # the summary's `node n1 went down: ...` line, if any


def main() -> None:
    """Print the table (or why the benchmark cannot run here)."""
    missing = _missing_tools()
    if missing:
        print(f"liveness_bench: skipped, missing: {', '.join(missing)} (run `make tools`)")
        return
    with tempfile.TemporaryDirectory(prefix="bplive") as tmp:
        work = Path(tmp)
        cluster: Cluster | None = None
        try:
            cluster = start_cluster(work)
            project = _project(work)
            rows = [_run(cluster, project, work / "history-ok", kill=False),
                    _run(cluster, project, work / "history-kill", kill=True)]
        finally:
            if cluster is not None:
                for daemon in cluster.daemons.values():
                    daemon.process.stop()
        left = left_behind(work, cluster)
    _table(rows, left)


def start_cluster(work: Path, names: Sequence[str] = NODES, *, max_parallelism: int | None = 1) -> Cluster:
    """Fresh linux/amd64 daemons (`n1`, `n2`, max-parallelism 1 by default) and a builder of each name."""
    buildkitd, buildctl = str(infra.find_tool("buildkitd")), str(infra.find_tool("buildctl"))
    daemons = infra.start_same_platform_nodes(work / "bk", list(names), PLATFORM, buildkitd=buildkitd,
                                              buildctl=buildctl, max_parallelism=max_parallelism)
    try:
        plugin = ROOT / ".tools" / "docker" / "cli-plugins" / "docker-buildx"
        cli = infra.isolated_docker_config(work, str(infra.find_tool("docker")), plugin)
        for daemon in daemons:
            infra.create_builder(cli, daemon.name, [daemon])
    except BaseException:
        for daemon in daemons:
            daemon.process.stop()
        raise
    return Cluster({d.name: d for d in daemons}, cli, buildctl)


def left_behind(work: Path, cluster: Cluster | None) -> list[str]:
    """Daemon processes still alive and mounts still below `work` (both should be none)."""
    alive = [f"buildkitd {name} (pid {d.process.pid})" for name, d in (cluster.daemons if cluster else {}).items()
             if d.process.alive()]
    prefix = str(work.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if len(line.split()) > 1]
    except OSError:
        mounts = []
    return alive + [f"mount {point}" for point in mounts if point.startswith(prefix)]


def node_args(slots: int = 1) -> list[str]:
    """`--node` flags declaring `n1`, `n2` to bakeplan."""
    return [arg for node in NODES for arg in ("--node", f"name={node},builder={node},platforms={PLATFORM},slots={slots}")]


def bakeplan_env(cluster: Cluster, history: Path) -> dict[str, str]:
    """The environment of a `bakeplan` child: the isolated docker config, its own history directory."""
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(history), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    return env


def latest_steps(project: Path) -> dict[str, dict[str, object]]:
    """The `steps` of the project's latest run's state.json (empty while there is none)."""
    runs = project / ".bakeplan" / "runs"
    try:
        folder = runs / (runs / "latest").read_text().strip()
        return dict(json.loads((folder / "state.json").read_text())["steps"])
    except (OSError, ValueError, KeyError):
        return {}


def prune(cluster: Cluster) -> None:
    """Drop every cache record of every live daemon, so the next run builds everything."""
    for daemon in cluster.daemons.values():
        if daemon.process.alive():
            infra.prune_buildkitd(daemon, cluster.buildctl)


def _project(work: Path) -> Path:
    busybox = infra.find_busybox()
    assert busybox is not None
    project = infra.busybox_context(work / "project", busybox)
    (project / "Dockerfile").write_text(DOCKERFILE)
    (project / "docker-bake.hcl").write_text(BAKE % {
        "platform": PLATFORM, "numbers": ", ".join(str(i) for i in range(1, JOBS + 1))})
    return project


def _run(cluster: Cluster, project: Path, history: Path, *, kill: bool) -> Row:
    """One `bakeplan run` of the 12 jobs from pruned caches; with `kill`, n1 is SIGKILLed 5 s in."""
    prune(cluster)
    argv = [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", "--var",
            f"MARKER={'kill' if kill else 'ok'}{time.time_ns()}", *node_args()]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=project, env=bakeplan_env(cluster, history), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    killed_at = None
    try:
        if kill:
            killed_at = _kill_n1(cluster, project, proc, started)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0 or "Traceback" in err:
        raise RuntimeError(f"bakeplan run failed ({proc.returncode}):\n{out}\n{err}")
    lines = out.splitlines()
    moved = sum(1 for line in lines if "] moved " in line)
    down = next((line for line in lines if line.startswith("node n1 went down: ")), "")
    name = f"n1 SIGKILLed {KILL_AFTER:.0f} s in" if kill else "no failure"
    return Row(name, wall, proc.returncode, latest_steps(project), moved, killed_at, down)


def _kill_n1(cluster: Cluster, project: Path, proc: subprocess.Popen[str], started: float) -> float:
    """Once 5 s have passed and a job runs on n1: SIGKILL n1's process group; seconds since the launch."""
    while time.perf_counter() - started < KILL_AFTER or not any(
            s.get("status") == "running" and s.get("node") == "n1" for s in latest_steps(project).values()):
        if proc.poll() is not None or time.perf_counter() - started > 60:
            raise RuntimeError("the run ended (or took a minute) before a job ran on n1 after 5 s")
        time.sleep(0.05)
    daemon = cluster.daemons["n1"]
    os.killpg(daemon.process.pid, signal.SIGKILL)
    killed = time.perf_counter() - started
    daemon.process.stop()  # reaps it and unmounts what it left below its --root
    return killed


def _table(rows: list[Row], left: list[str]) -> None:
    ok, lost = rows
    ideal = JOBS * SLEEP / len(NODES)
    print(f"{JOBS} independent jobs (busybox base + RUN sleep {SLEEP}), 2 nodes ({PLATFORM}, max-parallelism = 1, "
          f"slots = 1), caches pruned before each run; ideal {ideal:.0f} s on 2 nodes, {JOBS * SLEEP} s on one; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = (f"{'scenario':<22} {'wall s':>6} {'/no fail':>8} {'killed at':>9} {'moved':>5} {'succeeded':>9} "
              f"{'exit':>4}  placement")
    print(header)
    print("-" * len(header))
    for row in rows:
        succeeded = sum(1 for s in row.steps.values() if s.get("status") == "succeeded")
        placement = ", ".join(f"{n}: {sum(1 for s in row.steps.values() if s.get('node') == n)}" for n in NODES)
        killed = f"{row.killed_at:8.1f}s" if row.killed_at is not None else f"{'-':>9}"
        print(f"{row.name:<22} {row.wall:6.1f} {row.wall / ok.wall:8.2f} {killed} {row.moved:>5} "
              f"{succeeded:>4} / {len(row.steps):<2} {row.exit_code:>4}  {placement}")
    every = all(r.exit_code == 0 and len(r.steps) == JOBS and all(s.get("status") == "succeeded" for s in r.steps.values())
                for r in rows)
    print(f"node loss costs {lost.wall - ok.wall:+.1f} s ({lost.wall / ok.wall:.2f}x the run without failure); "
          f"every job succeeded, exit 0: {'yes' if every else 'NO'}")
    if lost.down:
        print(f"summary: {lost.down}")
    print(f"left behind after stopping the daemons: {', '.join(left) if left else 'nothing (no daemon, no mount)'}")
    print("moved: jobs lost on n1 when it died and built again on n2; placement: where each job finally ran")


if __name__ == "__main__":
    main()
