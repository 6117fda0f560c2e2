"""HCL syntax trees: the node types both syntaxes (native and JSON) parse into, with locations.

Every node is a frozen, slotted record (`bakeplan.record`) carrying `loc`, a
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
- `FunctionCall(name, args, expand_final, loc, close_loc)`: `name(args...)`;
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

Trees pickle compactly, for the bake layer's parse cache (a hit never imports Lark).
Parsing lives in `bakeplan.hcl.syntax` (native syntax) and `bakeplan.hcl.json`.
"""

from __future__ import annotations

import copyreg
from typing import Any, TypeAlias
from typing import Literal as TypingLiteral

from bakeplan.errors import Location
from bakeplan.record import field, record

LiteralKind: TypeAlias = TypingLiteral["string", "number", "bool", "null"]


class _Node:
    """Base of every syntax-tree node: pickles as a constructor call.

    A cached tree loads faster that way than with a record's default
    (`__setstate__`, which sets the fields one by one for every object).
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), tuple([getattr(self, name) for name in self.__match_args__]))  # type: ignore[attr-defined]


def _reduce_location(loc: Location) -> tuple[Any, ...]:
    """Pickle a Location as a constructor call (see `_Node`)."""
    return (Location, (loc.file, loc.line, loc.column))


copyreg.pickle(Location, _reduce_location)


@record
class Literal(_Node):
    """A constant: string (decoded), number (exact source text), bool or null."""

    kind: LiteralKind
    value: str | bool | None
    loc: Location


@record
class Interpolation(_Node):
    """`${ expr }` inside a template."""

    expr: Expr
    loc: Location


@record
class TemplateIf(_Node):
    """`%{ if cond }then%{ else }else_%{ endif }` inside a template."""

    cond: Expr
    then: tuple[TemplatePart, ...]
    else_: tuple[TemplatePart, ...]
    loc: Location


@record
class TemplateFor(_Node):
    """`%{ for key_var, value_var in collection }body%{ endfor }` inside a template."""

    key_var: str | None
    value_var: str
    collection: Expr
    body: tuple[TemplatePart, ...]
    loc: Location


@record
class Template(_Node):
    """A string template: literal text, interpolations and directives; yields a string."""

    parts: tuple[TemplatePart, ...]
    loc: Location


@record
class TemplateWrap(_Node):
    """A template that is exactly one interpolation: yields the value unconverted."""

    expr: Expr
    loc: Location


@record
class AttrStep(_Node):
    """`.name` in a traversal or after a splat."""

    name: str
    loc: Location


@record
class IndexStep(_Node):
    """`[key]` (or legacy `.0`) in a traversal or after a splat."""

    key: Expr
    loc: Location


Step: TypeAlias = "AttrStep | IndexStep"


@record
class ScopeTraversal(_Node):
    """A variable reference with zero or more attribute/index steps."""

    name: str
    steps: tuple[Step, ...]
    loc: Location


@record
class GetAttr(_Node):
    """`obj.name` where obj is not a variable reference."""

    obj: Expr
    name: str
    loc: Location


@record
class Index(_Node):
    """`obj[key]` where obj is not a variable reference."""

    obj: Expr
    key: Expr
    loc: Location


@record
class FunctionCall(_Node):
    """`name(args...)`; expand_final for a trailing `...`."""

    name: str
    args: tuple[Expr, ...]
    expand_final: bool
    loc: Location
    close_loc: Location | None = field(default=None, compare=False)  # `)`: where HCL reports missing arguments


@record
class Tuple(_Node):
    """`[a, b, c]`."""

    items: tuple[Expr, ...]
    loc: Location


@record
class ObjectItem(_Node):
    """One `key = value` (or `key: value`) of an object constructor."""

    key: Expr
    value: Expr
    loc: Location


@record
class Object(_Node):
    """`{ k = v, ... }`."""

    items: tuple[ObjectItem, ...]
    loc: Location


@record
class Conditional(_Node):
    """`cond ? true_expr : false_expr`."""

    cond: Expr
    true_expr: Expr
    false_expr: Expr
    loc: Location


@record
class BinaryOp(_Node):
    """`left op right`."""

    op: str
    left: Expr
    right: Expr
    loc: Location


@record
class UnaryOp(_Node):
    """`-operand` or `!operand`."""

    op: str
    operand: Expr
    loc: Location


@record
class ForTuple(_Node):
    """`[for key_var, value_var in collection : value if cond]`."""

    key_var: str | None
    value_var: str
    collection: Expr
    value: Expr
    cond: Expr | None
    loc: Location


@record
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


@record
class Splat(_Node):
    """`source[*].steps` (full) or `source.*.attrs` (attribute-only)."""

    source: Expr
    steps: tuple[Step, ...]
    full: bool
    loc: Location


@record
class Parens(_Node):
    """`(expr)`."""

    expr: Expr
    loc: Location


Expr: TypeAlias = (
    "Literal | Template | TemplateWrap | ScopeTraversal | GetAttr | Index | FunctionCall | Tuple | Object"
    " | Conditional | BinaryOp | UnaryOp | ForTuple | ForObject | Splat | Parens"
)
TemplatePart: TypeAlias = "str | Interpolation | TemplateIf | TemplateFor"


@record
class Attribute(_Node):
    """`name = expr` in a body."""

    name: str
    expr: Expr
    loc: Location


@record
class Block(_Node):
    """`type label... { body }`."""

    type: str
    labels: tuple[str, ...]
    body: Body
    loc: Location
    label_locs: tuple[Location, ...] = ()


@record
class Body(_Node):
    """Attributes (unique names, source order) and blocks (source order)."""

    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]
    loc: Location

