"""From a resolved bake to a plan: jobs grouped into units, units placed on nodes.

Linked targets: co-scheduled, not handed over
---------------------------------------------
buildx builds a target that another reads through a `target:` context in the
same `docker buildx bake` invocation, on the same node, as its child (the
parent's result is passed inside the build session, never exported). bakeplan
keeps that exact behaviour: every weakly connected component of the job graph
is one *unit*, built by one invocation on one node. It never invents an
invocation buildx would reject and needs no extra exporter, registry or
shared directory. The price: a linked component cannot spread over nodes
(a single-platform parent serving a multi-platform child ties all those
platforms to one node, which must build each of them). Handing results over
between nodes (an `oci-layout://` directory or a pushed `docker-image://`)
would lift that; the scheduler already takes unit dependencies, so it can
be added without changing it.

Inside a unit buildx runs independent jobs concurrently and a child after its
parents, so a unit's estimated duration is its longest job chain, and each
job's estimated start is the unit's start plus the longest chain before it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from bakeplan.bake.model import BakeResult
from bakeplan.graph import job_graph, linked_components
from bakeplan.history import History
from bakeplan.jobs import Filter, Job, make_jobs, select
from bakeplan.errors import BakeplanError, NoNodeError
from bakeplan.nodes import EMULATED, Node, platform_rank, usable
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR, LowerBound, Placement, Task, prepare, simulate


@dataclass(frozen=True, slots=True)
class Unit:
    """Jobs that must run in one `docker buildx bake` invocation on one node (a linked component).

    `jobs` are job ids in build order (parents first); `targets` the distinct
    targets in that order; `platforms` maps each target to the platforms this
    unit builds it for (() for a target built for the node's own platform).
    `names` are the targets named on the command line: the requested ones.
    A target that is only linked is left to bake, which builds it with a
    `cacheonly` output as it does for any linked target (bake.go loadLinks),
    so bakeplan never exports or pushes something the user did not ask for.
    `deps` are unit ids this unit waits for (none while linked targets are
    co-scheduled; kept so hand-over can add them).
    """

    id: str
    jobs: tuple[str, ...]
    targets: tuple[str, ...]
    platforms: Mapping[str, tuple[str, ...]]
    duration: float
    deps: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def all_platforms(self) -> tuple[str | None, ...]:
        """Every platform the unit builds (None for a native job), in order, once."""
        found: list[str | None] = []
        for target in self.targets:
            found.extend(self.platforms[target] or (None,))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class JobTiming:
    """Where and when one job is estimated to run."""

    node: str
    start: float
    end: float
    platform: str | None  # the platform it builds there (a native job takes the node's)
    critical: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole dry run: every node considered, every job and unit, where and when they run."""

    nodes: tuple[Node, ...]  # every candidate, excluded ones with their reason
    jobs: tuple[Job, ...]  # in printed order, then platform order
    units: tuple[Unit, ...]
    placements: Mapping[str, Placement]  # unit id -> node, estimated start/end
    timings: Mapping[str, JobTiming]  # job id -> node, estimated start/end
    makespan: float
    lower_bound: LowerBound
    critical_path: tuple[str, ...]  # job ids, first to last
    files: tuple[str, ...]  # bake files for `-f`, in load order
    builder_names: Mapping[str, str | None] = field(default_factory=dict)  # node name -> --builder
    overrides: tuple[str, ...] = ()  # the user's --set, repeated in every invocation
    variables: tuple[str, ...] = ()  # the user's --var, repeated in every invocation

    @property
    def ratio(self) -> float:
        """makespan / lower bound."""
        bound = self.lower_bound.value
        return self.makespan / bound if bound > 0 else 1.0

    def unit(self, unit_id: str) -> Unit:
        """The unit with that id."""
        return next(u for u in self.units if u.id == unit_id)

    def node(self, name: str) -> Node:
        """The node with that name."""
        return next(n for n in self.nodes if n.name == name)

    def argv(self, unit_id: str, *, docker: str = "docker") -> tuple[str, ...]:
        """The exact `docker buildx bake` argv of a unit on its planned node."""
        unit = self.unit(unit_id)
        return bake_argv(unit, self.node(self.placements[unit_id].node), self.files, docker=docker,
                         overrides=self.overrides, variables=self.variables)


def bake_argv(unit: Unit, node: Node, files: Sequence[str], *, docker: str = "docker",
              sets: Sequence[str] = (), overrides: Sequence[str] = (), variables: Sequence[str] = ()) -> tuple[str, ...]:
    """`docker buildx bake --builder B -f FILE... [--var V...] [--set O...] --set T.platform=P... [--set S...] T...`.

    `--builder` is omitted for a node without its own builder (the current
    builder is used). `variables` (`--var`) and the user's `overrides`
    (`--set`) come before bakeplan's platform `--set`s, which must win
    (later `--set`s override earlier ones). `sets` come last (`run` adds
    cache refs there).
    """
    argv = [docker, "buildx", "bake"]
    if node.builder:
        argv += ["--builder", node.builder]
    for name in files:
        argv += ["-f", str(name)]
    for item in variables:
        argv += ["--var", item]
    for item in overrides:
        argv += ["--set", item]
    for target in unit.targets:
        if unit.platforms[target]:
            argv += ["--set", f"{target}.platform={','.join(unit.platforms[target])}"]
    for item in sets:
        argv += ["--set", item]
    return (*argv, *(unit.names or unit.targets))


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

    Raises CycleError for `target:` cycles and NoNodeError when no node can build a unit.
    """
    history = History() if history is None else history
    jobs = select(make_jobs(result), only, exclude)
    graph = job_graph(jobs)
    durations = {job.id: max(history.estimate(job), 0.0) for job in jobs}
    units, offsets = _units(jobs, graph, durations, requested_targets(result))
    owner = {job_id: unit.id for unit in units for job_id in unit.jobs}
    jobs = tuple(_with_unit(job, owner[job.id]) for job in jobs)
    _check_nodes(units, nodes)
    _check_linked_units(units, usable(nodes))
    problem = prepare([Task(u.id, u.duration, u.all_platforms, u.deps) for u in units], usable(nodes),
                      emulation_factor=emulation_factor)
    schedule = simulate(problem)
    placements = {p.task: p for p in schedule.placements}
    critical = _critical_jobs(units, schedule.critical_path, offsets, durations)
    timings = _timings(jobs, placements, offsets, durations, critical, nodes, emulation_factor)
    return Plan(
        nodes=tuple(nodes), jobs=jobs, units=units, placements=placements, timings=timings,
        makespan=schedule.makespan, lower_bound=schedule.lower_bound, critical_path=critical,
        files=tuple(str(f) for f in result.files),
        builder_names={n.name: n.builder for n in nodes},
        overrides=tuple(overrides), variables=tuple(variables),
    )


def _with_unit(job: Job, unit: str) -> Job:
    return Job(job.id, job.target, job.platform, job.matrix, job.block, job.deps, unit)


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


def _unit_label(unit: Unit) -> str:
    """A unit as the user knows it: its job, or its linked targets (its id `JOB+N` reads like a platform)."""
    if len(unit.jobs) == 1:
        return unit.jobs[0]
    return f"{', '.join(unit.targets)} (linked by target: contexts, built together)"


def _check_nodes(units: Sequence[Unit], nodes: Sequence[Node]) -> None:
    """Every platform of every unit has a usable node; else name the jobs and every candidate node."""
    if not units:
        return
    ready = usable(nodes)
    if not ready:
        raise BakeplanError(
            "no usable node" + "".join(f"\n  {name}: {', '.join(plats) or '(no platforms)'}" for name, plats in _node_listing(nodes)),
            hint="Declare nodes (bakeplan.toml or --node name=N,platforms=linux/amd64), or fix or pick a builder (--builder).")
    for unit in units:
        for platform in unit.all_platforms:
            if not any(platform_rank(n, platform) is not None for n in ready):
                raise NoNodeError(_unit_label(unit), platform or "its native platform", _node_listing(nodes))


def _check_linked_units(units: Sequence[Unit], nodes: Sequence[Node]) -> None:
    """A linked component spanning platforms needs one node that builds them all: say so plainly."""
    for unit in units:
        platforms = unit.all_platforms
        if len(platforms) < 2 or any(all(platform_rank(n, p) is not None for p in platforms) for n in nodes):
            continue
        error = NoNodeError(_unit_label(unit), f"all of {', '.join(p or 'native' for p in platforms)} on one node",
                            _node_listing(nodes))
        error.hint = (f"{', '.join(unit.targets)} are linked by target: contexts, and buildx builds linked targets "
                      "in one invocation on one node. Give the shared parent the same platforms as its children "
                      "(one parent job per platform), or declare a node that builds all of these platforms.")
        raise error


def _units(jobs: Sequence[Job], graph: nx.DiGraph, durations: Mapping[str, float],
           requested: frozenset[str]) -> tuple[tuple[Unit, ...], dict[str, float]]:
    """One unit per linked component, and each job's start offset inside its unit."""
    by_id = {job.id: job for job in jobs}
    offsets: dict[str, float] = {}
    units = []
    for component in linked_components(graph, [job.id for job in jobs]):
        for job_id in component:  # topological: parents already have offsets
            offsets[job_id] = max((offsets[d] + durations[d] for d in by_id[job_id].deps if d in offsets), default=0.0)
        targets = tuple(dict.fromkeys(by_id[j].target for j in component))
        platforms = {t: tuple(dict.fromkeys(p for j in component if by_id[j].target == t and (p := by_id[j].platform))) for t in targets}
        units.append(Unit(
            id=_unit_id(by_id, component),
            jobs=tuple(component),
            targets=targets,
            platforms=platforms,
            duration=max(offsets[j] + durations[j] for j in component),
            names=tuple(t for t in targets if t in requested) or _sinks(targets, by_id, component),
        ))
    return tuple(units), offsets


def _sinks(targets: Sequence[str], by_id: Mapping[str, Job], component: Sequence[str]) -> tuple[str, ...]:
    """Targets of a component that no other job in it reads (what to name when none was requested)."""
    read = {by_id[d].target for j in component for d in by_id[j].deps if d in by_id}
    return tuple(t for t in targets if t not in read)


def _unit_id(by_id: Mapping[str, Job], component: Sequence[str]) -> str:
    """A unit's id: its job's id, or for a linked component its last job's id plus `+N` more."""
    if len(component) == 1:
        return component[0]
    return f"{component[-1]}+{len(component) - 1}"


def _critical_jobs(units: Sequence[Unit], path: Sequence[str], offsets: Mapping[str, float],
                   durations: Mapping[str, float]) -> tuple[str, ...]:
    """Job ids on the critical path: inside each critical unit, its longest job chain."""
    by_id = {u.id: u for u in units}
    chain: list[str] = []
    for unit_id in path:
        unit = by_id[unit_id]
        last = max(unit.jobs, key=lambda j: (offsets[j] + durations[j], -unit.jobs.index(j)))
        inner = [last]
        while offsets[inner[-1]] > 0:
            before = [j for j in unit.jobs if abs(offsets[j] + durations[j] - offsets[inner[-1]]) < 1e-9]
            if not before:
                break
            inner.append(before[0])
        chain.extend(reversed(inner))
    return tuple(chain)


def _timings(jobs: Sequence[Job], placements: Mapping[str, Placement], offsets: Mapping[str, float],
             durations: Mapping[str, float], critical: Sequence[str], nodes: Sequence[Node],
             emulation_factor: float) -> dict[str, JobTiming]:
    """Each job's node and estimated start/end from its unit's placement."""
    by_name = {n.name: n for n in nodes}
    marked = set(critical)
    timings = {}
    for job in jobs:
        placement = placements[job.unit]
        scale = emulation_factor if placement.rank == EMULATED else 1.0
        start = placement.start + offsets[job.id] * scale
        node = by_name[placement.node]
        timings[job.id] = JobTiming(
            node=placement.node,
            start=start,
            end=start + durations[job.id] * scale,
            platform=node.default_platform if job.platform in (None, "local") else job.platform,
            critical=job.id in marked,
        )
    return timings
