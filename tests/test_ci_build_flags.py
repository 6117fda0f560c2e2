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
        # buildx's pflag forms: `--no-cache=false` is given (false), not absent; the last one wins.
        (["--no-cache=false"], "'*.no-cache=false'"),
        (["--pull", "--pull=0"], "'*.pull=false'"),
        (["--no-cache=F", "--no-cache=TRUE"], "'*.no-cache=true'"),
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


def test_a_flag_left_out_hands_nothing_to_the_legs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    ci.register(app)
    result = CliRunner().invoke(app, ["ci", "gitlab", "--runner", "default=docker"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "*.no-cache=" not in result.stdout and "*.pull=" not in result.stdout


def test_a_bad_flag_value_is_a_usage_error_worded_as_buildx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    ci.register(app)
    result = CliRunner().invoke(app, ["ci", "gitlab", "--runner", "default=docker", "--pull=yes"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert 'invalid argument "yes" for "--pull" flag: strconv.ParseBool: parsing "yes": invalid syntax' in result.output
