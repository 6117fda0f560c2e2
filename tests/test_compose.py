"""Compose files read as buildx reads them.

The differential cases live in tests/data/compose/CASE/: the project's files
and `case.json` ({"args": print's arguments, "env": extra environment,
"fails": both must fail, "ssh_key": a key file to generate, "ssh_agent": an
SSH_AUTH_SOCK to provide}). Each is copied to a temporary folder and printed
by bakeplan and by the pinned buildx; the JSON must be equal (or both fail).
A seeded generator adds random projects: services with every build variant,
interpolation forms over variables set in the environment, `.env`, `--var`
or nowhere, x-bake, extends, build secrets, a second default compose file,
and a docker-bake.hcl extending a service.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake import composeload
from bakeplan.bake.model import BakeRequest
from bakeplan.errors import BakeFileError, BakeplanError
from tests.support.tools import need

CASES = Path(__file__).parent / "data" / "compose"
CASE_NAMES = sorted(path.name for path in CASES.iterdir() if (path / "case.json").is_file())


# ------------------------------------------------------------------ helpers


def _request(args: list[str], env: dict[str, str], cwd: Path) -> BakeRequest:
    """The BakeRequest of `print ARGS` (-f, --var and names only)."""
    files: list[str] = []
    vars_: list[str] = []
    names: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "-f":
            files.append(next(items))
        elif arg == "--var":
            vars_.append(next(items))
        else:
            names.append(arg)
    return BakeRequest(names=tuple(names), files=tuple(files) or None, vars=tuple(vars_), env=env, cwd=cwd)


def _ours(args: list[str], env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    try:
        return True, render(load(_request(args, env, cwd)))
    except BakeplanError as error:
        return False, str(error)


def _theirs(args: list[str], env: dict[str, str], cwd: Path, buildx: Any) -> tuple[bool, str]:
    proc = subprocess.run(buildx.argv("bake", "--print", *args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode == 0, proc.stdout if proc.returncode == 0 else proc.stderr


def _project(case: str, tmp_path: Path, base_env: dict[str, str]) -> tuple[Path, dict[str, Any], dict[str, str]]:
    """The case copied to a temporary folder, its spec, and the environment both tools run with."""
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    spec: dict[str, Any] = json.loads((folder / "case.json").read_text())
    (folder / "case.json").unlink()
    env = {k: v for k, v in base_env.items() if k != "SSH_AUTH_SOCK"}
    env.update(spec.get("env", {}))
    if "ssh_key" in spec:
        need("ssh-keygen")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / spec["ssh_key"])], check=True)
    if spec.get("ssh_agent"):  # buildx reads a file (not a socket) at SSH_AUTH_SOCK as a key
        need("ssh-keygen")
        env["SSH_AUTH_SOCK"] = str(folder / "agent-key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", env["SSH_AUTH_SOCK"]], check=True)
    return folder, spec, env


# ------------------------------------------------------------------ differential


@pytest.mark.buildx
@pytest.mark.parametrize("case", CASE_NAMES)
def test_compose_projects_print_like_buildx(case: str, tmp_path: Path, buildx: Any) -> None:
    folder, spec, env = _project(case, tmp_path, buildx.env)
    ok_theirs, theirs = _theirs(spec["args"], env, folder, buildx)
    ok_ours, ours = _ours(spec["args"], env, folder)
    context = f"\nbuildx: {theirs[-600:]}\nours: {ours[-600:]}"
    assert ok_theirs == (not spec.get("fails")), context
    assert ok_ours == ok_theirs, context
    if ok_ours:
        assert _comparable(ours) == _comparable(theirs), context


def _comparable(text: str) -> Any:
    """The printed JSON; buildx's lists built from Go maps (ulimits of a service) compared as sets."""
    doc = json.loads(text)
    for target in doc["target"].values():
        if "ulimits" in target:
            target["ulimits"] = sorted(target["ulimits"])
    return doc


# ------------------------------------------------------------------ in process


