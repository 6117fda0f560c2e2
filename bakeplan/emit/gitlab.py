"""GitLab CI: a child-pipeline YAML, one job per leg or one `parallel:matrix` job per chunk.

Jobs run in a Docker-in-Docker service with a docker-container builder (the
docker driver cannot export `mode=max` caches). One stage per layer; `needs`
follow the `target:` graph, so a leg starts as soon as its own dependencies
are done. In matrix mode (`--mode matrix`), a chunk holds at most 200 legs
(GitLab's limit per `parallel:matrix`); a row holds only `LEG` and `RUNNER`
(the runner tag), because GitLab names each job after its row's values, and
runs its leg's commands from a `case "$LEG"`. Legs of a multi-platform pushed
target save their digest as an artifact; a `merge-<target>` job creates the
manifest from them. A leg read by its children by digest saves its digest the
same way; a child job `needs` it with its artifacts and reads
`digests/PARENT/LEG` into a variable before its bake (see `commands`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from bakeplan.emit import yamlout
from bakeplan.emit.commands import (
    binfmt_argv,
    generated_line,
    handoff_lines,
    leg_command,
    merge_script,
    omitted_lines,
    rebuild_lines,
    save_digest_script,
)
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
        "variables": {"DOCKER_TLS_CERTDIR": "/certs", **dict(plan.call.vars)},
        "default": {"image": DOCKER_IMAGE, "services": [f"{DOCKER_IMAGE}-dind"]},
    }
    if mode == "matrix":
        document.update((c.id, _matrix_job(plan, c, chunks, login)) for c in chunks)
    else:
        saving = frozenset(leg.id for leg in plan.legs if leg.digest)
        document.update((leg.id, _leg_job(plan, leg, login, saving)) for c in chunks for leg in c.legs)
    owner = {leg.id: (c.id if mode == "matrix" else leg.id) for c in chunks for leg in c.legs}
    document.update((f"merge-{m.target}", _merge_job(m, owner, login, merge_runner)) for m in plan.merges)
    if not chunks:
        document["stages"] = ["build-0"]
        document["nothing-to-build"] = {"stage": "build-0", "script": ["echo 'nothing to build'"]}
    return _header(plan, command) + yamlout.dump(document)


def _header(plan: CIPlan, command: str) -> str:
    lines = [generated_line(command), *omitted_lines(plan.omitted), *rebuild_lines(plan)]
    return "".join(f"# {line}\n" for line in lines)


def _leg_job(plan: CIPlan, leg: Leg, login: str | None, saving: frozenset[str]) -> dict[str, Any]:
    # A dependency's digest artifact is of use only to a leg that reads it: download nothing else.
    reading = {h.leg for h in leg.handoffs}
    needs = [{"job": n, "artifacts": False} if n in saving and n not in reading else n for n in leg.needs]
    script = [_BUILDER, *_login_lines(login), *_leg_commands(plan, leg)]
    job: dict[str, Any] = {"stage": f"build-{leg.layer}", "tags": [leg.runner], "needs": needs, "script": script}
    if leg.digest:
        # Only its own digest (the parents' it downloaded would travel on needlessly).
        job["artifacts"] = {"paths": [f"{DIGESTS}/{leg.target}/{leg.id}"], "expire_in": "1 day"}
    return job


def _leg_commands(plan: CIPlan, leg: Leg) -> list[str]:
    """QEMU if needed, the parents' digests, the bake command, and the leg's own digest artifact."""
    commands = [shlex.join(binfmt_argv(leg.platform))] if leg.emulated and leg.platform else []
    commands += handoff_lines(leg, DIGESTS)
    commands.append(leg_command(plan.call, leg, METADATA))
    if leg.digest:
        commands += ["apk add --no-cache jq", *save_digest_script(METADATA, leg, DIGESTS).splitlines()]
    return commands


def _matrix_job(plan: CIPlan, chunk: Chunk, chunks: Sequence[Chunk], login: str | None) -> dict[str, Any]:
    """Rows hold only the leg id and runner tag (GitLab names jobs after the row's values)."""
    present = {c.id for c in chunks}
    job: dict[str, Any] = {
        "stage": f"build-{chunk.layer}",
        "tags": ["$RUNNER"],
        "needs": [n for n in chunk.needs if n in present],
        "parallel": {"matrix": [{"LEG": leg.id, "RUNNER": leg.runner} for leg in chunk.legs]},
        "script": [_BUILDER, *_login_lines(login), _dispatch(plan, chunk)],
    }
    if any(leg.digest for leg in chunk.legs):
        job["artifacts"] = {"paths": [f"{DIGESTS}/"], "expire_in": "1 day"}
    return job


def _dispatch(plan: CIPlan, chunk: Chunk) -> str:
    """A `case "$LEG"` running each row's own commands."""
    lines = ['case "$LEG" in']
    for leg in chunk.legs:
        lines += [f"  {shlex.quote(leg.id)})", *(f"    {c}" for c in _leg_commands(plan, leg)), "    ;;"]
    lines += ['  *) echo "unknown leg: $LEG" >&2; exit 1 ;;', "esac"]
    return "\n".join(lines) + "\n"


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
