"""Plans for the real-world corpus: the targets buildx printed, planned on declared nodes.

Every case is planned once on three nodes; every case with `target:` links is
also checked against the plan's invariants on two nodes of two slots each:
slots never overcommitted at any instant; every child after its parents (and
after what it fetches from other nodes); what each job's invocation fetches
(its hand-overs) exactly what a walk written here finds, walking as a run does
(`runs.JobComposer.sources`): a parent on the job's own node is re-solved and
walked on into its own parents, any other parent is read by digest; each
job's span the slowest fetch of its parents (none for one on its own node,
whose job fetched what it read) plus its own estimate; its argv reading
exactly its hand-overs by digest; makespan at least the lower bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jsonschema
import pytest

from bakeplan.bake.model import BakeResult, Target
from bakeplan.history import History
from bakeplan.jobs import linked_targets
from bakeplan.nodes import EMULATED, Node, platform_rank
from bakeplan.plan import DEFAULT_HANDOVER, Plan, build_plan, tasks
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
        assert all(platform_rank(by_node[timing.node], p) is not None for p in job.node_platforms)
        assert job.platform is not None  # a target without platforms builds the builder's default
        assert all(plan.timings[d].end <= timing.start for d in job.deps)
    assert plan.makespan >= plan.lower_bound.value - 1e-9
    assert build_plan(result, nodes) == plan


def test_the_linked_cases_include_the_known_ones(corpus_dir: Path) -> None:
    assert set(KNOWN_LINKED) <= set(LINKED), LINKED


@pytest.mark.parametrize("kind", ["amd+arm", "amd x2"])
@pytest.mark.parametrize("case", LINKED or ["(no corpus)"])
def test_a_linked_corpus_plan_keeps_slots_order_and_hand_overs(corpus_dir: Path, case: str, kind: str) -> None:
    result = printed_result(corpus_dir / case)
    nodes = two_nodes(kind, case_platforms(result))
    plan = build_plan(result, nodes)
    assert any(job.deps for job in plan.jobs)
    assert_slots_respected(plan, nodes)
    assert_hand_overs_are_what_each_invocation_fetches(plan)
    assert_children_after_parents_and_what_they_fetch(plan)
    assert_argv_reads_exactly_the_hand_overs_by_digest(plan)
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


class Fetches(NamedTuple):
    """What one job's invocation takes from other nodes, as `walk` finds it."""

    read: tuple[str, ...]  # ancestors read by digest (hand-overs)
    resolved: tuple[str, ...]  # the job and every ancestor its invocation re-solves on its node


def walk(plan: Plan, job_id: str) -> Fetches:
    """Depth first from a job, as a run composes its invocation; each ancestor counts the first time it is met.

    A parent on the job's node is re-solved: the walk goes on into its
    parents. A parent on another node is read by digest, and the walk stops there.
    """
    dest = plan.timings[job_id].node
    read: list[str] = []
    resolved = [job_id]

    def visit(current: str) -> None:
        for dep in plan.job(current).deps:
            if dep in resolved or dep in read:
                continue
            if plan.timings[dep].node != dest:
                read.append(dep)
                continue
            resolved.append(dep)
            visit(dep)

    visit(job_id)
    return Fetches(tuple(read), tuple(resolved))


def assert_hand_overs_are_what_each_invocation_fetches(plan: Plan) -> None:
    """Per job, its hand-overs are exactly the walk's reads, each (job, ancestor) once.

    Listed in job order, with the ancestor's node and the job's; a hand-over
    of a parent costs the default transfer (nothing is learned here), one of
    a further ancestor (a parent here already brought it) nothing.
    """
    fetches = {job.id: walk(plan, job.id) for job in plan.jobs}
    assert {(h.child, h.parent) for h in plan.handovers} == {(c, a) for c, f in fetches.items() for a in f.read}
    order = {job.id: i for i, job in enumerate(plan.jobs)}
    listed = plan.handovers
    assert len({(h.child, h.parent) for h in listed}) == len(listed), "a (job, ancestor) pair listed twice"
    assert [order[h.child] for h in listed] == sorted(order[h.child] for h in listed), "not in job order"
    for handover in listed:
        assert (handover.source, handover.dest) == (plan.timings[handover.parent].node, plan.timings[handover.child].node)
        paid = handover.parent in plan.job(handover.child).deps
        assert handover.seconds == (DEFAULT_HANDOVER if paid else 0.0), handover


