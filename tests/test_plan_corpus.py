"""Plans for the real-world corpus: the targets buildx printed, planned on declared nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeplan.bake.model import BakeResult, Target
from bakeplan.nodes import Node, platform_rank
from bakeplan.plan import build_plan

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"
CASES = sorted(p.parent.name for p in CORPUS.glob("*/expected.json")) if CORPUS.is_dir() else []


def printed_result(case: Path) -> BakeResult:
    """A BakeResult straight from what real buildx printed for the case."""
    data = json.loads((case / "expected.json").read_text())
    request = json.loads((case / "CASE.json").read_text())
    targets = {name: Target(name, fields) for name, fields in data.get("target", {}).items()}
    groups = {name: tuple(g.get("targets", [])) for name, g in data.get("group", {}).items()}
    return BakeResult(groups, targets, tuple(Path(f) for f in request.get("files") or ["docker-bake.hcl"]),
                      tuple(request.get("targets") or ["default"]))


@pytest.mark.parametrize("case", CASES or ["(no corpus)"])
def test_every_corpus_plan_places_each_job_once_on_a_capable_node(case: str) -> None:
    if not CASES:
        pytest.skip("../shared/corpus/bake is absent")
    result = printed_result(CORPUS / case)
    platforms = sorted({p for t in result.targets.values() for p in t.platforms})
    nodes = [Node("amd", platforms=("linux/amd64",), slots=4), Node("arm", platforms=("linux/arm64",), slots=2),
             Node("multi", platforms=("linux/amd64", *platforms), native=1, slots=2)]
    plan = build_plan(result, nodes)
    assert sorted(j.id for j in plan.jobs) == sorted({j.id for j in plan.jobs})
    by_node = {n.name: n for n in nodes}
    for job in plan.jobs:
        timing = plan.timings[job.id]
        assert platform_rank(by_node[timing.node], job.platform) is not None
        assert all(plan.timings[d].end <= timing.start + 1e-9 or plan.timings[d].node == timing.node for d in job.deps)
    assert plan.makespan >= plan.lower_bound.value - 1e-9
    assert build_plan(result, nodes) == plan
