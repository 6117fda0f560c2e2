"""The function table of buildx bake's HCL stdlib, with go-cty's semantics.

buildx registers exactly these names (bake/hclparser/stdlib.go); every other
name is an unknown function, as in buildx. The implementations follow
zclconf/go-cty `cty/function/stdlib`, hashicorp/go-cty-funcs (cidr, crypto,
encoding, uuid) and buildx's own (basename, dirname, formattimestamp, homedir,
indexof, sanitize, semvercmp, timestamp, unixtimestampparse): 106 names, as in
buildx v0.36.1 with go-cty v1.17.0.

Known deviations: `bcrypt` always fails (no bcrypt implementation without a
new dependency; its output is random anyway); `semvercmp` implements the
common Masterminds/semver v3 constraint forms (comparisons, ~, ^, x-ranges,
hyphen ranges, `||`, commas) but not every corner of it; regular expressions
are RE2 translated to the `regex` module (ASCII classes, `$` = end of text,
no backreferences or lookarounds), and rare RE2 syntax-error messages differ.

API for the evaluator
---------------------
- ``FUNCTIONS: Mapping[str, Function]``: name -> ``Function(name, params,
  var_param, impl, special)``; each ``Param(name, type, allow_null)``.
- ``call(name, args) -> Value``: HCL's FunctionCallExpr after argument
  evaluation (and after ``...`` expansion): arity checks, conversion of each
  argument to its parameter type, null checks, then the implementation.
  Raises ``FunctionError`` carrying ``summary`` and ``detail`` (as HCL reports
  them: ``str(err)`` is "Summary; Detail"), ``arg_index`` (the argument to
  point at, or None) and ``subject``: "arg" (that argument's start), "close"
  (the closing parenthesis), "name" (the function name) or "call" (the whole
  call expression), which is where HCL puts the diagnostic.
- Implementations raise ``ArgError(index, message)`` or ``CallError(message)``;
  ``call`` turns them into HCL's wording. Panics in go functions are reported
  with their first line only (buildx appends a go stack trace).
- ``SPECIAL = {"try", "can", "convert"}``: these take unevaluated expressions
  (tryfunc) or a type expression (typeexpr.ConvertFunc); the evaluator
  implements them, using ``try_message`` for try's error and
  ``values.convert`` for convert.
- ``binary_op(op, lhs, rhs)`` / ``unary_op(op, val)``: HCL's operators
  (``+ - * / % == != < <= > >= && || !``), which HCL implements with these
  stdlib functions. Raise ``FunctionError`` with HCL's summaries
  ("Invalid operand", "Operation failed"); ``arg_index`` 0/1 is the operand.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import os
import re
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from fractions import Fraction
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.values import (
    BOOL,
    DYNAMIC,
    FALSE,
    NUMBER,
    STRING,
    TRUE,
    ConversionError,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Type,
    Value,
)

# --------------------------------------------------------------------------
# The function model


@dataclass(frozen=True, slots=True)
class Param:
    """A function parameter: HCL converts the argument to `type` before the call."""

    name: str
    type: Type
    allow_null: bool = False


Impl = Callable[[list[Value]], Value]


@dataclass(frozen=True, slots=True)
class Function:
    """One stdlib function."""

    name: str
    params: tuple[Param, ...]
    var_param: Param | None
    impl: Impl
    special: bool = False


class FunctionError(Exception):
    """A failed call, worded as HCL's diagnostic ("Summary; Detail")."""

    def __init__(self, summary: str, detail: str, arg_index: int | None = None, subject: str = "name") -> None:
        super().__init__(f"{summary}; {detail}")
        self.summary = summary
        self.detail = detail
        self.arg_index = arg_index
        self.subject = subject


class ArgError(Exception):
    """Raised by implementations: the argument at `index` is unsuitable (cty function.ArgError)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


class CallError(Exception):
    """Raised by implementations: the call failed (a plain error in go)."""


SPECIAL = frozenset({"try", "can", "convert"})


# --------------------------------------------------------------------------
# Calling


def call(name: str, args: Sequence[Value]) -> Value:
    """Call stdlib function `name` with evaluated arguments, as HCL does."""
    fn = FUNCTIONS[name]
    params, var = fn.params, fn.var_param
    if len(args) < len(params):
        qual = " at least" if var is not None else ""
        raise FunctionError(
            "Not enough function arguments",
            f'Function "{name}" expects{qual} {len(params)} argument(s). Missing value for "{params[len(args)].name}".',
            None,
            "close",
        )
    if var is None and len(args) > len(params):
        raise FunctionError(
            "Too many function arguments",
            f'Function "{name}" expects only {len(params)} argument(s).',
            len(params),
            "arg",
        )
    converted = _convert_args(fn, args)
    try:
        return fn.impl(converted)
    except ArgError as e:
        return _raise_arg_error(fn, e, len(args))
    except CallError as e:
        raise FunctionError("Error in function call", f'Call to function "{name}" failed: {e}.', None, "name") from None


def _param_at(fn: Function, i: int) -> Param | None:
    return fn.params[i] if i < len(fn.params) else fn.var_param


def _convert_args(fn: Function, args: Sequence[Value]) -> list[Value]:
    out: list[Value] = []
    for i, arg in enumerate(args):
        param = _param_at(fn, i)
        assert param is not None
        try:
            v = arg if param.type is DYNAMIC else V.convert(arg, param.type)
        except ConversionError as e:
            raise FunctionError(
                "Invalid function argument", f'Invalid value for "{param.name}" parameter: {e}.', i, "arg"
            ) from None
        if v.v is None and not param.allow_null:
            raise FunctionError(
                "Invalid function argument",
                f'Invalid value for "{param.name}" parameter: argument must not be null.',
                i,
                "arg",
            )
        out.append(v)
    return out


def _raise_arg_error(fn: Function, e: ArgError, nargs: int) -> Value:
    param = _param_at(fn, e.index)
    if param is None:
        raise FunctionError("Error in function call", f'Call to function "{fn.name}" failed: {e.message}.')
    detail = f'Invalid value for "{param.name}" parameter: {e.message}.'
    if e.index > nargs - 1:
        raise FunctionError("Invalid function argument", detail, None, "call")
    raise FunctionError("Invalid function argument", detail, e.index, "arg")


def try_message(failures: Sequence[tuple[str, str, str | None]]) -> str:
    """tryfunc's error text from (summary, detail, subject-or-None) of each failed expression."""
    lines = ["no expression succeeded:\n"]
    for summary, detail, subject in failures:
        if subject is not None:
            lines.append(f"- {summary} (at {subject})\n  {detail}\n")
        else:
            lines.append(f"- {summary}\n  {detail}\n")
    lines.append("\nAt least one expression must produce a successful result")
    return "".join(lines)


# --------------------------------------------------------------------------
# Operators (hclsyntax expression_ops.go)

_BINARY = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "%": "modulo",
    "==": "equal",
    "!=": "notequal",
    "<": "lessthan",
    "<=": "lessthanorequalto",
    ">": "greaterthan",
    ">=": "greaterthanorequalto",
    "&&": "and",
    "||": "or",
}


def binary_op(op: str, lhs: Value, rhs: Value) -> Value:
    """Apply HCL binary operator `op` (operands already evaluated)."""
    fn = FUNCTIONS[_BINARY[op]]
    a = _operand(lhs, fn.params[0].type, "left", 0)
    b = _operand(rhs, fn.params[1].type, "right", 1)
    if op == "||" and (a.v is True or b.v is True):
        return TRUE
    if op == "&&" and (a.v is False or b.v is False):
        return FALSE
    return _op_call(fn, [a, b])


def unary_op(op: str, val: Value) -> Value:
    """Apply HCL unary operator `-` or `!`."""
    fn = FUNCTIONS["negate" if op == "-" else "not"]
    return _op_call(fn, [_operand(val, fn.params[0].type, "unary", 0)])


def _operand(v: Value, t: Type, side: str, index: int) -> Value:
    if t is DYNAMIC:
        return v
    try:
        return V.convert(v, t)
    except ConversionError as e:
        raise FunctionError("Invalid operand", f"Unsuitable value for {side} operand: {e}.", index, "arg") from None


def _op_call(fn: Function, args: list[Value]) -> Value:
    for p, a in zip(fn.params, args):
        if a.v is None and not p.allow_null:
            raise FunctionError("Operation failed", "Error during operation: argument must not be null.", None, "call")
    try:
        return fn.impl(args)
    except (ArgError, CallError) as e:
        raise FunctionError("Operation failed", f"Error during operation: {e}.", None, "call") from None


# --------------------------------------------------------------------------
# Helpers

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def to_int(v: Value) -> int:
    """gocty.FromCtyValue into a go int: whole and within int64."""
    n = v.v
    if V.is_integer(n):
        i = int(n)
        if _INT64_MIN <= i <= _INT64_MAX:
            return i
    raise ValueError(f"value must be a whole number, between {_INT64_MIN} and {_INT64_MAX}")


def _int_arg(v: Value, index: int | None = None, prefix: str = "") -> int:
    try:
        return to_int(v)
    except ValueError as e:
        if index is None:
            raise CallError(prefix + str(e)) from None
        raise ArgError(index, prefix + str(e)) from None


def s(text: str) -> Value:
    """A string value (NFC)."""
    return V.string_val(text)


def n(num: Any) -> Value:
    """A number value."""
    return V.number_val(num)


def n64(num: int) -> Value:
    """An integer as cty.NumberIntVal makes it (64-bit precision)."""
    return Value(NUMBER, V.Int64(num))


