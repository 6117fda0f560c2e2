"""GitHub Actions: `strategy.matrix` JSON, `$GITHUB_OUTPUT`, and a complete workflow.

A matrix row carries what docker/bake-action needs (`targets`, `set`) plus the
runner label, a display name and the matrix values. A plan with more than one
chunk (several layers, or more than 256 legs in a layer) prints every chunk;
its `$GITHUB_OUTPUT` has one `matrix_<layer>_<chunk>` per chunk, so the
generated workflow keeps one job per chunk whatever `--since` leaves out.

Digests travel as artifacts: a leg with `digest` saves its pushed digest as
`digest-<leg>` (`$RUNNER_TEMP/digests/TARGET/LEG`); the merge job downloads
them all. A leg reading parents by digest downloads the artifacts its
`parents` pattern names, and its `handoff` lines (`TARGET/LEG PREFIX`) become
`PREFIX<digest>` `--set`s (`CHILD.contexts.NAME=docker-image://REPO@`) added
to `set` before the bake.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bakeplan.emit import yamldoc
from bakeplan.emit.commands import MANIFEST_FILTER, generated_line, omitted_lines, rebuild_lines
from bakeplan.emit.install import install_command
from bakeplan.emit.model import Chunk, CIPlan, Handoff, Leg
from bakeplan.errors import BakeplanError

MATRIX_LIMIT = 256  # GitHub: "A matrix can generate a maximum of 256 jobs per workflow run."
OUTPUTS_LIMIT = 1024 * 1024  # GitHub: a job's outputs are at most 1 MB in all
LEGS_ARTIFACT = "bakeplan-legs"  # the rows' `set` and `handoff` when the outputs would exceed that
LEGS_FILE = "legs.json"
PLAN_RUNNER = "ubuntu-24.04"
ACTIONS = {
    "checkout": "actions/checkout@v4",
    "python": "actions/setup-python@v5",
    "qemu": "docker/setup-qemu-action@v3",
    "buildx": "docker/setup-buildx-action@v3",
    "bake": "docker/bake-action@v6",
    "login": "docker/login-action@v3",
    "upload": "actions/upload-artifact@v4",
    "download": "actions/download-artifact@v4",
}


def row(leg: Leg) -> dict[str, Any]:
    """One `include` entry: everything a matrix job needs, as plain JSON."""
    return {
        "id": leg.id,
        "name": leg.name,
        "target": leg.target,
        "platform": leg.platform or "",
        "runner": leg.runner,
        "qemu": leg.emulated,
        "merge": leg.merge,
        "digest": leg.digest,
        "manifest": leg.manifest,
        "repository": leg.repository,
        "values": dict(leg.values),
        "set": "\n".join(leg.overrides),
        "parents": artifact_pattern(h.leg for h in leg.handoffs),
        "handoff": "\n".join(dict.fromkeys(handoff_line(h) for h in leg.handoffs)),
        "spill": False,  # true: `set` and `handoff` are in the plan job's legs artifact
    }


def artifact_pattern(legs: Iterable[str]) -> str:
    """The download-artifact pattern (minimatch) naming the digest artifacts of these legs, or ""."""
    names = list(dict.fromkeys(legs))
    if len(names) <= 1:
        return "".join(f"digest-{name}" for name in names)
    return "digest-{" + ",".join(names) + "}"  # `{a}` alone would not expand: one name stays plain


def handoff_line(handoff: Handoff) -> str:
    """`PARENT/LEG TARGET.contexts.NAME=docker-image://REPO@`: a digest file and the `--set` it completes."""
    return f"{handoff.parent}/{handoff.leg} {handoff.target}.contexts.{handoff.context}=docker-image://{handoff.repository}@"


def matrix(chunk: Chunk) -> dict[str, Any]:
    """A chunk's `strategy.matrix` value."""
    return {"include": [row(leg) for leg in chunk.legs]}


def output_name(chunk: Chunk, what: str = "matrix") -> str:
    """The `$GITHUB_OUTPUT` name of a chunk's matrix (or its leg count)."""
    return f"{what}_{chunk.layer}_{chunk.index}"


