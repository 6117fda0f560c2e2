"""Jobs -> legs: runner labels, the exact `--set` overrides, layers, chunks, merges."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bakeplan.cache import CacheBackend, CacheRefs, job_refs, override_sets
from bakeplan.emit.model import CIPlan, Invocation, Job, Leg, Merge, chunk, layers
from bakeplan.emit.source import platforms_by_target
from bakeplan.errors import BakeplanError
from bakeplan.nodes import normalize_platform

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


@dataclass(frozen=True, slots=True)
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


_PLATFORM = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$")


def runners_for(system: str, overrides: Sequence[str] = ()) -> Runners:
    """The system's default runners with `PLATFORM=LABEL` (or `default=LABEL`) overrides."""
    defaults, builtin = DEFAULT_RUNNERS[system]
    labels, default = dict(defaults), builtin
    for item in overrides:
        key, sep, label = item.partition("=")
        if not sep or not key or not label:
            raise BakeplanError(f"bad --runner {item!r}", hint="Use --runner PLATFORM=LABEL, e.g. linux/arm64=ubuntu-24.04-arm.")
        if key == "default":
            default = label
        elif not _PLATFORM.match(key):
            # `arm64=...` (no OS) would silently never match a leg, which then runs on the default runner.
            raise BakeplanError(f"bad --runner {item!r}: {key!r} is not a platform",
                                hint="Use --runner OS/ARCH[/VARIANT]=LABEL or default=LABEL, e.g. linux/arm64=ubuntu-24.04-arm.")
        else:
            labels[normalize_platform(key)] = label
    return Runners(tuple(sorted(labels.items())), default, default == builtin)


def cache_sets(target: str, platform: str | None, backend: CacheBackend | None, *, write: bool) -> tuple[str, ...]:
    """`--set` overrides giving one target its own cache entries on one platform (bakeplan.cache)."""
    if backend is None:
        return ()
    refs = job_refs(backend, target, platform)
    if not write:
        refs = CacheRefs(refs.cache_from, ())
    return override_sets(target, refs, replace=backend.replace)


@dataclass(frozen=True, slots=True)
class EmitOptions:
    """How jobs become legs."""

    runners: Runners
    cache: CacheBackend | None = None
    push: bool = False  # push every tagged target (multi-platform ones by digest, then merged)
    limit: int = 256  # jobs per matrix


def build_plan(jobs: Sequence[Job], invocation: Invocation, options: EmitOptions) -> CIPlan:
    """The CI plan of jobs: legs with runners and overrides, in layers and chunks, plus merges."""
    depth = layers(jobs)
    plats = platforms_by_target(jobs)
    legs = [_leg(job, depth[job.id], invocation, options, plats) for job in jobs]
    legs.sort(key=lambda leg: leg.layer)  # stable: source order within a layer
    return CIPlan(
        invocation=invocation,
        chunks=chunk(legs, options.limit),
        merges=_merges(jobs, options),
        limit=options.limit,
    )


def _leg(
    job: Job, layer: int, invocation: Invocation, options: EmitOptions, plats: Mapping[str, tuple[str | None, ...]]
) -> Leg:
    runner, emulated = options.runners.place(job.platform)
    return Leg(
        id=job.id,
        name=display_name(job.target, job.platform),
        target=job.target,
        platform=job.platform,
        values=job.values,
        runner=runner,
        emulated=emulated,
        sets=(*invocation.sets, *leg_sets(job, options, plats)),
        needs=job.needs,
        layer=layer,
        merge=_merges_job(job, options),
    )


def display_name(target: str, platform: str | None) -> str:
    """A short name: `app (arm64)`, `app (arm/v7)`, `app (windows/amd64)`, or `app`."""
    if platform is None:
        return target
    short = normalize_platform(platform)
    return f"{target} ({short.removeprefix('linux/')})"


def leg_sets(job: Job, options: EmitOptions, plats: Mapping[str, tuple[str | None, ...]]) -> tuple[str, ...]:
    """The leg's own overrides: its platform, cache refs, push output, and its upstream's."""
    sets: list[str] = []
    if job.platform is not None:
        sets.append(f"{job.target}.platform={job.platform}")
    sets.extend(cache_sets(job.target, job.platform, options.cache, write=True))
    sets.extend(_output_sets(job, options))
    for name in job.upstream:
        sets.extend(_upstream_sets(name, job.platform, options, plats.get(name, ())))
    return tuple(sets)


def _upstream_sets(name: str, platform: str | None, options: EmitOptions, plats: Sequence[str | None]) -> list[str]:
    """A linked parent is rebuilt in the child's invocation: same platform, read its cache."""
    if len(plats) > 1 and platform in plats:
        return [f"{name}.platform={platform}", *cache_sets(name, platform, options.cache, write=False)]
    own = plats[0] if plats else None
    return list(cache_sets(name, own, options.cache, write=False))


def _merges_job(job: Job, options: EmitOptions) -> bool:
    return job.multi and bool(job.tags) and (options.push or job.pushes)


def _output_sets(job: Job, options: EmitOptions) -> list[str]:
    if _merges_job(job, options):
        names = ",".join(repositories(job.tags))
        name = f'"name={names}"' if "," in names else f"name={names}"
        return [f"{job.target}.output=type=image,{name},push-by-digest=true,name-canonical=true,push=true"]
    if options.push and job.tags and not job.pushes:
        return [f"{job.target}.output=type=registry"]
    return []


def repositories(tags: Sequence[str]) -> tuple[str, ...]:
    """The distinct repositories of image references, in order (`reg:5000/a:t` -> `reg:5000/a`)."""
    found: list[str] = []
    for tag in tags:
        repo = tag.split("@", 1)[0]
        head, sep, tail = repo.rpartition(":")
        if sep and "/" not in tail:
            repo = head
        if repo not in found:
            found.append(repo)
    return tuple(found)


def _merges(jobs: Sequence[Job], options: EmitOptions) -> tuple[Merge, ...]:
    merges: dict[str, Merge] = {}
    for job in jobs:
        if not _merges_job(job, options):
            continue
        known = merges.get(job.target)
        legs = (*known.legs, job.id) if known else (job.id,)
        merges[job.target] = Merge(job.target, job.tags, repositories(job.tags)[0], legs)
    return tuple(merges.values())
