"""Evaluated values converted to the Go types of buildx's fields, as cty's convert and gocty do it.

A number reaches the bake stage as `Number` (its exact cty text); the
functions here turn JSON-like Python values into `*string`, `*bool`,
`[]string` and `map[string]*string` fields with cty's conversions and
messages, raising `DecodeError` for a value that does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bakeplan.record import record


class DecodeError(ValueError):
    """A value that does not fit a field; `decode_attribute` adds the location."""


# ---------------------------------------------------------------- conversions


@record
class Number:
    """A cty number lowered from the value model: its exact cty text (e.g. "1.5")."""

    text: str

    def __str__(self) -> str:
        return self.text


def lower(value: Any, hv: Any) -> Any:
    """A value-model `Value` as JSON-like Python (numbers as `Number`); `hv` is bakeplan.hcl.values, imported late."""
    payload = value.v
    kind = value.type
    if payload is None or kind is hv.STRING or kind is hv.BOOL:
        return payload
    if kind is hv.NUMBER:
        return Number(hv.format_number(payload))
    if isinstance(payload, tuple):
        return [lower(item, hv) for item in payload]
    if isinstance(payload, dict):
        return {key: lower(item, hv) for key, item in payload.items()}
    return payload


def format_number(value: int | float | Decimal | Fraction | Number) -> str:
    """cty's number-to-string conversion: big.Float.Text('f', -1)."""
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bool):
        raise DecodeError("string required")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        value = Decimal(value.numerator) / Decimal(value.denominator)
    dec = value if isinstance(value, Decimal) else Decimal(repr(value))
    if dec == dec.to_integral_value():
        return str(int(dec))
    text = format(dec.normalize(), "f")
    return text


def to_string(value: Any) -> str | None:
    """cty convert to string: strings as is, numbers formatted, bools as words."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, Fraction, Number)):
        return format_number(value)
    raise DecodeError("string required")


def to_bool(value: Any) -> bool | None:
    """cty convert to bool: bools, and the strings "true"/"false"."""
    if value is None or isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if isinstance(value, str):
        raise DecodeError("a bool is required")
    raise DecodeError("bool required")


def to_string_list(value: Any) -> list[str] | None:
    """cty convert to list(string); null elements are an error when decoded into []string."""
    if value is None:
        return None
    if type(value) is list and all(type(item) is str for item in value):
        return list(value)  # the common case, without the checks against abstract types below
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise DecodeError("list of string required")
    out: list[str] = []
    for item in value:
        if isinstance(item, (Mapping, list, tuple)):
            raise DecodeError("list of string required")
        text = to_string(item)
        if text is None:
            raise DecodeError("null value is not allowed")
        out.append(text)
    return out


def to_string_map(value: Any, *, nullable: bool) -> dict[str, str | None] | None:
    """cty convert to map(string); null values kept only for map[string]*string."""
    if value is None:
        return None
    if type(value) is dict and all(type(key) is str and type(item) is str for key, item in value.items()):
        return dict(value)  # the common case, without the checks against abstract types below
    if not isinstance(value, Mapping):
        raise DecodeError("map of string required")
    out: dict[str, str | None] = {}
    for key, item in value.items():
        if isinstance(item, (Mapping, list, tuple)):
            raise DecodeError("map of string required")
        text = to_string(item)
        if text is None and not nullable:
            raise DecodeError("null value is not allowed")
        out[str(key)] = text
    return out
