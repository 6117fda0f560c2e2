"""How close `bakeplan plan`'s makespan comes to the run's, once it has a history (issue 9).

Setup (tests/support/infra.py, as bench/liveness_bench.py): two fresh rootful
buildkitd daemons, both linux/amd64, `max-parallelism = 1`; builders `n1`,
`n2`, declared to bakeplan as nodes with `slots` = 1.

The bake file is a base and 6 services reading it (`contexts = { base =
"target:base" }`), each target with its own `RUN sleep` (SLEEPS). Every run
starts with both daemons' caches pruned (`buildctl prune --all`) and uses a
fresh build arg; the duration history starts empty (`BAKEPLAN_CACHE_DIR` a
fresh temporary directory):

- 1st run: every job estimated at the 60 s default;
- `bakeplan plan --format json` with what the 1st run measured: its
  `makespan` is the planned one;
- 2nd run, same history: its actual makespan is first job start to last job
  end (state.json), set against the plan's (goal: within 15 %);
- `bakeplan plan` (table) after both runs: its `estimates on the last ...` line.
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

from bench.liveness_bench import Cluster, bakeplan_env, latest_steps, left_behind, node_args, prune, start_cluster
from bench.run_bench import _missing_tools
from tests.support import infra

PLATFORM = "linux/amd64"
SLEEPS = {"base": 2, "svc1": 1, "svc2": 4, "svc3": 2, "svc4": 6, "svc5": 3, "svc6": 5}
GOAL = 0.15

TARGET = """
target "%(name)s" {
  dockerfile = "%(dockerfile)s"
  platforms = ["%(platform)s"]
  args = { MARKER = "%(name)s-${MARKER}", SLEEP = "%(sleep)d" }
  output = ["type=cacheonly"]%(contexts)s
}
"""

BASE_DOCKERFILE = infra.BUSYBOX_BASE + """
FROM busybox
ARG MARKER
ARG SLEEP
RUN echo "$MARKER" > /base && sleep "$SLEEP"
"""

SERVICE_DOCKERFILE = """
FROM base
ARG MARKER
ARG SLEEP
RUN echo "$MARKER" > /service && sleep "$SLEEP"
"""


@dataclass(frozen=True)
class Run:
    """One measured `bakeplan run`."""

    name: str
    wall: float
    makespan: float  # first job start to last job end
    placement: str


def main() -> None:
    """Print the table (or why the benchmark cannot run here)."""
    missing = _missing_tools()
    if missing:
        print(f"estimate_bench: skipped, missing: {', '.join(missing)} (run `make tools`)")
        return
    with tempfile.TemporaryDirectory(prefix="bpestimate") as tmp:
        work = Path(tmp)
        history = work / "history"  # empty: the 1st run has nothing to go by
        cluster: Cluster | None = None
        try:
            cluster = start_cluster(work)
            project = _project(work)
            first = _run(cluster, project, history, "1st run (empty history)", _marker("a"))
            marker = _marker("b")
            planned_json = json.loads(_bakeplan(cluster, project, history, "plan", "--format", "json", "--var", marker))
            planned = float(planned_json["makespan"])
            second = _run(cluster, project, history, "2nd run (1 run of history)", marker)
            table = _bakeplan(cluster, project, history, "plan", "--var", _marker("c"))
            recorded = _recorded(history)
        finally:
            if cluster is not None:
                for daemon in cluster.daemons.values():
                    daemon.process.stop()
        left = left_behind(work, cluster)
    _table(first, second, planned, table, recorded, left)


def _marker(tag: str) -> str:
    return f"MARKER={tag}{time.time_ns()}"


def _project(work: Path) -> Path:
    busybox = infra.find_busybox()
    assert busybox is not None
    project = infra.busybox_context(work / "project", busybox)
    targets = "".join(TARGET % {
        "name": name, "sleep": sleep, "platform": PLATFORM,
        "dockerfile": "base.Dockerfile" if name == "base" else "service.Dockerfile",
        "contexts": "" if name == "base" else '\n  contexts = { base = "target:base" }',
    } for name, sleep in SLEEPS.items())
    services = ", ".join(f'"{name}"' for name in SLEEPS if name != "base")
    (project / "docker-bake.hcl").write_text('variable "MARKER" { default = "warm" }\n' + targets
                                             + f"group \"default\" {{ targets = [{services}] }}\n")
    (project / "base.Dockerfile").write_text(BASE_DOCKERFILE)
    (project / "service.Dockerfile").write_text(SERVICE_DOCKERFILE)
    return project


def _bakeplan(cluster: Cluster, project: Path, history: Path, *args: str) -> str:
    """The stdout of `bakeplan ARGS --node n1 --node n2` in the project, raising on failure."""
    argv = [sys.executable, "-m", "bakeplan", *args, *node_args()]
    done = subprocess.run(argv, cwd=project, env=bakeplan_env(cluster, history), capture_output=True, text=True,
                          check=False, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"bakeplan {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _run(cluster: Cluster, project: Path, history: Path, name: str, marker: str) -> Run:
    """One `bakeplan run` from pruned caches."""
    prune(cluster)
    started = time.perf_counter()
    _bakeplan(cluster, project, history, "run", "--progress", "plain", "--var", marker)
    wall = time.perf_counter() - started
    steps = latest_steps(project)
    if not steps or any(s.get("status") != "succeeded" for s in steps.values()):
        raise RuntimeError(f"{name}: not every job succeeded: {steps}")
    starts = [float(str(s["started"])) for s in steps.values()]
    ends = [float(str(s["finished"])) for s in steps.values()]
    nodes = sorted({str(s["node"]) for s in steps.values()})
    placement = ", ".join(f"{n}: {sum(1 for s in steps.values() if s['node'] == n)}" for n in nodes)
    return Run(name, wall, max(ends) - min(starts), placement)


def _recorded(history: Path) -> list[tuple[float, float]]:
    """The (planned, actual) makespans the runs themselves kept in the history file."""
    pairs = []
    for path in sorted(history.glob("history*.json")):
        for run in json.loads(path.read_text()).get("runs", []):
            if isinstance(run.get("makespan"), list):
                planned, actual = run["makespan"]
                pairs.append((float(planned), float(actual)))
    return pairs


def _table(first: Run, second: Run, planned: float, table: str, recorded: list[tuple[float, float]],
           left: list[str]) -> None:
    work = sum(SLEEPS.values())
    print(f"base + {len(SLEEPS) - 1} services (target: link), RUN sleep {', '.join(f'{n} {s}' for n, s in SLEEPS.items())} "
          f"s ({work} s of sleeps), 2 nodes ({PLATFORM}, max-parallelism = 1, slots = 1), caches pruned and a fresh "
          f"build arg before each run; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'run':<28} {'wall s':>6} {'planned s':>9} {'actual s':>8} {'error':>7}  placement"
    print(header)
    print("-" * len(header))
    plans = [p for p, _ in recorded]
    first_planned = f"{plans[0]:9.1f}" if len(plans) == 2 else f"{'-':>9}"
    first_error = f"{(first.makespan - plans[0]) / plans[0]:+7.1%}" if len(plans) == 2 and plans[0] > 0 else f"{'-':>7}"
    print(f"{first.name:<28} {first.wall:6.1f} {first_planned} {first.makespan:8.1f} {first_error}  {first.placement}")
    error = (second.makespan - planned) / planned
    print(f"{second.name:<28} {second.wall:6.1f} {planned:9.1f} {second.makespan:8.1f} {error:+7.1%}  {second.placement}")
    print(f"goal: 2nd run's makespan within {GOAL:.0%} of the plan's: {abs(error):.1%} off "
          f"({'met' if abs(error) <= GOAL else 'NOT met'})")
    if recorded:
        print("kept in the history (planned, actual): " + "; ".join(f"{p:.1f} s, {a:.1f} s" for p, a in recorded))
    line = next((text for text in table.splitlines() if text.startswith("estimates on the last")), "(no such line)")
    print(f"`bakeplan plan` afterwards: {line}")
    print(f"left behind after stopping the daemons: {', '.join(left) if left else 'nothing (no daemon, no mount)'}")
    print("planned: `bakeplan plan --format json` makespan just before the run (1st run: the plan it kept); actual: "
          "first job start to last job end (state.json); error: (actual - planned) / planned")


if __name__ == "__main__":
    main()
