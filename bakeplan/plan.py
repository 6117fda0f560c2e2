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

Platforms as buildx means them
------------------------------
A target without `platforms` builds for the builder's default platform (its
first node's), which every job of it sets explicitly (`Job.default`), so the
image is the same wherever it runs. Each job's Dockerfile says where its RUN
steps run (`bakeplan.dockerfiles`): a job that only runs steps on
`$BUILDPLATFORM` cross-compiles at native speed on any node; one that runs
steps on its target platform needs a node of that platform or emulation.
`Plan.reasons` says, per job, why it may go where it goes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bakeplan.bake.model import BakeResult
from bakeplan.demand import fits_memory, format_bytes, target_demand
from bakeplan.dockerfiles import classify
from bakeplan.errors import BakeplanError, CycleError, NoNodeError
from bakeplan.history import History
from bakeplan.jobs import Filter, Job, make_jobs, select
from bakeplan.nodes import Node, usable, with_speeds
from bakeplan.platforms import EMULATED, normalize_platform, platform_rank
from bakeplan.record import field, record, replace
from bakeplan.schedule import (
    DEFAULT_EMULATION_FACTOR,
    LowerBound,
    Placement,
    Task,
    prepare,
    simulate,
)

DEFAULT_HANDOVER = 4.0  # seconds to export a result and import it on another node, before any is measured


@record
class JobTiming:
    """Where and when one job is estimated to run."""

    node: str
    start: float
    end: float
    platform: str | None  # the platform it builds there (a native job takes the node's)
    critical: bool
    rank: int = 0  # platforms.EXACT / COMPATIBLE / EMULATED


@record
class Handover:
    """A child job reading a parent job's result built on another node (by digest)."""

    child: str
    parent: str
    source: str  # the parent's node
    dest: str  # the child's node
    seconds: float  # estimated import time (0: an ancestor a parent here already brought)


@record
class Plan:
    """The whole dry run: every node considered, every job, where and when it runs, what it reads from where."""

    nodes: tuple[Node, ...]  # every candidate, excluded ones with their reason
    jobs: tuple[Job, ...]  # in printed order, then platform order
    timings: Mapping[str, JobTiming]  # job id -> node, estimated start/end
    handovers: tuple[Handover, ...]  # in child order
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
    reasons: Mapping[str, str] = field(default_factory=dict)  # job id -> why it may go where it goes
    default_platform: str | None = None  # the builder's default: what platform-less targets build

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
        from bakeplan.invocation import bake_argv
        from bakeplan.steps import JobSettings, job_invocation, planned_sources

        job = self.job(job_id)
        settings = JobSettings(files=self.files, sets=self.overrides, variables=self.variables, docker=docker)
        sources = planned_sources(self, job)
        builder = self.builder_names.get(self.timings[job_id].node)
        invocation = job_invocation(job, self.by_id or {j.id: j for j in self.jobs}, self.result, self.requested,
                                    settings, sources=sources, export=self.exports(job_id), builder=builder,
                                    node_platform=self.node(self.timings[job_id].node).default_platform)
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
    cwd: Path | None = None,
) -> Plan:
    """Plan every job of `result` (after --only/--exclude) on the usable `nodes`.

    `overrides` and `variables` are the user's `--set` and `--var`: already
    applied in `result`, and repeated in each invocation's argv. `cwd` is
    where bake runs (contexts are relative to it; default: the current one).

    Raises CycleError for `target:` cycles and NoNodeError when no node can build a job.
    """
    history = History() if history is None else history
    nodes = with_speeds(nodes, history.speeds())  # what earlier runs learned of each node's speed
    default = builder_default(nodes)
    jobs = classified(select(make_jobs(result, default_platform=default), only, exclude), result,
                      Path.cwd() if cwd is None else cwd)
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
    handovers = _handovers(jobs, placements, problem.transfer)
    return Plan(
        nodes=tuple(nodes), jobs=jobs,
        timings={job.id: _timing(job, placements[job.id], nodes, job.id in critical) for job in jobs},
        handovers=handovers,
        exporting=frozenset(h.parent for h in handovers), incoming=_by_child(handovers),
        makespan=schedule.makespan, lower_bound=schedule.lower_bound, critical_path=schedule.critical_path,
        result=result, requested=requested_targets(result),
        files=tuple(str(f) for f in result.files), overrides=tuple(overrides), variables=tuple(variables),
        builder_names={n.name: n.builder for n in nodes}, by_id={job.id: job for job in jobs},
        reasons={job.id: placement_reason(job, ready) for job in jobs}, default_platform=default,
    )


