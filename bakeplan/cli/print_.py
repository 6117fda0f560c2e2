"""`bakeplan print`: what `docker buildx bake --print` prints, or `--list targets|variables`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bakeplan.cli.options import Call, Check, Files, Load, Names, NoCache, Provenance, Pull, Push, Sbom, Sets, Vars, bake_request, definition_sets

if TYPE_CHECKING:
    from bakeplan.bake.model import BakeRequest
    from bakeplan.observed import Observed

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
    """`print_command` with the collector paused: the output, kept for a replay when it may be."""
    import os
    import tempfile

    from bakeplan import observed
    from bakeplan.fsutil import cache_home

    request = bake_request(names, files, sets, vars_)
    # Lark keeps its compiled grammar in the temporary folder (Lark(cache=True)): not an input either.
    lark_cache = os.path.join(tempfile.gettempdir(), ".lark_cache_")
    with observed.observing(folders=filter(None, [cache_home(request.env)]), prefixes=[lark_cache]) as seen:
        text = _output(request, list_)
    sys.stdout.write(text)
    _keep_for_replay(request, seen, text)


def _output(request: BakeRequest, list_: str | None) -> str:
    """What `docker buildx bake --print` (or `--list`) writes for this request."""
    if list_ is not None:
        from bakeplan.bake.printing import render_list

        return render_list(request, list_)
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    return render(load(request))


def _keep_for_replay(request: BakeRequest, seen: Observed, text: str) -> None:
    """Store the output for `bakeplan.cli.replay` when the run read only bake files (HCL, JSON), never stdin.

    Compose projects and runs that read other files (ssh keys, `.env`) are left
    to the parse and evaluation caches: what they look at is not all recorded.
    """
    from bakeplan.bake.files import IMPURE_CALLS, requested_names
    from bakeplan.cli import replay

    if "-" in requested_names(request)[0] or not all(path.endswith((".hcl", ".json")) for path in seen.reads):
        return
    replay.store(seen.reads, seen.probes, text, impure=IMPURE_CALLS)
