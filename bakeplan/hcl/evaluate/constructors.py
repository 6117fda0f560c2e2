"""Tuple and object constructors, and the for-expressions that build tuples and objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bakeplan.errors import Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc
from bakeplan.hcl.evaluate.walk import free_variables
from bakeplan.hcl.values import BOOL, STRING, Value

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


def compile_tuple(compiler: Compiler, expr: ast.Tuple) -> Evaluator:
    """`[a, b]`."""
    items = [compiler.build(item) for item in expr.items]

    def tuple_(env: Env) -> Value:
        return cty.tuple_val([item(env) for item in items])

    return tuple_


def compile_object(compiler: Compiler, expr: ast.Object) -> Evaluator:
    """`{ k = v }`: keys as written (bare names are strings), or computed by `(expr)` keys."""
    items = [(_object_key(compiler, item.key, item.value), compiler.build(item.value)) for item in expr.items]
    constant = [_constant_key(item.key) for item in expr.items]
    if all(k is not None for k in constant):
        return _constant_object([str(k) for k in constant], [value for _, value in items])

    def object_(env: Env) -> Value:
        out: dict[str, Value] = {}
        for key, value in items:
            name = key(env)
            out[name] = value(env)
        return cty.object_val(out)

    return object_


def _object_key(compiler: Compiler, key: ast.Expr, value_expr: ast.Expr) -> Callable[[Env], str]:
    if isinstance(key, ast.ScopeTraversal) and key.steps:
        raise error(
            "Ambiguous attribute key",
            "If this expression is intended to be a reference, wrap it in parentheses. If it's instead"
            " intended as a literal name containing periods, wrap it in quotes to create a string literal.",
            key.loc,
        )
    if isinstance(key, ast.ScopeTraversal):
        name = key.name
        return lambda env: name
    if isinstance(key, ast.Literal) and key.kind == "string":
        text = str(key.value)
        return lambda env: text
    fn = compiler.build(key)
    loc = expr_loc(key)
    null_loc = expr_loc(value_expr)  # HCL points a null key's error at the value

    def dynamic_key(env: Env) -> str:
        value = fn(env)
        if value.v is None:
            raise error("Null value as key", "Can't use a null value as a key.", null_loc)
        if value.type is STRING:
            return value.v  # type: ignore[no-any-return]
        try:
            return cty.convert(value, STRING).v  # type: ignore[no-any-return]
        except cty.ConversionError as exc:
            raise error("Incorrect key type", f"Can't use this value as a key: {exc}.", loc) from None

    return dynamic_key


def _constant_key(key: ast.Expr) -> str | None:
    if isinstance(key, ast.ScopeTraversal) and not key.steps:
        return key.name
    if isinstance(key, ast.Literal) and key.kind == "string":
        return str(key.value)
    return None


def _constant_object(keys: list[str], values: list[Evaluator]) -> Evaluator:
    """An object constructor with literal keys: key order and types computed once per shape."""
    order = sorted(set(keys))
    pairs = list(zip(keys, values))
    types: dict[tuple[cty.Type, ...], cty.ObjectType] = {}

    def object_(env: Env) -> Value:
        out: dict[str, Value] = {}
        for key, value in pairs:
            out[key] = value(env)
        ordered = {k: out[k] for k in order}
        shape = tuple([v.type for v in ordered.values()])
        t = types.get(shape)
        if t is None:
            t = types[shape] = cty.ObjectType({k: v.type for k, v in ordered.items()})
        return Value(t, ordered)

    return object_


def for_iteration(
    compiler: Compiler,
    key_var: str | None,
    value_var: str,
    collection: ast.Expr,
    cond: ast.Expr | None,
    loc: Location,
) -> Callable[[Env], list[Env]]:
    """The child environments a for-expression visits, after its `if` condition."""
    coll = compiler.build(collection)
    coll_loc = expr_loc(collection)
    cond_fn = _for_condition(compiler, cond) if cond is not None else None
    loop_vars = {value_var} | ({key_var} if key_var else set())
    # a condition that ignores the loop variables is checked even for an empty collection
    precheck = cond_fn if cond is not None and not loop_vars & set(free_variables(cond, set())) else None

    def iterate(env: Env) -> list[Env]:
        value = coll(env)
        if value.v is None:
            raise error(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                coll_loc,
            )
        if not cty.is_iterable(value.type):
            raise error(
                "Iteration over non-iterable value",
                f"A value of type {cty.friendly_name(value.type)} cannot be used as the collection"
                " in a 'for' expression.",
                coll_loc,
            )
        if precheck is not None:
            precheck(env)
        out: list[Env] = []
        base = env.vars
        for k, v in cty.iter_elements(value):
            names = dict(base)
            if key_var is not None:
                names[key_var] = k
            names[value_var] = v
            child = Env(env.ctx, names)
            if cond_fn is None or cond_fn(child):
                out.append(child)
        return out

    return iterate


def _for_condition(compiler: Compiler, cond: ast.Expr) -> Callable[[Env], bool]:
    fn = compiler.build(cond)
    loc = expr_loc(cond)
    # HCL checks the condition once with unknown loop variables before iterating: a
    # literal null fails there ("Condition is null"), a null from the data in the loop
    null_summary = "Condition is null" if isinstance(cond, ast.Literal) else "Invalid 'for' condition"

    def include(env: Env) -> bool:
        value = fn(env)
        if value.type is BOOL and value.v is not None:
            return value.v  # type: ignore[no-any-return]
        if value.v is None:
            raise error(null_summary, "The value of the 'if' clause must not be null.", loc)
        try:
            return cty.convert(value, BOOL).v  # type: ignore[no-any-return]
        except cty.ConversionError as exc:
            raise error("Invalid 'for' condition", f"The 'if' clause value is invalid: {exc}.", loc) from None

    return include


def compile_for_tuple(compiler: Compiler, expr: ast.ForTuple) -> Evaluator:
    """`[for k, v in coll : value if cond]`."""
    iterate = for_iteration(compiler, expr.key_var, expr.value_var, expr.collection, expr.cond, expr.loc)
    value = compiler.build(expr.value)

    def for_tuple(env: Env) -> Value:
        return cty.tuple_val([value(child) for child in iterate(env)])

    return for_tuple


def compile_for_object(compiler: Compiler, expr: ast.ForObject) -> Evaluator:
    """`{for k, v in coll : key => value if cond}`, with `...` grouping values by key."""
    iterate = for_iteration(compiler, expr.key_var, expr.value_var, expr.collection, expr.cond, expr.loc)
    key_fn = compiler.build(expr.key)
    value_fn = compiler.build(expr.value)
    key_loc = expr_loc(expr.key)
    grouping = expr.grouping

    def for_object(env: Env) -> Value:
        out: dict[str, Value] = {}
        groups: dict[str, list[Value]] = {}
        for child in iterate(env):
            key = _for_key(key_fn(child), key_loc)
            value = value_fn(child)
            if grouping:
                groups.setdefault(key, []).append(value)
            elif key in out:
                raise error("Duplicate object key", _duplicate_key_detail(key), key_loc)
            else:
                out[key] = value
        if grouping:
            return cty.object_val({k: cty.tuple_val(v) for k, v in groups.items()})
        return cty.object_val(out)

    return for_object


def _for_key(key: Value, loc: Location) -> str:
    if key.v is None:
        raise error("Invalid object key", "Key expression in 'for' expression must not produce a null value.", loc)
    if key.type is STRING:
        return key.v  # type: ignore[no-any-return]
    try:
        return cty.convert(key, STRING).v  # type: ignore[no-any-return]
    except cty.ConversionError as exc:
        raise error("Invalid object key", f"The key expression produced an invalid result: {exc}.", loc) from None


def _duplicate_key_detail(key: str) -> str:
    return (
        f'Two different items produced the key "{key}" in this \'for\' expression. If duplicates are expected,'
        " use the ellipsis (...) after the value expression to enable grouping by key."
    )
