"""The tree converter: a Lark parse of a file (or of one expression) into `bakeplan.hcl.ast` nodes.

python-hcl2 accepts some input HCL rejects; the conversion rejects it as HCL
does: duplicate attributes ("Attribute redefined"), multi-line quoted strings,
invalid escapes, two items on one line, newlines inside an expression outside
brackets, multi-line single-line blocks.
"""

from __future__ import annotations

import re
from typing import Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl.ast import Attribute, AttrStep, Block, Body, Expr, Literal, ScopeTraversal, Step
from bakeplan.hcl.native.diagnostics import is_syntax_error, syntax_error
from bakeplan.hcl.native.expressions import ExpressionConverter
from bakeplan.hcl.native.lalr import parse_tree
from bakeplan.hcl.native.tree import NL, TOKEN, advance, ends_line


class Converter(ExpressionConverter):
    """Turns one Lark tree into syntax-tree nodes: bodies, attributes and blocks on top of the expression rules."""

    __slots__ = ()

    def nested_expression(self, text: str, at: Location) -> Expr:
        """Parse one expression of a template's `${...}` whose text starts at `at`."""
        return parse_expression(text, at)

    # -- structure

    def body(self, tree: Any, loc: Location, closing: Any = None) -> Body:
        """A `body` rule: attributes (checked unique) and blocks, in source order.

        `closing` is the `}` token of a block's body (None for the file's body).
        """
        if closing is not None and tree.children and tree.children[0].data != NL:
            self._check_single_line(tree)
            closing = None
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        seen: dict[str, Location] = {}
        need_newline = False
        for child in tree.children:
            kind = child.data
            if kind == NL:
                need_newline = False
                continue
            if need_newline:
                self._missing_newline(child)
            if kind == "attribute":
                attr = self._attribute(child, seen)
                attributes.append(attr)
                need_newline = not ends_line(child)
            else:
                blocks.append(self._block(child))
                need_newline = True
        if need_newline and closing is not None:
            kind = "argument" if tree.children[-1].data == "attribute" else "block definition"
            raise BakeFileError(
                f"Missing newline after {kind}; An {kind.split()[0]} definition must end with a newline.",
                self.loc(closing),
            )
        return Body(tuple(attributes), tuple(blocks), loc)

    def _check_single_line(self, tree: Any) -> None:
        """`name { attr = value }`: HCL allows one argument, closed on the same line."""
        children = tree.children
        first = children[0]
        if len(children) == 1 and first.data == "attribute" and not ends_line(first):
            return
        at = self.first_loc(children[1]) if len(children) > 1 else self.first_loc(first)
        if first.data == "attribute" and ends_line(first):
            node = first
            while not isinstance(node, TOKEN) and node.data != NL:
                node = node.children[-1]
            at = self.first_loc(node)
        raise BakeFileError(
            "Invalid single-argument block definition; An argument definition on the same line as its "
            "containing block creates a single-line block definition, which must also be closed on the same "
            "line. Place the block's closing brace immediately after the argument definition.",
            at,
        )

    def _missing_newline(self, child: Any) -> None:
        """HCL needs a newline between two arguments or blocks; python-hcl2 does not."""
        raise BakeFileError(
            "Missing newline after argument; An argument definition must end with a newline.",
            self.first_loc(child),
        )

    def _attribute(self, tree: Any, seen: dict[str, Location]) -> Attribute:
        """`name = expr`; a second definition of a name is HCL's "Attribute redefined"."""
        name_tok = tree.children[0].children[0]
        name = name_tok.value
        loc = self.loc(name_tok)
        if name in seen:
            first = seen[name]
            raise BakeFileError(
                f'Attribute redefined; The argument "{name}" was already set at '
                f"{first.file}:{first.line}:{first.column}. "  # bakeplan's place style (HCL: LINE,COL-COL)
                "Each argument may be set only once.",
                loc,
            )
        seen[name] = loc
        return Attribute(name, self.expr(tree.children[2]), loc)

    def _block(self, tree: Any) -> Block:
        """`type label... { body }`."""
        children = tree.children
        type_tok = children[0].children[0]
        labels: list[str] = []
        label_locs: list[Location] = []
        index = 1
        while not isinstance(children[index], TOKEN) and children[index].data != NL:
            label = children[index]
            labels.append(self._label(label))
            label_locs.append(self.first_loc(label))
            index += 1
        if not isinstance(children[index], TOKEN):  # the grammar lets a newline come before `{`; HCL does not
            raise BakeFileError(
                'Invalid block definition; A block definition must have block content delimited by "{" and "}", '
                "starting on the same line as the block header.",
                self.first_loc(children[index]),
            )
        lbrace = children[index]
        body = self.body(children[index + 1], self.loc(lbrace), children[index + 2])
        return Block(type_tok.value, tuple(labels), body, self.loc(type_tok), tuple(label_locs))

    def _label(self, tree: Any) -> str:
        """A block label: a bare name or a quoted string without templates."""
        if tree.data != "string":
            return str(tree.children[0].value)
        value = self._string(tree)
        if not isinstance(value, Literal):
            raise BakeFileError(
                "Invalid string literal; Template sequences are not allowed in this string. "
                'To include a literal "$", double it (as "$$") to escape it.',
                value.loc,
            )
        return str(value.value)


def parse_body(text: str, filename: str) -> Body:
    """Parse HCL native syntax `text` (reported as `filename`) into a Body; the caller pauses the collector."""
    if text.startswith("\ufeff"):
        text = text[1:]
    added_newline = not text.endswith("\n")
    if added_newline:
        text += "\n"  # the grammar wants a newline after comments and heredoc markers
    try:
        tree = parse_tree(text, "start")
    except Exception as err:
        if not is_syntax_error(err):
            raise
        raise syntax_error(err, Location(filename, 1, 1), text, added_newline=added_newline) from None
    return Converter(filename, 0, 0).body(tree.children[0], Location(filename, 1, 1))


def parse_expression(text: str, at: Location) -> Expr:
    """Parse one expression whose first character is at `at` (used for `${...}` in heredocs)."""
    stripped = text.lstrip()
    at = advance(at, text, len(text) - len(stripped))
    stripped = stripped.rstrip()
    if not stripped:
        raise BakeFileError("Invalid expression; Expected the start of an expression, but found the end.", at)
    simple = _SIMPLE_TRAVERSAL.fullmatch(stripped)
    if simple is not None and simple.group(1) not in _KEYWORDS:
        return _simple_traversal(stripped, at)
    try:
        tree = parse_tree(stripped, "expression")
    except Exception as err:
        if not is_syntax_error(err):
            raise
        raise syntax_error(err, at, stripped) from None
    return Converter(at.file, at.line - 1, at.column - 1, free=True).expr(tree)


# `name` or `name.attr.attr`: by far the most common interpolation; built
# directly, it skips a Lark parse (whose fixed cost is several times the rest).
_SIMPLE_TRAVERSAL = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)(?:\.[A-Za-z_][A-Za-z0-9_-]*)*")
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if", "else", "endif", "endfor", "for_each"})


def _simple_traversal(text: str, at: Location) -> Expr:
    """A `name.attr...` expression (matched by _SIMPLE_TRAVERSAL) on one line at `at`."""
    names = text.split(".")
    steps: list[Step] = []
    column = at.column + len(names[0])
    for name in names[1:]:
        steps.append(AttrStep(name, Location(at.file, at.line, column)))
        column += 1 + len(name)
    return ScopeTraversal(names[0], tuple(steps), at)

