"""`--since REV` on a real temporary git repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest, BakeResult, Target
from bakeplan.emit.build import CIRequest, ci_plan
from bakeplan.emit.legs import EmitOptions, runners_for
from bakeplan.emit.since import changed_files
from bakeplan.errors import BakeplanError

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

TARGETS: dict[str, dict[str, Any]] = {
    "base": {"context": "base", "platforms": ["linux/amd64", "linux/arm64"]},
    "app": {"context": "app", "dockerfile": "../docker/app.Dockerfile", "platforms": ["linux/amd64", "linux/arm64"],
            "contexts": {"base": "target:base", "assets": "./assets"}},
    "tool": {"context": "tool", "secret": [{"id": "npmrc", "src": "secrets/npmrc"}]},
    "remote": {"context": "https://github.com/acme/thing.git#main"},
}
FILES = ["docker-bake.hcl", "base/Dockerfile", "app/main.go", "docker/app.Dockerfile", "assets/logo.svg",
         "tool/Dockerfile", "README.md"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit holding every input file."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "ci@example.com")
    git(tmp_path, "config", "user.name", "ci")
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"{name}\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def commit(repo: Path, *names: str) -> None:
    for name in names:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.read_text() + "changed\n" if path.exists() else "new\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")


def plan_since(repo: Path, rev: str, cwd: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """Kept leg ids, and the omitted ones with their reasons."""
    result = BakeResult({}, {n: Target(n, f) for n, f in TARGETS.items()}, ((cwd or repo) / "docker-bake.hcl",), ("default",))
    request = CIRequest(BakeRequest(cwd=cwd or repo), EmitOptions(runners_for("github")), since=rev)
    plan = ci_plan(request, result)
    return [leg.id for leg in plan.legs], {o.job: o.reason for o in plan.omitted}


def test_a_change_in_a_parent_keeps_it_and_its_dependents(repo: Path) -> None:
    commit(repo, "base/Dockerfile")
    kept, omitted = plan_since(repo, "HEAD~1")
    assert kept == ["base-linux-amd64", "base-linux-arm64", "remote-native", "app-linux-amd64", "app-linux-arm64"]
    assert omitted == {
        "tool-native": "no change since HEAD~1 in tool, tool/Dockerfile, secrets/npmrc, nor in what it depends on"
    }


@pytest.mark.parametrize(
    "changed", ["docker/app.Dockerfile", "docker/app.Dockerfile.dockerignore", "assets/new.png", "app/main.go"]
)
def test_a_dockerfile_outside_the_context_and_named_contexts_count(repo: Path, changed: str) -> None:
    commit(repo, changed)
    kept, omitted = plan_since(repo, "HEAD~1")
    assert kept == ["remote-native", "app-linux-amd64", "app-linux-arm64"]
    assert set(omitted) == {"base-linux-amd64", "base-linux-arm64", "tool-native"}
    assert omitted["base-linux-amd64"].startswith("no change since HEAD~1 in base, base/Dockerfile")


def test_a_secret_file_counts_and_is_named(repo: Path) -> None:
    commit(repo, "README.md")
    _, omitted = plan_since(repo, "HEAD~1")
    assert omitted["tool-native"] == "no change since HEAD~1 in tool, tool/Dockerfile, secrets/npmrc, nor in what it depends on"
    commit(repo, "secrets/npmrc")
    kept, _ = plan_since(repo, "HEAD~1")
    assert kept == ["tool-native", "remote-native"]


def test_a_change_elsewhere_keeps_only_what_git_cannot_judge(repo: Path) -> None:
    commit(repo, "README.md")
    kept, _ = plan_since(repo, "HEAD~1")
    assert kept == ["remote-native"]


def test_a_bake_file_change_keeps_everything(repo: Path) -> None:
    commit(repo, "docker-bake.hcl")
    kept, omitted = plan_since(repo, "HEAD~1")
    assert len(kept) == 6 and omitted == {}


def test_uncommitted_and_untracked_files_count(repo: Path) -> None:
    (repo / "tool" / "extra.txt").write_text("x\n")
    kept, _ = plan_since(repo, "HEAD")
    assert "tool-native" in kept


def test_paths_resolve_from_a_subdirectory_cwd(repo: Path) -> None:
    sub = repo / "sub"
    (sub / "tool").mkdir(parents=True)
    (sub / "tool" / "Dockerfile").write_text("FROM scratch\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sub")
    commit(repo, "sub/tool/Dockerfile")
    kept, _ = plan_since(repo, "HEAD~1", cwd=sub)
    assert kept == ["tool-native", "remote-native"]


def test_changed_files_are_absolute_and_sorted(repo: Path) -> None:
    commit(repo, "tool/Dockerfile", "app/main.go")
    assert changed_files("HEAD~1", repo) == ((repo / "app/main.go").resolve(), (repo / "tool/Dockerfile").resolve())


def test_an_unknown_revision_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(BakeplanError, match="git diff --name-only failed"):
        changed_files("no-such-rev", repo)


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BakeplanError, match="git rev-parse"):
        changed_files("HEAD", tmp_path)


def test_a_child_whose_parent_is_left_out_rebuilds_it_and_a_changed_parent_is_handed_over(repo: Path) -> None:
    result = BakeResult({}, {n: Target(n, f) for n, f in TARGETS.items()}, (repo / "docker-bake.hcl",), ("default",))
    options = EmitOptions(runners_for("github"), handoff="reg.example/handoff")
    commit(repo, "app/main.go")
    plan = ci_plan(CIRequest(BakeRequest(cwd=repo), options, since="HEAD~1"), result)
    app = next(leg for leg in plan.legs if leg.id == "app-linux-arm64")
    # base's leg does not run this time: no digest to read, so app builds base itself.
    assert app.rebuilt == ("base",) and not app.handoffs and "base.platform=linux/arm64" in app.overrides
    commit(repo, "base/Dockerfile")
    plan = ci_plan(CIRequest(BakeRequest(cwd=repo), options, since="HEAD~1"), result)
    app = next(leg for leg in plan.legs if leg.id == "app-linux-arm64")
    assert [h.leg for h in app.handoffs] == ["base-linux-arm64"] and not app.rebuilt
