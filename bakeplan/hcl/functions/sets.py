"""Sets (go-cty stdlib set.go).

Union, intersection, differences and membership over the unified element type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    ArgError,
    CallError,
    Function,
    Impl,
    param,
    table,
)
from bakeplan.hcl.values import DYNAMIC, FALSE, ConversionError, SetType, Type, Value


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


TABLE: Mapping[str, Function] = table(
    ("sethaselement", (param("set", SetType(DYNAMIC)), param("elem", DYNAMIC)), None, _sethaselement),
    ("setintersection", (param("first_set", SetType(DYNAMIC)),), param("other_sets", SetType(DYNAMIC)), _set_op(_intersection)),
    ("setsubtract", (param("a", SetType(DYNAMIC)), param("b", SetType(DYNAMIC))), None, _set_op(_subtract)),
    (
        "setsymmetricdifference",
        (param("first_set", SetType(DYNAMIC)),),
        param("other_sets", SetType(DYNAMIC)),
        _set_op(_symdiff),
    ),
    ("setunion", (param("first_set", SetType(DYNAMIC)),), param("other_sets", SetType(DYNAMIC)), _set_op(_union)),
)
