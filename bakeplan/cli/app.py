"""The typer app: the root options and the commands, each registered from its own module.

Each command lives in its own module (print, plan, run, ci) and imports the core
lazily, so `bakeplan print` never pays for networkx or the scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from bakeplan import __version__

app = typer.Typer(
    name="bakeplan",
    help="Plan, schedule and run Docker Buildx Bake matrices across builder nodes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bakeplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """bakeplan reads docker-bake files exactly as buildx does, then plans and runs them."""


# The module that registers each command. A run of one known command imports
# (and builds the options of) that command alone: `print` never pays for the
# others' imports. Anything else (help, a typo) registers them all.
_COMMAND_MODULES = {"print": "print_", "plan": "plan", "nodes": "plan", "run": "run", "ci": "ci"}


def register(args: Sequence[str] = ()) -> None:
    """Add the commands `args` name (all of them when it names none) to the app."""
    from importlib import import_module

    from bakeplan.cli import command_word

    command = command_word(args)
    names = [_COMMAND_MODULES[command]] if command in _COMMAND_MODULES else ["print_", "plan", "run", "ci"]
    for name in names:
        import_module(f"bakeplan.cli.{name}").register(app)
