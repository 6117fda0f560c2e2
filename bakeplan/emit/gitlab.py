"""GitLab CI: a child-pipeline YAML, one job per leg or one `parallel:matrix` job per chunk.

Jobs run in `--image` (default `docker:29`, whose buildx supports every
override bakeplan emits, `cache-from+=` included: buildx >= 0.22) with a
Docker-in-Docker service (`--service`, `none` for shell runners with their
own daemon) and a docker-container builder (the docker driver cannot export
`mode=max` caches), or the builder `$BUILDX_BUILDER` names when the runner
has one. Every job first changes to the directory `bakeplan ci` ran in
(relative to the repository root, where GitLab starts jobs). One stage per
layer; `needs` follow the `target:` graph, so a leg starts as soon as its own
dependencies are done. GitLab refuses more than 50 needs per job, counting
every instance of a `parallel:matrix` job: a job that would need more waits
for the earlier stages instead (stage ordering, no `needs`). In matrix mode
(`--mode matrix`), a chunk holds at most 200 legs
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

from bakeplan.emit import yamldoc
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
NEEDS_LIMIT = 50  # GitLab: a job can need at most 50 jobs (each parallel:matrix instance counts)
JOBS_LIMIT = 500  # GitLab.com: at most 500 jobs in one pipeline (ci_active_jobs)
SIZE_LIMIT = 2 * 1024 * 1024  # GitLab: a CI configuration of at most 2 MB (max_yaml_size_bytes)
DOCKER_IMAGE = "docker:29"  # ships buildx >= 0.22, which `cache-from+=` / `cache-to+=` overrides need
DIND_SERVICE = "docker:29-dind"
DIGESTS = "digests"
METADATA = "bake-metadata.json"
# A runner that brings its own builder names it in BUILDX_BUILDER (a CI/CD variable).
_BUILDER = '[ -n "${BUILDX_BUILDER:-}" ] || docker buildx create --use --driver docker-container'
_JQ = "command -v jq >/dev/null || apk add --no-cache jq"


def render(
    plan: CIPlan, *, mode: str = "jobs", login: str | None = None, merge_runner: str = "", command: str = "",
    image: str = DOCKER_IMAGE, service: str | None = DIND_SERVICE,
) -> str:
    """The child pipeline as YAML text, with the left-out jobs and any limit it exceeds as comments on top."""
    chunks = [c for c in plan.chunks if c.legs]
    document: dict[str, Any] = {
        "stages": [*dict.fromkeys(f"build-{c.layer}" for c in chunks), *(["merge"] if plan.merges else [])],
        "variables": {**({"DOCKER_TLS_CERTDIR": "/certs"} if service else {}), **dict(plan.call.vars)},
        "default": _default(plan, image, service),
    }
    if mode == "matrix":
        size = {c.id: len(c.legs) for c in chunks}
        document.update((c.id, _matrix_job(plan, c, size, login)) for c in chunks)
    else:
        saving = frozenset(leg.id for leg in plan.legs if leg.digest)
        size = {leg.id: 1 for leg in plan.legs}
        document.update((leg.id, _leg_job(plan, leg, login, saving)) for c in chunks for leg in c.legs)
    owner = {leg.id: (c.id if mode == "matrix" else leg.id) for c in chunks for leg in c.legs}
    document.update((f"merge-{m.target}", _merge_job(plan, m, owner, size, login, merge_runner)) for m in plan.merges)
    if not chunks:
        document["stages"] = ["build-0"]
        document["nothing-to-build"] = {"stage": "build-0", "script": ["echo 'nothing to build'"]}
    body = yamldoc.dump(document)
    return _header(plan, command, limit_lines(job_count(plan), len(body.encode()))) + body


def job_count(plan: CIPlan) -> int:
    """The jobs GitLab creates: one per leg (a `parallel:matrix` instance is a job too) and per merge."""
    return len(plan.legs) + len(plan.merges)


def _default(plan: CIPlan, image: str, service: str | None) -> dict[str, Any]:
    default: dict[str, Any] = {"image": image}
    if service:
        default["services"] = [service]
    if plan.call.workdir != ".":
        default["before_script"] = [f"cd -- {shlex.quote(plan.call.workdir)} || exit 1"]
    return default


def limit_lines(jobs: int, size: int) -> list[str]:
    """Warnings for a pipeline over GitLab's job count or configuration size limits."""
    lines = []
    if jobs > JOBS_LIMIT:
        lines.append(f"warning: {jobs} jobs, over GitLab.com's limit of {JOBS_LIMIT} per pipeline: "
                     "split the plan into several child pipelines with --only/--exclude")
    if size > SIZE_LIMIT:
        lines.append(f"warning: {size} bytes of YAML, over GitLab's limit of {SIZE_LIMIT}: use --mode matrix "
                     "or split the plan into several child pipelines with --only/--exclude")
    return lines


