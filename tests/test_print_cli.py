"""`bakeplan print` end to end: file lookup, output, errors, --list, lazy imports, parse cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeplan.bake.files import BakeFile, cache_dir, find_files, parse_body
from bakeplan.bake.model import BakeRequest
from bakeplan.errors import BakeplanError

ROOT = Path(__file__).resolve().parent.parent
HCL = 'group "default" {\n  targets = ["app"]\n}\ntarget "app" {\n  tags = ["me/app:${TAG}"]\n}\nvariable "TAG" {\n  default = "dev"\n}\n'


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bakeplan", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


def test_print_uses_the_default_group_and_environment(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    proc = run(tmp_path, "print", env={"TAG": "1.0"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "group": {"default": {"targets": ["app"]}},
        "target": {"app": {"context": ".", "dockerfile": "Dockerfile", "tags": ["me/app:1.0"]}},
    }


def test_print_takes_files_sets_and_vars(tmp_path: Path) -> None:
    (tmp_path / "a.hcl").write_text(HCL)
    proc = run(tmp_path, "print", "-f", "a.hcl", "--set", "app.platform=linux/arm64", "--var", "TAG=2", "app")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"]["app"]["platforms"] == ["linux/arm64"]
    assert json.loads(proc.stdout)["target"]["app"]["tags"] == ["me/app:2"]


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["print"], "couldn't find a bake definition"),
        ({"docker-bake.hcl": HCL}, ["print", "-f", "missing.hcl"], "open missing.hcl: no such file or directory"),
        ({"compose.yaml": "services: {}\n"}, ["print"], "failed to find target default"),
        ({"compose.yaml": "volumes: {}\n"}, ["print"], "empty compose file"),
        ({"docker-bake.hcl": 'target "a" {\n  tags = [nope]\n}\n'}, ["print", "a"], "docker-bake.hcl:2:"),
        ({"docker-bake.hcl": HCL}, ["print", "nosuch"], "failed to find target nosuch"),
        ({"docker-bake.hcl": HCL}, ["print", "--set", "app"], "invalid override key app, expected target.name"),
    ],
)
def test_errors_are_one_clear_message_and_exit_1(tmp_path: Path, files: dict[str, str], args: list[str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = run(tmp_path, *args)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_targets_and_variables(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    assert run(tmp_path, "print", "--list", "targets").stdout == "TARGET\tDESCRIPTION\napp\t\ndefault\tapp\n"
    assert json.loads(run(tmp_path, "print", "--list", "type=variables,format=json").stdout) == [{"name": "TAG", "value": "dev"}]


def test_print_does_not_import_networkx(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    code = "import sys\nfrom bakeplan.cli import main\ntry:\n    main(['print'])\nexcept SystemExit:\n    pass\nprint('networkx' in sys.modules, file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "False"


def test_default_lookup_order_and_bake_file_env(tmp_path: Path) -> None:
    for name in ("docker-bake.override.hcl", "docker-bake.hcl", "docker-bake.json", "other.hcl"):
        (tmp_path / name).write_text("# not empty: buildx skips empty files\n")
    names = [f.name for f in find_files(BakeRequest(cwd=tmp_path))]
    assert names == ["docker-bake.json", "docker-bake.hcl", "docker-bake.override.hcl"]
    from_env = find_files(BakeRequest(cwd=tmp_path, env={"BUILDX_BAKE_FILE": "other.hcl:docker-bake.hcl"}))
    assert [f.name for f in from_env] == ["other.hcl", "docker-bake.hcl"]
    for name in ("docker-compose.yml", "compose.yaml"):
        (tmp_path / name).write_text("services: {}\n")
    names = [f.name for f in find_files(BakeRequest(cwd=tmp_path))]
    assert names == ["compose.yaml", "docker-compose.yml", "docker-bake.json", "docker-bake.hcl", "docker-bake.override.hcl"]


def test_parse_cache_reuses_trees_and_survives_corrupt_entries(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    text = "".join(f'target "t{i}" {{\n  tags = ["x/t{i}:${{TAG}}"]\n}}\n' for i in range(600))
    file = BakeFile("docker-bake.hcl", tmp_path / "docker-bake.hcl", text.encode())
    first = parse_body(file, env)
    folder = cache_dir(env)
    assert folder is not None
    entries = list(folder.rglob("*.pickle"))
    assert len(entries) == 1
    assert parse_body(file, env) == first
    entries[0].write_bytes(b"garbage")
    assert parse_body(file, env) == first
    assert entries[0].read_bytes() != b"garbage"
    assert parse_body(file, {"BAKEPLAN_NO_CACHE": "1", **env}) == first


def test_evaluation_cache_hits_only_for_identical_inputs(tmp_path: Path) -> None:
    from bakeplan.bake.files import cached_evaluation

    file = BakeFile("docker-bake.hcl", tmp_path / "docker-bake.hcl", HCL.encode())
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "TAG": "1"}
    request = BakeRequest(env=env, cwd=tmp_path)
    calls: list[str] = []

    def build(label: str) -> object:
        def run(store_parse: bool) -> str:
            calls.append(label)
            return label

        return run

    assert cached_evaluation([file], request, build("first")) == "first"
    assert cached_evaluation([file], request, build("again")) == "first"  # cached
    other_env = BakeRequest(env={**env, "TAG": "2"}, cwd=tmp_path)
    assert cached_evaluation([file], other_env, build("tag2")) == "tag2"  # TAG is read by the file
    unrelated = BakeRequest(env={**env, "UNRELATED": "x"}, cwd=tmp_path)
    assert cached_evaluation([file], unrelated, build("unrelated")) == "first"
    assert cached_evaluation([file], BakeRequest(env=env, vars=("TAG=3",), cwd=tmp_path), build("var")) == "var"
    impure = BakeFile("docker-bake.hcl", file.path, b'target "a" {\n  tags = [timestamp()]\n}\n')
    assert cached_evaluation([impure], request, build("t1")) == "t1"
    assert cached_evaluation([impure], request, build("t2")) == "t2"
    assert calls == ["first", "tag2", "var", "t1", "t2"]


def test_file_relative_paths_mode_is_refused_not_ignored(tmp_path: Path) -> None:
    from bakeplan.bake.resolve import load

    (tmp_path / "docker-bake.hcl").write_text(HCL)
    with pytest.raises(BakeplanError, match="BUILDX_BAKE_FILE_RELATIVE_PATHS is not supported"):
        load(BakeRequest(env={"BUILDX_BAKE_FILE_RELATIVE_PATHS": "true"}, cwd=tmp_path))


def test_print_takes_buildx_build_flags(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    proc = run(tmp_path, "print", "--push", "--no-cache", "--pull", "--sbom", "true", "--provenance", "mode=max", "--check")
    assert proc.returncode == 0, proc.stderr
    app = json.loads(proc.stdout)["target"]["app"]
    assert app["output"] == [{"push": "true", "type": "image"}]
    assert app["attest"] == [{"type": "sbom"}, {"mode": "max", "type": "provenance"}]
    assert (app["no-cache"], app["pull"], app["call"]) == (True, True, "lint")


def test_a_malformed_call_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    proc = run(tmp_path, "print", "--call", "outline,colour=red")
    assert proc.returncode == 1
    assert "invalid print field: colour=red" in proc.stderr
