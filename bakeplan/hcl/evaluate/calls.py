"""Function calls: arguments counted and converted as HCL does, errors wrapped in its words;
`try`, `can` and `convert`, which take expressions rather than values, are compiled here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc, start_range
from bakeplan.hcl.evaluate.typeexpr import type_constraint
from bakeplan.hcl.functions import SPECIAL, ArgError, CallError, Function, Param, try_message
from bakeplan.hcl.values import DYNAMIC, Value

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


def compile_function_call(compiler: Compiler, expr: ast.FunctionCall) -> Evaluator:
    """`f(a, b...)`: the function is found at call time (user functions resolve lazily)."""
    if expr.name in SPECIAL and not expr.expand_final:
        return _special(compiler, expr)
    args = [compiler.build(arg) for arg in expr.args]
    arg_locs = [start_range(arg) for arg in expr.args]  # HCL points at an argument's StartRange
    expand_loc = expr_loc(expr.args[-1]) if expr.args else expr.loc  # ... at the whole expanding argument
    name, loc, expand = expr.name, expr.loc, expr.expand_final
    close_loc = expr.close_loc or loc

    def call(env: Env) -> Value:
        fn = env.ctx.function(name, loc)
        if not expand:  # HCL counts the arguments before it evaluates them
            _check_arity(fn, len(args), arg_locs, close_loc)
        values = [arg(env) for arg in args]
        locs = arg_locs
        if expand:
            values, locs = _expand_final(values, [*arg_locs[:-1], expand_loc])
        return call_function(fn, values, locs, loc)

    return call


def _special(compiler: Compiler, expr: ast.FunctionCall) -> Evaluator:
    """try(), can() and convert(): their arguments are expressions, not values."""
    args = [compiler.build(arg) for arg in expr.args]
    name, loc = expr.name, expr.loc
    if name == "convert":
        return _convert_call(compiler, expr, args)
    if name == "can" and len(args) != 1:
        count = "Not enough" if not args else "Too many"
        detail = 'Missing value for "expression".' if not args else ""
        expects = f'Function "can" expects{" only" if args else ""} 1 argument(s).'
        failure = error(f"{count} function arguments", f"{expects} {detail}".strip(), loc)

        def bad(env: Env) -> Value:
            raise failure

        return bad

    def attempt(env: Env) -> Value:
        failures: list[tuple[str, str, str | None]] = []
        for arg in args:
            try:
                value = arg(env)
            except BakeFileError as exc:
                failures.append(_diagnostic_parts(exc))
                continue
            return cty.TRUE if name == "can" else value
        if name == "can":
            return cty.FALSE
        if not args:
            raise error("Error in function call", 'Call to function "try" failed: at least one argument is required.', loc)
        raise error("Error in function call", f'Call to function "try" failed: {try_message(failures)}.', loc)

    return attempt


def _convert_call(compiler: Compiler, expr: ast.FunctionCall, args: list[Evaluator]) -> Evaluator:
    loc = expr.loc
    if len(expr.args) != 2:
        failure = error(
            "Not enough function arguments" if len(expr.args) < 2 else "Too many function arguments",
            'Function "convert" expects 2 argument(s).',
            loc,
        )

        def bad(env: Env) -> Value:
            raise failure

        return bad
    want = type_constraint(expr.args[1])
    value_fn = args[0]
    value_loc = expr_loc(expr.args[0])

    def convert(env: Env) -> Value:
        value = value_fn(env)
        try:
            return cty.convert(value, want)
        except cty.ConversionError as exc:
            raise error("Invalid function argument", f'Invalid value for "value" parameter: {exc}.', value_loc) from None

    return convert


def _expand_final(values: list[Value], locs: list[Location]) -> tuple[list[Value], list[Location]]:
    last = values[-1]
    loc = locs[-1]
    t = last.type
    if not isinstance(t, (cty.ListType, cty.TupleType, cty.SetType)) and t is not DYNAMIC:
        raise error(
            "Invalid expanding argument value",
            "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
            loc,
        )
    if last.v is None:
        raise error(
            "Invalid expanding argument value", "The expanding argument (indicated by ...) must not be null.", loc
        )
    spread = list(last.v)
    return values[:-1] + spread, locs[:-1] + [loc] * len(spread)


def call_function(fn: Function, values: list[Value], locs: list[Location], loc: Location) -> Value:
    """Call `fn` as HCL does: count and convert the arguments, then run it, wrapping its errors."""
    _check_arity(fn, len(values), locs, loc)
    args = [_convert_arg(fn, i, value, locs[i]) for i, value in enumerate(values)]
    try:
        return fn.impl(args)
    except ArgError as exc:
        if exc.index < len(args):
            param = _param_at(fn, exc.index)
            raise error(
                "Invalid function argument", f'Invalid value for "{param.name}" parameter: {exc.message}.', locs[exc.index]
            ) from None
        raise error("Error in function call", f'Call to function "{fn.name}" failed: {exc.message}.', loc) from None
    except CallError as exc:
        raise error("Error in function call", f'Call to function "{fn.name}" failed: {exc}.', loc) from None
    except BakeFileError as exc:
        # a user-defined function's body failed: HCL nests the inner diagnostic in the message
        raise error("Error in function call", f'Call to function "{fn.name}" failed: {_inner(exc)}.', loc) from None


def _check_arity(fn: Function, count: int, locs: list[Location], loc: Location) -> None:
    """HCL's errors for too few or too many arguments."""
    params = fn.params
    if count < len(params):
        qual = " at least" if fn.var_param is not None else ""
        raise error(
            "Not enough function arguments",
            f'Function "{fn.name}" expects{qual} {len(params)} argument(s). Missing value for "{params[count].name}".',
            loc,
        )
    if fn.var_param is None and count > len(params):
        raise error(
            "Too many function arguments",
            f'Function "{fn.name}" expects only {len(params)} argument(s).',
            locs[len(params)],
        )


def _diagnostic_parts(exc: BakeFileError) -> tuple[str, str, str | None]:
    summary, _, detail = exc.detail.partition("; ")
    where = exc.location
    subject = None if where is None else f"{where.file}:{where.line}:{where.column}"  # bakeplan's place style
    return summary, detail, subject


def _inner(exc: BakeFileError) -> str:
    if exc.location is None:
        return exc.detail
    where = exc.location  # bakeplan's one place style, also inside a message (HCL: FILE:LINE,COL-COL)
    return f"{where.file}:{where.line}:{where.column}: {exc.detail}"


def _param_at(fn: Function, i: int) -> Param:
    if i < len(fn.params):
        return fn.params[i]
    assert fn.var_param is not None
    return fn.var_param


def _convert_arg(fn: Function, i: int, value: Value, loc: Location) -> Value:
    param = _param_at(fn, i)
    want = param.type
    if value.type is not want and want is not DYNAMIC:
        try:
            value = cty.convert(value, want)
        except cty.ConversionError as exc:
            raise error("Invalid function argument", f'Invalid value for "{param.name}" parameter: {exc}.', loc) from None
    if value.v is None and not param.allow_null:
        raise error(
            "Invalid function argument", f'Invalid value for "{param.name}" parameter: argument must not be null.', loc
        )
    return value
