"""GitLab CI: a child-pipeline YAML, one job per leg or one `parallel:matrix` job per chunk.

Jobs run in a Docker-in-Docker service with a docker-container builder (the
docker driver cannot export `mode=max` caches). One stage per layer; `needs`
follow the `target:` graph, so a leg starts as soon as its own dependencies
are done. In matrix mode (`--mode matrix`), a chunk holds at most 200 legs
(GitLab's limit per `parallel:matrix`) and the runner tag comes from a
per-row variable. Legs of a multi-platform pushed target save their digest as
an artifact; a `merge-<target>` job creates the manifest from them.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from bakeplan.emit import yamlout
from bakeplan.emit.commands import bake_argv, binfmt_argv, generated_line, merge_script, omitted_lines
from bakeplan.emit.model import Chunk, CIPlan, Leg, Merge

MATRIX_LIMIT = 200  # GitLab: "The maximum number of permutations in a single parallel:matrix job is 200."
DOCKER_IMAGE = "docker:27"
DIGESTS = "digests"
METADATA = "bake-metadata.json"
_BUILDER = "docker buildx create --use --driver docker-container"


def render(
    plan: CIPlan, *, mode: str = "jobs", login: str | None = None, merge_runner: str = "", command: str = ""
) -> str:
    """The child pipeline as YAML text, with the left-out jobs as comments on top."""
    chunks = [c for c in plan.chunks if c.legs]
    document: dict[str, Any] = {
        "stages": [*dict.fromkeys(f"build-{c.layer}" for c in chunks), *(["merge"] if plan.merges else [])],
        "variables": {"DOCKER_TLS_CERTDIR": "/certs", **dict(plan.invocation.vars)},
        "default": {"image": DOCKER_IMAGE, "services": [f"{DOCKER_IMAGE}-dind"]},
    }
    if mode == "matrix":
        document.update((c.id, _matrix_job(plan, c, chunks, login)) for c in chunks)
    else:
        document.update((leg.id, _leg_job(plan, leg, login)) for c in chunks for leg in c.legs)
    owner = {leg.id: (c.id if mode == "matrix" else leg.id) for c in chunks for leg in c.legs}
    document.update((f"merge-{m.target}", _merge_job(m, owner, login, merge_runner)) for m in plan.merges)
    if not chunks:
        document["stages"] = ["build-0"]
        document["nothing-to-build"] = {"stage": "build-0", "script": ["echo 'nothing to build'"]}
    return _header(plan, command) + yamlout.dump(document)


def _header(plan: CIPlan, command: str) -> str:
    lines = [generated_line(command), *omitted_lines(plan.omitted)]
    return "".join(f"# {line}\n" for line in lines)


def _leg_job(plan: CIPlan, leg: Leg, login: str | None) -> dict[str, Any]:
    script = [_BUILDER, *_login_lines(login)]
    if leg.emulated and leg.platform:
        script.append(shlex.join(binfmt_argv(leg.platform)))
    script.append(shlex.join(bake_argv(plan.invocation, leg, metadata_file=METADATA if leg.merge else None)))
    if leg.merge:
        script += ["apk add --no-cache jq", _save_digest(shlex.quote(leg.target), shlex.quote(leg.id))]
    job: dict[str, Any] = {"stage": f"build-{leg.layer}", "tags": [leg.runner], "needs": list(leg.needs), "script": script}
    if leg.merge:
        job["artifacts"] = {"paths": [f"{DIGESTS}/"], "expire_in": "1 day"}
    return job


def _save_digest(target: str, leg: str) -> str:
    return (
        f"mkdir -p {DIGESTS}/{target} && "
        f"jq -er --arg t {target} '.[$t][\"containerimage.digest\"]' {METADATA} > {DIGESTS}/{target}/{leg}"
    )


def _matrix_job(plan: CIPlan, chunk: Chunk, chunks: Sequence[Chunk], login: str | None) -> dict[str, Any]:
    present = {c.id for c in chunks}
    return {
        "stage": f"build-{chunk.layer}",
        "tags": ["$RUNNER"],
        "needs": [n for n in chunk.needs if n in present],
        "parallel": {"matrix": [_matrix_row(leg) for leg in chunk.legs]},
        "script": [_BUILDER, *_login_lines(login), _matrix_script(plan)],
        "artifacts": {"paths": [f"{DIGESTS}/"], "expire_in": "1 day"},
    }


def _matrix_row(leg: Leg) -> dict[str, str]:
    return {
        "LEG": leg.id,
        "TARGET": leg.target,
        "PLATFORM": leg.platform or "",
        "RUNNER": leg.runner,
        "QEMU": "true" if leg.emulated else "false",
        "MERGE": "true" if leg.merge else "false",
        "BAKE_SET": "\n".join(leg.sets),
    }


def _matrix_script(plan: CIPlan) -> str:
    """One leg from its row: BAKE_SET holds one `--set` value per line."""
    files = "".join(f" -f {shlex.quote(name)}" for name in plan.invocation.files)
    save = _save_digest('"$TARGET"', '"$LEG"')
    return (
        'if [ "$QEMU" = true ]; then docker run --privileged --rm tonistiigi/binfmt --install "$PLATFORM"; fi\n'
        "set -f; set --\n"
        "IFS='\n'\n"
        'for item in $BAKE_SET; do set -- "$@" --set "$item"; done\n'
        "unset IFS; set +f\n"
        f'docker buildx bake{files} --metadata-file {METADATA} "$@" "$TARGET"\n'
        'if [ "$MERGE" = true ]; then\n'
        "  apk add --no-cache jq\n"
        f"  {save}\n"
        "fi\n"
    )


def _merge_job(merge: Merge, owner: Mapping[str, str], login: str | None, runner: str) -> dict[str, Any]:
    """Needs the jobs (or matrix jobs) that built the merge's legs: their artifacts hold the digests."""
    needs = list(dict.fromkeys(owner[leg] for leg in merge.legs))
    job: dict[str, Any] = {"stage": "merge", "needs": needs}
    if runner:
        job["tags"] = [runner]
    job["script"] = [*_login_lines(login), merge_script(merge, DIGESTS)]
    return job


def _login_lines(registry: str | None) -> list[str]:
    """Log in with GitLab's job registry credentials, or REGISTRY_USER/REGISTRY_PASSWORD elsewhere."""
    if registry is None:
        return []
    gitlab = registry in ("$CI_REGISTRY", "registry.gitlab.com")
    user, password = ("CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD") if gitlab else ("REGISTRY_USER", "REGISTRY_PASSWORD")
    where = registry if registry.startswith("$") else shlex.quote(registry)
    return [f'echo "${password}" | docker login --username "${user}" --password-stdin {where}']
