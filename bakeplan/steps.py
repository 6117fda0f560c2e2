"""From a plan to what a run executes: one bake step per job, one merge step per split pushed image.

A job's invocation (`job_invocation`) is decided when the job starts, because
only then is it known where its parents ran:

- a parent that ran on the same node is re-solved inside the job's own
  invocation; that node's BuildKit answers it from its cache;
- a parent that ran elsewhere is read by digest (`sources`: its hand-over
  reference, `oci-layout://DIR@sha256:...` or `docker-image://REPO@sha256:...`)
  through `--set CHILD.contexts.NAME=...`, so it is never rebuilt.

A target the user did not ask for (it is only linked) gets none of the user's
outputs or pushes, exactly as buildx builds a linked target `cacheonly`; when
children on other nodes read it, its one output is the hand-over copy.

A pushed multi-platform target is built one platform per job, each pushed by
digest into every repository of its names; a merge step then writes the tags
with `docker buildx imagetools create`, as buildx does inside a multi-node builder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import CacheBackend, job_refs
from bakeplan.invocation import Invocation, TargetSettings, user_sets
from bakeplan.jobs import Job
from bakeplan.outputs import image_names, job_exports, pushes, repositories
from bakeplan.platforms import normalize_platform
from bakeplan.record import record

if TYPE_CHECKING:
    from bakeplan.plan import Plan

BAKE, MERGE = "bake", "merge"


@record
class JobSettings:
    """What every job's invocation shares: the definition's files and the user's flags.

    `files` are the user's bake files (with `sets` and `variables` still to be
    passed) or, in a run, left empty: each job then reads its own resolved
    definition, which has them applied.
    """

    files: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    push: bool = False
    load: bool = False
    no_cache: bool = False
    progress: str = ""
    cache: CacheBackend | None = None
    docker: str = "docker"


@record
class Step:
    """One thing a run executes: a job's bake (`bake`) or a manifest merge (`merge`).

    `id` is the job id (`TARGET@PLATFORM`) or `merge:TARGET`; `platforms` what
    its node must build (None: the node's own); `deps` the step ids it waits
    for; `estimate` its expected seconds. A merge reads the pushed digests of
    its deps (`digest` results) and tags them in `merge_repo`.
    """

    id: str
    kind: str
    target: str
    platforms: tuple[str | None, ...] = (None,)
    deps: tuple[str, ...] = ()
    estimate: float = 0.0
    tags: tuple[str, ...] = ()  # a merge's tags
    merge_repo: str = ""
    cpus: float = 1.0  # what a bake asks of its node (`bakeplan.demand`)
    memory: int | None = None

    @property
    def label(self) -> str:
        """How people read the step."""
        return self.id


def steps_from_plan(plan_jobs: Sequence[Job], result: BakeResult, requested: frozenset[str],
                    estimates: Mapping[str, float], *, push: bool) -> tuple[Step, ...]:
    """A bake step per job (plan order), then a merge per requested pushed target split over jobs."""
    steps = [Step(job.id, BAKE, job.target, job.node_platforms, job.deps, estimates.get(job.id, 0.0),
                  cpus=job.demand.cpus, memory=job.demand.memory) for job in plan_jobs]
    by_target: dict[str, list[Job]] = {}
    for job in plan_jobs:
        by_target.setdefault(job.target, []).append(job)
    for target, jobs in by_target.items():
        merge = _merge_step(target, result.targets[target], jobs, requested, push=push)
        if merge is not None:
            steps.append(merge)
    return tuple(steps)


def _merge_step(name: str, target: Target, jobs: Sequence[Job], requested: frozenset[str], *, push: bool) -> Step | None:
    """`imagetools create --tag T...` over the per-platform digests of a split, pushed, requested target."""
    tags = image_names(target)
    if name not in requested or not splits(target) or not tags or not pushes(target, push=push):
        return None
    return Step(f"merge:{name}", MERGE, name, (None,), tuple(j.id for j in jobs), 1.0, tuple(tags),
                repositories(tags)[0])


def splits(target: Target) -> bool:
    """Whether a target's platforms are built by separate jobs (every multi-platform target)."""
    return len(target.platforms) > 1


def merge_argv(step: Step, digests: Sequence[str], *, docker: str = "docker", builder: str | None = None) -> tuple[str, ...]:
    """`docker buildx imagetools create [--builder B] --tag T... REPO@DIGEST...`."""
    argv = [docker, "buildx", "imagetools", "create"]
    if builder:
        argv += ["--builder", builder]
    for tag in step.tags:
        argv += ["--tag", tag]
    return (*argv, *(f"{step.merge_repo}@{digest}" for digest in digests))


# ---------------------------------------------------------------- a job's invocation


def job_invocation(
    job: Job,
    by_id: Mapping[str, Job],
    result: BakeResult,
    requested: frozenset[str],
    settings: JobSettings,
    *,
    sources: Mapping[str, str],
    export: str | bool = "",
    files: Sequence[str] | None = None,
    builder: str | None = None,
    metadata_file: str = "",
    node_platform: str | None = None,
) -> Invocation:
    """The invocation building `job`: its target, the parents it re-solves, the parents it reads by digest.

    `by_id` maps every job id to its job. `sources` maps a parent job id to
    the context value it is read by (absent: re-solved here). `export` is the
    hand-over output entry (True: a placeholder, for plans). `files` default
    to the settings' files. `node_platform` is the platform of the node it
    runs on (its build platform), for the cache refs of cross-compiling jobs.
    """
    here = resolved_here(job, by_id, sources)
    target = result.targets[job.target]
    own = _own_settings(job, target, job.target in requested, settings, sources, by_id, export, node_platform)
    parents = [_parent_settings(by_id[j], result.targets[by_id[j].target], settings, sources, by_id, node_platform)
               for j in here[1:]]
    all_settings = (own, *parents)
    return Invocation(
        names=(job.target,),
        files=tuple(settings.files if files is None else files),
        settings=all_settings,
        variables=settings.variables,
        sets=user_sets(settings.sets, {s.name: s.owned() for s in all_settings}),
        allow=settings.allow,
        load=settings.load and job.target in requested,
        no_cache=settings.no_cache,
        metadata_file=metadata_file,
        progress=settings.progress,
        builder=builder,
        docker=settings.docker,
    )


def resolved_here(job: Job, by_id: Mapping[str, Job], sources: Mapping[str, str]) -> list[str]:
    """The job and every ancestor its invocation re-solves (reached through parents not read by digest)."""
    order = [job.id]
    stack = [job.id]
    while stack:
        for dep in by_id[stack.pop()].deps:
            if dep in by_id and dep not in sources and dep not in order:
                order.append(dep)
                stack.append(dep)
    return order


def _own_settings(job: Job, target: Target, requested: bool, settings: JobSettings, sources: Mapping[str, str],
                  by_id: Mapping[str, Job], export: str | bool, node_platform: str | None) -> TargetSettings:
    """The job's own target: its platform, outputs (its share, or none when only linked), cache, contexts."""
    extra = (export if isinstance(export, str) else "type=oci,dest=<hand-over dir>,tar=false",) if export else ()
    outputs, tags = job_exports(target, job.platform, requested=requested, push=settings.push, extra=extra)
    refs = job_refs(settings.cache, job.target, job.platform, built_on(job, node_platform)) if settings.cache else None
    return TargetSettings(
        name=job.target, platform=job.platform, outputs=outputs, tags=tags,
        cache_from=refs.cache_from if refs else (), cache_to=refs.cache_to if refs else (),
        cache_replace=bool(settings.cache and settings.cache.replace),
        contexts=_handed_contexts(job, target, sources, by_id),
    )


def _parent_settings(parent: Job, target: Target, settings: JobSettings, sources: Mapping[str, str],
                     by_id: Mapping[str, Job], node_platform: str | None) -> TargetSettings:
    """A parent re-solved in a child's invocation: the one platform the child needs, its cache to read.

    A parent without platforms gets the builder's default explicitly when
    known (`Job.default`), as it does in its own invocation.
    """
    refs = job_refs(settings.cache, parent.target, parent.platform, built_on(parent, node_platform)) if settings.cache else None
    return TargetSettings(
        name=parent.target, platform=parent.platform if splits(target) or parent.default else None,
        cache_from=refs.cache_from if refs else (), cache_replace=bool(settings.cache and settings.cache.replace),
        contexts=_handed_contexts(parent, target, sources, by_id),
    )


def built_on(job: Job, node_platform: str | None) -> str | None:
    """The node platform a job's cache names: set when its build-platform stages run on another
    platform than its target's (then what they cache differs from the target node's)."""
    if not node_platform or not job.platform or job.execution is None or not job.execution.build:
        return None
    node = normalize_platform(node_platform)
    return node if node != normalize_platform(job.platform) else None


def _handed_contexts(job: Job, target: Target, sources: Mapping[str, str], by_id: Mapping[str, Job]) -> tuple[tuple[str, str], ...]:
    """`(context name, reference)` for each `target:` context whose parent is read by digest."""
    parent_of = {by_id[d].target: d for d in job.deps if d in by_id}
    found = []
    for name, value in target.contexts.items():
        if isinstance(value, str) and value.startswith("target:"):
            dep = parent_of.get(value[len("target:"):])
            if dep is not None and dep in sources:
                found.append((name, sources[dep]))
    return tuple(found)


def planned_sources(plan: Plan, job: Job) -> dict[str, str]:
    """For a plan's display: each parent the job reads by digest, as a placeholder reference."""
    return {h.parent: f"oci-layout://<hand-over of {h.parent}>@<digest>" for h in plan.handovers_into(job.id)}
