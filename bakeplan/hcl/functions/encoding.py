"""Encodings (go-cty stdlib json.go, csv.go; go-cty-funcs encoding).

base64, URL query escaping, CSV (go's encoding/csv) and JSON.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    STR_PARAMS,
    CallError,
    Function,
    go_quote,
    param,
    s,
    table,
)
from bakeplan.hcl.values import DYNAMIC, STRING, ListType, ObjectType, Value


def _base64encode(a: list[Value]) -> Value:
    return s(base64.b64encode(a[0].v.encode()).decode())


def _base64decode(a: list[Value]) -> Value:
    text = a[0].v
    try:
        raw = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except ValueError:
        raise CallError(f"failed to decode base64 data '{text}'") from None
    try:
        return s(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CallError("the result of decoding the the provided string is not valid UTF-8") from None


def _urlencode(a: list[Value]) -> Value:
    return s(urllib.parse.quote_plus(a[0].v, safe="~"))


def _csvdecode(a: list[Value]) -> Value:
    rows = _read_csv(a[0].v)
    if not rows:
        raise CallError("missing header line")
    headers = rows[0][1]
    seen: set[str] = set()
    for h in headers:
        if h in seen:
            raise CallError(f"duplicate column name {go_quote(h)}")
        seen.add(h)
    ety = ObjectType({h: STRING for h in headers})
    out = []
    for line, cols in rows[1:]:
        if len(cols) != len(headers):
            raise CallError(f"CSV parse error on line {line}: wrong number of fields")
        out.append(Value(ety, {h: s(c) for h, c in sorted(zip(headers, cols))}))
    return Value(ListType(ety), tuple(out))


class _CSVError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _read_csv(text: str) -> list[tuple[int, list[str]]]:
    """go's encoding/csv Reader (comma ',', strict quotes): records with their starting line."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln + "\n" for ln in lines]
    rows: list[tuple[int, list[str]]] = []
    idx = 0
    try:
        while idx < len(lines):
            if lines[idx] == "\n":
                idx += 1  # go skips empty lines
                continue
            start = idx + 1
            fields, idx = _csv_record(lines, idx)
            rows.append((start, fields))
    except _CSVError as e:
        raise CallError(f"CSV parse error on line {e.line}: {e}") from None
    return rows


def _csv_record(lines: list[str], idx: int) -> tuple[list[str], int]:
    line = lines[idx]
    lineno = idx + 1
    idx += 1
    fields: list[str] = []
    while True:
        if not line.startswith('"'):
            cut = line.find(",")
            field = line[:cut] if cut >= 0 else line[:-1] if line.endswith("\n") else line
            if '"' in field:
                raise _CSVError(lineno, 'bare " in non-quoted-field')
            fields.append(field)
            if cut < 0:
                return fields, idx
            line = line[cut + 1 :]
            continue
        line = line[1:]
        buf: list[str] = []
        while True:
            q = line.find('"')
            if q >= 0:
                buf.append(line[:q])
                line = line[q + 1 :]
                if line.startswith('"'):
                    buf.append('"')
                    line = line[1:]
                elif line.startswith(","):
                    fields.append("".join(buf))
                    line = line[1:]
                    break
                elif line in ("\n", ""):
                    fields.append("".join(buf))
                    return fields, idx
                else:
                    raise _CSVError(lineno, 'extraneous or missing " in quoted-field')
            elif line:
                buf.append(line)
                if idx >= len(lines):
                    raise _CSVError(lineno, 'extraneous or missing " in quoted-field')
                line = lines[idx]
                idx += 1
                lineno = idx
            else:
                raise _CSVError(lineno, 'extraneous or missing " in quoted-field')


def _jsonencode(a: list[Value]) -> Value:
    try:
        return s(V.json_encode(a[0]))
    except V.JSONError as e:
        raise CallError(str(e)) from None


def _jsondecode(a: list[Value]) -> Value:
    try:
        return V.json_decode(a[0].v)
    except V.JSONError as e:
        raise CallError(str(e)) from None


TABLE: Mapping[str, Function] = table(
    ("base64decode", STR_PARAMS, None, _base64decode),
    ("base64encode", STR_PARAMS, None, _base64encode),
    ("csvdecode", STR_PARAMS, None, _csvdecode),
    ("jsondecode", STR_PARAMS, None, _jsondecode),
    ("jsonencode", (param("val", DYNAMIC, True),), None, _jsonencode),
    ("urlencode", STR_PARAMS, None, _urlencode),
)
