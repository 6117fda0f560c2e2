"""Which alternatives of a lexer head may start with each ASCII character: one smaller pattern per character.

Python's `re` enters every alternative of an alternation in turn (a named
group defeats its literal-prefix check), so at a name the head ran through a
quoted string, a number, two heredocs and a comment first. When the tables
are exported, each alternative's possible first characters are worked out
from `re`'s own parse of it, as a superset (lookarounds and anchors are
passed over, anything not understood counts as any character); the lexer
then matches, at a position whose character is c, only the alternatives that
may start with c, in their order. The first of them that matches is the one
the whole alternation finds: the others cannot match there. On the
1,000-target bench file this is a third of the time spent matching; the few
smaller patterns a file uses compile faster than the whole head.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

_ASCII = frozenset(chr(code) for code in range(128))
_CATEGORIES = ("DIGIT", "SPACE", "WORD", "NOT_DIGIT", "NOT_SPACE", "NOT_WORD")


def dispatch(alternatives: Sequence[str]) -> list[tuple[str, str]]:
    """(characters, the alternation of the alternatives that may start with them ("" if none)) for each smaller pattern.

    Characters not listed (every character outside ASCII) take the whole head.
    """
    firsts = [first_chars(alternative) for alternative in alternatives]
    chars: dict[tuple[int, ...], str] = {}
    for char in sorted(_ASCII):
        chosen = tuple(i for i, first in enumerate(firsts) if first is None or char in first)
        if len(chosen) < len(alternatives):
            chars[chosen] = chars.get(chosen, "") + char
    return [(group, "|".join(alternatives[i] for i in chosen)) for chosen, group in chars.items()]


def first_chars(pattern: str) -> frozenset[str] | None:
    """The ASCII characters a match of `pattern` may start with; None when that is not known (or it may match empty)."""
    try:
        parser: Any = importlib.import_module("re._parser")
        constants: Any = importlib.import_module("re._constants")
        parsed = parser.parse(pattern)
    except (ImportError, re.error):
        return None
    if parsed.state.flags & ~constants.SRE_FLAG_UNICODE:
        return None
    found = _Starts(constants).sequence(list(parsed))
    return None if found is None or found[1] else frozenset(found[0])


class _Starts:
    """First characters of `re`'s parsed items: (characters, whether the items may match empty), or None."""

    def __init__(self, constants: Any) -> None:
        self.c = constants
        self.categories = {getattr(constants, f"CATEGORY_{name}"): re.compile(_category_class(name)) for name in _CATEGORIES}

    def sequence(self, items: list[tuple[Any, Any]]) -> tuple[set[str], bool] | None:
        """The first characters of items in a row: each item's, up to the first that cannot match empty."""
        chars: set[str] = set()
        for op, arg in items:
            found = self.item(op, arg)
            if found is None:
                return None
            chars |= found[0]
            if not found[1]:
                return chars, False
        return chars, True

    def item(self, op: Any, arg: Any) -> tuple[set[str], bool] | None:
        """One parsed item's first characters."""
        c = self.c
        if op is c.LITERAL:
            return {chr(arg)}, False
        if op is c.NOT_LITERAL:
            return set(_ASCII) - {chr(arg)}, False
        if op is c.ANY:
            return set(_ASCII) - {"\n"}, False
        if op is c.IN:
            chars = self.charset(arg)
            return None if chars is None else (chars, False)
        if op is c.SUBPATTERN:
            _, add_flags, del_flags, sub = arg
            return None if add_flags or del_flags else self.sequence(list(sub))
        if op is c.BRANCH:
            return self.branch(arg[1])
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _, sub = arg
            found = self.sequence(list(sub))
            return None if found is None else (found[0], low == 0 or found[1])
        if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            return set(), True  # zero width: what follows decides (a superset)
        return None

    def branch(self, branches: list[Any]) -> tuple[set[str], bool] | None:
        chars: set[str] = set()
        empty = False
        for branch in branches:
            found = self.sequence(list(branch))
            if found is None:
                return None
            chars |= found[0]
            empty = empty or found[1]
        return chars, empty

    def charset(self, items: list[tuple[Any, Any]]) -> set[str] | None:
        """The ASCII characters of a `[...]` set."""
        c = self.c
        chars: set[str] = set()
        negate = False
        for op, arg in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                chars.add(chr(arg))
            elif op is c.RANGE:
                chars |= {chr(code) for code in range(arg[0], min(arg[1], 127) + 1)}
            elif op is c.CATEGORY and arg in self.categories:
                chars |= {char for char in _ASCII if self.categories[arg].match(char)}
            else:
                return None
        return set(_ASCII) - chars if negate else chars & _ASCII


def _category_class(name: str) -> str:
    """`\\d`, `\\S`, ... for a category name: matched against each ASCII character, as `re` would."""
    letter = {"DIGIT": "d", "SPACE": "s", "WORD": "w"}[name.removeprefix("NOT_")]
    return "\\" + (letter.upper() if name.startswith("NOT_") else letter)
