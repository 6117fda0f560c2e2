"""compose-go's environment, as buildx runs it: `.env` files, dotenv syntax, interpolation.

- dotenv files (KEY=VALUE, `export`, quotes, comments, `${VAR}`);
- template.Substitute: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
  `${VAR:?err}`, `${VAR?err}`, `${VAR:+r}`, `${VAR+r}`, nested defaults;
  unset variables become "".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bakeplan import observed
from bakeplan.errors import BakeFileError, BakeplanError, Location

Lookup = Callable[[str], "str | None"]


# ------------------------------------------------------------------ environment


def compose_env(env: Mapping[str, str], overrides: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """buildx's composeEnv: the environment, then `.env` (never overriding it), then --var."""
    out = dict(env)
    dotenv = cwd / ".env"
    observed.probe(dotenv)  # for a replay: a `.env` that appears changes the result
    if dotenv.is_file():
        loaded = parse_dotenv(dotenv.read_bytes().decode("utf-8", "replace"), ".env", out.get)
        for key, value in loaded.items():
            out.setdefault(key, value)
    out.update(overrides)
    return out


_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]*")


def parse_dotenv(text: str, name: str, lookup: Lookup) -> dict[str, str]:
    """compose-go's dotenv: KEY=VALUE lines, `export`, quotes, comments, `${VAR}` from earlier lines."""
    out: dict[str, str] = {}

    def find(key: str) -> str | None:
        found = lookup(key)
        return found if found is not None else out.get(key)

    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        match = _DOTENV_KEY.match(line)
        rest = line[match.end() :].lstrip() if match else ""
        if match is None or not rest or rest[0] not in "=:":
            if match is not None and not rest:
                inherited = find(match.group(0))  # a bare KEY takes the value it already has
                if inherited is not None:
                    out[match.group(0)] = inherited
                continue
            raise BakeplanError(f"{name}:{index}: unexpected character in variable name near {line!r}")
        key, value = match.group(0), rest[1:].lstrip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            value, index = _quoted_dotenv(value, lines, index, name)
            out[key] = value if quote == "'" else _dotenv_expand(value, find, name)
            continue
        value = re.split(r"\s#", value, maxsplit=1)[0].rstrip()
        out[key] = _dotenv_expand(value, find, name)
    return out


def _quoted_dotenv(value: str, lines: list[str], index: int, name: str) -> tuple[str, int]:
    quote = value[0]
    body = value[1:]
    while True:
        end = _closing_quote(body, quote)
        if end >= 0:
            inner = body[:end]
            break
        if index >= len(lines):
            raise BakeplanError(f"{name}:{index}: unterminated quoted value")
        body += "\n" + lines[index]
        index += 1
    if quote == '"':
        inner = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), inner)
    return inner, index


def _closing_quote(text: str, quote: str) -> int:
    escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quote == '"':
            escaped = True
        elif char == quote:
            return position
    return -1


def _dotenv_expand(value: str, find: Lookup, name: str) -> str:
    try:
        return substitute(value, find)
    except _InterpolationError as exc:
        raise BakeplanError(f"{name}: {exc}") from None


# ------------------------------------------------------------------ interpolation


class _InterpolationError(Exception):
    """A `${VAR:?err}` with no value, or a `$` that starts no substitution."""


class _InvalidTemplate(_InterpolationError):
    pass


_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


def substitute(template: str, lookup: Lookup) -> str:
    """compose-go's template.Substitute (unset variables become "")."""
    failure: list[_InterpolationError] = []

    def replace(match: re.Match[str]) -> str:
        try:
            return _replacement(match.group(0), lookup)
        except _InterpolationError as exc:
            if not failure:
                failure.append(exc)
            return ""

    result = _PATTERN.sub(replace, template)
    if failure:
        if isinstance(failure[0], _InvalidTemplate):
            raise _InvalidTemplate(template)
        raise failure[0]
    return result


def _replacement(text: str, lookup: Lookup) -> str:
    operator = _first_operator(text)
    close = _closing_brace(text)
    rest = ""
    if close >= 0:
        text, rest = text[: close + 1], text[close + 1 :]
    match = _PATTERN.fullmatch(text) or _PATTERN.match(text)
    assert match is not None
    if match.group("escaped"):
        return "$"
    name = match.group("named") or ""
    braced = not name
    if braced:
        name = match.group("braced") or ""
    if not name:
        raise _InvalidTemplate(text)
    if braced and operator is not None and operator in name:
        return _apply(name, operator, lookup) + substitute(rest, lookup)
    return lookup(name) or ""


def _first_operator(text: str) -> str | None:
    """The operator that appears first in the text (compose-go sorts its table by position)."""
    found = [(text.find(op), order, op) for order, op in enumerate(_OPERATORS) if op in text]
    return min(found)[2] if found else None


def _closing_brace(text: str) -> int:
    depth = 0
    position = 0
    while position < len(text):
        if text[position] == "}":
            depth -= 1
            if depth == 0:
                return position
        if text[position] == "{":
            depth += 1
            position += 1
        position += 1
    return -1


def _apply(substitution: str, operator: str, lookup: Lookup) -> str:
    name, _, argument = substitution.partition(operator)
    value = lookup(name)
    if operator in (":?", "?"):
        if value is None or (operator == ":?" and value == ""):
            reason = substitute(argument, lookup)
            detail = f": {reason}" if reason else ""
            raise _InterpolationError(f"required variable {name} is missing a value{detail}")
        return value
    if operator in (":-", "-"):
        if value is None or (operator == ":-" and value == ""):
            return substitute(argument, lookup)
        return value
    if value is not None and (operator == "+" or value != ""):
        return substitute(argument, lookup)
    return value or ""


Positions = dict[tuple[str | int, ...], Location]


def interpolate(value: Any, lookup: Lookup, path: tuple[str | int, ...], positions: Positions | None = None) -> Any:
    """Every string of a document interpolated; an error names the value's path and, when known, its place."""
    if isinstance(value, str):
        try:
            return substitute(value, lookup)
        except _InterpolationError as exc:
            shown = ".".join("[]" if isinstance(part, int) else part for part in path)
            if isinstance(exc, _InvalidTemplate):
                message = f"invalid interpolation format for {shown}.\nYou may need to escape any $ with another $.\n{exc}"
            else:
                message = f"error while interpolating {shown}: {exc}"
            raise BakeFileError(message, (positions or {}).get(path)) from None
    if isinstance(value, dict):
        return {key: interpolate(item, lookup, (*path, key), positions) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, lookup, (*path, index), positions) for index, item in enumerate(value)]
    return value
