"""The `print` command without typer: resolve the bake files, write buildx's `--print` JSON, keep it for a replay.

`bakeplan.cli.print_` declares the options; a repeat command line whose
arguments typer has read before comes here directly (`bakeplan.cli.replay`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypedDict, cast

from bakeplan.cli.request import bake_request, definition_sets

if TYPE_CHECKING:
    from bakeplan.bake.model import BakeRequest
    from bakeplan.observed import Observed


# `print`'s options as typer hands them over (and as the replay cache keeps them).
# The functional form: with postponed annotations, the class form would
# compile each field's annotation at import (~2 ms on every run).
Arguments = TypedDict("Arguments", {  # noqa: UP013 - the class form costs the ~2 ms above
    "names": list[str] | None,
    "files": list[str] | None,
    "sets": list[str] | None,
    "vars_": list[str] | None,
    "list_": str | None,
    "push": bool,
    "load": bool,
    "no_cache": bool | None,  # None: not given (buildx sets `*.no-cache=false` for `--no-cache=false`)
    "pull": bool | None,
    "sbom": str,
    "provenance": str,
    "call": str,
    "check": bool,
})


def stored_arguments(stored: dict[str, object] | None) -> Arguments | None:
    """`print`'s arguments as the replay cache kept them, or None when the entry is not one (damaged, foreign)."""
    if stored is None or set(stored) != set(Arguments.__required_keys__):
        return None
    return cast(Arguments, stored)


def print_definition(arguments: Arguments) -> None:
    """Print the resolved bake definition (or the `--list`) of these arguments."""
    sets = definition_sets(arguments["sets"], push=arguments["push"], load=arguments["load"], no_cache=arguments["no_cache"],
                           pull=arguments["pull"], sbom=arguments["sbom"], provenance=arguments["provenance"],
                           call=arguments["call"], check=arguments["check"])
    _print(arguments["names"], arguments["files"], sets, arguments["vars_"], arguments["list_"])


def _print(
    names: list[str] | None, files: list[str] | None, sets: list[str] | None, vars_: list[str] | None, list_: str | None
) -> None:
    """`print_command` with the collector paused: the output, kept for a replay when it may be."""
    from bakeplan import observed
    from bakeplan.fsutil import cache_home

    request = bake_request(names, files, sets, vars_)
    with observed.observing(folders=filter(None, [cache_home(request.env)])) as seen:
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
    """Store the output for `bakeplan.cli.replay` unless the run read stdin (which no later run can compare)."""
    from bakeplan.bake.files import IMPURE_CALLS, requested_names
    from bakeplan.cli import replay

    if "-" in requested_names(request)[0]:
        return
    replay.store(seen.reads, seen.probes, text, impure=IMPURE_CALLS)
