"""The tree converter's base: Lark trees as the converter sees them, and positions in the file.

The converter turns one Lark rule tree (python-hcl2's grammar,
`bakeplan.hcl.native.grammar`) into `bakeplan.hcl.ast` nodes in one pass. Its
families are layered, each a class on top of the one before:
`TreeReader` (positions, expression dispatch) <- `StringConverter` (quoted
strings, templates, heredocs) <- `ExpressionConverter` (every other
expression) <- `Converter` (bodies, attributes, blocks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakeplan.errors import Location
from bakeplan.hcl.ast import Expr

# Lark's tokens are str subclasses and its trees are not: testing for str tells
# them apart without importing lark (which a cache hit never needs). Typed Any
# so that mypy does not narrow the Any-typed tree nodes to str.
TOKEN: Any = str

NL = "new_line_or_comment"


class TreeReader:
    """Positions of a Lark tree's tokens and the expression dispatch; `dl`/`dc` shift positions of a nested parse."""

    __slots__ = ("file", "dl", "dc", "free", "_rules")

    def __init__(self, file: str, dl: int, dc: int, *, free: bool = False) -> None:
        self.file = file
        self.dl = dl
        self.dc = dc
        # Whether newlines are insignificant here (inside (), [], function
        # arguments, for expressions, ${}), as HCL's parser tracks them.
        self.free = free
        # Rule name -> converting method; the expression family fills it in.
        self._rules: dict[str, Callable[[Any], Expr]] = {}

    # -- positions

    def loc(self, tok: Any) -> Location:
        """The file location of a Lark token."""
        if tok.line == 1:
            return Location(self.file, tok.line + self.dl, tok.column + self.dc)
        return Location(self.file, tok.line + self.dl, tok.column)

    def first_loc(self, node: Any) -> Location:
        """The location of the first token under a tree node."""
        while not isinstance(node, TOKEN):
            node = node.children[0]
        return self.loc(node)

    # -- expressions

    def expr(self, tree: Any) -> Expr:
        """Any expression rule."""
        return self._rules[tree.data](tree)

    def free_expr(self, tree: Any, free: bool = True) -> Expr:
        """An expression where newlines are (or are not) insignificant."""
        saved = self.free
        self.free = free
        result = self._rules[tree.data](tree)
        self.free = saved
        return result

    def nested_expression(self, text: str, at: Location) -> Expr:
        """Parse one expression of a template's `${...}` whose text starts at `at` (the full `Converter` does)."""
        raise NotImplementedError


def advance(at: Location, text: str, offset: int) -> Location:
    """The location of `text[offset]` given that `text[0]` is at `at`."""
    newlines = text.count("\n", 0, offset)
    if newlines == 0:
        return Location(at.file, at.line, at.column + offset)
    return Location(at.file, at.line + newlines, offset - text.rfind("\n", 0, offset))


def ends_line(item: Any) -> bool:
    """Whether an attribute's (or object item's) tokens end its line (a newline, or a heredoc that ate it)."""
    node = item.children[-1]
    while not isinstance(node, TOKEN):
        if node.data == NL:
            return True
        if not node.children:
            return False
        node = node.children[-1]
    return node.type in ("HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM")
