"""Dates and times (go-cty stdlib datetime.go).

go's strict RFC 3339 parsing with cty's error wording, time.ParseDuration,
formatdate's verbs, timeadd and timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

from bakeplan.hcl.functions.base import (
    ArgError,
    CallError,
    Function,
    go_quote,
    param,
    s,
    table,
)
from bakeplan.hcl.values import Value


def _timestamp(a: list[Value]) -> Value:
    return s(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


class _TimeParseError(Exception):
    """go's time.ParseError fields that cty's parseTimestamp looks at."""

    def __init__(self, layout_elem: str, value_elem: str, message: str = "") -> None:
        super().__init__(message)
        self.layout_elem = layout_elem
        self.value_elem = value_elem
        self.message = message


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not value[:1].isdigit() or not value[:1].isascii():
        raise ValueError
    if not value[1:2].isdigit() or not value[1:2].isascii():
        if fixed:
            raise ValueError
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


_RFC3339_LAYOUT = [("2006", ""), ("01", "-"), ("02", "-"), ("15", "T"), ("04", ":"), ("05", ":"), ("Z07:00", "")]
# layout element -> (field, fixed two digits, valid values or None)
_RFC3339_NUMBERS = {
    "01": ("month", True, range(1, 13)),
    "02": ("day", True, None),
    "15": ("hour", False, range(24)),
    "04": ("minute", True, range(60)),
    "05": ("second", True, range(60)),
}


def _go_parse_rfc3339(text: str) -> datetime:
    """time.Parse(time.RFC3339, text), raising _TimeParseError like go does."""
    value = text
    fields: dict[str, int] = {"microsecond": 0}
    zone: timezone | None = None
    for std, prefix in _RFC3339_LAYOUT:
        if prefix:
            if not value.startswith(prefix):
                raise _TimeParseError(prefix, value)
            value = value[len(prefix) :]
        hold = value
        range_err = ""
        try:
            if std == "Z07:00":
                zone, value = _parse_zone(value)
            else:
                value, range_err = _parse_number(std, value, fields)
        except ValueError:
            raise _TimeParseError(std, hold) from None
        if range_err:
            raise _TimeParseError(std, value, f": {range_err} out of range")
    if value:
        raise _TimeParseError("", value, f": extra text: {go_quote(value)}")
    try:
        return datetime(fields["year"], fields["month"], fields["day"], fields["hour"], fields["minute"],
                        fields["second"], fields["microsecond"], tzinfo=zone)
    except ValueError:
        raise _TimeParseError("", "", ": day out of range") from None


def _parse_number(std: str, value: str, fields: dict[str, int]) -> tuple[str, str]:
    """One numeric layout element into `fields`: (the rest, the field's name if out of range else "")."""
    if std == "2006":
        if len(value) < 4 or not value[:4].isdigit():
            raise ValueError
        fields["year"] = int(value[:4])
        return value[4:], ""
    name, fixed, valid = _RFC3339_NUMBERS[std]
    fields[name], value = _getnum(value, fixed)
    range_err = name if valid is not None and fields[name] not in valid else ""
    if std == "05":
        value = _parse_fraction(value, fields)
    return value, range_err


def _parse_fraction(value: str, fields: dict[str, int]) -> str:
    """Fractional seconds after the seconds, if any (kept to the microsecond, as datetime does)."""
    if len(value) >= 2 and value[0] in ".," and value[1].isdigit():
        j = 1
        while j < len(value) and value[j].isdigit():
            j += 1
        fields["microsecond"] = int((value[1:j] + "000000")[:6])
        value = value[j:]
    return value


def _parse_zone(value: str) -> tuple[timezone, str]:
    if value.startswith("Z"):
        return UTC, value[1:]
    if len(value) < 6 or value[3] != ":" or value[0] not in "+-":
        raise ValueError
    hh, _ = _getnum(value[1:3], True)
    mm, _ = _getnum(value[4:6], True)
    off = timedelta(hours=hh, minutes=mm)
    if off >= timedelta(hours=24):
        raise ValueError
    return timezone(-off if value[0] == "-" else off), value[6:]


# compiled on first use (re caches it): start-up pays nothing for the date functions
_RFC3339_FAST = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"


def parse_rfc3339(text: str) -> datetime:
    """cty's parseTimestamp (strict RFC 3339); ValueError with cty's wording."""
    try:
        parsed = _go_parse_rfc3339(text)
    except _TimeParseError as e:
        raise ValueError(_timestamp_problem(e)) from None
    if re.fullmatch(_RFC3339_FAST, text) is None or "," in text:
        raise ValueError(_timestamp_problem(_strict_problem(text)))
    return parsed


def _strict_problem(text: str) -> _TimeParseError:
    # what cty's parseStrictRFC3339 reports when go's lenient parser accepted the text
    if text[len("2006-01-02T") + 1] == ":":
        return _TimeParseError("15", text[len("2006-01-02T") :][:1], ": hour must have two digits")
    if text[len("2006-01-02T15:04:05")] == ",":
        return _TimeParseError(".", ",", ": sub-second separator must be a period")
    return _TimeParseError("2006-01-02T15:04:05Z07:00", text)


def _timestamp_problem(e: _TimeParseError) -> str:
    prefix = "not a valid RFC3339 timestamp"
    if e.layout_elem == "" and e.value_elem == "" and e.message:
        return prefix + e.message
    whats = {"2006": "year", "01": "month", "02": "day of month", "15": "hour", "04": "minute", "05": "second", "Z07:00": "UTC offset"}
    if e.layout_elem == "T":
        return f"{prefix}: missing required time introducer 'T'"
    if e.layout_elem in (":", "-"):
        if e.value_elem == "":
            return f"{prefix}: end of string where {go_quote(e.layout_elem)} is expected"
        return f"{prefix}: found {go_quote(e.value_elem)} where {go_quote(e.layout_elem)} is expected"
    what = whats.get(e.layout_elem, "timestamp segment")
    if e.value_elem == "":
        return f"{prefix}: end of string before {what}"
    if what == "hour" and ":" in e.value_elem:
        return f"{prefix}: hour must be between 0 and 23 inclusive"
    if what == "hour" and len(e.value_elem) != 2:
        return f"{prefix}: hour must have exactly two digits"
    if what == "minute" and len(e.value_elem) != 2:
        return f"{prefix}: minute must have exactly two digits"
    return f"{prefix}: cannot use {go_quote(e.value_elem)} as {what}"


def go_time_format(t: datetime) -> str:
    """time.RFC3339 formatting (no fractional seconds)."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    off = t.utcoffset() or timedelta(0)
    return base + _zone(off, "Z07:00")


def _zone(off: timedelta, layout: str) -> str:
    total = int(off.total_seconds())
    if total == 0 and layout.startswith("Z"):
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hh, mm = total // 3600, (total % 3600) // 60
    if layout in ("Z07:00", "-07:00"):
        return f"{sign}{hh:02d}:{mm:02d}"
    return f"{sign}{hh:02d}{mm:02d}"


_DURATION_UNITS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_go_duration(text: str) -> int:
    """time.ParseDuration, in nanoseconds; ValueError with go's message."""
    invalid = ValueError(f"time: invalid duration {go_quote(text)}")
    rest = text
    neg = False
    if rest[:1] in ("-", "+"):
        neg = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = Fraction(0)
    while rest:
        if not (rest[0] == "." or rest[0] in "0123456789"):
            raise invalid
        m = re.match(r"[0-9]*", rest)
        assert m is not None
        whole, rest = m.group(0), rest[m.end() :]
        frac = ""
        post = False
        if rest.startswith("."):
            fm = re.match(r"[0-9]*", rest[1:])
            assert fm is not None
            frac, rest = fm.group(0), rest[1 + fm.end() :]
            post = bool(frac)
        if not whole and not post:
            raise invalid
        um = re.match(r"[^0-9.]*", rest)
        assert um is not None
        unit, rest = um.group(0), rest[um.end() :]
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(text)}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        amount = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        total += amount * _DURATION_UNITS[unit]
        if total > 2**63 - 1:
            raise invalid
    ns = int(total)
    return -ns if neg else ns


