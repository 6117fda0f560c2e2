"""From a resolved bake to a plan: every job placed on a node, with its hand-overs.

The job is the unit
-------------------
One target on one platform is one job: one slot on one node, one `docker
buildx bake` invocation naming that target (`bakeplan.steps` builds it). A
node never runs more jobs at once than its slots, in the plan and in the run.

Linked targets: handed over, not co-scheduled
---------------------------------------------
A child reads its parent through a `target:` context. On the node where the
parent ran, the child's invocation re-solves the parent, which that node's
BuildKit answers from its cache (every step CACHED). On any other node the
child reads the parent's exported result by digest (an OCI layout in the run
directory, or a registry), so every child reads the very same image and a
single-platform parent serves children on every node. The scheduler prices
that transfer (`Problem.transfer`, learned per node pair) and keeps a child
on its parent's node unless another node finishes it sooner.

One exception: a parent without `platforms` is built for its node's own
platform, so a child on a node of another platform cannot use that image; its
invocation builds the parent again for its own node, as buildx would
(`Plan.rebuilds`, priced as the parent's build time).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bakeplan.bake.model import BakeResult
from bakeplan.errors import BakeplanError, CycleError, NoNodeError
from bakeplan.history import History
from bakeplan.jobs import Filter, Job, make_jobs, select
from bakeplan.nodes import Node, platform_rank, usable
from bakeplan.schedule import (
    DEFAULT_EMULATION_FACTOR, LowerBound, Placement, Task, handed_over, prepare, simulate,
)

DEFAULT_HANDOVER = 4.0  # seconds to export a result and import it on another node, before any is measured


@dataclass(frozen=True, slots=True)
class JobTiming:
    """Where and when one job is estimated to run."""

    node: str
    start: float
    end: float
    platform: str | None  # the platform it builds there (a native job takes the node's)
    critical: bool
    rank: int = 0  # nodes.EXACT / COMPATIBLE / EMULATED


@dataclass(frozen=True, slots=True)
class Handover:
    """A child job reading a parent job's result built on another node (by digest).

    With `rebuild` the child cannot read it: the parent has no platform and
    was built for its node's, another than the child's node's, so the child
    builds it again for its own (as buildx would); `seconds` is that build.
    """

    child: str
    parent: str
    source: str  # the parent's node
    dest: str  # the child's node
    seconds: float  # estimated import time (or rebuild time)
    rebuild: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole dry run: every node considered, every job, where and when it runs, what it reads from where."""

    nodes: tuple[Node, ...]  # every candidate, excluded ones with their reason
    jobs: tuple[Job, ...]  # in printed order, then platform order
    timings: Mapping[str, JobTiming]  # job id -> node, estimated start/end
    handovers: tuple[Handover, ...]  # in child order
    rebuilds: tuple[Handover, ...]  # platform-less parents a child on a node of another platform builds again
    makespan: float
    lower_bound: LowerBound
    critical_path: tuple[str, ...]  # job ids, first to last
    result: BakeResult
    requested: frozenset[str] = frozenset()  # targets the user asked for (others are only linked)
    files: tuple[str, ...] = ()  # bake files for `-f`, in load order
    overrides: tuple[str, ...] = ()  # the user's --set
    variables: tuple[str, ...] = ()  # the user's --var
    builder_names: Mapping[str, str | None] = field(default_factory=dict)  # node name -> --builder
    by_id: Mapping[str, Job] = field(default_factory=dict)  # job id -> job (filled by build_plan)
    exporting: frozenset[str] = frozenset()  # parents of the hand-overs
    incoming: Mapping[str, tuple[Handover, ...]] = field(default_factory=dict)  # child job id -> its hand-overs

    @property
    def ratio(self) -> float:
        """makespan / lower bound."""
        bound = self.lower_bound.value
        return self.makespan / bound if bound > 0 else 1.0

    def node(self, name: str) -> Node:
        """The node with that name."""
        return next(n for n in self.nodes if n.name == name)

    def job(self, job_id: str) -> Job:
        """The job with that id."""
        return self.by_id[job_id] if self.by_id else next(j for j in self.jobs if j.id == job_id)

    def handovers_into(self, job_id: str) -> tuple[Handover, ...]:
        """The hand-overs a job reads."""
        return self.incoming.get(job_id, ())

    def exports(self, job_id: str) -> bool:
        """Whether some child reads the job's result on another node (it exports it once)."""
        return job_id in self.exporting

    def argv(self, job_id: str, *, docker: str = "docker") -> tuple[str, ...]:
        """The exact `docker buildx bake` argv of a job on its planned node, reading the user's files."""
        from bakeplan.steps import JobSettings, job_invocation, planned_sources
        from bakeplan.invocation import bake_argv

        job = self.job(job_id)
        settings = JobSettings(files=self.files, sets=self.overrides, variables=self.variables, docker=docker)
        sources = planned_sources(self, job)
        builder = self.builder_names.get(self.timings[job_id].node)
        invocation = job_invocation(job, self.by_id or {j.id: j for j in self.jobs}, self.result, self.requested,
                                    settings, sources=sources, export=self.exports(job_id), builder=builder)
        return bake_argv(invocation)


