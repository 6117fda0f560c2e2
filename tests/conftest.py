"""Shared fixtures: the pinned buildx plugin (and, later, real BuildKit daemons).

A test that needs a tool which is not installed skips with a reason naming it;
under CI=true it fails instead, because CI must run those tests for real.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
SHARED = ROOT.parent / "shared"


def missing(what: str) -> None:
    """Skip (or, in CI, fail) because a required tool is not installed."""
    reason = f"{what} is not installed (run `make tools`)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run this test for real")
    pytest.skip(reason)


@dataclass(frozen=True)
class Buildx:
    """How to run the pinned `docker buildx` plugin."""

    docker: str
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        """The argv of `docker buildx ARGS...`."""
        return [self.docker, "buildx", *args]


@pytest.fixture(scope="session")
def buildx() -> Buildx:
    """The docker CLI with the pinned buildx plugin, in an isolated DOCKER_CONFIG."""
    docker = shutil.which("docker")
    if docker is None:
        missing("the docker CLI")
    plugin = TOOLS / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        missing("the buildx plugin (.tools/docker/cli-plugins/docker-buildx)")
    env = dict(os.environ, DOCKER_CONFIG=str(TOOLS / "docker"), BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    return Buildx(docker=str(docker), env=env)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared real-world bake corpus, or skip when ../shared is absent."""
    path = SHARED / "corpus" / "bake"
    if not path.is_dir():
        pytest.skip("../shared/corpus/bake is absent")
    return path
