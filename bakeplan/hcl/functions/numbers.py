"""Numbers (go-cty stdlib number.go).

Arithmetic and comparisons (HCL's operators call them), rounding, log and pow,
parseint and range; results keep big.Float's precision as cty does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    ArgError,
    CallError,
    Function,
    Impl,
    go_quote,
    int_arg,
    param,
    table,
    to_int,
)
from bakeplan.hcl.values import DYNAMIC, NUMBER, STRING, ListType, Value


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
    num = int_arg(a[0])
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
        raise ArgError(0, f"cannot parse {go_quote(text)} as a base {base} integer")
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


_NUM2 = (param("a", NUMBER), param("b", NUMBER))


TABLE: Mapping[str, Function] = table(
    ("absolute", (param("num", NUMBER),), None, _absolute),
    ("add", _NUM2, None, _arith(V.num_add, "can't compute sum of opposing infinities")),
    ("ceil", (param("num", NUMBER),), None, _ceil),
    ("divide", _NUM2, None, _arith(V.num_div, "can't divide zero by zero or infinity by infinity")),
    ("floor", (param("num", NUMBER),), None, _floor),
    ("greaterthan", _NUM2, None, _compare(lambda c: c > 0)),
    ("greaterthanorequalto", _NUM2, None, _compare(lambda c: c >= 0)),
    ("int", (param("num", NUMBER),), None, _int),
    ("lessthan", _NUM2, None, _compare(lambda c: c < 0)),
    ("lessthanorequalto", _NUM2, None, _compare(lambda c: c <= 0)),
    ("log", (param("num", NUMBER), param("base", NUMBER)), None, _log),
    ("max", (), param("numbers", NUMBER), _minmax(False)),
    ("min", (), param("numbers", NUMBER), _minmax(True)),
    ("modulo", _NUM2, None, _modulo),
    ("multiply", _NUM2, None, _arith(V.num_mul, "can't multiply zero by infinity")),
    ("negate", (param("num", NUMBER),), None, _negate),
    ("parseint", (param("number", DYNAMIC), param("base", NUMBER)), None, _parseint),
    ("pow", (param("num", NUMBER), param("power", NUMBER)), None, _pow),
    ("range", (), param("params", NUMBER), _range),
    ("signum", (param("num", NUMBER),), None, _signum),
    ("subtract", _NUM2, None, _arith(V.num_sub, "can't subtract infinity from itself")),
)
