"""Live differential test: generated bake files, `bakeplan print` vs `docker buildx bake --print`.

A seeded generator writes bake files with variables (typed, from the
environment too), a user function, matrices over strings, numbers and lists,
`name` templates, inherits chains, `target:` links, groups, object and string
forms of outputs and caches, and `--set` overrides. Both tools run on each; both
must fail, or both print the same JSON (groups' lists compared sorted, as
buildx orders matrix groups at random).

Then, against the same pinned buildx: every build flag of `print` alone and
with `--set`s, `--set` keys (singular aliases, `KEY=` clearing), every corpus
file, empty and BOM files, references to targets of several blocks, and
diagnostics (place, text and count). Where buildx answers at random (Go map
order), bakeplan's answer must be one that buildx gives in a few runs.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
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


# ---------------------------------------------------------------- build flags

FLAGS_HCL = """\
group "default" {
  targets = ["base", "reg", "dock", "dockdest", "local", "plain", "oci"]
}
target "base" {
  tags = ["me/base"]
  output = ["type=image,name=me/base"]
  attest = ["type=sbom,disabled=true"]
  no-cache = false
  call = "outline"
}
target "reg" {
  inherits = ["base"]
  output = ["type=registry"]
  pull = true
}
target "dock" {
  output = ["type=docker"]
  attest = [{ type = "provenance", mode = "min" }]
}
target "dockdest" {
  output = ["type=docker,dest=d.tar"]
}
target "local" {
  output = ["type=local,dest=out"]
}
target "plain" {
  tags = ["me/plain"]
}
target "oci" {
  output = ["type=oci,dest=o.tar", "type=cacheonly"]
}
"""

BUILD_FLAGS = [
    (),
    ("--push",),
    ("--load",),
    ("--no-cache",),
    ("--pull",),
    ("--provenance=true",),
    ("--provenance=false",),
    ("--provenance=mode=max,builder-id=x",),
    ("--sbom=1",),
    ("--sbom=generator=docker/scout-sbom-indexer:1",),
    ("--call=check",),
    ("--call=outline,format=json",),
    ("--call=targets,ignorestatus=true",),
    ("--check",),
    ("--call=build",),
    ("--push", "--load"),
    ("--no-cache", "--pull", "--sbom=false", "--provenance=mode=min"),
    ("--call=a,b",),
    ("--call=x,foo=bar",),
    ("--call=x,ignorestatus=maybe",),
]
FLAG_SETS = [
    (),
    ("*.attest=type=provenance,mode=max",),
    ("*.output=type=docker",),
    ("*.no-cache=false", "*.pull=false"),
    ("*.call=build",),
    ("base.push=false",),
    ("*.attest=",),
    ("reg.tags+=me/reg:2", "*.platforms=linux/arm64"),
]
# buildx applies one target's overrides in Go map order (random): these keys
# all rewrite the outputs, so two of them on one target can print either order.
_OUTPUT_KEYS = ("output", "push", "load")


def _flags_app() -> Any:
    import typer

    from bakeplan.cli import print_

    app = typer.Typer()
    app.callback()(lambda: None)
    print_.register(app)
    return app


def _ours_cli(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """`bakeplan print ARGS` in process (the real typer command), in `cwd`."""
    from typer.testing import CliRunner

    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(_flags_app(), ["print", *args])
    if isinstance(result.exception, BakeplanError):
        return False, str(result.exception)
    assert result.exit_code == 0, (result.output, result.exception)
    return True, result.stdout


def _theirs_outputs(args: list[str], cwd: Path, buildx: Any, runs: int) -> tuple[bool, set[str]]:
    """buildx's --print over `runs` runs: ok, and the distinct normalized outputs (or errors)."""
    seen: set[str] = set()
    ok = True
    for _ in range(runs):
        proc = subprocess.run(buildx.argv("bake", "--print", *args), cwd=cwd, env=buildx.env, capture_output=True, text=True, timeout=60)
        ok = proc.returncode == 0
        seen.add(json.dumps(_normalized(proc.stdout)) if ok else proc.stderr)
        if not ok:
            break
    return ok, seen


