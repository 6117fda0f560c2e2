"""Planned makespan over the job-level lower bound, on real bake files with `target:` links (issue 8).

The corpus cases whose targets read each other through `target:` contexts
(Alfresco, DataDog nginx-datadog, aptos, autoware), loaded by bakeplan as
`bakeplan plan` does (files, env and targets from the case's CASE.json), and
planned with `bakeplan.plan.build_plan` on two declared nodes of 2 slots:

- amd64 + arm64: one node of each architecture;
- 2 x amd64: two amd64 nodes that also list linux/arm64, emulated (QEMU, the
  planner's emulation factor), so that arm64 jobs can run there too.

Durations: `default` is what `bakeplan plan` shows without any history (every
job its 60 s default); `seeded` gives each (target, platform) a seeded
log-normal duration (median ~33 s, as schedule_bench), recorded in a history.
Hand-overs are priced at the planner's defaults (no measured transfers).

Reported after the change only: jobs, hand-overs (a child reading a parent
built on the other node), makespan, job-level lower bound, ratio. The old
unit model (linked targets co-scheduled as one unit on one node) is gone from
the code, so its figures cannot be computed here.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bakeplan.bake.model import BakeRequest, BakeResult
from bakeplan.history import History
from bakeplan.jobs import Job, make_jobs
from bakeplan.nodes import EMULATED, Node, platform_rank
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "bake"
CASES = (
    "Alfresco__alfresco-dockerfiles-bakery",
    "DataDog__nginx-datadog",
    "aptos-labs__aptos-core__docker__builder",
    "autowarefoundation__autoware__docker",
)
AMD, ARM = "linux/amd64", "linux/arm64"
NODE_SETS: dict[str, tuple[Node, ...]] = {
    "amd64+arm64": (Node("amd", platforms=(AMD,), slots=2), Node("arm", platforms=(ARM,), slots=2)),
    "2 x amd64": (Node("amd1", platforms=(AMD, ARM), native=1, slots=2),
                  Node("amd2", platforms=(AMD, ARM), native=1, slots=2)),
}
DURATIONS = ("default", "seeded")


@dataclass(frozen=True)
class Row:
    """One plan's figures."""

    case: str
    nodes: str
    durations: str
    jobs: int
    links: int  # (child, parent) job pairs
    handovers: int
    makespan: float
    bound: float  # the planner's job-level lower bound (Plan.lower_bound)
    work: float  # every job's best-node estimate (emulation included) over all slots: also a lower bound

    @property
    def ratio(self) -> float:
        """makespan / the planner's lower bound."""
        return self.makespan / self.bound if self.bound > 0 else 1.0


def load_case(case_dir: Path) -> BakeResult:
    """The case as bakeplan loads it: CASE.json's files, env and targets, in the case's folder."""
    from bakeplan.bake.resolve import load

    case = json.loads((case_dir / "CASE.json").read_text())
    return load(BakeRequest(names=tuple(case["targets"]), files=tuple(case["files"]), env=dict(case["env"]),
                            cwd=case_dir))


def seeded_history(result: BakeResult, case: str) -> History:
    """A history giving every job a seeded log-normal duration (5 s .. 600 s)."""
    rng = random.Random(case)
    history = History()
    for job in make_jobs(result):
        history = history.record(job, round(min(600.0, max(5.0, rng.lognormvariate(3.5, 0.8))), 1))
    return history


def best_cost(job: Job, nodes: Sequence[Node], history: History) -> float:
    """The job's estimate on its best node: emulated (x the planner's factor) when no node builds it natively."""
    ranks = []
    for node in nodes:
        found = [platform_rank(node, p) for p in job.node_platforms]
        ranks += [max(r for r in found if r is not None)] if None not in found else []
    return history.estimate(job) * (DEFAULT_EMULATION_FACTOR if min(ranks) == EMULATED else 1.0)


def plan_row(case: str, result: BakeResult, nodes_name: str, durations: str) -> Row:
    """Plan one case on one node set."""
    from bakeplan.plan import build_plan

    history = seeded_history(result, case) if durations == "seeded" else History()
    nodes = NODE_SETS[nodes_name]
    plan = build_plan(result, nodes, history=history)
    links = sum(len(job.deps) for job in plan.jobs)
    work = sum(best_cost(job, nodes, history) for job in plan.jobs) / sum(node.slots for node in nodes)
    return Row(case, nodes_name, durations, len(plan.jobs), links, len(plan.handovers), plan.makespan,
               plan.lower_bound.value, work)


def _short(case: str) -> str:
    return case.split("__")[0] if not case.startswith("DataDog") else "DataDog nginx-datadog"


def _table(rows: Sequence[Row]) -> None:
    print("planned makespan / job-level lower bound; 2 declared nodes x 2 slots (after the job model)")
    header = (f"{'case':<22} {'nodes':<12} {'durations':<9} {'jobs':>5} {'links':>5} {'hand-overs':>10} "
              f"{'makespan':>9} {'bound':>9} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{_short(r.case):<22} {r.nodes:<12} {r.durations:<9} {r.jobs:>5} {r.links:>5} {r.handovers:>10} "
              f"{r.makespan:>8.0f}s {r.bound:>8.0f}s {r.ratio:>6.3f}")
    ratios = [r.ratio for r in rows]
    print(f"ratio: mean {statistics.fmean(ratios):.3f}, worst {max(ratios):.3f}")
    looser = [r for r in rows if r.work > r.bound * 1.001]
    print("cross-check, every job's best-node estimate over all slots: "
          + ("never above the planner's bound" if not looser else
             "ABOVE the planner's bound for " + ", ".join(f"{_short(r.case)}/{r.nodes}/{r.durations}" for r in looser)))
    print("links: (child, parent) job pairs; 2 x amd64 builds arm64 emulated; Alfresco, aptos and autoware "
          "set no platforms: their jobs build the builder's default (the first node's, amd64), so on "
          "amd64+arm64 only the amd64 node takes them (their Dockerfiles are not in the corpus: assumed to "
          "run on the target platform)")


def main() -> None:
    """Print the table (or why it cannot run here)."""
    missing = [case for case in CASES if not (CORPUS / case / "CASE.json").is_file()]
    if missing:
        print(f"corpus_bench: skipped, not in {CORPUS}: {', '.join(missing)}")
        return
    rows = []
    for case in CASES:
        result = load_case(CORPUS / case)
        rows += [plan_row(case, result, nodes, durations) for nodes in NODE_SETS for durations in DURATIONS]
    _table(rows)


if __name__ == "__main__":
    main()
