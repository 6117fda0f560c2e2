"""`bakeplan print`: what `docker buildx bake --print` prints, or `--list targets|variables`.

The options are declared here, for typer; the command itself is
`bakeplan.cli.printout.print_definition`, which does not need typer.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from bakeplan.cli.options import Call, Check, Files, Load, Names, NoCache, Provenance, Pull, Push, Sbom, Sets, Vars

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
    from bakeplan.cli import printout, replay

    arguments: printout.Arguments = {
        "names": names, "files": files, "sets": sets, "vars_": vars_, "list_": list_, "push": push, "load": load,
        "no_cache": no_cache, "pull": pull, "sbom": sbom, "provenance": provenance, "call": call, "check": check,
    }
    replay.remember_arguments(arguments)
    printout.print_definition(arguments)
