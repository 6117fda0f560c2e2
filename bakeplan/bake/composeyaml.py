"""compose-go's YAML, as buildx runs it: go-yaml v3's decoding and Go's printing of the values.

The 1.2 core schema (`yes`/`on` are strings, `010` is octal, `1_000` is 1000,
a date is a time), merge keys, duplicate keys rejected; every value remembers
where it was written. `go_sprint` and `go_type` print a decoded value as Go's
fmt.Sprint and compose-go's messages do.
"""

from __future__ import annotations

import re
from typing import Any

from bakeplan.bake.composeenv import Positions
from bakeplan.errors import BakeFileError, BakeplanError, Location
from bakeplan.record import record


@record
class ComposeFile:
    """One compose file: the name diagnostics use and its bytes."""

    name: str
    data: bytes


# ------------------------------------------------------------------ YAML


PLAIN_TAG = "tag:bakeplan,2026:plain"
_EXPLICIT = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null")


def _yaml_loader() -> Any:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        """Every untagged plain scalar gets PLAIN_TAG: bakeplan resolves it as yaml.v3 does."""

        yaml_implicit_resolvers: dict[str | None, Any] = {None: [(PLAIN_TAG, re.compile(".*", re.S))]}

    return Loader


_RESOLVED: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_BASES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}


@record
class GoTime:
    """A YAML date (`2024-01-02`), which yaml.v3 decodes as a time and fmt.Sprint prints in full."""

    text: str

    def __str__(self) -> str:
        return f"{self.text} 00:00:00 +0000 UTC"


def _plain_scalar(text: str) -> Any:
    """yaml.v3's resolution of an untagged plain scalar (its `resolve`, decoding into interface{})."""
    if text in _RESOLVED:
        return _RESOLVED[text]
    first = text[:1]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if not (first.isdigit() or first in "+-"):
        return text
    date = _DATE.match(text)
    if date and _valid_date(*map(int, date.groups())):
        year, month, day = map(int, date.groups())
        return GoTime(f"{year:04d}-{month:02d}-{day:02d}")
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.match(plain) and abs(float(plain)) != float("inf"):
        return float(plain)  # out of float64's range, strconv.ParseFloat fails: a string
    return text


def _valid_date(year: int, month: int, day: int) -> bool:
    import datetime

    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), else ParseUint: sign, 0x/0o/0b prefixes, a leading 0 is octal."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text[1:] if text.startswith("+") else text)
    base = _BASES.get(body[:2], 8 if len(body) > 1 and body[0] == "0" else 10)
    digits = body[2:] if body[:2] in _BASES else body
    if not digits.isalnum():
        return None
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    if not -(1 << 63) <= value < (1 << 64) or (value >= (1 << 63) and text[:1] in "+-"):
        return None  # beyond int64, and beyond uint64 (which takes no sign)
    return value


def _location(name: str, mark: Any) -> Location:
    return Location(name, mark.line + 1, mark.column + 1)


class _Converter:
    """PyYAML nodes to Python values, remembering where each service was written."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.services: dict[str, Location] = {}
        self.positions: Positions = {}

    def convert(self, node: Any, path: tuple[str | int, ...] = ()) -> Any:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        self.positions[path] = _location(self.name, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (key_node.value == "<<" and key_node.tag == PLAIN_TAG):
                merged = self.convert(value_node, path)
                for source in merged if isinstance(merged, list) else [merged]:
                    if isinstance(source, dict):
                        for key, item in source.items():
                            out.setdefault(key, item)
                continue
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else self.convert(key_node, path)
            key = go_sprint(key) if not isinstance(key, str) else key
            if key in out:
                where = _location(self.name, key_node.start_mark)
                raise BakeFileError(f'mapping key "{key}" already defined', where)
            if path == ("services",):
                self.services.setdefault(key, _location(self.name, key_node.start_mark))
            out[key] = self.convert(value_node, (*path, key))
        return out


def _scalar(node: Any) -> Any:
    """A plain or explicitly typed scalar resolved as yaml.v3 does; quoted and `!!str` ones stay strings."""
    if node.tag == PLAIN_TAG or node.tag in _EXPLICIT:
        return _plain_scalar(node.value)
    return node.value


def load_documents(file: ComposeFile) -> tuple[list[tuple[Any, Positions]], dict[str, Location]]:
    """The YAML documents of one file with where each value was written, and where each service key was."""
    import yaml  # type: ignore[import-untyped,unused-ignore]

    text = file.data.decode("utf-8", "replace")
    converter = _Converter(file.name)
    try:
        nodes = list(yaml.compose_all(text, Loader=_yaml_loader()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = _location(file.name, mark) if mark is not None else None
        raise BakeFileError(f"failed to parse {file.name}: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise BakeplanError(f"failed to parse {file.name}: {exc}") from None
    documents: list[tuple[Any, Positions]] = []
    for node in nodes:
        if node is not None:
            converter.positions = {}
            documents.append((converter.convert(node), converter.positions))
    return documents, converter.services


# ------------------------------------------------------------------ Go formatting


def go_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null"
    )


def go_sprint(value: Any) -> str:
    """fmt.Sprint of a YAML scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, GoTime):
        return str(value)
    if value is None:
        return "<nil>"
    return str(value)


def go_float(value: float) -> str:
    """Go's %v of a float64: shortest digits, exponent below 1e-4 or from 1e21."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal

    exact = Decimal(repr(value)).normalize()
    exponent = exact.adjusted()
    if -4 <= exponent < 21:
        return format(exact, "f")
    digits = exact.as_tuple().digits
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
