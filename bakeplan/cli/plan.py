"""The `bakeplan plan` and `bakeplan nodes` commands: thin wrappers around `bakeplan.plan`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from bakeplan.cli.request import bake_request

if TYPE_CHECKING:
    from bakeplan.history import EstimateError, History
    from bakeplan.nodes import Node
    from bakeplan.plan import Plan


class Format(str, Enum):
    """Output formats of `bakeplan plan`."""

    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


class NodesFormat(str, Enum):
    """Output formats of `bakeplan nodes` (a node list has no graph to draw)."""

    table = "table"
    json = "json"


def find_nodes(node: list[str] | None, nodes_file: str | None, builder: str | None) -> tuple[Node, ...]:
    """Candidate nodes exactly as `run` finds them (--node flags, else the config file, else buildx), creating nothing.

    `plan` is `run`'s dry run: a remote node of a multi-node builder is shown
    on the single-node builder `run` creates for it.
    """
    from bakeplan.buildx import find_nodes as run_find_nodes

    return run_find_nodes(node or (), nodes_file, builder, create=False)


def with_learned_speeds(nodes: tuple[Node, ...], files: list[str] | None, history: str | None) -> tuple[Node, ...]:
    """The nodes with the speeds the project's history learned for them (as `plan` sees them)."""
    from bakeplan import history as history_mod
    from bakeplan.nodes import with_speeds

    project = history_mod.project_dir(files, Path.cwd())
    past = history_mod.load(Path(history) if history else history_mod.default_path(project=project))
    return with_speeds(nodes, past.speeds())


def make_plan(names: list[str] | None, file: list[str] | None, set_: list[str] | None, var: list[str] | None,
              node: list[str] | None, nodes_file: str | None, builder: str | None,
              only: list[str] | None, exclude: list[str] | None, history: str | None) -> tuple[Plan, History]:
    """Load the bake files (as `print` does), find nodes, and plan; the plan and the history it was estimated with."""
    from bakeplan import history as history_mod
    from bakeplan.bake.resolve import load
    from bakeplan.buildhistory import builder_samples
    from bakeplan.jobs import Filter
    from bakeplan.plan import build_plan

    request = bake_request(names, file, set_, var)
    result = load(request)
    candidates = find_nodes(node, nodes_file, builder)
    project = history_mod.project_dir(request.files, request.cwd)
    past = history_mod.load(Path(history) if history else history_mod.default_path(project=project))
    past = past.with_builders(builder_samples(result.targets, candidates, request.cwd, project,
                                                     measured=past.measured))
    plan = build_plan(result, candidates, history=past,
                      only=[Filter.parse(f) for f in only or ()], exclude=[Filter.parse(f) for f in exclude or ()],
                      overrides=request.sets, variables=request.vars, cwd=request.cwd)
    return plan, past


def estimates_line(plan: Plan, history: History) -> str:
    """Where the estimates came from and how far off they were lately (empty when there is nothing to say)."""
    from bakeplan.history import BUILDERS, estimate_error

    count = sum(history.source(job) == BUILDERS for job in plan.jobs)
    builders = f"{count} of {len(plan.jobs)} estimates from the builders' build history\n" if count else ""
    error = estimate_error(history.runs)
    return builders + (error_line(error) if error is not None else "")


def error_line(error: EstimateError) -> str:
    """`estimates on the last 3 runs: jobs off by a median of 12%, makespan 8% late on average`."""
    parts = []
    if error.per_job is not None:
        parts.append(f"jobs off by a median of {error.per_job:.0%}")
    if error.makespan is not None:
        parts.append(f"makespan {abs(error.makespan):.0%} {'late' if error.makespan >= 0 else 'early'} on average")
    runs = "the last run" if error.runs == 1 else f"the last {error.runs} runs"
    return f"estimates on {runs}: {', '.join(parts)}\n"


def render(plan: Plan, fmt: Format) -> str:
    """The plan in the chosen format."""
    from bakeplan.render import dot, json_, mermaid, table

    if fmt == Format.table:
        return table.render(plan, width=terminal_width())
    renderers = {Format.json: json_.render, Format.dot: dot.render, Format.mermaid: mermaid.render}
    return renderers[fmt](plan)


def terminal_width() -> int:
    """The terminal's width (or $COLUMNS); 120 when the output is not a terminal."""
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def register(app: typer.Typer) -> None:
    """Add `plan` and `nodes` to the app."""

    @app.command("plan", cls=pflag.Command)
    def plan_command(
        names: Names = None, file: Files = None, set_: Sets = None, var: Vars = None,
        node: NodeSpecs = None, nodes_file: NodesFile = None, builder: Builder = None,
        only: Only = None, exclude: Exclude = None, history: HistoryFile = None,
        fmt: Annotated[Format, typer.Option("--format", help="table, json, dot or mermaid.")] = Format.table,
    ) -> None:
        """Show which job runs where and when (a dry run): per node, estimated times, hand-overs, critical path."""
        plan, past = make_plan(names, file, set_, var, node, nodes_file, builder, only, exclude, history)
        typer.echo(render(plan, fmt) + (estimates_line(plan, past) if fmt == Format.table else ""), nl=False)

    @app.command("nodes", cls=pflag.Command)
    def nodes_command(
        node: NodeSpecs = None, nodes_file: NodesFile = None, builder: Builder = None, file: Files = None,
        history: HistoryFile = None,
        fmt: Annotated[NodesFormat, typer.Option("--format", help="table or json.")] = NodesFormat.table,
        run_dir: Annotated[str, typer.Option("--run-dir", help="Where runs keep their state (to say which nodes went down in the last).")] = ".bakeplan/runs",
    ) -> None:
        """Show the nodes bakeplan found (declared, buildx builders, this machine) and each one's capacity.

        Also where each figure came from, why any node is left out, and which went down in the last run.

        Speeds are learned from the project's history (the bake files' directory, as `plan`; `-f` or `--history` pick it).
        """
        import json

        from bakeplan.render import json_, table
        from bakeplan.runstate import last_run_down

        found = with_learned_speeds(find_nodes(node, nodes_file, builder), file, history)
        last = last_run_down(Path(run_dir))
        down = dict(last[1]) if last else {}
        if fmt == NodesFormat.json:
            typer.echo(json.dumps([{**json_.node_data(n), "down_in_last_run": down.get(n.name)} for n in found], indent=2))
        else:
            shown = (str(last[0]), down) if last else None
            typer.echo(table.render_nodes(found, width=terminal_width(), last_run=shown), nl=False)
