"""`bakeplan run`: plan, then build every unit with `docker buildx bake` on its node.

Placing a job on one node: buildx sends a platform to the first node of a
multi-node builder that lists it, so each node is reached through a builder
that holds only that node. Single-node builders and declared nodes
(`--node name=N,builder=B,...`) are used as they are; for a `remote`-driver
node inside a multi-node builder bakeplan creates (once, and reuses) a
single-node builder `bakeplan-<builder>-<node>` on the same endpoint.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bakeplan.cli.options import (
    Builder, Exclude, Files, HistoryFile, Names, NodeSpecs, NodesFile, Only, Sets, Vars, bake_request,
)

if TYPE_CHECKING:
    from bakeplan.bake.model import BakeRequest, BakeResult
    from bakeplan.cache import CacheBackend
    from bakeplan.execute import RunState, Unit, UnitState
    from bakeplan.history import History
    from bakeplan.jobs import Filter
    from bakeplan.nodes import Node
    from bakeplan.plan import Plan

Many = Optional[list[str]]


class Progress(str, Enum):
    """`--progress` modes: bakeplan's own view, and what the builds' logs are."""

    auto = "auto"
    tty = "tty"
    plain = "plain"
    quiet = "quiet"
    rawjson = "rawjson"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("run")(_exit_130_on_interrupt(run_command))


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
    progress: Annotated[Progress, typer.Option("--progress", help="auto (live view on a terminal), tty, plain, quiet or rawjson (builds' logs in rawjson).")] = Progress.auto,
    builder: Builder = None,
    node: NodeSpecs = None,
    nodes_file: NodesFile = None,
    only: Only = None,
    exclude: Exclude = None,
    cache: Annotated[Optional[str], typer.Option("--cache", metavar="SPEC", help="Per-job cache: registry:REPO, local:DIR, gha, s3:BUCKET?region=R (default: none).")] = None,
    cache_scope: Annotated[str, typer.Option("--cache-scope", help="Cache tag prefix, e.g. the branch.")] = "",
    cache_fallback: Annotated[Many, typer.Option("--cache-fallback", help="Also read this scope's cache (repeatable).")] = None,
    cache_replace: Annotated[bool, typer.Option("--cache-replace", help="Replace the bake file's cache-from/cache-to.")] = False,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Rerun a failed unit up to N times.")] = 0,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Start nothing new after a failure.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the exact commands; start nothing.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Rerun only what failed, was skipped or never finished.")] = False,
    run_dir: Annotated[str, typer.Option("--run-dir", help="Where runs keep state and logs.")] = ".bakeplan/runs",
    history_file: HistoryFile = None,
    loader: Annotated[str, typer.Option("--loader", hidden=True, help="bakeplan (default) or buildx (--print).")] = "bakeplan",
) -> None:
    """Build the plan: one `docker buildx bake` per unit, on the node the scheduler picks."""
    from bakeplan import execute, history
    request = bake_request(names, files, sets, vars_)
    if not dry_run:
        execute.check_docker("docker")
    nodes = find_nodes(node or (), nodes_file, builder, create=not dry_run)
    project = history.project_dir(request.files, request.cwd)
    history_path = Path(history_file) if history_file else history.default_path(project=project)
    # Reaching every builder takes a moment: do it while the bake files are read and planned.
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = [] if dry_run else [pool.submit(execute.check_builders, "docker", _builders(nodes)),
                                      pool.submit(check_current_builder, nodes)]
        plan, result = _plan(request, loader, nodes, history.load(history_path), only, exclude)
        for check in checked:
            check.result()
    base, directory = run_directory(Path(run_dir).resolve(), resume=resume, create=not dry_run)
    options = execute.BakeOptions(sets=tuple(sets or ()), vars=tuple(vars_ or ()), allow=tuple(allow or ()), push=push,
                                  load=load, cache=_cache(cache, cache_scope, cache_fallback, cache_replace),
                                  progress="rawjson" if progress == "rawjson" else "plain")
    units = execute.units_from_plan(plan, result.targets, options, directory)
    builders = {n.name: n.builder for n in plan.nodes if n.excluded is None}
    if dry_run:
        print_commands(units, plan, builders)
        return
    _run_and_exit(units, plan, builders, directory, base, resume=resume, retries=retries, fail_fast=fail_fast,
                  progress=progress.value, history_path=history_path)


def check_current_builder(nodes: Sequence[Node], *, docker: str = "docker") -> None:
    """A node without a builder of its own runs on buildx's current builder: fail early, once, if that is broken.

    Without this, every job fails on its own with the same daemon error
    (discovery falls back to this machine when no buildx builder is usable).
    """
    from bakeplan.errors import ToolError

    if not any(n.excluded is None and not n.builder for n in nodes):
        return
    try:
        done = subprocess.run([docker, "buildx", "inspect", "--bootstrap"], capture_output=True, text=True,
                              timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolError(f"the current buildx builder cannot be reached: {error}",
                        hint="Start the docker daemon, pick a builder (--builder), or declare nodes with --node.") from error
    error_line = next((line.split(":", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("Error:")), "")
    if done.returncode != 0 or error_line:
        last = error_line or (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"the current buildx builder is not usable: {last}",
                        hint="Start the docker daemon, pick a builder (--builder), or declare nodes with --node.")


def _builders(nodes: Sequence[Node]) -> list[str]:
    """The builders of the usable nodes, once each."""
    return list(dict.fromkeys(n.builder for n in nodes if n.excluded is None and n.builder))


def _plan(request: BakeRequest, loader: str, nodes: Sequence[Node], past: History,
          only: Sequence[str] | None, exclude: Sequence[str] | None) -> tuple[Plan, BakeResult]:
    """Read the bake files and plan them on the nodes."""
    from bakeplan.plan import build_plan

    result = load_result(request, loader)
    only_f, exclude_f = _filters(only, exclude)
    return build_plan(result, nodes, history=past, only=only_f, exclude=exclude_f), result


def _run_and_exit(units: Sequence[Unit], plan: Plan, builders: Mapping[str, str | None], directory: Path, base: Path, *,
                  resume: bool, retries: int, fail_fast: bool, progress: str, history_path: Path) -> None:
    """Run; exit 1 when anything failed, 130 on Ctrl-C / SIGTERM."""
    from bakeplan import history

    try:
        state = _run(units, plan, builders, directory, base, resume=resume, retries=retries, fail_fast=fail_fast,
                     progress=progress, history_path=history_path, past=history.load(history_path))
    except KeyboardInterrupt:
        print(f"state saved in {directory} (rerun the rest with --resume)", file=sys.stderr)
        raise
    if not state.ok:
        # SystemExit, not typer.Exit: with standalone_mode=False click turns Exit
        # into a return value that main() drops.
        raise SystemExit(1)


def _filters(only: Sequence[str] | None, exclude: Sequence[str] | None) -> tuple[list[Filter], list[Filter]]:
    from bakeplan.jobs import Filter

    return [Filter.parse(t) for t in only or ()], [Filter.parse(t) for t in exclude or ()]


def _cache(spec: str | None, scope: str, fallbacks: Sequence[str] | None, replace_: bool) -> CacheBackend | None:
    from bakeplan.cache import parse_backend

    return None if spec is None else parse_backend(spec, scope=scope, fallbacks=tuple(fallbacks or ()), replace=replace_)


def _run(units: Sequence[Unit], plan: Plan, builders: Mapping[str, str | None], directory: Path, base: Path, *,
         resume: bool, retries: int, fail_fast: bool, progress: str, history_path: Path, past: History) -> RunState:
    """Execute with the right reporter, record durations, print the summary."""
    from bakeplan import execute, progress as prog

    previous = execute.read_state(directory / "state.json") if resume and (directory / "state.json").exists() else None
    (base / "latest").write_text(directory.name + "\n")
    live = prog.wants_live(progress, sys.stdout)
    reporter = prog.make_reporter(progress, units, [n.name for n in plan.nodes if n.excluded is None], live=live)
    print(f"bakeplan: run directory {directory}", file=sys.stderr)
    recorder = HistoryRecorder(plan, past)
    options = execute.RunOptions(run_dir=directory, cwd=Path.cwd(), retries=retries, fail_fast=fail_fast)
    try:
        state = execute.execute(units, plan.nodes, options, builders=builders, previous=previous,
                                reporter=reporter, on_finished=recorder)
    except KeyboardInterrupt:
        reporter.close()
        prog.render_summary(execute.read_state(directory / "state.json"), units, sys.stdout, rich_table=live)
        raise
    finally:
        reporter.close()
        _save_history(recorder.history, history_path)
    prog.render_summary(state, units, sys.stdout, rich_table=live)
    return state


def _save_history(past: History, path: Path) -> None:
    """Keep the measured durations; a history that cannot be written is worth a warning, not a failed run."""
    from bakeplan import history

    try:
        history.save(past, path)
    except OSError as error:
        print(f"bakeplan: warning: durations not recorded in {path}: {error.strerror or error}", file=sys.stderr)


class HistoryRecorder:
    """Feeds measured durations of succeeded units back into the history (one sample per job)."""

    def __init__(self, plan: Plan, past: History) -> None:
        self.jobs = {job.id: job for job in plan.jobs}
        self.history = past

    def __call__(self, unit: Unit, state: UnitState) -> None:
        """Record a finished unit."""
        from bakeplan.execute import SUCCEEDED

        duration = state.duration
        if state.status != SUCCEEDED or duration is None:
            return
        for job_id in unit.jobs:
            if job_id in self.jobs:
                self.history = self.history.record(self.jobs[job_id], duration)


def print_commands(units: Sequence[Unit], plan: Plan, builders: Mapping[str, str | None]) -> None:
    """`--dry-run`: each unit's exact argv on its planned node, in plan order."""
    from bakeplan.execute import unit_argv
    from bakeplan.progress import shell_line

    placements = plan.placements
    for unit in units:
        node = placements[unit.id].node if unit.id in placements else ""
        argv = list(unit_argv(unit, builders.get(node)))
        if unit.kind == "merge":
            argv += [f"{unit.merge_repo}@<digest of {dep}>" for dep in unit.deps]
        print(f"# {unit.id}" + (f" on {node}" if node else ""))
        print(shell_line(argv))


