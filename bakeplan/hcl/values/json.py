"""JSON interchange (cty/json and encoding/json as cty uses it), and JSON-like Python data.

``json_encode`` marshals like go (sorted keys, HTML-safe escaping);
``json_decode`` unmarshals with implied types (objects, tuples, numbers at 512
bits) and words a syntax error exactly as go's decoder does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from functools import cache
from typing import Any

from bakeplan.hcl.values.numbers import Number, _is_inf, format_number, parse_number
from bakeplan.hcl.values.types import BOOL, NUMBER, STRING
from bakeplan.hcl.values.values import FALSE, NULL, TRUE, Value, number_val, object_val, string_val, tuple_val


def to_python(v: Value) -> Any:
    """JSON-compatible data: str, int, float, bool, None, list, dict (sorted keys)."""
    p = v.v
    if p is None:
        return None
    t = v.type
    if t is STRING or t is BOOL:
        return p
    if t is NUMBER:
        if isinstance(p, int):
            return int(p)
        if isinstance(p, float) and p.is_integer():
            return int(p)
        return float(p)
    if isinstance(p, dict):
        return {k: to_python(e) for k, e in p.items()}
    return [to_python(e) for e in p]


def from_python(obj: Any) -> Value:
    """The value of JSON-like data: dicts become objects, lists tuples (like jsondecode)."""
    if obj is None:
        return NULL
    if isinstance(obj, bool):
        return TRUE if obj else FALSE
    if isinstance(obj, str):
        return string_val(obj)
    if isinstance(obj, float) and math.isfinite(obj):
        # like a JSON or HCL literal: the shortest decimal, parsed at 512 bits
        parsed = parse_number(repr(obj))
        return Value(NUMBER, parsed if parsed is not None else obj)
    if isinstance(obj, (int, float, Fraction)):
        return number_val(obj)
    if isinstance(obj, Value):
        return obj
    if isinstance(obj, Mapping):
        return object_val({str(k): from_python(e) for k, e in obj.items()})
    if isinstance(obj, (list, tuple)):
        return tuple_val([from_python(e) for e in obj])
    raise TypeError(f"cannot make a value of {type(obj).__name__}")


class JSONError(Exception):
    """jsonencode/jsondecode failure with cty's message."""


def json_encode(v: Value) -> str:
    """cty's JSON marshalling: object keys sorted, HTML-safe escaping like go's encoding/json."""
    parts: list[str] = []
    _json_into(v, parts)
    return "".join(parts)


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@cache
def _html_characters() -> re.Pattern[str]:
    """The characters go escapes in JSON strings, compiled on first use (start-up time)."""
    return re.compile("[<>&\u2028\u2029]")


def go_json_string(s: str) -> str:
    """go's json.Marshal of a string: \\uXXXX for controls, HTML characters escaped, UTF-8 kept."""
    out = json.dumps(s, ensure_ascii=False)  # DEL stays as is in both
    return _html_characters().sub(lambda m: _HTML_ESCAPES[m.group(0)], out)


def _json_into(v: Value, parts: list[str]) -> None:
    p = v.v
    if p is None:
        parts.append("null")
        return
    t = v.type
    if t is STRING:
        parts.append(go_json_string(p))
    elif t is NUMBER:
        if _is_inf(p):
            raise JSONError("cannot serialize infinity as JSON")
        parts.append(format_number(p))
    elif t is BOOL:
        parts.append("true" if p else "false")
    elif isinstance(p, dict):
        parts.append("{")
        for i, (k, e) in enumerate(p.items()):
            if i:
                parts.append(",")
            parts.append(go_json_string(k))
            parts.append(":")
            _json_into(e, parts)
        parts.append("}")
    else:
        parts.append("[")
        for i, e in enumerate(p):
            if i:
                parts.append(",")
            _json_into(e, parts)
        parts.append("]")


def json_decode(text: str) -> Value:
    """cty's JSON unmarshalling with implied types: objects, tuples, numbers at 512 bits."""
    problem = _go_json_problem(text)
    if problem is not None:
        raise JSONError(problem)
    data = json.loads(
        text,
        parse_float=_json_number,
        parse_int=_json_number,
        parse_constant=_json_bad_constant,
        object_pairs_hook=_json_object,
    )
    return _json_to_value(data)


class _JNum:
    __slots__ = ("n",)

    def __init__(self, n: Number) -> None:
        self.n = n


def _json_number(s: str) -> _JNum:
    n = parse_number(s)
    if n is None:
        raise json.JSONDecodeError("invalid number", s, 0)
    return _JNum(n)


def _json_bad_constant(s: str) -> Any:
    raise json.JSONDecodeError(f"invalid character '{s[0]}' looking for beginning of value", s, 0)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # go keeps the last value of a duplicate key, unless the two have different implied types
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out and _json_to_value(out[k]).type != _json_to_value(v).type:
            raise JSONError(f"duplicate {json.dumps(k)} property in JSON object")
        out[k] = v
    return out


def _json_to_value(data: Any) -> Value:
    if data is None:
        return NULL
    if isinstance(data, bool):
        return TRUE if data else FALSE
    if isinstance(data, _JNum):
        return Value(NUMBER, data.n)
    if isinstance(data, str):
        return string_val(data)
    if isinstance(data, dict):
        return object_val({k: _json_to_value(e) for k, e in data.items()})
    return tuple_val([_json_to_value(e) for e in data])


# --------------------------------------------------------------------------
# Syntax errors worded as go's encoding/json words them


