"""Where the tools are, and skipping (failing under CI=true) when one is not installed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
SHARED = ROOT.parent / "shared"


def missing(what: str) -> None:
    """Skip (or, in CI, fail) because a required tool is not installed."""
    reason = f"{what} is not installed (run `make tools`)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run this test for real")
    pytest.skip(reason)


def need(*tools: str) -> None:
    """Skip (or, in CI, fail) unless every named command is on PATH (jq, bash, ...: Debian's, see tools/install.sh)."""
    for tool in tools:
        if shutil.which(tool) is None:
            missing(tool)


def pinned_versions() -> dict[str, str]:
    """tools/versions.env: the tool versions `make tools` installs."""
    lines = (ROOT / "tools" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
