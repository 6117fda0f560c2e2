"""What the bake stage hands to everything after it: resolved targets and groups.

`load()` in `bakeplan.bake.resolve` produces a `BakeResult`; `printing.render()`
turns it into buildx's `--print` JSON; jobs, plan, run and ci read the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bakeplan.errors import Location
from bakeplan.record import field, record

# A JSON-compatible value: str, int, float, bool, None, list, dict.
JSONValue = Any


@record
class BakeRequest:
    """One invocation's inputs, as `docker buildx bake` takes them."""

    names: tuple[str, ...] = ()
    files: tuple[str, ...] | None = None  # None: buildx's default lookup in `cwd`
    sets: tuple[str, ...] = ()  # --set PATTERN.KEY[.SUB]=VALUE, in order
    vars: tuple[str, ...] = ()  # --var NAME=VALUE, in order
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = Path(".")


@record
class Target:
    """One resolved target, exactly as `--print` shows it, plus where it came from."""

    name: str
    # The target's --print object: keys in buildx's order, values JSON-compatible.
    fields: Mapping[str, JSONValue]
    # The matrix values that produced this target ({} for a plain target),
    # in matrix key order; values as evaluated (str, number, list, object).
    matrix: Mapping[str, JSONValue] = field(default_factory=dict)
    # The block label the target was written under (the matrix's implicit group).
    block: str = ""
    location: Location | None = None

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms the target builds for, () when it builds for the node's own platform.

        `--print` keeps `--set T.platform=linux/amd64,linux/arm64` as one entry,
        but the build splits every entry at commas (buildx util/platformutil
        Parse): this is the build's list, each platform once, in order.
        """
        entries = self.fields.get("platforms") or ()
        split = (part.strip() for entry in entries for part in str(entry).split(","))
        return tuple(dict.fromkeys(part for part in split if part))

    @property
    def contexts(self) -> Mapping[str, str]:
        """Named build contexts (`target:NAME` ones link to other targets)."""
        return dict(self.fields.get("contexts") or {})


@record
class BakeResult:
    """Every group and target `--print` would show, in buildx's printed order."""

    groups: Mapping[str, tuple[str, ...]]
    targets: Mapping[str, Target]
    files: tuple[Path, ...]  # the bake files read, in load order
    requested: tuple[str, ...]  # the names asked for, after defaulting to "default"
