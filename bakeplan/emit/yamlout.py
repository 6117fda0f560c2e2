"""A small deterministic YAML writer for the subset CI files need.

Maps (in insertion order), lists, strings, ints, bools and None. Strings stay
plain when YAML 1.1 and 1.2 would both read them back as the same string,
become literal blocks (`|`) when they span lines, and double-quoted (JSON
escapes, which YAML accepts) otherwise. pyyaml is only a test dependency, so
the runtime writes YAML itself; the tests read every output back with pyyaml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_./$(][A-Za-z0-9_./$(){} &|=+,@*:-]*$")
# Words YAML 1.1 (GitHub's and GitLab's parsers) would read as booleans or null.
_RESERVED = frozenset("y n yes no on off true false null ~ = .inf .nan".split())
_INDENT = "  "


def dump(document: Mapping[str, Any]) -> str:
    """The YAML text of a mapping, ending in one newline."""
    return "\n".join(_mapping_lines(document, 0)) + "\n"


def scalar(value: Any) -> str:
    """One value as a YAML scalar on a single line (no block styles)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _is_plain(text):
        return text
    return _quote(text)


def _quote(text: str) -> str:
    """A double-quoted scalar: printable characters as they are, the rest escaped."""
    if text.isascii() and "\x7f" not in text:
        return json.dumps(text)  # JSON's escapes are YAML's for ASCII text
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def _printable(ch: str) -> bool:
    """Characters YAML takes literally in any scalar (not line breaks, BOM, controls)."""
    if " " <= ch <= "~":
        return True
    return ord(ch) > 0x9F and ch.isprintable() and ch not in "\u2028\u2029\ufeff"


def _is_plain(text: str) -> bool:
    if not text or text.lower() in _RESERVED or text.endswith(" "):
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    return _PLAIN.fullmatch(text) is not None and not _looks_numeric(text)


def _looks_numeric(text: str) -> bool:
    return re.match(r"^[-+.]?[0-9]", text) is not None or text.startswith(("0x", "0o"))


def _mapping_lines(value: Mapping[str, Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for key, item in value.items():
        lines.extend(_entry(f"{pad}{scalar(key)}:", item, depth))
    return lines


def _entry(head: str, item: Any, depth: int) -> list[str]:
    """`key:` or `-` followed by a nested block, a block string or a scalar."""
    if isinstance(item, Mapping):
        if not item:
            return [f"{head} {{}}"]
        return [head, *_mapping_lines(item, depth + 1)]
    if isinstance(item, list | tuple):
        if not item:
            return [f"{head} []"]
        return [head, *_sequence_lines(item, depth + 1)]
    if isinstance(item, str) and _is_block(item):
        return [f"{head} {_block_indicator(item)}", *_block_lines(item, depth + 1)]
    return [f"{head} {scalar(item)}"]


def _sequence_lines(items: Sequence[Any], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            nested = _mapping_lines(item, depth + 1)
            # The first key sits on the dash line, the rest align under it.
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.extend(_entry(f"{pad}-", item, depth))
    return lines


def _is_block(text: str) -> bool:
    """Multi-line strings that a literal block keeps exactly."""
    if "\n" not in text or text.endswith("\n\n") or text.startswith("\n"):
        return False
    lines = text.rstrip("\n").split("\n")
    if lines[0].startswith(" ") or any(line != line.rstrip() for line in lines):
        return False
    return all(ch == "\n" or _printable(ch) for ch in text)


def _block_indicator(text: str) -> str:
    return "|" if text.endswith("\n") else "|-"


def _block_lines(text: str, depth: int) -> list[str]:
    pad = _INDENT * depth
    return [f"{pad}{line}" if line else "" for line in text.rstrip("\n").split("\n")]
