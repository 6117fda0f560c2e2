"""Jobs -> legs: runner labels, each leg's bake settings, hand-overs, layers, chunks, merges.

Hand-over policy (see `model`): with a registry (`--push` or `--handoff
registry:REPO`), every leg whose job another job reads through `target:`
leaves its image in a repository and saves its digest; the reading leg sets
the context to `docker-image://REPO@DIGEST` instead of building the parent.
The repository is the parent's own first repository when its leg pushes
anyway (its merge's push by digest, or its push by tag: no second push), else
the `--handoff` repository (pushed by digest, nothing tagged). A parent no one
asked for (linked only) never gets the user's outputs or `--push`.

Otherwise the reading leg rebuilds the parent (and what it reads) from the
parents' per-leg caches, as buildx would: without a registry, for a parent
that `--push` does not push when there is no `--handoff` (it has no
repository of its own to go to), and for a parent whose leg is left out of
this run (`--since`). The plan says so (`commands.rebuild_lines`). A parent
without a repository is rebuilt rather than refused because the generated
GitHub workflow re-runs `bakeplan ci` at every run: an error would break
workflows generated before `--handoff` existed, while a rebuild is correct,
only slower, and reported.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from bakeplan.cache import CacheBackend, job_refs
from bakeplan.emit.model import BakeCall, CIPlan, Handoff, Job, Leg, Merge, chunk, layers
from bakeplan.errors import UsageError
from bakeplan.invocation import TargetSettings, user_sets
from bakeplan.outputs import digest_output, image_names, job_exports, pushes, repositories, repository
from bakeplan.platforms import PLATFORM_SPEC, normalize_platform
from bakeplan.record import record

# Per CI system: runner label per platform, and the label for everything else.
DEFAULT_RUNNERS: Mapping[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "github": ((("linux/amd64", "ubuntu-24.04"), ("linux/arm64", "ubuntu-24.04-arm")), "ubuntu-24.04"),
    "gitlab": (
        (("linux/amd64", "saas-linux-small-amd64"), ("linux/arm64", "saas-linux-small-arm64")),
        "saas-linux-small-amd64",
    ),
    "jenkins": ((("linux/amd64", "linux && amd64"), ("linux/arm64", "linux && arm64")), "linux && amd64"),
}
# Platforms an amd64 runner builds without emulation (the default runners are amd64).
_AMD64_NATIVE = ("linux/amd64", "linux/386")


@record
class Runners:
    """Runner label per platform (normalized), plus a default for the rest."""

    labels: tuple[tuple[str, str], ...]
    default: str
    default_is_amd64: bool = True  # the built-in defaults are amd64 machines; a user's may not be

    def place(self, platform: str | None) -> tuple[str, bool]:
        """The runner label for a platform, and whether it must emulate it."""
        if platform is None:
            return self.default, False
        wanted = normalize_platform(platform)
        for key, label in self.labels:
            if key == wanted:
                return label, False
        return self.default, not (self.default_is_amd64 and wanted.startswith(_AMD64_NATIVE))


def runners_for(system: str, overrides: Sequence[str] = ()) -> Runners:
    """The system's default runners with `PLATFORM=LABEL` (or `default=LABEL`) overrides."""
    defaults, builtin = DEFAULT_RUNNERS[system]
    labels, default = dict(defaults), builtin
    for item in overrides:
        key, sep, label = item.partition("=")
        if not sep or not key or not label:
            raise UsageError(f"bad --runner {item!r}", hint="Use --runner PLATFORM=LABEL, e.g. linux/arm64=ubuntu-24.04-arm.")
        if key == "default":
            default = label
        elif not PLATFORM_SPEC.match(key):
            # `arm64=...` (no OS) would silently never match a leg, which then runs on the default runner.
            raise UsageError(f"bad --runner {item!r}: {key!r} is not a platform",
                                hint="Use --runner OS/ARCH[/VARIANT]=LABEL or default=LABEL, e.g. linux/arm64=ubuntu-24.04-arm.")
        else:
            labels[normalize_platform(key)] = label
    return Runners(tuple(sorted(labels.items())), default, default == builtin)


HANDOFF_PREFIX = "registry:"