def _unmatched(ours: dict[str, Any], theirs: set[str]) -> list[str]:
    """What of ours no buildx run printed, target by target (each target's overrides run in their own map order)."""
    docs = [json.loads(text) for text in theirs]
    if any(doc.get("group") != ours.get("group") or set(doc["target"]) != set(ours["target"]) for doc in docs):
        return ["group/target names"]
    return [name for name, value in ours["target"].items() if not any(doc["target"][name] == value for doc in docs)]


def _buildx_error(stderr: str) -> str:
    """buildx's error message: what follows the last `ERROR: ` (after any progress lines)."""
    return stderr[stderr.rindex("ERROR: ") + len("ERROR: ") :].strip()


def _order_dependent(args: list[str]) -> bool:
    keys = {arg.removeprefix("--set=").split("=", 1)[0].rstrip("+").split(".")[1] for arg in args if arg.startswith("--set=")}
    keys |= {flag.lstrip("-") for flag in args if flag in ("--push", "--load")}
    return len(keys & set(_OUTPUT_KEYS)) >= 2


@pytest.mark.parametrize("sets", FLAG_SETS, ids=lambda s: ",".join(s) or "no-set")
@pytest.mark.parametrize("flags", BUILD_FLAGS, ids=lambda f: " ".join(f) or "no-flag")
def test_build_flags_print_like_buildx(flags: tuple[str, ...], sets: tuple[str, ...], tmp_path: Path, buildx: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(FLAGS_HCL)
    args = [*[f"--set={s}" for s in sets], *flags]
    ok_theirs, theirs = _theirs_outputs(args, tmp_path, buildx, runs=8 if _order_dependent(args) else 1)
    ok_ours, ours = _ours_cli(args, tmp_path, monkeypatch)
    context = f"args={args}\nbuildx: {sorted(theirs)}\nours: {ours}"
    assert ok_ours == ok_theirs, context
    if ok_ours:
        assert not _unmatched(_normalized(ours), theirs), f"unmatched: {_unmatched(_normalized(ours), theirs)}\n{context}"
    else:
        assert _buildx_error(next(iter(theirs))) in ours, context


# ------------------------------------------------------------- the corpus, live


def _corpus_cases() -> list[str]:
    root = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"
    return sorted(p.name for p in root.iterdir() if (p / "CASE.json").is_file()) if root.is_dir() else []


@pytest.mark.parametrize("case", _corpus_cases())
def test_corpus_prints_like_the_pinned_buildx(case: str, corpus_dir: Path, buildx: Any) -> None:
    """Every corpus file through the pinned buildx itself, not only its recorded output."""
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    case_dir = corpus_dir / case
    spec = json.loads((case_dir / "CASE.json").read_text())
    env = {k: v for k, v in buildx.env.items() if k != "SOURCE_DATE_EPOCH"} | spec["env"]
    args = buildx.argv("bake", "--print", *[f"--file={f}" for f in spec["files"]], *spec["targets"])
    proc = subprocess.run(args, cwd=case_dir, env=env, capture_output=True, text=True, timeout=60)
    # The same environment buildx sees (CI=true in CI changes what some files print).
    request = BakeRequest(names=tuple(spec["targets"]), files=tuple(spec["files"]), env=env, cwd=case_dir)
    try:
        ours = render(load(request))
    except BakeplanError as error:
        assert proc.returncode != 0, f"ours: {error}\nbuildx: {proc.stdout[:400]}"
        match = _ERROR_AT.search(proc.stderr)
        assert match is None or f"{match.group(1)}:{match.group(2)}:" in str(error), proc.stderr
        return
    assert proc.returncode == 0, f"buildx: {proc.stderr[-400:]}"
    assert _masked(ours) == _masked(proc.stdout)


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})|(?<!\d)(19|20)\d{6}(\d{4}(\d{2})?)?(?!\d)")


def _masked(text: str) -> dict[str, Any]:
    """Timestamps masked (both tools call timestamp() at their own moment), groups sorted."""
    return _normalized(_TIMESTAMP.sub("<time>", text))


# ------------------------------------------------------------- --set keys, live