def run_directory(base: Path, *, resume: bool, create: bool = True) -> tuple[Path, Path]:
    """(runs dir, this run's dir): the latest run's dir for --resume, else a new one (made when `create`)."""
    from bakeplan.errors import BakeplanError

    if resume:
        try:
            name = (base / "latest").read_text().strip()
        except OSError as error:
            raise BakeplanError(f"nothing to resume: no previous run in {base}", hint="Run without --resume first.") from error
        return base, base / name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    directory = base / f"{stamp}-{os.getpid()}"
    if create:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BakeplanError(f"cannot create the run directory {directory}: {error.strerror or error}",
                                hint="Pick a writable place with --run-dir.") from error
    return base, directory


def find_nodes(declared_specs: Sequence[str], nodes_file: str | None, builder: str | None, *, create: bool) -> tuple[Node, ...]:
    """Declared nodes, else buildx's; remote nodes in multi-node builders get a builder of their own.

    `--builder` chooses buildx discovery over a nodes file; with `--node` flags
    as well it is ambiguous, and silently ignoring one of them would plan on
    nodes the user did not mean.
    """
    from bakeplan import nodes as nd
    from bakeplan.errors import BakeplanError

    if builder and declared_specs:
        raise BakeplanError("--builder and --node both choose the nodes", hint="Use one of them.")
    declared = () if builder else nd.declared_nodes(Path.cwd(), declared_specs, nodes_file)
    return tuple(_own_builder(n, create=create) for n in nd.discover(declared, builder=builder))


