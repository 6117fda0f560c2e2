"""What the shared options ask for, without typer: the bake request and the build flags' `--set`s.

Kept free of typer so that a `print` whose arguments typer has already read
once (`bakeplan.cli.replay`) runs without loading it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakeplan.bake.model import BakeRequest


def bake_request(
    names: Sequence[str] | None, files: Sequence[str] | None, sets: Sequence[str] | None, vars_: Sequence[str] | None
) -> BakeRequest:
    """The bake invocation the shared options describe, in this process's directory and environment."""
    from bakeplan.bake.model import BakeRequest

    return BakeRequest(names=tuple(names or ()), files=tuple(files) if files else None, sets=tuple(sets or ()),
                       vars=tuple(vars_ or ()), env=dict(os.environ), cwd=Path.cwd())


def definition_sets(sets: Sequence[str] | None, *, push: bool = False, load: bool = False, no_cache: bool | None = None,
                    pull: bool | None = None, sbom: str = "", provenance: str = "", call: str = "", check: bool = False) -> list[str]:
    """The user's `--set`s followed by the ones buildx derives from the build flags given (in buildx's order)."""
    from bakeplan.bake.overrides import BuildFlags

    flags = BuildFlags(push=push, load=load, call="check" if check else call, no_cache=no_cache,
                       pull=pull, sbom=sbom, provenance=provenance)
    return [*(sets or ()), *flags.overrides()]
