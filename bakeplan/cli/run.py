"""`bakeplan run`: plan, then build every job with `docker buildx bake` on its node (see `bakeplan.runs`)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bakeplan.cli import pflag
from bakeplan.cli.options import (
    Builder,
    Exclude,
    Files,
    HistoryFile,
    Names,
    NodesFile,
    NodeSpecs,
    Only,
    Sets,
    Vars,
)
from bakeplan.cli.request import bake_request, definition_sets
from bakeplan.record import replace

if TYPE_CHECKING:
    from bakeplan.bake.model import BakeRequest
    from bakeplan.cache import CacheBackend
    from bakeplan.history import History
    from bakeplan.jobs import Filter
    from bakeplan.nodes import Node
    from bakeplan.plan import Plan
    from bakeplan.runs import RunRequest

Many = Optional[list[str]]
# The builders' history is read before the first job starts: the newest records only, in a bounded time
# (each record is read once and kept; see bakeplan.buildhistory).
RUN_RECORDS, RUN_BUDGET = 10, 1.0


class Progress(str, Enum):
    """`--progress` modes: bakeplan's own view, and what the builds' logs are."""

    auto = "auto"
    tty = "tty"
    plain = "plain"
    quiet = "quiet"
    rawjson = "rawjson"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("run", cls=pflag.Command)(_exit_130_on_interrupt(run_command))


def _exit_130_on_interrupt(command: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C / SIGTERM exit 130: typer turns KeyboardInterrupt into a return value under
    standalone_mode=False, which `bakeplan.cli.main` drops."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


def run_command(
    names: Names = None,
    files: Files = None,
    sets: Sets = None,
    vars_: Vars = None,
    allow: Annotated[Many, typer.Option("--allow", help="Pass --allow to bake (repeatable).", show_default=False)] = None,
    push: Annotated[bool, typer.Option("--push", help="Push images; split multi-platform images are merged.")] = False,
    load: Annotated[bool, typer.Option("--load", help="Pass --load to bake.")] = False,
    no_cache: Annotated[Optional[bool], typer.Option("--no-cache", help="Pass --no-cache to bake.", show_default=False)] = None,
    progress: Annotated[Progress, typer.Option(
        "--progress", help="auto (live view on a terminal), tty, plain, quiet or rawjson (builds' logs in rawjson).",
    )] = Progress.auto,
    builder: Builder = None,
    node: NodeSpecs = None,
    nodes_file: NodesFile = None,
    only: Only = None,
    exclude: Exclude = None,
    cache: Annotated[Optional[str], typer.Option(
        "--cache", metavar="SPEC", help="Per-job cache: registry:REPO, local:DIR, gha, s3:BUCKET?region=R (default: none).",
    )] = None,
    cache_scope: Annotated[str, typer.Option("--cache-scope", help="Cache tag prefix, e.g. the branch.")] = "",
    cache_fallback: Annotated[Many, typer.Option("--cache-fallback", help="Also read this scope's cache (repeatable).")] = None,
    cache_replace: Annotated[bool, typer.Option("--cache-replace", help="Replace the bake file's cache-from/cache-to.")] = False,
    handoff: Annotated[str, typer.Option(
        "--handoff", metavar="SPEC", help="How parents reach children on other nodes: oci (a layout in the run directory) or registry:REPO.",
    )] = "oci",
    retries: Annotated[int, typer.Option("--retries", min=0, help="Rerun a failed job up to N times.")] = 0,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Start nothing new after a failure.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the exact commands; start nothing.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Rerun only what failed, was skipped or never finished.")] = False,
    run_dir: Annotated[str, typer.Option("--run-dir", help="Where runs keep state, logs and hand-overs.")] = ".bakeplan/runs",
    history_file: HistoryFile = None,
    loader: Annotated[str, typer.Option("--loader", hidden=True, help="bakeplan (default) or buildx (--print).")] = "bakeplan",
) -> None:
    """Build the plan: one `docker buildx bake` per job, on the node the scheduler picks."""
    from bakeplan import buildx, history, runs
    from bakeplan.handover import Handoff, HandoverStore
    from bakeplan.steps import JobSettings

    if no_cache is False:  # `--no-cache=false`: buildx's `*.no-cache=false` after the user's sets, in every job
        sets = definition_sets(sets, no_cache=False)
    request = bake_request(names, files, sets, vars_)
    store_kind = Handoff.parse(handoff)
    if not dry_run:
        buildx.check_docker("docker")
    nodes = buildx.find_nodes(node or (), nodes_file, builder, create=not dry_run)
    project = history.project_dir(request.files, request.cwd)
    history_path = Path(history_file) if history_file else history.default_path(project=project)
    past = history.load(history_path)
    # Reaching every builder takes a moment: do it while the bake files are read and planned.
    with ThreadPoolExecutor(max_workers=2) as pool:
        checks = [] if dry_run else [pool.submit(buildx.check_builders, "docker", _builders(nodes)),
                                     pool.submit(buildx.check_current_builder, nodes)]
        plan = _plan(request, loader, nodes, past, only, exclude)
        for check in checks:
            check.result()
    settings = JobSettings(allow=tuple(allow or ()), push=push, load=load, no_cache=bool(no_cache),
                           cache=_cache(cache, cache_scope, cache_fallback, cache_replace),
                           progress="rawjson" if progress == Progress.rawjson else "plain")
    if dry_run:
        shown = replace(settings, files=plan.files, sets=tuple(sets or ()), variables=tuple(vars_ or ()))
        print("\n".join(runs.dry_run_lines(plan, runs.steps_of(plan, past, push=push), shown)))
        return
    directory = runs.run_directory(Path(run_dir).resolve(), resume=resume)
    _run_and_exit(plan, runs.RunRequest(directory, settings, HandoverStore(directory, store_kind), retries=retries,
                                        fail_fast=fail_fast, resume=resume, history_path=history_path),
                  past, progress.value)


def _builders(nodes: Sequence[Node]) -> list[str]:
    """The builders of the usable nodes, once each."""
    return list(dict.fromkeys(n.builder for n in nodes if n.excluded is None and n.builder))


def _plan(request: BakeRequest, loader: str, nodes: Sequence[Node], past: History, only: Many, exclude: Many) -> Plan:
    """Read the bake files and plan them on the nodes."""
    from bakeplan import buildx
    from bakeplan import history as history_mod
    from bakeplan.bake.resolve import load
    from bakeplan.buildhistory import builder_samples
    from bakeplan.plan import build_plan

    result = buildx.load_with_buildx(request) if loader == "buildx" else load(request)
    project = history_mod.project_dir(request.files, request.cwd)
    past = past.with_builders(builder_samples(result.targets, nodes, request.cwd, project,
                                                     measured=past.measured, limit=RUN_RECORDS, budget=RUN_BUDGET))
    only_f, exclude_f = _filters(only, exclude)
    return build_plan(result, nodes, history=past, only=only_f, exclude=exclude_f, cwd=request.cwd)


def _filters(only: Many, exclude: Many) -> tuple[list[Filter], list[Filter]]:
    from bakeplan.jobs import Filter

    return [Filter.parse(t) for t in only or ()], [Filter.parse(t) for t in exclude or ()]


def _cache(spec: str | None, scope: str, fallbacks: Many, replace_: bool) -> CacheBackend | None:
    from bakeplan.cache import parse_backend

    return None if spec is None else parse_backend(spec, scope=scope, fallbacks=tuple(fallbacks or ()), replace=replace_)


def _run_and_exit(plan: Plan, request: RunRequest, past: History, progress: str) -> None:
    """Run with the right reporter, keep the history, print the summary; exit 1 when anything failed."""
    from bakeplan import progress as prog
    from bakeplan import runs
    from bakeplan.runstate import read_state

    live = prog.wants_live(progress, sys.stdout)
    steps = runs.steps_of(plan, past, push=request.settings.push)
    reporter = prog.make_reporter(progress, steps, [n.name for n in plan.nodes if n.excluded is None], live=live)
    print(f"bakeplan: run directory {request.directory}", file=sys.stderr)
    history = past
    try:
        state, steps, history = runs.run(plan, request, past, reporter=reporter)
    except KeyboardInterrupt:
        reporter.close()
        prog.render_summary(read_state(request.directory / "state.json"), steps, sys.stdout, rich_table=live)
        print(f"state saved in {request.directory} (rerun the rest with --resume)", file=sys.stderr)
        raise
    finally:
        reporter.close()
        if request.history_path is not None:
            warning = runs.save_history(history, request.history_path)
            if warning:
                print(f"bakeplan: warning: {warning}", file=sys.stderr)
    prog.render_summary(state, steps, sys.stdout, rich_table=live)
    if not state.ok:
        # SystemExit, not typer.Exit: with standalone_mode=False click turns Exit
        # into a return value that main() drops.
        raise SystemExit(1)
