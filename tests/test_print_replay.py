"""A repeat `bakeplan print` replays its last output before typer loads, and only while every input is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HCL = 'target "default" {\n  tags = ["me/app:${TAG}"]\n}\nvariable "TAG" {\n  default = "dev"\n}\n'
# Runs `bakeplan print ARGS` in-process; reports on stderr whether the command ran (its module was imported)
# and whether typer was.
PROBE = (
    "import sys\nfrom bakeplan.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n"
    "    print('exit', done.code, file=sys.stderr)\n"
    "print('bakeplan.cli.printout' in sys.modules, 'typer' in sys.modules, file=sys.stderr)"
)


def bakeplan(cwd: Path, cache: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[str, bool]:
    """(stdout, whether the output was replayed: the command never ran) of one `bakeplan print` in its own process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache), **(env or {})}
    full_env.pop("BAKEPLAN_NO_CACHE", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "print", *args], cwd=cwd, env=full_env, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert "exit 1" not in proc.stderr, proc.stderr
    return proc.stdout, proc.stderr.strip().splitlines()[-1] == "False False"


def typer_loaded(cwd: Path, cache: Path, *args: str) -> bool:
    """Whether one `bakeplan print ARGS` needed typer to read its arguments."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run([sys.executable, "-c", PROBE, "print", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return proc.stderr.strip().splitlines()[-1].endswith("True")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "docker-bake.hcl").write_text(HCL)
    return folder


def test_the_second_run_is_replayed_without_typer_and_prints_the_same(project: Path, tmp_path: Path) -> None:
    first, replayed_first = bakeplan(project, tmp_path / "cache")
    second, replayed_second = bakeplan(project, tmp_path / "cache")
    assert (replayed_first, replayed_second) == (False, True)
    assert second == first
    assert '"me/app:dev"' in second


def test_an_edited_file_is_read_again_with_the_options_typer_read_last_time(project: Path, tmp_path: Path) -> None:
    args = ("--set", "*.platform=linux/arm64")
    assert typer_loaded(project, tmp_path / "cache", *args)
    (project / "docker-bake.hcl").write_text(HCL.replace('"dev"', '"edited"'))
    assert not typer_loaded(project, tmp_path / "cache", *args)
    out, replayed = bakeplan(project, tmp_path / "cache", *args)
    assert replayed  # stored by the run before, which read the edited file
    assert '"me/app:edited"' in out
    assert '"linux/arm64"' in out


def test_the_options_typer_read_are_kept_per_argument_list(project: Path, tmp_path: Path) -> None:
    bakeplan(project, tmp_path / "cache", "--set", "*.platform=linux/arm64")
    assert typer_loaded(project, tmp_path / "cache", "--set", "*.platform=linux/s390x")
    assert '"linux/s390x"' in bakeplan(project, tmp_path / "cache", "--set", "*.platform=linux/s390x")[0]


def test_a_default_file_that_appears_later_is_read(project: Path, tmp_path: Path) -> None:
    bakeplan(project, tmp_path / "cache")
    (project / "docker-bake.override.hcl").write_text('variable "TAG" {\n  default = "override"\n}\n')
    out, _ = bakeplan(project, tmp_path / "cache")
    assert '"me/app:override"' in out


def test_a_changed_environment_or_command_line_is_a_new_entry(project: Path, tmp_path: Path) -> None:
    bakeplan(project, tmp_path / "cache")
    out, _ = bakeplan(project, tmp_path / "cache", env={"TAG": "from-env"})
    assert '"me/app:from-env"' in out
    out, _ = bakeplan(project, tmp_path / "cache", "--set", "*.tags=other")
    assert '"other"' in out
    assert '"me/app:from-env"' in bakeplan(project, tmp_path / "cache", env={"TAG": "from-env"})[0]


@pytest.mark.parametrize(
    ("text", "args", "env"),
    [
        ('target "default" {\n  tags = ["me/app:${timestamp()}"]\n}\n', (), {}),  # a result that changes every run
        (HCL, ("-f", "-"), {}),  # stdin
        (HCL, (), {"BAKEPLAN_NO_CACHE": "1"}),
    ],
)
def test_what_is_never_replayed(project: Path, tmp_path: Path, text: str, args: tuple[str, ...], env: dict[str, str]) -> None:
    (project / "docker-bake.hcl").write_text(text)
    stdin = text if "-" in args else None
    bakeplan(project, tmp_path / "cache", *args, env=env, stdin=stdin)
    assert not bakeplan(project, tmp_path / "cache", *args, env=env, stdin=stdin)[1]


def test_a_failed_run_is_not_kept(project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", PROBE, "print", "nosuch"], cwd=project, env=env, capture_output=True, text=True, timeout=60)
        assert "failed to find target nosuch" in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("True")  # the command ran both times


def test_a_compose_project_is_replayed_until_a_dot_env_appears(project: Path, tmp_path: Path) -> None:
    (project / "docker-bake.hcl").unlink()
    (project / "compose.yaml").write_text("services:\n  web:\n    build: .\n    image: me/web:${TAG:-dev}\n")
    first, _ = bakeplan(project, tmp_path / "cache", "web")
    assert '"me/web:dev"' in first
    assert bakeplan(project, tmp_path / "cache", "web") == (first, True)
    (project / ".env").write_text("TAG=from-dotenv\n")
    out, replayed = bakeplan(project, tmp_path / "cache", "web")
    assert (replayed, '"me/web:from-dotenv"' in out) == (False, True)


def test_a_secret_file_removed_since_is_looked_for_again(project: Path, tmp_path: Path) -> None:
    (project / "docker-bake.hcl").write_text('target "default" {\n  secret = ["id=token,src=token.txt"]\n}\n')
    (project / "token.txt").write_text("not printed\n")
    bakeplan(project, tmp_path / "cache")
    assert bakeplan(project, tmp_path / "cache")[1]
    (project / "token.txt").unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", PROBE, "print"], cwd=project, env=env, capture_output=True, text=True, timeout=60)
    assert "failed to stat token.txt" in proc.stderr


CORPUS = ROOT.parent / "shared" / "corpus" / "bake"
CORPUS_CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file()) if CORPUS.is_dir() else []


@pytest.mark.parametrize("case", CORPUS_CASES[::3])  # a third of the corpus: two processes each
def test_a_replayed_corpus_print_is_the_printed_one(case: str, corpus_dir: Path, tmp_path: Path) -> None:
    spec = json.loads((corpus_dir / case / "CASE.json").read_text())
    args = [arg for name in spec["files"] for arg in ("-f", name)] + spec["targets"]
    first, _ = bakeplan(corpus_dir / case, tmp_path / "cache", *args, env=spec["env"])
    again, replayed = bakeplan(corpus_dir / case, tmp_path / "cache", *args, env=spec["env"])
    stamped = any(b"timestamp(" in (corpus_dir / case / name).read_bytes() for name in spec["files"])
    assert replayed is not stamped  # a file that prints the time is evaluated again every run
    if replayed:
        assert again == first


def test_a_kept_argument_entry_of_another_shape_is_not_used() -> None:
    from bakeplan.cli.printout import stored_arguments

    whole = {"names": None, "files": None, "sets": ["*.platform=linux/arm64"], "vars_": None, "list_": None, "push": False,
             "load": False, "no_cache": False, "pull": False, "sbom": "", "provenance": "", "call": "build", "check": False}
    assert stored_arguments(dict(whole)) == whole
    assert stored_arguments({k: v for k, v in whole.items() if k != "check"}) is None
    assert stored_arguments({**whole, "extra": 1}) is None
    assert stored_arguments(None) is None


def test_a_flag_given_false_replays_as_itself_and_apart_from_the_flag(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pushed, _ = bakeplan(project, cache, "--push")
    first, replayed_first = bakeplan(project, cache, "--push=false")
    again, replayed_again = bakeplan(project, cache, "--push=false")
    assert (replayed_first, replayed_again) == (False, True)  # `--push=false` has an entry of its own
    assert again == first
    assert '"push": "true"' in pushed and '"output"' not in first
    assert bakeplan(project, cache, "--push") == (pushed, True)


def test_a_kept_false_flag_stays_false_when_the_file_changes(project: Path, tmp_path: Path) -> None:
    args = ("--no-cache", "--no-cache=false")
    assert typer_loaded(project, tmp_path / "cache", *args)
    (project / "docker-bake.hcl").write_text(HCL.replace('"dev"', '"edited"'))
    assert not typer_loaded(project, tmp_path / "cache", *args)  # the options typer read last time, kept
    out, replayed = bakeplan(project, tmp_path / "cache", *args)
    assert replayed
    assert '"me/app:edited"' in out
    assert '"no-cache": false' in out  # given false (buildx's `*.no-cache=false`), not left out
