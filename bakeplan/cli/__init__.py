"""bakeplan's entry point: the one place that turns errors into exit codes.

The typer app (`bakeplan.cli.app`) is imported only when needed: a repeat
`bakeplan print` is answered from its replay cache first (`bakeplan.cli.replay`).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the app, map failures to exit codes (1 input, 2 usage, 3 bug, 130 interrupt)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        # `--debug` belongs to the root command; accept it anywhere, as users append it to a failing command.
        args = ["--debug", *(arg for arg in args if arg != "--debug")]
    if command_word(args) != "print":
        _run(args, debug)
        return
    # `print` keeps nearly all it allocates until it ends: the cyclic collector
    # would only scan the same live objects again and again (one pass over a
    # 1,000-target run takes ~80 ms), and the interpreter's last collection at
    # exit once more. Paused for the command; what is left then is frozen (never scanned).
    gc.disable()
    try:
        _run(args, debug)
    finally:
        gc.freeze()
        gc.enable()


def _run(args: list[str], debug: bool) -> None:
    """`print` from its replay or its remembered options when it can be (no typer), else the typer app."""
    if command_word(args) == "print" and not debug:
        from bakeplan.cli import replay

        if replay.replay(args):
            return
        from bakeplan.cli import printout

        arguments = printout.stored_arguments(replay.stored_arguments())
        if arguments is not None:
            _guarded(lambda: printout.print_definition(arguments), debug=False)
            return
    from bakeplan.cli.app import app, register

    register(args)
    # Standalone mode: typer reports usage errors itself (exit 2) and turns
    # Ctrl-C into exit 130; our own errors and bugs come out here.
    _guarded(lambda: app(args=args, prog_name="bakeplan", standalone_mode=True), debug=debug)


def _guarded(command: Callable[[], object], *, debug: bool) -> None:
    """Run `command`; a BakeplanError becomes its message and exit 1 (2 for usage), a bug exit 3, Ctrl-C 130."""
    from bakeplan.errors import BakeplanError, UsageError

    try:
        command()
    except SystemExit as done:
        if done.code not in (0, None):
            raise
    except BakeplanError as error:
        if debug:
            raise
        from bakeplan.cli import diagnostic

        sys.stderr.write(diagnostic.render(error, color=diagnostic.use_color()))
        sys.exit(2 if isinstance(error, UsageError) else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        print(f"internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("This is a bug in bakeplan; rerun with --debug for the traceback and report it.", file=sys.stderr)
        sys.exit(3)


def command_word(args: Sequence[str]) -> str | None:
    """The command word of `args` (the first one that is not an option), as the app registers it."""
    return next((arg for arg in args if not arg.startswith("-")), None)
