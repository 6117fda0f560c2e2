"""Conditionals and operators, with HCL's typing: both results of `c ? a : b` unify,
and a deciding operand of `||` / `&&` hides an error in the other one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc
from bakeplan.hcl.values import BOOL, DYNAMIC, NUMBER, STRING, Value

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


def _binary_arith(op: Callable[[cty.Number, cty.Number], cty.Number]) -> Callable[[Value, Value], Value]:
    def run(lhs: Value, rhs: Value) -> Value:
        return Value(NUMBER, op(lhs.v, rhs.v))

    return run


def _compare(test: Callable[[int], bool]) -> Callable[[Value, Value], Value]:
    def run(lhs: Value, rhs: Value) -> Value:
        return cty.TRUE if test(cty.num_cmp(lhs.v, rhs.v)) else cty.FALSE

    return run


_ARITH: dict[str, Callable[[Value, Value], Value]] = {
    "+": _binary_arith(cty.num_add),
    "-": _binary_arith(cty.num_sub),
    "*": _binary_arith(cty.num_mul),
    "/": _binary_arith(cty.num_div),
    "%": _binary_arith(cty.num_mod),
    "<": _compare(lambda c: c < 0),
    ">": _compare(lambda c: c > 0),
    "<=": _compare(lambda c: c <= 0),
    ">=": _compare(lambda c: c >= 0),
}


def condition(compiler: Compiler, expr: ast.Expr) -> Callable[[Env], bool]:
    """A condition as a Python bool, with HCL's errors for null and non-bool values."""
    fn = compiler.build(expr)
    loc = expr_loc(expr)

    def cond(env: Env) -> bool:
        value = fn(env)
        if value.type is BOOL and value.v is not None:
            return value.v  # type: ignore[no-any-return]
        if value.v is None:
            raise error(
                "Null condition", "The condition value is null. Conditions must either be true or false.", loc
            )
        try:
            return cty.convert(value, BOOL).v  # type: ignore[no-any-return]
        except cty.ConversionError:
            raise error("Incorrect condition type", "The condition expression must be of type bool.", loc) from None

    return cond


def compile_conditional(compiler: Compiler, expr: ast.Conditional) -> Evaluator:
    """`cond ? a : b`: both results unify to one type (see the package docstring)."""
    cond = condition(compiler, expr.cond)
    yes = compiler.build(expr.true_expr)
    no = compiler.build(expr.false_expr)
    yes_loc = expr_loc(expr.true_expr)
    no_loc = expr_loc(expr.false_expr)
    static = _static_type(expr.true_expr), _static_type(expr.false_expr)
    if static[0] is not None and static[0] == static[1]:
        # both results always have this one primitive type: nothing to unify, and an
        # error in the result not taken would be dropped anyway, so skip evaluating it
        def same_type(env: Env) -> Value:
            return yes(env) if cond(env) else no(env)

        return same_type

    def conditional(env: Env) -> Value:
        chosen_true = cond(env)
        chosen = (yes if chosen_true else no)(env)
        try:
            other = (no if chosen_true else yes)(env)
        except BakeFileError:
            return chosen  # HCL: an erroring result has an unknown type, so nothing to unify
        if chosen_true:
            return unify_result(chosen, other, True, yes_loc)
        return unify_result(other, chosen, False, no_loc)

    return conditional


def compile_binary_op(compiler: Compiler, expr: ast.BinaryOp) -> Evaluator:
    """`a op b`: logical, equality, arithmetic and comparison operators."""
    left = compiler.build(expr.left)
    right = compiler.build(expr.right)
    op = expr.op
    if op in ("||", "&&"):
        return _logical(op, left, right, expr)
    if op in ("==", "!="):
        negate = op == "!="

        def equality(env: Env) -> Value:
            result = cty.equals(left(env), right(env))
            return cty.TRUE if result != negate else cty.FALSE

        return equality
    return _arithmetic(_ARITH[op], left, right, expr)


def compile_unary_op(compiler: Compiler, expr: ast.UnaryOp) -> Evaluator:
    """`!a` and `-a`."""
    operand = compiler.build(expr.operand)
    loc = expr_loc(expr.operand)
    want = BOOL if expr.op == "!" else NUMBER
    op_loc = expr.loc

    def unary(env: Env) -> Value:
        value = operand(env)
        try:
            value = cty.convert(value, want)
        except cty.ConversionError as exc:
            raise error("Invalid operand", f"Unsuitable value for unary operand: {exc}.", loc) from None
        if value.v is None:
            raise error("Operation failed", "Error during operation: argument must not be null.", op_loc)
        if want is BOOL:
            return cty.FALSE if value.v else cty.TRUE
        return Value(NUMBER, cty.num_neg(value.v))

    return unary


def _static_type(expr: ast.Expr) -> cty.Type | None:
    """The primitive type an expression always has, when the syntax alone tells (templates, literals)."""
    if isinstance(expr, ast.Template):
        return STRING
    if isinstance(expr, ast.Literal):
        return {"string": STRING, "number": NUMBER, "bool": BOOL}.get(expr.kind)
    if isinstance(expr, ast.Parens):
        return _static_type(expr.expr)
    return None


def unify_result(true_value: Value, false_value: Value, selected_true: bool, loc: Location) -> Value:
    """HCL's conditional typing: both results unify to one type; the selected one converts to it."""
    tt, ft = true_value.type, false_value.type
    if tt == ft:
        return true_value if selected_true else false_value
    if true_value.v is None and tt is DYNAMIC:
        result_type: cty.Type | None = ft
    elif false_value.v is None and ft is DYNAMIC:
        result_type = tt
    else:
        result_type = cty.unify([tt, ft])
    if result_type is None:
        raise error(
            "Inconsistent conditional result types",
            f"The true and false result expressions must have consistent types. {describe_mismatch(tt, ft)}.",
            loc,
        )
    chosen = true_value if selected_true else false_value
    try:
        return cty.convert(chosen, result_type)
    except cty.ConversionError as exc:
        which = "true" if selected_true else "false"
        raise error(
            "Inconsistent conditional result types", f"The {which} result value has the wrong type: {exc}.", loc
        ) from None


