"""Options shared by every command that reads bake files (print, plan, run, ci)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Names = Annotated[Optional[list[str]], typer.Argument(metavar="[NAME|GLOB]...", help="Targets, groups or globs (default: the 'default' group).", show_default=False)]
Files = Annotated[Optional[list[str]], typer.Option("--file", "-f", metavar="FILE", help="Bake file (repeatable); default: buildx's lookup.", show_default=False)]
Sets = Annotated[Optional[list[str]], typer.Option("--set", metavar="PATTERN.KEY=VALUE", help="Override: PATTERN.KEY[.SUB]=VALUE, as buildx (repeatable).", show_default=False)]
Vars = Annotated[Optional[list[str]], typer.Option("--var", metavar="NAME=VALUE", help="Set a bake variable: NAME=VALUE (repeatable).", show_default=False)]