def render_matrix(plan: CIPlan) -> str:
    """`{"include": [...]}` for a single chunk, else every chunk with its needs."""
    if len(plan.chunks) == 1:
        return _json(matrix(plan.chunks[0]))
    if not plan.chunks:
        # Nothing to build: the same shape as one matrix, as `--since` prints when nothing changed.
        return _json({"include": []})
    chunks = [
        {"id": c.id, "layer": c.layer, "needs": list(c.needs), **matrix(c)} for c in plan.chunks
    ]
    return _json({"matrices": chunks})


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def outputs(plan: CIPlan, *, limit: int = OUTPUTS_LIMIT) -> dict[str, str]:
    """The step outputs: one compact matrix and count per chunk, `matrix` for one chunk, omissions.

    Over GitHub's 1 MB of outputs per job, the rows' `set` and `handoff` (the
    bulk of them) go to the legs artifact instead (`spill` is "true", see
    `spilled_legs`); when even that is too much, the plan fails loudly.
    """
    values = _outputs(plan, spill=False)
    if _size(values) <= limit:
        return values
    values = _outputs(plan, spill=True)
    if _size(values) > limit:
        raise BakeplanError(
            f"the plan's {len(plan.legs)} legs need {_size(values)} bytes of job outputs even without their overrides; "
            f"GitHub allows {limit}",
            hint="Split the plan into several workflows with --only/--exclude.",
        )
    return values


def _outputs(plan: CIPlan, *, spill: bool) -> dict[str, str]:
    values: dict[str, str] = {}
    for chunk in plan.chunks:
        rows = matrix(chunk)
        if spill:
            rows["include"] = [{**r, "set": "", "handoff": "", "spill": True} for r in rows["include"]]
        values[output_name(chunk)] = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
        values[output_name(chunk, "count")] = str(len(chunk.legs))
    if len(plan.chunks) == 1:
        values["matrix"] = values[output_name(plan.chunks[0])]
    elif not plan.chunks:
        values["matrix"] = json.dumps({"include": []}, separators=(",", ":"))
    values["merges"] = merges_output(plan)
    values["omitted"] = json.dumps([{"job": o.job, "reason": o.reason} for o in plan.omitted], separators=(",", ":"))
    values["spill"] = "true" if spill else "false"
    return values


def _size(values: Mapping[str, str]) -> int:
    return sum(len(name) + len(value.encode()) for name, value in values.items())


def spilled_legs(plan: CIPlan) -> str:
    """The legs artifact's file: each leg id -> its row's `set` and `handoff`."""
    legs = {r["id"]: {"set": r["set"], "handoff": r["handoff"]} for c in plan.chunks for r in matrix(c)["include"]}
    return json.dumps(legs, separators=(",", ":"), ensure_ascii=False) + "\n"


def github_output_text(values: Mapping[str, str]) -> str:
    """`$GITHUB_OUTPUT` lines: `name<<DELIM` blocks, with a delimiter absent from the value."""
    parts = []
    for name, value in values.items():
        delimiter = _delimiter(value)
        parts.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(parts)


def _delimiter(value: str) -> str:
    # Deterministic (derived from the value) and never a line of it.
    seed = hashlib.sha256(value.encode()).hexdigest()
    delimiter = f"ghadelimiter_{seed[:20]}"
    while delimiter in value.splitlines():
        delimiter += "_"
    return delimiter