def parse_handoff(spec: str) -> str:
    """`registry:REPO` -> REPO: the repository parents are pushed to by digest for their children."""
    repo = spec.removeprefix(HANDOFF_PREFIX)
    if not spec.startswith(HANDOFF_PREFIX) or not repo or repository(repo) != repo or "," in repo:
        raise UsageError(f"bad --handoff {spec!r}",
                            hint="Use --handoff registry:REPO with a repository and no tag, e.g. registry:ghcr.io/acme/handoff.")
    return repo


@record
class EmitOptions:
    """How jobs become legs."""

    runners: Runners
    cache: CacheBackend | None = None
    push: bool = False  # push every tagged target (multi-platform ones by digest, then merged)
    limit: int = 256  # jobs per matrix
    handoff: str | None = None  # repository for parents' hand-over pushes (--handoff registry:REPO)

    @property
    def registry(self) -> bool:
        """Whether parents can be handed over by digest."""
        return self.push or self.handoff is not None


@record
class _Context:
    """What every leg of a plan looks up: jobs by id, the jobs run this time, hand-overs."""

    jobs: Mapping[str, Job]
    running: frozenset[str]
    repos: Mapping[str, str]  # parent target -> the repository its legs' digests live in
    read: frozenset[str]  # job ids read by digest (their legs save their digest)
    cross: frozenset[str]  # ... of which some reader builds another platform


def build_plan(
    jobs: Sequence[Job], call: BakeCall, options: EmitOptions, running: Collection[str] | None = None
) -> CIPlan:
    """The CI plan of jobs: legs with runners and settings, in layers and chunks, plus merges.

    `running`: the job ids that get a leg this time (default: all); a child of
    a parent outside it rebuilds that parent (`--since` leaves the parent out).
    """
    depth = layers(jobs)
    by_id = {job.id: job for job in jobs}
    present = frozenset(by_id) if running is None else frozenset(running) & frozenset(by_id)
    repos = handover_repositories(jobs, options) if options.registry else {}
    reads = [(link.job, job.platform) for job in jobs for link in job.links
             if link.job in present and link.parent in repos]
    context = _Context(
        jobs=by_id,
        running=present,
        repos=repos,
        read=frozenset(j for j, _ in reads),
        cross=frozenset(j for j, platform in reads if by_id[j].platform != platform),
    )
    legs = [_leg(job, depth[job.id], call, options, context) for job in jobs]
    legs.sort(key=lambda leg: leg.layer)  # stable: source order within a layer
    return CIPlan(
        call=call,
        chunks=chunk(legs, options.limit),
        merges=_merges(jobs, options),
        limit=options.limit,
        registry=options.registry,
        cached=options.cache is not None,
        unpushed=_unpushed(jobs, repos) if options.registry else (),
    )


def _unpushed(jobs: Sequence[Job], repos: Mapping[str, str]) -> tuple[str, ...]:
    """Parent targets with no repository to be handed over through (their children rebuild them)."""
    return tuple(dict.fromkeys(link.parent for job in jobs for link in job.links if link.parent not in repos))


def handover_repositories(jobs: Sequence[Job], options: EmitOptions) -> dict[str, str]:
    """Each parent target's hand-over repository: its own pushed one, else `--handoff` (else none: rebuilt)."""
    found: dict[str, str] = {}
    by_id = {job.id: job for job in jobs}
    for link in (link for job in jobs for link in job.links):
        parent = by_id[link.job]
        own = repositories(image_names(parent.spec)) if _pushes(parent, options) else ()
        if link.parent not in found and (own or options.handoff):
            found[link.parent] = own[0] if own else str(options.handoff)
    return found


def _pushes(job: Job, options: EmitOptions) -> bool:
    """Whether the job's leg pushes the user's image (never for a target no one asked for)."""
    return not job.linked_only and pushes(job.spec, push=options.push) and bool(image_names(job.spec))


def _merges_job(job: Job, options: EmitOptions) -> bool:
    return job.multi and _pushes(job, options)


