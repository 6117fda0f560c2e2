"""python-hcl2's Lark grammar, patched to match HCL, and the Lark parser built from it.

Profiling showed python-hcl2's typed rule layer (hcl2.parses) and Lark's
position propagation to cost more than the LALR parse itself, so we drive
Lark directly with python-hcl2's grammar (hcl2/hcl2.lark, a few patches below
to match HCL, and three for speed) and read positions from the tokens.
On a 660 KB file of 1,000 targets: python-hcl2's pipeline ~6 s; this parser
~1.1 s CPU with Lark driving (~0.9 s of it Lark's LALR loop and lexer, plus
~0.2 s per process to import Lark and load its cached tables). Lark now runs
only once per installation: its tables are exported and driven by a compact
loop (`bakeplan.hcl.native.lalr`): ~0.6 s to parse that file, and a few
milliseconds of start-up instead of 0.2 s.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_GRAMMAR_PATCHES = (
    # HCL allows strip markers in interpolations: "${~ x ~}".
    (
        "interpolation: INTERP_START expression RBRACE",
        "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE",
    ),
    # HCL allows nested unary operators: `!!x`, `-(-1)`, `- -1`.
    ("!unary_op : (MINUS | NOT) expr_term", "!unary_op : (MINUS | NOT) unary_expr"),
    # Speed: no `expr_term` node around every operand; only parentheses keep one.
    (
        "expr_term : LPAR new_line_or_comment? expression new_line_or_comment? RPAR\n",
        "?expr_term : LPAR new_line_or_comment? expression new_line_or_comment? RPAR -> paren_expr\n",
    ),
    # `$${` escapes only those three characters; python-hcl2's pattern ran on to
    # the next `}`, even past the closing quote.
    (r"ESCAPED_INTERPOLATION.2: /\$\$\{[^}]*\}/", 'ESCAPED_INTERPOLATION.2: "$${"'),
    (r"ESCAPED_DIRECTIVE.2: /%%\{[^}]*\}/", 'ESCAPED_DIRECTIVE.2: "%%{"'),
    # Speed: a one-line string whose `${}`/`%{}` sequences hold no quotes or
    # braces (most strings in bake files) is one token instead of three to a
    # dozen tokens and reductions; the converter splits it (template.py).
    ("string: DBLQUOTE string_part* DBLQUOTE", "string: QUOTED_TEMPLATE | DBLQUOTE string_part* DBLQUOTE"),
    (
        'DBLQUOTE : "\\""\n',
        'DBLQUOTE : "\\""\n'
        + r'QUOTED_TEMPLATE.4 : /"(?:[^"\\\n$%]|\\[^\n]|\$\$\{|%%\{|\$\$(?!\{)|%%(?!\{)|\$(?![{$])|%(?![{%])'
        + r'|[$%]\{[^{}"\n]*\})*"/'
        + "\n",
    ),
)


# Token types that may follow a newline inside an expression that continues
# on the next line (python-hcl2's postlexer list; `-` is left out because it
# also starts a negative number on the next line).
_CONTINUATION_TYPES = frozenset(
    {"DOUBLE_EQ", "NEQ", "LT", "GT", "LEQ", "GEQ", "ASTERISK", "SLASH", "PERCENT", "DOUBLE_AMP", "DOUBLE_PIPE",
     "PLUS", "QMARK"}
)  # fmt: skip


# Openers after which newlines mean nothing (HCL's parser pushes "ignore
# newlines" for (), [] and ${}/%{}); `{` opens an object or a block body, where
# newlines separate items, unless it starts a `{for ...}` expression.
_FREE_OPENERS = frozenset({"LPAR", "LSQB", "INTERP_START", "DIRECTIVE_START"})
_CLOSERS = frozenset({"RPAR", "RSQB", "RBRACE"})


class NewlineFilter:
    """python-hcl2's postlexer (without importing python-hcl2's package), plus HCL's bracket rule.

    LALR cannot tell a statement-ending newline from one before a binary
    operator, so a newline directly before an operator is merged into the
    operator token (whose position stays the operator's own). Inside (), []
    and ${}, where HCL ignores newlines, newline tokens are dropped, so that
    `(a\n - b)` parses as it does in HCL.
    """

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Any]) -> Iterator[Any]:
        """Drop bracketed newlines and merge each other newline into a following operator."""
        pending = None
        free = [False]
        last = ""
        for token in stream:
            kind = token.type
            if kind == "NL_OR_COMMENT":
                if not free[-1]:
                    if pending is not None:
                        yield pending
                    pending = token
                continue
            if kind in _FREE_OPENERS or kind == "LBRACE":
                free.append(kind != "LBRACE")
            elif kind in _CLOSERS:
                if len(free) > 1:
                    free.pop()
            elif kind == "FOR" and last == "LBRACE":
                free[-1] = True
            last = kind
            if pending is not None:
                if kind in _CONTINUATION_TYPES:
                    token = token.update(value=pending + token)
                else:
                    yield pending
                pending = None
            yield token
        if pending is not None:
            yield pending


_FLAT_OPERATORS = """\
?or_expr : unary_expr (binary_operator new_line_or_comment? unary_expr new_line_or_comment?)+ -> binary_chain
         | unary_expr
binary_operator : DOUBLE_PIPE | DOUBLE_AMP | DOUBLE_EQ | NEQ | LT | GT | LEQ | GEQ | PLUS | MINUS
                | ASTERISK | SLASH | PERCENT

"""


def _flatten_operators(grammar: str) -> str:
    """Replace the grammar's six-level operator ladder by one flat rule.

    Speed: in the ladder every operand of every expression climbs through
    seven LALR reductions; flat, it takes one, and the converter applies
    precedence itself (`ExpressionConverter._binary_chain`). A third less parse time.
    """
    start = grammar.find("// Logical OR")
    end = grammar.find("// Unary (highest precedence")
    if start < 0 or end < start:
        raise RuntimeError("python-hcl2's grammar changed; cannot flatten its operator rules")
    return grammar[:start] + _FLAT_OPERATORS + grammar[end:]


@functools.lru_cache(maxsize=1)
def patched_grammar() -> str:
    """python-hcl2's grammar with our patches applied (read without importing python-hcl2)."""
    spec = importlib.util.find_spec("hcl2")
    if spec is None or spec.origin is None:
        raise RuntimeError("python-hcl2 is not installed")
    grammar = (Path(spec.origin).parent / "hcl2.lark").read_text(encoding="utf-8")
    for old, new in _GRAMMAR_PATCHES:
        if grammar.count(old) != 1:
            raise RuntimeError(f"python-hcl2's grammar changed; cannot patch {old!r}")
        grammar = grammar.replace(old, new)
    return _flatten_operators(grammar)


@functools.lru_cache(maxsize=1)
def lark_parser() -> Any:
    """The LALR parser for python-hcl2's grammar (compiled once, cached by Lark in bakeplan's cache folder)."""
    import os

    from lark import Lark

    from bakeplan.fsutil import cache_home

    # Lark checks the grammar's hash in the file, so one name serves every version.
    home = None if os.environ.get("BAKEPLAN_NO_CACHE") else cache_home(os.environ)
    cache: bool | str = os.path.join(home, "lark-grammar.cache") if home else False
    if home:
        os.makedirs(home, exist_ok=True)
    return Lark(patched_grammar(), parser="lalr", start=["start", "expression"], postlex=NewlineFilter(), cache=cache)


