"""The compiler: each expression node becomes a Python closure, built once per node.

`Compiler.build` looks the node's type up in `_BUILDERS` and hands the node to
that family's module (traversals, templates, constructors and for-expressions,
operators, function calls); those call `build` again for their child nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakeplan.errors import BakeFileError
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import calls, constructors, operators, templates, traversal
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc
from bakeplan.hcl.values import NUMBER, Value


class Compiler:
    """Compiles AST expressions into closures, once per node (cached by identity)."""

    def __init__(self, block_kinds: frozenset[str] = frozenset()) -> None:
        self._cache: dict[int, tuple[object, Evaluator]] = {}
        # root names that refer to blocks (`target.NAME.ATTR`), resolved lazily per attribute
        self.block_kinds = block_kinds
        # set once any compiled expression refers to a block: callers then need cycle tracking
        self.refers_to_blocks = False

    def compile(self, expr: ast.Expr) -> Evaluator:
        """The closure evaluating `expr` in an Env."""
        key = id(expr)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is expr:
            return hit[1]
        fn = self.build(expr)
        self._cache[key] = (expr, fn)
        return fn

    def evaluate(self, expr: ast.Expr, env: Env) -> Value:
        """Evaluate `expr` in `env`."""
        return self.compile(expr)(env)

    def build(self, expr: ast.Expr) -> Evaluator:
        """Compile a node without caching (each child node is compiled once, by its parent)."""
        kind = type(expr)
        builder = _BUILDERS.get(kind)
        if builder is None:
            raise BakeFileError(f"unsupported expression {kind.__name__}", expr_loc(expr))
        return builder(self, expr)


def _compile_literal(compiler: Compiler, expr: ast.Literal) -> Evaluator:
    value = literal_value(expr)
    return lambda env: value


def _compile_inner(compiler: Compiler, expr: ast.Parens | ast.TemplateWrap) -> Evaluator:
    """`(expr)` and a template that is exactly `"${expr}"`: the inner expression's value, unconverted."""
    return compiler.build(expr.expr)


def literal_value(expr: ast.Literal) -> Value:
    """The constant value of a literal."""
    kind = expr.kind
    if kind == "string":
        return cty.string_val(str(expr.value))
    if kind == "number":
        payload = cty.parse_number(str(expr.value))
        if payload is None:
            raise error("Invalid number literal", f"{expr.value!r} is not a number.", expr.loc)
        return Value(NUMBER, payload)
    if kind == "bool":
        return cty.TRUE if expr.value else cty.FALSE
    return cty.NULL


_BUILDERS: dict[type, Callable[[Compiler, Any], Evaluator]] = {
    ast.Literal: _compile_literal,
    ast.Parens: _compile_inner,
    ast.TemplateWrap: _compile_inner,
    ast.ScopeTraversal: traversal.compile_scope_traversal,
    ast.GetAttr: traversal.compile_get_attr,
    ast.Index: traversal.compile_index,
    ast.Splat: traversal.compile_splat,
    ast.Template: templates.compile_template,
    ast.Tuple: constructors.compile_tuple,
    ast.Object: constructors.compile_object,
    ast.ForTuple: constructors.compile_for_tuple,
    ast.ForObject: constructors.compile_for_object,
    ast.Conditional: operators.compile_conditional,
    ast.BinaryOp: operators.compile_binary_op,
    ast.UnaryOp: operators.compile_unary_op,
    ast.FunctionCall: calls.compile_function_call,
}
