"""The CI files' YAML (PyYAML's safe dumper, styled): whatever it writes, pyyaml (YAML 1.1, as CI parsers) reads back unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeplan.emit import yamldoc

ROOT = Path(__file__).resolve().parent.parent

TRICKY = [
    "", " ", "on", "Off", "yes", "NULL", "~", "=", ".inf", "1.0", "0x1f", "-", "- a", "a: b", "a #b", "a:",
    "${{ matrix.runner }}", "${{ !cancelled() }}", "'quoted'", '"dq"', "{x}", "[x]", "*alias", "&anchor",
    "!tag", "%pct", "@at", "`tick", "|pipe", ">fold", "?q", "a\tb", "trailing ", "line\n", "two\nlines",
    "two\nlines\n", "\nleading", "ends\n\n", "  indented\nnext", "x\n  deeper\n", "ünï\u2028code", "\x00\x7f\x85",
    "emoji 🙂", "#comment", "docker:27", "linux/arm64", "a,b", "1:20", "+1", "ghcr.io/acme/app:1", "a\x85b\nc",
    "a\u2028b\nc", "y", "N", "0o17", "a\r\nb",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip(text: str) -> None:
    document = {"key": text, text or "empty": [text, {"nested": text}]}
    assert yaml.safe_load(yamldoc.dump(document)) == document


def test_plain_style_where_safe() -> None:
    assert yamldoc.dump({"runs-on": "${{ matrix.runner }}", "on": True, "count": 3}) == (
        "runs-on: ${{ matrix.runner }}\n'on': true\ncount: 3\n"
    )


@pytest.mark.parametrize("text", ["y", "n", "Y", "N", "yes", "off", "null", "~", "0o17", "1.0", "1:20", "0x1f"])
def test_words_other_yaml_readers_take_for_booleans_or_numbers_are_quoted(text: str) -> None:
    assert yamldoc.dump({"k": text}) == f"k: '{text}'\n"


def test_block_literal_for_scripts() -> None:
    assert yamldoc.dump({"run": "echo a\necho b\n", "x": "a\nb"}) == "run: |\n  echo a\n  echo b\nx: |-\n  a\n  b\n"


def test_long_lines_are_not_folded_and_sequences_sit_at_their_keys_indent() -> None:
    command = "docker buildx bake " + " ".join(f"--set t.tags=t:{i}" for i in range(40))
    assert yamldoc.dump({"script": [command], "jobs": {"a": {"needs": ["b"]}}}) == (
        f"script:\n- {command}\njobs:\n  a:\n    needs:\n    - b\n"
    )


CI_FILES = sorted([*(ROOT / "tests" / "golden" / "ci").glob("*.yml"), *(ROOT / "matrices").glob("*/ci/*.yml")])


@pytest.mark.skipif(not hasattr(yaml, "CSafeDumper"), reason="PyYAML without libyaml: the Python emitter is all it has")
@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_without_libyaml_the_python_emitter_writes_the_same_ci_files(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert yamldoc.dump(document, _libyaml=False) == yamldoc.dump(document)


def test_empty_collections_and_sequences_of_mappings() -> None:
    text = yamldoc.dump({"needs": [], "with": {}, "steps": [{"uses": "a", "with": {"b": 1}}, "x", ["y"]]})
    assert yaml.safe_load(text) == {"needs": [], "with": {}, "steps": [{"uses": "a", "with": {"b": 1}}, "x", ["y"]]}


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=5))
def test_any_document_round_trips(document: dict[str, Any]) -> None:
    assert yaml.safe_load(yamldoc.dump(document)) == document


def test_an_object_used_twice_is_written_out_twice_without_anchors() -> None:
    shared = {"contents": "read"}
    assert yamldoc.dump({"a": shared, "b": shared}) == "a:\n  contents: read\nb:\n  contents: read\n"
