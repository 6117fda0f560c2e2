"""Two daemons on one machine: per-node slots against the host's shared slots (issue 9, capacity).

Setup (tests/support/infra.py): two fresh rootful buildkitd daemons `h1`, `h2` on
this machine, both linux/amd64, no `max-parallelism` limit, a single-node
builder of each name in a throwaway DOCKER_CONFIG. Both BuildKit workers
report this machine's hostname. The jobs are CPU-bound (a busybox shell loop
of fixed work, LOOP iterations), so how many run at once decides how long
each takes.

Two ways to see the cluster, each with a fresh history:

- per-node slots (bakeplan before issue 9): `--node h1,...,slots=CORES` and
  the same for h2, what discovery gave every node: 2 x CORES jobs at once;
- shared host (discovery now, no `--node`): both nodes share this machine's
  CORES slots.

Each first runs all 4 x CORES jobs (the history learns their durations at
that concurrency), then plans and runs CORES of them (`--only`), which fit
on the host at once either way. Reported: wall time and the most jobs
running at once in the full run, and the subset's planned against actual
makespan: durations learned while the host was oversubscribed make the
per-node plan expect the subset to take as long as it did in the crowd.
The jobs compete for the CPU with everything else on the machine: the
planned-against-actual figures mean something only on an otherwise idle
machine (the table prints the load average).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bakeplan.nodes import usable_cores
from bench.liveness_bench import BAKE, Cluster, latest_steps, left_behind, prune, start_cluster
from bench.run_bench import _missing_tools
from tests.support import infra

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = "linux/amd64"
NODES = ("h1", "h2")
LOOP = 600_000  # shell loop iterations per job: about 2 s of one core here when idle

DOCKERFILE = infra.BUSYBOX_BASE + f"""
FROM busybox
ARG MARKER
RUN echo "$MARKER" && i=0 && while [ $i -lt {LOOP} ]; do i=$((i+1)); done
"""


@dataclass(frozen=True)
class Row:
    """One way of seeing the nodes, measured."""

    name: str
    full_wall: float
    full_peak: int  # most jobs running at once in the full run
    planned: float  # the subset's planned makespan, with the full run's history
    actual: float  # the subset's makespan: first job start to last job end


def main() -> None:
    """Print the table (or why the benchmark cannot run here)."""
    missing = _missing_tools()
    if missing:
        print(f"capacity_bench: skipped, missing: {', '.join(missing)} (run `make tools`)")
        return
    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="bpcapacity") as tmp:
        work = Path(tmp)
        cluster: Cluster | None = None
        try:
            cluster = start_cluster(work, NODES, max_parallelism=None)  # h1, h2 without a parallelism limit
            project = _project(work, 4 * cores)
            per_node = [a for n in NODES for a in ("--node", f"name={n},builder={n},platforms={PLATFORM},slots={cores}")]
            rows = [_measure(cluster, project, work / "cache-per-node", "per-node slots (before)", per_node, cores),
                    _measure(cluster, project, work / "cache-shared", "shared host (discovered)", [], cores)]
        finally:
            if cluster is not None:
                for daemon in cluster.daemons.values():
                    daemon.process.stop()
        left = left_behind(work, cluster)
    _table(rows, cores, left)


def _project(work: Path, jobs: int) -> Path:
    busybox = infra.find_busybox()
    assert busybox is not None
    project = infra.busybox_context(work / "project", busybox)
    (project / "docker-bake.hcl").write_text(BAKE % {"numbers": ", ".join(map(str, range(jobs))), "platform": PLATFORM})
    (project / "Dockerfile").write_text(DOCKERFILE)
    return project


def _measure(cluster: Cluster, project: Path, cache: Path, name: str, nodes: list[str], cores: int) -> Row:
    """The full run (to learn), then the subset planned and run."""
    prune(cluster)
    started = time.monotonic()
    _bakeplan(cluster, project, cache, "run", "--progress", "plain", "--var", _marker("full"), *nodes)
    full_wall = time.monotonic() - started
    full = latest_steps(project)
    subset = [arg for i in range(cores) for arg in ("--only", f"i={i}")]
    marker = _marker("subset")
    plan = json.loads(_bakeplan(cluster, project, cache, "plan", "--format", "json", "--var", marker, *subset, *nodes))
    prune(cluster)
    _bakeplan(cluster, project, cache, "run", "--progress", "plain", "--var", marker, *subset, *nodes)
    return Row(name, full_wall, _peak(full), float(plan["makespan"]), _makespan(latest_steps(project)))


def _marker(tag: str) -> str:
    return f"MARKER={tag}{time.time_ns()}"


def _bakeplan(cluster: Cluster, project: Path, cache: Path, *args: str) -> str:
    """The stdout of `bakeplan ARGS` in the project, raising on failure."""
    env = dict(cluster.cli.env, BAKEPLAN_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    done = subprocess.run([sys.executable, "-m", "bakeplan", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bakeplan {' '.join(args[:1])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _spans(steps: dict[str, dict[str, object]]) -> list[tuple[float, float]]:
    return [(float(str(s["started"])), float(str(s["finished"]))) for s in steps.values()]


def _peak(steps: dict[str, dict[str, object]]) -> int:
    spans = _spans(steps)
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def _makespan(steps: dict[str, dict[str, object]]) -> float:
    spans = _spans(steps)
    return max(e for _, e in spans) - min(s for s, _ in spans)


def _table(rows: list[Row], cores: int, left: list[str]) -> None:
    load = os.getloadavg()[0]
    print(f"{4 * cores} CPU-bound jobs ({LOOP:,} shell-loop iterations each) on 2 daemons of this {cores}-core machine "
          f"({PLATFORM}); then {cores} of them; caches pruned before each run; load average {load:.1f}")
    print(f"{'nodes seen as':<26} {'full wall s':>11} {'at once':>7} {'subset planned s':>16} {'actual s':>8} "
          f"{'error':>7}")
    print("-" * 80)
    for row in rows:
        error = (row.actual - row.planned) / row.planned if row.planned > 0 else float("nan")
        print(f"{row.name:<26} {row.full_wall:>11.1f} {row.full_peak:>7d} {row.planned:>16.1f} {row.actual:>8.1f} "
              f"{error:>+7.1%}")
    print("at once: the most jobs running together in the full run; planned: `bakeplan plan` of the subset with the "
          "full run's history; actual: its run's first job start to last job end; error: (actual - planned) / planned")
    print(f"left behind after stopping the daemons: {', '.join(left) or 'nothing (no daemon, no mount)'}")
