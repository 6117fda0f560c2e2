"""`bakeplan ci` end to end: real bake files, golden outputs, $GITHUB_OUTPUT, --since, check-matrices."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bakeplan.cli import main
from bakeplan.emit import check

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "ci"
UPDATE = os.environ.get("BAKEPLAN_UPDATE_GOLDEN") == "1"

BAKE = """
variable "CI_TEST_TAG" {
  default = "1.0"
}
group "default" {
  targets = ["web", "tool"]
}
target "base" {
  context = "base"
  platforms = ["linux/amd64", "linux/arm64"]
}
target "web" {
  context = "web"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["ghcr.io/acme/web:${CI_TEST_TAG}"]
}
target "tool" {
  name = "tool-${os}"
  matrix = { os = ["linux", "windows"] }
  context = "tool"
  args = { GOOS = os }
  platforms = ["linux/riscv64"]
}
"""

HANDOFF = ["--handoff", "registry:ghcr.io/acme/handoff"]
COMMANDS = {
    # no registry: web's legs rebuild base from its cache
    "github.json": ["github", "--cache", "gha"],
    # hand-over: base (linked only) pushed by digest to the hand-over repository, read by web
    "github-workflow.yml": ["github", "--workflow", "--push", "--login", "ghcr.io", *HANDOFF],
    "gitlab.yml": ["gitlab", "--push", "--runner", "linux/riscv64=riscv", *HANDOFF],
    "gitlab-matrix.yml": ["gitlab", "--mode", "matrix", "--cache", "registry:ghcr.io/acme/cache", *HANDOFF],
    # --push but base has no repository: rebuilt from scratch in web's legs, and the file says so
    "Jenkinsfile": ["jenkins", "--push", "--var", "CI_TEST_TAG=2.0"],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bake project as the working directory, outside GitHub Actions."""
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    for name in ("base", "web", "tool"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "CI_TEST_TAG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["ci", *args])
    return capsys.readouterr().out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_golden_outputs(project: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    text = run(capsys, *COMMANDS[name])
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"regenerate with BAKEPLAN_UPDATE_GOLDEN=1 if intended: {golden}"
    assert run(capsys, *COMMANDS[name]) == text  # deterministic


def test_only_selects_by_matrix_value_and_keeps_what_is_needed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(run(capsys, "github", "--only", "os=windows"))["include"]
    assert [row["id"] for row in rows] == ["tool-windows-linux-riscv64"]
    # A child selected alone still gets its parents' legs: buildx builds them in its invocation anyway.
    ids = [row["id"] for m in json.loads(run(capsys, "github", "--only", "target=web"))["matrices"] for row in m["include"]]
    assert ids == ["base-linux-amd64", "base-linux-arm64", "web-linux-amd64", "web-linux-arm64"]


def test_output_option_writes_the_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "gitlab", "-o", "child.yml") == ""
    assert "web-linux-arm64" in yaml.safe_load((project / "child.yml").read_text())


def test_inside_github_actions_outputs_and_summary_are_written(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(project / "out"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project / "summary"))
    (project / "out").write_text("earlier=1\n")
    printed = json.loads(run(capsys, "github"))
    text = (project / "out").read_text()
    assert text.startswith("earlier=1\nmatrix_0_0<<ghadelimiter_")
    values = parse_output(text.split("\n", 1)[1])
    assert json.loads(values["matrix_1_0"]) == {"include": printed["matrices"][1]["include"]}
    assert values["count_0_0"] == "4" and values["omitted"] == "[]"
    assert "bakeplan" in (project / "summary").read_text()


def parse_output(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        values[name] = "\n".join(iter(lambda: next(lines), delimiter))
    return values


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_since_leaves_out_unchanged_jobs_and_says_why(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    (project / "tool" / "main.go").write_text("package main\n")
    text = run(capsys, "gitlab", "--since", "HEAD")
    document = yaml.safe_load(text)
    assert [name for name in document if "-linux-" in name] == ["tool-linux-linux-riscv64", "tool-windows-linux-riscv64"]
    assert "# left out base-linux-amd64, base-linux-arm64: no change since HEAD in base, base/Dockerfile, nor in what it depends on\n" in text


def test_since_reports_to_stderr(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"], cwd=project, check=True)
    main(["ci", "jenkins", "--since", "HEAD"])
    captured = capsys.readouterr()
    assert captured.err.count("left out ") == 3  # one line per target: its platforms share a reason
    assert "stage('nothing to build')" in captured.out


def test_the_workflow_plan_job_fails_clearly_when_the_workflow_is_stale(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = yaml.safe_load(run(capsys, "github", "--workflow"))
    command = next(s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan")["run"]
    assert command == "bakeplan ci github --expect-chunks build-0-0,build-1-0 --expect-no-merges"
    assert json.loads(run(capsys, "github", "--expect-chunks", "build-0-0,build-1-0", "--expect-no-merges"))["matrices"]
    with pytest.raises(SystemExit):
        main(["ci", "github", "--expect-chunks", "build-0-0"])
    assert "regenerate the workflow" in capsys.readouterr().err
    # A target that now pushes a multi-platform image needs a merge job the workflow lacks.
    with pytest.raises(SystemExit):
        main(["ci", "github", "--push", "--expect-chunks", "build-0-0,build-1-0", "--expect-no-merges"])
    assert "but the workflow has no merge job" in capsys.readouterr().err


def test_a_malformed_runner_is_a_usage_error_in_one_clear_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ci", "github", "--runner", "nolabel"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: bad --runner 'nolabel'")


@pytest.mark.slow
def test_checked_in_matrices_are_fresh() -> None:
    """`make check-matrices`: every matrices/<example>/ci/* file matches a fresh run."""
    outcomes = check.check(ROOT / "matrices")
    assert outcomes, "no checked-in CI plans under matrices/"
    stale = [str(o.path) for o in outcomes if not o.fresh]
    assert not stale, f"stale (run `python -m bakeplan.emit.check --write matrices`): {stale}"


def test_check_fails_on_a_stale_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = tmp_path / "one"
    (example / "ci").mkdir(parents=True)
    (example / "docker-bake.hcl").write_text('target "default" {\n  platforms = ["linux/amd64"]\n}\n')
    (example / "ci" / "gitlab.yml").write_text("stale\n")
    assert check.main([str(tmp_path)]) == 1
    assert "stale: " in capsys.readouterr().err
    assert check.main(["--write", str(tmp_path)]) == 0
    assert check.main([str(tmp_path)]) == 0


def test_an_unknown_gitlab_mode_is_a_usage_error(project: Path) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "gitlab", "--mode", "bogus"])
    assert done.value.code == 2


def test_a_filter_that_matches_nothing_fails_rather_than_emitting_an_empty_matrix(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "github", "--only", "os=linx"])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "no job matches --only os=linx" in err and "os: linux, windows" in err


def test_an_output_file_that_cannot_be_written_is_one_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "github", "--output", str(project / "missing-dir" / "matrix.json")])
    assert done.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith(f"error: cannot write {project / 'missing-dir' / 'matrix.json'}: ")


