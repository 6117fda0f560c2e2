"""User functions (`function` blocks): each checked as buildx loads it, then called like
the stdlib's, its `result` evaluated with the parameters as local names."""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.bake.hclparser.sources import find_attribute
from bakeplan.bake.hclparser.variables import Variables
from bakeplan.errors import Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import (
    Compiler,
    Env,
    EvalContext,
    error,
    expr_loc,
    free_variables,
    function_calls,
    keyword,
    suggest,
    unknown_function,
)
from bakeplan.hcl.functions import Function, Param
from bakeplan.hcl.values import DYNAMIC, Value


class UserFunctions:
    """The `function` blocks of the bake files, resolved on first use (after the stdlib's names)."""

    def __init__(
        self,
        blocks: dict[str, ast.Block],
        stdlib: Mapping[str, Function],
        compiler: Compiler,
        ctx: EvalContext,
        globals_: Variables,
    ) -> None:
        self.functions = blocks
        self.stdlib = stdlib
        self.compiler = compiler
        self.ctx = ctx
        self.globals = globals_
        self.user_functions: dict[str, Function] = {}
        self.busy_functions: list[str] = []

    def find(self, name: str, loc: Location) -> Function:
        """A stdlib function, else a user `function` block."""
        found = self.stdlib.get(name) or self.user_functions.get(name)
        if found is not None:
            return found
        if name in self.functions:
            return self._resolve_function(name, loc)
        raise unknown_function(name, loc, [*self.stdlib, *self.functions])

    def resolve_all(self) -> None:
        """Check every user function, as hclparser does before evaluating blocks."""
        for name, block in self.functions.items():
            if name not in self.stdlib and name not in self.user_functions:
                self._resolve_function(name, block.loc)

    def _resolve_function(self, name: str, loc: Location) -> Function:
        block = self.functions[name]
        if name in self.busy_functions:
            raise error("Invalid expression", f"function cycle not allowed for {name}", loc)
        self.busy_functions.append(name)
        try:
            function = self._build_function(name, block)
        finally:
            self.busy_functions.pop()
        self.user_functions[name] = function
        return function

    def _build_function(self, name: str, block: ast.Block) -> Function:
        for attribute in block.body.attributes:  # gohcl decodes the block into buildx's struct
            if attribute.name not in _FUNCTION_ATTRIBUTES:
                close = suggest(attribute.name, _FUNCTION_ATTRIBUTES)
                hint = f' Did you mean "{close}"?' if close else ""
                raise error(
                    "Unsupported argument",
                    f'An argument named "{attribute.name}" is not expected here.{hint}',
                    attribute.loc,
                )
        params_attr = find_attribute(block, "params")
        result_attr = find_attribute(block, "result")
        label_loc = block.label_locs[0] if block.label_locs else block.loc
        if result_attr is None:
            raise error("Invalid function", f"empty result not allowed for {name}", label_loc)
        if params_attr is None:
            raise error("Invalid function", f"empty params not allowed for {name}", label_loc)
        params = _param_names(params_attr.expr)
        variadic_attr = find_attribute(block, "variadic_params")
        variadic = None
        if variadic_attr is not None:
            variadic = keyword(variadic_attr.expr)
            if variadic is None:
                raise error(
                    "Invalid param element", "Each parameter name must be an identifier.", expr_loc(variadic_attr.expr)
                )
        locals_ = {*params, *([variadic] if variadic else [])}
        self._check_function_deps(result_attr.expr, locals_)
        return self._make_function(name, params, variadic, result_attr.expr)

    def _check_function_deps(self, expr: ast.Expr, locals_: set[str]) -> None:
        """buildx loads a function's dependencies strictly: unknown names fail even if never called."""
        loc = expr_loc(expr)
        for fname, _ in function_calls(expr):
            if fname in self.stdlib or fname in self.user_functions:
                continue
            if fname not in self.functions:
                raise error("Invalid expression", f'function "{fname}" does not exist: undefined', loc)
            self._resolve_function(fname, loc)  # a cycle is reported at this result expression
        for root in free_variables(expr, locals_):
            if not self.globals.defines(root):
                raise error("Invalid expression", f'variable "{root}" does not exist: undefined', loc)

    def _make_function(self, name: str, params: list[str], variadic: str | None, result: ast.Expr) -> Function:
        body = self.compiler.compile(result)
        ctx = self.ctx
        count = len(params)

        def impl(args: list[Value]) -> Value:
            local = dict(zip(params, args))
            if variadic is not None:
                local[variadic] = cty.tuple_val(args[count:])
            return body(Env(ctx, local))

        var_param = Param(variadic, DYNAMIC) if variadic is not None else None
        return Function(name, tuple(Param(p, DYNAMIC) for p in params), var_param, impl)


_FUNCTION_ATTRIBUTES = ("params", "variadic_params", "result")


def _param_names(expr: ast.Expr) -> list[str]:
    if not isinstance(expr, ast.Tuple):
        raise error("Invalid expression", "A static list expression is required.", expr_loc(expr))
    names: list[str] = []
    for item in expr.items:
        name = keyword(item)
        if name is None:
            raise error("Invalid param element", "Each parameter name must be an identifier.", expr_loc(item))
        names.append(name)
    return names