SETS_HCL = """\
target "app" {
  tags = ["me/app:1"]
  platforms = ["linux/amd64"]
  args = { A = "1" }
  labels = { l0 = "v0" }
  annotations = ["index:a0=b0"]
  entitlements = ["security.insecure"]
  attest = ["type=sbom"]
  secret = ["id=s1,env=S1"]
  ulimits = ["nproc=10"]
  no-cache-filter = ["stage0"]
  output = ["type=image,name=me/app"]
  cache-to = ["type=inline"]
}
"""

SET_CASES = [
    ("app.tag=me/app:2",),
    ("app.tags=me/app:2", "app.tag+=me/app:3"),
    ("app.tag+=me/app:2", "app.tags=me/app:3"),
    ("app.platforms=linux/arm64",),
    ("app.platform+=linux/arm64", "app.platforms+=linux/riscv64"),
    ("app.arg.B=2", "app.args.C=3"),
    ("app.args.HOME",),
    ("app.label.l=v", "app.labels.m=w"),
    ("app.extra-host.h=1.2.3.4", "app.extra-hosts.g=5.6.7.8"),
    ("app.annotation=manifest:k=v",),
    ("app.annotations=",),
    ("app.annotations=", "app.annotation=index:x=y"),
    ("app.entitlement=network.host",),
    ("app.entitlements=",),
    ("app.secrets=id=x,env=Y",),
    ("app.secret=id=x,env=Y",),
    ("app.secret+=id=z,env=Z",),
    ("app.secret=",),
    ("app.secret.s1=env=S2",),
    ("app.secrets.s1=env=S2",),
    ("app.secret.s1+=env=S2",),
    ("app.network=host",),
    ("app.network.x=1",),
    ("app.tags.x=1",),
    ("app.resource.memory=1g", "app.resources.cpu-shares=3"),
    ("app.resource+=1",),
    ("app.resource.memory+=1g",),
    ("app.ulimit=nofile=1024:2048",),
    ("app.ulimits+=nofile=1024:2048",),
    ("app.no-cache-filter=a",),
    ("app.no-cache-filter+=b",),
    ("app.no-cache-filter=",),
    ("app.attest=",),
    ("app.attest=", "app.attest=type=provenance"),
    ("app.attest+=type=provenance,mode=max",),
    ("app.output=",),
    ("app.output=", "app.output+=type=docker"),
    ("app.cache-to=",),
    ("app.context.x=1",),
    ("app.arg=1",),
    ("app.contexts=x",),
    ("app.label=x",),
    ("app.pull.x=true",),
    ("app.tags=", "app.tags+=me/app:9"),
    ("app.platform=",),
    ("app.push=true", "app.push=false"),
]


@pytest.mark.parametrize("sets", SET_CASES, ids=",".join)
def test_set_keys_like_buildx(sets: tuple[str, ...], tmp_path: Path, buildx: Any) -> None:
    (tmp_path / "docker-bake.hcl").write_text(SETS_HCL)
    (tmp_path / "S1").write_text("secret")
    case = Case(SETS_HCL, ("app",), sets, {"S1": "x", "S2": "y", "Y": "y", "Z": "z", "HOME": "/home/me"})
    ok_theirs, out_theirs = _theirs(case, tmp_path, buildx)
    ok_ours, out_ours = _ours(case, tmp_path)
    context = f"sets={sets}\nbuildx: {out_theirs[-400:]}\nours: {out_ours[-400:]}"
    assert ok_ours == ok_theirs, context
    if ok_ours:
        assert _normalized(out_ours) == _normalized(out_theirs), context
    else:
        assert _buildx_error(out_theirs) in out_ours, context


# ------------------------------------------------------ files with nothing in them

_BOM = b"\xef\xbb\xbf"
EMPTY_CASES = {
    "empty file": ({"a.hcl": b""}, ["-f", "a.hcl"]),
    "empty json": ({"a.json": b""}, ["-f", "a.json"]),
    "comment only": ({"a.hcl": b"# nothing\n// here\n/* at all */\n"}, ["-f", "a.hcl"]),
    "dev null": ({}, ["-f", "/dev/null"]),
    "empty then real": ({"a.hcl": b"", "b.hcl": b'target "t" {}\n'}, ["-f", "a.hcl", "-f", "b.hcl", "t"]),
    "empty default file": ({"docker-bake.hcl": b""}, []),
    "bom json": ({"a.json": _BOM + b'{"target": {"t": {}}}'}, ["-f", "a.json", "t"]),
    "bom json default": ({"docker-bake.json": _BOM + b'{"target": {"t": {}}}'}, ["t"]),
    "bom hcl": ({"a.hcl": _BOM + b'target "t" {}\n'}, ["-f", "a.hcl", "t"]),
}
_HCL_DIAG = re.compile(r"^(\S+):(\d+),(\d+)(?:-(?:\d+,)?\d+)?: (.*?)(?:, and \d+ other diagnostic\(s\))?$")


