"""`bakeplan run` against plain `docker buildx bake` on two real nodes serving the same platform (issue 8).

Setup (tests/support/infra.py): two rootful buildkitd daemons, both linux/amd64, each
limited to one build step at a time (`max-parallelism = 1` in buildkitd.toml,
standing for two separate machines); single-node builders `n1`, `n2` and a
two-node builder `both`.

The bake file is a base and 8 services reading it (`contexts = { base =
"target:base" }`): `base` is a busybox-static base + `RUN sleep 2`, each
service is `FROM base` + `RUN sleep 2`. Every measured run starts with both
daemons' caches pruned (`buildctl prune --all`) and uses a fresh build arg,
so nothing is cached, not even the busybox base.

- plain bake, two-node builder (`--builder both`): buildx sends every target
  to the first node that has the platform, so all 9 sleeps queue on `n1`;
- plain bake, one node (`--builder n1`);
- bakeplan run: nodes `n1`, `n2` declared with `slots` = 1 and 2, each twice
  from an empty duration history: a first run (every job estimated at the
  60 s default) and a second one that plans with what the first measured.
  Jobs on `n2` read the base's result handed over from `n1` (an OCI layout).

Reported: wall time and its ratio to plain bake (goal <= 0.6), and where the
time goes: the span of the builds, bakeplan's fixed overhead before the first
and after the last build, the mean idle gap on a node between one job's end
and the next start (dispatch latency), the mean job wall time and the base
job's (it also exports the hand-over copy), and the jobs per node.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import infra

ROOT = Path(__file__).resolve().parent.parent
SERVICES = 8
SLEEP = 2
PLATFORM = "linux/amd64"
NODES = ("n1", "n2")

BAKE = """
variable "MARKER" { default = "warm" }
target "base" {
  dockerfile = "base.Dockerfile"
  platforms = ["%(platform)s"]
  args = { MARKER = "${MARKER}" }
  output = ["type=cacheonly"]
}
target "svc" {
  name = "svc${i}"
  matrix = { i = [%(numbers)s] }
  dockerfile = "service.Dockerfile"
  contexts = { base = "target:base" }
  platforms = ["%(platform)s"]
  args = { MARKER = "${MARKER}-${i}" }
  output = ["type=cacheonly"]
}
group "default" { targets = [%(names)s] }
"""

BASE_DOCKERFILE = infra.BUSYBOX_BASE + f"""
FROM busybox
ARG MARKER
RUN echo "$MARKER" > /base && sleep {SLEEP}
"""

SERVICE_DOCKERFILE = f"""
FROM base
ARG MARKER
RUN echo "$MARKER" > /service && sleep {SLEEP}
"""


@dataclass(frozen=True)
class Row:
    """One measured run."""

    name: str
    wall: float
    steps: dict[str, dict[str, object]] = field(default_factory=dict)  # bakeplan's state.json "steps"
    launched: float = 0.0  # epoch seconds when the command started


@dataclass(frozen=True)
class Cluster:
    """The two daemons and the docker CLI whose builders reach them."""

    daemons: list[infra.Daemon]
    cli: infra.DockerCLI
    buildctl: str


def main() -> None:
    """Print the comparison table (or why the benchmark cannot run here)."""
    missing = _missing_tools()
    if missing:
        print(f"run_bench: skipped, missing: {', '.join(missing)} (run `make tools`)")
        return
    with tempfile.TemporaryDirectory(prefix="bpbench") as tmp:
        work = Path(tmp)
        daemons: list[infra.Daemon] = []
        try:
            daemons = _start_nodes(work)
            cluster = Cluster(daemons, _builders(work, daemons), str(infra.find_tool("buildctl")))
            project = _project(work)
            rows = [_plain(cluster, project, "both", "docker buildx bake (2-node builder)"),
                    _plain(cluster, project, "n1", "docker buildx bake (1 node)")]
            for slots in (1, 2):
                history = work / f"history-{slots}"
                for attempt in ("1st", "2nd"):
                    rows.append(_bakeplan(cluster, project, slots, history, attempt))
        finally:
            for daemon in daemons:
                daemon.process.stop()
    _table(rows)


def _missing_tools() -> list[str]:
    found = {name: infra.find_tool(name) for name in ("docker", "buildkitd", "buildctl", "runc")}
    missing = [name for name, path in found.items() if path is None]
    if not (ROOT / ".tools" / "docker" / "cli-plugins" / "docker-buildx").exists():
        missing.append("buildx plugin")
    if infra.find_busybox() is None:
        missing.append("busybox-static")
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def _start_nodes(work: Path) -> list[infra.Daemon]:
    config = infra.buildkitd_config(max_parallelism=1)
    buildkitd, buildctl = str(infra.find_tool("buildkitd")), str(infra.find_tool("buildctl"))
    return [infra.start_buildkitd(work / "bk", name, [PLATFORM], config_text=config, buildkitd=buildkitd,
                                  buildctl=buildctl) for name in NODES]


def _builders(work: Path, daemons: list[infra.Daemon]) -> infra.DockerCLI:
    plugin = ROOT / ".tools" / "docker" / "cli-plugins" / "docker-buildx"
    cli = infra.isolated_docker_config(work, str(infra.find_tool("docker")), plugin)
    for daemon in daemons:
        infra.create_builder(cli, daemon.name, [daemon])
    infra.create_builder(cli, "both", daemons)
    return cli


def _project(work: Path) -> Path:
    busybox = infra.find_busybox()
    assert busybox is not None
    project = infra.busybox_context(work / "project", busybox)
    numbers = range(1, SERVICES + 1)
    (project / "docker-bake.hcl").write_text(BAKE % {
        "platform": PLATFORM, "numbers": ", ".join(str(i) for i in numbers),
        "names": ", ".join(f'"svc{i}"' for i in numbers)})
    (project / "base.Dockerfile").write_text(BASE_DOCKERFILE)
    (project / "service.Dockerfile").write_text(SERVICE_DOCKERFILE)
    return project


def _cold(cluster: Cluster) -> None:
    """Prune every cache record of both daemons, so the next run builds everything."""
    for daemon in cluster.daemons:
        infra.prune_buildkitd(daemon, cluster.buildctl)


def _plain(cluster: Cluster, project: Path, builder: str, name: str) -> Row:
    _cold(cluster)
    argv = cluster.cli.argv("bake", "--builder", builder, "--progress", "plain", "--var", f"MARKER={builder}{time.time_ns()}")
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=project, env=cluster.cli.env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"docker buildx bake failed:\n{done.stdout}\n{done.stderr}")
    return Row(name, wall)


def _bakeplan(cluster: Cluster, project: Path, slots: int, history: Path, attempt: str) -> Row:
    """One `bakeplan run` from cold daemons; `history` carries durations from one run of a pair to the next."""
    _cold(cluster)
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(history), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    argv = [sys.executable, "-m", "bakeplan", "run", "--progress", "plain",
            "--var", f"MARKER=bp{slots}{attempt}-{time.time_ns()}"]
    for node in NODES:
        argv += ["--node", f"name={node},builder={node},platforms={PLATFORM},slots={slots}"]
    launched, started = time.time(), time.perf_counter()
    done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bakeplan run failed:\n{done.stdout}\n{done.stderr}")
    runs = project / ".bakeplan" / "runs"
    state = json.loads((runs / (runs / "latest").read_text().strip() / "state.json").read_text())
    return Row(f"bakeplan run (slots={slots}, {attempt} run)", wall, state["steps"], launched)


def _spans(row: Row) -> list[tuple[float, float, str, str]]:
    """(start, end, node, step id) of every step of a bakeplan run."""
    return [(float(str(s["started"])), float(str(s["finished"])), str(s["node"]), uid) for uid, s in row.steps.items()]


def _gaps(spans: list[tuple[float, float, str, str]]) -> list[float]:
    """Idle time on a node between a job's end and the next job's start there (per slot freed)."""
    gaps = []
    for node in sorted({n for _, _, n, _ in spans}):
        ends = sorted(e for _, e, n, _ in spans if n == node)
        starts = sorted(s for s, _, n, _ in spans if n == node)
        for start in starts[1:]:
            before = [e for e in ends if e <= start]
            if before:
                gaps.append(start - before[-1])
    return gaps


def _details(row: Row) -> str:
    """The bakeplan-only columns: builds span, fixed overhead, gap, job times, placement."""
    spans = _spans(row)
    first, last = min(s for s, _, _, _ in spans), max(e for _, e, _, _ in spans)
    gaps = _gaps(spans)
    base = next(e - s for s, e, _, uid in spans if uid.startswith("base@"))
    base_node = next(n for _, _, n, uid in spans if uid.startswith("base@"))
    handed = sum(1 for _, _, n, uid in spans if not uid.startswith("base@") and n != base_node)
    counts = ", ".join(f"{n}: {sum(1 for _, _, m, _ in spans if m == n)}" for n in NODES)
    return (f"{last - first:8.1f} {first - row.launched:6.2f} {row.launched + row.wall - last:6.2f} "
            f"{(statistics.fmean(gaps) if gaps else 0.0):6.2f} {statistics.fmean(e - s for s, e, _, _ in spans):6.2f} "
            f"{base:6.2f} {handed:>4}  {counts}")


def _table(rows: list[Row]) -> None:
    both, one = rows[0].wall, rows[1].wall
    ideal = SLEEP + SERVICES * SLEEP / len(NODES)
    print(f"base + {SERVICES} services (target: link), RUN sleep {SLEEP} each, 2 nodes ({PLATFORM}, "
          f"max-parallelism = 1 each), caches pruned before each run; ideal {ideal:.0f} s, serial {(SERVICES + 1) * SLEEP} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = (f"{'scenario':<36} {'wall s':>6} {'/2-node':>7} {'/1-node':>7} {'builds s':>8} {'start':>6} "
              f"{'end':>6} {'gap':>6} {'job s':>6} {'base s':>6} {'hand':>4}  placement")
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = f"{row.name:<36} {row.wall:6.1f} {row.wall / both:7.2f} {row.wall / one:7.2f}"
        print(cells + (" " + _details(row) if row.steps else ""))
    best = min(row.wall for row in rows if row.steps)
    print(f"goal: bakeplan / buildx <= 0.6: best {best / both:.2f} of the 2-node builder, {best / one:.2f} of one node "
          f"({'met' if best / min(both, one) <= 0.6 else 'NOT met'})")
    print("builds: first job start to last job end; start/end: bakeplan's own time before the first and after the last "
          "job (python, load, plan, checks / summary, exit); gap: mean idle time on a node between jobs; job s: mean "
          "job wall time; base s: the base job (with its hand-over export); hand: services that read the base handed "
          "over from another node")


if __name__ == "__main__":
    main()
