"""`bakeplan run` against plain `docker buildx bake` on two real nodes serving the same platform.

Setup (tests/infra.py): two rootful buildkitd daemons, both linux/amd64, each
limited to one build step at a time (`max-parallelism = 1` in buildkitd.toml,
standing for two separate machines); single-node builders `n1`, `n2` and a
two-node builder `both`. The bake file is a matrix of 12 targets whose build is
`RUN sleep 2` on a busybox-static base (warmed on both nodes first, so only
the sleeps differ); every measured run uses a fresh build arg so nothing is
cached.

- plain bake: `docker buildx bake --builder both`: buildx sends every target
  to the first node that has the platform, so all 12 sleeps queue on `n1`.
- bakeplan run: nodes `n1`, `n2` declared with `slots` = 1, 2, 3 (more than 1
  lets one invocation's client-side work overlap another's step on the same node).

Reported: wall time, ratio to plain bake (goal <= 0.6), and bakeplan's own
overhead: its wall time minus the span of the builds (loading, planning,
checks, summary), the mean idle gap on a node between one unit's end and the
next start (dispatch latency), and per job (wall - ideal 12 x 2 s / 2 nodes) / 12.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests import infra

ROOT = Path(__file__).resolve().parent.parent
JOBS = 12
SLEEP = 2
PLATFORM = "linux/amd64"

BAKE = """
variable "MARKER" { default = "warm" }
target "t" {
  name = "t${i}"
  matrix = { i = [%s] }
  dockerfile = "Dockerfile"
  platforms = ["%s"]
  args = { MARKER = "${MARKER}-${i}" }
  output = ["type=cacheonly"]
}
group "default" { targets = [%s] }
target "warm" {
  dockerfile = "Dockerfile"
  target = "busybox"
  platforms = ["%s"]
  output = ["type=cacheonly"]
}
"""

DOCKERFILE = infra.BUSYBOX_BASE + f"""
FROM busybox
ARG MARKER
RUN echo "$MARKER" > /m && sleep {SLEEP}
"""


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
            cli = _builders(work, daemons)
            project = _project(work)
            _warm(cli, project)
            rows = [_plain(cli, project)]
            for slots in (1, 2, 3):
                rows.append(_bakeplan(cli, project, slots))
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
    tools = {name: str(infra.find_tool(name)) for name in ("buildkitd", "buildctl")}
    return [infra.start_buildkitd(work / "bk", name, [PLATFORM], config_text=config, **tools) for name in ("n1", "n2")]


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
    names = ", ".join(f'"t{i}"' for i in range(1, JOBS + 1))
    (project / "docker-bake.hcl").write_text(
        BAKE % (", ".join(str(i) for i in range(1, JOBS + 1)), PLATFORM, names, PLATFORM))
    (project / "Dockerfile").write_text(DOCKERFILE)
    return project


def _warm(cli: infra.DockerCLI, project: Path) -> None:
    """Build the busybox base on both nodes so that measured runs only differ by the sleeps."""
    for builder in ("n1", "n2"):
        subprocess.run(cli.argv("bake", "--builder", builder, "--progress", "plain", "warm"), cwd=project,
                       env=cli.env, check=True, capture_output=True)


def _plain(cli: infra.DockerCLI, project: Path) -> dict[str, object]:
    marker = f"plain{time.time_ns()}"
    started = time.perf_counter()
    subprocess.run(cli.argv("bake", "--builder", "both", "--progress", "plain", "--var", f"MARKER={marker}"),
                   cwd=project, env=cli.env, check=True, capture_output=True)
    return {"name": "docker buildx bake (builder with both nodes)", "wall": time.perf_counter() - started}


def _bakeplan(cli: infra.DockerCLI, project: Path, slots: int) -> dict[str, object]:
    env = dict(cli.env, BAKEPLAN_CACHE_DIR=str(project / f".cache{slots}"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    argv = [sys.executable, "-m", "bakeplan", "run", "--progress", "plain", "--var", f"MARKER=bp{slots}-{time.time_ns()}"]
    for node in ("n1", "n2"):
        argv += ["--node", f"name={node},builder={node},platforms={PLATFORM},slots={slots}"]
    launched, started = time.time(), time.perf_counter()
    done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    ended = launched + wall
    if done.returncode != 0:
        raise RuntimeError(f"bakeplan run failed:\n{done.stdout}\n{done.stderr}")
    runs = project / ".bakeplan" / "runs"
    state = json.loads((runs / (runs / "latest").read_text().strip() / "state.json").read_text())["units"]
    return {"name": f"bakeplan run (2 nodes, slots={slots})", "wall": wall, **_overhead(state, wall, launched, ended)}


def _overhead(units: dict[str, dict[str, object]], wall: float, launched: float, ended: float) -> dict[str, object]:
    """Span of the builds, fixed overhead (before the first and after the last build), dispatch gaps."""
    spans = [(float(str(u["started"])), float(str(u["finished"])), str(u["node"])) for u in units.values()]
    first, last = min(s for s, _, _ in spans), max(e for _, e, _ in spans)
    gaps: list[float] = []
    per_node: dict[str, int] = {}
    for node in sorted({n for _, _, n in spans}):
        mine = sorted((s, e) for s, e, n in spans if n == node)
        per_node[node] = len(mine)
        ends = sorted(e for _, e in mine)
        for start, _ in mine[1:]:
            before = [e for e in ends if e <= start]
            if before:
                gaps.append(start - before[-1])
    durations = [e - s for s, e, _ in spans]
    return {
        "builds": last - first,
        "fixed": wall - (last - first),
        "startup": first - launched,
        "teardown": ended - last,
        "gap": sum(gaps) / len(gaps) if gaps else 0.0,
        "per_job": (wall - JOBS * SLEEP / 2) / JOBS,
        "invocation": sum(durations) / len(durations),
        "placement": ", ".join(f"{n}: {c}" for n, c in per_node.items()),
    }


def _table(rows: list[dict[str, object]]) -> None:
    plain = float(str(rows[0]["wall"]))
    print(f"{JOBS} targets x RUN sleep {SLEEP}, 2 nodes ({PLATFORM}, max-parallelism = 1 each); "
          f"ideal {JOBS * SLEEP / 2:.0f} s")
    header = (f"{'scenario':<46} {'wall s':>7} {'vs plain':>8} {'builds s':>8} {'fixed s':>7} {'start s':>7} "
              f"{'end s':>6} {'gap s':>6} {'job s':>6} {'per job s':>9}  placement")
    print(header)
    print("-" * len(header))
    for row in rows:
        wall = float(str(row["wall"]))
        cells = [f"{row['name']:<46}", f"{wall:7.1f}", f"{wall / plain:8.2f}"]
        if "builds" in row:
            cells += [f"{float(str(row['builds'])):8.1f}", f"{float(str(row['fixed'])):7.2f}",
                      f"{float(str(row['startup'])):7.2f}", f"{float(str(row['teardown'])):6.2f}",
                      f"{float(str(row['gap'])):6.2f}", f"{float(str(row['invocation'])):6.2f}",
                      f"{float(str(row['per_job'])):9.2f}", f"  {row['placement']}"]
        print(" ".join(cells))
    print("builds: first start to last end; fixed: wall - builds = start (python, load, plan, checks) + end (summary, exit); "
          "gap: mean idle time on a node between units; job: mean invocation wall time; "
          "per job: (wall - ideal) / jobs")


if __name__ == "__main__":
    main()
