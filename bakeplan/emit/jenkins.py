"""Jenkins: a declarative Jenkinsfile, one stage per layer running its legs in `parallel`.

Each leg runs on an agent chosen by label (per platform), with a
docker-container builder of its executor, `bakeplan-$EXECUTOR_NUMBER`
(created once, reused; executors of one agent never race to create the same
one), in the directory `bakeplan ci` ran in (`dir`, from the workspace root),
and the same `docker buildx bake` overrides as the other CI systems. Registry
credentials come from a Jenkins credential (`withCredentials`, username and
password) named by `--credentials`. A stage first removes `digests/`: a
reused workspace may hold an earlier build's.

A Jenkinsfile compiles into JVM methods of at most 64 KB, and every stage of a
`parallel {}` block adds to one method. A layer of more than `PER_METHOD`
legs is therefore built by a `script { parallel(...) }` whose branches come
from functions after the pipeline, each holding at most `PER_METHOD` legs, and
every leg calls one shared `bakeLeg` function: no method grows with the plan. Jenkins
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
from bakeplan.record import record

METADATA = "bake-metadata.json"
DIGESTS = "digests"
CREDENTIALS = "registry"  # the default Jenkins credentials id (username with password) for --login
PER_METHOD = 40  # legs per generated method (declarative parallel block or branch function)
_ENSURE_BUILDER = (
    'export BUILDX_BUILDER="bakeplan-${EXECUTOR_NUMBER:-0}"\n'
    'docker buildx inspect "$BUILDX_BUILDER" >/dev/null 2>&1'
    ' || docker buildx create --name "$BUILDX_BUILDER" --driver docker-container'
)


@record
class Login:
    """A registry to log in to with a Jenkins username/password credential."""

    registry: str
    credentials: str = CREDENTIALS


def render(
    plan: CIPlan, *, merge_agent: str = "linux && amd64", login: Login | None = None, command: str = "",
    _per_method: int = PER_METHOD,
) -> str:
    """The Jenkinsfile text."""
    header = [generated_line(command), *omitted_lines(plan.omitted), *rebuild_lines(plan)]
    lines = [f"// {line}" for line in header]
    lines += ["pipeline {", "    agent none", *_environment(plan), "    stages {"]
    names = _stage_names(plan)
    functions: list[str] = []
    for layer, chunks in enumerate(plan.layers):
        legs = [leg for c in chunks for leg in c.legs]
        if len(legs) > _per_method:
            lines += _scripted_layer(layer, len(legs), _per_method)
            functions += _branch_functions(layer, legs, plan, names, login, _per_method)
        elif legs:
            lines += _layer(layer, legs, plan, names, login)
    if plan.merges:
        lines += _merge_stage(plan, merge_agent, login, _per_method)
    if not plan.legs:
        lines += _stage("nothing to build", [shell("echo 'nothing to build'")], None, indent=2)
    lines += ["    }", "}"]
    if functions:
        lines += [*functions, *_bake_leg_function(plan, login)]
    return "\n".join(lines) + "\n"


def groovy(text: str) -> str:
    """A Groovy single-quoted string literal (no interpolation)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def shell(command: str) -> str:
    """An `sh` step: one-line commands in a plain literal, scripts in a triple-quoted one."""
    return f"sh {text_literal(command)}"


def text_literal(text: str) -> str:
    """A Groovy literal for a one-line text (plain) or a script (triple-quoted, starting on its own line)."""
    if "\n" not in text.rstrip("\n"):
        return groovy(text)
    body = text.replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    return f"'''\n{body}'''"


def _environment(plan: CIPlan) -> list[str]:
    if not plan.call.vars:
        return []
    return ["    environment {", *(f"        {name} = {groovy(value)}" for name, value in plan.call.vars), "    }"]


def _stage_names(plan: CIPlan) -> dict[str, str]:
    """Stage names must be unique in a pipeline: the display name, else the leg id."""
    counts: dict[str, int] = {}
    for leg in plan.legs:
        counts[leg.name] = counts.get(leg.name, 0) + 1
    return {leg.id: leg.name if counts[leg.name] == 1 else leg.id for leg in plan.legs}


def _layer(layer: int, legs: list[Leg], plan: CIPlan, names: dict[str, str], login: Login | None) -> list[str]:
    lines = [f"        stage({groovy(f'build-{layer}')}) {{", "            parallel {"]
    for leg in legs:
        steps = _in_workdir(plan, list(_leg_steps(plan, leg, login)))
        lines += _stage(names[leg.id], steps, leg, indent=4)
    return [*lines, "            }", "        }"]


def _leg_steps(plan: CIPlan, leg: Leg, login: Login | None) -> Iterator[str]:
    """Fresh digests, the parents' unstashed, one shell for the bake, the leg's own digest stashed."""
    yield shell(f"rm -rf {DIGESTS}")
    yield from (f"unstash {groovy(name)}" for name in _parents(leg))
    yield from _with_credentials(login, [shell(_bake_script(plan, leg, login))])
    if leg.digest:
        yield shell(save_digest_script(METADATA, leg, DIGESTS).rstrip("\n"))
        yield f"stash name: {groovy('digest-' + leg.id)}, includes: {groovy(_digest_file(leg))}"


def _parents(leg: Leg) -> list[str]:
    """The stash names of the parents' digests the leg reads."""
    return list(dict.fromkeys(f"digest-{h.leg}" for h in leg.handoffs))


def _digest_file(leg: Leg) -> str:
    return f"{DIGESTS}/{leg.target}/{leg.id}"


