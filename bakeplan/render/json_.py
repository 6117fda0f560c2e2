"""`bakeplan plan --format json`: a stable, documented schema for other tools and CI.

Schema version 1 (keys never change meaning; new keys may be added)::

    {
      "version": 1,
      "files": ["docker-bake.hcl"],            # bake files, in load order
      "nodes": [{
        "name": "amd", "builder": "amd" | null, "endpoint": "...",
        "platforms": ["linux/amd64"],           # native first
        "slots": 2, "memory": 8589934592 | null,
        "source": "declared" | "buildx" | "local",
        "status": "running", "excluded": null | "why it is left out"
      }],
      "jobs": [{                                # printed order, then platform order
        "id": "app@linux/arm64", "target": "app", "block": "app",
        "platform": "linux/arm64" | null,       # null: the node's own platform
        "built_platform": "linux/arm64" | null, # what it builds on its node
        "matrix": {"goarch": "arm64"},
        "deps": ["base@linux/arm64"],           # job ids it reads via target: contexts
        "unit": "app@linux/arm64",
        "node": "arm", "start": 0.0, "end": 60.0, # estimated seconds from plan start
        "critical": true,
        "argv": ["docker", "buildx", "bake", ...]  # its unit's exact invocation
      }],
      "units": [{"id": ..., "jobs": [...], "targets": [...], "node": ..., "start": ..., "end": ...,
                 "placement": "exact" | "compatible" | "emulated", "argv": [...]}],
      "makespan": 120.0,
      "lower_bound": {"value": 110.0, "critical_path": 110.0, "work": 60.0,
                      "classes": [{"nodes": "arm", "value": 90.0}]},
      "ratio": 1.09,
      "critical_path": ["base@native", "app@linux/amd64"]
    }

Times are rounded to milliseconds so the output is byte-for-byte stable.
"""

from __future__ import annotations

import json
from typing import Any

from bakeplan.nodes import RANK_NAMES, Node
from bakeplan.plan import Plan

SCHEMA_VERSION = 1


def _t(value: float) -> float:
    return round(value, 3)


def node_data(node: Node) -> dict[str, Any]:
    """One node as JSON data."""
    return {
        "name": node.name, "builder": node.builder, "endpoint": node.endpoint,
        "platforms": list(node.platforms), "slots": node.slots, "memory": node.memory,
        "source": node.source, "status": node.status, "excluded": node.excluded,
    }


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-compatible data (schema above)."""
    argv = {unit.id: list(plan.argv(unit.id)) for unit in plan.units}
    jobs = []
    for job in plan.jobs:
        timing = plan.timings[job.id]
        jobs.append({
            "id": job.id, "target": job.target, "block": job.block, "platform": job.platform,
            "built_platform": timing.platform, "matrix": dict(job.matrix), "deps": list(job.deps),
            "unit": job.unit, "node": timing.node, "start": _t(timing.start), "end": _t(timing.end),
            "critical": timing.critical, "argv": argv[job.unit],
        })
    units = [{
        "id": unit.id, "jobs": list(unit.jobs), "targets": list(unit.targets),
        "node": plan.placements[unit.id].node, "start": _t(plan.placements[unit.id].start),
        "end": _t(plan.placements[unit.id].end), "placement": RANK_NAMES[plan.placements[unit.id].rank],
        "argv": argv[unit.id],
    } for unit in plan.units]
    bound = plan.lower_bound
    return {
        "version": SCHEMA_VERSION,
        "files": list(plan.files),
        "nodes": [node_data(n) for n in plan.nodes],
        "jobs": jobs,
        "units": units,
        "makespan": _t(plan.makespan),
        "lower_bound": {
            "value": _t(bound.value), "critical_path": _t(bound.critical_path), "work": _t(bound.work),
            "classes": [{"nodes": name, "value": _t(v)} for name, v in bound.classes],
        },
        "ratio": round(plan.ratio, 4),
        "critical_path": list(plan.critical_path),
    }


def render(plan: Plan) -> str:
    """The plan as indented JSON text."""
    return json.dumps(plan_data(plan), indent=2, ensure_ascii=False) + "\n"
