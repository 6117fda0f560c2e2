"""`bakeplan plan --format json`: a stable, documented schema for other tools and CI.

Schema version 3 (keys never change meaning; new keys may be added; version 1
had linked components as `units` and each job's `unit`; version 2 had
`rebuilds`, gone now that platform-less targets build the builder's default
platform wherever they run)::

    {
      "version": 3,
      "files": ["docker-bake.hcl"],            # bake files, in load order
      "nodes": [{
        "name": "amd", "builder": "amd" | null, "endpoint": "...",
        "platforms": ["linux/amd64"],           # native first
        "slots": 2, "memory": 8589934592 | null,
        "source": "declared" | "buildx" | "local",
        "status": "running", "excluded": null | "why it is left out",
        "host": "build-1" | "",                 # nodes naming one host share its slots
        "speed": 1.0,                           # 0.625: jobs take 1.6 times as long there
        "slots_source": "declared" | "detected" | "assumed",   # where each figure came from
        "memory_source": "declared" | "detected" | "assumed",
        "speed_source": "learned" | "assumed"
      }],
      "jobs": [{                                # printed order, then platform order
        "id": "app@linux/arm64", "target": "app", "block": "app",
        "platform": "linux/arm64" | null,       # null: the node's own platform
        "default_platform": false,              # true: no platforms, the builder's default set explicitly
        "built_platform": "linux/arm64" | null, # what it builds on its node
        "runs_on": ["linux/arm64"],             # platforms its node must run ([]: any node, cross-compiles)
        "reason": "Dockerfile:12: RUN in stage 'final' runs on the target platform; needs linux/arm64: natively on arm",
        "matrix": {"goarch": "arm64"},
        "deps": ["base@linux/arm64"],           # job ids it reads via target: contexts
        "node": "arm", "start": 0.0, "end": 60.0, # estimated seconds from plan start
        "placement": "exact" | "compatible" | "emulated",
        "critical": true,
        "argv": ["docker", "buildx", "bake", ...]  # the job's exact invocation on its node
      }],
      "handovers": [{                           # a job's invocation reading, by digest, a parent
        "child": "app@linux/arm64",             # (or an ancestor reached through parents it
        "parent": "base@linux/amd64",           # re-solves) built on another node
        "source": "amd", "dest": "arm",         # the parent's node, the child's node
        "seconds": 4.0                          # estimated import time, inside the child's span
      }],                                       # in job order, then the order the child reaches them
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

from bakeplan.jobs import Job
from bakeplan.nodes import Node
from bakeplan.plan import Handover, Plan
from bakeplan.platforms import RANK_NAMES

SCHEMA_VERSION = 3


def _t(value: float) -> float:
    return round(value, 3)


def node_data(node: Node) -> dict[str, Any]:
    """One node as JSON data."""
    return {
        "name": node.name, "builder": node.builder, "endpoint": node.endpoint,
        "platforms": list(node.platforms), "slots": node.slots, "memory": node.memory,
        "source": node.source, "status": node.status, "excluded": node.excluded,
        "host": node.host, "speed": node.speed, "slots_source": node.slots_source,
        "memory_source": node.memory_source, "speed_source": node.speed_source,
    }


def job_data(plan: Plan, job: Job) -> dict[str, Any]:
    """One job as JSON data: what it builds, where and when, and its exact argv."""
    timing = plan.timings[job.id]
    return {
        "id": job.id, "target": job.target, "block": job.block, "platform": job.platform,
        "default_platform": job.default, "built_platform": timing.platform,
        "runs_on": [p for p in job.node_platforms if p is not None], "reason": plan.reasons.get(job.id, ""),
        "matrix": dict(job.matrix), "deps": list(job.deps),
        "node": timing.node, "start": _t(timing.start), "end": _t(timing.end),
        "placement": RANK_NAMES[timing.rank], "critical": timing.critical, "argv": list(plan.argv(job.id)),
    }


def handover_data(handover: Handover) -> dict[str, Any]:
    """One hand-over as JSON data."""
    return {"child": handover.child, "parent": handover.parent, "source": handover.source,
            "dest": handover.dest, "seconds": _t(handover.seconds)}


def plan_data(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-compatible data (schema above)."""
    bound = plan.lower_bound
    return {
        "version": SCHEMA_VERSION,
        "files": list(plan.files),
        "nodes": [node_data(n) for n in plan.nodes],
        "jobs": [job_data(plan, job) for job in plan.jobs],
        "handovers": [handover_data(h) for h in plan.handovers],
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
