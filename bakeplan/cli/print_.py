"""`bakeplan print`: what `docker buildx bake --print` prints, or `--list targets|variables`."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from bakeplan.cli.options import Call, Check, Files, Load, Names, NoCache, Provenance, Pull, Push, Sbom, Sets, Vars, bake_request, definition_sets

ListOption = Annotated[
    Optional[str],
    typer.Option("--list", help="List targets or variables instead: targets|variables or type=...,format=table|json.", show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("print")(print_command)


def print_command(
    names: Names = None,
    files: Files = None,
    sets: Sets = None,
    vars_: Vars = None,
    list_: ListOption = None,
    push: Push = False,
    load: Load = False,
    no_cache: NoCache = False,
    pull: Pull = False,
    sbom: Sbom = "",
    provenance: Provenance = "",
    call: Call = "build",
    check: Check = False,
) -> None:
    """Print the resolved bake definition as JSON, exactly like `docker buildx bake --print`."""
    sets = definition_sets(sets, push=push, load=load, no_cache=no_cache, pull=pull, sbom=sbom, provenance=provenance,
                           call=call, check=check)
    # A short run that keeps nearly everything it allocates: the cyclic
    # collector would only rescan the same live objects (imports, trees,
    # targets) again and again, more often the bigger the matrix.
    from bakeplan.hcl.syntax import no_gc

    with no_gc():
        _print(names, files, sets, vars_, list_)


def _print(
    names: list[str] | None, files: list[str] | None, sets: list[str] | None, vars_: list[str] | None, list_: str | None
) -> None:
    """`print_command` with the collector paused."""
    request = bake_request(names, files, sets, vars_)
    if list_ is not None:
        from bakeplan.bake.printing import render_list

        sys.stdout.write(render_list(request, list_))
        return
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    sys.stdout.write(render(load(request)))