def _print(tmp_path: Path, files: dict[str, str], *names: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    from bakeplan.bake.printing import render
    from bakeplan.bake.resolve import load

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result: dict[str, Any] = json.loads(render(load(BakeRequest(names=names, env=env or {}, cwd=tmp_path))))
    return result


def test_a_compose_file_without_any_build_leaves_the_bake_file_in_charge(tmp_path: Path) -> None:
    files = {"compose.yaml": "services:\n  db:\n    image: postgres\n", "docker-bake.hcl": 'target "app" {}\n'}
    assert _print(tmp_path, files, "app")["target"] == {"app": {"context": ".", "dockerfile": "Dockerfile"}}


def test_services_are_targets_in_source_order_and_the_default_group(tmp_path: Path) -> None:
    text = "services:\n  zeta:\n    build: z\n  alpha.one:\n    build: a\n  db:\n    image: redis\n"
    doc = _print(tmp_path, {"compose.yaml": text})
    assert doc["group"] == {"default": {"targets": ["alpha_one", "zeta"]}}
    assert list(doc["target"]) == ["alpha_one", "zeta"]
    assert doc["target"]["alpha_one"]["context"] == "a"


def test_a_bake_file_beside_a_compose_file_extends_its_targets(tmp_path: Path) -> None:
    files = {
        "compose.yaml": "services:\n  app:\n    build:\n      context: src\n      args: [A=compose, B=compose]\n",
        "docker-bake.hcl": 'target "app" {\n  args = { B = "hcl" }\n}\n',
    }
    assert _print(tmp_path, files, "app")["target"]["app"]["args"] == {"A": "compose", "B": "hcl"}


def test_dotenv_fills_variables_the_environment_does_not_set(tmp_path: Path) -> None:
    files = {".env": "A=dotenv\nB=dotenv\n", "compose.yaml": "services:\n  app:\n    build:\n      args:\n        - A=$A\n        - B=${B}\n"}
    doc = _print(tmp_path, files, env={"B": "environment"})
    assert doc["target"]["app"]["args"] == {"A": "dotenv", "B": "environment"}


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("$A-b", {"A": "x"}, "x-b"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+r}", {"A": "x"}, "r"),
        ("${A+r}", {"A": ""}, "r"),
        ("${A:+r}", {"A": ""}, ""),
        ("${A:-${B}}/${C}", {"B": "b", "C": "c"}, "b/c"),
        ("$$A $${A}", {"A": "x"}, "$A ${A}"),
        ("${UNSET}", {}, ""),
        ("${A?}", {"A": ""}, ""),
    ],
)
def test_interpolation_follows_compose(template: str, env: dict[str, str], expected: str) -> None:
    assert composeload.substitute(template, env.get) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${A:?is required}", "required variable A is missing a value: is required"),
        ("${A?}", "required variable A is missing a value"),
        ("cost: ${}", "invalid interpolation format"),
        ("${5}", "invalid interpolation format"),
    ],
)
def test_interpolation_errors_name_the_variable(tmp_path: Path, template: str, message: str) -> None:
    files = {"compose.yaml": f"services:\n  app:\n    build:\n      args:\n        X: '{template}'\n"}
    with pytest.raises(BakeplanError, match=re.escape(message)):
        _print(tmp_path, files, env={"A": ""} if "?}" not in template else {})


def test_interpolation_errors_point_at_the_value(tmp_path: Path) -> None:
    files = {"compose.yaml": "services:\n  app:\n    build:\n      args:\n        - A=1\n        - B=${B:?set B}\n"}
    with pytest.raises(BakeFileError, match=re.escape("services.app.build.args.[]: required variable B")) as caught:
        _print(tmp_path, files)
    assert str(caught.value.location) == "compose.yaml:6:11"


def test_yaml_errors_carry_file_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(BakeFileError) as caught:
        _print(tmp_path, {"compose.yaml": "services:\n  app:\n    build: .\n   image: x\n"})
    assert caught.value.location is not None
    assert (caught.value.location.file, caught.value.location.line) == ("compose.yaml", 4)