def describe_mismatch(tt: cty.Type, ft: cty.Type) -> str:
    """hclsyntax describeConditionalTypeMismatch."""
    if isinstance(tt, cty.ObjectType) and isinstance(ft, cty.ObjectType):
        for name in tt.attrs:
            if name not in ft.attrs:
                return f"The 'true' value includes object attribute \"{name}\", which is absent in the 'false' value"
            if tt.attrs[name] != ft.attrs[name]:
                inner = describe_mismatch(tt.attrs[name], ft.attrs[name])
                return f'Type mismatch for object attribute "{name}": {inner}'
        for name in ft.attrs:
            if name not in tt.attrs:
                return f"The 'false' value includes object attribute \"{name}\", which is absent in the 'true' value"
    elif isinstance(tt, cty.TupleType) and isinstance(ft, cty.TupleType):
        if len(tt.elems) != len(ft.elems):
            return f"The 'true' tuple has length {len(tt.elems)}, but the 'false' tuple has length {len(ft.elems)}"
        for i, (a, b) in enumerate(zip(tt.elems, ft.elems)):
            if a != b:
                return f"Type mismatch for tuple element {i}: {describe_mismatch(a, b)}"
    tn, fn = cty.friendly_name(tt), cty.friendly_name(ft)
    if tn == fn:
        return (
            "At least one deeply-nested attribute or element is not compatible across both the 'true'"
            " and the 'false' value"
        )
    return f"The 'true' value is {tn}, but the 'false' value is {fn}"


def _logical(op: str, left: Evaluator, right: Evaluator, expr: ast.BinaryOp) -> Evaluator:
    """`||` / `&&`: both sides evaluated; a deciding known operand hides the other's error."""
    decisive = op == "||"  # the operand value that decides the result
    left_loc, right_loc = expr_loc(expr.left), expr_loc(expr.right)

    def logical(env: Env) -> Value:
        lhs, lerr = _attempt(left, env)
        rhs, rerr = _attempt(right, env)
        lhs = _operand(lhs, BOOL, "left", left_loc)
        rhs = _operand(rhs, BOOL, "right", right_loc)
        if lhs is not None and lhs.v is decisive:
            return cty.TRUE if decisive else cty.FALSE
        if rhs is not None and rhs.v is decisive:
            return cty.TRUE if decisive else cty.FALSE
        lhs, rhs = _both(lhs, lerr, rhs, rerr, expr.loc)
        return cty.bool_val(bool(lhs.v or rhs.v) if decisive else bool(lhs.v and rhs.v))

    return logical


def _attempt(fn: Evaluator, env: Env) -> tuple[Value | None, BakeFileError | None]:
    try:
        return fn(env), None
    except BakeFileError as exc:
        return None, exc


def _operand(value: Value | None, want: cty.Type, side: str, loc: Location) -> Value | None:
    if value is None or value.type is want:
        return value
    try:
        return cty.convert(value, want)
    except cty.ConversionError as exc:
        raise error("Invalid operand", f"Unsuitable value for {side} operand: {exc}.", loc) from None


def _arithmetic(run: Callable[[Value, Value], Value], left: Evaluator, right: Evaluator, expr: ast.BinaryOp) -> Evaluator:
    """Numeric operators: both operands convert to number; HCL reports conversion errors first."""
    left_loc, right_loc = expr_loc(expr.left), expr_loc(expr.right)
    loc = expr.loc

    def arithmetic(env: Env) -> Value:
        try:
            lhs = left(env)
            rhs = right(env)
        except BakeFileError:
            return _arithmetic_slow(run, left, right, env, left_loc, right_loc, loc)
        if lhs.type is not NUMBER or rhs.type is not NUMBER or lhs.v is None or rhs.v is None:
            return _arithmetic_slow(run, left, right, env, left_loc, right_loc, loc)
        try:
            return run(lhs, rhs)
        except ArithmeticError as exc:
            raise error("Operation failed", f"Error during operation: {exc}.", loc) from None

    return arithmetic


def _arithmetic_slow(
    run: Callable[[Value, Value], Value],
    left: Evaluator,
    right: Evaluator,
    env: Env,
    left_loc: Location,
    right_loc: Location,
    loc: Location,
) -> Value:
    lhs, lerr = _attempt(left, env)
    rhs, rerr = _attempt(right, env)
    lhs = _operand(lhs, NUMBER, "left", left_loc)
    rhs = _operand(rhs, NUMBER, "right", right_loc)
    lhs, rhs = _both(lhs, lerr, rhs, rerr, loc)
    try:
        return run(lhs, rhs)
    except ArithmeticError as exc:
        raise error("Operation failed", f"Error during operation: {exc}.", loc) from None


def _both(
    lhs: Value | None, lerr: BakeFileError | None, rhs: Value | None, rerr: BakeFileError | None, loc: Location
) -> tuple[Value, Value]:
    """Both operands of a binary operator, or the first operand's failure, then the second's, then a null's."""
    if lerr is not None:
        raise lerr
    if rerr is not None:
        raise rerr
    assert lhs is not None and rhs is not None
    if lhs.v is None or rhs.v is None:
        raise error("Operation failed", "Error during operation: argument must not be null.", loc)
    return lhs, rhs