def fetch_seconds(plan: Plan, job_id: str) -> float:
    """Seconds the job's slot spends before its own build: its parents on other nodes fetched side by side.

    A parent on the job's node costs nothing (its own job fetched what it
    read, the node's cache answers the re-solve).
    """
    listed = {h.parent: h for h in plan.handovers if h.child == job_id}
    return max((listed[dep].seconds for dep in plan.job(job_id).deps if dep in listed), default=0.0)


def assert_children_after_parents_and_what_they_fetch(plan: Plan) -> None:
    """A child starts after its parents end; its span is what it fetches (`fetch_seconds`) plus its own estimate.

    The fetches are spent in the child's slot, so its build starts no sooner
    than each ancestor it fetches ended plus that fetch's seconds.
    """
    estimate = {task.id: task.duration for task in tasks(plan.jobs, History(), plan.nodes)}
    for job in plan.jobs:
        timing = plan.timings[job.id]
        cost = estimate[job.id] * (DEFAULT_EMULATION_FACTOR if timing.rank == EMULATED else 1.0)
        for dep in job.deps:
            assert plan.timings[dep].end <= timing.start, f"{job.id} starts before its parent {dep} ends"
        assert timing.end - timing.start == pytest.approx(fetch_seconds(plan, job.id) + cost), job.id
        build_start = timing.end - cost
        for handover in plan.handovers:
            if handover.child == job.id:
                assert plan.timings[handover.parent].end + handover.seconds <= build_start + 1e-9, handover


def assert_argv_reads_exactly_the_hand_overs_by_digest(plan: Plan) -> None:
    """Each job's argv sets, on every target its invocation re-solves, each context read by digest, and no other.

    Only hand-over parents export their result.
    """
    for job in plan.jobs:
        found = walk(plan, job.id)
        handed = {h.parent for h in plan.handovers_into(job.id)}
        assert handed == set(found.read), job.id
        expected = set()
        for holder in map(plan.job, found.resolved):
            parents = {plan.job(d).target: d for d in holder.deps}
            for name, value in plan.result.targets[holder.target].contexts.items():
                dep = parents.get(value[len("target:"):]) if value.startswith("target:") else None
                if dep in handed:
                    expected.add(f"{holder.target}.contexts.{name}=oci-layout://<hand-over of {dep}>@<digest>")
        argv = plan.argv(job.id)
        digests = [value for flag, value in zip(argv, argv[1:]) if flag == "--set" and "<hand-over of" in value]
        assert sorted(digests) == sorted(expected), job.id
        assert {d.split("<hand-over of ", 1)[1].split(">@", 1)[0] for d in digests} == handed, job.id
        assert " ".join(argv).count("<hand-over of") == len(digests), job.id
    assert {h.parent for h in plan.handovers} == {j.id for j in plan.jobs if plan.exports(j.id)}


def test_the_linked_cases_on_amd_and_arm_show_every_kind_of_fetch(corpus_dir: Path) -> None:
    """Parents and further ancestors read by digest; platform-less parents among them, with the builder's default."""
    plans = [build_plan(result, two_nodes("amd+arm", case_platforms(result)))
             for result in (printed_result(corpus_dir / case) for case in LINKED)]
    kinds = set()
    for plan in plans:
        for handover in plan.handovers:
            direct = handover.parent in plan.job(handover.child).deps
            kinds.add(("parent" if direct else "ancestor", "default platform" if plan.job(handover.parent).default else "own"))
    assert kinds == {("parent", "own"), ("ancestor", "own"), ("parent", "default platform")}
