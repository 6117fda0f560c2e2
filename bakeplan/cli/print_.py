"""`bakeplan print`: what `docker buildx bake --print` prints, or `--list targets|variables`.

The options are declared here, for typer; the command itself is
`bakeplan.cli.printout.print_definition`, which does not need typer.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Optional

import typer

from bakeplan.cli import pflag
from bakeplan.cli.options import Call, Check, Files, Load, Names, NoCache, Provenance, Pull, Push, Sbom, Sets, Vars

ListOption = Annotated[
    Optional[str],
    typer.Option("--list", help="List targets or variables instead: targets|variables or type=...,format=table|json.", show_default=False),
]


class PrintCommand(pflag.Command):
    """`print`'s flags read as buildx's: `--push=false`, ... and `--check` as an alias of `--call=check`."""

    aliases: ClassVar[pflag.Aliases] = {"check": ("call", "check")}


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("print", cls=PrintCommand)(print_command)


def print_command(
    names: Names = None,
    files: Files = None,
    sets: Sets = None,
    vars_: Vars = None,
    list_: ListOption = None,
    push: Push = False,
    load: Load = False,
    no_cache: NoCache = None,
    pull: Pull = None,
    sbom: Sbom = "",
    provenance: Provenance = "",
    call: Call = "build",
    check: Check = False,
) -> None:
    """Print the resolved bake definition as JSON, exactly like `docker buildx bake --print`."""
    # `check` stays False: the parser reads `--check` into `call` (PrintCommand.aliases).
    from bakeplan.cli import printout, replay

    arguments: printout.Arguments = {
        "names": names, "files": files, "sets": sets, "vars_": vars_, "list_": list_, "push": push, "load": load,
        "no_cache": no_cache, "pull": pull, "sbom": sbom, "provenance": provenance, "call": call, "check": check,
    }
    replay.remember_arguments(arguments)
    printout.print_definition(arguments)
