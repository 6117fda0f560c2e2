"""Plans for the real-world corpus: the targets buildx printed, planned on declared nodes.

Every case is planned once on three nodes; every case with `target:` links is
also checked against the plan's invariants on two nodes of two slots each:
slots never overcommitted at any instant, every child after its parents (and
after their hand-over or rebuild when it runs on another node), every
parent/child pair on different nodes either a hand-over or (a parent without
platforms, the child's node of another default platform) a rebuild, and the
child's argv reading exactly its hand-overs by digest; makespan at least the
lower bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest

from bakeplan.bake.model import BakeResult, Target
from bakeplan.history import History
from bakeplan.jobs import linked_targets
from bakeplan.nodes import EMULATED, Node, platform_rank
from bakeplan.plan import Plan, build_plan, tasks
from bakeplan.render import json_
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"
CASES = sorted(p.parent.name for p in CORPUS.glob("*/expected.json")) if CORPUS.is_dir() else []
AMD, ARM = "linux/amd64", "linux/arm64"
SCHEMA = json.loads(Path(json_.__file__).with_name("plan.schema.json").read_text())
KNOWN_LINKED = ("Alfresco__alfresco-dockerfiles-bakery", "DataDog__nginx-datadog",
                "aptos-labs__aptos-core__docker__builder", "autowarefoundation__autoware__docker")


def printed_result(case: Path) -> BakeResult:
    """A BakeResult straight from what real buildx printed for the case."""
    data = json.loads((case / "expected.json").read_text())
    request = json.loads((case / "CASE.json").read_text())
    targets = {name: Target(name, fields) for name, fields in data.get("target", {}).items()}
    groups = {name: tuple(g.get("targets", [])) for name, g in data.get("group", {}).items()}
    return BakeResult(groups, targets, tuple(Path(f) for f in request.get("files") or ["docker-bake.hcl"]),
                      tuple(request.get("targets") or ["default"]))


def _linked(case: str) -> bool:
    """Whether a printed target reads another printed target through a `target:` context."""
    targets = json.loads((CORPUS / case / "expected.json").read_text()).get("target", {})
    return any(parent in targets for name, fields in targets.items() for parent in linked_targets(Target(name, fields)))


LINKED = [case for case in CASES if _linked(case)]


def case_platforms(result: BakeResult) -> list[str]:
    """Every platform the case's targets name, sorted."""
    return sorted({p for t in result.targets.values() for p in t.platforms})


def two_nodes(kind: str, platforms: Sequence[str]) -> list[Node]:
    """Two nodes of two slots: `amd+arm` (one native each) or `amd x2` (twins).

    Each node also lists the case's other platforms, which it builds under
    emulation (or by cross-compiling, for a non-Linux one), as a BuildKit
    node with QEMU installed reports them.
    """
    others = [p for p in platforms if p not in (AMD, ARM)]
    if kind == "amd+arm":
        return [Node("amd", platforms=(AMD, *others), native=1, slots=2), Node("arm", platforms=(ARM,), native=1, slots=2)]
    return [Node(name, platforms=(AMD, *others, *([ARM] if ARM in platforms else [])), native=1, slots=2)
            for name in ("amd1", "amd2")]


@pytest.mark.parametrize("case", CASES or ["(no corpus)"])
def test_every_corpus_plan_places_each_job_once_on_a_capable_node(corpus_dir: Path, case: str) -> None:
    result = printed_result(corpus_dir / case)
    nodes = [Node("amd", platforms=(AMD,), slots=4), Node("arm", platforms=(ARM,), slots=2),
             Node("multi", platforms=(AMD, *case_platforms(result)), native=1, slots=2)]
    plan = build_plan(result, nodes)
    assert sorted(j.id for j in plan.jobs) == sorted({j.id for j in plan.jobs})
    by_node = {n.name: n for n in nodes}
    for job in plan.jobs:
        timing = plan.timings[job.id]
        assert platform_rank(by_node[timing.node], job.platform) is not None
        assert all(plan.timings[d].end <= timing.start for d in job.deps)
    assert plan.makespan >= plan.lower_bound.value - 1e-9
    assert build_plan(result, nodes) == plan


def test_the_linked_cases_include_the_known_ones(corpus_dir: Path) -> None:
    assert set(KNOWN_LINKED) <= set(LINKED), LINKED


@pytest.mark.parametrize("kind", ["amd+arm", "amd x2"])
@pytest.mark.parametrize("case", LINKED or ["(no corpus)"])
def test_a_linked_corpus_plan_keeps_slots_order_hand_overs_and_rebuilds(corpus_dir: Path, case: str, kind: str) -> None:
    result = printed_result(corpus_dir / case)
    nodes = two_nodes(kind, case_platforms(result))
    plan = build_plan(result, nodes)
    assert any(job.deps for job in plan.jobs)
    assert_slots_respected(plan, nodes)
    assert_children_after_parents_and_their_hand_overs(plan)
    assert_cross_node_links_are_hand_overs_or_rebuilds(plan)
    assert_argv_reads_hand_overs_and_re_solves_rebuilds(plan)
    assert plan.makespan == max(t.end for t in plan.timings.values())
    assert plan.makespan >= plan.lower_bound.value - 1e-9
    jsonschema.validate(json_.plan_data(plan), SCHEMA)


