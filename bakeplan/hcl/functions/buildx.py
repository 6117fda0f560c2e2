"""The functions buildx adds beyond cty's stdlib (bake/hclparser/stdlib.go, v0.36).

basename, dirname, sanitize, homedir, indexof, formattimestamp,
unixtimestampparse and semvercmp (the common Masterminds/semver v3 constraint
forms: comparisons, ~, ^, x-ranges, hyphen ranges, `||`, commas).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    INT64_MAX,
    INT64_MIN,
    ArgError,
    CallError,
    Function,
    n64,
    param,
    s,
    table,
)
from bakeplan.hcl.functions.collections import is_seq
from bakeplan.hcl.functions.datetime import (
    DAYS,
    MONTHS,
    formatdate,
    go_time_format,
    parse_rfc3339,
)
from bakeplan.hcl.values import DYNAMIC, FALSE, NUMBER, STRING, TRUE, Value
from bakeplan.record import record


def _sanitize(a: list[Value]) -> Value:
    return s("".join(c if (c.isascii() and (c.isalnum() or c in "_-")) else "_" for c in a[0].v))


def _basename(a: list[Value]) -> Value:
    return s(_go_path_base(a[0].v))


def _dirname(a: list[Value]) -> Value:
    return s(_go_path_dir(a[0].v))


def _go_path_clean(p: str) -> str:
    if p == "":
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _go_path_base(p: str) -> str:
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p[p.rfind("/") + 1 :]


def _go_path_dir(p: str) -> str:
    d = p[: p.rfind("/") + 1]
    return _go_path_clean(d)


def _indexof(a: list[Value]) -> Value:
    lst, val = a
    if not is_seq(lst.type):
        raise CallError("argument must be a list or tuple")
    if not lst.v:
        raise CallError("cannot search an empty list")
    for i, e in enumerate(lst.v):
        if V.equals(e, val):
            return Value(NUMBER, V.Int64(i))
    raise CallError("item not found")


def _homedir(a: list[Value]) -> Value:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return s(home)


def _unix_time(v: Value) -> datetime:
    if not V.is_integer(v.v) or not INT64_MIN <= int(v.v) <= INT64_MAX:
        raise ValueError("unix timestamp must be an integer")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(v.v))


def _formattimestamp(a: list[Value]) -> Value:
    fmt, t = a[0], a[1]
    if t.type is STRING:
        if fmt.v == "X":
            try:
                parsed = parse_rfc3339(t.v)
            except ValueError:
                raise ArgError(1, "timestamp string must be RFC3339") from None
            return s(str(int(parsed.timestamp())))
        return formatdate([fmt, t])
    if t.type is NUMBER:
        try:
            when = _unix_time(t)
        except ValueError as e:
            raise ArgError(1, str(e)) from None
        if fmt.v == "X":
            return s(str(int(when.timestamp())))
        return formatdate([fmt, s(go_time_format(when))])
    raise ArgError(1, "must be a string timestamp or a unix timestamp number")


def _unixtimestampparse(a: list[Value]) -> Value:
    try:
        t = _unix_time(a[0])
    except ValueError as e:
        raise ArgError(0, str(e)) from None
    iso_year, iso_week, _ = t.isocalendar()
    fields: dict[str, Value] = {
        "year": n64(t.year),
        "year_day": n64(t.timetuple().tm_yday),
        "day": n64(t.day),
        "month": n64(t.month),
        "month_name": s(MONTHS[t.month - 1]),
        "weekday": n64((t.weekday() + 1) % 7),
        "weekday_name": s(DAYS[t.weekday()]),
        "hour": n64(t.hour),
        "minute": n64(t.minute),
        "second": n64(t.second),
        "rfc3339": s(go_time_format(t)),
        "iso_year": n64(iso_year),
        "iso_week": n64(iso_week),
    }
    return V.object_val(fields)


# Patterns as text, compiled on first use (re caches them): start-up pays nothing for semvercmp.
_SEMVER = (
    r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_SEMVER_WILD = (
    r"v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


@record
class _SemVer:
    major: int
    minor: int
    patch: int
    pre: str

    def key(self) -> tuple[Any, ...]:
        pre_key: tuple[Any, ...] = (1,) if not self.pre else (0, *(_pre_part(p) for p in self.pre.split(".")))
        return (self.major, self.minor, self.patch, pre_key)


def _pre_part(p: str) -> tuple[int, Any]:
    return (0, int(p)) if p.isdigit() else (1, p)


def _parse_semver(text: str) -> _SemVer:
    m = re.fullmatch(_SEMVER, text)
    if m is None:
        raise CallError("invalid semantic version")
    return _SemVer(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), m.group(4) or "")


def _semvercmp(a: list[Value]) -> Value:
    version = _parse_semver(a[0].v)
    groups = [g for g in a[1].v.split("||")]
    for group in groups:
        parts = _constraint_parts(group)
        if all(_check_constraint(op, ver, version) for op, ver in parts):
            return TRUE
    return FALSE


_CONSTRAINT = r"\s*(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*(v?[0-9xX*][0-9A-Za-z.+\-*]*)"


def _constraint_parts(group: str) -> list[tuple[str, str]]:
    group = group.strip()
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", group)
    if hyphen:
        return [(">=", hyphen.group(1)), ("<=", hyphen.group(2))]
    parts: list[tuple[str, str]] = []
    pos = 0
    text = group.replace(",", " ")
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = re.compile(_CONSTRAINT).match(text, pos)
        if m is None:
            raise CallError(f"improper constraint: {group}")
        parts.append((m.group(1) or "=", m.group(2)))
        pos = m.end()
    if not parts:
        raise CallError(f"improper constraint: {group}")
    return parts


def _check_constraint(op: str, text: str, v: _SemVer) -> bool:
    m = re.fullmatch(_SEMVER_WILD, text)
    if m is None:
        raise CallError(f"improper constraint: {text}")
    fields = [m.group(1), m.group(2), m.group(3)]
    wild = next((i for i, f in enumerate(fields) if f is None or f in "xX*"), 3)
    nums = [int(f) if f is not None and f not in "xX*" else 0 for f in fields]
    c = _SemVer(nums[0], nums[1], nums[2], m.group(4) or "")
    if v.pre and not c.pre:
        return False
    lo, hi = _constraint_range(op, c, wild)
    key = v.key()
    ok_lo = lo is None or (key >= lo[0] if lo[1] else key > lo[0])
    ok_hi = hi is None or (key <= hi[0] if hi[1] else key < hi[0])
    inside = ok_lo and ok_hi
    return not inside if op == "!=" else inside


def _bump(c: _SemVer, level: int) -> tuple[Any, ...]:
    if level == 0:
        return _SemVer(c.major + 1, 0, 0, "").key()
    if level == 1:
        return _SemVer(c.major, c.minor + 1, 0, "").key()
    return _SemVer(c.major, c.minor, c.patch + 1, "").key()


def _constraint_range(op: str, c: _SemVer, wild: int) -> tuple[Any, Any]:
    """(lower, upper) bounds as (key, inclusive) pairs, None when open."""
    base = (c.key(), True)
    floor = c.key()
    if wild == 0:
        return None, None  # "*" or "x": any version
    upper_wild = (_bump(c, wild - 1), False) if wild < 3 else None
    if op in ("=", "!="):
        return (base, upper_wild) if wild < 3 else (base, base)
    if op == ">":
        return ((upper_wild[0], True) if upper_wild else (c.key(), False)), None
    if op == ">=":
        return base, None
    if op == "<":
        return None, (floor, False)
    if op == "<=":
        return None, (upper_wild if upper_wild else base)
    if op in ("~", "~>"):
        return base, (_bump(c, 1 if wild >= 2 else 0), False)
    if op == "^":
        if c.major > 0 or wild == 1:
            return base, (_bump(c, 0), False)
        if c.minor > 0 or wild == 2:
            return base, (_bump(c, 1), False)
        return base, (_bump(c, 2), False)
    raise CallError(f"improper constraint: {op}")


TABLE: Mapping[str, Function] = table(
    ("basename", (param("path"),), None, _basename),
    ("dirname", (param("path"),), None, _dirname),
    ("formattimestamp", (param("format"), param("time", DYNAMIC)), None, _formattimestamp),
    ("homedir", (), None, _homedir),
    ("indexof", (param("list", DYNAMIC), param("value", DYNAMIC)), None, _indexof),
    ("sanitize", (param("name"),), None, _sanitize),
    ("semvercmp", (param("version"), param("contraint")), None, _semvercmp),
    ("unixtimestampparse", (param("unix_timestamp", NUMBER),), None, _unixtimestampparse),
)