def _timeadd(a: list[Value]) -> Value:
    try:
        t = parse_rfc3339(a[0].v)
    except ValueError as e:
        raise CallError(str(e)) from None
    try:
        ns = parse_go_duration(a[1].v)
    except ValueError as e:
        raise CallError(str(e)) from None
    return s(go_time_format(t + timedelta(microseconds=ns // 1000)))


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def formatdate(a: list[Value]) -> Value:
    fmt = a[0].v
    try:
        t = parse_rfc3339(a[1].v)
    except ValueError as e:
        raise ArgError(1, str(e)) from None
    out: list[str] = []
    for tok in _split_date_format(fmt):
        if tok[0] == "'":
            if tok[-1] != "'" or len(tok) == 1:
                raise ArgError(0, "unterminated literal '")
            out.append("'" if len(tok) == 2 else tok[1:-1].replace("''", "'"))
        elif tok[0].isascii() and tok[0].isalpha():
            out.append(_date_verb(tok, t))
        else:
            out.append(tok)
    return s("".join(out))


def _split_date_format(fmt: str) -> list[str]:
    toks: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "'":
            if fmt.startswith("''", i):
                toks.append("''")
                i += 2
                continue
            j = i + 1
            while j < len(fmt):
                if fmt[j] == "'":
                    if j + 1 < len(fmt) and fmt[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            toks.append(fmt[i : j + 1])
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < len(fmt) and fmt[j] == c:
                j += 1
            toks.append(fmt[i:j])
            i = j
        else:
            j = i + 1
            while j < len(fmt) and not (fmt[j] == "'" or (fmt[j].isascii() and fmt[j].isalpha())):
                j += 1
            toks.append(fmt[i:j])
            i = j
    return toks


def _two(v: int, tok: str, what: str) -> str:
    if len(tok) == 1:
        return str(v)
    if len(tok) == 2:
        return f"{v:02d}"
    raise ArgError(0, f'invalid date format verb {go_quote(tok)}: {what} must either be "{tok[0]}" or "{tok[0] * 2}"')


def _date_verb(tok: str, t: datetime) -> str:
    c = tok[0]
    if c == "Y":
        return _year_verb(tok, t)
    if c == "M":
        return _month_verb(tok, t)
    if c == "D":
        return _two(t.day, tok, "day of month")
    if c == "E":
        return _weekday_verb(tok, t)
    if c == "h":
        return _two(t.hour, tok, "24-hour")
    if c == "H":
        return _two(t.hour % 12 or 12, tok, "12-hour")
    if c in "Aa":
        return _ampm_verb(tok, t)
    if c == "m":
        return _two(t.minute, tok, "minute")
    if c == "s":
        return _two(t.second, tok, "second")
    if c == "Z":
        return _zone_verb(tok, t)
    raise ArgError(0, f"invalid date format verb {go_quote(tok)}")


def _year_verb(tok: str, t: datetime) -> str:
    if len(tok) == 2:
        return f"{t.year % 100:02d}"
    if len(tok) == 4:
        return f"{t.year:04d}"
    raise ArgError(0, f'invalid date format verb {go_quote(tok)}: year must either be "YY" or "YYYY"')


def _month_verb(tok: str, t: datetime) -> str:
    if len(tok) <= 2:
        return str(t.month) if len(tok) == 1 else f"{t.month:02d}"
    if len(tok) in (3, 4):
        name = MONTHS[t.month - 1]
        return name[:3] if len(tok) == 3 else name
    raise ArgError(0, f'invalid date format verb {go_quote(tok)}: month must be "M", "MM", "MMM", or "MMMM"')


def _weekday_verb(tok: str, t: datetime) -> str:
    if len(tok) in (3, 4):
        name = DAYS[t.weekday()]
        return name[:3] if len(tok) == 3 else name
    raise ArgError(0, f'invalid date format verb {go_quote(tok)}: day of week must either be "EEE" or "EEEE"')


def _ampm_verb(tok: str, t: datetime) -> str:
    c = tok[0]
    if len(tok) != 2:
        raise ArgError(0, f'invalid date format verb {go_quote(tok)}: must be "{c}{c}"')
    ampm = "AM" if t.hour < 12 else "PM"
    return ampm if c == "A" else ampm.lower()


def _zone_verb(tok: str, t: datetime) -> str:
    off = t.utcoffset() or timedelta(0)
    if len(tok) == 1:
        return _zone(off, "Z07:00")
    if len(tok) == 3:
        text = _zone(off, "-0700")
        return "UTC" if text == "+0000" else text
    if len(tok) == 4:
        return _zone(off, "-0700")
    if len(tok) == 5:
        return _zone(off, "-07:00")
    raise ArgError(0, f"invalid date format verb {go_quote(tok)}: timezone must be Z, ZZZZ, or ZZZZZ")


TABLE: Mapping[str, Function] = table(
    ("formatdate", (param("format"), param("time")), None, formatdate),
    ("timeadd", (param("timestamp"), param("duration")), None, _timeadd),
    ("timestamp", (), None, _timestamp),
)
