"""`bakeplan plan --format mermaid`: the job graph as a Mermaid flowchart, one subgraph per node.

A `target:` link is an arrow parent --> child; a hand-over (the child on
another node reads the parent's result by digest) is a dotted arrow labelled
with its estimated seconds.
"""

from __future__ import annotations

from bakeplan.plan import Handover, Plan


def render(plan: Plan) -> str:
    """A `flowchart LR` with jobs grouped by node, `target:` links as arrows, hand-overs dotted, the critical path styled."""
    ids = {job.id: f"j{i}" for i, job in enumerate(plan.jobs)}
    lines = ["flowchart LR"]
    used = [n.name for n in plan.nodes if any(t.node == n.name for t in plan.timings.values())]
    for index, name in enumerate(used):
        lines.append(f"  subgraph n{index}[\"{_text(name)}\"]")
        for job in plan.jobs:
            timing = plan.timings[job.id]
            if timing.node == name:
                lines.append(f"    {ids[job.id]}[\"{_text(job.id)}<br/>{timing.start:.0f}s-{timing.end:.0f}s\"]")
        lines.append("  end")
    handovers = {(h.parent, h.child): h for h in plan.handovers}
    into: dict[str, list[Handover]] = {}
    for handover in handovers.values():
        into.setdefault(handover.child, []).append(handover)
    for job in plan.jobs:
        direct = dict.fromkeys(d for d in job.deps if d in ids)
        for dep in direct:
            lines.append(f"  {ids[dep]} {_arrow(handovers.get((dep, job.id)))} {ids[job.id]}")
        for handover in into.get(job.id, ()):  # an ancestor read through a re-solved parent
            parent = handover.parent
            if parent not in direct:
                lines.append(f"  {ids[parent]} {_arrow(handover)} {ids[job.id]}")
    critical = [ids[j] for j in plan.critical_path]
    if critical:
        lines.append("  classDef critical stroke:#d00,stroke-width:3px")
        lines.append(f"  class {','.join(critical)} critical")
    return "\n".join(lines) + "\n"


def _arrow(handover: Handover | None) -> str:
    """A solid arrow for a link on one node; a dotted, labelled one for a hand-over between nodes."""
    if handover is None:
        return "-->"
    return f"-.->|\"hand-over {round(handover.seconds, 1):g}s\"|"


def _text(text: str) -> str:
    """Mermaid label text: quotes would end the label, so use the HTML entity."""
    return text.replace('"', "#quot;")
