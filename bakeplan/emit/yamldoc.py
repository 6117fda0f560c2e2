"""CI files as YAML text: PyYAML's safe dumper, with literal blocks for scripts.

Keys keep the order given, multi-line strings become literal blocks (`|`),
nothing is folded however long, no anchors, and non-ASCII text stays as it
is. PyYAML quotes every string a YAML 1.1 reader (GitLab's, GitHub's) would
take for something else (`'on'`, `'1.0'`, `'1:20'`).

The dumper is libyaml's (PyYAML's wheels carry it): PyYAML's Python emitter
takes 6x longer on a 500-leg GitLab pipeline (450 ms against 74 ms of CPU),
most of what the rest of `bakeplan ci` takes. Without libyaml the Python
emitter writes the same text for CI files (tests/test_emit_yaml.py compares).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

_NO_FOLDING = 1 << 30


def dump(document: Mapping[str, Any], *, _libyaml: bool = True) -> str:
    """The YAML text of a mapping, ending in one newline (`_libyaml=False`: PyYAML's Python emitter)."""
    import yaml  # type: ignore[import-untyped,unused-ignore]  # here: `ci github` writes JSON only

    text: str = yaml.dump(
        document, Dumper=_dumper(_libyaml), sort_keys=False, allow_unicode=True, width=_NO_FOLDING,
        default_flow_style=False,
    )
    return text


def _style(text: str) -> str | None:
    """Literal blocks for multi-line strings; double quotes (escapes) for other line breaks."""
    # PyYAML writes NEL (U+0085) raw into blocks and single quotes, where a reader takes it for a line
    # break ("\n" or a space); escaped in double quotes it reads back as it was.
    if any(ch in text for ch in "\x85\u2028\u2029"):
        return '"'
    return "|" if "\n" in text else None


def _represent_str(dumper: Any, text: str) -> Any:
    # PyYAML falls back to quotes where a literal block cannot hold the text (trailing spaces, controls).
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=_style(text))


def _ignore_aliases(self: Any, data: Any) -> bool:
    # An object used twice is written twice: people read CI files, and not every CI reads anchors.
    return True


@functools.cache
def _dumper(libyaml: bool) -> Any:
    """A subclass of one of PyYAML's safe dumpers (libyaml's where PyYAML has it) with bakeplan's string style."""
    import yaml

    base = yaml.CSafeDumper if libyaml and hasattr(yaml, "CSafeDumper") else yaml.SafeDumper
    dumper: Any = type("CIDumper", (base,), {"ignore_aliases": _ignore_aliases})
    dumper.add_representer(str, _represent_str)
    # Plain scalars other readers take for something else and PyYAML's resolver leaves to strings, so
    # that it quotes them: YAML 1.1's one-letter booleans (Go's yaml.v2 reads `y` as true), YAML 1.2's octal.
    dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^[yYnN]$"), list("yYnN"))
    dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0o[0-7]+$"), list("-+0"))
    return dumper