def _own_builder(node: Node, *, create: bool) -> Node:
    """A remote node of a multi-node builder, made usable through a single-node builder on its endpoint."""
    from bakeplan.cache import sanitize_tag

    if not node.shared or node.driver != "remote":
        return node
    name = sanitize_tag(f"bakeplan-{node.name}".replace("/", "-"))
    if create:
        ensure_remote_builder(name, node.endpoint)
    return replace(node, builder=name, excluded=None, shared=False)


def _docker(argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a short docker CLI command; a missing CLI or a hang is one clear ToolError."""
    from bakeplan.errors import ToolError

    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=None if env is None else dict(env),
                              timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise ToolError(f"{argv[0]} not found", hint="Install the docker CLI with the buildx plugin.") from error
    except subprocess.TimeoutExpired as error:
        raise ToolError(f"`{' '.join(argv)}` did not answer in {timeout:.0f} s",
                        hint="Check that the builder's endpoint is reachable.") from error


def ensure_remote_builder(name: str, endpoint: str, *, docker: str = "docker") -> None:
    """Create a single-node `remote` builder NAME for ENDPOINT unless it exists."""
    from bakeplan.errors import ToolError

    if _docker([docker, "buildx", "inspect", name]).returncode == 0:
        return
    done = _docker([docker, "buildx", "create", "--name", name, "--driver", "remote", endpoint])
    if done.returncode != 0:
        raise ToolError(f"cannot create builder {name} for {endpoint}: {done.stderr.strip()}",
                        hint="Create one builder per node yourself, or declare nodes with --node.")


def load_result(request: BakeRequest, loader: str) -> BakeResult:
    """The resolved bake: bakeplan's own reader, or (`--loader buildx`) `docker buildx bake --print`."""
    if loader == "buildx":
        return load_with_buildx(request)
    from bakeplan.bake.resolve import load

    return load(request)


def load_with_buildx(request: BakeRequest) -> BakeResult:
    """Resolve through real buildx's `--print` (no matrix values; a fallback and test oracle)."""
    from bakeplan.bake.model import BakeResult, Target
    from bakeplan.errors import ToolError

    argv = ["docker", "buildx", "bake", "--print"]
    for name in request.files or ():
        argv += ["-f", name]
    for item in request.sets:
        argv += ["--set", item]
    for item in request.vars:
        argv += ["--var", item]
    argv += list(request.names)
    # The request's environment is the one bake variables come from (empty: ours).
    done = _docker(argv, cwd=request.cwd, env=request.env or None)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"docker buildx bake --print failed: {last}")
    data = json.loads(done.stdout)
    groups = {name: tuple(g.get("targets", ())) for name, g in data.get("group", {}).items()}
    targets = {name: Target(name=name, fields=fields, block=name) for name, fields in data.get("target", {}).items()}
    files = tuple(Path(f) for f in request.files or ())
    return BakeResult(groups=groups, targets=targets, files=files, requested=tuple(request.names) or ("default",))