def _header(plan: CIPlan, command: str, limits: Sequence[str] = ()) -> str:
    lines = [generated_line(command), *omitted_lines(plan.omitted), *rebuild_lines(plan), *limits]
    return "".join(f"# {line}\n" for line in lines)


def _needs(job: dict[str, Any], needs: Sequence[Any], size: Mapping[str, int]) -> dict[str, Any]:
    """Set the job's `needs`, or leave it to stage ordering when GitLab would count more than 50."""
    names = [n["job"] if isinstance(n, dict) else n for n in needs]
    if sum(size.get(name, 1) for name in names) <= NEEDS_LIMIT:
        job["needs"] = list(needs)
    return job


def _path(plan: CIPlan, path: str) -> str:
    """An artifact path: relative to the repository root, where GitLab collects artifacts."""
    return path if plan.call.workdir == "." else f"{plan.call.workdir}/{path}"


def _leg_job(plan: CIPlan, leg: Leg, login: str | None, saving: frozenset[str]) -> dict[str, Any]:
    # A dependency's digest artifact is of use only to a leg that reads it: download nothing else.
    reading = {h.leg for h in leg.handoffs}
    needs = [{"job": n, "artifacts": False} if n in saving and n not in reading else n for n in leg.needs]
    script = [_BUILDER, *_login_lines(login), *_leg_commands(plan, leg)]
    job = _needs({"stage": f"build-{leg.layer}", "tags": [leg.runner]}, needs, {})
    job["script"] = script
    if leg.digest:
        # Only its own digest (the parents' it downloaded would travel on needlessly).
        job["artifacts"] = {"paths": [_path(plan, f"{DIGESTS}/{leg.target}/{leg.id}")], "expire_in": "1 day"}
    return job


def _leg_commands(plan: CIPlan, leg: Leg) -> list[str]:
    """QEMU if needed, the parents' digests, the bake command, and the leg's own digest artifact."""
    commands = [shlex.join(binfmt_argv(leg.platform))] if leg.emulated and leg.platform else []
    commands += handoff_lines(leg, DIGESTS)
    commands.append(leg_command(plan.call, leg, METADATA))
    if leg.digest:
        commands += [_JQ, *save_digest_script(METADATA, leg, DIGESTS).splitlines()]
    return commands


def _matrix_job(plan: CIPlan, chunk: Chunk, size: Mapping[str, int], login: str | None) -> dict[str, Any]:
    """Rows hold only the leg id and runner tag (GitLab names jobs after the row's values)."""
    job = _needs({"stage": f"build-{chunk.layer}", "tags": ["$RUNNER"]}, [n for n in chunk.needs if n in size], size)
    job["parallel"] = {"matrix": [{"LEG": leg.id, "RUNNER": leg.runner} for leg in chunk.legs]}
    job["script"] = [_BUILDER, *_login_lines(login), _dispatch(plan, chunk)]
    if any(leg.digest for leg in chunk.legs):
        job["artifacts"] = {"paths": [_path(plan, f"{DIGESTS}/")], "expire_in": "1 day"}
    return job


def _dispatch(plan: CIPlan, chunk: Chunk) -> str:
    """A `case "$LEG"` running each row's own commands."""
    lines = ['case "$LEG" in']
    for leg in chunk.legs:
        lines += [f"  {shlex.quote(leg.id)})", *(f"    {c}" for c in _leg_commands(plan, leg)), "    ;;"]
    lines += ['  *) echo "unknown leg: $LEG" >&2; exit 1 ;;', "esac"]
    return "\n".join(lines) + "\n"


def _merge_job(
    plan: CIPlan, merge: Merge, owner: Mapping[str, str], size: Mapping[str, int], login: str | None, runner: str
) -> dict[str, Any]:
    """Needs the jobs (or matrix jobs) that built the merge's legs: their artifacts hold the digests."""
    job = _needs({"stage": "merge"}, list(dict.fromkeys(owner[leg] for leg in merge.legs)), size)
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
