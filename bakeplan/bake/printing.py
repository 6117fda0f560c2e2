"""The `--print` JSON, byte for byte as buildx writes it.

buildx marshals `{"group": map, "target": map}` with Go's `json.MarshalIndent(v,
"", "  ")`: map keys sorted, struct fields in declaration order, `omitempty`
fields dropped, `<`, `>`, `&`, U+2028 and U+2029 escaped, and (in
`Target.MarshalJSON`) `${`/`%{` doubled in args, labels, annotations,
extra-hosts and dockerfile-inline so that the output reads back as HCL.
Our groups' target lists keep bakeplan's deterministic order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from json.encoder import encode_basestring  # C-accelerated
from typing import Any

from bakeplan.bake.model import BakeResult, JSONValue

# Go's encoding/json escapes these even inside otherwise plain strings (HTML safety).
_GO_ONLY_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_SURROGATE = "[\ud800-\udfff]"  # a pattern text: `re` compiles it only for an output that is not all ASCII


def _go_json(text: str) -> str:
    """JSON text from Python's encoder (same escapes as Go for quotes, backslashes, controls) made Go's."""
    for char, escaped in _GO_ONLY_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    if not text.isascii() and re.search(_SURROGATE, text):
        text = re.sub(_SURROGATE, "\ufffd", text)  # Go writes U+FFFD for invalid UTF-8 (here: lone surrogates)
    return text


def go_string(text: str) -> str:
    """A JSON string literal as Go's encoding/json writes it (HTML-safe)."""
    return _go_json(encode_basestring(text))


def marshal_indent(value: JSONValue) -> str:
    """Go's json.MarshalIndent(value, "", "  ") for JSON-like Python values (dicts keep their order)."""
    out: list[str] = []
    _emit(value, "\n", out)
    return _go_json("".join(out))


def _emit(value: JSONValue, newline: str, out: list[str]) -> None:
    """Append the indented JSON of `value`; `newline` is "\n" plus the current indentation."""
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for key, item in value.items():
            out.append(sep)
            out.append(encode_basestring(str(key)))
            out.append(": ")
            if type(item) is str:  # the common leaf, without a call
                out.append(encode_basestring(item))
            else:
                _emit(item, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for item in value:
            out.append(sep)
            if type(item) is str:
                out.append(encode_basestring(item))
            else:
                _emit(item, inner, out)
            sep = "," + inner
        out.append(newline + "]")
    elif isinstance(value, (dict, list, tuple, str)):  # subclasses: normalise and retry
        _emit(dict(value) if isinstance(value, dict) else str(value) if isinstance(value, str) else list(value), newline, out)
    else:
        out.append(json.dumps(value))  # null, true, false, numbers


def print_document(result: BakeResult) -> dict[str, Any]:
    """The object buildx marshals: groups (omitted when none) and targets, names sorted."""
    doc: dict[str, Any] = {}
    # Group descriptions ride on resolve's PrintResult (BakeResult has no slot for them).
    descriptions: Mapping[str, str] = getattr(result, "group_descriptions", {})
    if result.groups:
        doc["group"] = {}
        for name in sorted(result.groups):
            body: dict[str, Any] = {"description": descriptions[name]} if descriptions.get(name) else {}
            body["targets"] = list(result.groups[name]) or (None if name in getattr(result, "nil_groups", ()) else [])
            doc["group"][name] = body
    doc["target"] = {name: dict(result.targets[name].fields) for name in sorted(result.targets)}
    return doc


def render(result: BakeResult) -> str:
    """The exact text `docker buildx bake --print` writes (with its trailing newline)."""
    return marshal_indent(print_document(result)) + "\n"


# ------------------------------------------------------------------ --list


def parse_list_option(text: str) -> tuple[str, str]:
    """buildx's parseList: `targets`, `variables` or `type=...,format=table|json`."""
    from bakeplan.bake.schema import DecodeError, csv_fields
    from bakeplan.errors import BakeplanError

    try:
        fields = csv_fields(text)
    except DecodeError as error:
        raise BakeplanError(str(error)) from None
    kind, fmt = "", ""
    if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
        kind = text
    else:
        for item in fields:
            key, sep, value = item.partition("=")
            if not sep:
                raise BakeplanError(f"invalid value {item}")
            key = key.strip().lower()
            if key == "type":
                kind = value
            elif key == "format":
                fmt = value
            else:
                raise BakeplanError(f"unexpected key '{key}' in '{item}'")
    fmt = fmt or "table"
    if kind not in ("targets", "variables"):
        raise BakeplanError(f'invalid list type "{kind}"', hint="Use --list targets or --list variables.")
    if fmt not in ("table", "json"):
        raise BakeplanError(f'invalid list format "{fmt}"', hint="Use format=table or format=json.")
    return kind, fmt


def tabwrite(rows: list[list[str]]) -> str:
    """Go's tabwriter.NewWriter(w, 1, 8, 1, '\\t', 0): columns padded with tabs to 8-wide stops."""
    widths: dict[int, int] = {}
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths.get(index, 0), len(cell) + 1)
    lines = []
    for row in rows:
        parts = []
        for index, cell in enumerate(row):
            if index == len(row) - 1:
                parts.append(cell)
                continue
            width = (widths[index] + 7) // 8 * 8
            parts.append(cell + "\t" * ((width - len(cell) + 7) // 8))
        lines.append("".join(parts) + "\n")
    return "".join(lines)


def _json_lines(value: JSONValue) -> str:
    """Go's json.Encoder with SetIndent("", "  "): MarshalIndent plus a newline."""
    return marshal_indent(value) + "\n"


def render_targets_list(entries: list[tuple[str, str, bool]], fmt: str) -> str:
    """buildx's printTargetList from (name, description, is_group), names sorted, `_private` hidden."""
    shown = [entry for entry in sorted(entries, key=lambda e: e[0]) if not entry[0].startswith("_")]
    if fmt == "json":
        items: list[dict[str, Any]] = []
        for name, description, group in shown:
            item: dict[str, Any] = {"name": name}
            if description:
                item["description"] = description
            if group:
                item["group"] = True
            items.append(item)
        return _json_lines(items if items else None)
    return tabwrite([["TARGET", "DESCRIPTION"], *[[name, description] for name, description, _ in shown]])


def render_list(request: Any, option: str) -> str:
    """`--list`: targets (with groups) or variables, as table or JSON."""
    from bakeplan.bake import resolve

    kind, fmt = parse_list_option(option)
    if kind == "targets":
        return render_targets_list(resolve.list_entries(request), fmt)
    variables = resolve.list_variables(request)
    if fmt == "json":
        return _json_lines(variables)
    rows = [["VARIABLE", "TYPE", "VALUE", "DESCRIPTION"]]
    for var in variables:
        value = var.get("value")
        rows.append([var["name"], var.get("type", ""), "<null>" if value is None else value, var.get("description", "")])
    return tabwrite(rows)
