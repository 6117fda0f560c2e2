"""`bakeplan ci` takes buildx's build flags that make sense in CI and hands them to every leg as `--set`s."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bakeplan.cli import ci

HCL = 'target "default" {\n  platforms = ["linux/amd64"]\n}\n'


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--no-cache"], "'*.no-cache=true'"),
        (["--pull"], "'*.pull=true'"),
        (["--sbom", "true"], "'*.attest=type=sbom,disabled=false'"),
        (["--provenance", "mode=max"], "'*.attest=type=provenance,mode=max'"),
    ],
)
def test_gitlab_legs_carry_the_build_flags(flags: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    ci.register(app)
    result = CliRunner().invoke(app, ["ci", "gitlab", "--runner", "default=docker", *flags])
    assert result.exit_code == 0, (result.output, result.exception)
    bake_lines = [line for line in result.stdout.splitlines() if "docker buildx bake" in line and "# Generated" not in line]
    assert bake_lines and all(expected in line for line in bake_lines)
