"""Booleans and equality (go-cty stdlib bool.go, equality.go).

The functions behind HCL's `!`, `&&`, `||`, `==` and `!=`.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import Function, param, table
from bakeplan.hcl.values import BOOL, DYNAMIC, Value


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


TABLE: Mapping[str, Function] = table(
    ("and", (param("a", BOOL), param("b", BOOL)), None, _and),
    ("equal", (param("a", DYNAMIC, True), param("b", DYNAMIC, True)), None, _equal),
    ("not", (param("val", BOOL),), None, _not),
    ("notequal", (param("a", DYNAMIC, True), param("b", DYNAMIC, True)), None, _notequal),
    ("or", (param("a", BOOL), param("b", BOOL)), None, _or),
)
