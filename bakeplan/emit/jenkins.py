"""Jenkins: a declarative Jenkinsfile, one stage per layer running its legs in `parallel`.

Each leg runs on an agent chosen by label (per platform), with a
docker-container builder named `bakeplan` (created once per agent, reused),
and the same `docker buildx bake` overrides as the other CI systems. Jenkins
has no matrix limit, so a layer's chunks become one parallel block. Legs of a
multi-platform pushed target stash their digest; the `merge` stage unstashes
them and creates the manifests. A leg read by its children by digest stashes
its digest the same way; the child's stage unstashes it and reads
`digests/PARENT/LEG` into a variable before its bake (see `commands`).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

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
from bakeplan.emit.model import CIPlan, Leg

BUILDER = "bakeplan"
METADATA = "bake-metadata.json"
DIGESTS = "digests"
_ENSURE_BUILDER = (
    f"docker buildx inspect {BUILDER} >/dev/null 2>&1 || docker buildx create --name {BUILDER} --driver docker-container"
)


def render(plan: CIPlan, *, merge_agent: str = "linux && amd64", login: str | None = None, command: str = "") -> str:
    """The Jenkinsfile text."""
    header = [generated_line(command), *omitted_lines(plan.omitted), *rebuild_lines(plan)]
    lines = [f"// {line}" for line in header]
    lines += ["pipeline {", "    agent none", *_environment(plan), "    stages {"]
    names = _stage_names(plan)
    for layer, chunks in enumerate(plan.layers):
        legs = [leg for c in chunks for leg in c.legs]
        if legs:
            lines += _layer(layer, legs, plan, names, login)
    if plan.merges:
        lines += _merge_stage(plan, merge_agent, login)
    if not plan.legs:
        lines += _stage("nothing to build", [shell("echo 'nothing to build'")], None, indent=2)
    lines += ["    }", "}"]
    return "\n".join(lines) + "\n"


def groovy(text: str) -> str:
    """A Groovy single-quoted string literal (no interpolation)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def shell(command: str) -> str:
    """An `sh` step: one-line commands in a plain literal, scripts in a triple-quoted one."""
    if "\n" not in command.rstrip("\n"):
        return f"sh {groovy(command)}"
    body = command.replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    return f"sh '''\n{body}'''"


def _environment(plan: CIPlan) -> list[str]:
    pairs = [("BUILDX_BUILDER", BUILDER), *plan.call.vars]
    return ["    environment {", *(f"        {name} = {groovy(value)}" for name, value in pairs), "    }"]


def _stage_names(plan: CIPlan) -> dict[str, str]:
    """Stage names must be unique in a pipeline: the display name, else the leg id."""
    counts: dict[str, int] = {}
    for leg in plan.legs:
        counts[leg.name] = counts.get(leg.name, 0) + 1
    return {leg.id: leg.name if counts[leg.name] == 1 else leg.id for leg in plan.legs}


def _layer(layer: int, legs: list[Leg], plan: CIPlan, names: dict[str, str], login: str | None) -> list[str]:
    lines = [f"        stage({groovy(f'build-{layer}')}) {{", "            parallel {"]
    for leg in legs:
        lines += _stage(names[leg.id], list(_leg_steps(plan, leg, login)), leg, indent=4)
    return [*lines, "            }", "        }"]


def _leg_steps(plan: CIPlan, leg: Leg, login: str | None) -> Iterator[str]:
    """The stage's steps: parents' digests unstashed, the shell commands, the leg's own digest stashed."""
    yield from dict.fromkeys(f"unstash {groovy('digest-' + h.leg)}" for h in leg.handoffs)
    commands = [_ENSURE_BUILDER, *_login_lines(login)]
    if leg.emulated and leg.platform:
        commands.append(shlex.join(binfmt_argv(leg.platform)))
    # One `sh` step: each step is a shell of its own, and the bake reads the digests' variables.
    commands.append("\n".join([*handoff_lines(leg, DIGESTS), leg_command(plan.call, leg, METADATA)]))
    if leg.digest:
        commands.append(save_digest_script(METADATA, leg, DIGESTS).rstrip("\n"))
    yield from (shell(command) for command in commands)
    if leg.digest:
        yield f"stash name: {groovy('digest-' + leg.id)}, includes: {groovy(f'{DIGESTS}/{leg.target}/{leg.id}')}"


def _stage(name: str, steps: list[str], leg: Leg | None, *, indent: int) -> list[str]:
    pad = "    " * indent
    lines = [f"{pad}stage({groovy(name)}) {{"]
    if leg is not None:
        lines.append(f"{pad}    agent {{ label {groovy(leg.runner)} }}")
    else:
        lines.append(f"{pad}    agent any")
    lines.append(f"{pad}    steps {{")
    lines += [f"{pad}        {step}" for step in steps]
    return [*lines, f"{pad}    }}", f"{pad}}}"]


def _merge_stage(plan: CIPlan, agent: str, login: str | None) -> list[str]:
    lines = ["        stage('merge') {", f"            agent {{ label {groovy(agent)} }}", "            steps {"]
    # A reused workspace may hold digests of an earlier build: merge only this build's.
    lines.append(f"                {shell(f'rm -rf {DIGESTS}')}")
    for merge in plan.merges:
        lines += [f"                unstash {groovy('digest-' + leg)}" for leg in merge.legs]
    lines += [f"                {shell(line)}" for line in _login_lines(login)]
    lines += [f"                {shell(merge_script(m, DIGESTS))}" for m in plan.merges]
    return [*lines, "            }", "        }"]


def _login_lines(registry: str | None) -> list[str]:
    """Log in with REGISTRY_USER/REGISTRY_PASSWORD (bind them with withCredentials or the environment)."""
    if registry is None:
        return []
    return [f'echo "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USER" --password-stdin {shlex.quote(registry)}']
