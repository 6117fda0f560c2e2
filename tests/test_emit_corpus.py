"""Real bake definitions with `target:` links (what real buildx printed for them) as CI plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from jsonschema import Draft7Validator

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.emit import github, gitlab
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import BakeCall, CIPlan
from bakeplan.emit.source import jobs_from_result

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"


def linked_cases() -> list[str]:
    """Corpus cases whose targets read other targets (`target:` contexts) and that buildx accepted."""
    index = CORPUS / "INDEX.tsv"
    if not index.exists():
        return []
    rows = [line.split("\t") for line in index.read_text().splitlines()[1:]]
    return [row[0] for row in rows if "target-context" in row[3] and (CORPUS / row[0] / "expected.json").exists()]


def printed_result(case: Path) -> BakeResult:
    """buildx's own `--print` output as the bake result."""
    document = json.loads((case / "expected.json").read_text())
    targets = {name: Target(name, fields) for name, fields in document["target"].items()}
    return BakeResult({}, targets, (case / "docker-bake.hcl",), ("default",))


def plan_for(result: BakeResult, system: str, limit: int) -> CIPlan:
    options = EmitOptions(runners_for(system), cache=parse_backend("gha"), push=True, limit=limit, handoff="ghcr.io/acme/handoff")
    return build_plan(jobs_from_result(result), BakeCall(files=("docker-bake.hcl",)), options)


@pytest.mark.parametrize("name", linked_cases())
def test_real_definitions_become_valid_layered_ci_plans(corpus_dir: Path, name: str) -> None:
    result = printed_result(corpus_dir / name)
    plan = plan_for(result, "github", github.MATRIX_LIMIT)
    legs = {leg.id: leg for leg in plan.legs}
    assert len(legs) == len(plan.legs) == sum(len(t.platforms) or 1 for t in result.targets.values())
    assert all(legs[need].layer < leg.layer for leg in plan.legs for need in leg.needs)
    # With a hand-over repository every parent is read by digest from a leg this one waits for, none rebuilt.
    assert not any(leg.rebuilt for leg in plan.legs)
    assert all(h.leg in leg.needs and legs[h.leg].digest for leg in plan.legs for h in leg.handoffs)
    linked = any(str(v).removeprefix("target:") in result.targets for t in result.targets.values()
                 for v in t.contexts.values() if str(v).startswith("target:"))
    assert (max(leg.layer for leg in plan.legs) > 0) == linked  # links between printed targets make layers
    workflow = yaml.safe_load(github.render_workflow(plan, ["bakeplan", "ci", "github"], install="bakeplan==0.1.0"))
    assert not list(Draft7Validator(get_builtin_schema("vendor.github-workflows")).iter_errors(workflow))
    pipeline = yaml.safe_load(gitlab.render(plan_for(result, "gitlab", gitlab.MATRIX_LIMIT)))
    assert not list(Draft7Validator(get_builtin_schema("vendor.gitlab-ci")).iter_errors(pipeline))
    assert plan_for(result, "github", github.MATRIX_LIMIT) == plan
