"""`bakeplan plan` (default format) and `bakeplan nodes`: rich tables with a text Gantt column.

Under each node's table, one line per hand-over into that node (a job reading
a parent built on another node), in the table's row order.

The tables fit the given width (the terminal's, or 120 columns when piped):
job ids are never cut, because two ids that differ only at the end (the
platform) would read the same; the Gantt column shrinks first and is left out
when fewer than MIN_BAR columns remain. Every node's table has the same
column widths so the timelines line up from node to node.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeplan.nodes import Node
from bakeplan.plan import JobTiming, Plan
from bakeplan.record import record

BAR = 40  # the widest Gantt column
MIN_BAR = 10  # below this the Gantt column is left out
DEFAULT_WIDTH = 120
HEADERS = ("", "job", "platform", "start", "end", "timeline")


def duration(seconds: float) -> str:
    """`75.0` -> `1m15s`; `3700` -> `1h01m40s`; below a minute `12.5s`."""
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _bar(start: float, end: float, makespan: float, critical: bool, width: int) -> Text:
    """A Gantt bar: the job's span scaled onto `width` characters."""
    if makespan <= 0:
        return Text("")
    left = min(int(start / makespan * width), width - 1)
    right = min(max(left + 1, int(round(end / makespan * width))), width)
    return Text((" " * left + "█" * (right - left)).ljust(width), style="red" if critical else "cyan")


def _console(width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, no_color=True, highlight=False, soft_wrap=False), buffer


@record
class _Layout:
    """Column widths shared by every node's table; bar 0 leaves the Gantt column out, job 0 lets ids fold."""

    job: int
    platform: int
    time: int
    bar: int


def _layout(plan: Plan, width: int) -> _Layout:
    """Widths that fit `width`: full job ids first, then as much Gantt bar as is left (up to BAR).

    When even the ids do not fit, they fold onto several lines (job 0) rather than being cut.
    """
    job = max([3, *(len(j.id) for j in plan.jobs)])
    platform = max([8, *(len(t.platform or "native") for t in plan.timings.values())])
    time = max([5, *(len(duration(t.end)) for t in plan.timings.values())])
    # Each column takes its width plus a space either side and one border; one more border closes the row.
    fixed = (1 + 3) + (job + 3) + (platform + 3) + 2 * (time + 3) + 1
    room = width - fixed - 3
    if room >= MIN_BAR:
        return _Layout(job, platform, time, min(BAR, room))
    return _Layout(job if fixed <= width else 0, platform, time, 0)


def _node_table(plan: Plan, jobs: Sequence[str], layout: _Layout) -> Table:
    """One node's jobs in start order: mark, id, platform, start, end and (room permitting) a bar."""
    table = Table(expand=False)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("job", min_width=layout.job or None, overflow="fold")
    table.add_column("platform", min_width=layout.platform if layout.job else None, overflow="fold")
    table.add_column("start", min_width=layout.time, no_wrap=True)
    table.add_column("end", min_width=layout.time, no_wrap=True)
    if layout.bar:
        table.add_column("timeline", width=layout.bar, no_wrap=True)
    for job_id in jobs:
        timing: JobTiming = plan.timings[job_id]
        cells: list[str | Text] = ["*" if timing.critical else "", job_id, timing.platform or "native",
                                   duration(timing.start), duration(timing.end)]
        if layout.bar:
            cells.append(_bar(timing.start, timing.end, plan.makespan, timing.critical, layout.bar))
        table.add_row(*cells)
    return table


def render(plan: Plan, *, width: int = DEFAULT_WIDTH) -> str:
    """Per node: its jobs in start order with estimated start, end and a Gantt bar; then the summary."""
    console, buffer = _console(width)
    layout = _layout(plan, width)
    order = {job.id: i for i, job in enumerate(plan.jobs)}
    for node in plan.nodes:
        jobs = sorted((j.id for j in plan.jobs if plan.timings[j.id].node == node.name),
                      key=lambda j: (plan.timings[j].start, order[j]))
        if not jobs:
            continue
        # The title is printed as plain text: a table title is padded with spaces to the table's width.
        console.print(Text(f"{node.name}  ({', '.join(node.platforms)}; {_count(node.slots, 'slot')}"
                           f"{_capacity_title(node, plan.nodes)})"))
        console.print(_node_table(plan, jobs, layout))
        for line in handover_lines(plan, jobs):
            console.print(Text(line, overflow="fold"))
    # The summary is not wrapped by rich: the terminal wraps it, and a pipe keeps whole lines.
    # Nodes left out close it, so a builder that failed (a TLS certificate, a dead daemon) is not silently missing.
    left_out = "".join(f"{n.name}: left out: {n.excluded}\n" for n in plan.nodes if n.excluded is not None)
    return buffer.getvalue() + "".join(line + "\n" for line in reason_lines(plan, width=width)) + summary(plan) + "\n" + left_out


