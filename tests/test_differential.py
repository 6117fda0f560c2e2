"""Live differential test: generated bake files, `bakeplan print` vs `docker buildx bake --print`.

A seeded generator writes bake files with variables (typed, from the
environment too), a user function, matrices over strings, numbers and lists,
`name` templates, inherits chains, `target:` links, groups, object and string
forms of outputs and caches, and `--set` overrides. Both tools run on each; both
must fail, or both print the same JSON (groups' lists compared sorted, as
buildx orders matrix groups at random).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.errors import BakeplanError

pytestmark = pytest.mark.buildx

CASES = 48


@dataclass(frozen=True)
class Case:
    """One generated invocation."""

    hcl: str
    names: tuple[str, ...]
    sets: tuple[str, ...]
    env: dict[str, str]
    vars: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # more files of the default lookup (name, text)


def _q(text: str) -> str:
    return json.dumps(text)


class Generator:
    """Builds one random but mostly valid bake file."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lines: list[str] = []
        self.targets: list[str] = []

    def pick(self, items: list[Any]) -> Any:
        return self.rng.choice(items)

    def variables(self) -> dict[str, str]:
        env: dict[str, str] = {}
        self.lines += ['variable "TAG" {', '  default = "latest"', "}"]
        self.lines += ['variable "REPO" {', f"  default = {_q(self.pick(['me/app', 'ghcr.io/x/y', 'reg:5000/z']))}", "}"]
        self.lines += ['variable "N" {', "  type = number", f"  default = {self.rng.randint(0, 9)}", "}"]
        self.lines += ['variable "PUSH" {', f"  default = {self.pick(['true', 'false'])}", "}"]
        typed = ["  type = list(string)"] if self.rng.random() < 0.85 else []  # untyped + env is an error
        self.lines += ['variable "PLATS" {', *typed, '  default = ["linux/amd64", "linux/arm64"]', "}"]
        if self.rng.random() < 0.5:
            env["TAG"] = self.pick(["1.0", "v2", "dev"])
        if self.rng.random() < 0.3:
            env["N"] = str(self.rng.randint(10, 99))
        if self.rng.random() < 0.3:
            env["PLATS"] = "linux/s390x,linux/amd64"
        self.lines += [
            'function "tag" {',
            "  params = [name, suffix]",
            '  result = "${REPO}/${name}:${TAG}${suffix}"',
            "}",
        ]
        return env

    def attributes(self, name: str) -> list[str]:
        out: list[str] = []
        rng = self.rng
        if rng.random() < 0.7:
            out.append(f"  tags = [tag({_q(name)}, \"\"), \"{name}:${{N + 1}}\"]")
        if rng.random() < 0.6:
            value = self.pick(['"1"', "N * 2", "null", '"${PUSH}"', "1.5", "true", '"${TAG}-x"'])
            out.append(f"  args = {{ A = {value}, B = upper({_q(name)}) }}")
        choices = [
            (0.4, "platforms", ["PLATS", '["linux/amd64"]', 'concat(PLATS, ["linux/amd64"])']),
            (0.3, "output", ['["type=docker"]', '[{ type = "local", dest = "out" }]', '["type=image,push=${PUSH}"]', '["type=cacheonly"]']),
            (0.3, "cache-from", ['["type=gha"]', '["user/app:cache"]', '[{ type = "registry", ref = "${REPO}:cache" }]']),
            (0.3, "cache-to", ['["type=inline"]', '[{ type = "gha", mode = "max" }]']),
            (0.3, "labels", ['{ "org.opencontainers.image.title" = "' + name + '", x = "$${y}" }']),
            (0.2, "context", ['"./src/../app"', '"sub/"', '"."']),
            (0.2, "attest", ['["type=sbom"]', '[{ type = "provenance", mode = "max" }]']),
            (0.2, "annotations", ['[for p in PLATS : "index:p=${replace(p, "/", "-")}"]', '["manifest:x=%{ if PUSH }on%{ else }off%{ endif }"]']),
            (0.2, "pull", ["PUSH ? true : false", '!PUSH', '"true"']),
            (0.15, "dockerfile-inline", ['<<-EOT\n    FROM alpine:${TAG}\n    RUN echo $${HOME} %%{x}\n    EOT', '"FROM scratch"']),
            (0.1, "no-cache", ["N > 5", "null"]),
            (0.1, "target", ['"stage-${N % 3}"', "lower(TAG)", '"x"', '"y"', "UNDEFINED_VAR"]),
        ]
        for chance, key, values in choices:
            if rng.random() < chance:
                out.append(f"  {key} = {self.pick(values)}")
        return out

    def target_block(self, name: str, *, inherit: list[str], link: str | None) -> None:
        self.lines.append(f'target "{name}" {{')
        self.lines += self.attributes(name)
        if inherit:
            self.lines.append(f"  inherits = {json.dumps(inherit)}")
        if link:
            self.lines.append(f'  contexts = {{ dep = "target:{link}" }}')
            if self.rng.random() < 0.4:
                self.lines.append(f"  description = \"uses ${{coalesce(target.{link}.dockerfile, \"none\")}}\"")
        self.lines.append("}")
        self.targets.append(name)

    def matrix_block(self, name: str) -> None:
        keys = self.rng.sample(["os", "arch", "ver", "cfg"], self.rng.randint(1, 3))
        values = {
            "os": '["linux", "windows"]',
            "arch": '["amd64", "arm64", "riscv64"]',
            "ver": "[1, 2.5, 10]",
            "cfg": '[{ n = "a", v = 1 }, { n = "b", v = 2 }]',
        }
        parts = {"os": "${os}", "arch": "${arch}", "ver": '${replace(ver, ".", "_")}', "cfg": "${cfg.n}"}
        self.lines.append(f'target "{name}" {{')
        self.lines.append("  matrix = {")
        self.lines += [f"    {key} = {values[key]}" for key in keys]
        self.lines.append("  }")
        self.lines.append(f"  name = \"{name}-{'-'.join(parts[k] for k in keys)}\"")
        arg_values = {"os": "os", "arch": "arch", "ver": "ver", "cfg": "cfg.v"}
        self.lines.append("  args = { " + ", ".join(f"{k.upper()} = {arg_values[k]}" for k in keys) + " }")
        self.lines.append(f"  tags = [tag({_q(name)}, \"-${{{keys[0] if keys[0] != 'cfg' else 'cfg.n'}}}\")]")
        if self.rng.random() < 0.5 and self.targets:
            self.lines.append(f"  inherits = [{_q(self.targets[0])}]")
        self.lines.append("}")

    def build(self) -> Case:
        env = self.variables()
        count = self.rng.randint(2, 5)
        for index in range(count):
            name = f"t{index}"
            inherit = self.rng.sample(self.targets, min(len(self.targets), self.rng.randint(0, 2)))
            link = self.pick(self.targets) if self.targets and self.rng.random() < 0.3 else None
            self.target_block(name, inherit=inherit, link=link)
        matrix = self.rng.random() < 0.6
        if matrix:
            self.matrix_block("m")
        members = [*self.rng.sample(self.targets, max(1, len(self.targets) // 2)), *(["m"] if matrix else [])]
        self.lines += ['group "default" {', f"  targets = {json.dumps(members)}", "}"]
        names: tuple[str, ...] = ()
        if self.rng.random() < 0.4:
            names = tuple(self.rng.sample([*self.targets, *(["m"] if matrix else []), "t*"], 2))
        sets: list[str] = []
        if self.rng.random() < 0.5:
            sets.append(self.pick(["*.platform=linux/arm64", "t0.tags+=extra:1", "t*.args.S=v", "*.output=type=docker", "t1.cache-to=", "*.labels.l=1"]))
        variables = (f"TAG={self.pick(['cli', '9.9'])}",) if self.rng.random() < 0.2 else ()
        return Case("\n".join(self.lines) + "\n", names, tuple(sets), env, variables, self.extra_files())

    def extra_files(self) -> tuple[tuple[str, str], ...]:
        """Sometimes an override file (merged blocks, new defaults) and a JSON file."""
        files: list[tuple[str, str]] = []
        if self.rng.random() < 0.3:
            first = self.targets[0]
            files.append(
                (
                    "docker-bake.override.hcl",
                    f'variable "REPO" {{\n  default = "override/repo"\n}}\n'
                    f'target "{first}" {{\n  args = {{ FROM_OVERRIDE = "yes" }}\n  platforms = ["linux/ppc64le"]\n}}\n',
                )
            )
        if self.rng.random() < 0.25:
            data = {
                "variable": {"JSONVAR": {"default": "from-json"}},
                "target": {"j": {"inherits": [self.targets[-1]], "tags": ["${REPO}/j:${JSONVAR}"], "args": {"N": "${N}"}}},
            }
            files.append(("docker-bake.json", json.dumps(data, indent=1)))
        return tuple(files)


_ERROR_AT = re.compile(r"ERROR: ([^\s:]+):(\d+),")


def _normalized(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    for group in doc.get("group", {}).values():
        group["targets"] = sorted(group["targets"])
    return doc


def _ours(case: Case, cwd: Path) -> tuple[bool, str]:
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    try:
        return True, render(load(BakeRequest(names=case.names, sets=case.sets, vars=case.vars, env=case.env, cwd=cwd)))
    except BakeplanError as error:
        return False, str(error)


def _theirs(case: Case, cwd: Path, buildx: Any) -> tuple[bool, str]:
    env = {k: v for k, v in buildx.env.items() if k not in ("TAG", "REPO", "N", "PUSH", "PLATS", "SOURCE_DATE_EPOCH")}
    env.update(case.env)
    flags = [*[f"--set={s}" for s in case.sets], *[f"--var={v}" for v in case.vars]]
    args = buildx.argv("bake", "--print", *flags, *case.names)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode == 0, proc.stdout if proc.returncode == 0 else proc.stderr


@pytest.mark.parametrize("seed", range(CASES))
def test_generated_bake_files_print_like_buildx(seed: int, tmp_path: Path, buildx: Any) -> None:
    case = Generator(seed).build()
    (tmp_path / "docker-bake.hcl").write_text(case.hcl)
    for name, text in case.extra:
        (tmp_path / name).write_text(text)
    ok_theirs, out_theirs = _theirs(case, tmp_path, buildx)
    ok_ours, out_ours = _ours(case, tmp_path)
    extra = "".join(f"--- {name}\n{text}\n" for name, text in case.extra)
    context = f"\n--- docker-bake.hcl\n{case.hcl}\n{extra}names={case.names} sets={case.sets} vars={case.vars} env={case.env}\nbuildx: {out_theirs[-400:]}\nours: {out_ours[-400:]}"
    assert ok_ours == ok_theirs, context
    if ok_ours:
        assert _normalized(out_ours) == _normalized(out_theirs), context
    elif match := _ERROR_AT.search(out_theirs):
        assert f"{match.group(1)}:{match.group(2)}:" in out_ours, context


def _list(kind: str, cwd: Path, env: dict[str, str]) -> str:
    from bakeplan.bake.printing import render_list

    try:
        return render_list(BakeRequest(env=env, cwd=cwd), kind)
    except BakeplanError as error:
        return f"error: {error}"


@pytest.mark.parametrize("seed", range(0, CASES, 4))
@pytest.mark.parametrize("kind", ["targets", "type=variables,format=json"])
def test_list_matches_buildx(seed: int, kind: str, tmp_path: Path, buildx: Any) -> None:
    case = Generator(seed).build()
    (tmp_path / "docker-bake.hcl").write_text(case.hcl)
    for name, text in case.extra:
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in buildx.env.items() if k not in ("TAG", "REPO", "N", "PUSH", "PLATS")}
    env.update(case.env)
    proc = subprocess.run(buildx.argv("bake", f"--list={kind}"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    ours = _list(kind, tmp_path, case.env)
    if proc.returncode != 0:
        assert ours.startswith("error: "), proc.stderr
    else:
        assert ours == proc.stdout, case.hcl
