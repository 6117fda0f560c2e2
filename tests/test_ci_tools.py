"""Generated CI files checked by each CI system's own tools (installed by `make tools`).

- actionlint (with shellcheck for `run:` scripts) on the checked-in and golden
  workflows and on workflows generated for real corpus definitions: no finding.
- npm-groovy-lint on generated Jenkinsfiles: no error.
- gitlab-ci-local with its shell executor runs a generated child pipeline end
  to end, from the repository root, on the two real BuildKit daemons and the
  local registry: every leg builds, children read their parents by digest, the
  merge job creates a multi-platform index.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from bakeplan.bake.model import BakeResult, Target
from bakeplan.cache import parse_backend
from bakeplan.cli import main
from bakeplan.emit import github, jenkins
from bakeplan.emit.legs import EmitOptions, build_plan, runners_for
from bakeplan.emit.model import BakeCall
from bakeplan.emit.source import jobs_from_result
from tests.support import infra
from tests.support.ci import files_of
from tests.support.ci import strings as groovy_strings
from tests.support.clusters import Cluster
from tests.support.tools import ROOT, missing, need

CORPUS_SAMPLE = 12  # corpus definitions whose generated workflows actionlint reads (every 6th of 75)


def tool(name: str) -> str:
    """A pinned tool from .tools/bin (or PATH), or skip (fail under CI) naming it."""
    path = infra.find_tool(name)
    if path is None:
        missing(f"{name} (`make tools`)")
    assert path is not None
    return path


def actionlint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    need("shellcheck")
    argv = [tool("actionlint"), "-no-color", "-shellcheck", str(infra.find_tool("shellcheck")), *map(str, paths)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def corpus_workflows(corpus: Path, into: Path) -> list[Path]:
    """Workflows for a deterministic sample of the corpus, as buildx printed it, pushing with a registry cache."""
    cases = sorted(p for p in corpus.iterdir() if (p / "expected.json").is_file())
    written = []
    for case in cases[:: max(1, len(cases) // CORPUS_SAMPLE)]:
        document = json.loads((case / "expected.json").read_text())
        targets = {name: Target(name, fields) for name, fields in document["target"].items()}
        result = BakeResult({}, targets, (case / "docker-bake.hcl",), ("default",))
        options = EmitOptions(runners_for("github"), cache=parse_backend("registry:ghcr.io/acme/cache", fallbacks=["main"]),
                              push=True, limit=github.MATRIX_LIMIT, handoff="ghcr.io/acme/handoff")
        plan = build_plan(jobs_from_result(result), BakeCall(files=("docker-bake.hcl",), workdir=f"sub/{case.name}"), options)
        path = into / f"{case.name}.yml"
        path.write_text(github.render_workflow(plan, ["bakeplan", "ci", "github", "--push"], install="bakeplan==0.1.0",
                                               login="ghcr.io"))
        written.append(path)
    return written


def test_actionlint_and_shellcheck_find_nothing_in_generated_workflows(tmp_path: Path, corpus_dir: Path) -> None:
    checked_in = sorted(ROOT.glob("matrices/*/ci/github-workflow.yml")) + [ROOT / "tests/golden/ci/github-workflow.yml"]
    generated = corpus_workflows(corpus_dir, tmp_path)
    assert len(checked_in) == 4 and len(generated) >= CORPUS_SAMPLE
    done = actionlint([*checked_in, *generated])
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_reports_what_shellcheck_finds_in_a_run_script(tmp_path: Path) -> None:
    # The check above can fail: an unquoted $(...) is shellcheck's SC2046, through actionlint.
    workflow = tmp_path / "bad.yml"
    workflow.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ls $(cat files)\n")
    done = actionlint([workflow])
    assert done.returncode == 1 and "SC2046" in done.stdout


def job_scripts() -> dict[str, str]:
    """Every shell script of the checked-in and golden GitLab pipelines and Jenkinsfiles, by where it is."""
    scripts = {}
    for path in [*sorted(ROOT.glob("matrices/*/ci/gitlab*.yml")), *sorted(ROOT.glob("tests/golden/ci/gitlab*.yml"))]:
        document = yaml.safe_load(path.read_text())
        before = document.get("default", {}).get("before_script", [])
        for name, job in document.items():
            if isinstance(job, dict) and "script" in job:
                scripts[f"{path.relative_to(ROOT)}:{name}"] = "\n".join([*before, *job["script"]]) + "\n"
    for path in [*sorted(ROOT.glob("matrices/*/ci/Jenkinsfile")), ROOT / "tests/golden/ci/Jenkinsfile"]:
        steps = re.finditer(r"sh ('\'\'.*?'\'\'|'(?:[^'\\]|\\.)*')", path.read_text(), re.DOTALL)
        for number, step in enumerate(steps):
            [script] = groovy_strings(step.group(1))
            scripts[f"{path.relative_to(ROOT)}:sh {number}"] = script
    return scripts


def shellcheck(script: str) -> str:
    need("shellcheck")
    done = subprocess.run(["shellcheck", "-s", "sh", "-f", "gcc", "-"], input=script, capture_output=True, text=True,
                          timeout=60, check=False)
    return done.stdout


def test_shellcheck_finds_nothing_in_gitlab_and_jenkins_job_scripts() -> None:
    scripts = job_scripts()
    assert sum(":sh " in where for where in scripts) > 50 and len(scripts) > 100
    assert {where: found for where, script in scripts.items() if (found := shellcheck(script))} == {}
    assert "SC2046" in shellcheck("ls $(cat files)\n")  # and it does find things


@pytest.mark.slow
def test_npm_groovy_lint_finds_no_error_in_generated_jenkinsfiles(tmp_path: Path) -> None:
    need("java")
    linter = tool("npm-groovy-lint")
    # The checked-in plan with links, hand-overs and merges; one logging in from a subdirectory.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Jenkinsfile").write_text((ROOT / "matrices/services/ci/Jenkinsfile").read_text())
    targets = {"app": Target("app", {"context": ".", "platforms": ["linux/amd64", "linux/arm64"], "tags": ["docker.io/acme/app:1"]})}
    plan = build_plan(jobs_from_result(BakeResult({}, targets, (Path("docker-bake.hcl"),), ("default",))),
                      BakeCall(files=("docker-bake.hcl",), workdir="images/app"), EmitOptions(runners_for("jenkins"), push=True))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "Jenkinsfile").write_text(jenkins.render(plan, login=jenkins.Login("docker.io", "hub")))
    # The form of big layers (branches from functions, a shared bakeLeg), forced here on a small plan.
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "Jenkinsfile").write_text(jenkins.render(plan, login=jenkins.Login("docker.io", "hub"), _per_method=1))
    # --noserver: no CodeNarc server left running after the test.
    files = ["a/Jenkinsfile", "b/Jenkinsfile", "c/Jenkinsfile"]
    done = subprocess.run([linter, "--noserver", "--output", "json", *files], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, check=False)
    report = json.loads(done.stdout)
    assert report["summary"]["totalFilesLinted"] == 3
    errors = [e for f in report["files"].values() for e in f["errors"] if e["severity"] == "error"]
    assert errors == [] and report["summary"]["totalFoundErrorNumber"] == 0


BAKE = """
target "base" {
  context = "base"
  platforms = ["linux/amd64", "linux/arm64"]
}
target "app" {
  context = "app"
  contexts = { base = "target:base" }
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["%(registry)s/glcl/app:%(mark)s"]
}
"""
FILES = {
    "base/Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /base.txt\n",
    "base/amd64.txt": "base amd64 %(mark)s\n",
    "base/arm64.txt": "base arm64 %(mark)s\n",
    "app/Dockerfile": "FROM base\nCOPY app.txt /app.txt\n",
    "app/app.txt": "app %(mark)s\n",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.mark.buildkit
@pytest.mark.slow
def test_gitlab_ci_local_runs_a_generated_pipeline_from_the_repository_root(
    tmp_path: Path, buildkit_nodes: Cluster, two_node_builder: str, registry: infra.Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = tool("gitlab-ci-local")
    need("git", "rsync", "jq")
    mark = str(time.time_ns())
    repo = tmp_path / "repo"
    project = repo / "images"  # generated in a subdirectory; GitLab runs jobs at the repository root
    for name, text in {"docker-bake.hcl": BAKE, **FILES}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text % {"registry": registry.host, "mark": mark})
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", "https://gitlab.example.com/acme/project.git")
    monkeypatch.chdir(project)
    main(["ci", "gitlab", "--push", "--handoff", f"registry:{registry.host}/glcl/handoff",
          "--cache", f"registry:{registry.host}/glcl/cache", "--service", "none", "-o", "pipeline.yml", "app"])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")  # gitlab-ci-local copies the tracked files into each job
    env = dict(buildkit_nodes.cli.env)
    env.pop("BUILDX_NO_DEFAULT_ATTESTATIONS", None)  # pushes are indexes with attestations, as in CI
    argv = [runner, "--file", "images/pipeline.yml", "--force-shell-executor", "--shell-isolation", "--no-color",
            "--variable", f"BUILDX_BUILDER={two_node_builder}", "--variable", f"DOCKER_CONFIG={env['DOCKER_CONFIG']}",
            "--home", str(tmp_path / "home")]
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=1200, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    passed = [line.split()[1] for line in log.splitlines() if line.strip().startswith("PASS")]
    assert passed == ["base-linux-amd64", "base-linux-arm64", "app-linux-amd64", "app-linux-arm64", "merge-app"]
    for arch in ("amd64", "arm64"):
        # Each platform of the index holds its own base, read by digest from the parent's leg.
        assert files_of(registry, "glcl/app", mark, arch) == {"base.txt": f"base {arch} {mark}\n", "app.txt": f"app {mark}\n"}
    # The per-leg registry cache was written through the `cache-to+=` overrides.
    with urllib.request.urlopen(f"http://{registry.host}/v2/glcl/cache/tags/list", timeout=30) as response:
        tags = json.loads(response.read())["tags"]
    assert sorted(tags) == ["app-linux-amd64", "app-linux-arm64", "base-linux-amd64", "base-linux-arm64"]
