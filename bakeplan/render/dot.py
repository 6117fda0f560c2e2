"""`bakeplan plan --format dot`: the job graph for Graphviz, clustered by node."""

from __future__ import annotations

import json

from bakeplan.plan import Plan


def _q(text: str) -> str:
    """A dot string literal (JSON escaping is valid dot escaping for these characters)."""
    return json.dumps(text)


def render(plan: Plan) -> str:
    """Jobs as nodes grouped in one cluster per builder node, `target:` links as edges."""
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
    for job in plan.jobs:
        for dep in job.deps:
            lines.append(f"  {_q(dep)} -> {_q(job.id)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