def reason_lines(plan: Plan, *, width: int = DEFAULT_WIDTH, shown: int = 4) -> list[str]:
    """Why jobs may go where they go: one paragraph per distinct reason, naming its jobs (the first `shown`).

    Lines are wrapped at `width` between words (a job id or path is never cut).
    """
    groups: dict[str, list[str]] = {}
    for job in plan.jobs:
        reason = plan.reasons.get(job.id)
        if reason:
            groups.setdefault(reason, []).append(job.id)
    if not groups:
        return []
    lines = ["where jobs may go:"]
    for reason, ids in groups.items():
        more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
        lines += textwrap.wrap(f"{', '.join(ids[:shown])}{more}:", width, initial_indent="  ", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)
        lines += textwrap.wrap(reason, width, initial_indent="    ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
    return lines


def handover_lines(plan: Plan, jobs: Sequence[str]) -> list[str]:
    """`CHILD reads PARENT from NODE (~4s)` for each hand-over into `jobs`, in their order, then the child's deps order."""
    row = {job_id: i for i, job_id in enumerate(jobs)}
    into = sorted((h for h in plan.handovers if h.child in row), key=lambda h: row[h.child])
    return [f"  {h.child} reads {h.parent} from {h.source} (~{duration(h.seconds)})" for h in into]


def summary(plan: Plan) -> str:
    """The closing lines: counts, makespan, lower bound and its parts, critical path."""
    bound = plan.lower_bound
    parts = [f"critical path {duration(bound.critical_path)}", f"work/slots {duration(bound.work)}"]
    parts += [f"{name} {duration(value)}" for name, value in bound.classes]
    lines = [
        f"{_count(len(plan.jobs), 'job')}, {_count(len(plan.handovers), 'hand-over')} "
        f"on {_count(len({t.node for t in plan.timings.values()}), 'node')}",
        f"estimated makespan {duration(plan.makespan)}; lower bound {duration(bound.value)} "
        f"({'; '.join(parts)}); ratio {plan.ratio:.2f}",
    ]
    if plan.critical_path:
        lines.append("critical path (*): " + " -> ".join(plan.critical_path))
    return "\n".join(lines)


def _capacity_title(node: Node, nodes: Sequence[Node]) -> str:
    """`; shared with arm on host vm; speed 0.79` when the node shares its host or is not of average speed."""
    others = [n.name for n in nodes if n.host and n.host == node.host and n.name != node.name and n.excluded is None]
    shared = f"; shared with {', '.join(others)} on host {node.host}" if others else ""
    return shared + (f"; speed {node.speed:.2f}" if node.speed != 1.0 else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def render_nodes(nodes: Sequence[Node], *, width: int = DEFAULT_WIDTH,
                 last_run: tuple[str, Mapping[str, str]] | None = None) -> str:
    """Every candidate node: where it came from, what it builds, its slots; then why any is left out.

    `last_run` (its directory, node -> why it went down) adds what happened to
    the nodes in the latest `bakeplan run`.

    The reasons (often a whole daemon error) are printed under the table, one
    line each. When the table does not fit the width, each node is printed as
    a few `key: value` lines instead of a table squeezed letter by letter.
    """
    console, buffer = _console(width)
    table = Table(expand=False)
    rows = [_node_row(node) for node in nodes]
    # A column no node has a value in (declared nodes: endpoint, status) only takes room.
    shown = [i for i, column in enumerate(_NODE_COLUMNS) if any(row[i] != "-" for row in rows)]
    for i in shown:
        table.add_column(_NODE_COLUMNS[i], overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    natural, _ = _console(10_000)  # a console's own measure is capped at its width
    if natural.measure(table).maximum <= width:
        console.print(table)
        text = buffer.getvalue()
    else:
        text = "".join(_node_lines(row) for row in rows)
    notes = "".join(f"{note}\n" for node in nodes for note in _node_notes(node)) + _host_notes(nodes)
    if last_run is not None and last_run[1]:
        where, down = last_run
        notes += "".join(f"{name}: went down in the last run ({where}): {why}\n" for name, why in sorted(down.items()))
    return text + notes


_NODE_COLUMNS = ("node", "source", "builder", "endpoint", "status", "platforms", "host", "slots", "memory", "speed",
                 "used")


def _node_row(node: Node) -> tuple[str, ...]:
    """A node's table cells; each capacity figure with where it came from (declared, detected, learned, assumed)."""
    platforms = ", ".join(p + ("*" if i < node.native else "") for i, p in enumerate(node.platforms))
    memory = f"{node.memory / 2**30:.1f}G" if node.memory else "?"
    return (node.name, node.source, node.builder or "-", node.endpoint or "-", node.status.partition(": ")[0] or "-",
            platforms or "-", node.host or "-", f"{node.slots} ({node.slots_source})",
            f"{memory} ({node.memory_source})", f"{node.speed:.2f} ({node.speed_source})",
            "yes" if node.excluded is None else "no")


def _node_lines(row: Sequence[str]) -> str:
    """One node as `name (source)` and indented `key: value` lines."""
    fields = dict(zip(_NODE_COLUMNS, row))
    lines = [f"{fields['node']} ({fields['source']})"]
    lines += [f"  {key}: {fields[key]}" for key in ("builder", "endpoint", "status", "platforms", "host")
              if fields[key] != "-"]
    lines.append(f"  slots: {fields['slots']}  memory: {fields['memory']}  speed: {fields['speed']}  used: {fields['used']}")
    return "\n".join(lines) + "\n"


def _host_notes(nodes: Sequence[Node]) -> str:
    """`host vm: bp-amd64, bp-arm64 share its 2 slots` for each host with several usable nodes."""
    by_host: dict[str, list[Node]] = {}
    for node in nodes:
        if node.excluded is None and node.host:
            by_host.setdefault(node.host, []).append(node)
    return "".join(f"host {host}: {', '.join(n.name for n in members)} share its "
                   f"{max(n.slots for n in members)} slots\n" for host, members in by_host.items() if len(members) > 1)


def _node_notes(node: Node) -> list[str]:
    """The long texts kept out of the table: a status's detail and why a node is left out."""
    notes = [f"{node.name}: {node.status}"] if ": " in node.status else []
    return notes + ([f"{node.name}: left out: {node.excluded}"] if node.excluded is not None else [])
