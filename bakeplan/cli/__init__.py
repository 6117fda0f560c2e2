"""The typer app: thin commands, and the one place that turns errors into exit codes.

Each command lives in its own module (print, plan, run, ci) and imports the core
lazily, so `bakeplan print` never pays for networkx or the scheduler.
"""

from __future__ import annotations

import sys
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


def _register(args: Sequence[str] = ()) -> None:
    from importlib import import_module

    command = next((arg for arg in args if not arg.startswith("-")), None)
    names = [_COMMAND_MODULES[command]] if command in _COMMAND_MODULES else ["print_", "plan", "run", "ci"]
    for name in names:
        import_module(f"bakeplan.cli.{name}").register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, map failures to exit codes (1 input, 2 usage, 3 bug, 130 interrupt)."""
    from bakeplan.errors import BakeplanError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        # `--debug` belongs to the root command; accept it anywhere, as users append it to a failing command.
        args = ["--debug", *(arg for arg in args if arg != "--debug")]
    _register(args)
    try:
        # Standalone mode: typer reports usage errors itself (exit 2) and turns
        # Ctrl-C into exit 130; our own errors and bugs come out here.
        app(args=args, prog_name="bakeplan", standalone_mode=True)
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    except BakeplanError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence
        if debug:
            raise
        print(f"internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("This is a bug in bakeplan; rerun with --debug for the traceback and report it.", file=sys.stderr)
        sys.exit(3)
