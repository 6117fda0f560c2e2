"""Memory sizes as docker reads them (go-units' RAMInBytes): `512m`, `2g`, `1.5GiB`, `1024`, binary units.

The one parser for every size bake takes: `shm-size`, `resources.memory` and
`memory-swap`, compose's `shm_size`, and the job demand bakeplan schedules by.
Errors carry go-units' own text, which buildx prints after its prefix
(`invalid value "1x" for resource memory: invalid suffix: 'x'`).
"""

from __future__ import annotations

import math

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_NUMBER_CHARS = "0123456789. "


class SizeError(ValueError):
    """A size go-units refuses; the message is its own."""


def ram_in_bytes(text: str) -> int:
    """Bytes of a docker memory size; SizeError with go-units' message when it is not one.

    The number is what precedes the last digit, dot or space, parsed as Go's
    strconv.ParseFloat; the suffix is b, or k/m/g/t/p with an optional b or ib,
    in any case. (buildx trims `resources` values first, not `shm-size`.)
    """
    size = text
    sep = max(size.rfind(char) for char in _NUMBER_CHARS)
    if sep == -1:
        raise SizeError(f"invalid size: '{size}'")
    number, suffix = (size[: sep + 1], size[sep + 1 :]) if size[sep] != " " else (size[:sep], size[sep + 1 :])
    value = _go_parse_float(number)
    if value < 0:
        raise SizeError(f"invalid size: '{size}'")
    return int(value * _multiplier(suffix))


def _go_parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64) for the decimal forms a size can take, with Go's error text."""
    allowed = text.isascii() and not any(char.isspace() for char in text) and not text.lower().lstrip("+-").startswith(("0x", "inf", "nan"))
    try:
        value = float(text) if allowed else math.nan
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise SizeError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if math.isinf(value):
        raise SizeError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def _multiplier(suffix: str) -> int:
    """What a unit suffix multiplies by: '' and 'b' by 1, 'k', 'kb', 'kib' (any case) by 1024, ..."""
    lower = suffix.lower()
    if lower == "" or lower == "b":
        return 1
    if len(lower) <= 3 and lower[0] in _BINARY and lower[1:] in ("", "b", "ib"):
        return _BINARY[lower[0]]
    raise SizeError(f"invalid suffix: '{lower}'")