# ------------------------------------------------------------ building the plan


def build_plan(
    result: BakeResult,
    nodes: Sequence[Node],
    *,
    history: History | None = None,
    only: Sequence[Filter] = (),
    exclude: Sequence[Filter] = (),
    emulation_factor: float = DEFAULT_EMULATION_FACTOR,
    overrides: Sequence[str] = (),
    variables: Sequence[str] = (),
) -> Plan:
    """Plan every job of `result` (after --only/--exclude) on the usable `nodes`.

    `overrides` and `variables` are the user's `--set` and `--var`: already
    applied in `result`, and repeated in each invocation's argv.

    Raises CycleError for `target:` cycles and NoNodeError when no node can build a job.
    """
    history = History() if history is None else history
    jobs = select(make_jobs(result), only, exclude)
    ready = usable(nodes)
    _check_nodes(jobs, nodes)
    try:
        problem = prepare(tasks(jobs, history, ready), ready, emulation_factor=emulation_factor,
                          handover=history.handover_default(DEFAULT_HANDOVER), transfers=history.transfers())
    except CycleError:
        # Say it with target names, as buildx does (networkx is imported only then: ~0.14 s at start-up).
        from bakeplan.graph import job_graph

        job_graph(jobs)
        raise
    schedule = simulate(problem)
    placements = {p.task: p for p in schedule.placements}
    critical = set(schedule.critical_path)
    links = _handovers(jobs, placements, nodes, problem.transfer, {t.id: t.duration - t.export for t in problem.tasks})
    handovers = tuple(h for h in links if not h.rebuild)
    return Plan(
        nodes=tuple(nodes), jobs=jobs,
        timings={job.id: _timing(job, placements[job.id], nodes, job.id in critical) for job in jobs},
        handovers=handovers, rebuilds=tuple(h for h in links if h.rebuild),
        exporting=frozenset(h.parent for h in handovers), incoming=_by_child(handovers),
        makespan=schedule.makespan, lower_bound=schedule.lower_bound, critical_path=schedule.critical_path,
        result=result, requested=requested_targets(result),
        files=tuple(str(f) for f in result.files), overrides=tuple(overrides), variables=tuple(variables),
        builder_names={n.name: n.builder for n in nodes}, by_id={job.id: job for job in jobs},
    )


def tasks(jobs: Sequence[Job], history: History, nodes: Sequence[Node]) -> list[Task]:
    """One scheduler task per job: its estimate, plus its export when a child may run on another node."""
    export = history.export_default()
    exporting = may_export(jobs, nodes)
    return [Task(job.id, max(history.estimate(job), 0.0) + (export if job.id in exporting else 0.0),
                 (job.platform,), tuple(d for d in job.deps), export if job.id in exporting else 0.0) for job in jobs]


def capable_nodes(job: Job, nodes: Sequence[Node]) -> frozenset[str]:
    """The usable nodes that can build the job."""
    return frozenset(n.name for n in nodes if n.excluded is None and platform_rank(n, job.platform) is not None)


def may_export(jobs: Sequence[Job], nodes: Sequence[Node]) -> frozenset[str]:
    """Parents with a child that could run on a node the parent cannot run on, or on one of several nodes.

    (A child of a parent without platforms on a node of another platform
    builds the parent itself; the export then goes unread, a small cost.)
    """
    capable = {job.id: capable_nodes(job, nodes) for job in jobs}
    found = set()
    for job in jobs:
        for dep in job.deps:
            if dep in capable and (len(capable[job.id]) > 1 or capable[job.id] != capable[dep]):
                found.add(dep)
    return frozenset(found)


def _timing(job: Job, placement: Placement, nodes: Sequence[Node], critical: bool) -> JobTiming:
    node = next(n for n in nodes if n.name == placement.node)
    platform = node.default_platform if job.platform in (None, "local") else job.platform
    return JobTiming(placement.node, placement.start, placement.end, platform, critical, placement.rank)


