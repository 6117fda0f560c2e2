"""The generated GitLab pipeline's hand-over, run for real on buildkitd daemons and a registry.

Each job's script runs in a shell in job order (the shared `digests/` folder
stands for GitLab's artifacts), amd64 jobs on the amd64 daemon and arm64 ones
on the arm64 daemon. Once the parent legs are done their Dockerfiles are
deleted: a child leg that built its parent instead of reading it by digest
would fail. Default attestations are on, so pushes are indexes, as in CI.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakeplan.bake.model import BakeRequest
from bakeplan.emit import gitlab
from bakeplan.emit.build import CIRequest, ci_plan
from bakeplan.emit.legs import EmitOptions, runners_for
from tests.support import infra
from tests.support.ci import files_of
from tests.support.clusters import Cluster

pytestmark = [pytest.mark.buildkit, pytest.mark.slow]

BAKE = """
target "base" {
  context = "base"
  platforms = ["linux/amd64", "linux/arm64"]
}
target "tools" {
  context = "tools"
  platforms = ["linux/amd64"]
}
target "app" {
  context = "app"
  contexts = { base = "target:base", tools = "target:tools" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["%(registry)s/handoff-test/app:%(mark)s"]
}
"""
FILES = {
    "base/Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /base.txt\n",
    "base/amd64.txt": "base amd64 %(mark)s\n",
    "base/arm64.txt": "base arm64 %(mark)s\n",
    "tools/Dockerfile": "FROM scratch\nCOPY tools.txt /tools.txt\n",
    "tools/tools.txt": "tools %(mark)s\n",
    "app/Dockerfile": "FROM base\nCOPY --from=tools /tools.txt /tools.txt\n",
}


def pipeline(project: Path, handoff: str) -> dict[str, Any]:
    request = CIRequest(BakeRequest(names=("app",), files=("docker-bake.hcl",), cwd=project),
                        EmitOptions(runners_for("gitlab"), push=True, handoff=handoff))
    document = yaml.safe_load(gitlab.render(ci_plan(request)))
    assert isinstance(document, dict)
    return document


def run_job(project: Path, job: dict[str, Any], env: dict[str, str], builders: dict[str, str]) -> None:
    # Whole scripts as generated: BUILDX_BUILDER names the runner's builder, and jq is installed.
    script = "\n".join(job["script"])
    arch = next((a for a in builders if any(tag.endswith(a) for tag in job.get("tags", []))), "amd64")
    done = subprocess.run(["sh", "-ec", script], cwd=project, env={**env, "BUILDX_BUILDER": builders[arch]},
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"


def test_children_read_their_parents_by_digest_and_never_build_them(
    tmp_path: Path, buildkit_nodes: Cluster, node_builders: dict[str, str], registry: infra.Registry
) -> None:
    mark = str(time.time_ns())
    project = tmp_path / "project"
    for name, text in {"docker-bake.hcl": BAKE, **FILES}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text % {"registry": registry.host, "mark": mark})
    document = pipeline(project, f"{registry.host}/handoff-test/handoff")
    env = dict(buildkit_nodes.cli.env)
    env.pop("BUILDX_NO_DEFAULT_ATTESTATIONS", None)
    jobs = {name: job for name, job in document.items() if isinstance(job, dict) and "stage" in job}
    for stage in document["stages"]:
        for job in (job for job in jobs.values() if job["stage"] == stage):
            run_job(project, job, env, node_builders)
        if stage == "build-0":
            (project / "base" / "Dockerfile").unlink()
            (project / "tools" / "Dockerfile").unlink()
    for arch in ("amd64", "arm64"):
        files = files_of(registry, "handoff-test/app", mark, arch)
        # The child's own platform of base, and the single-platform tools on both.
        assert files == {"base.txt": f"base {arch} {mark}\n", "tools.txt": f"tools {mark}\n"}
