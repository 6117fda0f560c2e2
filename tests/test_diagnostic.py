"""Errors on stderr: the message, the source line with a caret under the column, the hint; colour only on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeplan.cli.diagnostic import render
from bakeplan.errors import BakeFileError, BakeplanError, Location

ROOT = Path(__file__).resolve().parent.parent


def test_a_bake_file_error_shows_its_line_and_a_caret_under_the_word(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "a" {\n  tags = [nope]\n}\n')
    proc = subprocess.run([sys.executable, "-m", "bakeplan", "print", "a"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "BAKEPLAN_NO_CACHE": "1"}, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[:3] == [
        'error: docker-bake.hcl:2:11: Unknown variable; There is no variable named "nope"., and 1 other diagnostic(s)',
        "    2 |   tags = [nope]",
        "      |           ^^^^",
    ]
    assert "\033[" not in proc.stderr  # not a terminal: plain text


def test_tabs_are_kept_so_the_caret_lines_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("b.hcl").write_text('target "a" {\n\ttags = [nope]\n}\n')
    text = render(BakeFileError("Unknown variable", Location("b.hcl", 2, 10)))
    assert text.splitlines()[1:] == ["    2 | \ttags = [nope]", "      | \t        ^^^^"]


def test_colour_marks_the_word_and_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("b.hcl").write_text('x = 1\n')
    text = render(BakeFileError("bad", Location("b.hcl", 1, 1), hint="Fix it."), color=True)
    assert "\033[31m^\033[0m" in text
    assert text.endswith("Fix it.\n")


@pytest.mark.parametrize("location", [Location("-", 1, 1), Location("gone.hcl", 1, 1), Location("b.hcl", 9, 1), Location("b.hcl", 1, 40)])
def test_no_excerpt_when_the_line_cannot_be_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: Location) -> None:
    monkeypatch.chdir(tmp_path)
    Path("b.hcl").write_text("x = 1\n")
    assert render(BakeFileError("bad", location)) == f"error: {location}: bad\n"


def test_other_errors_are_message_and_hint() -> None:
    assert render(BakeplanError("no node can build linux/s390x", hint="Declare one.")) == "error: no node can build linux/s390x\nDeclare one.\n"
