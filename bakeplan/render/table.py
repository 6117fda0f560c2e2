"""`bakeplan plan` (default format) and `bakeplan nodes`: rich tables with a text Gantt column."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeplan.nodes import Node
from bakeplan.plan import Plan

BAR = 40  # characters of the Gantt column


def duration(seconds: float) -> str:
    """`75.0` -> `1m15s`; `3700` -> `1h01m40s`; below a minute `12.5s`."""
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _bar(start: float, end: float, makespan: float, critical: bool) -> Text:
    """A Gantt bar: the job's span scaled onto BAR characters."""
    if makespan <= 0:
        return Text("")
    left = int(start / makespan * BAR)
    right = max(left + 1, int(round(end / makespan * BAR)))
    return Text((" " * left + "█" * (right - left)).ljust(BAR), style="red" if critical else "cyan")


def _console(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, no_color=True, highlight=False, soft_wrap=False), buffer


def render(plan: Plan, *, width: int = 120) -> str:
    """Per node: its jobs in start order with estimated start, end and a Gantt bar; then the summary."""
    console, buffer = _console(width)
    order = {job.id: i for i, job in enumerate(plan.jobs)}
    for node in plan.nodes:
        jobs = sorted((j for j in plan.jobs if plan.timings[j.id].node == node.name),
                      key=lambda j: (plan.timings[j.id].start, order[j.id]))
        if not jobs:
            continue
        table = Table(title=f"{node.name}  ({', '.join(node.platforms)}; {node.slots} slot{'s' * (node.slots != 1)})",
                      title_justify="left", expand=False)
        for column in ("", "job", "platform", "start", "end", "timeline"):
            table.add_column(column, no_wrap=column != "job")
        for job in jobs:
            timing = plan.timings[job.id]
            table.add_row("*" if timing.critical else "", job.id, timing.platform or "native",
                          duration(timing.start), duration(timing.end),
                          _bar(timing.start, timing.end, plan.makespan, timing.critical))
        console.print(table)
    console.print(summary(plan))
    return buffer.getvalue()


def summary(plan: Plan) -> str:
    """The closing lines: counts, makespan, lower bound and its parts, critical path."""
    bound = plan.lower_bound
    parts = [f"critical path {duration(bound.critical_path)}", f"work/slots {duration(bound.work)}"]
    parts += [f"{name} {duration(value)}" for name, value in bound.classes]
    lines = [
        f"{_count(len(plan.jobs), 'job')} in {_count(len(plan.units), 'invocation')} "
        f"on {_count(len({t.node for t in plan.timings.values()}), 'node')}",
        f"estimated makespan {duration(plan.makespan)}; lower bound {duration(bound.value)} "
        f"({'; '.join(parts)}); ratio {plan.ratio:.2f}",
    ]
    if plan.critical_path:
        lines.append("critical path (*): " + " -> ".join(plan.critical_path))
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def render_nodes(nodes: Sequence[Node], *, width: int = 120) -> str:
    """Every candidate node: where it came from, what it builds, its slots, and why it is left out."""
    console, buffer = _console(width)
    table = Table(expand=False)
    for column in ("node", "source", "builder", "endpoint", "status", "platforms", "slots", "memory", "used"):
        table.add_column(column, overflow="fold")
    for node in nodes:
        platforms = ", ".join(p + ("*" if i < node.native else "") for i, p in enumerate(node.platforms))
        memory = f"{node.memory / 2**30:.1f}G" if node.memory else "?"
        used = "yes" if node.excluded is None else f"no: {node.excluded}"
        table.add_row(node.name, node.source, node.builder or "-", node.endpoint or "-", node.status or "-",
                      platforms or "-", str(node.slots), memory, used)
    console.print(table)
    return buffer.getvalue()
