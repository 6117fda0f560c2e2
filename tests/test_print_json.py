"""The --print JSON writer: Go's MarshalIndent and escaping, the --list table."""

from __future__ import annotations

import pytest

from bakeplan.bake.printing import go_string, marshal_indent, parse_list_option, render_targets_list, tabwrite
from bakeplan.errors import BakeplanError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        ("<a & b>", '"\\u003ca \\u0026 b\\u003e"'),
        ('q"\\', '"q\\"\\\\"'),
        ("tab\tnl\ncr\r", '"tab\\tnl\\ncr\\r"'),
        ("\b\f\x01\x7f", '"\\b\\f\\u0001\x7f"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("é日本", '"é日本"'),
        ("a\ud800b", '"a\ufffdb"'),  # a lone surrogate (from a JSON file's "\ud800"): Go writes U+FFFD, as buildx prints
    ],
)
def test_strings_are_escaped_like_go_encoding_json(text: str, expected: str) -> None:
    assert go_string(text) == expected


def test_marshal_indent_matches_go_layout() -> None:
    value = {"b": [1, "x"], "a": {}, "c": [], "d": None, "e": True, "f": {"k": "v"}}
    assert marshal_indent(value) == (
        '{\n  "b": [\n    1,\n    "x"\n  ],\n  "a": {},\n  "c": [],\n  "d": null,\n  "e": true,\n'
        '  "f": {\n    "k": "v"\n  }\n}'
    )


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("targets", ("targets", "table")),
        ("variables", ("variables", "table")),
        ("type=targets,format=json", ("targets", "json")),
        ("format=json,type=variables", ("variables", "json")),
    ],
)
def test_list_option_forms(option: str, expected: tuple[str, str]) -> None:
    assert parse_list_option(option) == expected


@pytest.mark.parametrize("option", ["nope", "type=targets,format=yaml", "type=targets,color=red", "targets,x"])
def test_bad_list_options_are_errors(option: str) -> None:
    with pytest.raises(BakeplanError):
        parse_list_option(option)


def test_tabwriter_pads_with_tabs_to_eight_column_stops() -> None:
    assert tabwrite([["TARGET", "DESCRIPTION"], ["a-very-long-name", "x"], ["b", ""]]) == (
        "TARGET\t\t\tDESCRIPTION\na-very-long-name\tx\nb\t\t\t\n"
    )


def test_target_list_hides_private_names_and_sorts() -> None:
    entries = [("zeta", "", False), ("_private", "", False), ("all", "a, b", True)]
    assert render_targets_list(entries, "table") == "TARGET\tDESCRIPTION\nall\ta, b\nzeta\t\n"
    assert render_targets_list(entries, "json") == (
        '[\n  {\n    "name": "all",\n    "description": "a, b",\n    "group": true\n  },\n  {\n    "name": "zeta"\n  }\n]\n'
    )
