"""Hand-made BakeResults and nodes shared by the plan tests (no bake files needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan.bake.model import BakeResult, Target
from bakeplan.nodes import Node


def target(name: str, platforms: Sequence[str] = (), contexts: Mapping[str, str] | None = None,
           matrix: Mapping[str, Any] | None = None, block: str = "") -> Target:
    """A resolved target as `print` would produce it."""
    fields: dict[str, Any] = {"context": ".", "dockerfile": "Dockerfile"}
    if contexts:
        fields["contexts"] = dict(contexts)
    if platforms:
        fields["platforms"] = list(platforms)
    return Target(name=name, fields=fields, matrix=dict(matrix or {}), block=block or name)


def result(*targets: Target, files: Sequence[str] = ("docker-bake.hcl",), requested: Sequence[str] | None = None) -> BakeResult:
    """A BakeResult holding the targets in the given order; all requested through "default" unless told."""
    default = tuple(requested) if requested is not None else tuple(t.name for t in targets)
    return BakeResult(groups={"default": default}, targets={t.name: t for t in targets},
                      files=tuple(Path(f) for f in files), requested=("default",))


def node(name: str, *platforms: str, slots: int = 1, builder: str | None = None) -> Node:
    """A declared node."""
    return Node(name=name, builder=builder or name, platforms=tuple(platforms), native=len(platforms), slots=slots)