def test_a_definition_on_stdin_is_refused_before_reading_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "gitlab", "-f", "-"])
    assert done.value.code == 1
    assert capsys.readouterr().err.startswith("error: `-f -` reads the bake definition from stdin, which the generated CI")


def test_a_bad_handoff_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "gitlab", "--handoff", "ghcr.io/acme/handoff"])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("error: bad --handoff 'ghcr.io/acme/handoff'")


def test_rebuilt_parents_are_reported_on_stderr_with_a_warning_without_cache(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ci", "gitlab"])
    assert capsys.readouterr().err.splitlines() == [
        "parents rebuilt inside their children's legs (no registry to hand them over by digest: "
        "pass --push or --handoff registry:REPO): base",
        "warning: no --cache: parents are rebuilt from scratch in every child leg: base",
    ]
    main(["ci", "gitlab", "--cache", "registry:ghcr.io/acme/cache"])
    assert len(capsys.readouterr().err.splitlines()) == 1  # said, but no warning
    main(["ci", "gitlab", *HANDOFF])
    assert capsys.readouterr().err == ""  # handed over: nothing rebuilt


def test_the_workflow_plan_job_passes_the_handoff_option_on(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = yaml.safe_load(run(capsys, "github", "--workflow", *HANDOFF))
    assert next(s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan")["run"] == (
        "bakeplan ci github --handoff registry:ghcr.io/acme/handoff --expect-chunks build-0-0,build-1-0 --expect-no-merges"
    )


@pytest.mark.parametrize(("install", "source", "step"), [
    (None, "bakeplan==0.1.0", "python -m pip install --no-input bakeplan==0.1.0"),
    ("bakeplan==0.1.0", "bakeplan==0.1.0", "python -m pip install --no-input bakeplan==0.1.0"),
    ("dist/bakeplan-0.1.0-py3-none-any.whl", None, "python -m pip install --no-input ./dist/bakeplan-0.1.0-py3-none-any.whl"),
    ("git+https://example.com/acme/bakeplan.git@" + "a" * 40, None,
     "python -m pip install --no-input git+https://example.com/acme/bakeplan.git@" + "a" * 40),
])
def test_the_workflow_installs_a_pinned_source(
    project: Path, capsys: pytest.CaptureFixture[str], install: str | None, source: str | None, step: str
) -> None:
    import bakeplan

    workflow = yaml.safe_load(run(capsys, "github", "--workflow", *(["--install", install] if install else [])))
    [installing] = [s for s in workflow["jobs"]["plan"]["steps"] if s.get("name") == "Install bakeplan"]
    assert installing["run"] == step
    assert source is None or source == f"bakeplan=={bakeplan.__version__}"  # the default pins the running version


@pytest.mark.parametrize("install", ["bakeplan", "bakeplan>=0.1", "git+https://example.com/acme/bakeplan.git@main",
                                     "../bakeplan-0.1.0-py3-none-any.whl", "pip install bakeplan"])
def test_an_unpinned_install_source_is_refused(project: Path, capsys: pytest.CaptureFixture[str], install: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ci", "github", "--workflow", "--install", install])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: bad --install {install!r}: not a pinned source of bakeplan")


def test_the_workflow_runs_one_ref_at_a_time_and_grants_package_writes_only_to_pushing_jobs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = yaml.safe_load(run(capsys, "github", "--workflow", "--push", "--login", "ghcr.io"))
    assert workflow["concurrency"] == {"group": "bake-${{ github.ref }}", "cancel-in-progress": False}
    assert workflow["permissions"] == {"contents": "read"} and "permissions" not in workflow["jobs"]["plan"]
    assert all(job["permissions"] == {"contents": "read", "packages": "write"}
               for name, job in workflow["jobs"].items() if name != "plan")
    uploads = [s for job in workflow["jobs"].values() for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and all(s["with"]["overwrite"] is True for s in uploads)  # "re-run all jobs" uploads again


@pytest.mark.parametrize("system", ["gitlab", "jenkins"])
def test_the_gha_cache_is_refused_outside_github(project: Path, capsys: pytest.CaptureFixture[str], system: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ci", system, "--cache", "gha"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: --cache gha needs GitHub Actions' cache service, which {system}")


def test_files_generated_in_a_subdirectory_run_from_the_repository_root(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project.parent / "repo"
    shutil.copytree(project, repo / "images" / "web")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    monkeypatch.chdir(repo / "images" / "web")
    workflow = yaml.safe_load(run(capsys, "github", "--workflow"))
    [plan_step] = [s for s in workflow["jobs"]["plan"]["steps"] if s.get("id") == "plan"]
    assert plan_step["working-directory"] == "images/web"
    assert all(s["with"]["workdir"] == "images/web" for job in workflow["jobs"].values() for s in job["steps"]
               if s.get("id") == "bake")
    assert yaml.safe_load(run(capsys, "gitlab"))["default"]["before_script"] == ["cd -- images/web || exit 1"]
    assert "dir('images/web') {" in run(capsys, "jenkins")


def test_inside_github_actions_outputs_over_the_limit_go_to_the_legs_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2,000 legs pushing with a registry cache and a fallback scope: about 1.3 MB of matrix rows.
    targets = "".join(f'target "t{i:04d}" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n'
                      f'  tags = ["ghcr.io/acme/t{i:04d}:1"]\n}}\n' for i in range(1000))
    group = 'group "default" {\n  targets = [' + ", ".join(f'"t{i:04d}"' for i in range(1000)) + "]\n}\n"
    (tmp_path / "docker-bake.hcl").write_text(group + targets)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path / "temp"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run(capsys, "github", "--push", "--cache", "registry:ghcr.io/acme/cache", "--cache-fallback", "main")
    values = parse_output((tmp_path / "out").read_text())
    assert values["spill"] == "true" and sum(len(k) + len(v.encode()) for k, v in values.items()) <= 1024 * 1024
    legs = json.loads((tmp_path / "temp" / "bakeplan-legs" / "legs.json").read_text())
    assert len(legs) == 2000 and "t0999.cache-from+=type=registry,ref=ghcr.io/acme/cache:main-t0999-linux-arm64" in (
        legs["t0999-linux-arm64"]["set"])
    rows = json.loads(values["matrix_0_7"])["include"]
    assert rows[-1]["id"] == "t0999-linux-arm64" and rows[-1]["set"] == "" and rows[-1]["spill"] is True


@pytest.mark.parametrize("spec", ["registy:ghcr.io/me/cache", "nonsense"])
def test_a_malformed_cache_value_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str], spec: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "github", "--cache", spec])
    assert done.value.code == 2
    assert f"bad --cache {spec!r}" in capsys.readouterr().err


def test_a_filter_that_is_not_key_value_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ci", "github", "--only", "linux"])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("error: bad filter 'linux': expected KEY=VALUE")
