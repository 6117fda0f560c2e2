"""Bake files (HCL native syntax) to bakeplan's own small syntax tree with locations.

Every node is a frozen, slotted dataclass carrying `loc`, a
`bakeplan.errors.Location` (file, 1-based line, 1-based column) of where the
construct starts, which is where HCL's diagnostics point.

Structure
---------
- `Body(attributes, blocks, loc)`: attributes in source order (names unique
  within one body: a duplicate is the syntax error "Attribute redefined"),
  blocks in source order.
- `Attribute(name, expr, loc)`: `name = expr`; `loc` is the name's position.
- `Block(type, labels, body, loc, label_locs)`: `type "label" label2 { body }`;
  labels are plain strings (quoted or bare in the source).

Expressions (`Expr` is the union of these)
-------------------------------------------
- `Literal(kind, value, loc)`: kind is "string", "number", "bool" or "null".
  For "number" `value` is the exact source text (e.g. "1.50", "1e3"), for
  "string" the decoded text, for "bool" True/False, for "null" None.
  A quoted string or heredoc without any `${}`/`%{}` becomes a string Literal.
- `Template(parts, loc)`: a quoted string or heredoc with interpolations or
  directives. `parts` is a tuple of `TemplatePart`:
    * `str` — literal text, escapes already decoded (`$${` -> `${`, `%%{` -> `%{`),
      strip markers (`~`) already applied, `<<-` indentation already removed;
    * `Interpolation(expr, loc)` — `${ expr }`;
    * `TemplateIf(cond, then, else_, loc)` — `%{ if }...%{ else }...%{ endif }`,
      `then`/`else_` are tuples of parts (`else_` empty when absent);
    * `TemplateFor(key_var, value_var, collection, body, loc)` —
      `%{ for k, v in coll }...%{ endfor }` (key_var None when one name).
  Result is always a string.
- `TemplateWrap(expr, loc)`: a template that is exactly one interpolation and
  nothing else, e.g. `"${x}"`: HCL returns the wrapped value unconverted
  (a list stays a list).
- `ScopeTraversal(name, steps, loc)`: a variable reference `name` followed by
  zero or more static steps: `AttrStep(name, loc)` (`.foo`) and
  `IndexStep(key, loc)` (`[expr]`, also legacy `.0`). A plain variable has
  `steps == ()`. E.g. `target.foo.tags[0]` ->
  ScopeTraversal("target", (AttrStep("foo"), AttrStep("tags"), IndexStep(Literal 0))).
- `GetAttr(obj, name, loc)` / `Index(obj, key, loc)`: `.name` / `[key]` applied
  to anything that is not a variable (function call result, tuple, parens...).
- `FunctionCall(name, args, expand_final, loc)`: `name(args...)`;
  `expand_final` is True for `f(a, list...)`. Namespaced names keep `::`.
- `Tuple(items, loc)`: `[a, b]`.
- `Object(items, loc)`: `{k = v, "k2": v2}`; items are `ObjectItem(key, value, loc)`.
  A bare identifier or keyword key (`a`, `for`, `true`, `null`) becomes a string
  Literal (as HCL does); `(expr)` keys are `Parens` and evaluate. A bare
  multi-step key (`a.b = 1`) stays a ScopeTraversal: HCL rejects it as
  "Ambiguous attribute key" when evaluating, not when parsing.
- `Conditional(cond, true_expr, false_expr, loc)`: `c ? a : b`.
- `BinaryOp(op, left, right, loc)`: op one of `|| && == != < > <= >= + - * / %`.
- `UnaryOp(op, operand, loc)`: op `-` or `!`.
- `ForTuple(key_var, value_var, collection, value, cond, loc)`:
  `[for k, v in coll : value if cond]` (key_var None with one name, cond None without `if`).
- `ForObject(key_var, value_var, collection, key, value, grouping, cond, loc)`:
  `{for k, v in coll : key => value... if cond}`; `grouping` is True with `...`.
- `Splat(source, steps, full, loc)`: `source[*].a[0]` (full=True) or
  `source.*.a` (full=False, attribute steps only); `steps` (AttrStep/IndexStep)
  apply to each element.
- `Parens(expr, loc)`: `(expr)`; evaluates to the inner value; matters for
  object keys.

Entry points
------------
- `parse(text, filename) -> Body` for HCL native syntax text.
- `parse_file(path, filename=None) -> Body` reads the file and dispatches to
  the HCL JSON reader (`bakeplan.hcl.jsonsyntax.parse_json`) for `*.json`
  names; `parse_bytes(data, filename, json=...)` the same for bytes in hand.
- `parse_expression(text, at) -> Expr` for one expression starting at `at`.

Errors are `BakeFileError(message, Location)` where HCL reports them, worded
like HCL's diagnostics ("Summary; Detail").

How: python-hcl2's Lark grammar (hcl2/hcl2.lark, patched where it disagrees
with HCL) drives Lark's LALR parser directly, and one pass converts its tree.
python-hcl2 accepts some input HCL rejects; the conversion rejects it as HCL
does: duplicate attributes ("Attribute redefined"), multi-line quoted strings,
invalid escapes, two items on one line, newlines inside an expression outside
brackets, multi-line single-line blocks. It also accepts what python-hcl2
rejects: a UTF-8 BOM, `!!x`, a last line without newline, `${~ x ~}`, a
newline before `-` inside brackets.
Trees pickle compactly, for the bake layer's parse cache (a hit never imports Lark).
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import gc
import hashlib
import importlib.util
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias
from typing import Literal as TypingLiteral

from bakeplan.errors import BakeFileError, Location
from bakeplan.fsutil import user_cache_dir, write_atomic

LiteralKind: TypeAlias = TypingLiteral["string", "number", "bool", "null"]


class _Node:
    """Base of every syntax-tree node: pickles as a constructor call.

    A cached tree loads about twice as fast that way as with the dataclass
    default (which looks the fields up again for every object).
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), tuple([getattr(self, name) for name in self.__match_args__]))  # type: ignore[attr-defined]


def _reduce_location(loc: Location) -> tuple[Any, ...]:
    """Pickle a Location as a constructor call (see `_Node`)."""
    return (Location, (loc.file, loc.line, loc.column))


copyreg.pickle(Location, _reduce_location)


@dataclass(frozen=True, slots=True)
class Literal(_Node):
    """A constant: string (decoded), number (exact source text), bool or null."""

    kind: LiteralKind
    value: str | bool | None
    loc: Location