def test_service_errors_point_at_the_service(tmp_path: Path) -> None:
    text = "services:\n  ok:\n    build: .\n  broken:\n    build:\n      context: .\n      ulimits:\n        nofile: {soft: 9, hard: 1}\n"
    with pytest.raises(BakeFileError, match="soft limit must be less than or equal to hard limit") as caught:
        _print(tmp_path, {"compose.yaml": text})
    assert str(caught.value.location) == "compose.yaml:4:3"


def test_a_compose_file_with_neither_services_nor_secrets_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BakeplanError, match="empty compose file"):
        _print(tmp_path, {"compose.yaml": "volumes:\n  data: {}\n"})


@pytest.mark.parametrize(
    ("value", "printed"),
    [("1gb", "1GiB"), ("512m", "512MiB"), ("1536m", "1.5GiB"), (2147483648, "2GiB"), ("100", "100B")],
)
def test_shm_size_prints_as_docker_memory_bytes(tmp_path: Path, value: object, printed: str) -> None:
    text = f"services:\n  app:\n    build:\n      shm_size: {json.dumps(value)}\n"
    assert _print(tmp_path, {"compose.yaml": text})["target"]["app"]["shm-size"] == printed


def test_yaml_scalars_read_as_go_yaml_v3_reads_them(tmp_path: Path) -> None:
    text = "services:\n  app:\n    build:\n      args: {A: yes, B: true, C: 010, D: 1.0, E: null, F: 1_000, G: 2024-01-02}\n"
    args = _print(tmp_path, {"compose.yaml": text})["target"]["app"]["args"]
    assert args == {"A": "yes", "B": "true", "C": "8", "D": "1", "F": "1000", "G": "2024-01-02 00:00:00 +0000 UTC"}


def test_print_is_deterministic(tmp_path: Path) -> None:
    text = "services:\n" + "".join(
        f"  s{i}:\n    build:\n      ulimits: {{nofile: {{soft: 1, hard: 2}}, nproc: {{soft: 1, hard: 2}}}}\n" for i in range(20)
    )
    first = _print(tmp_path, {"compose.yaml": text})
    assert all(_print(tmp_path, {}) == first for _ in range(3))
    assert first["target"]["s3"]["ulimits"] == ["nofile=1:2", "nproc=1:2"]


