"""Every leg's exact `docker buildx bake` overrides, checked against real buildx (`--print`).

Each test runs on the pinned buildx and on the oldest the README claims
(`each_buildx`): the overrides bakeplan emits must mean the same to both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.emit.commands import leg_invocation
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import BakeCall, CIPlan, Leg
from bakeplan.emit.source import jobs_from_result
from bakeplan.invocation import bake_argv
from tests.support.ci import printed

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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    for name in ("base", "tools", "app", "test"):
        (tmp_path / name).mkdir()
    return tmp_path


DIGEST = "sha256:" + "ab" * 32


def plan_for(buildx: Any, project: Path, **options: Any) -> CIPlan:
    """The CI plan of `app` and `test` as real buildx resolves them (base and tools are linked only)."""
    full = printed(buildx, project, ["docker", "buildx", "bake", "app", "test"])
    result = BakeResult({}, {n: Target(n, f) for n, f in full["target"].items()}, (project / "docker-bake.hcl",),
                        ("app", "test"))
    emit = EmitOptions(runners_for("github"), cache=parse_backend("registry:ghcr.io/acme/cache"), **options)
    return build_plan(jobs_from_result(result), BakeCall(files=("docker-bake.hcl",)), emit)


def leg_print(buildx: Any, project: Path, plan: CIPlan, leg: Leg) -> dict[str, Any]:
    """The targets a leg's own argv resolves to (`--metadata-file` is parsed; `--print` writes no metadata)."""
    argv = list(bake_argv(leg_invocation(plan.call, leg, digest=lambda h: DIGEST, metadata_file="metadata.json")))
    targets = printed(buildx, project, argv)["target"]
    assert isinstance(targets, dict)
    return targets


def test_each_leg_builds_its_platform_with_its_own_cache_and_rebuilds_parents_without_a_registry(
    each_buildx: Any, project: Path
) -> None:
    plan = plan_for(each_buildx, project)
    assert len(plan.legs) == 7
    for leg in plan.legs:
        targets = leg_print(each_buildx, project, plan, leg)
        check_own(leg, targets[leg.target])
        assert sorted(targets) == sorted([leg.target, *leg.rebuilt])
        for name in leg.rebuilt:
            # Parents are rebuilt in the same invocation: same platform, reading their own leg's cache.
            parent = targets[name]
            assert parent["platforms"] == (["linux/amd64"] if name == "tools" else [leg.platform])
            assert parent["output"] == [{"type": "cacheonly"}]
            assert not parent.get("cache-to")
            assert any(entry.get("ref", "").startswith(f"ghcr.io/acme/cache:{name}-") for entry in parent["cache-from"])


def test_with_a_registry_each_leg_reads_its_direct_parents_by_digest_and_builds_nothing_else(
    each_buildx: Any, project: Path
) -> None:
    plan = plan_for(each_buildx, project, push=True, handoff="ghcr.io/acme/handoff")
    for leg in plan.legs:
        targets = leg_print(each_buildx, project, plan, leg)
        check_own(leg, targets[leg.target])
        assert list(targets) == [leg.target]  # buildx builds no parent in this leg
        contexts = targets[leg.target].get("contexts", {})
        assert {k: v for k, v in contexts.items() if not v.startswith("docker-image://")} == {}
        assert contexts == {h.context: f"docker-image://{h.repository}@{DIGEST}" for h in leg.handoffs}
        if leg.target in {"base", "tools"}:  # linked only: pushed to the hand-over repository and nowhere else
            assert targets[leg.target]["output"] == [{"type": "image", "name": "ghcr.io/acme/handoff", "push-by-digest": "true",
                                                      "name-canonical": "true", "push": "true"}]
    legs = {leg.id: leg for leg in plan.legs}
    assert [(h.context, h.repository) for h in legs["test-linux-arm64"].handoffs] == [("app", "ghcr.io/acme/app")]
    assert [h.repository for h in legs["app-linux-arm64"].handoffs] == ["ghcr.io/acme/handoff"] * 2  # linked only
    assert legs["app-linux-arm64"].merge and legs["tools-linux-amd64"].manifest


def check_own(leg: Leg, own: dict[str, Any]) -> None:
    assert own["platforms"] == [leg.platform]
    ref = f"ghcr.io/acme/cache:{leg.target}-{leg.platform.replace('/', '-')}" if leg.platform else ""
    assert {"type": "registry", "ref": ref} in own["cache-from"]
    assert {"type": "registry", "ref": ref, "mode": "max"} in own["cache-to"]
    if leg.target == "app":
        # The bake file's own cache stays.
        assert {"type": "registry", "ref": "ghcr.io/acme/app:cache"} in own["cache-from"]
    if leg.merge:
        # Pushed by digest to every repository, untagged (buildx would name the push after the tags).
        assert own["output"] == [{"type": "image", "name": "ghcr.io/acme/app,docker.io/acme/app",
                                  "push-by-digest": "true", "name-canonical": "true", "push": "true"}]
        assert not own.get("tags")


def test_a_users_platform_and_output_sets_leave_each_leg_one_platform_and_its_own_folder(each_buildx: Any, project: Path) -> None:
    sets = ("*.platform=linux/amd64,linux/arm64", "*.output=type=local,dest=out")
    argv = ["docker", "buildx", "bake", *(x for item in sets for x in ("--set", item)), "base"]
    full = printed(each_buildx, project, argv)
    result = BakeResult({}, {n: Target(n, f) for n, f in full["target"].items()}, (project / "docker-bake.hcl",), ("base",))
    plan = build_plan(jobs_from_result(result), BakeCall(files=("docker-bake.hcl",), sets=sets), EmitOptions(runners_for("github")))
    assert [leg.platform for leg in plan.legs] == ["linux/amd64", "linux/arm64"]
    for leg in plan.legs:
        own = leg_print(each_buildx, project, plan, leg)["base"]
        # buildx collects every `platform=`/`output=` given: a repeated user set would build both here.
        assert own["platforms"] == [leg.platform]
        assert own["output"] == [{"type": "local", "dest": f"out/{leg.platform.replace('/', '_')}"}]