@lru_cache(maxsize=1)
def _grapheme_re() -> Any:
    """The `regex` pattern of one grapheme cluster (imported on first use: most files never need it)."""
    import regex  # type: ignore[import-untyped,unused-ignore]

    return regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (textseg's ScanGraphemeClusters)."""
    if text.isascii() and "\r\n" not in text:
        return list(text)
    return list(_grapheme_re().findall(text))


def _go_quote(text: str) -> str:
    """go's %q of a string (strconv.Quote), close enough for error messages."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_quote_rune(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    q = _go_quote(ch)[1:-1]
    return f"'{q}'" if q != '\\"' else "'\"'"


# --------------------------------------------------------------------------
# Numbers


def _absolute(a: list[Value]) -> Value:
    x = a[0].v
    # big.Float.Abs clears the sign of zero too: absolute(-0) is 0
    return Value(NUMBER, V.num_neg(x) if V.is_negative(x) else x)


def _arith(op: Callable[[Any, Any], Any], message: str) -> Impl:
    def impl(a: list[Value]) -> Value:
        try:
            return Value(NUMBER, op(a[0].v, a[1].v))
        except ArithmeticError:
            raise CallError(message) from None

    return impl


def _modulo(a: list[Value]) -> Value:
    try:
        return Value(NUMBER, V.num_mod(a[0].v, a[1].v))
    except ArithmeticError as exc:  # the message is cty's (or go's panic)
        raise CallError(str(exc)) from None


def _compare(test: Callable[[int], bool]) -> Impl:
    def impl(a: list[Value]) -> Value:
        return V.bool_val(test(V.num_cmp(a[0].v, a[1].v)))

    return impl


def _negate(a: list[Value]) -> Value:
    return Value(NUMBER, V.num_neg(a[0].v))


def _minmax(pick_less: bool) -> Impl:
    def impl(a: list[Value]) -> Value:
        if not a:
            raise CallError("must pass at least one number")
        best = a[0]
        for v in a[1:]:
            c = V.num_cmp(v.v, best.v)
            if (c < 0) if pick_less else (c > 0):
                best = v
        return best

    return impl


def _int(a: list[Value]) -> Value:
    x = a[0].v
    if isinstance(x, float) and math.isinf(x):
        # cty's IntFunc dereferences the nil big.Int that Float.Int returns for infinities
        raise CallError(V.NIL_POINTER_PANIC)
    # a fractional input becomes a fresh big.Float.SetInt: 64-bit precision
    return a[0] if V.is_integer(x) else Value(NUMBER, V.Int64(int(x)))


def _ceil(a: list[Value]) -> Value:
    x = a[0].v
    if isinstance(x, float) and math.isinf(x):
        return a[0]
    return Value(NUMBER, _same_precision(x, math.ceil(x)))


def _floor(a: list[Value]) -> Value:
    x = a[0].v
    if isinstance(x, float) and math.isinf(x):
        return a[0]
    return Value(NUMBER, _same_precision(x, math.floor(x)))


def _same_precision(x: Any, whole: int) -> Any:
    """An integral result kept at the input's precision (cty reuses the input big.Float)."""
    if isinstance(x, V.NegZero):
        return 0 if x.prec >= V.LITERAL_PREC else V.Int64(0)  # SetInt of a big.Int: never negative zero
    if isinstance(x, float):
        return float(whole)
    if isinstance(x, V.Int64) or (isinstance(x, V.BigFloat) and x.prec < V.LITERAL_PREC):
        return V.Int64(whole)
    return whole


def _to_float(v: Value) -> float:
    f = float(v.v)
    if math.isinf(f) and not (isinstance(v.v, float) and math.isinf(v.v)):
        raise CallError(f"value must be between {_go_float_max()} and {_go_float_max(False)} inclusive")
    return f


def _go_float_max(neg: bool = True) -> str:
    text = f"{1.7976931348623157e308:f}"
    return ("-" + text) if neg else text


def _float_result(f: float) -> Value:
    if math.isnan(f):
        raise CallError("panic in function implementation: Float.SetFloat64(NaN)")
    return Value(NUMBER, f)


def _log(a: list[Value]) -> Value:
    num, base = _to_float(a[0]), _to_float(a[1])
    try:
        return _float_result(_go_log(num) / _go_log(base))
    except ZeroDivisionError:
        top = _go_log(num)
        return _float_result(math.copysign(math.inf, top) if top != 0 else math.nan)


def _go_log(x: float) -> float:
    if x == 0:
        return -math.inf
    if x < 0 or math.isnan(x):
        return math.nan
    if math.isinf(x):
        return math.inf
    return math.log(x)


def _pow(a: list[Value]) -> Value:
    num, power = _to_float(a[0]), _to_float(a[1])
    try:
        result = math.pow(num, power)
    except OverflowError:
        result = math.inf
    except ValueError:
        if num == 0 and power < 0:
            result = math.inf
        else:
            result = math.nan
    return _float_result(result)


def _signum(a: list[Value]) -> Value:
    num = _int_arg(a[0])
    return Value(NUMBER, V.Int64((num > 0) - (num < 0)))


_DIGITS62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parseint(a: list[Value]) -> Value:
    if a[0].type is not STRING:
        raise ArgError(0, f"first argument must be a string, not {V.friendly_name(a[0].type)}")
    text = a[0].v
    try:
        base = to_int(a[1])
    except ValueError as e:
        raise ArgError(1, str(e)) from None
    if base < 2 or base > 62:
        raise ArgError(1, "base must be a whole number between 2 and 62 inclusive")
    result = _big_int_set_string(text, base)
    if result is None:
        raise ArgError(0, f"cannot parse {_go_quote(text)} as a base {base} integer")
    return Value(NUMBER, V.Int64(result))  # big.Float.SetInt: 64 bits or the integer's length


def _big_int_set_string(text: str, base: int) -> int | None:
    """big.Int.SetString with an explicit base: optional sign, digits, underscores not allowed."""
    body = text
    neg = False
    if body[:1] in ("+", "-"):
        neg = body[0] == "-"
        body = body[1:]
    if not body:
        return None
    total = 0
    for ch in body:
        if base <= 36:
            d = _DIGITS62.find(ch.lower()) if ch.isascii() else -1
        else:
            d = _DIGITS62.find(ch) if ch.isascii() else -1
        if d < 0 or d >= base:
            return None
        total = total * base + d
    return -total if neg else total


def _range(a: list[Value]) -> Value:
    # cty.Zero and cty.NumberIntVal(±1) are 64-bit integers
    if len(a) == 1:
        start, end = V.Int64(0), a[0].v
        step = V.Int64(-1 if end < 0 else 1)
    elif len(a) == 2:
        start, end = a[0].v, a[1].v
        step = V.Int64(-1 if end < start else 1)
    elif len(a) == 3:
        start, end, step = a[0].v, a[1].v, a[2].v
    else:
        raise CallError("must have one, two, or three arguments")
    # cty tests `step == cty.Zero` by go struct identity, which a parsed 0 never is: a zero step
    # therefore runs into the 1024-value limit (or yields [] when start >= end), as in buildx
    down = step < 0
    if down and end > start:
        raise ArgError(1, "end must be less than start when step is negative")
    if not down and end < start:
        raise ArgError(1, "end must be greater than start when step is positive")
    out: list[Value] = []
    num: Any = start
    while not ((num <= end) if down else (num >= end)):
        if len(out) >= 1024:
            raise CallError(
                "more than 1024 values were generated; either decrease the difference between start and end "
                "or use a smaller step"
            )
        out.append(Value(NUMBER, num))
        num = V.num_add(num, step)
    return Value(ListType(NUMBER), tuple(out))


# --------------------------------------------------------------------------
# Booleans and equality


def _not(a: list[Value]) -> Value:
    return V.bool_val(not a[0].v)


def _and(a: list[Value]) -> Value:
    return V.bool_val(a[0].v and a[1].v)


def _or(a: list[Value]) -> Value:
    return V.bool_val(a[0].v or a[1].v)


def _equal(a: list[Value]) -> Value:
    return V.bool_val(V.equals(a[0], a[1]))


def _notequal(a: list[Value]) -> Value:
    return V.bool_val(not V.equals(a[0], a[1]))


# --------------------------------------------------------------------------
# Strings

_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _go_upper(text: str) -> str:
    # go's strings.ToUpper maps rune by rune (no "ß" -> "SS" expansions)
    if text.isascii():
        return text.upper()
    return "".join(c if len(u := c.upper()) != 1 else u for c in text)


def _go_lower(text: str) -> str:
    if text.isascii():
        return text.lower()
    # go maps U+0130 to a plain "i"; every other multi-rune python lowering keeps the rune
    return "".join(lo if len(lo := c.lower()) == 1 else ("i" if c == "\u0130" else c) for c in text)


def _go_title_char(c: str) -> str:
    t = c.title()
    return t if len(t) == 1 else c


def _go_title(text: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out = []
    prev = " "
    for c in text:
        out.append(_go_title_char(c) if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or unicodedata.category(c).startswith("N"):
        return False
    return c in _GO_SPACE


def _str_fn(f: Callable[[str], str]) -> Impl:
    def impl(a: list[Value]) -> Value:
        return s(f(a[0].v))

    return impl


def _reverse(a: list[Value]) -> Value:
    return s("".join(reversed(graphemes(a[0].v))))


def _strlen(a: list[Value]) -> Value:
    return Value(NUMBER, V.Int64(len(graphemes(a[0].v))))


def _substr(a: list[Value]) -> Value:
    text = a[0].v
    offset = _int_arg(a[1])
    length = _int_arg(a[2])
    clusters = graphemes(text)
    if offset < 0:
        offset += len(clusters)
    elif length == 0:
        return s("")
    rest = clusters
    if offset > 0:
        if offset > len(clusters):
            return s("")
        rest = clusters[offset:]
    if length <= 0:
        # a zero length is only reachable with a negative offset: go then takes the rest
        return s("".join(rest))
    return s("".join(rest[:length]))


def _join(a: list[Value]) -> Value:
    sep = a[0].v
    lists = a[1:]
    if not lists:
        raise CallError("at least one list is required")
    items: list[str] = []
    for ai, lst in enumerate(lists):
        for ei, v in enumerate(lst.v):
            if v.v is None:
                if len(lists) > 1:
                    raise ArgError(ai + 1, f"element {ei} of list {ai + 1} is null; cannot concatenate null values")
                raise ArgError(ai + 1, f"element {ei} is null; cannot concatenate null values")
            items.append(v.v)
    return s(sep.join(items))


def _sort(a: list[Value]) -> Value:
    lst = a[0]
    if not lst.v:
        return lst
    items = []
    for i, v in enumerate(lst.v):
        if v.v is None:
            raise CallError(f"given list element {i} is null; a null string cannot be sorted")
        items.append(v.v)
    # go's sort.Strings compares bytes; for valid UTF-8 that is code point order
    return Value(ListType(STRING), tuple(Value(STRING, x) for x in sorted(items)))


def _split(a: list[Value]) -> Value:
    sep, text = a[0].v, a[1].v
    parts = list(text) if sep == "" else text.split(sep)
    return Value(ListType(STRING), tuple(s(p) for p in parts))


_CHOMP_RE = re.compile(r"(?:\r\n?|\n)*\Z")


def _chomp(a: list[Value]) -> Value:
    return s(_CHOMP_RE.sub("", a[0].v, count=1))


def _indent(a: list[Value]) -> Value:
    spaces = _int_arg(a[0])
    if spaces < 0:
        raise CallError("panic in function implementation: strings: negative Repeat count")
    return s(a[1].v.replace("\n", "\n" + " " * spaces))


def _trimspace(text: str) -> str:
    return text.strip(_GO_SPACE)


def _trim(a: list[Value]) -> Value:
    cut = a[1].v
    return s(a[0].v.strip(cut)) if cut else a[0]


def _trimprefix(a: list[Value]) -> Value:
    text, prefix = a[0].v, a[1].v
    return s(text[len(prefix) :]) if prefix and text.startswith(prefix) else a[0]


def _trimsuffix(a: list[Value]) -> Value:
    text, suffix = a[0].v, a[1].v
    return s(text[: -len(suffix)]) if suffix and text.endswith(suffix) else a[0]


def _replace(a: list[Value]) -> Value:
    text, old, new = a[0].v, a[1].v, a[2].v
    if old == "":
        # go's strings.Replace with an empty old string inserts `new` around every rune
        return s(new + new.join(text) + new if text else new)
    return s(text.replace(old, new))


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


# --------------------------------------------------------------------------
# Regular expressions (go's RE2 syntax translated to python's)


class RegexSyntaxError(Exception):
    """An RE2 syntax error, worded like go's regexp/syntax (code, expr)."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"{code}: `{expr}`")
        self.code = code
        self.expr = expr


_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def translate_re2(pattern: str) -> str:
    """Translate an RE2 pattern to an equivalent `regex` module pattern (or raise RegexSyntaxError)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    multiline = False
    ungreedy = False
    depth = 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            i, piece = _translate_escape(pattern, i, in_class=False)
            out.append(piece)
            continue
        if c == "[":
            i, piece = _translate_class(pattern, i)
            out.append(piece)
            continue
        if c == "(":
            i, piece, flags = _translate_group(pattern, i)
            if "m" in flags and depth == 0:
                multiline = True
            if "U" in flags:
                ungreedy = True
            out.append(piece)
            if piece != "(?" + flags + ")" or not flags:
                depth += 1 if not piece.endswith(")") else 0
            continue
        if c == ")":
            depth = max(depth - 1, 0)
        if c == "$" and not multiline:
            out.append(r"(?!(?s:.))")
            i += 1
            continue
        if c == "{":
            _check_repeat(pattern, i)
        if c in "*+?" and (i + 1 < n and pattern[i + 1] in "*+"):
            raise RegexSyntaxError("invalid nested repetition operator", pattern[i : i + 2])
        out.append(c)
        i += 1
        if ungreedy and (c in "*+?" or (c == "}" and _closes_repeat(pattern, i - 1))) and not _quantified_twice(out):
            # (?U) swaps greedy and lazy repetition
            if i < n and pattern[i] == "?":
                i += 1
            else:
                out.append("?")
    return "".join(out)


def _closes_repeat(p: str, end: int) -> bool:
    start = p.rfind("{", 0, end)
    return start >= 0 and _REPEAT_RE.fullmatch(p, start, end + 1) is not None


def _quantified_twice(out: list[str]) -> bool:
    return len(out) >= 2 and out[-1] == "?" and out[-2] in ("*", "+", "?")


_ASCII_CLASSES = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NON_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"


def _complement(ranges: str) -> str:
    """The complement (within all of Unicode) of an ASCII class body like "0-9A-Za-z_"."""
    chars: set[int] = set()
    body = ranges.encode().decode("unicode_escape")
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            chars.update(range(ord(body[k]), ord(body[k + 2]) + 1))
            k += 3
        else:
            chars.add(ord(body[k]))
            k += 1
    out = []
    start = None
    for code in range(0, 129):
        inside = code in chars or code == 128
        if not inside and start is None:
            start = code
        elif inside and start is not None:
            out.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    out.append("\\U00000080-\\U0010ffff")
    return "".join(out)


def _translate_escape(p: str, i: int, in_class: bool) -> tuple[int, str]:
    if i + 1 >= len(p):
        raise RegexSyntaxError("trailing backslash at end of expression", "")
    e = p[i + 1]
    if e.isdigit() and e != "0":
        raise RegexSyntaxError("invalid escape sequence", p[i : i + 2])
    if e == "z":
        return i + 2, r"\Z"
    if e == "Q":
        end = p.find(r"\E", i + 2)
        lit = p[i + 2 :] if end < 0 else p[i + 2 : end]
        import regex  # type: ignore[import-untyped,unused-ignore]

        return (len(p) if end < 0 else end + 2), regex.escape(lit)
    if e in "pP":
        if i + 2 < len(p) and p[i + 2] == "{":
            end = p.find("}", i + 3)
            if end < 0:
                raise RegexSyntaxError("invalid character class range", p[i:])
            return end + 1, p[i : end + 1]
        return i + 3, p[i : i + 3]
    if e == "x" and i + 2 < len(p) and p[i + 2] == "{":
        end = p.find("}", i + 3)
        if end < 0 or not re.fullmatch(r"[0-9A-Fa-f]+", p[i + 3 : end]):
            raise RegexSyntaxError("invalid escape sequence", p[i : end + 1 if end > 0 else len(p)])
        return end + 1, f"\\U{int(p[i + 3 : end], 16):08x}"
    # go's \d \w \s \b are ASCII-only while the rest of the pattern stays Unicode-aware
    if e in "dws":
        body = _ASCII_CLASSES[e]
        return i + 2, body if in_class else f"[{body}]"
    if e in "DWS":
        body = _complement(_ASCII_CLASSES[e.lower()])
        return i + 2, body if in_class else f"[{body}]"
    if e == "b" and not in_class:
        return i + 2, _BOUNDARY
    if e == "B" and not in_class:
        return i + 2, _NON_BOUNDARY
    if e.isalnum() and e not in "afnrtvAx0":
        raise RegexSyntaxError("invalid escape sequence", p[i : i + 2])
    return i + 2, p[i : i + 2]


def _translate_class(p: str, i: int) -> tuple[int, str]:
    out = ["["]
    j = i + 1
    if j < len(p) and p[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(p):
        c = p[j]
        if c == "]" and not first:
            out.append("]")
            return j + 1, "".join(out)
        if c == "[" and p.startswith("[:", j):
            end = p.find(":]", j + 2)
            if end > 0:
                name = p[j + 2 : end]
                body = _POSIX.get(name.lstrip("^"))
                if body is None:
                    raise RegexSyntaxError("invalid character class range", p[j : end + 2])
                out.append(_complement(body) if name.startswith("^") else body)
                j = end + 2
                first = False
                continue
        if c == "\\":
            j, piece = _translate_escape(p, j, in_class=True)
            out.append(piece)
            first = False
            continue
        if c == "-" and j > i + 1 and j + 1 < len(p) and p[j + 1] not in "]\\[" and p[j - 1] not in "[^\\":
            if ord(p[j + 1]) < ord(p[j - 1]):
                raise RegexSyntaxError("invalid character class range", p[j - 1 : j + 2])
        if c == "[":
            out.append("\\[")
        elif c == "]":
            out.append("\\]")
        else:
            out.append(c)
        first = False
        j += 1
    raise RegexSyntaxError("missing closing ]", p[i:])


_REPEAT_RE = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def _check_repeat(p: str, i: int) -> None:
    m = _REPEAT_RE.match(p, i)
    if m is None:
        return
    lo = int(m.group(1))
    hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
    if lo > 1000 or hi > 1000 or (hi >= 0 and hi < lo):
        raise RegexSyntaxError("invalid repeat count", m.group(0))


def _translate_group(p: str, i: int) -> tuple[int, str, str]:
    if not p.startswith("(?", i):
        return i + 1, "(", ""
    rest = p[i + 2 :]
    if rest.startswith("P<") or rest.startswith("<"):
        start = i + (4 if rest.startswith("P<") else 3)
        end = p.find(">", start)
        if end < 0:
            raise RegexSyntaxError("invalid named capture", p[i:])
        name = p[start:end]
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise RegexSyntaxError("invalid named capture", p[i : end + 1])
        return end + 1, f"(?P<{name}>", ""
    m = re.match(r"([imsU-]*)([:)])", rest)
    if m is None or m.group(1) in ("-",) or ("U" in m.group(1) and not (i == 0 and m.group(2) == ")")):
        # go reports the text up to and including the first unsupported character
        j = i + 2
        while j < len(p) and p[j] in "imsU-":
            j += 1
        raise RegexSyntaxError("invalid or unsupported Perl syntax", p[i : j + 1])
    flags = m.group(1).replace("U", "")
    if m.group(2) == ")" and not flags:
        return i + 2 + m.end(), "", m.group(1)
    if m.group(2) == ")":
        return i + 2 + m.end(), f"(?{flags})" if "-" not in flags else _scoped_flags(flags), flags
    return i + 2 + m.end(), f"(?{flags}:", flags


def _scoped_flags(flags: str) -> str:
    on, _, off = flags.partition("-")
    return f"(?{on}-{off})" if on else f"(?-{off})"


def compile_re2(pattern: str) -> Any:
    """Compile an RE2 pattern with go semantics (ASCII \\w \\d \\b, `$` = end of text)."""
    import regex  # type: ignore[import-untyped,unused-ignore]

    translated = translate_re2(pattern)
    try:
        return regex.compile(translated, regex.VERSION0)
    except regex.error as e:
        raise _python_regex_error(pattern, e) from None


def _python_regex_error(pattern: str, e: Any) -> RegexSyntaxError:
    msg = str(e.msg if hasattr(e, "msg") else e)
    if "missing )" in msg:
        return RegexSyntaxError("missing closing )", pattern)
    if "unbalanced parenthesis" in msg:
        return RegexSyntaxError("unexpected )", pattern)
    if "nothing to repeat" in msg:
        return RegexSyntaxError("missing argument to repetition operator", pattern[e.pos : e.pos + 1] if e.pos is not None else pattern)
    if "bad character range" in msg:
        return RegexSyntaxError("invalid character class range", pattern)
    if "unterminated character set" in msg:
        return RegexSyntaxError("missing closing ]", pattern)
    return RegexSyntaxError("invalid or unsupported Perl syntax", pattern)


def _regex_compile_arg(pattern: str) -> Any:
    try:
        return compile_re2(pattern)
    except RegexSyntaxError as e:
        raise ArgError(0, f"invalid regexp pattern: {e.code} in {e.expr}" if e.expr else f"invalid regexp pattern: {e.code}") from None


def _regex_result_type(rx: Any) -> tuple[str, list[str]]:
    names = [""] * rx.groups
    for name, idx in rx.groupindex.items():
        names[idx - 1] = name
    unnamed = sum(1 for x in names if not x)
    named = [x for x in names if x]
    if unnamed == 0 and not named:
        return "string", names
    if unnamed and named:
        raise ArgError(0, "invalid regexp pattern: cannot mix both named and unnamed capture groups")
    return ("tuple" if unnamed else "object"), names


def _regex_result(m: Any, kind: str, names: list[str]) -> Value:
    if kind == "string":
        return s(m.group(0))
    groups = [(s(g) if g is not None else V.null_val(STRING)) for g in m.groups()]
    if kind == "tuple":
        return V.tuple_val(groups)
    return V.object_val(dict(zip(names, groups)))


def _regex(a: list[Value]) -> Value:
    rx = _regex_compile_arg(a[0].v)
    kind, names = _regex_result_type(rx)
    m = rx.search(a[1].v)
    if m is None:
        raise CallError("pattern did not match any part of the given string")
    return _regex_result(m, kind, names)


def _regexall(a: list[Value]) -> Value:
    rx = _regex_compile_arg(a[0].v)
    kind, names = _regex_result_type(rx)
    elems = [_regex_result(m, kind, names) for m in _go_find_all(rx, a[1].v)]
    if not elems:
        ety: Type = STRING if kind == "string" else _empty_result_type(kind, rx.groups, names)
        return Value(ListType(ety), ())
    return Value(ListType(elems[0].type), tuple(elems))


def _empty_result_type(kind: str, count: int, names: list[str]) -> Type:
    if kind == "tuple":
        return TupleType([STRING] * count)
    return ObjectType({x: STRING for x in names})


def _go_find_all(rx: Any, text: str) -> list[Any]:
    """go's FindAll: like finditer, but an empty match right after a previous match is skipped."""
    out = []
    prev_end = -1
    for m in rx.finditer(text):
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
    return out


def _regex_replace(a: list[Value]) -> Value:
    text, pattern, repl = a[0].v, a[1].v, a[2].v
    try:
        rx = compile_re2(pattern)
    except RegexSyntaxError as e:
        raise CallError(f"error parsing regexp: {e.code}: `{e.expr}`") from None
    out: list[str] = []
    last = 0
    for m in _go_find_all(rx, text):
        out.append(text[last : m.start()])
        out.append(_go_expand(repl, m))
        last = m.end()
    out.append(text[last:])
    return s("".join(out))


_EXPAND_NAME = re.compile(r"[A-Za-z0-9_]+")


def _go_expand(template: str, m: Any) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out: list[str] = []
    i = 0
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        name, consumed = _expand_name(rest)
        if name is None:
            out.append("$")
            i = j + 1
            continue
        out.append(_group_text(m, name))
        i = j + 1 + consumed
    return "".join(out)


def _expand_name(rest: str) -> tuple[str | None, int]:
    if rest.startswith("{"):
        end = rest.find("}")
        if end < 0:
            return None, 0
        name = rest[1:end]
        if not _EXPAND_NAME.fullmatch(name):
            return None, 0
        return name, end + 1
    mm = _EXPAND_NAME.match(rest)
    if mm is None:
        return None, 0
    return mm.group(0), mm.end()


def _group_text(m: Any, name: str) -> str:
    if name.isdigit():
        idx = int(name)
        if idx <= m.re.groups:
            return m.group(idx) or ""
        return ""
    if name in m.re.groupindex:
        return m.group(name) or ""
    return ""


# --------------------------------------------------------------------------
# format / formatlist


@dataclass
class _Verb:
    raw: str = ""
    offset: int = 0
    argnum: int = 0
    mode: str = ""
    zero: bool = False
    sharp: bool = False
    plus: bool = False
    minus: bool = False
    space: bool = False
    width: int = -1
    prec: int = -1


def format_string(fmt: str, args: Sequence[Value]) -> str:
    """cty's formatFSM; raises CallError/ArgError with cty's messages."""
    out: list[str] = []
    i, n_ = 0, len(fmt)
    next_arg, highest = 1, 0
    while i < n_:
        c = fmt[i]
        if c != "%":
            j = fmt.find("%", i)
            j = n_ if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        if i + 1 < n_ and fmt[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        verb, i = _scan_verb(fmt, i, next_arg)
        highest = max(highest, verb.argnum)
        out.append(_format_verb(verb, args))
        next_arg = verb.argnum + 1
    if highest < len(args):
        if highest == 0:
            raise ArgError(highest + 1, "too many arguments; no verbs in format string")
        raise ArgError(highest + 1, f"too many arguments; only {highest} used by format string")
    return "".join(out)


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode()) if not text.isascii() else i


def _scan_verb(fmt: str, start: int, next_arg: int) -> tuple[_Verb, int]:
    verb = _Verb(argnum=next_arg, offset=_byte_offset(fmt, start))
    i = start + 1
    n_ = len(fmt)
    while i < n_ and fmt[i] in "0#-+ ":
        flag = fmt[i]
        verb.zero |= flag == "0"
        verb.sharp |= flag == "#"
        verb.minus |= flag == "-"
        verb.plus |= flag == "+"
        verb.space |= flag == " "
        i += 1
    if i < n_ and fmt[i] in "123456789":
        j = i
        while j < n_ and fmt[j].isdigit() and fmt[j].isascii():
            j += 1
        verb.width = int(fmt[i:j])
        i = j
    if i < n_ and fmt[i] == ".":
        j = i + 1
        while j < n_ and fmt[j] in "0123456789":
            j += 1
        verb.prec = int(fmt[i + 1 : j] or "0")
        i = j
    if i < n_ and fmt[i] == "[":
        j = i + 1
        if j < n_ and fmt[j] in "123456789":
            while j < n_ and fmt[j] in "0123456789":
                j += 1
            verb.argnum = int(fmt[i + 1 : j])
            if j < n_ and fmt[j] == "]":
                i = j + 1
            else:
                _scan_fail(fmt, j)
        else:
            _scan_fail(fmt, j)
    if i < n_ and fmt[i].isascii() and fmt[i].isalpha():
        verb.mode = fmt[i]
        verb.raw = fmt[start : i + 1]
        return verb, i + 1
    _scan_fail(fmt, i)
    raise AssertionError("unreachable")


def _scan_fail(fmt: str, i: int) -> None:
    if i >= len(fmt):
        raise CallError(f"invalid format string starting at offset {_byte_offset(fmt, len(fmt))}")
    raise CallError(f"unrecognized format character {_go_quote_rune(fmt[i])} at offset {_byte_offset(fmt, i)}")


def _format_verb(verb: _Verb, args: Sequence[Value]) -> str:
    idx = verb.argnum - 1
    if idx >= len(args):
        raise CallError(
            f"not enough arguments for {_go_quote(verb.raw)} at {verb.offset}: "
            f"need index {verb.argnum} but have {len(args)} total"
        )
    arg = args[idx]
    if verb.mode != "v" and arg.v is None:
        raise CallError(f"unsupported value for {_go_quote(verb.raw)} at {verb.offset}: null value cannot be formatted")
    m = verb.mode
    if m == "v":
        return _format_as_is(verb, arg)
    if m == "t":
        b = _verb_convert(verb, arg, BOOL)
        return "true" if b.v else "false"
    if m in "bdoxXeEfgG":
        num = _verb_convert(verb, arg, NUMBER).v
        if m in "bdoxX":
            return _format_integer(verb, num)
        return _format_float(verb, num)
    if m in "sq":
        return _format_str(verb, _verb_convert(verb, arg, STRING).v)
    raise CallError(f"unsupported format verb {_go_quote_rune(m)} in {_go_quote(verb.raw)} at offset {verb.offset}")


def _verb_convert(verb: _Verb, arg: Value, t: Type) -> Value:
    try:
        return V.convert(arg, t)
    except ConversionError as e:
        raise CallError(f"unsupported value for {_go_quote(verb.raw)} at {verb.offset}: {e}") from None


def _pad(verb: _Verb, text: str) -> str:
    if verb.width < 0:
        return text
    have = len(graphemes(text))
    if have >= verb.width:
        return text
    pad = ("0" if verb.zero else " ") * (verb.width - have)
    return text + pad if verb.minus else pad + text


def _format_as_is(verb: _Verb, arg: Value) -> str:
    if not verb.sharp and arg.v is not None:
        if arg.type is STRING:
            return _pad(verb, arg.v)
        if arg.type is NUMBER:
            return _pad(verb, big_text(arg.v, "g", -1))
    try:
        return _pad(verb, V.json_encode(arg))
    except V.JSONError as e:
        raise CallError(f"unsupported value for {_go_quote(verb.raw)} at {verb.offset}: {e}") from None


def _format_str(verb: _Verb, text: str) -> str:
    if verb.prec > 0:
        text = "".join(graphemes(text)[: verb.prec])
    if verb.mode == "s":
        return _pad(verb, text)
    return _pad(verb, V.go_json_string(text))


def _format_integer(verb: _Verb, num: Any) -> str:
    if not V.is_integer(num):
        raise CallError(f"unsupported value for {_go_quote(verb.raw)} at {verb.offset}: an integer is required")
    return go_format_int(int(num), verb.mode, verb.width, verb.prec, verb.plus, verb.space, verb.sharp, verb.minus, verb.zero)


def go_format_int(
    x: int, ch: str, width: int, prec: int, plus: bool, space: bool, sharp: bool, minus: bool, zero: bool
) -> str:
    """big.Int's fmt.Formatter."""
    digits = {"b": format(abs(x), "b"), "o": format(abs(x), "o"), "d": str(abs(x)), "x": format(abs(x), "x"), "X": format(abs(x), "X")}[ch]
    sign = "-" if x < 0 else "+" if plus else " " if space else ""
    prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(ch, "") if sharp else ""
    zeros = 0
    if prec >= 0:
        if len(digits) < prec:
            zeros = prec - len(digits)
        elif digits == "0" and prec == 0:
            return ""
    length = len(sign) + len(prefix) + zeros + len(digits)
    left = right = 0
    if width >= 0 and length < width:
        d = width - length
        if minus:
            right = d
        elif zero and prec < 0:
            zeros = d
        else:
            left = d
    return " " * left + sign + prefix + "0" * zeros + digits + " " * right


def _format_float(verb: _Verb, num: Any) -> str:
    """big.Float's fmt.Formatter for %e %E %f %g %G."""
    mode = verb.mode
    prec = verb.prec
    if prec < 0 and mode in "eEf":
        prec = 6
    body = big_text(num, mode, prec)
    sign = ""
    if body.startswith("-"):
        sign, body = "-", body[1:]
    elif body.startswith("+"):
        sign, body = ("+" if not verb.space else " "), body[1:]
    elif verb.plus:
        sign = "+"
    elif verb.space:
        sign = " "
    padding = max(verb.width - len(sign) - len(body), 0) if verb.width >= 0 else 0
    is_inf = isinstance(num, float) and math.isinf(num)
    if verb.zero and not is_inf:
        return sign + "0" * padding + body
    if verb.minus:
        return sign + body + " " * padding
    return " " * padding + sign + body


def _decimal_of(num: Any) -> tuple[str, int, int]:
    """(digits, exp, prec): the exact decimal 0.digits * 10**exp of |num| and its binary precision."""
    if isinstance(num, int):
        digits = str(abs(num)).rstrip("0")
        return (digits, len(str(abs(num))), V.LITERAL_PREC) if num else ("", 0, V.LITERAL_PREC)
    frac = Fraction(num)
    prec = num.prec if isinstance(num, V.BigFloat) else V.FLOAT_PREC
    if frac == 0:
        return "", 0, prec
    digits, point = V._decimal_digits(abs(frac.numerator), -(frac.denominator.bit_length() - 1))
    return digits, point, prec


def _round_dec(digits: str, exp: int, nd: int) -> tuple[str, int]:
    """go's decimal.round(n) (half to even on exact ties)."""
    if nd < 0 or nd >= len(digits):
        return digits, exp
    nxt = digits[nd]
    if nxt == "5" and nd + 1 == len(digits):
        up = nd > 0 and (ord(digits[nd - 1]) - 48) % 2 == 1
    else:
        up = nxt >= "5"
    if not up:
        return digits[:nd].rstrip("0"), exp
    k = nd
    while k > 0 and digits[k - 1] == "9":
        k -= 1
    if k == 0:
        return "1", exp + 1
    return digits[: k - 1] + chr(ord(digits[k - 1]) + 1), exp


def big_text(num: Any, fmt: str, prec: int) -> str:
    """big.Float.Text(fmt, prec) for 'e', 'E', 'f', 'g', 'G'."""
    if isinstance(num, float) and math.isinf(num):
        return "+Inf" if num > 0 else "-Inf"
    neg = num < 0 or (isinstance(num, float) and math.copysign(1, num) < 0 and num == 0)
    digits, exp, bits = _decimal_of(num)
    shortest = prec < 0
    if shortest:
        if digits:
            frac = abs(Fraction(num))
            digits, exp = V._shortest_digits(frac, bits) if not isinstance(num, int) else _int_shortest(num)
        if fmt in "eE":
            prec = len(digits) - 1
        elif fmt == "f":
            prec = max(len(digits) - exp, 0)
        else:
            prec = len(digits)
    else:
        if fmt in "eE":
            digits, exp = _round_dec(digits, exp, 1 + prec)
        elif fmt == "f":
            digits, exp = _round_dec(digits, exp, exp + prec)
        else:
            if prec == 0:
                prec = 1
            digits, exp = _round_dec(digits, exp, prec)
    sign = "-" if neg else ""
    if fmt in "eE":
        return sign + _fmt_e(digits, exp, prec, fmt)
    if fmt == "f":
        return sign + _fmt_f(digits, exp, prec)
    eprec = prec
    if eprec > len(digits) and len(digits) >= exp:
        eprec = len(digits)
    if shortest:
        eprec = 6
    x = exp - 1
    if x < -4 or x >= eprec:
        if prec > len(digits):
            prec = len(digits)
        return sign + _fmt_e(digits, exp, prec - 1, "e" if fmt == "g" else "E")
    if prec > exp:
        prec = len(digits)
    return sign + _fmt_f(digits, exp, max(prec - exp, 0))


def _int_shortest(num: int) -> tuple[str, int]:
    text = str(abs(num))
    if abs(num).bit_length() > V.LITERAL_PREC:
        return V._shortest_digits(Fraction(abs(num)), V.LITERAL_PREC)
    return text.rstrip("0"), len(text)


def _fmt_e(digits: str, exp: int, prec: int, e: str) -> str:
    first = digits[0] if digits else "0"
    out = first
    if prec > 0:
        more = digits[1 : prec + 1]
        out += "." + more + "0" * (prec - len(more))
    x = exp - 1 if digits else 0
    sign = "-" if x < 0 else "+"
    return f"{out}{e}{sign}{abs(x):02d}"


def _fmt_f(digits: str, exp: int, prec: int) -> str:
    if exp > 0:
        m = min(len(digits), exp)
        out = digits[:m] + "0" * (exp - m)
    else:
        out = "0"
    if prec > 0:
        frac = "".join(digits[exp + i] if 0 <= exp + i < len(digits) else "0" for i in range(prec))
        out += "." + frac
    return out


def _format(a: list[Value]) -> Value:
    return s(format_string(a[0].v, a[1:]))


def _formatlist(a: list[Value]) -> Value:
    fmt = a[0].v
    args = a[1:]
    if not args:
        return Value(ListType(STRING), (s(format_string(fmt, [])),))
    iter_len = -1
    chooser = -1
    seqs: list[tuple[Value, ...] | None] = []
    for i, arg in enumerate(args):
        t = arg.type
        if isinstance(t, (ListType, SetType, TupleType)) and arg.v is not None:
            this = len(arg.v)
            if iter_len == -1:
                iter_len, chooser = this, i
            elif this != iter_len:
                raise ArgError(
                    i + 1,
                    f"argument {i + 1} has length {this}, which is inconsistent with argument {chooser + 1} of length {iter_len}",
                )
            seqs.append(arg.v)
        else:
            seqs.append(None)
    if iter_len == 0:
        return Value(ListType(STRING), ())
    if iter_len == -1:
        iter_len = 1
    out = []
    for k in range(iter_len):
        call_args = [seq[k] if seq is not None else arg for seq, arg in zip(seqs, args)]
        try:
            out.append(s(format_string(fmt, call_args)))
        except (ArgError, CallError) as e:
            raise CallError(f"error on format iteration {k}: {e}") from None
    return Value(ListType(STRING), tuple(out))


# --------------------------------------------------------------------------
# Collections


def _is_seq(t: Type) -> bool:
    return isinstance(t, (ListType, TupleType))


def _hasindex_value(coll: Value, key: Value) -> bool:
    t = coll.type
    if isinstance(t, (ListType, TupleType)):
        if key.type is not NUMBER or not V.is_integer(key.v):
            return False
        i = int(key.v)
        return 0 <= i < len(coll.v) and _INT64_MIN <= i <= _INT64_MAX
    if isinstance(t, MapType):
        return key.type is STRING and key.v in coll.v
    return False


def _hasindex(a: list[Value]) -> Value:
    t = a[0].type
    if not isinstance(t, (ListType, TupleType, MapType)):
        raise CallError("collection must be a list, a map or a tuple")
    return V.bool_val(_hasindex_value(a[0], a[1]))


def _index(a: list[Value]) -> Value:
    coll, key = a
    t = coll.type
    if isinstance(t, TupleType):
        if key.type is not NUMBER:
            raise CallError("key for tuple must be number")
        try:
            idx = to_int(key)
        except ValueError as e:
            raise CallError(f"invalid key for tuple: {e}") from None
        if idx >= len(t.elems) or idx < 0:
            raise CallError(f"key must be between 0 and {len(t.elems)} inclusive")
    elif isinstance(t, ListType):
        if key.type is not NUMBER:
            raise CallError("key for list must be number")
    elif isinstance(t, MapType):
        if key.type is not STRING:
            raise CallError("key for map must be string")
    else:
        raise CallError("collection must be a list, a map or a tuple")
    if coll.v is None or not _hasindex_value(coll, key):
        raise CallError("invalid index")
    found: Value = coll.v[key.v] if isinstance(t, MapType) else coll.v[int(key.v)]
    return found


def _length(a: list[Value]) -> Value:
    t = a[0].type
    if not isinstance(t, (TupleType, ListType, MapType, SetType)):
        raise CallError("collection must be a list, a map or a tuple")
    return Value(NUMBER, V.Int64(len(a[0].v)))


def _element(a: list[Value]) -> Value:
    lst, idx = a
    t = lst.type
    if not isinstance(t, (ListType, TupleType)):
        raise CallError(f"cannot read elements from {V.friendly_name(t)}")
    try:
        index = to_int(idx)
    except ValueError as e:
        raise CallError(f"invalid index: {e}") from None
    if not lst.v:
        raise CallError("cannot use element function with an empty list")
    picked: Value = lst.v[index % len(lst.v)]
    return picked  # python's % already wraps negatives like go's fix-up


def _coalesce(a: list[Value]) -> Value:
    target = V.unify([v.type for v in a]) if a else None
    if target is None:
        raise CallError("all arguments must have the same type")
    for v in a:
        if v.v is None:
            continue
        try:
            return V.convert(v, target)
        except ConversionError as e:
            raise CallError(str(e)) from None
    raise CallError("no non-null arguments")


def _coalescelist(a: list[Value]) -> Value:
    if not a:
        raise CallError("at least one argument is required")
    for v in a:
        if not _is_seq(v.type):
            raise CallError("coalescelist arguments must be lists or tuples")
    for v in a:
        if v.v is None:
            continue
        if v.v:
            return v
    raise CallError("no non-null arguments")


def _compact(a: list[Value]) -> Value:
    return Value(ListType(STRING), tuple(v for v in a[0].v if v.v is not None and v.v != ""))


def _concat(a: list[Value]) -> Value:
    if not a:
        raise CallError("at least one argument is required")
    if all(isinstance(v.type, ListType) for v in a):
        common = V.unify([v.type for v in a])
        if common is not None:
            elems: list[Value] = []
            for i, v in enumerate(a):
                try:
                    elems.extend(V.convert(v, common).v)
                except ConversionError as e:
                    raise ArgError(i, str(e)) from None
            return Value(common, tuple(elems))
    out: list[Value] = []
    for i, v in enumerate(a):
        if not _is_seq(v.type):
            raise ArgError(i, f"all arguments must be lists or tuples; got {V.friendly_name(v.type)}")
        out.extend(v.v)
    return V.tuple_val(out)


def _contains(a: list[Value]) -> Value:
    lst, val = a
    if not isinstance(lst.type, (ListType, TupleType, SetType)):
        raise CallError("argument must be list, tuple, or set")
    return V.bool_val(any(V.equals(val, e) for e in lst.v))


def _distinct(a: list[Value]) -> Value:
    lst = a[0]
    out: list[Value] = []
    for v in lst.v:
        if not any(V.equals(x, v) for x in out):
            out.append(v)
    return Value(lst.type, tuple(out))


def _chunklist(a: list[Value]) -> Value:
    lst, size_v = a
    try:
        size = to_int(size_v)
    except ValueError as e:
        raise CallError(f"invalid size: {e}") from None
    if size < 0:
        raise CallError("the size argument must be positive")
    if not lst.v:
        return Value(ListType(lst.type), ())
    if size == 0:
        return Value(ListType(lst.type), (lst,))
    chunks = [Value(lst.type, lst.v[i : i + size]) for i in range(0, len(lst.v), size)]
    return Value(ListType(lst.type), tuple(chunks))


def _flatten(a: list[Value]) -> Value:
    if not isinstance(a[0].type, (ListType, SetType, TupleType)):
        raise CallError("can only flatten lists, sets and tuples")
    return V.tuple_val(_flattener(a[0]))


def _flattener(v: Value) -> list[Value]:
    out: list[Value] = []
    for e in v.v:
        if e.v is not None and isinstance(e.type, (ListType, SetType, TupleType)):
            out.extend(_flattener(e))
        else:
            out.append(e)
    return out


def _keys(a: list[Value]) -> Value:
    m = a[0]
    if isinstance(m.type, MapType):
        return Value(ListType(STRING), tuple(Value(STRING, k) for k in m.v))
    if isinstance(m.type, ObjectType):
        return V.tuple_val([Value(STRING, k) for k in m.type.attrs])
    raise ArgError(0, "must have map or object type")


def _values(a: list[Value]) -> Value:
    m = a[0]
    if isinstance(m.type, MapType):
        return Value(ListType(m.type.elem), tuple(m.v.values()))
    if isinstance(m.type, ObjectType):
        return V.tuple_val(list(m.v.values()))
    raise CallError("values() requires a map as the first argument")


def _lookup(a: list[Value]) -> Value:
    m, key, default = a
    t = m.type
    k = key.v
    if isinstance(t, ObjectType):
        if k in t.attrs:
            attr: Value = m.v[k]
            return attr
        return default
    if isinstance(t, MapType):
        try:
            V.convert(default, t.elem)
        except ConversionError:
            raise ArgError(2, "the default value must have the same type as the map elements") from None
        if k in m.v:
            elem: Value = m.v[k]
            return elem
        try:
            return V.convert(default, t.elem)
        except ConversionError as e:
            raise CallError(str(e)) from None
    raise ArgError(0, "lookup() requires a map as the first argument")


def _merge(a: list[Value]) -> Value:
    if not a:
        return V.EMPTY_OBJECT
    first: Type | None = None
    matching = True
    attrs_known = True
    for i, arg in enumerate(a):
        t = arg.type
        if t is DYNAMIC:
            matching = False
            continue
        if not isinstance(t, (MapType, ObjectType)):
            raise CallError(f'arguments must be maps or objects, got "{V.friendly_name(t)}"')
        if isinstance(t, MapType) and arg.v is not None:
            attrs_known = False
        if i == 0:
            first = t
        elif t != first:
            matching = False
    out: dict[str, Value] = {}
    for arg in a:
        if arg.v is None:
            continue
        out.update(arg.v)
    if matching and isinstance(first, MapType):
        return V.map_val(out, first.elem) if out else Value(first, {})
    del attrs_known
    return V.object_val(out)


def _reverselist(a: list[Value]) -> Value:
    v = a[0]
    t = v.type
    if isinstance(t, TupleType):
        return V.tuple_val(list(reversed(v.v)))
    if isinstance(t, (ListType, SetType)):
        return Value(ListType(t.elem), tuple(reversed(v.v)))
    raise ArgError(0, f"can only reverse list or tuple values, not {V.friendly_name(t)}")


def _setproduct(a: list[Value]) -> Value:
    if len(a) < 2:
        raise CallError("at least two arguments are required")
    etys: list[Type] = []
    list_count = 0
    for i, arg in enumerate(a):
        t = arg.type
        if isinstance(t, SetType):
            etys.append(t.elem)
        elif isinstance(t, ListType):
            etys.append(t.elem)
            list_count += 1
        elif isinstance(t, TupleType):
            list_count += 1
            if not t.elems:
                etys.append(DYNAMIC)
                continue
            u = V.unify(t.elems)
            if u is None:
                raise ArgError(i, "all elements must be of the same type")
            etys.append(u)
        else:
            raise ArgError(i, "a set or a list is required")
    ety = TupleType(etys)
    combos: list[list[Value]] = [[]]
    for j, arg in enumerate(a):
        conv = [e if e.type == etys[j] else V.convert(e, etys[j]) for e in arg.v]
        combos = [c + [e] for c in combos for e in conv]
    tuples = [Value(ety, tuple(c)) for c in combos] if all(len(x.v) for x in a) else []
    if list_count == len(a):
        return Value(ListType(ety), tuple(tuples))
    return V.set_val(tuples, ety) if tuples else Value(SetType(ety), ())


def _slice(a: list[Value]) -> Value:
    lst = a[0]
    t = lst.type
    if isinstance(t, SetType):
        raise ArgError(
            0,
            "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the "
            "ordering of the result is not important",
        )
    if not isinstance(t, (ListType, TupleType)):
        raise ArgError(0, "must be a list or tuple value")
    length = len(lst.v)
    start = _slice_index(a[1], 1, "start", length)
    end = _slice_index(a[2], 2, "end", length)
    if start > end:
        raise ArgError(1, "start index must not be greater than end index")
    if isinstance(t, ListType):
        return Value(t, lst.v[start:end])
    return V.tuple_val(list(lst.v[start:end]))


def _slice_index(v: Value, i: int, what: str, length: int) -> int:
    try:
        idx = to_int(v)
    except ValueError as e:
        raise ArgError(i, f"invalid {what} index: {e}") from None
    if idx < 0:
        raise ArgError(i, f"{what} index must not be less than zero")
    if idx > length:
        raise ArgError(i, f"{what} index must not be greater than the length of the list")
    return idx


def _zipmap(a: list[Value]) -> Value:
    keys, vals = a
    t = vals.type
    if isinstance(t, TupleType):
        if len(keys.v) != len(t.elems):
            raise CallError(f"number of keys ({len(keys.v)}) does not match number of values ({len(t.elems)})")
        for i, k in enumerate(keys.v):
            if k.v is None:
                raise CallError(f"keys list has null value at index {i}")
    elif not isinstance(t, ListType):
        raise CallError("values argument must be a list or tuple value")
    if len(keys.v) != len(vals.v):
        raise CallError(f"number of keys ({len(keys.v)}) does not match number of values ({len(vals.v)})")
    out: dict[str, Value] = {}
    for k, v in zip(keys.v, vals.v):
        out[k.v] = v
    if isinstance(t, ListType):
        return V.map_val(out, t.elem) if out else Value(MapType(t.elem), {})
    return V.object_val(out)


def _indexof(a: list[Value]) -> Value:
    lst, val = a
    if not _is_seq(lst.type):
        raise CallError("argument must be a list or tuple")
    if not lst.v:
        raise CallError("cannot search an empty list")
    for i, e in enumerate(lst.v):
        if V.equals(e, val):
            return Value(NUMBER, V.Int64(i))
    raise CallError("item not found")


# --------------------------------------------------------------------------
# Sets


def _set_result_type(a: list[Value]) -> Type:
    etys = [v.type.elem for v in a if not (not v.v and v.type.elem is DYNAMIC)]  # type: ignore[attr-defined]
    if not etys:
        return SetType(DYNAMIC)
    u = V.unify(etys)
    if u is None:
        raise CallError("given sets must all have compatible element types")
    return SetType(u)


def _set_op(op: Callable[[list[Value], list[Value]], list[Value]]) -> Impl:
    def impl(a: list[Value]) -> Value:
        ret = _set_result_type(a)
        acc: list[Value] | None = None
        for i, arg in enumerate(a):
            try:
                conv = V.convert(arg, ret)
            except ConversionError as e:
                raise ArgError(i, str(e)) from None
            acc = list(conv.v) if acc is None else op(acc, list(conv.v))
        assert acc is not None
        elem = ret.elem if isinstance(ret, SetType) else DYNAMIC
        return V.set_val(acc, elem) if acc else Value(SetType(elem), ())

    return impl


def _union(x: list[Value], y: list[Value]) -> list[Value]:
    return x + [e for e in y if e not in x]


def _intersection(x: list[Value], y: list[Value]) -> list[Value]:
    return [e for e in x if e in y]


def _subtract(x: list[Value], y: list[Value]) -> list[Value]:
    return [e for e in x if e not in y]


def _symdiff(x: list[Value], y: list[Value]) -> list[Value]:
    return [e for e in x if e not in y] + [e for e in y if e not in x]


def _sethaselement(a: list[Value]) -> Value:
    st, elem = a
    if st.type.elem != elem.type:  # type: ignore[attr-defined]
        return FALSE
    return V.bool_val(elem in st.v)


# --------------------------------------------------------------------------
# Encoding, hashing, uuid, csv, json


def _hash(algo: str) -> Impl:
    def impl(a: list[Value]) -> Value:
        return s(hashlib.new(algo, a[0].v.encode()).hexdigest())

    return impl


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


def _uuidv4(a: list[Value]) -> Value:
    return s(str(uuid.uuid4()))


_UUID_NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL, "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}


def _uuidv5(a: list[Value]) -> Value:
    ns_text, name = a[0].v, a[1].v
    ns = _UUID_NAMESPACES.get(ns_text)
    if ns is None:
        ns = _parse_google_uuid(ns_text)
    return s(str(uuid.uuid5(ns, name)))


def _parse_google_uuid(text: str) -> uuid.UUID:
    err = None
    if len(text) not in (32, 36, 38, 45):
        err = f"invalid UUID length: {len(text)}"
    else:
        body = text
        if len(text) == 45:
            if text[:9].lower() != "urn:uuid:":
                err = f"invalid urn prefix: {_go_quote(text[:9])}"
            body = text[9:]
        elif len(text) == 38:
            body = text[1:-1]
        try:
            if err is None:
                return uuid.UUID(body)
        except ValueError:
            err = "invalid UUID format"
    raise CallError(f"uuidv5() doesn't support namespace {text} ({err})")


def _csvdecode(a: list[Value]) -> Value:
    rows = _read_csv(a[0].v)
    if not rows:
        raise CallError("missing header line")
    headers = rows[0][1]
    seen: set[str] = set()
    for h in headers:
        if h in seen:
            raise CallError(f"duplicate column name {_go_quote(h)}")
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


# --------------------------------------------------------------------------
# Dates and times


def _timestamp(a: list[Value]) -> Value:
    return s(datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


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


def _go_parse_rfc3339(text: str) -> datetime:
    """time.Parse(time.RFC3339, text), raising _TimeParseError like go does."""
    value = text
    fields: dict[str, int] = {}
    micro = 0
    zone: timezone | None = None
    steps = [("2006", ""), ("01", "-"), ("02", "-"), ("15", "T"), ("04", ":"), ("05", ":"), ("Z07:00", "")]
    for std, prefix in steps:
        if prefix:
            if not value.startswith(prefix):
                raise _TimeParseError(prefix, value)
            value = value[len(prefix) :]
        hold = value
        range_err = ""
        try:
            if std == "2006":
                if len(value) < 4 or not value[:4].isdigit():
                    raise ValueError
                fields["year"], value = int(value[:4]), value[4:]
            elif std == "01":
                fields["month"], value = _getnum(value, True)
                range_err = "month" if not 1 <= fields["month"] <= 12 else ""
            elif std == "02":
                fields["day"], value = _getnum(value, True)
            elif std == "15":
                fields["hour"], value = _getnum(value, False)
                range_err = "hour" if fields["hour"] >= 24 else ""
            elif std == "04":
                fields["minute"], value = _getnum(value, True)
                range_err = "minute" if fields["minute"] >= 60 else ""
            elif std == "05":
                fields["second"], value = _getnum(value, True)
                range_err = "second" if fields["second"] >= 60 else ""
                if len(value) >= 2 and value[0] in ".," and value[1].isdigit():
                    j = 1
                    while j < len(value) and value[j].isdigit():
                        j += 1
                    micro = int((value[1:j] + "000000")[:6])
                    value = value[j:]
            else:
                zone, value = _parse_zone(value)
        except ValueError:
            raise _TimeParseError(std, hold) from None
        if range_err:
            raise _TimeParseError(std, value, f": {range_err} out of range")
    if value:
        raise _TimeParseError("", value, f": extra text: {_go_quote(value)}")
    try:
        return datetime(fields["year"], fields["month"], fields["day"], fields["hour"], fields["minute"],
                        fields["second"], micro, tzinfo=zone)
    except ValueError:
        raise _TimeParseError("", "", ": day out of range") from None


def _parse_zone(value: str) -> tuple[timezone, str]:
    if value.startswith("Z"):
        return timezone.utc, value[1:]
    if len(value) < 6 or value[3] != ":" or value[0] not in "+-":
        raise ValueError
    hh, _ = _getnum(value[1:3], True)
    mm, _ = _getnum(value[4:6], True)
    off = timedelta(hours=hh, minutes=mm)
    if off >= timedelta(hours=24):
        raise ValueError
    return timezone(-off if value[0] == "-" else off), value[6:]


_RFC3339_FAST = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def parse_rfc3339(text: str) -> datetime:
    """cty's parseTimestamp (strict RFC 3339); ValueError with cty's wording."""
    try:
        parsed = _go_parse_rfc3339(text)
    except _TimeParseError as e:
        raise ValueError(_timestamp_problem(e)) from None
    if _RFC3339_FAST.fullmatch(text) is None or "," in text:
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
            return f"{prefix}: end of string where {_go_quote(e.layout_elem)} is expected"
        return f"{prefix}: found {_go_quote(e.value_elem)} where {_go_quote(e.layout_elem)} is expected"
    what = whats.get(e.layout_elem, "timestamp segment")
    if e.value_elem == "":
        return f"{prefix}: end of string before {what}"
    if what == "hour" and ":" in e.value_elem:
        return f"{prefix}: hour must be between 0 and 23 inclusive"
    if what == "hour" and len(e.value_elem) != 2:
        return f"{prefix}: hour must have exactly two digits"
    if what == "minute" and len(e.value_elem) != 2:
        return f"{prefix}: minute must have exactly two digits"
    return f"{prefix}: cannot use {_go_quote(e.value_elem)} as {what}"


def _go_time_format(t: datetime) -> str:
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
    invalid = ValueError(f"time: invalid duration {_go_quote(text)}")
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
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
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
    return s(_go_time_format(t + timedelta(microseconds=ns // 1000)))


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _formatdate(a: list[Value]) -> Value:
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
    raise ArgError(0, f'invalid date format verb {_go_quote(tok)}: {what} must either be "{tok[0]}" or "{tok[0] * 2}"')


def _date_verb(tok: str, t: datetime) -> str:
    c = tok[0]
    if c == "Y":
        if len(tok) == 2:
            return f"{t.year % 100:02d}"
        if len(tok) == 4:
            return f"{t.year:04d}"
        raise ArgError(0, f'invalid date format verb {_go_quote(tok)}: year must either be "YY" or "YYYY"')
    if c == "M":
        if len(tok) <= 2:
            return str(t.month) if len(tok) == 1 else f"{t.month:02d}"
        if len(tok) in (3, 4):
            name = _MONTHS[t.month - 1]
            return name[:3] if len(tok) == 3 else name
        raise ArgError(0, f'invalid date format verb {_go_quote(tok)}: month must be "M", "MM", "MMM", or "MMMM"')
    if c == "D":
        return _two(t.day, tok, "day of month")
    if c == "E":
        if len(tok) in (3, 4):
            name = _DAYS[t.weekday()]
            return name[:3] if len(tok) == 3 else name
        raise ArgError(0, f'invalid date format verb {_go_quote(tok)}: day of week must either be "EEE" or "EEEE"')
    if c == "h":
        return _two(t.hour, tok, "24-hour")
    if c == "H":
        return _two(t.hour % 12 or 12, tok, "12-hour")
    if c in "Aa":
        if len(tok) != 2:
            raise ArgError(0, f'invalid date format verb {_go_quote(tok)}: must be "{c}{c}"')
        ampm = "AM" if t.hour < 12 else "PM"
        return ampm if c == "A" else ampm.lower()
    if c == "m":
        return _two(t.minute, tok, "minute")
    if c == "s":
        return _two(t.second, tok, "second")
    if c == "Z":
        return _zone_verb(tok, t)
    raise ArgError(0, f"invalid date format verb {_go_quote(tok)}")


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
    raise ArgError(0, f"invalid date format verb {_go_quote(tok)}: timezone must be Z, ZZZZ, or ZZZZZ")


# --------------------------------------------------------------------------
# CIDR (go-cty-funcs/cidr over apparentlymart/go-cidr)


def _parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        if "/" not in text:
            raise ValueError
        addr, _, bits = text.partition("/")
        if not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
            raise ValueError
        if "%" in addr:
            raise ValueError
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise CallError(f"invalid CIDR expression: invalid CIDR address: {text}") from None


def _cidrhost(a: list[Value]) -> Value:
    host = _int_arg(a[1])
    net = _parse_cidr(a[0].v)
    host_len = net.max_prefixlen - net.prefixlen
    max_host = (1 << host_len) - 1
    num = host
    mag = host
    if host < 0:
        mag = -host - 1
        num = max_host - mag
    if mag > max_host:
        raise CallError(f"prefix of {net.prefixlen} does not accommodate a host numbered {host}")
    addr = int(net.network_address) + num
    return s(str(ipaddress.ip_address(addr) if net.version == 4 else ipaddress.IPv6Address(addr)))


def _cidrnetmask(a: list[Value]) -> Value:
    net = _parse_cidr(a[0].v)
    return s(str(net.netmask))


def _cidrsubnet(a: list[Value]) -> Value:
    newbits = _int_arg(a[1])
    netnum = _int_arg(a[2])
    net = _parse_cidr(a[0].v)
    if newbits > 32:
        raise CallError("may not extend prefix by more than 32 bits")
    new_len = net.prefixlen + newbits
    if new_len > net.max_prefixlen:
        raise CallError(f"insufficient address space to extend prefix of {net.prefixlen} by {newbits}")
    if netnum < 0 or netnum > (1 << newbits) - 1:
        raise CallError(f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}")
    base = int(net.network_address) + (netnum << (net.max_prefixlen - new_len))
    return s(f"{_ip_str(base, net.version)}/{new_len}")


def _ip_str(value: int, version: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _cidrsubnets(a: list[Value]) -> Value:
    try:
        net = _parse_cidr(a[0].v)
    except CallError as e:
        raise ArgError(0, str(e)) from None
    lengths = a[1:]
    if not lengths:
        return Value(ListType(STRING), ())
    total_bits = net.max_prefixlen
    start_len = net.prefixlen
    first = _int_arg(lengths[0], 1) + start_len
    net_start = int(net.network_address)
    net_end = net_start + (1 << (total_bits - start_len)) - 1
    # the subnet of the first length just before the network (go-cidr PreviousSubnet)
    cur_start = (net_start - (1 << (total_bits - first))) % (1 << total_bits) if first <= total_bits else net_start
    cur_len = first
    out: list[Value] = []
    for i, lv in enumerate(lengths):
        length = _int_arg(lv, i + 1)
        if length < 1:
            raise ArgError(i + 1, "must extend prefix by at least one bit")
        if length > 32:
            raise ArgError(i + 1, "may not extend prefix by more than 32 bits")
        length += start_len
        if length > total_bits:
            proto = "IPv4" if total_bits == 32 else "IPv6"
            raise ArgError(i + 1, f"would extend prefix to {length} bits, which is too long for an {proto} address")
        cur_last = cur_start + (1 << (total_bits - cur_len)) - 1
        size = 1 << (total_bits - length)
        sub_start = cur_last & ~(size - 1)
        nxt = sub_start + size
        rollover = nxt >= (1 << total_bits)
        nxt %= 1 << total_bits
        if rollover or not (net_start <= nxt <= net_end):
            cur_text = f"{_ip_str(cur_start, net.version)}/{cur_len}"
            raise ArgError(
                i + 1,
                f"not enough remaining address space for a subnet with a prefix of {length} bits after {cur_text}",
            )
        cur_start, cur_len = nxt, length
        out.append(s(f"{_ip_str(cur_start, net.version)}/{cur_len}"))
    return Value(ListType(STRING), tuple(out))


# --------------------------------------------------------------------------
# buildx's own additions (bake/hclparser/stdlib.go, v0.36)


def _homedir(a: list[Value]) -> Value:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return s(home)


def _unix_time(v: Value) -> datetime:
    if not V.is_integer(v.v) or not _INT64_MIN <= int(v.v) <= _INT64_MAX:
        raise ValueError("unix timestamp must be an integer")
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(v.v))


def _formattimestamp(a: list[Value]) -> Value:
    fmt, t = a[0], a[1]
    if t.type is STRING:
        if fmt.v == "X":
            try:
                parsed = parse_rfc3339(t.v)
            except ValueError:
                raise ArgError(1, "timestamp string must be RFC3339") from None
            return s(str(int(parsed.timestamp())))
        return _formatdate([fmt, t])
    if t.type is NUMBER:
        try:
            when = _unix_time(t)
        except ValueError as e:
            raise ArgError(1, str(e)) from None
        if fmt.v == "X":
            return s(str(int(when.timestamp())))
        return _formatdate([fmt, s(_go_time_format(when))])
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
        "month_name": s(_MONTHS[t.month - 1]),
        "weekday": n64((t.weekday() + 1) % 7),
        "weekday_name": s(_DAYS[t.weekday()]),
        "hour": n64(t.hour),
        "minute": n64(t.minute),
        "second": n64(t.second),
        "rfc3339": s(_go_time_format(t)),
        "iso_year": n64(iso_year),
        "iso_week": n64(iso_week),
    }
    return V.object_val(fields)


_SEMVER_RE = re.compile(
    r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_SEMVER_WILD_RE = re.compile(
    r"v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


@dataclass(frozen=True)
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
    m = _SEMVER_RE.fullmatch(text)
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


_CONSTRAINT_RE = re.compile(r"\s*(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*(v?[0-9xX*][0-9A-Za-z.+\-*]*)")


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
        m = _CONSTRAINT_RE.match(text, pos)
        if m is None:
            raise CallError(f"improper constraint: {group}")
        parts.append((m.group(1) or "=", m.group(2)))
        pos = m.end()
    if not parts:
        raise CallError(f"improper constraint: {group}")
    return parts


def _check_constraint(op: str, text: str, v: _SemVer) -> bool:
    m = _SEMVER_WILD_RE.fullmatch(text)
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


# --------------------------------------------------------------------------
# Functions bakeplan cannot run faithfully


def _bytes_unreachable(a: list[Value]) -> Value:
    # the bytes capsule type cannot be constructed in bake, so argument conversion always fails first
    raise CallError("bytes values cannot be created in bake files")


def _bcrypt(a: list[Value]) -> Value:
    cost = 10
    if len(a) > 1:
        cost = _int_arg(a[1])
    if len(a) > 2:
        raise CallError("bcrypt() takes no more than two arguments")
    raise CallError(f"error occured generating password bcrypt is not available in bakeplan (cost {cost})")


def _rsadecrypt(a: list[Value]) -> Value:
    text, key = a[0].v, a[1].v
    try:
        cipher = base64.b64decode(text, validate=True)
    except ValueError:
        raise CallError(f"failed to decode input {_go_quote(text)}: cipher text must be base64-encoded") from None
    der = _pem_body(key)
    if der is None:
        raise CallError("failed to parse key: no key found")
    try:
        nums = _der_ints(der)
        n_mod, d_exp = nums[1], nums[3]
    except (IndexError, ValueError):
        raise CallError("x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)") from None
    if n_mod.bit_length() < 1024:
        # go 1.24's crypto/rsa refuses small keys
        raise CallError(
            f"crypto/rsa: {n_mod.bit_length()}-bit keys are insecure "
            "(see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)"
        )
    k = (n_mod.bit_length() + 7) // 8
    if len(cipher) > k:
        raise CallError("crypto/rsa: decryption error")
    m = pow(int.from_bytes(cipher, "big"), d_exp, n_mod).to_bytes(k, "big")
    sep = m.find(b"\x00", 2)
    if m[:2] != b"\x00\x02" or sep < 10:
        raise CallError("crypto/rsa: decryption error")
    return s(m[sep + 1 :].decode("utf-8", "replace"))


def _pem_body(text: str) -> bytes | None:
    m = re.search(r"-----BEGIN ([A-Z ]+)-----\s*(.*?)-----END \1-----", text, re.S)
    if m is None:
        return None
    body = "".join(line for line in m.group(2).splitlines() if ":" not in line)
    try:
        return base64.b64decode("".join(body.split()))
    except ValueError:
        return None


def _der_ints(der: bytes) -> list[int]:
    """The INTEGERs of a PKCS#1 RSAPrivateKey SEQUENCE."""
    pos, length = _der_header(der, 0, 0x30)
    end = pos + length
    out = []
    while pos < end:
        pos, length = _der_header(der, pos, 0x02)
        out.append(int.from_bytes(der[pos : pos + length], "big", signed=True))
        pos += length
    return out


def _der_header(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    if der[pos] != tag:
        raise ValueError("unexpected DER tag")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    return pos, length


def _special(a: list[Value]) -> Value:
    raise CallError("this function is evaluated by the evaluator")


# --------------------------------------------------------------------------
# The table (buildx bake/hclparser/stdlib.go)

BYTES = V.CapsuleType("bytes")


def _p(name: str, t: Type = STRING, allow_null: bool = False) -> Param:
    return Param(name, t, allow_null)


_NUM2 = (_p("a", NUMBER), _p("b", NUMBER))
_STR = (_p("str"),)

_TABLE: list[tuple[str, tuple[Param, ...], Param | None, Impl]] = [
    ("absolute", (_p("num", NUMBER),), None, _absolute),
    ("add", _NUM2, None, _arith(V.num_add, "can't compute sum of opposing infinities")),
    ("and", (_p("a", BOOL), _p("b", BOOL)), None, _and),
    ("base64decode", _STR, None, _base64decode),
    ("base64encode", _STR, None, _base64encode),
    ("basename", (_p("path"),), None, _basename),
    ("bcrypt", _STR, _p("cost", NUMBER), _bcrypt),
    ("byteslen", (_p("buf", BYTES),), None, _bytes_unreachable),
    ("bytesslice", (_p("buf", BYTES), _p("offset", NUMBER), _p("length", NUMBER)), None, _bytes_unreachable),
    ("can", (_p("expression", DYNAMIC),), None, _special),
    ("ceil", (_p("num", NUMBER),), None, _ceil),
    ("chomp", _STR, None, _chomp),
    ("chunklist", (_p("list", ListType(DYNAMIC)), _p("size", NUMBER)), None, _chunklist),
    ("cidrhost", (_p("prefix"), _p("hostnum", NUMBER)), None, _cidrhost),
    ("cidrnetmask", (_p("prefix"),), None, _cidrnetmask),
    ("cidrsubnet", (_p("prefix"), _p("newbits", NUMBER), _p("netnum", NUMBER)), None, _cidrsubnet),
    ("cidrsubnets", (_p("prefix"),), _p("newbits", NUMBER), _cidrsubnets),
    ("coalesce", (), _p("vals", DYNAMIC, True), _coalesce),
    ("coalescelist", (), _p("vals", DYNAMIC, True), _coalescelist),
    ("compact", (_p("list", ListType(STRING)),), None, _compact),
    ("concat", (), _p("seqs", DYNAMIC), _concat),
    ("contains", (_p("list", DYNAMIC), _p("value", DYNAMIC)), None, _contains),
    ("convert", (_p("value", DYNAMIC, True), _p("type", DYNAMIC)), None, _special),
    ("csvdecode", _STR, None, _csvdecode),
    ("dirname", (_p("path"),), None, _dirname),
    ("distinct", (_p("list", ListType(DYNAMIC)),), None, _distinct),
    ("divide", _NUM2, None, _arith(V.num_div, "can't divide zero by zero or infinity by infinity")),
    ("element", (_p("list", DYNAMIC), _p("index", NUMBER)), None, _element),
    ("equal", (_p("a", DYNAMIC, True), _p("b", DYNAMIC, True)), None, _equal),
    ("flatten", (_p("list", DYNAMIC),), None, _flatten),
    ("floor", (_p("num", NUMBER),), None, _floor),
    ("format", (_p("format"),), _p("args", DYNAMIC, True), _format),
    ("formatdate", (_p("format"), _p("time")), None, _formatdate),
    ("formatlist", (_p("format"),), _p("args", DYNAMIC, True), _formatlist),
    ("formattimestamp", (_p("format"), _p("time", DYNAMIC)), None, _formattimestamp),
    ("greaterthan", _NUM2, None, _compare(lambda c: c > 0)),
    ("greaterthanorequalto", _NUM2, None, _compare(lambda c: c >= 0)),
    ("hasindex", (_p("collection", DYNAMIC), _p("key", DYNAMIC)), None, _hasindex),
    ("homedir", (), None, _homedir),
    ("indent", (_p("spaces", NUMBER), _p("str")), None, _indent),
    ("index", (_p("collection", DYNAMIC), _p("key", DYNAMIC)), None, _index),
    ("indexof", (_p("list", DYNAMIC), _p("value", DYNAMIC)), None, _indexof),
    ("int", (_p("num", NUMBER),), None, _int),
    ("join", (_p("separator"),), _p("lists", ListType(STRING)), _join),
    ("jsondecode", _STR, None, _jsondecode),
    ("jsonencode", (_p("val", DYNAMIC, True),), None, _jsonencode),
    ("keys", (_p("inputMap", DYNAMIC),), None, _keys),
    ("length", (_p("collection", DYNAMIC),), None, _length),
    ("lessthan", _NUM2, None, _compare(lambda c: c < 0)),
    ("lessthanorequalto", _NUM2, None, _compare(lambda c: c <= 0)),
    ("log", (_p("num", NUMBER), _p("base", NUMBER)), None, _log),
    ("lookup", (_p("inputMap", DYNAMIC), _p("key"), _p("default", DYNAMIC)), None, _lookup),
    ("lower", _STR, None, _str_fn(_go_lower)),
    ("max", (), _p("numbers", NUMBER), _minmax(False)),
    ("md5", _STR, None, _hash("md5")),
    ("merge", (), _p("maps", DYNAMIC, True), _merge),
    ("min", (), _p("numbers", NUMBER), _minmax(True)),
    ("modulo", _NUM2, None, _modulo),
    ("multiply", _NUM2, None, _arith(V.num_mul, "can't multiply zero by infinity")),
    ("negate", (_p("num", NUMBER),), None, _negate),
    ("not", (_p("val", BOOL),), None, _not),
    ("notequal", (_p("a", DYNAMIC, True), _p("b", DYNAMIC, True)), None, _notequal),
    ("or", (_p("a", BOOL), _p("b", BOOL)), None, _or),
    ("parseint", (_p("number", DYNAMIC), _p("base", NUMBER)), None, _parseint),
    ("pow", (_p("num", NUMBER), _p("power", NUMBER)), None, _pow),
    ("range", (), _p("params", NUMBER), _range),
    ("regex_replace", (_p("str"), _p("pattern"), _p("replace")), None, _regex_replace),
    ("regex", (_p("pattern"), _p("string")), None, _regex),
    ("regexall", (_p("pattern"), _p("string")), None, _regexall),
    ("replace", (_p("str"), _p("substr"), _p("replace")), None, _replace),
    ("reverse", _STR, None, _reverse),
    ("reverselist", (_p("list", DYNAMIC),), None, _reverselist),
    ("rsadecrypt", (_p("ciphertext"), _p("privatekey")), None, _rsadecrypt),
    ("sanitize", (_p("name"),), None, _sanitize),
    ("semvercmp", (_p("version"), _p("contraint")), None, _semvercmp),
    ("sethaselement", (_p("set", SetType(DYNAMIC)), _p("elem", DYNAMIC)), None, _sethaselement),
    ("setintersection", (_p("first_set", SetType(DYNAMIC)),), _p("other_sets", SetType(DYNAMIC)), _set_op(_intersection)),
    ("setproduct", (), _p("sets", DYNAMIC), _setproduct),
    ("setsubtract", (_p("a", SetType(DYNAMIC)), _p("b", SetType(DYNAMIC))), None, _set_op(_subtract)),
    (
        "setsymmetricdifference",
        (_p("first_set", SetType(DYNAMIC)),),
        _p("other_sets", SetType(DYNAMIC)),
        _set_op(_symdiff),
    ),
    ("setunion", (_p("first_set", SetType(DYNAMIC)),), _p("other_sets", SetType(DYNAMIC)), _set_op(_union)),
    ("sha1", _STR, None, _hash("sha1")),
    ("sha256", _STR, None, _hash("sha256")),
    ("sha512", _STR, None, _hash("sha512")),
    ("signum", (_p("num", NUMBER),), None, _signum),
    ("slice", (_p("list", DYNAMIC), _p("start_index", NUMBER), _p("end_index", NUMBER)), None, _slice),
    ("sort", (_p("list", ListType(STRING)),), None, _sort),
    ("split", (_p("separator"), _p("str")), None, _split),
    ("strlen", _STR, None, _strlen),
    ("substr", (_p("str"), _p("offset", NUMBER), _p("length", NUMBER)), None, _substr),
    ("subtract", _NUM2, None, _arith(V.num_sub, "can't subtract infinity from itself")),
    ("timeadd", (_p("timestamp"), _p("duration")), None, _timeadd),
    ("timestamp", (), None, _timestamp),
    ("title", _STR, None, _str_fn(_go_title)),
    ("trim", (_p("str"), _p("cutset")), None, _trim),
    ("trimprefix", (_p("str"), _p("prefix")), None, _trimprefix),
    ("trimspace", _STR, None, _str_fn(_trimspace)),
    ("trimsuffix", (_p("str"), _p("suffix")), None, _trimsuffix),
    ("try", (), _p("expressions", DYNAMIC), _special),
    ("unixtimestampparse", (_p("unix_timestamp", NUMBER),), None, _unixtimestampparse),
    ("upper", _STR, None, _str_fn(_go_upper)),
    ("urlencode", _STR, None, _urlencode),
    ("uuidv4", (), None, _uuidv4),
    ("uuidv5", (_p("namespace"), _p("name")), None, _uuidv5),
    ("values", (_p("mapping", DYNAMIC),), None, _values),
    ("zipmap", (_p("keys", ListType(STRING)), _p("values", DYNAMIC)), None, _zipmap),
]

FUNCTIONS: Mapping[str, Function] = {
    name: Function(name, params, var, impl, special=name in SPECIAL) for name, params, var, impl in _TABLE
}