def _leg(job: Job, layer: int, call: BakeCall, options: EmitOptions, context: _Context) -> Leg:
    runner, emulated = options.runners.place(job.platform)
    digest = _merges_job(job, options) or job.id in context.read
    own = own_settings(job, options, handoff=job.id in context.read and not _pushes(job, options))
    parents, handoffs, rebuilt = _reads(job, options, context)
    settings = (own, *parents)
    owned = {item.name: item.owned() for item in settings}
    extra_needs = tuple(h.leg for h in handoffs if h.leg not in job.needs)
    return Leg(
        id=job.id,
        name=display_name(job.target, job.platform),
        target=job.target,
        platform=job.platform,
        values=job.values,
        runner=runner,
        emulated=emulated,
        sets=user_sets(call.sets, owned),
        needs=(*job.needs, *dict.fromkeys(extra_needs)),
        layer=layer,
        settings=settings,
        handoffs=handoffs,
        rebuilt=rebuilt,
        merge=_merges_job(job, options),
        digest=digest,
        manifest=digest and job.id in context.cross,
        repository=context.repos.get(job.target, "") if digest else "",
    )


def display_name(target: str, platform: str | None) -> str:
    """A short name: `app (arm64)`, `app (arm/v7)`, `app (windows/amd64)`, or `app`."""
    if platform is None:
        return target
    short = normalize_platform(platform)
    return f"{target} ({short.removeprefix('linux/')})"


def own_settings(job: Job, options: EmitOptions, *, handoff: bool) -> TargetSettings:
    """The leg's own target: its platform, its cache, and what it exports (`bakeplan.outputs.job_exports`).

    `handoff`: also push by digest to the `--handoff` repository for the
    children (a leg that pushes the user's image hands that over instead).
    """
    extra = (digest_output((options.handoff,)),) if handoff and options.handoff is not None else ()
    outputs, tags = job_exports(job.spec, job.platform, requested=not job.linked_only, push=options.push, extra=extra)
    refs = job_refs(options.cache, job.target, job.platform) if options.cache else None
    return TargetSettings(
        job.target, platform=job.platform, outputs=outputs, tags=tags,
        cache_from=refs.cache_from if refs else (), cache_to=refs.cache_to if refs else (),
        cache_replace=bool(options.cache and options.cache.replace),
    )


def _reads(
    job: Job, options: EmitOptions, context: _Context
) -> tuple[list[TargetSettings], tuple[Handoff, ...], tuple[str, ...]]:
    """The parents the leg reads by digest, and the ones it rebuilds (with their own parents, recursively)."""
    settings: list[TargetSettings] = []
    handoffs: list[Handoff] = []
    seen = {job.target}
    stack = [job]
    while stack:
        reader = stack.pop(0)
        for link in reader.links:
            parent = context.jobs[link.job]
            if link.parent in context.repos and link.job in context.running:
                known = {h.leg: h.variable for h in handoffs}
                name = known.get(link.job) or digest_variable(link.job, known.values())
                repo = context.repos[link.parent]
                handoffs.append(Handoff(reader.target, link.context, link.parent, link.job, repo, name))
            elif link.parent not in seen:
                seen.add(link.parent)
                settings.append(_rebuilt(parent, options))
                stack.append(parent)
    return settings, tuple(handoffs), tuple(s.name for s in settings)


def _rebuilt(parent: Job, options: EmitOptions) -> TargetSettings:
    """A parent built again inside its child's leg: its platform, reading its own leg's cache."""
    refs = job_refs(options.cache, parent.target, parent.platform) if options.cache else None
    return TargetSettings(parent.target, platform=parent.platform, cache_from=refs.cache_from if refs else (),
                          cache_replace=bool(options.cache and options.cache.replace))


def digest_variable(leg: str, taken: Collection[str] = ()) -> str:
    """The shell variable holding a parent leg's digest: `base-linux-amd64` -> `DIGEST_BASE_LINUX_AMD64`."""
    name = "DIGEST_" + re.sub(r"[^A-Za-z0-9]+", "_", leg).strip("_").upper()
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _merges(jobs: Sequence[Job], options: EmitOptions) -> tuple[Merge, ...]:
    merges: dict[str, Merge] = {}
    for job in jobs:
        if not _merges_job(job, options):
            continue
        known = merges.get(job.target)
        legs = (*known.legs, job.id) if known else (job.id,)
        names = tuple(image_names(job.spec))
        merges[job.target] = Merge(job.target, names, repositories(names)[0], legs)
    return tuple(merges.values())