@dataclass(frozen=True, slots=True)
class Interpolation(_Node):
    """`${ expr }` inside a template."""

    expr: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class TemplateIf(_Node):
    """`%{ if cond }then%{ else }else_%{ endif }` inside a template."""

    cond: Expr
    then: tuple[TemplatePart, ...]
    else_: tuple[TemplatePart, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class TemplateFor(_Node):
    """`%{ for key_var, value_var in collection }body%{ endfor }` inside a template."""

    key_var: str | None
    value_var: str
    collection: Expr
    body: tuple[TemplatePart, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Template(_Node):
    """A string template: literal text, interpolations and directives; yields a string."""

    parts: tuple[TemplatePart, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class TemplateWrap(_Node):
    """A template that is exactly one interpolation: yields the value unconverted."""

    expr: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class AttrStep(_Node):
    """`.name` in a traversal or after a splat."""

    name: str
    loc: Location


@dataclass(frozen=True, slots=True)
class IndexStep(_Node):
    """`[key]` (or legacy `.0`) in a traversal or after a splat."""

    key: Expr
    loc: Location


Step: TypeAlias = "AttrStep | IndexStep"


@dataclass(frozen=True, slots=True)
class ScopeTraversal(_Node):
    """A variable reference with zero or more attribute/index steps."""

    name: str
    steps: tuple[Step, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class GetAttr(_Node):
    """`obj.name` where obj is not a variable reference."""

    obj: Expr
    name: str
    loc: Location


@dataclass(frozen=True, slots=True)
class Index(_Node):
    """`obj[key]` where obj is not a variable reference."""

    obj: Expr
    key: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class FunctionCall(_Node):
    """`name(args...)`; expand_final for a trailing `...`."""

    name: str
    args: tuple[Expr, ...]
    expand_final: bool
    loc: Location


@dataclass(frozen=True, slots=True)
class Tuple(_Node):
    """`[a, b, c]`."""

    items: tuple[Expr, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class ObjectItem(_Node):
    """One `key = value` (or `key: value`) of an object constructor."""

    key: Expr
    value: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class Object(_Node):
    """`{ k = v, ... }`."""

    items: tuple[ObjectItem, ...]
    loc: Location


@dataclass(frozen=True, slots=True)
class Conditional(_Node):
    """`cond ? true_expr : false_expr`."""

    cond: Expr
    true_expr: Expr
    false_expr: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class BinaryOp(_Node):
    """`left op right`."""

    op: str
    left: Expr
    right: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class UnaryOp(_Node):
    """`-operand` or `!operand`."""

    op: str
    operand: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class ForTuple(_Node):
    """`[for key_var, value_var in collection : value if cond]`."""

    key_var: str | None
    value_var: str
    collection: Expr
    value: Expr
    cond: Expr | None
    loc: Location


@dataclass(frozen=True, slots=True)
class ForObject(_Node):
    """`{for key_var, value_var in collection : key => value... if cond}`."""

    key_var: str | None
    value_var: str
    collection: Expr
    key: Expr
    value: Expr
    grouping: bool
    cond: Expr | None
    loc: Location


@dataclass(frozen=True, slots=True)
class Splat(_Node):
    """`source[*].steps` (full) or `source.*.attrs` (attribute-only)."""

    source: Expr
    steps: tuple[Step, ...]
    full: bool
    loc: Location


@dataclass(frozen=True, slots=True)
class Parens(_Node):
    """`(expr)`."""

    expr: Expr
    loc: Location


Expr: TypeAlias = (
    "Literal | Template | TemplateWrap | ScopeTraversal | GetAttr | Index | FunctionCall | Tuple | Object"
    " | Conditional | BinaryOp | UnaryOp | ForTuple | ForObject | Splat | Parens"
)
TemplatePart: TypeAlias = "str | Interpolation | TemplateIf | TemplateFor"


@dataclass(frozen=True, slots=True)
class Attribute(_Node):
    """`name = expr` in a body."""

    name: str
    expr: Expr
    loc: Location


@dataclass(frozen=True, slots=True)
class Block(_Node):
    """`type label... { body }`."""

    type: str
    labels: tuple[str, ...]
    body: Body
    loc: Location
    label_locs: tuple[Location, ...] = ()


@dataclass(frozen=True, slots=True)
class Body(_Node):
    """Attributes (unique names, source order) and blocks (source order)."""

    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]
    loc: Location


# --- parsing: python-hcl2's Lark grammar, converted once into the tree above ---
#
# Profiling showed python-hcl2's typed rule layer (hcl2.parses) and Lark's
# position propagation to cost more than the LALR parse itself, so we drive
# Lark directly with python-hcl2's grammar (hcl2/hcl2.lark, a few patches below
# to match HCL, and three for speed) and read positions from the tokens.
# On a 660 KB file of 1,000 targets: python-hcl2's pipeline ~6 s; this parser
# ~1.1 s CPU with Lark driving (~0.9 s of it Lark's LALR loop and lexer, plus
# ~0.2 s per process to import Lark and load its cached tables). Lark now runs
# only once per installation: its tables are exported and driven by a compact
# loop (see "compact LALR tables" below): ~0.6 s to parse that file, and a few
# milliseconds of start-up instead of 0.2 s.

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

_BINARY_OPS = {
    "DOUBLE_PIPE": "||",
    "DOUBLE_AMP": "&&",
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "PLUS": "+",
    "MINUS": "-",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
}

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}

_NL = "new_line_or_comment"

# Lark's tokens are str subclasses and its trees are not: testing for str tells
# them apart without importing lark (which a cache hit never needs). Typed Any
# so that mypy does not narrow the Any-typed tree nodes to str.
_TOKEN: Any = str


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


class _NewlineFilter:
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

# HCL's binary operator precedence (hclsyntax/operation.go), all left-associative.
_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _flatten_operators(grammar: str) -> str:
    """Replace the grammar's six-level operator ladder by one flat rule.

    Speed: in the ladder every operand of every expression climbs through
    seven LALR reductions; flat, it takes one, and the converter applies
    precedence itself (`_Converter._binary_chain`). A third less parse time.
    """
    start = grammar.find("// Logical OR")
    end = grammar.find("// Unary (highest precedence")
    if start < 0 or end < start:
        raise RuntimeError("python-hcl2's grammar changed; cannot flatten its operator rules")
    return grammar[:start] + _FLAT_OPERATORS + grammar[end:]


@functools.lru_cache(maxsize=1)
def _grammar() -> str:
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
def _lark() -> Any:
    """The LALR parser for python-hcl2's grammar (compiled once, cached on disk by Lark)."""
    from lark import Lark

    return Lark(_grammar(), parser="lalr", start=["start", "expression"], postlex=_NewlineFilter(), cache=True)


def _is_syntax_error(err: Exception) -> bool:
    """Whether `err` is Lark's UnexpectedInput (lark is imported only once something failed)."""
    from lark.exceptions import UnexpectedInput

    return isinstance(err, UnexpectedInput)


def _lark_parse(text: str, start: str) -> Any:
    """Parse with the compact tables (`_fast_parser`) when they are usable, else with Lark itself.

    Any input the compact parser does not accept is parsed again by Lark, so
    syntax errors (and anything unforeseen) come out exactly as Lark has them.
    """
    fast = _fast_parser()
    if fast is not None:
        try:
            return fast.parse(text, start)
        except Exception:  # noqa: BLE001 - _Fallback, or anything unforeseen: Lark decides
            pass
    return _lark().parse(text, start=start)


def decode(data: bytes, filename: str) -> str:
    """Decode a bake file as UTF-8, dropping a leading BOM as HCL does."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise BakeFileError(
            "Invalid character encoding; All input files must be UTF-8 encoded.", Location(filename, line, column)
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building (or loading) a syntax tree.

    A tree is hundreds of thousands of small objects that all live on; the
    collector would rescan them again and again while finding nothing to free
    (it tripled parse time and made loading a cached tree 7x slower).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(text: str, filename: str) -> Body:
    """Parse HCL native syntax `text` (reported as `filename`) into a Body."""
    with no_gc():
        return _parse(text, filename)


def _parse(text: str, filename: str) -> Body:
    """`parse` with the collector paused."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"  # the grammar wants a newline after comments and heredoc markers
    try:
        tree = _lark_parse(text, "start")
    except Exception as err:  # noqa: BLE001 - only Lark's syntax errors are ours to report
        if not _is_syntax_error(err):
            raise
        raise _syntax_error(err, Location(filename, 1, 1), text) from None
    return _Converter(filename, 0, 0).body(tree.children[0], Location(filename, 1, 1))


def parse_expression(text: str, at: Location) -> Expr:
    """Parse one expression whose first character is at `at` (used for `${...}` in heredocs)."""
    stripped = text.lstrip()
    at = _advance(at, text, len(text) - len(stripped))
    stripped = stripped.rstrip()
    if not stripped:
        raise BakeFileError("Invalid expression; Expected the start of an expression, but found the end.", at)
    simple = _SIMPLE_TRAVERSAL.fullmatch(stripped)
    if simple is not None and simple.group(1) not in _KEYWORDS:
        return _simple_traversal(stripped, at)
    try:
        tree = _lark_parse(stripped, "expression")
    except Exception as err:  # noqa: BLE001 - only Lark's syntax errors are ours to report
        if not _is_syntax_error(err):
            raise
        raise _syntax_error(err, at, stripped) from None
    return _Converter(at.file, at.line - 1, at.column - 1, free=True).expr(tree)


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


def _advance(at: Location, text: str, offset: int) -> Location:
    """The location of `text[offset]` given that `text[0]` is at `at`."""
    newlines = text.count("\n", 0, offset)
    if newlines == 0:
        return Location(at.file, at.line, at.column + offset)
    return Location(at.file, at.line + newlines, offset - text.rfind("\n", 0, offset))


def _syntax_error(err: Any, at: Location, text: str) -> BakeFileError:
    """A Lark parse error as HCL would word it, at the position HCL reports."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    token = getattr(err, "token", None)
    loc = _shift(at, getattr(err, "line", 1), getattr(err, "column", 1))
    if isinstance(err, UnexpectedCharacters) and text.startswith("<<", err.pos_in_stream):
        return _unterminated_heredoc(at, text)
    if token is not None and str(token.value).startswith("<<"):
        return _unterminated_heredoc(at, text)
    if isinstance(err, UnexpectedCharacters):
        return BakeFileError(f"Invalid character; This character is not used within the language: {err.char!r}.", loc)
    if token is not None and token.type == "STRING_CHARS" and str(token.value).strip():
        # Outside a string, the only terminal that takes any character.
        char = str(token.value).strip()[0]
        return BakeFileError(f"Invalid character; This character is not used within the language: {char!r}.", loc)
    if isinstance(err, UnexpectedToken) and token is not None and token.type != "$END":
        value = str(token.value)
        if value.strip() and value[:1] in (" ", "\t"):
            # `=` and `:` carry their leading blanks in python-hcl2's tokens;
            # HCL points at the symbol itself.
            loc = Location(loc.file, loc.line, loc.column + len(value) - len(value.lstrip(" \t")))
        text_ = value.strip()
        # A string token already carries its quotes.
        shown = (text_ if text_.startswith('"') else f'"{text_}"') if text_ else "end of line"
        return BakeFileError(f"Invalid syntax; Unexpected {shown} here.", loc, hint=_expected_hint(err))
    stack = getattr(getattr(err, "state", None), "value_stack", None) or []
    return _unclosed(stack, at, text) or BakeFileError(
        "Invalid syntax; Unexpected end of file.", loc, hint=_expected_hint(err)
    )


def _shift(at: Location, line: Any, column: Any) -> Location:
    """A Lark position (1-based, relative to a text starting at `at`) as a file location."""
    if not isinstance(line, int) or not isinstance(column, int) or line < 1:
        line, column = 1, 1
    return Location(at.file, at.line + line - 1, (at.column + column - 1) if line == 1 else column)


def _unterminated_heredoc(at: Location, text: str) -> BakeFileError:
    """A heredoc without its closing marker: HCL points at the end of the file."""
    body = text.rstrip("\n")
    last = body[body.rfind("\n") + 1 :]
    return BakeFileError(
        "Unterminated template string; No closing marker was found for the string.",
        _shift(at, body.count("\n") + 1, len(last) + 1),
    )


_UNCLOSED = {
    "LSQB": "Unterminated tuple constructor expression; There is no corresponding closing bracket before the end "
    "of the file. This may be caused by incorrect bracket nesting elsewhere in this file.",
    "LPAR": "Unbalanced parentheses; Expected a closing parenthesis to terminate the expression.",
    "INTERP_START": "Unclosed template interpolation sequence; There is no closing brace for this interpolation "
    "sequence before the end of the file.",
    "DIRECTIVE_START": "Unclosed template directive; There is no closing brace for this directive before the end "
    "of the file.",
}
_UNCLOSED_CALL = (
    "Unterminated function call; There is no closing parenthesis for this function call before the end of the "
    "file. This may be caused by incorrect parenthesis nesting elsewhere in this file."
)
_UNCLOSED_BLOCK = (
    "Unclosed configuration block; There is no closing brace for this block before the end of the file. This "
    "may be caused by incorrect brace nesting elsewhere in this file."
)
_UNCLOSED_OBJECT = (
    "Unterminated object constructor expression; There is no corresponding closing brace before the end of "
    "the file. This may be caused by incorrect brace nesting elsewhere in this file."
)


def _unclosed(stack: list[Any], at: Location, text: str) -> BakeFileError | None:
    """At the end of the file, the innermost construct still open (from the parser's stack), as HCL reports it."""
    for index in range(len(stack) - 1, -1, -1):
        tok = stack[index]
        if not isinstance(tok, _TOKEN):
            continue
        loc = _shift(at, tok.line, tok.column)
        before = stack[index - 1] if index > 0 else None
        if tok.type == "DBLQUOTE":
            line_end = text.find("\n", tok.start_pos)
            line_start = text.rfind("\n", 0, tok.start_pos) + 1
            end = Location(loc.file, loc.line, (line_end if line_end >= 0 else len(text)) - line_start + 1)
            return BakeFileError("Unterminated template string; No closing marker was found for the string.", end)
        if tok.type == "LBRACE":
            is_block = before is not None and not isinstance(before, _TOKEN)
            return BakeFileError(_UNCLOSED_BLOCK if is_block else _UNCLOSED_OBJECT, loc)
        if tok.type == "LPAR" and before is not None and not isinstance(before, _TOKEN):
            return BakeFileError(_UNCLOSED_CALL, _first_token_loc(before, at))
        if tok.type in _UNCLOSED:
            return BakeFileError(_UNCLOSED[tok.type], loc)
    return None


def _first_token_loc(tree: Any, at: Location) -> Location:
    """The location of the first token of a Lark tree."""
    while not isinstance(tree, _TOKEN):
        tree = tree.children[0]
    return _shift(at, tree.line, tree.column)


_TERMINAL_NAMES = {
    "NAME": "a name", "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number", "DBLQUOTE": "a string",
    "SIMPLE_STRING": "a string", "NL_OR_COMMENT": "a newline", "EQ": '"="', "COLON": '":"', "COMMA": '","',
    "LSQB": '"["', "RSQB": '"]"', "LBRACE": '"{"', "RBRACE": '"}"', "LPAR": '"("', "RPAR": '")"',
    "QMARK": '"?"', "ELLIPSIS": '"..."', "FOR_OBJECT_ARROW": '"=>"', "IN": '"in"', "IF": '"if"',
}  # fmt: skip


def _expected_hint(err: Any) -> str | None:
    """What the grammar expected there, in words, to help fix the input."""
    names = sorted({_TERMINAL_NAMES[t] for t in getattr(err, "expected", None) or () if t in _TERMINAL_NAMES})
    return "Expected " + " or ".join(names) + "." if names else None


class _Converter:
    """Turns one Lark tree into syntax-tree nodes; `dl`/`dc` shift positions of a nested parse."""

    __slots__ = ("file", "dl", "dc", "free", "_rules")

    def __init__(self, file: str, dl: int, dc: int, *, free: bool = False) -> None:
        self.file = file
        self.dl = dl
        self.dc = dc
        # Whether newlines are insignificant here (inside (), [], function
        # arguments, for expressions, ${}), as HCL's parser tracks them.
        self.free = free
        self._rules: dict[str, Callable[[Any], Expr]] = {
            "paren_expr": self._paren_expr,
            "identifier": self._identifier,
            "literal_value": self._literal_value,
            "int_lit": self._number,
            "float_lit": self._number,
            "string": self._string,
            "template_string": self._template_string,
            "tuple": self._tuple,
            "object": self._object,
            "function_call": self._function_call,
            "heredoc_template": self._heredoc,
            "heredoc_template_trim": self._heredoc,
            "index_expr_term": self._index,
            "get_attr_expr_term": self._get_attr,
            "attr_splat_expr_term": self._splat,
            "full_splat_expr_term": self._splat,
            "for_tuple_expr": self._for_tuple,
            "for_object_expr": self._for_object,
            "binary_chain": self._binary_chain,
            "unary_op": self._unary_op,
            "conditional": self._conditional,
        }

    # -- positions

    def loc(self, tok: Any) -> Location:
        """The file location of a Lark token."""
        if tok.line == 1:
            return Location(self.file, tok.line + self.dl, tok.column + self.dc)
        return Location(self.file, tok.line + self.dl, tok.column)

    def first_loc(self, node: Any) -> Location:
        """The location of the first token under a tree node."""
        while not isinstance(node, _TOKEN):
            node = node.children[0]
        return self.loc(node)

    # -- structure

    def body(self, tree: Any, loc: Location, closing: Any = None) -> Body:
        """A `body` rule: attributes (checked unique) and blocks, in source order.

        `closing` is the `}` token of a block's body (None for the file's body).
        """
        if closing is not None and tree.children and tree.children[0].data != _NL:
            self._check_single_line(tree)
            closing = None
        attributes: list[Attribute] = []
        blocks: list[Block] = []
        seen: dict[str, Location] = {}
        need_newline = False
        for child in tree.children:
            kind = child.data
            if kind == _NL:
                need_newline = False
                continue
            if need_newline:
                self._missing_newline(child)
            if kind == "attribute":
                attr = self._attribute(child, seen)
                attributes.append(attr)
                need_newline = not _ends_line(child)
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
        if len(children) == 1 and first.data == "attribute" and not _ends_line(first):
            return
        at = self.first_loc(children[1]) if len(children) > 1 else self.first_loc(first)
        if first.data == "attribute" and _ends_line(first):
            node = first
            while not isinstance(node, _TOKEN) and node.data != _NL:
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
                f"{first.file}:{first.line},{first.column}-{first.column + len(name)}. "
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
        while not isinstance(children[index], _TOKEN) and children[index].data != _NL:
            label = children[index]
            labels.append(self._label(label))
            label_locs.append(self.first_loc(label))
            index += 1
        while not isinstance(children[index], _TOKEN):
            index += 1
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

    def _newline_error(self, node: Any) -> BakeFileError:
        """A newline inside an expression where HCL's newlines end the expression."""
        # An operator token that python-hcl2's postlexer merged with the newline
        # before it keeps the operator's own position.
        at = self.first_loc(node)
        return BakeFileError(
            "Invalid expression; Expected the start of an expression, but found an invalid expression token.",
            at,
            hint="Outside (), [] and function arguments a newline ends the expression; wrap it in parentheses.",
        )

    def _paren_expr(self, tree: Any) -> Expr:
        children = tree.children
        inner = next(c for c in children if not isinstance(c, _TOKEN) and c.data != _NL)
        return Parens(self.free_expr(inner), self.loc(children[0]))

    def _identifier(self, tree: Any) -> Expr:
        tok = tree.children[0]
        return ScopeTraversal(tok.value, (), self.loc(tok))

    def _literal_value(self, tree: Any) -> Expr:
        tok = tree.children[0]
        if tok.type == "NULL":
            return Literal("null", None, self.loc(tok))
        return Literal("bool", tok.type == "TRUE", self.loc(tok))

    def _number(self, tree: Any) -> Expr:
        tok = tree.children[0]
        text = tok.value
        loc = self.loc(tok)
        if text.startswith("-"):
            # HCL has no negative literals: `-1` is negation applied to `1`.
            inner = Literal("number", text[1:], Location(loc.file, loc.line, loc.column + 1))
            return UnaryOp("-", inner, loc)
        return Literal("number", text, loc)

    def _template_string(self, tree: Any) -> Expr:
        raise BakeFileError(
            'Invalid character; "\\" is not valid inside an interpolation or directive.', self.first_loc(tree)
        )

    def _tuple(self, tree: Any) -> Expr:
        children = tree.children
        items = tuple(self.free_expr(c) for c in children if not isinstance(c, _TOKEN) and c.data != _NL)
        return Tuple(items, self.loc(children[0]))

    def _object(self, tree: Any) -> Expr:
        children = tree.children
        items: list[ObjectItem] = []
        separated = True
        for child in children:
            if isinstance(child, _TOKEN):
                separated = separated or child.type == "COMMA"
                continue
            if child.data == _NL:
                separated = True
                continue
            if not separated:
                raise BakeFileError(
                    "Missing attribute separator; Expected a newline or comma to mark the beginning "
                    "of the next attribute.",
                    self.first_loc(child),
                )
            items.append(self._object_item(child))
            separated = _ends_line(child)  # a heredoc value ate its newline
        return Object(tuple(items), self.loc(children[0]))

    def _object_item(self, tree: Any) -> ObjectItem:
        key_node = tree.children[0].children[0]
        if key_node.data == "keyword" or _is_bare_literal(key_node):
            # HCL takes a bare keyword key (`for`, `null`, `true`) as its name.
            tok = key_node.children[0]
            key: Expr = Literal("string", tok.value, self.loc(tok))
        else:
            key = self.free_expr(key_node, False)
            if type(key) is ScopeTraversal and not key.steps:
                key = Literal("string", key.name, key.loc)
        return ObjectItem(key, self.free_expr(tree.children[2], False), key.loc)

    def _function_call(self, tree: Any) -> Expr:
        children = tree.children
        names: list[str] = []
        args: tuple[Expr, ...] = ()
        expand = False
        for child in children:
            if isinstance(child, _TOKEN):
                continue
            if child.data == "identifier":
                names.append(child.children[0].value)
            elif child.data == "arguments":
                args, expand = self._arguments(child)
        return FunctionCall("::".join(names), args, expand, self.first_loc(children[0]))

    def _arguments(self, tree: Any) -> tuple[tuple[Expr, ...], bool]:
        args: list[Expr] = []
        expand = False
        for child in tree.children:
            if isinstance(child, _TOKEN):
                expand = expand or child.type == "ELLIPSIS"
            elif child.data != _NL:
                args.append(self.free_expr(child))
        return tuple(args), expand

    def _index(self, tree: Any) -> Expr:
        base = self.expr(tree.children[0])
        return _with_step(base, self._step(tree.children[1]))

    def _get_attr(self, tree: Any) -> Expr:
        base = self.expr(tree.children[0])
        return _with_step(base, self._step(tree.children[1]))

    def _step(self, tree: Any) -> Step:
        """A `get_attr`, `braces_index` or `short_index` rule as a traversal step."""
        children = tree.children
        if tree.data == "get_attr":
            name = children[1].children[0]
            return AttrStep(name.value, self.loc(children[0]))
        if tree.data == "short_index":
            tok = children[1]
            return IndexStep(Literal("number", tok.value, self.loc(tok)), self.loc(children[0]))
        key = next(c for c in children if not isinstance(c, _TOKEN) and c.data != _NL)
        return IndexStep(self.free_expr(key), self.loc(children[0]))

    def _splat(self, tree: Any) -> Expr:
        source = self.expr(tree.children[0])
        splat = tree.children[1]
        full = tree.data == "full_splat_expr_term"
        steps = [self._step(c) for c in splat.children[1:]]
        loc = self.loc(splat.children[0])
        if full:
            return Splat(source, tuple(steps), True, loc)
        # `.*` only carries attribute steps (and legacy `.0`); a `[...]` ends it
        # and applies to the whole result, as in HCL's parser.
        cut = next((i for i, c in enumerate(splat.children[1:]) if c.data == "braces_index"), len(steps))
        result: Expr = Splat(source, tuple(steps[:cut]), False, loc)
        for step in steps[cut:]:
            result = _with_step(result, step)
        return result

    def _for_intro(self, tree: Any) -> tuple[str | None, str, Expr]:
        names: list[str] = []
        coll: Expr | None = None
        for child in tree.children:
            if isinstance(child, _TOKEN) or child.data == _NL:
                continue
            if child.data == "identifier" and coll is None and len(names) < 2 and not _after_in(tree, child):
                names.append(child.children[0].value)
            else:
                coll = self.expr(child)
        assert coll is not None
        if len(names) == 2:
            return names[0], names[1], coll
        return None, names[0], coll

    def _for_parts(self, tree: Any) -> tuple[tuple[str | None, str, Expr], list[Expr], Expr | None, bool]:
        saved = self.free
        self.free = True
        result = self._for_parts_free(tree)
        self.free = saved
        return result

    def _for_parts_free(self, tree: Any) -> tuple[tuple[str | None, str, Expr], list[Expr], Expr | None, bool]:
        intro: tuple[str | None, str, Expr] | None = None
        exprs: list[Expr] = []
        cond: Expr | None = None
        grouping = False
        for child in tree.children:
            if isinstance(child, _TOKEN):
                grouping = grouping or child.type == "ELLIPSIS"
            elif child.data == "for_intro":
                intro = self._for_intro(child)
            elif child.data == "for_cond":
                cond = self.expr(next(c for c in child.children if not isinstance(c, _TOKEN) and c.data != _NL))
            elif child.data != _NL:
                exprs.append(self.expr(child))
        assert intro is not None
        return intro, exprs, cond, grouping

    def _for_tuple(self, tree: Any) -> Expr:
        (key_var, value_var, coll), exprs, cond, _ = self._for_parts(tree)
        return ForTuple(key_var, value_var, coll, exprs[0], cond, self.loc(tree.children[0]))

    def _for_object(self, tree: Any) -> Expr:
        (key_var, value_var, coll), exprs, cond, grouping = self._for_parts(tree)
        return ForObject(key_var, value_var, coll, exprs[0], exprs[1], grouping, cond, self.loc(tree.children[0]))

    def _binary_chain(self, tree: Any) -> Expr:
        """`a op b op c ...` as one flat list, built into a tree by precedence (shunting-yard)."""
        operands: list[Expr] = []
        ops: list[str] = []
        after_op = False
        for child in tree.children:
            if child.data == "binary_operator":
                tok = child.children[0]
                if not self.free and "\n" in tok.value:
                    raise self._newline_error(tok)
                self._reduce_ops(operands, ops, _PRECEDENCE[_BINARY_OPS[tok.type]])
                ops.append(_BINARY_OPS[tok.type])
                after_op = True
            elif child.data == _NL:
                if after_op and not self.free:
                    raise self._newline_error(child)
            else:
                operands.append(self.expr(child))
                after_op = False
        self._reduce_ops(operands, ops, 0)
        return operands[0]

    @staticmethod
    def _reduce_ops(operands: list[Expr], ops: list[str], precedence: int) -> None:
        """Combine stacked operators binding at least as tightly as `precedence` (left-associative)."""
        while ops and _PRECEDENCE[ops[-1]] >= precedence:
            op = ops.pop()
            right = operands.pop()
            left = operands.pop()
            operands.append(BinaryOp(op, left, right, left.loc))

    def _unary_op(self, tree: Any) -> Expr:
        tok, operand = tree.children
        return UnaryOp(tok.value, self.expr(operand), self.loc(tok))

    def _conditional(self, tree: Any) -> Expr:
        if not self.free:
            for child in tree.children:
                if isinstance(child, _TOKEN) and child.type == "QMARK" and "\n" in child.value:
                    raise self._newline_error(child)
                if not isinstance(child, _TOKEN) and child.data == _NL:
                    raise self._newline_error(child)
        cond, true_expr, false_expr = (
            self.expr(c) for c in tree.children if not isinstance(c, _TOKEN) and c.data != _NL
        )
        return Conditional(cond, true_expr, false_expr, cond.loc)

    # -- templates

    def _string(self, tree: Any) -> Expr:
        children = tree.children
        loc = self.loc(children[0])
        if len(children) == 1:
            return self._quoted_template(children[0], loc)
        if len(children) == 2:
            return Literal("string", "", loc)
        if len(children) == 3:
            only = children[1].children[0]
            if isinstance(only, _TOKEN) and only.type == "STRING_CHARS":
                return Literal("string", self._decode(only), loc)
        tokens: list[template.Token] = []
        for part in children[1:-1]:
            piece = part.children[0]
            if isinstance(piece, _TOKEN):
                text = self._decode(piece) if piece.type == "STRING_CHARS" else piece.value[1:]
                last = tokens[-1] if tokens else None
                if type(last) is template.Lit:
                    last.text += text
                else:
                    tokens.append(template.Lit(text))
            else:
                tokens.append(self._sequence(piece))
        return template.assemble(tokens, loc, end=self.loc(children[-1]))

    def _quoted_template(self, tok: Any, loc: Location) -> Expr:
        """A whole one-line quoted string in one token (see the QUOTED_TEMPLATE patch)."""
        raw: str = tok.value
        if "{" not in raw:  # no `${`, `%{` or their escapes
            if "\\" not in raw:
                return Literal("string", raw[1:-1] if raw.isascii() else unicodedata.normalize("NFC", raw[1:-1]), loc)
            return Literal("string", self._decode(tok, 1, len(raw) - 1), loc)
        if "\\" in raw:
            self._decode(tok, 1, len(raw) - 1)  # report a bad escape at its own position
        inner = Location(loc.file, loc.line, loc.column + 1)
        tokens = template.scan_heredoc(raw[1:-1], loc.file, loc.line, parse_expression, inner.column, _unescape)
        return template.assemble(tokens, loc, end=Location(loc.file, loc.line, loc.column + len(raw) - 1))

    def _sequence(self, tree: Any) -> template.Token:
        """An interpolation or directive inside a quoted string."""
        children = tree.children
        strip_left = isinstance(children[1], _TOKEN) and children[1].type == "STRIP_MARKER"
        strip_right = isinstance(children[-2], _TOKEN) and children[-2].type == "STRIP_MARKER"
        loc = self.loc(children[0])
        kind = tree.data
        exprs = [c for c in children if not isinstance(c, _TOKEN)]
        if kind == "interpolation":
            return template.Interp(self.free_expr(exprs[0]), strip_left, strip_right, loc)
        if kind == "template_if_start":
            return template.Directive("if", strip_left, strip_right, loc, cond=self.free_expr(exprs[0]))
        if kind == "template_for_start":
            names = [c.children[0].value for c in exprs[:-1]]
            key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
            coll = self.free_expr(exprs[-1])
            return template.Directive("for", strip_left, strip_right, loc, cond=coll, key_var=key_var, value_var=value_var)
        return template.Directive(kind.removeprefix("template_"), strip_left, strip_right, loc)

    def _decode(self, tok: Any, start: int = 0, stop: int | None = None) -> str:
        """The text of a quoted-string chunk (`tok.value[start:stop]`) with escapes decoded (HCL's rules)."""
        raw: str = tok.value
        n = len(raw) if stop is None else stop
        if start == 0 and n == len(raw) and "\\" not in raw and "\n" not in raw:
            return raw if raw.isascii() else unicodedata.normalize("NFC", raw)
        out: list[str] = []
        i = start
        while i < n:
            j = min(_next_special(raw, i), n)
            out.append(raw[i:j])
            if j >= n:
                break
            if raw[j] == "\n":
                raise BakeFileError(
                    "Invalid multi-line string; Quoted strings may not be split over multiple lines. To produce "
                    "a multi-line string, either use the \\n escape to represent a newline character or use the "
                    '"heredoc" multi-line template syntax.',
                    self._offset_loc(tok, j),
                )
            text, i = self._escape(tok, raw, j)
            out.append(text)
        decoded = "".join(out)
        return decoded if decoded.isascii() else unicodedata.normalize("NFC", decoded)

    def _escape(self, tok: Any, raw: str, j: int) -> tuple[str, int]:
        """Decode the backslash escape at `raw[j]`; returns its text and the index after it."""
        sel = raw[j + 1 : j + 2]
        if sel in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[sel], j + 2
        if sel in ("u", "U"):
            width = 4 if sel == "u" else 8
            digits = raw[j + 2 : j + 2 + width]
            if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    return chr(code), j + 2 + width
            raise BakeFileError(
                f"Invalid escape sequence; The \\{sel} escape must be followed by {width} hexadecimal digits "
                "giving a valid Unicode code point.",
                self._offset_loc(tok, j),
            )
        raise BakeFileError(
            f'Invalid escape sequence; The symbol "{sel}" is not a valid escape sequence selector.',
            self._offset_loc(tok, j),
        )

    def _offset_loc(self, tok: Any, offset: int) -> Location:
        """The location of character `offset` of a token's text."""
        return _advance(self.loc(tok), tok.value, offset)

    def _heredoc(self, tree: Any) -> Expr:
        tok = tree.children[0]
        raw: str = tok.value
        trim = tree.data == "heredoc_template_trim"
        first_nl = raw.index("\n")
        rest = raw[first_nl + 1 :].removesuffix("\n").removesuffix("\r")
        end = rest.rfind("\n")
        body = rest[: end + 1] if end >= 0 else ""
        loc = self.loc(tok)
        tokens = template.scan_heredoc(body, self.file, loc.line + 1, parse_expression)
        marker = rest[end + 1 :]
        end_loc = Location(self.file, loc.line + 1 + body.count("\n"), len(marker) - len(marker.lstrip()) + 1)
        return template.assemble(tokens, loc, flush=trim, end=end_loc)


def _unescape(raw: str) -> str:
    """Decode the backslash escapes of a literal piece already checked by `_Converter._decode` (NFC, as HCL)."""
    if "\\" not in raw:
        return raw if raw.isascii() else unicodedata.normalize("NFC", raw)
    out: list[str] = []
    i = 0
    while True:
        j = raw.find("\\", i)
        if j < 0:
            out.append(raw[i:])
            return unicodedata.normalize("NFC", "".join(out))
        out.append(raw[i:j])
        sel = raw[j + 1 : j + 2]
        if sel in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[sel])
            i = j + 2
        else:
            width = 4 if sel == "u" else 8
            out.append(chr(int(raw[j + 2 : j + 2 + width], 16)))
            i = j + 2 + width


def _next_special(raw: str, start: int) -> int:
    """The index of the next backslash or newline in `raw` from `start` (len(raw) if none)."""
    b = raw.find("\\", start)
    nl = raw.find("\n", start)
    if b < 0:
        return nl if nl >= 0 else len(raw)
    return b if nl < 0 or b < nl else nl


def _is_bare_literal(node: Any) -> bool:
    """Whether an object key is a bare `true`, `false` or `null`."""
    return bool(node.data == "literal_value")


def _after_in(intro: Any, child: Any) -> bool:
    """Whether `child` comes after the `in` keyword of a for_intro."""
    seen_in = False
    for c in intro.children:
        if c is child:
            return seen_in
        if isinstance(c, _TOKEN) and c.type == "IN":
            seen_in = True
    return seen_in


def _ends_line(item: Any) -> bool:
    """Whether an attribute's (or object item's) tokens end its line (a newline, or a heredoc that ate it)."""
    node = item.children[-1]
    while not isinstance(node, _TOKEN):
        if node.data == _NL:
            return True
        if not node.children:
            return False
        node = node.children[-1]
    return node.type in ("HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM")


def _with_step(base: Expr, step: Step) -> Expr:
    """Extend a variable traversal by one step, or apply the step to any other expression."""
    if type(base) is ScopeTraversal:
        return ScopeTraversal(base.name, (*base.steps, step), base.loc)
    if type(step) is AttrStep:
        return GetAttr(base, step.name, step.loc)
    assert type(step) is IndexStep
    return Index(base, step.key, step.loc)


def parse_file(path: str | Path, filename: str | None = None) -> Body:
    """Read and parse a bake file; `*.json` files use the HCL JSON syntax.

    `filename` is the name locations report (default: the file's name).
    Caching parsed trees is the bake layer's job (`bakeplan.bake.files`).
    """
    path = Path(path)
    name = filename if filename is not None else path.name
    return parse_bytes(path.read_bytes(), name, json=path.suffix == ".json")


def parse_bytes(data: bytes, filename: str, *, json: bool = False) -> Body:
    """Parse a bake file's bytes (HCL, or HCL JSON with `json`)."""
    with no_gc():
        if json:
            from bakeplan.hcl import jsonsyntax

            return jsonsyntax.parse_json(data, filename)
        return parse(decode(data, filename), filename)


# --- compact LALR tables: Lark's own tables, exported once and reused ---
#
# Loading Lark (importing it, deserializing its cached tables, building the
# tree callbacks and the contextual lexer) cost ~0.2 s per process, more than
# parsing a typical bake file. The first run exports exactly what Lark built
# from the grammar above (parse table, per-state lexer patterns, the tree
# shaping of each rule) as plain data to `~/.cache/bakeplan/lalr/` (marshal,
# which loads in a millisecond and can hold no code); later runs drive those
# tables with the small loop below, which follows Lark's LALR parser,
# contextual lexer and tree builder step for step (same tokens, same trees).
# Whatever the loop does not accept is handed to Lark itself, so errors are
# Lark's own. The file name hashes the grammar, Lark's and Python's versions.

_TABLES_FORMAT = "3"


class _Fallback(Exception):
    """The compact parser cannot go on: let Lark parse the text (and report its error)."""


class _Token(str):
    """A token like Lark's (a str with its type and position)."""

    type: str
    value: str
    start_pos: int
    line: int
    column: int
    end_line: int
    end_column: int
    end_pos: int

    def update(self, type: str | None = None, value: str | None = None) -> _Token:  # noqa: A002 - Lark's name
        """A copy with another type or value, at the same position (Lark's Token.update)."""
        token = _Token(value if value is not None else self.value)
        token.type = type if type is not None else self.type
        token.value = str(token)
        token.start_pos, token.line, token.column = self.start_pos, self.line, self.column
        token.end_line, token.end_column, token.end_pos = self.end_line, self.end_column, self.end_pos
        return token

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Token) and self.type != other.type:
            return False
        return str.__eq__(self, other)

    __hash__ = str.__hash__


class _Tree:
    """A parse-tree node like Lark's Tree: a rule name and its children."""

    __slots__ = ("data", "children")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children


class _Scanner:
    """One contextual-lexer state: Lark's terminal patterns, joined and compiled on first use."""

    __slots__ = ("_spec", "mres", "ignore", "newline_types", "unless")

    def __init__(self, spec: tuple[Any, ...]) -> None:
        self._spec = spec
        self.mres: list[Any] = []
        self.ignore: frozenset[str] = frozenset(spec[1])
        self.newline_types: frozenset[str] = frozenset(spec[2])
        self.unless: dict[str, list[Any]] = {}

    def build(self) -> None:
        """Compile the union patterns (Lark compiles them lazily too)."""
        patterns, _, _, unless = self._spec
        self.mres = [_compile_recipe(p) for p in patterns]
        self.unless = {name: [_compile_recipe(p) for p in group] for name, group in unless.items()}


# Compiling the lexer's big union patterns is most of the remaining start-up
# cost, and Python keeps no compiled pattern between processes. The tables
# therefore also keep what `re` compiles each pattern to (its internal program,
# as re._compiler.compile hands it to _sre.compile); the file name includes
# Python's exact version, and a recipe that fails to load is compiled again.


def _regex_recipe(pattern: str) -> tuple[Any, ...]:
    """`pattern` with its compiled `re` program, or just the pattern where that is unavailable."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, 0)
        code = _compiler._code(parsed, 0)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        recipe = (pattern, int(parsed.state.flags), [int(c) for c in code], parsed.state.groups - 1, groupindex, tuple(indexgroup))
        if _compile_recipe(recipe).pattern != pattern:
            return (pattern,)
        return recipe
    except Exception:  # noqa: BLE001 - another Python: store the pattern alone
        return (pattern,)


def _compile_recipe(recipe: tuple[Any, ...]) -> Any:
    """The compiled pattern of a `_regex_recipe`."""
    if len(recipe) == 6:
        try:
            import _sre  # type: ignore[import-not-found,unused-ignore]

            return _sre.compile(*recipe)
        except Exception:  # noqa: BLE001 - fall back to compiling the pattern
            pass
    return re.compile(recipe[0])


class _FastParser:
    """Lark's LALR tables for the patched grammar, driven without Lark."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.states: dict[int, dict[str, int]] = data["states"]
        self.rules: list[tuple[str, int, str, bool, tuple[tuple[int, bool], ...] | None]] = data["rules"]
        self.start_states: dict[str, int] = data["start"]
        self.end_states: dict[str, int] = data["end"]
        scanners = [_Scanner(spec) for spec in data["scanners"]]
        self.lexers: dict[int, _Scanner] = {state: scanners[i] for state, i in data["lexers"].items()}

    def _lex(self, text: str, stack: list[int]) -> Iterator[_Token]:
        """Lark's ContextualLexer + BasicLexer.next_token: the state on top of the stack picks the terminals."""
        pos, line, line_start, end = 0, 1, 0, len(text)
        lexers = self.lexers
        while pos < end:
            scanner = lexers[stack[-1]]
            if not scanner.mres:
                scanner.build()
            for mre in scanner.mres:
                match = mre.match(text, pos)
                if match:
                    break
            else:
                raise _Fallback
            value: str = match.group(0)
            kind: str = match.lastgroup
            start, first_line, column = pos, line, pos - line_start + 1
            if kind in scanner.newline_types:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if kind in scanner.ignore:
                continue
            token = _Token(value)
            unless = scanner.unless.get(kind)
            if unless is not None:
                for mre in unless:
                    full = mre.fullmatch(value)
                    if full:
                        kind = full.lastgroup
                        break
            token.type, token.value = kind, value
            token.start_pos, token.line, token.column = start, first_line, column
            token.end_line, token.end_column, token.end_pos = line, pos - line_start + 1, pos
            yield token

    def parse(self, text: str, start: str) -> Any:
        """Lark's LALR_Parser.parse with the default tree builder; `_Fallback` where Lark would raise."""
        stack = [self.start_states[start]]
        values: list[Any] = []
        tokens = _NewlineFilter().process(self._lex(text, stack))
        self._run(tokens, stack, values)
        end_state = self.end_states[start]
        states, rules, reduce = self.states, self.rules, self._reduce
        while True:
            action = states[stack[-1]].get("$END")
            if action is None or action >= 0:
                raise _Fallback
            reduce(rules[~action], stack, values)
            if stack[-1] == end_state:
                return values[-1]

    def _run(self, tokens: Iterator[_Token], stack: list[int], values: list[Any]) -> None:
        """Shift every token, reducing before each as the table says (the hot loop: kept flat)."""
        states, rules, tree = self.states, self.rules, _Tree
        push_state, push_value = stack.append, values.append
        for token in tokens:
            kind = token.type
            while True:
                action = states[stack[-1]].get(kind)
                if action is None:
                    raise _Fallback
                if action >= 0:
                    push_state(action)
                    push_value(token)
                    break
                # `_reduce`, inlined: this loop runs for every reduction of a big file.
                origin, size, name, expand1, include = rules[~action]
                if size == 1 and expand1 and include is None:
                    # `?rule: x` over one child: Lark's ExpandSingleChild hands the child back.
                    del stack[-1]
                    push_state(states[stack[-1]][origin])
                    continue
                if size:
                    children = values[-size:]
                    del stack[-size:]
                    del values[-size:]
                else:
                    children = []
                if include is not None:
                    filtered: list[Any] = []
                    for i, to_expand in include:
                        if to_expand:
                            if filtered:
                                filtered += children[i].children
                            else:
                                filtered = children[i].children
                        else:
                            filtered.append(children[i])
                    children = filtered
                push_state(states[stack[-1]][origin])
                push_value(children[0] if expand1 and len(children) == 1 else tree(name, children))

    def _reduce(self, rule: tuple[str, int, str, bool, Any], stack: list[int], values: list[Any]) -> None:
        """One reduction: Lark's ChildFilterLALR_NoPlaceholders / ExpandSingleChild / Tree chain."""
        origin, size, name, expand1, include = rule
        if size:
            children = values[-size:]
            del stack[-size:]
            del values[-size:]
        else:
            children = []
        if include is not None:
            filtered: list[Any] = []
            for i, to_expand in include:
                if to_expand:
                    if filtered:
                        filtered += children[i].children
                    else:
                        filtered = children[i].children
                else:
                    filtered.append(children[i])
            children = filtered
        stack.append(self.states[stack[-1]][origin])
        values.append(children[0] if expand1 and len(children) == 1 else _Tree(name, children))


def _tables_path() -> Path | None:
    """Where the exported tables live: the user's cache directory, keyed by grammar and versions."""
    import sys

    base = user_cache_dir(os.environ)
    lark_spec = importlib.util.find_spec("lark")
    if base is None or lark_spec is None or lark_spec.origin is None:
        return None
    try:
        stat = Path(lark_spec.origin).stat()
    except OSError:
        return None
    digest = hashlib.sha256(f"{_TABLES_FORMAT}\0{sys.version}\0{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    digest.update(_grammar().encode())
    return base / "lalr" / f"{digest.hexdigest()[:32]}.marshal"


@functools.lru_cache(maxsize=1)
def _fast_parser() -> _FastParser | None:
    """The compact parser, from the exported tables (exported from Lark first when missing); None if unusable."""
    import marshal

    path = _tables_path()
    if path is None:
        return None
    try:
        stored = path.read_bytes()
        if hashlib.sha256(stored[32:]).digest() == stored[:32]:
            return _FastParser(marshal.loads(stored[32:]))
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: export again
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path.parent, os.W_OK):
        return None  # exporting on every run would cost more than Lark itself
    try:
        data = _export_tables(_lark())
    except Exception:  # noqa: BLE001 - _Fallback, or a Lark whose internals moved: parse with Lark itself
        return None
    try:
        payload = marshal.dumps(data)
        payload = hashlib.sha256(payload).digest() + payload  # a damaged file is detected, not used
        write_atomic(path, payload)
    except (OSError, ValueError):  # unwritable cache, or data marshal cannot hold: just not stored
        pass
    return _FastParser(data)


def _export_tables(lark: Any) -> dict[str, Any]:
    """Lark's parser as plain data; `_Fallback` when it is built in a way the compact loop does not mirror."""
    from functools import partial

    from lark.lexer import BasicLexer, ContextualLexer, UnlessCallback
    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift
    from lark.tree import Tree

    parser = lark.parser.parser.parser
    table = parser.parse_table
    if lark.lexer_conf.re_module is not re or lark.lexer_conf.g_regex_flags or lark.lexer_conf.use_bytes:
        raise _Fallback
    if any(isinstance(key, str) for key in parser.callbacks):
        raise _Fallback  # terminal callbacks: the loop has none
    rule_index: dict[Any, int] = {}
    rules: list[tuple[str, int, str, bool, Any]] = []
    for rule, callback in parser.callbacks.items():
        include: Any = None
        expand1 = False
        if isinstance(callback, ChildFilterLALR_NoPlaceholders):
            include = tuple((int(i), bool(e)) for i, e in callback.to_include)
            callback = callback.node_builder
        if isinstance(callback, ExpandSingleChild):
            expand1 = True
            callback = callback.node_builder
        if not (isinstance(callback, partial) and callback.func is Tree and len(callback.args) == 1 and not callback.keywords):
            raise _Fallback
        rule_index[rule] = len(rules)
        rules.append((str(rule.origin.name), len(rule.expansion), str(callback.args[0]), expand1, include))
    states: dict[int, dict[str, int]] = {}
    for state, actions in table.states.items():
        row: dict[str, int] = {}
        for symbol, (action, arg) in actions.items():
            row[str(symbol)] = int(arg) if action is Shift else ~rule_index[arg]
        states[int(state)] = row
    lexer = lark.parser.lexer
    contextual = getattr(lexer, "lexer", lexer)
    if not isinstance(contextual, ContextualLexer) or not isinstance(getattr(lexer, "postlexer", None), _NewlineFilter):
        raise _Fallback
    scanners: list[tuple[Any, ...]] = []
    seen: dict[int, int] = {}
    lexers: dict[int, int] = {}
    for state, basic in contextual.lexers.items():
        if type(basic) is not BasicLexer:
            raise _Fallback
        if id(basic) not in seen:
            scanner = basic.scanner  # builds it, and basic.callback
            unless: dict[str, list[tuple[Any, ...]]] = {}
            for name, callback in basic.callback.items():
                if type(callback) is not UnlessCallback or name in basic.ignore_types:
                    raise _Fallback
                unless[str(name)] = [_regex_recipe(m.pattern) for m in callback.scanner._mres]
            seen[id(basic)] = len(scanners)
            scanners.append(
                ([_regex_recipe(m.pattern) for m in scanner._mres], sorted(basic.ignore_types), sorted(basic.newline_types), unless)
            )
        lexers[int(state)] = seen[id(basic)]
    return {
        "states": states,
        "rules": rules,
        "start": {str(k): int(v) for k, v in table.start_states.items()},
        "end": {str(k): int(v) for k, v in table.end_states.items()},
        "scanners": scanners,
        "lexers": lexers,
    }


from bakeplan.hcl import template  # noqa: E402  (after the node classes: template imports them)
