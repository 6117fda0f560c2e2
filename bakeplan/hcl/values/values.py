"""cty values: ``Value``, its constructors and constants, set order, equality, iteration.

Payload shapes per type are listed in the package docstring. Unknown values
and marks, which go-cty also carries, do not exist here: bake never needs them.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

from bakeplan.hcl.values.numbers import LITERAL_PREC, BigFloat, Int64, _exact, _is_inf, _round_to_prec, format_number
from bakeplan.hcl.values.types import (
    BOOL,
    DYNAMIC,
    EMPTY_OBJECT_TYPE,
    EMPTY_TUPLE_TYPE,
    NUMBER,
    STRING,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Type,
)


class Value:
    """A cty value: a type and a payload (see the module docstring for payload shapes)."""

    __slots__ = ("type", "v")

    def __init__(self, type: Type, v: Any) -> None:
        self.type = type
        self.v = v

    @property
    def is_null(self) -> bool:
        """True for a (typed or untyped) null."""
        return self.v is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self.type == other.type and self.v == other.v

    def __hash__(self) -> int:
        v = self.v
        if isinstance(v, dict):
            return hash((self.type, tuple(v.items())))
        return hash((self.type, v))

    def __repr__(self) -> str:
        return f"Value({self.type!r}, {self.v!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Value, (self.type, self.v))  # smaller and faster than the generic __slots__ state


TRUE = Value(BOOL, True)
FALSE = Value(BOOL, False)
NULL = Value(DYNAMIC, None)
EMPTY_STRING = Value(STRING, "")
EMPTY_TUPLE = Value(EMPTY_TUPLE_TYPE, ())
EMPTY_OBJECT = Value(EMPTY_OBJECT_TYPE, {})


def nfc(s: str) -> str:
    """NFC-normalise a string as cty.StringVal does (fast for ASCII)."""
    if s.isascii() or unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


def string_val(s: str) -> Value:
    """A string value (NFC-normalised)."""
    return Value(STRING, nfc(s))


def number_val(n: int | float | Fraction) -> Value:
    """A number value; Fractions are rounded to 512 bits, integral values become int."""
    if type(n) is int:
        return Value(NUMBER, n)
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, BigFloat):
        return Value(NUMBER, n.numerator if n.denominator == 1 else n)
    if isinstance(n, Fraction):
        return Value(NUMBER, _round_to_prec(n, LITERAL_PREC))
    if isinstance(n, float) and math.isnan(n):
        raise ArithmeticError("NaN is not a number in cty")
    return Value(NUMBER, n)


def bool_val(b: bool) -> Value:
    """TRUE or FALSE."""
    return TRUE if b else FALSE


def null_val(t: Type) -> Value:
    """A null of type t."""
    return NULL if t is DYNAMIC else Value(t, None)


def tuple_val(elems: Sequence[Value]) -> Value:
    """A tuple of the given elements."""
    elems = tuple(elems)
    return Value(TupleType(e.type for e in elems), elems)


def object_val(attrs: Mapping[str, Value]) -> Value:
    """An object with the given attributes (stored in sorted key order)."""
    items = {k: attrs[k] for k in sorted(attrs)}
    return Value(ObjectType({k: v.type for k, v in items.items()}), items)


def list_val(elems: Sequence[Value], elem_type: Type | None = None) -> Value:
    """A list; all elements must already have type `elem_type` (or the first one's)."""
    elems = tuple(elems)
    if elem_type is None:
        if not elems:
            raise ValueError("list_val of no elements needs elem_type")
        elem_type = elems[0].type
    return Value(ListType(elem_type), elems)


def map_val(elems: Mapping[str, Value], elem_type: Type | None = None) -> Value:
    """A map; all elements must already have type `elem_type` (or a common one)."""
    items = {k: elems[k] for k in sorted(elems)}
    if elem_type is None:
        if not items:
            raise ValueError("map_val of no elements needs elem_type")
        elem_type = next(iter(items.values())).type
    return Value(MapType(elem_type), items)


def set_val(elems: Iterable[Value], elem_type: Type | None = None) -> Value:
    """A set: duplicates removed, elements in cty's set order."""
    unique: dict[Value, None] = {}
    for e in elems:
        unique.setdefault(e, None)
    ordered = sorted(unique, key=_set_sort_key)
    if elem_type is None:
        if not ordered:
            raise ValueError("set_val of no elements needs elem_type")
        elem_type = ordered[0].type
    return Value(SetType(elem_type), tuple(ordered))


def _set_sort_key(v: Value) -> tuple[int, Any]:
    # cty: nulls sort last; strings lexically, numbers numerically, false < true, others by hash bytes
    if v.v is None:
        return (2, "")
    t = v.type
    if t is STRING or t is BOOL:
        return (0, v.v)
    if t is NUMBER:
        return (0, _exact(v.v) if not _is_inf(v.v) else v.v)
    return (1, _set_hash_text(v))


def _set_hash_text(v: Value) -> str:
    if v.v is None:
        return "~"
    t = v.type
    if t is NUMBER:
        return format_number(v.v)
    if t is BOOL:
        return "T" if v.v else "F"
    if t is STRING:
        return json.dumps(v.v)
    if isinstance(t, MapType):
        return "{" + "".join(f"{json.dumps(k)}:{_set_hash_text(e)};" for k, e in v.v.items()) + "}"
    if isinstance(t, (ListType, SetType)):
        return "[" + "".join(_set_hash_text(e) + ";" for e in v.v) + "]"
    elems = v.v.values() if isinstance(t, ObjectType) else v.v
    return "<" + "".join(_set_hash_text(e) + ";" for e in elems) + ">"


# --------------------------------------------------------------------------
# Equality and iteration


def equals(a: Value, b: Value) -> bool:
    """cty's Value.Equals: nulls equal each other regardless of type; otherwise types must match."""
    if a.v is None or b.v is None:
        return a.v is None and b.v is None
    if a.type != b.type:
        return False
    t = a.type
    if t is NUMBER or t is STRING or t is BOOL:
        return bool(a.v == b.v)
    if isinstance(t, (ObjectType, MapType)):
        if a.v.keys() != b.v.keys():
            return False
        return all(equals(a.v[k], b.v[k]) for k in a.v)
    if len(a.v) != len(b.v):
        return False
    return all(equals(x, y) for x, y in zip(a.v, b.v))


def iter_elements(v: Value) -> Iterator[tuple[Value, Value]]:
    """(key, value) pairs of a list/tuple/set (index keys; sets key by value) or map/object (sorted keys)."""
    if isinstance(v.v, dict):
        for k, e in v.v.items():
            yield Value(STRING, k), e
    elif isinstance(v.type, SetType):
        for e in v.v:
            yield e, e
    else:
        for i, e in enumerate(v.v):
            yield Value(NUMBER, Int64(i)), e


def length_of(v: Value) -> int:
    """Number of elements of a collection or structural value."""
    return len(v.v)
