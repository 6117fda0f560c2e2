"""`bakeplan plan --format dot`: the job graph for Graphviz, clustered by node.

A `target:` link is an edge parent -> child. On one node the child re-solves
its parent from that node's cache (a plain edge); across nodes it reads the
parent's result by digest, a hand-over, drawn dashed and labelled with its
estimated seconds.
"""

from __future__ import annotations

import json

from bakeplan.plan import Handover, Plan


def _q(text: str) -> str:
    """A dot string literal (JSON escaping is valid dot escaping for these characters)."""
    return json.dumps(text)


def render(plan: Plan) -> str:
    """Jobs as nodes grouped in one cluster per builder node, `target:` links as edges, hand-overs dashed."""
    lines = ["digraph bakeplan {", "  rankdir=LR;", "  node [shape=box, fontname=\"monospace\"];"]
    used = [n.name for n in plan.nodes if any(t.node == n.name for t in plan.timings.values())]
    for index, name in enumerate(used):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_q(name)};")
        for job in plan.jobs:
            timing = plan.timings[job.id]
            if timing.node == name:
                style = ", style=bold, color=red" if timing.critical else ""
                label = f"{job.id}\\n{timing.start:.0f}s-{timing.end:.0f}s"
                lines.append(f"    {_q(job.id)} [label=\"{_escape(label)}\"{style}];")
        lines.append("  }")
    handovers = {(h.parent, h.child): h for h in plan.handovers}
    into: dict[str, list[Handover]] = {}
    for handover in handovers.values():
        into.setdefault(handover.child, []).append(handover)
    for job in plan.jobs:
        direct = dict.fromkeys(d for d in job.deps if d in plan.timings)
        for dep in direct:
            lines.append(f"  {_q(dep)} -> {_q(job.id)}{_edge_style(handovers.get((dep, job.id)))};")
        for handover in into.get(job.id, ()):  # an ancestor read through a re-solved parent
            parent = handover.parent
            if parent not in direct:
                lines.append(f"  {_q(parent)} -> {_q(job.id)}{_edge_style(handover)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge_style(handover: Handover | None) -> str:
    """Nothing for a link on one node; dashed, blue and labelled for a hand-over between nodes."""
    if handover is None:
        return ""
    return f" [style=dashed, color=blue, label={_q(f'hand-over {round(handover.seconds, 1):g}s')}]"


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