def step_summary(plan: CIPlan) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`: the chunks and what was left out."""
    lines = ["### bakeplan", "", f"{len(plan.legs)} legs in {len(plan.chunks)} matrices", ""]
    lines += [f"- `{c.id}`: {len(c.legs)} legs" for c in plan.chunks]
    notes = [*omitted_lines(plan.omitted), *rebuild_lines(plan)]
    lines += ["", *(f"- {line}" for line in notes)] if notes else []
    return "\n".join(lines) + "\n"


def check_merges(plan: CIPlan) -> None:
    """Fail when the plan now merges manifests but the generated workflow has no merge job."""
    if plan.merges:
        raise BakeplanError(
            f"the plan now merges multi-platform manifests ({', '.join(m.target for m in plan.merges)}) "
            "but the workflow has no merge job",
            hint="The bake files changed shape: regenerate the workflow with `bakeplan ci github --workflow`.",
        )


def check_chunks(plan: CIPlan, expected: Sequence[str]) -> None:
    """Fail when the plan's matrix jobs are not the ones a generated workflow was written for."""
    found = [chunk.id for chunk in plan.chunks]
    if found != list(expected):
        raise BakeplanError(
            f"the workflow has matrix jobs {', '.join(expected)} but the plan now needs {', '.join(found)}",
            hint="The bake files changed shape: regenerate the workflow with `bakeplan ci github --workflow`.",
        )


def render_workflow(
    plan: CIPlan, plan_argv: Sequence[str], *, install: str, login: str | None = None, command: str = ""
) -> str:
    """A complete workflow: plan job, one matrix job per chunk, and the merge job.

    `install` is the pinned source the plan job installs bakeplan from (see
    `emit.install`). Runs of one ref queue behind each other (`concurrency`),
    so an older run never re-points a tag after a newer one; only the jobs
    that push get `packages: write`.
    """
    writes = _permissions(plan, login)
    jobs: dict[str, Any] = {"plan": _plan_job(plan, plan_argv, install)}
    for chunk in plan.chunks:
        jobs[chunk.id] = {**_build_job(plan, chunk, login), **writes}
    if plan.merges:
        jobs["merge"] = {**_merge_job(plan, login), **writes}
    document = {
        "name": "bake",
        "on": {"push": {}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "bake-${{ github.ref }}", "cancel-in-progress": False},
        "jobs": jobs,
    }
    header = "".join(f"# {line}\n" for line in (generated_line(command), *rebuild_lines(plan)))
    return header + yamldoc.dump(document)


def _permissions(plan: CIPlan, login: str | None) -> dict[str, Any]:
    """`packages: write` for the jobs that may push to GitHub's registry with the job token, nothing more."""
    pushes = plan.registry or bool(plan.merges) or any(leg.digest for leg in plan.legs)
    if login == "ghcr.io" or (pushes and login is None):  # no login: pushes can only use the job token
        return {"permissions": {"contents": "read", "packages": "write"}}
    return {}


def _workdir(plan: CIPlan) -> dict[str, str]:
    """`working-directory` for a `run` step: where `bakeplan ci` ran, from the repository root."""
    return {"working-directory": plan.call.workdir} if plan.call.workdir != "." else {}


def _plan_job(plan: CIPlan, plan_argv: Sequence[str], install: str) -> dict[str, Any]:
    names = [output_name(c, what) for c in plan.chunks for what in ("matrix", "count")]
    names += ["merges"] if plan.merges else []
    names += ["spill"]
    checkout: dict[str, Any] = {"uses": ACTIONS["checkout"]}
    if "--since" in plan_argv:
        checkout["with"] = {"fetch-depth": 0}  # --since diffs against history
    return {
        "runs-on": PLAN_RUNNER,
        "outputs": {name: f"${{{{ steps.plan.outputs.{name} }}}}" for name in names},
        "steps": [
            checkout,
            {"uses": ACTIONS["python"], "with": {"python-version": "3.12"}},
            {"name": "Install bakeplan", "run": install_command(install)},
            {"name": "Plan", "id": "plan", **_workdir(plan), "run": shlex.join(plan_argv)},
            {
                "name": "Upload leg overrides",
                "if": "steps.plan.outputs.spill == 'true'",
                "uses": ACTIONS["upload"],
                "with": {"name": LEGS_ARTIFACT, "path": f"${{{{ runner.temp }}}}/{LEGS_ARTIFACT}",
                         "if-no-files-found": "error", "retention-days": 1, "overwrite": True},
            },
        ],
    }


def _build_job(plan: CIPlan, chunk: Chunk, login: str | None) -> dict[str, Any]:
    count = f"needs.plan.outputs.{output_name(chunk, 'count')}"
    steps: list[dict[str, Any]] = [
        {"uses": ACTIONS["checkout"]},
        {"if": "matrix.qemu", "uses": ACTIONS["qemu"], "with": {"platforms": "${{ matrix.platform }}"}},
        {"uses": ACTIONS["buildx"]},
        *_login_steps(login),
        *_spill_steps(),
        *(_handoff_steps() if _hands_over(plan, chunk) else []),
        _bake_step(plan, chunk),
        *_digest_steps(),
    ]
    return {
        "name": "${{ matrix.name }}",
        "needs": ["plan", *chunk.needs],
        # Run after skipped dependencies too (--since), but not after failed ones.
        "if": f"${{{{ !cancelled() && !failure() && {count} != '0' }}}}",
        "runs-on": "${{ matrix.runner }}",
        "strategy": {"fail-fast": False, "matrix": f"${{{{ fromJSON(needs.plan.outputs.{output_name(chunk)}) }}}}"},
        "steps": steps,
    }


def _hands_over(plan: CIPlan, chunk: Chunk) -> bool:
    """Whether the chunk's legs may read parents by digest (a registry, and parents in earlier layers)."""
    return plan.registry and chunk.layer > 0


def _spill_steps() -> list[dict[str, Any]]:
    """When the plan spilled, the leg's `set` and `handoff` from the legs artifact (as step outputs)."""
    return [
        {
            "name": "Download leg overrides",
            "if": "matrix.spill",
            "uses": ACTIONS["download"],
            "with": {"name": LEGS_ARTIFACT, "path": f"${{{{ runner.temp }}}}/{LEGS_ARTIFACT}"},
        },
        {"name": "Leg overrides", "id": "leg", "if": "matrix.spill", "env": {"LEG": "${{ matrix.id }}"}, "run": SPILL_RUN},
    ]


SPILL_RUN = (
    f'legs="$RUNNER_TEMP/{LEGS_ARTIFACT}/{LEGS_FILE}"\n'
    "{\n"
    "  for key in set handoff; do\n"
    "    echo \"$key<<BAKEPLAN_LEG\"\n"
    '    jq -er --arg id "$LEG" --arg key "$key" \'.[$id][$key]\' "$legs"\n'
    "    echo 'BAKEPLAN_LEG'\n"
    "  done\n"
    '} >> "$GITHUB_OUTPUT"\n'
)


def _handoff_steps() -> list[dict[str, Any]]:
    return [
        {
            "name": "Download parent digests",
            "if": "matrix.parents != ''",
            "uses": ACTIONS["download"],
            "with": {"path": "${{ runner.temp }}/parents", "pattern": "${{ matrix.parents }}", "merge-multiple": True},
        },
        {
            "name": "Hand over parents",
            "id": "handoff",
            "if": "matrix.parents != ''",
            "env": {"HANDOFF": "${{ matrix.spill && steps.leg.outputs.handoff || matrix.handoff }}"},
            "run": HANDOFF_RUN,
        },
    ]


# Each `FILE PREFIX` line of the row's `handoff` becomes the `--set` PREFIX<digest in FILE>.
HANDOFF_RUN = (
    "{\n"
    "  echo 'set<<BAKEPLAN_HANDOFF'\n"
    "  while read -r file prefix; do\n"
    '    digest=$(cat "$RUNNER_TEMP/parents/$file")\n'
    "    printf '%s%s\\n' \"$prefix\" \"$digest\"\n"
    '  done <<<"$HANDOFF"\n'
    "  echo 'BAKEPLAN_HANDOFF'\n"
    '} >> "$GITHUB_OUTPUT"\n'
)


def _bake_step(plan: CIPlan, chunk: Chunk) -> dict[str, Any]:
    own = "${{ matrix.spill && steps.leg.outputs.set || matrix.set }}"
    sets = f"{own}\n${{{{ steps.handoff.outputs.set }}}}" if _hands_over(plan, chunk) else own
    inputs: dict[str, Any] = {"source": ".", "targets": "${{ matrix.target }}", "set": sets}
    if plan.call.workdir != ".":
        inputs["workdir"] = plan.call.workdir  # bake resolves files and contexts from there
    if plan.call.files:
        inputs["files"] = "\n".join(plan.call.files) + "\n"
    step: dict[str, Any] = {"name": "Bake", "id": "bake", "uses": ACTIONS["bake"], "with": inputs}
    if plan.call.vars:
        step["env"] = dict(plan.call.vars)  # bake reads variables from the environment
    return step


def _digest_steps() -> list[dict[str, Any]]:
    return [
        {
            "name": "Save digest",
            "if": "matrix.digest",
            "env": {
                "METADATA": "${{ steps.bake.outputs.metadata }}", "TARGET": "${{ matrix.target }}",
                "LEG": "${{ matrix.id }}", "MANIFEST": "${{ matrix.manifest }}", "REPOSITORY": "${{ matrix.repository }}",
            },
            "run": _digest_run(),
        },
        {
            "if": "matrix.digest",
            "uses": ACTIONS["upload"],
            "with": {
                "name": "digest-${{ matrix.id }}",
                "path": "${{ runner.temp }}/digests",
                "if-no-files-found": "error",
                "retention-days": 1,
                "overwrite": True,  # "re-run all jobs" uploads it again
            },
        },
    ]


def _digest_run() -> str:
    """Save the digest; a single-platform parent read on other platforms saves its image manifest's (see `commands`)."""
    return (
        'out="$RUNNER_TEMP/digests/$TARGET/$LEG"\n'
        'mkdir -p "$RUNNER_TEMP/digests/$TARGET"\n'
        "jq -er --arg t \"$TARGET\" '.[$t][\"containerimage.digest\"]' <<<\"$METADATA\" > \"$out\"\n"
        'if [ "$MANIFEST" = true ]; then\n'
        '  digest=$(cat "$out")\n'
        '  docker buildx imagetools inspect --raw "$REPOSITORY@$digest"'
        f' | jq -er --arg d "$digest" {shlex.quote(MANIFEST_FILTER)} > "$out"\n'
        "fi\n"
    )


def _merge_job(plan: CIPlan, login: str | None) -> dict[str, Any]:
    """One step merging whatever the plan job listed at run time: its targets, repositories and tags."""
    steps: list[dict[str, Any]] = [
        {
            "uses": ACTIONS["download"],
            "with": {"path": "${{ runner.temp }}/digests", "pattern": "digest-*", "merge-multiple": True},
        },
        {"uses": ACTIONS["buildx"]},
        *_login_steps(login),
        {"name": "Merge manifests", "env": {"MERGES": "${{ needs.plan.outputs.merges }}"}, "run": MERGE_RUN},
    ]
    return {
        "needs": ["plan", *(chunk.id for chunk in plan.chunks)],
        # Only targets whose legs all ran this time (--since may leave some out).
        "if": "${{ !cancelled() && !failure() && needs.plan.outputs.merges != '[]' }}",
        "runs-on": PLAN_RUNNER,
        "steps": steps,
    }


# For each {target, repository, tags} of the plan job's `merges`: the manifest list
# of the digests the target's legs saved, under every tag.
MERGE_RUN = (
    "mapfile -t merges < <(jq -c '.[]' <<<\"$MERGES\")\n"
    'for merge in "${merges[@]}"; do\n'
    "  target=$(jq -r '.target' <<<\"$merge\")\n"
    "  repository=$(jq -r '.repository' <<<\"$merge\")\n"
    "  mapfile -t tags < <(jq -r '.tags[] | \"-t\", .' <<<\"$merge\")\n"
    '  sources=()\n'
    '  for file in "$RUNNER_TEMP/digests/$target"/*; do\n'
    '    [ -f "$file" ] || { echo "$target: no digests were saved" >&2; exit 1; }\n'
    '    sources+=("$repository@$(cat "$file")")\n'
    "  done\n"
    '  docker buildx imagetools create "${tags[@]}" "${sources[@]}"\n'
    "done\n"
)


def merges_output(plan: CIPlan) -> str:
    """The `merges` output: what the merge job assembles, as this run's bake definition says."""
    items = [{"target": m.target, "repository": m.repository, "tags": list(m.tags)} for m in plan.merges]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def _login_steps(registry: str | None) -> list[dict[str, Any]]:
    if registry is None:
        return []
    if registry == "ghcr.io":
        user, password = "${{ github.actor }}", "${{ secrets.GITHUB_TOKEN }}"
    else:
        user, password = "${{ secrets.REGISTRY_USERNAME }}", "${{ secrets.REGISTRY_PASSWORD }}"
    return [{"uses": ACTIONS["login"], "with": {"registry": registry, "username": user, "password": password}}]
