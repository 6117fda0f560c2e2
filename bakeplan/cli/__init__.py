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


def _register() -> None:
    from bakeplan.cli import ci, plan, print_, run

    for module in (print_, plan, run, ci):
        module.register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, map failures to exit codes (1 input, 3 bug, 130 interrupt)."""
    from bakeplan.errors import BakeplanError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _register()
    try:
        code = app(args=args, prog_name="bakeplan", standalone_mode=False)
    except BakeplanError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - the last line of defence
        import click

        if isinstance(error, click.exceptions.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code if error.exit_code != 2 else 2)
        if isinstance(error, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            sys.exit(130)
        if debug:
            raise
        print(f"internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("This is a bug in bakeplan; rerun with --debug for the traceback and report it.", file=sys.stderr)
        sys.exit(3)
    # Without standalone mode, click hands back typer.Exit's code (and 130 for
    # an interrupted command) instead of exiting: pass it on.
    if isinstance(code, int) and code != 0:
        sys.exit(code)