def _bake_script(plan: CIPlan, leg: Leg, login: Login | None) -> str:
    """One shell: each `sh` step is a shell of its own, and the bake reads the builder's and digests' variables."""
    commands = [_ENSURE_BUILDER, *_login_lines(login)]
    if leg.emulated and leg.platform:
        commands.append(shlex.join(binfmt_argv(leg.platform)))
    return "\n".join([*commands, *handoff_lines(leg, DIGESTS), leg_command(plan.call, leg, METADATA)])


def _scripted_layer(layer: int, count: int, per_method: int) -> list[str]:
    """A layer too big for one method: its parallel branches come from functions (see `_branch_functions`)."""
    parts = [f"branches.putAll({_function_name(layer, part)}())" for part in range(-(-count // per_method))]
    body = ["def branches = [:]", *parts, "parallel(branches)"]
    return [f"        stage({groovy(f'build-{layer}')}) {{", "            steps {", "                script {",
            *(f"                    {line}" for line in body), "                }", "            }", "        }"]


def _function_name(layer: int, part: int) -> str:
    return f"build{layer}Part{part}"


def _branch_functions(
    layer: int, legs: list[Leg], plan: CIPlan, names: dict[str, str], login: Login | None, per_method: int
) -> list[str]:
    """Functions returning at most `per_method` parallel branches each, every branch one `bakeLeg` call."""
    lines = []
    for part, start in enumerate(range(0, len(legs), per_method)):
        lines += ["", f"Map {_function_name(layer, part)}() {{", "    return ["]
        for leg in legs[start : start + per_method]:
            parents = "[" + ", ".join(groovy(name) for name in _parents(leg)) + "]"
            save = save_digest_script(METADATA, leg, DIGESTS).rstrip("\n") if leg.digest else ""
            arguments = [groovy(leg.runner), parents, text_literal(_bake_script(plan, leg, login)), text_literal(save),
                         groovy(f"digest-{leg.id}" if leg.digest else ""), groovy(_digest_file(leg) if leg.digest else "")]
            lines.append(f"        ({groovy(names[leg.id])}): {{ bakeLeg({', '.join(arguments)}) }},")
        lines += ["    ]", "}"]
    return lines


def _bake_leg_function(plan: CIPlan, login: Login | None) -> list[str]:
    """The steps every leg of a scripted layer shares, as in a declarative leg stage (`_leg_steps`)."""
    steps = [
        shell(f"rm -rf {DIGESTS}"),
        "for (String parent in parents) {", "    unstash parent", "}",
        *_with_credentials(login, ["sh bake"]),
        "if (stashName) {", "    sh save", "    stash name: stashName, includes: digest", "}",
    ]
    body = ["    node(label) {", *(f"        {line}" for line in _in_workdir(plan, steps)), "    }"]
    signature = "void bakeLeg(String label, List<String> parents, String bake, String save, String stashName, String digest) {"
    return ["", signature, *body, "}"]


def _with_credentials(login: Login | None, steps: list[str]) -> list[str]:
    """Steps inside `withCredentials`, binding REGISTRY_USER and REGISTRY_PASSWORD, when logging in."""
    if login is None:
        return steps
    binding = (f"usernamePassword(credentialsId: {groovy(login.credentials)}, "
               "usernameVariable: 'REGISTRY_USER', passwordVariable: 'REGISTRY_PASSWORD')")
    return [f"withCredentials([{binding}]) {{", *(f"    {step}" for step in steps), "}"]


def _in_workdir(plan: CIPlan, steps: list[str]) -> list[str]:
    """Steps inside `dir(WORKDIR)` when `bakeplan ci` ran below the repository root."""
    if plan.call.workdir == ".":
        return steps
    return [f"dir({groovy(plan.call.workdir)}) {{", *(f"    {step}" for step in steps), "}"]


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


def _merge_stage(plan: CIPlan, agent: str, login: Login | None, per_method: int = PER_METHOD) -> list[str]:
    """Unstash every merged leg's digest, then create the manifests (in bounded pieces for big plans)."""
    # A reused workspace may hold digests of an earlier build: merge only this build's.
    steps = [shell(f"rm -rf {DIGESTS}")]
    names = [f"digest-{leg}" for merge in plan.merges for leg in merge.legs]
    if len(names) <= per_method:
        steps += [f"unstash {groovy(name)}" for name in names]
    else:
        # One string constant per piece (a constant is at most 64 KB), split at run time: the method stays small.
        pieces = [" ".join(names[start : start + 500]) for start in range(0, len(names), 500)]
        loops = [line for piece in pieces for line in (f"for (String name in {groovy(piece)}.split(' ')) {{",
                                                       "    unstash name", "}")]
        steps += ["script {", *(f"    {line}" for line in loops), "}"]
    scripts = [merge_script(m, DIGESTS).rstrip("\n") for m in plan.merges]
    # At most `per_method` merges per `sh`, so no script literal nears the 64 KB limit of a constant.
    shells = [shell("\n".join([*_login_lines(login), *scripts[start : start + per_method]]) + "\n")
              for start in range(0, len(scripts), per_method)]
    steps += _with_credentials(login, shells)
    lines = ["        stage('merge') {", f"            agent {{ label {groovy(agent)} }}", "            steps {"]
    lines += [f"                {step}" for step in _in_workdir(plan, steps)]
    return [*lines, "            }", "        }"]


def _login_lines(login: Login | None) -> list[str]:
    """Log in with REGISTRY_USER/REGISTRY_PASSWORD, bound by `withCredentials`."""
    if login is None:
        return []
    return [f'echo "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USER" --password-stdin {shlex.quote(login.registry)}']