def tasks(jobs: Sequence[Job], history: History, nodes: Sequence[Node]) -> list[Task]:
    """One scheduler task per job: its estimate, plus its export when a child may run on another node."""
    export = history.export_default()
    exporting = may_export(jobs, nodes)
    return [Task(job.id, max(history.estimate(job), 0.0) + (export if job.id in exporting else 0.0),
                 job.node_platforms, tuple(d for d in job.deps), export if job.id in exporting else 0.0,
                 job.demand.cpus, job.demand.memory) for job in jobs]


def capable_nodes(job: Job, nodes: Sequence[Node]) -> frozenset[str]:
    """The usable nodes that can build the job."""
    return frozenset(n.name for n in nodes if n.excluded is None and _builds(n, job))


def _runs_platforms(node: Node, job: Job) -> bool:
    return all(platform_rank(node, p) is not None for p in job.node_platforms)


def _builds(node: Node, job: Job) -> bool:
    return _runs_platforms(node, job) and fits_memory(node, job.demand.memory)


def builder_default(nodes: Sequence[Node]) -> str | None:
    """The platform buildx gives a target without platforms: the first node's (its first platform).

    buildx sends such a build to the builder's first node, which builds for
    its worker's default platform. A first node without known platforms
    (inactive) is passed over for the next one that has them.
    """
    return next((normalize_platform(n.platforms[0]) for n in nodes if n.platforms), None)


def classified(jobs: Sequence[Job], result: BakeResult, cwd: Path) -> tuple[Job, ...]:
    """The jobs with where their RUN steps run (`bakeplan.dockerfiles`) and what they ask of a node (`bakeplan.demand`)."""
    demands = {name: target_demand(result.targets[name]) for name in dict.fromkeys(job.target for job in jobs)}
    return tuple(replace(job, execution=classify(result.targets[job.target], cwd, job.platform), demand=demands[job.target])
                 for job in jobs)


def placement_reason(job: Job, nodes: Sequence[Node]) -> str:
    """Why the job may go where it goes: its platform, where its RUN steps run, which nodes build it how."""
    parts = [f"no platforms: the builder's default {job.platform}, set explicitly"] if job.default else []
    if job.execution is not None and job.execution.reason:
        parts.append(job.execution.reason)
    ranks = {n.name: max((platform_rank(n, p) or 0) for p in job.node_platforms) for n in nodes if _builds(n, job)}
    native = [name for name, rank in ranks.items() if rank != EMULATED]
    emulated = [name for name, rank in ranks.items() if rank == EMULATED]
    if job.demand.stated:
        memory = f", {format_bytes(job.demand.memory)}" if job.demand.memory is not None else ""
        parts.append(f"resources: {job.demand.cpus:g} CPU{'s' * (job.demand.cpus != 1)}{memory}")
    needs = [p for p in job.node_platforms if p is not None]
    where = "any node" if not needs else f"needs {' + '.join(needs)}"
    where += f": natively on {', '.join(native)}" if native else ""
    where += f"; emulated on {', '.join(emulated)}" if emulated else ""
    small = [n for n in nodes if not fits_memory(n, job.demand.memory)]
    where += f"; too little memory on {', '.join(n.name for n in small)}" if small else ""
    parts.append(where)
    return "; ".join(parts)


def may_export(jobs: Sequence[Job], nodes: Sequence[Node]) -> frozenset[str]:
    """Parents with a child that could run on a node the parent cannot run on, or on one of several nodes."""
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


def _handovers(jobs: Sequence[Job], placements: Mapping[str, Placement],
               transfer: Callable[[str, str], float]) -> tuple[Handover, ...]:
    """What each job's invocation reads by digest from other nodes.

    As in a run (`runs.JobComposer.sources`): a parent that ran on the job's
    own node is re-solved from that node's cache, and the walk goes on into
    its parents; any other is read by digest. What a parent on the job's own
    node fetched is in that node's cache: it is listed (the invocation names
    it) at 0 seconds, as the scheduler counts it.
    """
    by_id = {job.id: job for job in jobs}
    found = []
    for job in jobs:
        dest = placements[job.id].node

        def here(dep: str, dest: str = dest) -> bool:
            return placements[dep].node == dest

        for dep in _reachable(job.id, by_id, placements, here):
            source = placements[dep].node
            if source != dest:
                found.append(Handover(job.id, dep, source, dest, transfer(source, dest) if dep in job.deps else 0.0))
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
        if not any(_runs_platforms(n, job) for n in ready):
            missing = next((p for p in job.node_platforms if not any(platform_rank(n, p) is not None for n in ready)), None)
            error = NoNodeError(job.id, missing or job.platform or "its native platform", _node_listing(nodes))
            readers = [j.id for j in jobs if job.id in j.deps]
            if readers:
                who = f"{readers[0]} reads it" if len(readers) == 1 else f"{', '.join(readers[:5])} read it"
                cannot = "it cannot" if len(readers) == 1 else "they cannot"
                error.hint = f"{who} through a target: context, so {cannot} run either. " + (error.hint or "")
            raise error
