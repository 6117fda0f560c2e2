"""Jenkins: a declarative Jenkinsfile, one stage per layer running its legs in `parallel`.

Each leg runs on an agent chosen by label (per platform), with a
docker-container builder named `bakeplan` (created once per agent, reused),
and the same `docker buildx bake` overrides as the other CI systems. Jenkins
has no matrix limit, so a layer's chunks become one parallel block. Legs of a
multi-platform pushed target stash their digest; the `merge` stage unstashes
them and creates the manifests.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from bakeplan.emit.commands import (
    bake_argv,
    binfmt_argv,
    generated_line,
    merge_script,
    omitted_lines,
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
    header = [generated_line(command), *omitted_lines(plan.omitted)]
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
        lines += _stage("nothing to build", ["echo 'nothing to build'"], None, indent=2)
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
    pairs = [("BUILDX_BUILDER", BUILDER), *plan.invocation.vars]
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
        lines += _stage(names[leg.id], list(_leg_commands(plan, leg, login)), leg, indent=4)
    return [*lines, "            }", "        }"]


def _leg_commands(plan: CIPlan, leg: Leg, login: str | None) -> Iterator[str]:
    yield _ENSURE_BUILDER
    yield from _login_lines(login)
    if leg.emulated and leg.platform:
        yield shlex.join(binfmt_argv(leg.platform))
    yield shlex.join(bake_argv(plan.invocation, leg, metadata_file=METADATA if leg.merge else None))
    if leg.merge:
        yield save_digest_script(METADATA, leg.target, leg.id, DIGESTS).rstrip("\n")


def _stage(name: str, commands: list[str], leg: Leg | None, *, indent: int) -> list[str]:
    pad = "    " * indent
    lines = [f"{pad}stage({groovy(name)}) {{"]
    if leg is not None:
        lines.append(f"{pad}    agent {{ label {groovy(leg.runner)} }}")
    else:
        lines.append(f"{pad}    agent any")
    lines.append(f"{pad}    steps {{")
    lines += [f"{pad}        {shell(command)}" for command in commands]
    if leg is not None and leg.merge:
        lines.append(f"{pad}        stash name: {groovy('digest-' + leg.id)}, includes: {groovy(DIGESTS + '/**')}")
    return [*lines, f"{pad}    }}", f"{pad}}}"]


def _merge_stage(plan: CIPlan, agent: str, login: str | None) -> list[str]:
    lines = ["        stage('merge') {", f"            agent {{ label {groovy(agent)} }}", "            steps {"]
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