@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_empty_and_bom_files_like_buildx(case: str, tmp_path: Path, buildx: Any) -> None:
    files, args = EMPTY_CASES[case]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    theirs = subprocess.run(buildx.argv("bake", "--print", *args), cwd=tmp_path, env=buildx.env, capture_output=True, text=True, timeout=60)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    ours = subprocess.run([sys.executable, "-m", "bakeplan", "print", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert ours.returncode == theirs.returncode, f"buildx: {theirs.stderr}\nours: {ours.stderr}"
    if theirs.returncode == 0:
        assert _normalized(ours.stdout) == _normalized(theirs.stdout)
        return
    message = _buildx_error(theirs.stderr)
    if match := _HCL_DIAG.match(message):
        message = f"{match.group(1)}:{match.group(2)}:{match.group(3)}: {match.group(4)}"
    assert f"error: {message}" in ours.stderr


# ------------------------------------------- references to a target of several blocks

_B1 = 'target "base" {\n  dockerfile = "a.Dockerfile"\n  args = { A = "1" }\n}\n'
_B2 = 'target "base" {\n  tags = ["x"]\n  args = { B = "2" }\n}\n'
_B3 = 'target "base" {\n  dockerfile = "c.Dockerfile"\n  args = { C = "3" }\n}\n'
_ALL = 'target "app" {\n  dockerfile = target.base.dockerfile\n  tags = target.base.tags\n  args = target.base.args\n}\n'
_DF = 'target "app" {\n  dockerfile = target.base.dockerfile\n}\n'
_ARGS = 'target "app" {\n  args = target.base.args\n}\n'
_WHOLE = 'target "app" {\n  args = target.base.args\n  labels = { df = coalesce(target.base.dockerfile, "none") }\n  tags = target.base.tags\n}\n'
_TEMPLATE = 'target "app" {\n  tags = ["${target.base.dockerfile}-${length(target.base.args)}"]\n  description = "${target.base.tags[0]}"\n}\n'
_SECOND = 'target "app2" {\n  dockerfile = target.base.dockerfile\n}\n'
MULTI_BLOCK_CASES = {
    "after both blocks": (_B1 + _B2 + _ALL, {}, ["app"]),
    "before both blocks": (_ALL + _B1 + _B2, {}, ["app"]),
    "between the blocks": (_B1 + _ALL + _B2, {}, ["app"]),
    "after three blocks": (_B1 + _B2 + _B3 + _ALL, {}, ["app"]),
    "one attribute set by the first": (_B1 + _B2 + _DF, {}, ["app"]),
    "one attribute set by both": (_B1 + _B2 + _ARGS, {}, ["app"]),
    "three blocks, one attribute": (_B1 + _B2 + _B3 + _ARGS, {}, ["app"]),
    "in templates": (_B1 + _B2 + _TEMPLATE, {}, ["app"]),
    "two readers": (_B1 + _B2 + _ALL + _SECOND, {}, ["app", "app2"]),
    "override file": (_B1 + _ALL, {"docker-bake.override.hcl": _B2}, ["app"]),
    "reader in the override file": (_B1 + _B2, {"docker-bake.override.hcl": _WHOLE}, ["app"]),
}


@pytest.mark.parametrize("case", list(MULTI_BLOCK_CASES))
def test_references_to_a_target_of_several_blocks_like_buildx(case: str, tmp_path: Path, buildx: Any) -> None:
    """buildx answers some of these at random (Go map order): bakeplan's answer must be one buildx gives."""
    hcl, extra, names = MULTI_BLOCK_CASES[case]
    (tmp_path / "docker-bake.hcl").write_text(hcl)
    for name, text in extra.items():
        (tmp_path / name).write_text(text)
    outcomes: set[str] = set()
    for _ in range(6):
        proc = subprocess.run(buildx.argv("bake", "--print", *names), cwd=tmp_path, env=buildx.env, capture_output=True, text=True, timeout=60)
        match = _ERROR_AT.search(proc.stderr)
        outcomes.add(json.dumps(_normalized(proc.stdout)) if proc.returncode == 0 else f"{match.group(1)}:{match.group(2)}:" if match else proc.stderr)
    ok_ours, ours = _ours(Case(hcl, tuple(names), (), {}), tmp_path)
    if ok_ours:
        assert json.dumps(_normalized(ours)) in outcomes, f"buildx: {sorted(outcomes)}\nours: {ours}"
    else:
        assert any(outcome in ours for outcome in outcomes if not outcome.startswith("{")), f"buildx: {sorted(outcomes)}\nours: {ours}"


# ------------------------------------------------------------ diagnostics, live

DIAGNOSTIC_CASES = {
    "one unknown variable": 'target "default" {\n  tags = ["a-${nope}"]\n}\n',
    "errors in three blocks": 'target "default" {\n  tags = [nope]\n}\ntarget "b" {\n  dockerfile = nope\n}\ntarget "c" {\n  args = { x = upper(1, 2) }\n}\n',
    "in a heredoc": 'target "default" {\n  dockerfile-inline = <<EOT\nFROM x\nRUN ${nope}\nEOT\n}\n',
    "user function": 'function "f" {\n  params = [a]\n  result = a\n}\ntarget "default" {\n  args = { x = f(null) }\n}\n',
    "reference cycle": 'target "default" {\n  tags = target.default.tags\n}\n',
    "a bad variable": 'variable "X" {\n  default = nope\n}\ntarget "default" {}\n',
    "a quoted string that is no list": 'target "default" {\n  tags = "x"\n}\n',
    "an empty string that is no list": 'target "default" {\n  tags = ""\n}\n',
    "a template starting with text": 'variable "A" {\n  default = "x"\n}\ntarget "default" {\n  tags = "a${A}"\n}\n',
    "a template starting with ${}": 'variable "A" {\n  default = "x"\n}\ntarget "default" {\n  tags = "${A}b"\n}\n',
    "a lone interpolation": 'variable "A" {\n  default = "x"\n}\ntarget "default" {\n  tags = "${A}"\n}\n',
    "a heredoc that is no list": 'target "default" {\n  tags = <<EOT\nhello\nEOT\n}\n',
    "values that do not fit, in three blocks": 'target "default" {\n  tags = "x"\n}\ntarget "b" {\n  args = { A = [1] }\n}\ntarget "c" {\n  platforms = "y"\n}\n',
    "a heredoc template": 'variable "A" {\n  default = "x"\n}\ntarget "default" {\n  tags = <<EOT\n  ${A}\nEOT\n}\n',
}


@pytest.mark.parametrize("case", list(DIAGNOSTIC_CASES))
def test_diagnostics_like_buildx(case: str, tmp_path: Path, buildx: Any) -> None:
    """The first diagnostic's place and text, and buildx's count of the others."""
    (tmp_path / "docker-bake.hcl").write_text(DIAGNOSTIC_CASES[case])
    theirs = subprocess.run(buildx.argv("bake", "--print"), cwd=tmp_path, env=buildx.env, capture_output=True, text=True, timeout=60)
    ok, ours = _ours(Case(DIAGNOSTIC_CASES[case], (), (), {}), tmp_path)
    assert theirs.returncode != 0 and not ok, (theirs.stdout, ours)
    match = _HCL_DIAG.match(_buildx_error(theirs.stderr))
    assert match is not None, theirs.stderr
    assert f"{match.group(1)}:{match.group(2)}:{match.group(3)}: {match.group(4)}" in ours
    count = re.search(r", and \d+ other diagnostic\(s\)$", _buildx_error(theirs.stderr))
    assert (count.group(0) if count else "") == (re.search(r", and \d+ other diagnostic\(s\)", ours) or [""])[0]