class _GoJSONScan:
    """Enough of go's json.Decoder.Token state machine to word syntax errors as cty reports them."""

    _WS = " \t\r\n"

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.stack: list[str] = []
        self.state = "top"
        self.scalar = _json_scalar()

    def problem(self) -> str | None:
        try:
            self._value_token()
            self._skip_ws()
            if self.i < len(self.s):
                return "extraneous data after JSON object"
        except _GoJSONFail as e:
            return str(e)
        return None

    def _skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in self._WS:
            self.i += 1

    def _peek(self) -> str:
        self._skip_ws()
        if self.i >= len(self.s):
            raise _GoJSONFail("EOF")
        return self.s[self.i]

    def _value_token(self) -> None:
        c = self._peek()
        if c == "{":
            self.i += 1
            self._object()
        elif c == "[":
            self.i += 1
            self._array()
        elif c in "]}:,":
            raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of value")
        else:
            self._scalar()

    def _object(self) -> None:
        first = True
        while True:
            c = self._peek()
            if c == "}" and first:
                self.i += 1
                return
            if c != '"' and first:  # go's Decoder.Token names no context right after `{`
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)}")
            if c != '"':
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of object key string")
            self._scalar()
            c = self._peek()
            if c != ":":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after object key")
            self.i += 1
            self._value_token()
            c = self._peek()
            if c == "}":
                self.i += 1
                return
            if c != ",":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after object key:value pair")
            self.i += 1
            first = False

    def _array(self) -> None:
        c = self._peek()
        if c == "]":
            self.i += 1
            return
        while True:
            self._value_token()
            c = self._peek()
            if c == "]":
                self.i += 1
                return
            if c != ",":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after array element")
            self.i += 1
            c = self._peek()
            if c == "]":
                raise _GoJSONFail("invalid character ']' looking for beginning of value")

    def _scalar(self) -> None:
        m = self.scalar.match(self.s, self.i)
        if m is None or m.end() == self.i or _number_goes_on(m.group(0), self.s[m.end() : m.end() + 1]):
            self._scalar_error()
        assert m is not None
        self.i = m.end()

    def _scalar_error(self) -> None:
        rest = self.s[self.i :]
        c = rest[0]
        if c == '"':
            self._string_error(rest)
        for word in ("true", "false", "null"):
            if c == word[0]:
                self._literal_error(rest, word)
        if c == "-" or c.isdigit():
            self._number_error(rest)
        raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of value")

    def _string_error(self, rest: str) -> None:
        j = 1
        while j < len(rest):
            ch = rest[j]
            if ch == '"':
                break
            if ch == "\\":
                j += self._escape_length(rest, j)
                continue
            if ord(ch) < 0x20:
                raise _GoJSONFail(f"invalid character {_go_quote_char(ch)} in string literal")
            j += 1
        raise _GoJSONFail("unexpected EOF")

    def _escape_length(self, rest: str, j: int) -> int:
        """The length of the valid escape sequence at rest[j] (a backslash)."""
        if j + 1 >= len(rest):
            raise _GoJSONFail("unexpected EOF")
        esc = rest[j + 1]
        if esc == "u":
            for k in range(j + 2, j + 6):
                if k >= len(rest):
                    raise _GoJSONFail("unexpected EOF")
                if rest[k] not in "0123456789abcdefABCDEF":
                    raise _GoJSONFail(f"invalid character {_go_quote_char(rest[k])} in \\u hexadecimal character escape")
            return 6
        if esc not in '"\\/bfnrt':
            raise _GoJSONFail(f"invalid character {_go_quote_char(esc)} in string escape code")
        return 2

    def _literal_error(self, rest: str, word: str) -> None:
        for k, expect in enumerate(word):
            if k >= len(rest):
                raise _GoJSONFail("unexpected EOF")
            if rest[k] != expect:
                raise _GoJSONFail(
                    f"invalid character {_go_quote_char(rest[k])} in literal {word} (expecting {_go_quote_char(expect)})"
                )

    def _number_error(self, rest: str) -> None:
        m = re.match(r"-?(?:0|[1-9][0-9]*)?(\.[0-9]*)?([eE][+-]?[0-9]*)?", rest)
        assert m is not None
        k = m.end()
        if k >= len(rest):
            raise _GoJSONFail("unexpected EOF")
        where = "in numeric literal"
        if m.group(2) is not None:
            where = "in exponent of numeric literal"
        elif m.group(1) is not None:
            where = "after decimal point in numeric literal"
        raise _GoJSONFail(f"invalid character {_go_quote_char(rest[k])} {where}")


def _number_goes_on(number: str, after: str) -> bool:
    """Whether go's scanner reads on into `after` (a `.` or an exponent the number does not have yet)."""
    if not number or number[0] not in "-0123456789":
        return False
    has_exponent = "e" in number or "E" in number
    return (after == "." and "." not in number and not has_exponent) or (after in ("e", "E") and not has_exponent)


class _GoJSONFail(Exception):
    pass


@cache
def _json_scalar() -> re.Pattern[str]:
    """One JSON string, literal or number, compiled on first use: runs that decode no JSON skip the compile."""
    return re.compile(
        r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
        r"|true|false|null"
        # go's scanner ends a number where its grammar ends (`01` is `0`, then more)
        r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    )


def _go_json_problem(text: str) -> str | None:
    """The error go's decoder (as cty's ImpliedType drives it) reports for `text`, or None when valid."""
    return _GoJSONScan(text).problem()


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\"}


def _go_quote_char(ch: str) -> str:
    """go's quoteChar (encoding/json): strconv.Quote's escapes between single quotes."""
    if ch == "'":
        return "'\\''"
    if ch in _GO_ESCAPES:
        return "'" + _GO_ESCAPES[ch] + "'"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"'\\x{ord(ch):02x}'"
    return "'" + ch + "'"
