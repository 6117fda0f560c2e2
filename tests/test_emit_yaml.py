"""The small YAML writer: whatever it writes, pyyaml (YAML 1.1, as CI parsers) reads back unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeplan.emit import yamlout

TRICKY = [
    "", " ", "on", "Off", "yes", "NULL", "~", "=", ".inf", "1.0", "0x1f", "-", "- a", "a: b", "a #b", "a:",
    "${{ matrix.runner }}", "${{ !cancelled() }}", "'quoted'", '"dq"', "{x}", "[x]", "*alias", "&anchor",
    "!tag", "%pct", "@at", "`tick", "|pipe", ">fold", "?q", "a\tb", "trailing ", "line\n", "two\nlines",
    "two\nlines\n", "\nleading", "ends\n\n", "  indented\nnext", "x\n  deeper\n", "ünï\u2028code", "\x00\x7f\x85",
    "emoji 🙂", "#comment", "docker:27", "linux/arm64", "a,b", "1:20", "+1", "ghcr.io/acme/app:1",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip(text: str) -> None:
    document = {"key": text, text or "empty": [text, {"nested": text}]}
    assert yaml.safe_load(yamlout.dump(document)) == document


def test_plain_style_where_safe() -> None:
    assert yamlout.dump({"runs-on": "${{ matrix.runner }}", "on": True, "count": 3}) == (
        'runs-on: ${{ matrix.runner }}\n"on": true\ncount: 3\n'
    )


def test_block_literal_for_scripts() -> None:
    assert yamlout.dump({"run": "echo a\necho b\n", "x": "a\nb"}) == "run: |\n  echo a\n  echo b\nx: |-\n  a\n  b\n"


def test_empty_collections_and_sequences_of_mappings() -> None:
    text = yamlout.dump({"needs": [], "with": {}, "steps": [{"uses": "a", "with": {"b": 1}}, "x", ["y"]]})
    assert yaml.safe_load(text) == {"needs": [], "with": {}, "steps": [{"uses": "a", "with": {"b": 1}}, "x", ["y"]]}


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=5))
def test_any_document_round_trips(document: dict[str, Any]) -> None:
    assert yaml.safe_load(yamlout.dump(document)) == (document or None)
