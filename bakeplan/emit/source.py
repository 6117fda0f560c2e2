"""Jobs for the CI emitters, read from a resolved bake result.

One job per target and platform (a target without platforms is one job for the
runner's own platform). A `target:NAME` context makes the child's job for a
platform wait for the parent's job for that platform; a parent with a single
platform (or none) serves every platform of its children.

buildx builds a target linked by `target:` inside the same invocation as its
child (bake.go `loadLinks`), unless the child's context is overridden. The CI
plan runs the parent's leg first, in an earlier layer; with a registry the
parent's leg pushes its image by digest and the child's leg overrides the
context with `docker-image://REPO@DIGEST`, so the parent is not built again
(`legs`). Each job therefore records its direct links (`Link`): context name,
parent target, and the parent's job serving this platform.

A target that is only read by others (not asked for) is what buildx builds as
`cacheonly` (`linked_only`): its legs never get the user's outputs or pushes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from bakeplan.bake.model import BakeResult, JSONValue, Target
from bakeplan.emit.model import Inputs, Job, Link
from bakeplan.jobs import Filter, linked_targets, make_jobs, select
from bakeplan.jobs import Job as PlannedJob
from bakeplan.outputs import output_entries, parse_entry

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)")
_IMAGE_PREFIXES = ("docker-image://", "target:")


def jobs_from_result(result: BakeResult, only: Sequence[Filter] = (), exclude: Sequence[Filter] = ()) -> tuple[Job, ...]:
    """The plan stage's jobs (after `--only`/`--exclude`) with what CI needs, in plan order."""
    planned = select(make_jobs(result), only, exclude)
    return tuple(_job(job, result) for job in planned)


def leg_id(planned_id: str) -> str:
    """A plan job id (`app@linux/arm64`) made safe for CI job and artifact names: `app-linux-arm64`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", planned_id).strip("-") or "job"


def _job(job: PlannedJob, result: BakeResult) -> Job:
    target = result.targets[job.target]
    return Job(
        id=leg_id(job.id),
        target=job.target,
        platform=job.platform,
        values=tuple((key, plain(value)) for key, value in job.matrix.items()),
        needs=tuple(leg_id(dep) for dep in job.deps),
        links=links_of(target, job, result),
        inputs=inputs_of(target),
        spec=target,
        multi=len(target.platforms) > 1,
        linked_only=output_entries(target) == [{"type": "cacheonly"}],
    )


def plain(value: object) -> JSONValue:
    """A matrix value as JSON data (the bake stage may hand over cty values)."""
    from bakeplan.hcl.values import Value, to_python

    return to_python(value) if isinstance(value, Value) else value


def links_of(target: Target, job: PlannedJob, result: BakeResult) -> tuple[Link, ...]:
    """The target's `target:` contexts in context order, each with the parent job serving this job.

    The plan stage lists one dependency per linked target (`linked_targets`
    order), so the two line up.
    """
    parents = [name for name in linked_targets(target) if name in result.targets]
    serving = dict(zip(parents, (leg_id(dep) for dep in job.deps), strict=True))
    found = []
    for context, value in target.contexts.items():
        parent = str(value).removeprefix("target:")
        if str(value).startswith("target:") and parent in serving:
            found.append(Link(context, parent, serving[parent]))
    return tuple(found)


def inputs_of(target: Target) -> Inputs:
    """The local paths a target's build reads: context, Dockerfile, named local contexts."""
    fields = target.fields
    context = str(fields.get("context") or ".")
    local = not _is_remote(context) and context != "-"
    dockerfile = None
    if local and not fields.get("dockerfile-inline"):
        name = str(fields.get("dockerfile") or "Dockerfile")
        dockerfile = name if name.startswith("/") or name == "-" else _join(context, name)
    named = tuple(_local_context(str(v)) for v in target.contexts.values())
    files = ([f"{dockerfile}.dockerignore"] if dockerfile else []) + _secret_files(fields.get("secret") or ())
    return Inputs(context if local else None, dockerfile, tuple(p for p in named if p is not None), tuple(files))


def _secret_files(secrets: Sequence[JSONValue]) -> list[str]:
    """Secret source files (buildx's object form or `id=...,src=...` strings)."""
    found = []
    for secret in secrets:
        attrs = parse_entry(secret)
        src = attrs.get("src") or attrs.get("source")
        if src and attrs.get("type", "file") == "file":
            found.append(src)
    return found


def _local_context(value: str) -> str | None:
    if value.startswith(_IMAGE_PREFIXES) or _is_remote(value) and not value.startswith("oci-layout://"):
        return None
    if value.startswith("oci-layout://"):
        return value[len("oci-layout://") :].split("@", 1)[0].split(":", 1)[0] or None
    return value


def _is_remote(value: str) -> bool:
    return _REMOTE.match(value) is not None or value.endswith(".git")


def _join(context: str, name: str) -> str:
    return posixpath.normpath(name if context in (".", "./", "") else f"{context.rstrip('/')}/{name}")


