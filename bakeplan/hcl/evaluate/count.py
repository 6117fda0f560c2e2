"""How many diagnostics HCL reports for an expression that failed.

bakeplan's evaluator stops at the first error; hclsyntax goes on with an
unknown value in its place and collects every diagnostic of the expression:
each element of a tuple or object, each part of a template, each argument of
a call, each iteration of a for expression, each operand. buildx prints that
count (", and N other diagnostic(s)"), so after a failure the expression is
walked again here, child by child, as hclsyntax's Value methods do:

- a node whose children fail reports theirs and nothing of its own (it only
  sees unknown values);
- a call to an unknown function, or with the wrong number of arguments, is one
  diagnostic: HCL checks that before it evaluates the arguments;
- a conditional reports its condition's diagnostics, or else those of the
  result it selects;
- a for expression reports its collection's, or else those of each iteration
  (key, value) up to the first whose condition fails, and that condition's.
An operand that fails its own conversion beside another one that failed is
not counted (HCL would count it too): rare enough to leave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bakeplan.errors import BakeFileError
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import Env
from bakeplan.hcl.functions import SPECIAL

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


class Counted(BakeFileError):
    """A failure with HCL's count of its diagnostics: `first`, and `count - 1` others named in the message.

    Raised where buildx returns an expression's diagnostics as they are (a
    variable's default, a top-level attribute), so that an expression reading it
    reports that failure, not one of its own.
    """

    def __init__(self, first: BakeFileError, count: int) -> None:
        text = first.detail if count == 1 else f"{first.detail}, and {count - 1} other diagnostic(s)"
        super().__init__(text, first.location, hint=first.hint)
        self.first = first
        self.count = count


def counted(compiler: Compiler, expr: ast.Expr, env: Env, exc: BakeFileError) -> Counted:
    """`exc`, raised evaluating `expr`, with the count of all the expression's diagnostics."""
    if isinstance(exc, Counted):
        return exc
    return Counted(exc, failed(compiler, expr, env))


def diagnostics(compiler: Compiler, expr: ast.Expr, env: Env) -> int:
    """The number of diagnostics HCL reports evaluating `expr` in `env` (0 when it succeeds)."""
    try:
        compiler.evaluate(expr, env)
    except BakeFileError:
        return failed(compiler, expr, env)
    return 0


def failed(compiler: Compiler, expr: ast.Expr, env: Env) -> int:
    """The number of diagnostics of `expr`, known to fail in `env` (at least 1)."""
    counter = _COUNTERS.get(type(expr))
    found = counter(compiler, expr, env) if counter is not None else 0
    return found or 1


def _sum(compiler: Compiler, exprs: Sequence[ast.Expr], env: Env) -> int:
    return sum(diagnostics(compiler, expr, env) for expr in exprs)


def _inner(compiler: Compiler, expr: ast.Parens | ast.TemplateWrap, env: Env) -> int:
    return failed(compiler, expr.expr, env)


def _tuple(compiler: Compiler, expr: ast.Tuple, env: Env) -> int:
    return _sum(compiler, expr.items, env)


def _object(compiler: Compiler, expr: ast.Object, env: Env) -> int:
    return _sum(compiler, [x for item in expr.items for x in (item.key, item.value)], env)


def _binary(compiler: Compiler, expr: ast.BinaryOp, env: Env) -> int:
    return _sum(compiler, (expr.left, expr.right), env)


def _unary(compiler: Compiler, expr: ast.UnaryOp, env: Env) -> int:
    return diagnostics(compiler, expr.operand, env)


def _source(compiler: Compiler, expr: ast.GetAttr | ast.Index | ast.Splat, env: Env) -> int:
    source = expr.source if isinstance(expr, ast.Splat) else expr.obj
    found = diagnostics(compiler, source, env)
    if isinstance(expr, ast.Index):
        found += diagnostics(compiler, expr.key, env)
    return found


def _call(compiler: Compiler, expr: ast.FunctionCall, env: Env) -> int:
    if expr.name in SPECIAL:
        return 1
    try:
        fn = env.ctx.function(expr.name, expr.loc)
    except BakeFileError:
        return 1
    if len(expr.args) < len(fn.params) or (fn.var_param is None and len(expr.args) > len(fn.params)):
        if not expr.expand_final:
            return 1
    return _sum(compiler, expr.args, env)