def _handovers(jobs: Sequence[Job], placements: Mapping[str, Placement], nodes: Sequence[Node],
               transfer: Callable[[str, str], float], build: Mapping[str, float]) -> tuple[Handover, ...]:
    """What each job's invocation fetches from other nodes: hand-overs, and rebuilds (see `Handover`).

    As in a run (`runs.JobComposer.sources`): a parent that ran on the job's
    own node is re-solved from that node's cache, and so is a rebuilt one,
    whose own parents are then fetched in turn; any other is read by digest.
    What a parent on the job's own node fetched is in that node's cache: it
    is listed (the invocation names it) at 0 seconds, as the scheduler counts
    it. `build` is each job's build time, without its export.
    """
    by_name = {n.name: n for n in nodes}
    by_id = {job.id: job for job in jobs}
    found = []
    for job in jobs:
        dest = placements[job.id].node

        def kind(dep: str, dest: str = dest) -> str:
            source = placements[dep].node
            if source == dest:
                return "here"
            return "digest" if handed_over(by_id[dep].platform is None, by_name[source], by_name[dest]) else "rebuild"

        # Everything the invocation names (it re-solves parents here and rebuilt ones, and goes on into theirs) ...
        named = _reachable(job.id, by_id, placements, lambda dep: kind(dep) != "digest")
        # ... and what its slot pays for: what a parent here fetched is in this node's cache already.
        paid = set(_reachable(job.id, by_id, placements, lambda dep: kind(dep) == "rebuild"))
        for dep in named:
            how = kind(dep)
            if how == "here":
                continue
            source = placements[dep].node
            seconds = 0.0 if dep not in paid else transfer(source, dest) if how == "digest" else build[dep]
            found.append(Handover(job.id, dep, source, dest, seconds, rebuild=how == "rebuild"))
    return tuple(found)


def _reachable(start: str, by_id: Mapping[str, Job], placements: Mapping[str, Placement],
               through: Callable[[str], bool]) -> list[str]:
    """Ancestors of `start` met breadth first, going on only through those `through` accepts."""
    queue, seen, order = [start], {start}, []
    while queue:
        for dep in by_id[queue.pop(0)].deps:
            if dep in seen or dep not in placements:
                continue
            seen.add(dep)
            order.append(dep)
            if through(dep):
                queue.append(dep)
    return order


def _by_child(handovers: Sequence[Handover]) -> dict[str, tuple[Handover, ...]]:
    found: dict[str, tuple[Handover, ...]] = {}
    for handover in handovers:
        found[handover.child] = (*found.get(handover.child, ()), handover)
    return found


def requested_targets(result: BakeResult) -> frozenset[str]:
    """The targets the request names, through groups and globs (linked-only targets are not among them)."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = list(result.requested)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in result.groups:
            stack.extend(result.groups[name])
        elif name in result.targets:
            found.add(name)
        else:
            found.update(t for t in result.targets if fnmatch.fnmatchcase(t, name))
            stack.extend(g for g in result.groups if fnmatch.fnmatchcase(g, name))
    return frozenset(found)


def _node_listing(nodes: Sequence[Node]) -> list[tuple[str, Sequence[str]]]:
    """Every candidate for an error message; a left-out node says why, so the remedy is plain."""
    return [(n.name if n.excluded is None else f"{n.name} (left out: {n.excluded})", n.platforms) for n in nodes]


def _check_nodes(jobs: Sequence[Job], nodes: Sequence[Node]) -> None:
    """Every job's platform has a usable node; else name the job and every candidate node."""
    if not jobs:
        return
    ready = usable(nodes)
    if not ready:
        raise BakeplanError(
            "no usable node" + "".join(f"\n  {name}: {', '.join(plats) or '(no platforms)'}" for name, plats in _node_listing(nodes)),
            hint="Declare nodes (bakeplan.toml or --node name=N,platforms=linux/amd64), or fix or pick a builder (--builder).")
    for job in jobs:
        if not any(platform_rank(n, job.platform) is not None for n in ready):
            error = NoNodeError(job.id, job.platform or "its native platform", _node_listing(nodes))
            readers = [j.id for j in jobs if job.id in j.deps]
            if readers:
                who = f"{readers[0]} reads it" if len(readers) == 1 else f"{', '.join(readers[:5])} read it"
                cannot = "it cannot" if len(readers) == 1 else "they cannot"
                error.hint = f"{who} through a target: context, so {cannot} run either. " + (error.hint or "")
            raise error
