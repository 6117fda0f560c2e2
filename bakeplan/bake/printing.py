"""The `--print` JSON, byte for byte as buildx writes it.

buildx marshals `{"group": map, "target": map}` with Go's `json.MarshalIndent(v,
"", "  ")`: map keys sorted, struct fields in declaration order, `omitempty`
fields dropped, `<`, `>`, `&`, U+2028 and U+2029 escaped, and (in
`Target.MarshalJSON`) `${`/`%{` doubled in args, labels, annotations,
extra-hosts and dockerfile-inline so that the output reads back as HCL.
Our groups' target lists keep bakeplan's deterministic order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakeplan.bake.model import BakeResult, JSONValue

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_string(text: str) -> str:
    """A JSON string literal as Go's encoding/json writes it (HTML-safe)."""
    out = ['"']
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch in _HTML_ESCAPES:
            out.append(_HTML_ESCAPES[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\\ufffd")  # Go replaces invalid UTF-8 (here: lone surrogates)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: int | float) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(float(value))


def marshal_indent(value: JSONValue, indent: str = "") -> str:
    """Go's json.MarshalIndent(value, "", "  ") for JSON-like Python values (dicts keep their order)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, (int, float)):
        return _number(value)
    inner = indent + "  "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{go_string(str(k))}: {marshal_indent(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [inner + marshal_indent(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    raise TypeError(f"cannot marshal {type(value).__name__}")


def print_document(result: BakeResult) -> dict[str, Any]:
    """The object buildx marshals: groups (omitted when none) and targets, names sorted."""
    doc: dict[str, Any] = {}
    # Group descriptions ride on resolve's PrintResult (BakeResult has no slot for them).
    descriptions: Mapping[str, str] = getattr(result, "group_descriptions", {})
    if result.groups:
        doc["group"] = {}
        for name in sorted(result.groups):
            body: dict[str, Any] = {"description": descriptions[name]} if descriptions.get(name) else {}
            body["targets"] = list(result.groups[name])
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
