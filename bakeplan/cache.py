"""Per-job cache references, so platforms and targets never overwrite each other's cache.

bake hands every node of a multi-platform build the same `cache-to`, so the
last platform to finish wins and the others miss next time (docker/bake-action#329,
docker/buildx#3819). bakeplan computes one cache entry per job instead:

- `registry:REPO` -> `type=registry,ref=REPO:<tag>` (`mode=max` on export)
- `local:DIR`     -> `type=local,src=DIR/<tag>` / `type=local,dest=DIR/<tag>,mode=max`
- `gha`           -> `type=gha,scope=<tag>` (`mode=max` on export)
- `s3:BUCKET[?region=R&...]` -> `type=s3,bucket=BUCKET,name=<tag>,region=R,...`

where `<tag>` is `[<scope>-]<target>-<os>-<arch>[-<variant>]` (`native` for a
job without a platform, whose builder is not known). A job that may build on
a node of another platform than its target's (it cross-compiles from
`$BUILDPLATFORM` stages) adds `-on-<os>-<arch>` for that node's platform:
what its build-platform stages cache differs per node platform. `--cache-scope` names the run (usually the branch);
`--cache-fallback NAME` adds read-only entries for scope NAME, e.g. a feature
branch reads the default branch's cache. Tags keep only `[A-Za-z0-9_.-]`, may
not start with `.` or `-`, and are at most 128 characters: a longer one is cut
and ends in a short hash of the full text, so distinct jobs stay distinct.

The user's own `cache-from`/`cache-to` stay: bakeplan appends with bake's
`--set T.cache-from+=...`. With `replace=True` it sets them outright (`=`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

from bakeplan.errors import UsageError
from bakeplan.record import record

BACKENDS = ("registry", "local", "gha", "s3")
MAX_TAG = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@record
class CacheBackend:
    """Where job caches live: kind, location (repository, directory, bucket), extra options."""

    kind: str
    location: str = ""
    options: tuple[tuple[str, str], ...] = ()
    scope: str = ""
    fallbacks: tuple[str, ...] = ()
    replace: bool = False


@record
class CacheRefs:
    """A job's cache entries, as bake's CSV strings."""

    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]


def parse_backend(
    spec: str, *, scope: str = "", fallbacks: Sequence[str] = (), replace: bool = False
) -> CacheBackend:
    """Parse `--cache`: `registry:REPO`, `local:DIR`, `gha`, `s3:BUCKET?region=R`; a bare REPO means registry.

    A malformed value is a usage error (exit 2). `registy:x` is a misspelt
    scheme, not a repository: a bare REPO has a colon only after a registry
    host, as in `localhost:5000/cache` or `registry.example.com:443/cache`.
    """
    kind, sep, rest = spec.partition(":")
    if kind == "gha" and not sep:
        return CacheBackend("gha", scope=scope, fallbacks=tuple(fallbacks), replace=replace)
    if kind == "gha":
        # Dropping the text after `gha:` would hide a mistake (a scope meant for --cache-scope).
        raise UsageError(f"bad --cache {spec!r}: gha takes no location",
                         hint="Use --cache gha, and --cache-scope NAME to prefix its scopes.")
    if not sep or kind not in BACKENDS:
        kind, rest = "registry", _bare_repository(spec)
    location, _, query = rest.partition("?") if kind == "s3" else (rest, "", "")
    if not location:
        raise UsageError(f"bad --cache {spec!r}: {kind} needs a location", hint=f"For example {kind}:NAME.")
    options = tuple(parse_qsl(query, keep_blank_values=True))
    return CacheBackend(kind, location, options, scope=scope, fallbacks=tuple(fallbacks), replace=replace)


_HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:[0-9]+(/|$)")


def _bare_repository(spec: str) -> str:
    """`spec` as a registry repository without a scheme, or the usage error that says what is wrong."""
    hint = "Use registry:REPO, local:DIR, gha or s3:BUCKET?region=REGION."
    if ":" in spec and not _HOST_PORT.match(spec):
        scheme = spec.partition(":")[0]
        close = difflib.get_close_matches(scheme, BACKENDS, n=1)
        if close:
            hint = f"Did you mean {close[0]}:? {hint}"
        raise UsageError(f"bad --cache {spec!r}: unknown cache type {scheme!r}", hint=hint)
    if "/" not in spec:
        raise UsageError(f"bad --cache {spec!r}", hint=hint)
    return spec


def sanitize_tag(text: str) -> str:
    """A valid image tag from any text: `[A-Za-z0-9_.-]`, no leading `.`/`-`, <= 128 chars."""
    tag = _UNSAFE.sub("-", text).lstrip(".-") or "cache"
    if len(tag) <= MAX_TAG:
        return tag
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{tag[: MAX_TAG - len(digest) - 1]}-{digest}"


def job_tag(target: str, platform: str | None, scope: str = "", built_on: str | None = None) -> str:
    """The cache tag of one job: `[<scope>-]<target>-<os>-<arch>[-<variant>][-on-<os>-<arch>[-<variant>]]`.

    `built_on` names the node's platform when the cache filled there differs
    from one filled on the target platform (a cross-compiling job on a node
    of another platform): the two never overwrite each other.
    """
    parts = [scope] if scope else []
    parts += [target, *(platform or "native").split("/")]
    parts += ["on", *built_on.split("/")] if built_on else []
    return sanitize_tag("-".join(parts))


def _entry(backend: CacheBackend, tag: str, *, export: bool) -> str:
    """One cache-from (export=False) or cache-to (export=True) CSV entry."""
    extra = [f"{k}={v}" for k, v in backend.options]
    if backend.kind == "registry":
        fields = ["type=registry", f"ref={backend.location}:{tag}"]
    elif backend.kind == "local":
        key = "dest" if export else "src"
        fields = ["type=local", f"{key}={backend.location.rstrip('/')}/{tag}"]
    elif backend.kind == "gha":
        fields = ["type=gha", f"scope={tag}"]
    else:
        fields = ["type=s3", f"bucket={backend.location}", f"name={tag}"]
    return ",".join([*fields, *extra, *(["mode=max"] if export else [])])


def job_refs(backend: CacheBackend, target: str, platform: str | None, built_on: str | None = None) -> CacheRefs:
    """A job's own cache entry (read and written) plus its fallbacks (read only)."""
    own = job_tag(target, platform, backend.scope, built_on)
    fallback_tags = [job_tag(target, platform, name, built_on) for name in backend.fallbacks]
    sources = [own, *(t for t in fallback_tags if t != own)]
    return CacheRefs(
        cache_from=tuple(_entry(backend, tag, export=False) for tag in sources),
        cache_to=(_entry(backend, own, export=True),),
    )


def override_sets(target: str, refs: CacheRefs, *, replace: bool = False) -> tuple[str, ...]:
    """The `--set` arguments adding a job's cache entries to `target` (replacing with replace=True)."""
    sets: list[str] = []
    for key, entries in (("cache-from", refs.cache_from), ("cache-to", refs.cache_to)):
        # buildx collects repeated `KEY=` values into one list that replaces the
        # file's, and repeated `KEY+=` values onto the file's; mixing the two
        # keeps the file's list, so use one operator throughout.
        op = "=" if replace else "+="
        sets.extend(f"{target}.{key}{op}{entry}" for entry in entries)
    return tuple(sets)
