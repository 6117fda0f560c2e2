"""Options shared by every command that reads bake files (print, plan, run, ci)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Names = Annotated[
    Optional[list[str]],
    typer.Argument(metavar="[NAME|GLOB]...", help="Targets, groups or globs (default: the 'default' group).", show_default=False),
]
Files = Annotated[
    Optional[list[str]],
    typer.Option("--file", "-f", metavar="FILE", help="Bake file (repeatable); default: buildx's lookup.", show_default=False),
]
Sets = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="PATTERN.KEY=VALUE", help="Override: PATTERN.KEY[.SUB]=VALUE, as buildx (repeatable).", show_default=False),
]
Vars = Annotated[Optional[list[str]], typer.Option("--var", metavar="NAME=VALUE", help="Set a bake variable: NAME=VALUE (repeatable).", show_default=False)]

# buildx's build flags that shape the definition (each becomes a `--set '*.KEY=...'` after yours, as in buildx).
# Each boolean also takes buildx's `=true` / `=false` forms (bakeplan.cli.pflag); `--no-cache` and `--pull`
# are None when not given, because buildx sets `*.no-cache=false` for `--no-cache=false` and nothing without it.
Push = Annotated[bool, typer.Option("--push", help='Shorthand for "--set=*.output=type=registry" (buildx: "*.push=true").')]
Load = Annotated[bool, typer.Option("--load", help='Shorthand for "--set=*.output=type=docker" (buildx: "*.load=true").')]
NoCache = Annotated[Optional[bool], typer.Option("--no-cache", show_default=False, help="Do not use cache when building (\"*.no-cache=true\").")]
Pull = Annotated[Optional[bool], typer.Option("--pull", show_default=False, help="Always attempt to pull all referenced images (\"*.pull=true\").")]
Sbom = Annotated[str, typer.Option("--sbom", metavar="true|false|KEY=VALUE,...", help='Shorthand for "--set=*.attest=type=sbom".', show_default=False)]
Provenance = Annotated[
    str,
    typer.Option("--provenance", metavar="true|false|KEY=VALUE,...", help='Shorthand for "--set=*.attest=type=provenance".', show_default=False),
]
Call = Annotated[str, typer.Option("--call", metavar="METHOD", help='Method for evaluating the build ("check", "outline", "targets"): "*.call=METHOD".')]
# An alias that sets `--call` where it stands (bakeplan.cli.pflag): the parameter itself stays False.
Check = Annotated[bool, typer.Option("--check", help='Shorthand for "--call=check".')]

# Selection and nodes: shared by plan, run and ci so that each reads the same everywhere.
Only = Annotated[
    Optional[list[str]],
    typer.Option(
        "--only",
        metavar="KEY=VALUE",
        help="Keep jobs with KEY=VALUE: a matrix key, platform or target; globs allowed (repeatable).",
        show_default=False,
    ),
]
Exclude = Annotated[
    Optional[list[str]],
    typer.Option(
        "--exclude",
        metavar="KEY=VALUE",
        help="Drop jobs with KEY=VALUE: a matrix key, platform or target; globs allowed (repeatable).",
        show_default=False,
    ),
]
NodeSpecs = Annotated[
    Optional[list[str]],
    typer.Option(
        "--node",
        metavar="SPEC",
        help="Declare a node: name=N,builder=B,platforms=linux/amd64+linux/arm64,slots=2,memory=8g (repeatable; replaces the nodes file).",
        show_default=False,
    ),
]
NodesFile = Annotated[
    Optional[str],
    typer.Option("--nodes-file", metavar="FILE", help="Node config (default: ./bakeplan.toml, or $BAKEPLAN_NODES).", show_default=False),
]
Builder = Annotated[
    Optional[str],
    typer.Option("--builder", metavar="NAME", help="Discover nodes from this buildx builder only (instead of the nodes file).", show_default=False),
]
HistoryFile = Annotated[
    Optional[str],
    typer.Option("--history", metavar="FILE", help="Duration history file (default: one per project in the cache dir).", show_default=False),
]

