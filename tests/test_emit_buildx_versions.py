"""The legs `bakeplan ci` emits for real projects, run through the oldest buildx the README claims and the pinned one.

Every leg's `docker buildx bake` argv (what GitLab and Jenkins jobs run, and
the `set` list docker/bake-action passes on GitHub) goes through `--print`
on each buildx (`each_buildx`): it must be accepted, and the printed
definition must carry bakeplan's overrides: one platform, the leg's outputs
and tags, its cache entries added after the bake file's own (`+=`) or in
their place (`--cache-replace`), parents read by digest instead of rebuilt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.cache import parse_backend
from bakeplan.emit.build import CIRequest, ci_plan
from bakeplan.emit.commands import leg_invocation
from bakeplan.emit.legs import EmitOptions, parse_handoff, runners_for
from bakeplan.emit.model import CIPlan, Leg
from bakeplan.invocation import TargetSettings, bake_argv
from bakeplan.outputs import parse_entry
from tests.support.ci import printed
from tests.support.tools import ROOT, SHARED, pinned_versions

pytestmark = pytest.mark.buildx

DIGEST = "sha256:" + "cd" * 32
CACHE = "registry:ghcr.io/acme/cache"

# The example matrices, and corpus cases with their own cache entries (temporalio),
# two bake files with local outputs and single-platform pushes (storj), both linking targets.
PROJECTS = {
    "services": ROOT / "matrices" / "services",
    "go-cross": ROOT / "matrices" / "go-cross",
    "app-image": ROOT / "matrices" / "app-image",
    "temporalio": SHARED / "corpus" / "bake" / "temporalio__docker-builds",
    "storj": SHARED / "corpus" / "bake" / "storj__storj",
}

# `bakeplan ci` options, as EmitOptions.
VARIANTS = {
    "cache": lambda: EmitOptions(runners_for("gitlab"), parse_backend(CACHE, scope="ci", fallbacks=["main"])),
    "push": lambda: EmitOptions(runners_for("github"), parse_backend(CACHE), push=True),
    "handoff": lambda: EmitOptions(runners_for("jenkins"), parse_backend(CACHE),
                                   handoff=parse_handoff("registry:ghcr.io/acme/handoff")),
    "replace": lambda: EmitOptions(runners_for("gitlab"), parse_backend(CACHE, replace=True), push=True),
}


def ci_plan_of(directory: Path, variant: str) -> CIPlan:
    """What `bakeplan ci` plans in `directory` (a corpus case: with its CASE.json files and targets)."""
    if not directory.is_dir():
        pytest.skip(f"{directory} is absent")
    case = directory / "CASE.json"
    spec = json.loads(case.read_text()) if case.exists() else {}
    assert not spec.get("env"), "a case that needs environment variables would need them in every leg too"
    files = tuple(spec["files"]) if "files" in spec else None
    bake = BakeRequest(names=tuple(spec.get("targets", ())), files=files, env={}, cwd=directory)
    return ci_plan(CIRequest(bake, VARIANTS[variant](), workdir="."))


def entries(raw: Any) -> list[dict[str, str]]:
    """Printed (or `--set`) output and cache entries as key/value entries."""
    return [parse_entry(item) for item in raw or ()]


def check_settings(settings: TargetSettings, printed_target: dict[str, Any], own: dict[str, Any], leg: Leg) -> None:
    """One target of a leg, as buildx printed it, against what bakeplan set (`own`: the target without overrides)."""
    where = f"{leg.id}: {settings.name}"
    if settings.platform is not None:
        assert printed_target["platforms"] == [settings.platform], where
    if settings.outputs is not None:
        assert entries(printed_target.get("output")) == entries(settings.outputs or ("type=cacheonly",)), where
    if settings.tags is not None:
        assert printed_target.get("tags", []) == [tag for tag in settings.tags if tag], where
    for key, ours in (("cache-from", settings.cache_from), ("cache-to", settings.cache_to)):
        kept = [] if settings.cache_replace and ours else entries(own.get(key))
        assert entries(printed_target.get(key)) == kept + entries(ours), f"{where} {key}"
    for name, value in settings.contexts:
        assert printed_target["contexts"][name] == value, where


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_every_leg_means_on_this_buildx_what_bakeplan_set(each_buildx: Any, project: str, variant: str) -> None:
    directory = PROJECTS[project]
    plan = ci_plan_of(directory, variant)
    assert plan.legs
    names = sorted({leg.target for leg in plan.legs})
    plain = ["docker", "buildx", "bake", *(x for f in plan.call.files for x in ("-f", f)),
             *(x for item in plan.call.sets for x in ("--set", item)), *names]
    unset = printed(each_buildx, directory, plain)["target"]  # the definition without bakeplan's sets
    for leg in plan.legs:
        invocation = leg_invocation(plan.call, leg, digest=lambda h: DIGEST, metadata_file="metadata.json")
        targets = printed(each_buildx, directory, list(bake_argv(invocation)))["target"]
        # Parents read by digest are not built in this leg; the others are rebuilt in it.
        assert sorted(targets) == sorted([leg.target, *leg.rebuilt]), leg.id
        for settings in invocation.settings:
            check_settings(settings, targets[settings.name], unset[settings.name], leg)
        for handoff in leg.handoffs:
            assert targets[leg.target]["contexts"][handoff.context] == f"docker-image://{handoff.repository}@{DIGEST}"


def test_the_projects_use_every_kind_of_override_bakeplan_emits() -> None:
    plans = [ci_plan_of(PROJECTS[project], variant) for project in sorted(PROJECTS) for variant in sorted(VARIANTS)]
    legs = [leg for plan in plans for leg in plan.legs]
    keys = {item.split("=", 1)[0].split(".", 1)[1] for leg in legs for item in leg.overrides}
    assert {"platform", "output", "tags", "cache-from+", "cache-to+", "cache-from", "cache-to"} <= keys
    assert any(leg.handoffs for leg in legs) and any(leg.rebuilt for leg in legs) and any(leg.merge for leg in legs)
    outputs = {parse_entry(item.split("=", 1)[1]).get("type") for leg in legs for item in leg.overrides if ".output=" in item}
    assert {"image", "registry", "local", "cacheonly"} <= outputs


def test_the_oldest_buildx_tested_is_the_one_the_readme_claims() -> None:
    claimed = re.search(r"its buildx, ≥ (\d+\.\d+),", (ROOT / "README.md").read_text())
    assert claimed is not None, "README: the CI section names the oldest buildx that applies the overrides"
    assert pinned_versions()["BUILDX_OLDEST_VERSION"] == f"v{claimed.group(1)}.0"