def test_plan_works_on_a_compose_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from bakeplan.cli import plan as plan_cli

    app = typer.Typer()
    plan_cli.register(app)

    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    build:\n      context: api\n      platforms: [linux/amd64, linux/arm64]\n"
        "      additional_contexts:\n        base: service:base\n  base:\n    build:\n      context: base\n"
        "      platforms: [linux/amd64]\n  db:\n    image: postgres\n"
    )
    monkeypatch.chdir(tmp_path)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    args = ["plan", "--format", "json", "--node", "name=amd,platforms=linux/amd64", "--node", "name=arm,platforms=linux/arm64"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    jobs = sorted(job["id"] for job in plan["jobs"])
    assert jobs == ["api@linux/amd64", "api@linux/arm64", "base@linux/amd64"]


# ------------------------------------------------------------------ generated projects


GENERATED = 48
VARIABLES = ("V1", "V2", "V3", "V4")


class ComposeGenerator:
    """One random compose project: services, build variants, interpolation, x-bake, maybe a bake file beside it."""

    def __init__(self, seed: int) -> None:
        import random

        self.rng = random.Random(seed)
        self.env: dict[str, str] = {}
        self.dotenv: list[str] = []
        self.vars: list[str] = []

    def pick(self, items: Sequence[Any]) -> Any:
        return self.rng.choice(list(items))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def variables(self) -> None:
        for name in VARIABLES:
            state = self.pick(["unset", "empty", "env", "dotenv", "both", "var"])
            if state in ("empty",):
                self.env[name] = ""
            if state in ("env", "both"):
                self.env[name] = f"env-{name.lower()}"
            if state in ("dotenv", "both"):
                self.dotenv.append(f"{name}=dotenv-{name.lower()}")
            if state == "var":
                self.vars += ["--var", f"{name}=var-{name.lower()}"]

    def template(self) -> str:
        name = self.pick(VARIABLES)
        form = self.pick(["${N}", "$N", "${N:-def}", "${N-def}", "${N:+alt}", "${N+alt}", "${N:?need N}", "$${N}", "x-${N}-y"])
        return form.replace("N", name)

    def scalar(self) -> str:
        return self.template() if self.chance(0.4) else self.pick(["1", "plain", "with space", "a=b", "yes", "1.50"])

    def build(self, name: str, earlier: list[str]) -> Any:
        if self.chance(0.2):
            return self.pick([".", "./sub/", "sub", "${V1:-.}"])
        build: dict[str, Any] = {}
        keys = ["context", "dockerfile", "dockerfile_inline", "args", "labels", "tags", "platforms", "cache_from",
                "cache_to", "target", "network", "shm_size", "extra_hosts", "ulimits", "additional_contexts", "x-bake",
                "no_cache", "pull", "sbom", "provenance"]
        for key in self.rng.sample(keys, self.rng.randint(0, 7)):
            self.build_key(build, key, earlier)
        if "dockerfile" in build and "dockerfile_inline" in build:
            del build["dockerfile_inline"]
        return build

    def build_key(self, build: dict[str, Any], key: str, earlier: list[str]) -> None:
        if key == "additional_contexts":
            if earlier:
                build[key] = {"dep": f"service:{self.pick(earlier)}", "local": "./ctx/"}
            return
        build[key] = self.build_values()[key]()

    def build_values(self) -> dict[str, Callable[[], Any]]:
        """One random value maker per compose `build` key."""
        return {
            "context": lambda: self.pick([".", "sub", "./sub/../other", "${V2-ctx}"]),
            "dockerfile": lambda: self.pick(["Dockerfile.dev", "docker/Dockerfile", "${V3:-Dockerfile}"]),
            "dockerfile_inline": lambda: "FROM scratch\nLABEL v=${V1:-none}\n",
            "args": self.mapping_or_list,
            "labels": self.mapping_or_list,
            "tags": lambda: [f"example/{self.pick(['a', 'b'])}:{self.template() if self.chance(0.5) else 'v1'}"],
            "platforms": lambda: self.rng.sample(["linux/amd64", "linux/arm64", "linux/arm/v7"], self.rng.randint(1, 2)),
            "cache_from": self.cache_entries,
            "cache_to": self.cache_entries,
            "target": lambda: self.pick(["release", "${V4:-dev}"]),
            "network": lambda: self.pick(["host", "none", "default"]),
            "shm_size": lambda: self.pick(["64m", 1048576, "1g", "1.5g"]),
            "extra_hosts": lambda: self.pick([["db=10.0.0.1", "cache:10.0.0.2"], {"db": "10.0.0.1", "multi": ["10.0.0.3", "10.0.0.4"]}]),
            "ulimits": lambda: self.pick([{"nofile": {"soft": 1024, "hard": 4096}}, {"nproc": 512}]),
            "x-bake": self.x_bake,
            "no_cache": lambda: self.pick([True, False]),
            "pull": lambda: self.pick([True, False]),
            "sbom": lambda: self.pick([True, False, "mode=max", "generator=image"]),
            "provenance": lambda: self.pick([True, False, "mode=max", "generator=image"]),
        }

    def mapping_or_list(self) -> Any:
        keys = self.rng.sample(["A", "B", "C", "V1", "V2"], self.rng.randint(1, 3))
        if self.chance(0.5):
            return {k: self.scalar() for k in keys}
        return [k if self.chance(0.3) else f"{k}={self.scalar()}" for k in keys]

    def cache_entries(self) -> list[str]:
        return [self.pick(["example/cache", "type=registry,ref=example/c", "type=local,dest=cache", "type=inline"])]

    def x_bake(self) -> dict[str, Any]:
        options = {
            "tags": lambda: self.pick(["example/x:1 example/x:2", ["example/x:3"]]),
            "platforms": lambda: self.pick(["linux/amd64", ["linux/arm64", "linux/amd64"]]),
            "cache-from": lambda: ["type=local,src=cache"],
            "cache-to": lambda: "type=local,dest=cache",
            "output": lambda: self.pick(["type=docker", ["type=registry"]]),
            "pull": lambda: self.pick([True, False]),
            "no-cache": lambda: self.pick([True, False]),
            "no-cache-filter": lambda: ["build"],
        }
        return {key: make() for key, make in options.items() if self.chance(0.35)}

    def project(self) -> tuple[dict[str, str], list[str], dict[str, str]]:
        import yaml

        self.variables()
        services: dict[str, Any] = {}
        buildable: list[str] = []
        for name in self.rng.sample(["web.app", "api", "worker-1", "db_main", "tools"], self.rng.randint(1, 4)):
            service: dict[str, Any] = {}
            if self.chance(0.5):
                service["image"] = f"example/{name}:{self.template() if self.chance(0.5) else 'latest'}"
            if self.chance(0.85) or "image" not in service:
                service["build"] = self.build(name, buildable)
                buildable.append(name)
            if self.chance(0.3):
                service["environment"] = {"A": "from-service", "V1": None}
            if buildable[:-1] and "build" in service and self.chance(0.2):
                service["extends"] = self.pick(buildable[:-1])
            if isinstance(service.get("build"), dict) and self.chance(0.15):
                service["build"]["secrets"] = ["token"]
            services[name] = service
        document: dict[str, Any] = {"services": services}
        if any(isinstance(s.get("build"), dict) and "secrets" in s["build"] for s in services.values()):
            document["secrets"] = {"token": self.pick([{"environment": "V2"}, {"file": "./token.txt"}])}
        files = {"compose.yaml": yaml.safe_dump(document, sort_keys=False), "token.txt": "secret\n"}
        if buildable and self.chance(0.25):
            override = {self.pick(buildable): {"build": {"args": ["A=override", "D=new"], "tags": ["example/override:1"]}}}
            files["docker-compose.yml"] = yaml.safe_dump({"services": override}, sort_keys=False)
        if self.dotenv:
            files[".env"] = "\n".join(self.dotenv) + "\n"
        names: list[str] = []
        if buildable and self.chance(0.35):
            target = self.pick(buildable).replace(".", "_")
            files["docker-bake.hcl"] = f'target "{target}" {{\n  args = {{ FROM_HCL = "1", A = "hcl" }}\n  tags = ["example/hcl:1"]\n}}\n\ntarget "extra" {{\n  inherits = ["{target}"]\n}}\n'
            names = self.pick([[], [target, "extra"], ["extra"]])
        elif buildable and self.chance(0.3):
            names = [self.pick(buildable).replace(".", "_")]
        return files, [*self.vars, *names], self.env


@pytest.mark.buildx
@pytest.mark.parametrize("seed", range(GENERATED))
def test_generated_compose_projects_print_like_buildx(seed: int, tmp_path: Path, buildx: Any) -> None:
    files, args, extra_env = ComposeGenerator(seed).project()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in buildx.env.items() if k not in VARIABLES}
    env.update(extra_env)
    ok_theirs, theirs = _theirs(args, env, tmp_path, buildx)
    ok_ours, ours = _ours(args, env, tmp_path)
    shown = "".join(f"--- {name}\n{text}" for name, text in files.items())
    context = f"\n{shown}args={args} env={extra_env}\nbuildx: {theirs[-600:]}\nours: {ours[-600:]}"
    assert ok_ours == ok_theirs, context
    if ok_ours:
        assert _comparable(ours) == _comparable(theirs), context