def _conditional(compiler: Compiler, expr: ast.Conditional, env: Env) -> int:
    found = diagnostics(compiler, expr.cond, env)
    if found:
        return found
    chosen = _truth(compiler, expr.cond, env)
    if chosen is None:
        return 1
    return diagnostics(compiler, expr.true_expr if chosen else expr.false_expr, env)


def _truth(compiler: Compiler, cond: ast.Expr, env: Env) -> bool | None:
    """The condition as a bool; None when it is not one (that is the diagnostic)."""
    try:
        value = cty.convert(compiler.evaluate(cond, env), cty.BOOL)
    except cty.ConversionError:
        return None
    return None if value.v is None else bool(value.v)


def _for(compiler: Compiler, expr: ast.ForTuple | ast.ForObject, env: Env) -> int:
    found = diagnostics(compiler, expr.collection, env)
    if found:
        return found
    body: list[ast.Expr] = [expr.key, expr.value] if isinstance(expr, ast.ForObject) else [expr.value]
    return _iterations(compiler, expr, env, lambda child: _sum(compiler, body, child))


def _iterations(
    compiler: Compiler, expr: ast.ForTuple | ast.ForObject | ast.TemplateFor, env: Env, each: Callable[[Env], int]
) -> int:
    """The diagnostics of every iteration: its condition's, or else its body's."""
    collection = compiler.evaluate(expr.collection, env)
    if collection.v is None or not cty.is_iterable(collection.type):
        return 1
    cond = getattr(expr, "cond", None)
    found = 0
    for key, value in cty.iter_elements(collection):
        names = {expr.value_var: value}
        if expr.key_var is not None:
            names[expr.key_var] = key
        child = env.child(names)
        if cond is not None:
            cond_found = diagnostics(compiler, cond, child)
            if cond_found:  # hcl stops at the first condition that fails
                return found + cond_found
            if not _truth(compiler, cond, child):
                continue
        found += each(child)
    return found


def _template(compiler: Compiler, expr: ast.Template, env: Env) -> int:
    return _parts(compiler, expr.parts, env)


def _parts(compiler: Compiler, parts: Sequence[ast.TemplatePart], env: Env) -> int:
    found = 0
    for part in parts:
        if isinstance(part, ast.Interpolation):
            found += diagnostics(compiler, part.expr, env) or _not_text(compiler, part.expr, env)
        elif isinstance(part, ast.TemplateIf):
            found += _template_if(compiler, part, env)
        elif isinstance(part, ast.TemplateFor):
            found += diagnostics(compiler, part.collection, env) or _iterations(
                compiler, part, env, _parts_of(compiler, part.body)
            )
    return found


def _parts_of(compiler: Compiler, parts: Sequence[ast.TemplatePart]) -> Callable[[Env], int]:
    return lambda env: _parts(compiler, parts, env)


def _not_text(compiler: Compiler, expr: ast.Expr, env: Env) -> int:
    """1 when the interpolated value cannot be part of a string (null, a collection)."""
    try:
        return int(cty.convert(compiler.evaluate(expr, env), cty.STRING).v is None)
    except cty.ConversionError:
        return 1


def _template_if(compiler: Compiler, part: ast.TemplateIf, env: Env) -> int:
    found = diagnostics(compiler, part.cond, env)
    if found:
        return found
    chosen = _truth(compiler, part.cond, env)
    if chosen is None:
        return 1
    return _parts(compiler, part.then if chosen else part.else_, env)


_COUNTERS: dict[type, Callable[[Compiler, Any, Env], int]] = {
    ast.Parens: _inner,
    ast.TemplateWrap: _inner,
    ast.Tuple: _tuple,
    ast.Object: _object,
    ast.BinaryOp: _binary,
    ast.UnaryOp: _unary,
    ast.GetAttr: _source,
    ast.Index: _source,
    ast.Splat: _source,
    ast.FunctionCall: _call,
    ast.Conditional: _conditional,
    ast.ForTuple: _for,
    ast.ForObject: _for,
    ast.Template: _template,
}
