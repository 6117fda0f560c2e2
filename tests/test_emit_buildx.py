"""Every leg's exact `docker buildx bake` overrides, checked against real buildx (`--print`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.emit.commands import bake_argv
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import Invocation, Leg
from bakeplan.emit.source import jobs_from_result

pytestmark = pytest.mark.buildx

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
  tags = ["ghcr.io/acme/app:1", "docker.io/acme/app:1"]
  cache-from = ["type=registry,ref=ghcr.io/acme/app:cache"]
}
target "test" {
  context = "test"
  contexts = { app = "target:app" }
  platforms = ["linux/amd64", "linux/arm64"]
}
"""


def printed(buildx: Any, cwd: Path, argv: list[str]) -> dict[str, Any]:
    """Run `docker buildx bake ... --print` and return its JSON."""
    done = subprocess.run([*argv[:3], "--print", *argv[3:]], cwd=cwd, env=buildx.env, capture_output=True,
                          text=True, check=False, executable=buildx.docker)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    for name in ("base", "tools", "app", "test"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_each_leg_builds_its_platform_with_its_own_cache_and_pushes_by_digest(buildx: Any, project: Path) -> None:
    full = printed(buildx, project, ["docker", "buildx", "bake", "test"])
    result = BakeResult({}, {n: Target(n, f) for n, f in full["target"].items()}, (project / "docker-bake.hcl",), ("test",))
    options = EmitOptions(runners_for("github"), cache=parse_backend("registry:ghcr.io/acme/cache"), push=True)
    plan = build_plan(jobs_from_result(result), Invocation(files=("docker-bake.hcl",)), options)
    assert len(plan.legs) == 7
    for leg in plan.legs:
        check_leg(leg, printed(buildx, project, bake_argv(plan.invocation, leg))["target"])


def check_leg(leg: Leg, targets: dict[str, Any]) -> None:
    own = targets[leg.target]
    assert own["platforms"] == [leg.platform]
    ref = f"ghcr.io/acme/cache:{leg.target}-{leg.platform.replace('/', '-')}" if leg.platform else ""
    assert {"type": "registry", "ref": ref} in own["cache-from"]
    assert {"type": "registry", "ref": ref, "mode": "max"} in own["cache-to"]
    if leg.target == "app":
        # The bake file's own cache stays; the leg pushes by digest to every repository.
        assert {"type": "registry", "ref": "ghcr.io/acme/app:cache"} in own["cache-from"]
        assert own["output"] == [{"type": "image", "name": "ghcr.io/acme/app,docker.io/acme/app",
                                  "push-by-digest": "true", "name-canonical": "true", "push": "true"}]
    for name, parent in targets.items():
        if name != leg.target:
            # Parents are rebuilt in the same invocation: same platform, reading their own leg's cache.
            assert parent["platforms"] == (["linux/amd64"] if name == "tools" else [leg.platform])
            assert parent["output"] == [{"type": "cacheonly"}]
            assert not parent.get("cache-to")
            assert any(entry.get("ref", "").startswith(f"ghcr.io/acme/cache:{name}-") for entry in parent["cache-from"])
