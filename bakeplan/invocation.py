"""The one model of a `docker buildx bake` invocation, for plan, run and ci alike.

A job (one target on one platform) is built by one invocation. What that
invocation says is described by a frozen `Invocation`: the bake files, the
target named, and per target in the invocation (the job's own target and any
linked parent it re-solves) the platform, outputs, tags, cache entries and
hand-over contexts bakeplan sets. `bake_argv` is the only place that turns
such a description into an argv.

Order of `--set`s. buildx applies `--set`s in command-line order per key, and
for list keys (`platform`, `output`, `cache-from`, ...) it *collects* every
`=` value given for a target, whatever pattern reached it: `--set
'*.platform=a,b' --set app.platform=a` builds both platforms (bake.go
`parseOverride`). So a user's `--set` on a key bakeplan sets itself is not
repeated in the argv: its effect is already part of the resolved target, from
which bakeplan computed its own value (`user_sets`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bakeplan.bake.overrides import glob_match
from bakeplan.record import record


@record
class TargetSettings:
    """What bakeplan sets on one target of an invocation (None: leave the resolved value alone).

    `outputs` and `tags` replace the target's own; `cache_from`/`cache_to`
    are added to the target's entries (`+=`) unless `cache_replace`;
    `contexts` set named contexts (a parent handed over by digest).
    """

    name: str
    platform: str | None = None
    outputs: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    cache_replace: bool = False
    contexts: tuple[tuple[str, str], ...] = ()

    def owned(self) -> frozenset[str]:
        """The keys whose whole value bakeplan sets here (a user's `--set` on them would add to it)."""
        keys = {key for key, value in (("platform", self.platform), ("output", self.outputs),
                                       ("tags", self.tags)) if value is not None}
        if self.cache_replace:
            keys |= {key for key, value in (("cache-from", self.cache_from), ("cache-to", self.cache_to)) if value}
        return frozenset(keys)

    def sets(self) -> list[str]:
        """This target's `--set` arguments, in a fixed order."""
        out: list[str] = []
        if self.platform is not None:
            out.append(f"{self.name}.platform={self.platform}")
        if self.outputs is not None:
            out.extend(f"{self.name}.output={entry}" for entry in self.outputs or ("type=cacheonly",))
        if self.tags is not None:
            out.extend(f"{self.name}.tags={tag}" for tag in self.tags or ("",))
        op = "=" if self.cache_replace else "+="
        out.extend(f"{self.name}.cache-from{op}{entry}" for entry in self.cache_from)
        out.extend(f"{self.name}.cache-to{op}{entry}" for entry in self.cache_to)
        out.extend(f"{self.name}.contexts.{key}={value}" for key, value in self.contexts)
        return out


@record
class Invocation:
    """One `docker buildx bake` of one job: everything its argv says.

    `files` are the `-f` files (the user's, or in `run` the job's resolved
    definition); `variables` and `sets` the user's `--var`/`--set` still to be
    passed (none when `files` is a resolved definition, which has them
    applied); `settings` bakeplan's own per-target values; `names` the
    positional targets (the job's target).
    """

    names: tuple[str, ...]
    files: tuple[str, ...] = ()
    settings: tuple[TargetSettings, ...] = ()
    variables: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    load: bool = False
    no_cache: bool = False
    metadata_file: str = ""
    progress: str = ""
    builder: str | None = None
    docker: str = "docker"


def bake_argv(invocation: Invocation) -> tuple[str, ...]:
    """`docker buildx bake [--builder B] -f F... [--var V...] [flags] [--set USER...] [--set OURS...] NAME...`."""
    inv = invocation
    argv = [inv.docker, "buildx", "bake"]
    if inv.builder:
        argv += ["--builder", inv.builder]
    for name in inv.files:
        argv += ["-f", name]
    for item in inv.variables:
        argv += ["--var", item]
    if inv.progress:
        argv += ["--progress", inv.progress]
    for item in inv.allow:
        argv += ["--allow", item]
    for flag, on in (("--load", inv.load), ("--no-cache", inv.no_cache)):
        if on:
            argv.append(flag)
    if inv.metadata_file:
        argv += ["--metadata-file", inv.metadata_file]
    for item in inv.sets:
        argv += ["--set", item]
    for settings in inv.settings:
        for item in settings.sets():
            argv += ["--set", item]
    return (*argv, *inv.names)


def set_key(item: str) -> tuple[str, str]:
    """`PATTERN.KEY[.SUB][+]=VALUE` -> (PATTERN, KEY): what a `--set` addresses."""
    head = item.split("=", 1)[0].removesuffix("+")
    pattern, _, key = head.partition(".")
    return pattern, key.split(".", 1)[0]


def user_sets(sets: Sequence[str], owned: Mapping[str, Collection[str]]) -> tuple[str, ...]:
    """The user's `--set`s still worth passing: those not on a key bakeplan sets for a target they match.

    `owned` maps a target of the invocation to the keys bakeplan sets on it.
    """
    kept = []
    for item in sets:
        pattern, key = set_key(item)
        if not any(key in keys and glob_match(pattern, target) for target, keys in owned.items()):
            kept.append(item)
    return tuple(kept)
