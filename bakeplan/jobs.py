"""Resolved targets x platforms into jobs: the things bakeplan estimates, places and reports.

A `Job` is one target built for one platform. A target without `platforms`
builds for the platform buildx gives it: the builder's default, its first
node's platform (this machine's for the default builder). When that is known
(`make_jobs(default_platform=...)`, from the nodes) the job takes it
explicitly (`default=True`), so that moving the job never changes the image's
architecture; otherwise (a CI file, whose runner is not known yet) its
platform is None, shown as `native`, and it takes its node's.

Dependencies come from `target:` named contexts, per platform: the child's job
for platform P waits for the parent's job for P; a parent with a single
platform (or none) serves every platform of the child, as buildx does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

from bakeplan.bake.model import BakeResult, JSONValue, Target
from bakeplan.demand import NONE, Demand
from bakeplan.dockerfiles import Execution
from bakeplan.errors import BakeplanError, UsageError
from bakeplan.platforms import normalize_platform
from bakeplan.record import field, record

NATIVE = "native"  # how a job without a platform is named and filtered


@record
class Job:
    """One target built for one platform: one slot, one invocation, the unit of scheduling and reporting.

    `id` is `TARGET@PLATFORM` (`TARGET@native` when the target has no
    platforms and the builder's default is not known). `deps` are the ids of
    the jobs whose results this job reads through `target:` contexts.
    `default`: the target has no platforms and `platform` is the builder's
    default. `execution`: where its RUN steps run (`bakeplan.dockerfiles`;
    None: not read, they run on `platform`). `demand`: the CPUs and memory its
    target's `resources` ask for (`bakeplan.demand`).
    """

    id: str
    target: str
    platform: str | None  # None: the node's own platform
    matrix: Mapping[str, JSONValue] = field(default_factory=dict)
    block: str = ""  # the block label the target came from (matrix siblings share it)
    deps: tuple[str, ...] = ()
    default: bool = False
    execution: Execution | None = None
    demand: Demand = NONE

    @property
    def platform_label(self) -> str:
        """The platform as shown and filtered: the platform, or `native`."""
        return self.platform or NATIVE

    @property
    def node_platforms(self) -> tuple[str | None, ...]:
        """The platforms a node must build to run this job ((None,): any node)."""
        return self.execution.platforms(self.platform) if self.execution else (self.platform,)


def job_id(target: str, platform: str | None) -> str:
    """The stable id of a target's job for a platform."""
    return f"{target}@{platform or NATIVE}"


def linked_targets(target: Target) -> tuple[str, ...]:
    """Names of the targets this target reads through `target:` contexts, in context order."""
    names = (value[len("target:"):] for value in target.contexts.values() if isinstance(value, str) and value.startswith("target:"))
    return tuple(dict.fromkeys(names))


def _parent_platforms(child: str | None, parent: Target, default: str | None) -> str | None:
    """The parent job platform that serves a child job on `child` (None: native)."""
    platforms = parent.platforms
    if len(platforms) <= 1:
        # buildx: a single-platform (or platform-less) parent serves every child platform.
        return platforms[0] if platforms else default
    if child in platforms:
        return child
    raise BakeplanError(
        f"target {parent.name!r} is built for {', '.join(platforms)} but a target that reads it "
        f"via target:{parent.name} builds for {child or NATIVE}",
        hint="Give the parent that platform too, or make the parent single-platform.",
    )


def _target_jobs(target: Target, targets: Mapping[str, Target], default: str | None) -> list[Job]:
    """The jobs of one target, one per platform, with dependencies."""
    jobs = []
    for platform in target.platforms or (default,):
        deps = tuple(
            job_id(name, _parent_platforms(platform, targets[name], default))
            for name in linked_targets(target)
            if name in targets
        )
        jobs.append(Job(
            id=job_id(target.name, platform),
            target=target.name,
            platform=platform,
            matrix={key: _plain(value) for key, value in target.matrix.items()},
            block=target.block or target.name,
            deps=deps,
            default=not target.platforms and default is not None,
        ))
    return jobs


def _plain(value: JSONValue) -> JSONValue:
    """A matrix value as JSON data (the bake stage may hand over cty values)."""
    from bakeplan.hcl.values import Value, to_python

    return to_python(value) if isinstance(value, Value) else value


def closure(result: BakeResult, names: Iterable[str]) -> tuple[str, ...]:
    """`names` plus every target they reach through `target:` contexts, in printed order.

    buildx builds a linked target in the same invocation as its child, so a
    selection that drops a parent would not match what runs.
    """
    wanted: set[str] = set()
    stack = [name for name in names if name in result.targets]
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        wanted.add(name)
        stack.extend(n for n in linked_targets(result.targets[name]) if n in result.targets)
    return tuple(name for name in result.targets if name in wanted)


def make_jobs(result: BakeResult, targets: Sequence[str] | None = None, *,
              default_platform: str | None = None) -> tuple[Job, ...]:
    """Every job of the given targets (default: all of `result`), in printed order then platform order.

    Linked parents of the given targets are included (see `closure`). A
    target without platforms builds for `default_platform` (None: its node's).
    """
    names = closure(result, result.targets if targets is None else targets)
    return tuple(job for name in names for job in _target_jobs(result.targets[name], result.targets, default_platform))


# ---------------------------------------------------------------- filters


@record
class Filter:
    """One `--only KEY=VALUE` or `--exclude KEY=VALUE`; VALUE may be a glob.

    KEY is a matrix variable, `platform` or `target`. A job without that
    matrix variable never matches it.
    """

    key: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Filter:
        """Parse `KEY=VALUE`."""
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad filter {text!r}: expected KEY=VALUE", hint="For example --only goarch=arm64 or --exclude platform=linux/386.")
        return cls(key.strip(), value.strip())

    def matches(self, job: Job) -> bool:
        """Whether the job has KEY matching VALUE."""
        if self.key == "platform":
            values = [job.platform_label] + ([normalize_platform(job.platform)] if job.platform else [])
            values += [NATIVE] if job.default else []  # `--only platform=native` still finds platform-less targets
            return any(fnmatch.fnmatchcase(v, p) for v in values for p in {self.value, _normalized(self.value)})
        elif self.key == "target":
            values = [job.target, job.block]
        elif self.key in job.matrix:
            values = [_text(job.matrix[self.key])]
        else:
            return False
        return any(fnmatch.fnmatchcase(v, self.value) for v in values)


def _normalized(pattern: str) -> str:
    """A platform pattern in canonical form (linux/arm64/v8 -> linux/arm64); globs pass through."""
    return pattern if "*" in pattern or "?" in pattern or "[" in pattern or "/" not in pattern else normalize_platform(pattern)


def _text(value: JSONValue) -> str:
    """A matrix value as filters compare it (booleans as HCL writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def select(jobs: Sequence[Job], only: Sequence[Filter] = (), exclude: Sequence[Filter] = ()) -> tuple[Job, ...]:
    """Keep the jobs matching every `only` key and no `exclude`, plus the jobs they depend on.

    `--only` filters with the same key are alternatives (`--only goarch=amd64
    --only goarch=arm64`); different keys must all match, as in GitHub's
    matrix include/exclude.
    """
    _check_keys(jobs, [*only, *exclude])
    by_key: dict[str, list[Filter]] = {}
    for f in only:
        by_key.setdefault(f.key, []).append(f)
    kept = {
        job.id for job in jobs
        if all(any(f.matches(job) for f in group) for group in by_key.values())
        and not any(f.matches(job) for f in exclude)
    }
    if jobs and not kept:
        raise _nothing_selected(jobs, only, exclude)
    return _with_deps(jobs, kept)


def _check_keys(jobs: Sequence[Job], filters: Sequence[Filter]) -> None:
    """A filter key no job has is a typo (an --exclude on it would silently drop nothing)."""
    keys = {k for job in jobs for k in job.matrix} | {"platform", "target"}
    for f in filters:
        if jobs and f.key not in keys:
            matrix = sorted(keys - {"platform", "target"})
            known = f" or a matrix key: {', '.join(matrix)}" if matrix else " (these targets have no matrix)"
            raise BakeplanError(f"unknown filter key {f.key!r} in {f.key}={f.value}",
                                hint=f"Filter on platform, target{known}.")


def _nothing_selected(jobs: Sequence[Job], only: Sequence[Filter], exclude: Sequence[Filter]) -> BakeplanError:
    """No job left after filtering: an empty plan (or CI matrix) is never what was meant; show the values there are."""
    given = " ".join([*(f"--only {f.key}={f.value}" for f in only), *(f"--exclude {f.key}={f.value}" for f in exclude)])
    known = []
    for key in dict.fromkeys(f.key for f in (*only, *exclude)):
        values = dict.fromkeys(_values(job, key) for job in jobs)
        listed = [v for v in values if v is not None]
        known.append(f"{key}: {', '.join(listed[:12])}{', ...' if len(listed) > 12 else ''}")
    return BakeplanError(f"no job matches {given} (of {len(jobs)} job{'s' * (len(jobs) != 1)})",
                         hint="Values there are: " + "; ".join(known) + ".")


def _values(job: Job, key: str) -> str | None:
    """What a filter on `key` compares for this job (None: the job lacks the key)."""
    if key == "platform":
        return job.platform_label
    if key == "target":
        return job.target
    return _text(job.matrix[key]) if key in job.matrix else None


def _with_deps(jobs: Sequence[Job], kept: set[str]) -> tuple[Job, ...]:
    """`kept` plus their dependencies (a child cannot build without its parents), in job order."""
    by_id = {job.id: job for job in jobs}
    stack = list(kept)
    while stack:
        for dep in by_id[stack.pop()].deps:
            if dep in by_id and dep not in kept:
                kept.add(dep)
                stack.append(dep)
    return tuple(job for job in jobs if job.id in kept)