def assert_slots_respected(plan: Plan, nodes: Sequence[Node]) -> None:
    """Sweep each node's start/end events: never more jobs running at once than its slots."""
    for node in nodes:
        spans = [t for t in plan.timings.values() if t.node == node.name and t.end > t.start]
        # At one instant an ending job frees its slot before a starting one takes it (-1 sorts before +1).
        events = sorted([(t.start, 1) for t in spans] + [(t.end, -1) for t in spans])
        running = 0
        for at, change in events:
            running += change
            assert running <= node.slots, f"{node.name} runs {running} jobs at {at}s with {node.slots} slots"


def assert_children_after_parents_and_their_hand_overs(plan: Plan) -> None:
    """A child starts after its parents end; across nodes, its build also waits for the import or rebuild.

    The import, or the rebuild of a parent the child cannot read, is spent in
    the child's slot (its span is the slowest of them plus its own estimate),
    so the build starts no sooner than each parent's end plus those seconds.
    """
    estimate = {task.id: task.duration for task in tasks(plan.jobs, History(), plan.nodes)}
    into: dict[str, list[float]] = {}
    for handover in (*plan.handovers, *plan.rebuilds):
        into.setdefault(handover.child, []).append(plan.timings[handover.parent].end + handover.seconds)
    for job in plan.jobs:
        timing = plan.timings[job.id]
        cost = estimate[job.id] * (DEFAULT_EMULATION_FACTOR if timing.rank == EMULATED else 1.0)
        for dep in job.deps:
            assert plan.timings[dep].end <= timing.start, f"{job.id} starts before its parent {dep} ends"
        build_start = timing.end - cost
        assert all(ready <= build_start + 1e-9 for ready in into.get(job.id, [])), f"{job.id} builds before its hand-over or rebuild"
        imports = [h.seconds for h in (*plan.handovers, *plan.rebuilds) if h.child == job.id]
        assert timing.end - timing.start == pytest.approx(max(imports, default=0.0) + cost), job.id


def rebuilt(plan: Plan, child: str, parent: str) -> bool:
    """Whether the child cannot read the parent by digest: the parent has no platform and the nodes' defaults differ."""
    source, dest = plan.node(plan.timings[parent].node), plan.node(plan.timings[child].node)
    return plan.job(parent).platform is None and source.default_platform != dest.default_platform


def assert_cross_node_links_are_hand_overs_or_rebuilds(plan: Plan) -> None:
    """Each parent/child pair on different nodes is a hand-over or a rebuild, once, in child order, nodes named right.

    A hand-over costs its transfer; a rebuild the parent's whole estimate.
    """
    cross = [(job.id, dep) for job in plan.jobs for dep in dict.fromkeys(job.deps)
             if plan.timings[dep].node != plan.timings[job.id].node]
    assert [(h.child, h.parent) for h in plan.handovers] == [pair for pair in cross if not rebuilt(plan, *pair)]
    assert [(h.child, h.parent) for h in plan.rebuilds] == [pair for pair in cross if rebuilt(plan, *pair)]
    estimate = {task.id: task.duration for task in tasks(plan.jobs, History(), plan.nodes)}
    for handover in (*plan.handovers, *plan.rebuilds):
        assert (handover.source, handover.dest) == (plan.timings[handover.parent].node, plan.timings[handover.child].node)
        assert handover.seconds > 0
        if handover.rebuild:
            assert handover.seconds == estimate[handover.parent], handover
    assert all(not h.rebuild for h in plan.handovers) and all(h.rebuild for h in plan.rebuilds)


def assert_argv_reads_hand_overs_and_re_solves_rebuilds(plan: Plan) -> None:
    """A child's argv reads each parent handed over to it by digest and no other; a rebuilt parent is re-solved."""
    handed = {(h.child, h.parent) for h in plan.handovers}
    for job in plan.jobs:
        argv = " ".join(plan.argv(job.id))
        for dep in dict.fromkeys(job.deps):
            assert (f"<hand-over of {dep}>" in argv) == ((job.id, dep) in handed), (job.id, dep)
    assert {h.parent for h in plan.handovers} == {j.id for j in plan.jobs if plan.exports(j.id)}


def test_the_linked_cases_on_amd_and_arm_show_both_hand_overs_and_rebuilds(corpus_dir: Path) -> None:
    plans = [build_plan(result, two_nodes("amd+arm", case_platforms(result)))
             for result in (printed_result(corpus_dir / case) for case in LINKED)]
    assert any(plan.handovers for plan in plans) and any(plan.rebuilds for plan in plans)
