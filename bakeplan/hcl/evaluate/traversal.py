"""Traversals (hcl.GetAttr, hcl.Index): `a.b[c]`, `target.NAME.ATTR` and splats, with HCL's errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc, local_suggestion
from bakeplan.hcl.values import DYNAMIC, NUMBER, STRING, Value

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


def compile_scope_traversal(compiler: Compiler, expr: ast.ScopeTraversal) -> Evaluator:
    """A name and its steps: a local name, else a global; `target.` names go to the context's blocks."""
    name, loc = expr.name, expr.loc

    def root(env: Env) -> Value:
        found = env.vars.get(name)
        if found is not None:
            return found
        try:  # inline: the hot path of every global read
            return env.ctx.lookup(name, loc)
        except BakeFileError as exc:
            raise local_suggestion(exc, env, name, loc) from None

    if name in compiler.block_kinds:
        return _block_reference(compiler, expr, root)
    if not expr.steps:
        return root
    return traverse(compiler, root, expr.steps)


def _block_reference(compiler: Compiler, expr: ast.ScopeTraversal, local: Evaluator) -> Evaluator:
    """`target.NAME[.ATTR]...`: ask the context for just that attribute (buildx resolves lazily)."""
    kind, steps, loc = expr.name, expr.steps, expr.loc
    compiler.refers_to_blocks = True
    if not steps or not isinstance(steps[0], ast.AttrStep):
        detail = f"cannot access {kind} as a variable" if not steps else f"cannot traverse {kind} without attribute"
        failure = error("Invalid expression", detail, loc)

        def invalid(env: Env) -> Value:
            if kind in env.vars:
                return local(env)
            raise failure

        return traverse(compiler, invalid, steps)
    block = steps[0].name
    attr = steps[1].name if len(steps) > 1 and isinstance(steps[1], ast.AttrStep) else None
    rest = steps[2:] if attr is not None else steps[1:]
    shadowed = traverse(compiler, local, steps)
    at = tuple(step.loc for step in steps[:2])

    def reference(env: Env) -> Value:
        return env.ctx.block_value(kind, block, attr, loc, at)

    resolved = traverse(compiler, reference, rest)

    def block_ref(env: Env) -> Value:
        if kind in env.vars:
            return shadowed(env)
        return resolved(env)

    return block_ref


def traverse(compiler: Compiler, source: Evaluator, steps: Sequence[ast.AttrStep | ast.IndexStep]) -> Evaluator:
    """`source` followed by attribute and index steps."""
    fn = source
    for step in steps:
        fn = _step(compiler, fn, step)
    return fn


def _step(compiler: Compiler, source: Evaluator, step: ast.AttrStep | ast.IndexStep) -> Evaluator:
    loc = step.loc
    if isinstance(step, ast.AttrStep):
        name = step.name

        def attr(env: Env) -> Value:
            return get_attr(source(env), name, loc)

        return attr
    key_fn = compiler.build(step.key)

    def item(env: Env) -> Value:
        coll = source(env)
        return index(coll, key_fn(env), loc)

    return item


def compile_get_attr(compiler: Compiler, expr: ast.GetAttr) -> Evaluator:
    """`expr.name` after a non-name expression, e.g. `f(x).a`."""
    return _step(compiler, compiler.build(expr.obj), ast.AttrStep(expr.name, expr.loc))


def compile_index(compiler: Compiler, expr: ast.Index) -> Evaluator:
    """`expr[key]` after a non-name expression."""
    return _step(compiler, compiler.build(expr.obj), ast.IndexStep(expr.key, expr.loc))


def compile_splat(compiler: Compiler, expr: ast.Splat) -> Evaluator:
    """`list[*].a`: the steps applied to every element (a non-list value counts as one element, null as none)."""
    source = compiler.build(expr.source)
    source_loc = expr_loc(expr.source)

    def item(env: Env) -> Value:
        return env.vars["\x00splat"]

    each = traverse(compiler, item, expr.steps)

    def splat(env: Env) -> Value:
        value = source(env)
        t = value.type
        sequence = isinstance(t, (cty.ListType, cty.TupleType, cty.SetType))
        if value.v is None:
            if not sequence:
                return cty.EMPTY_TUPLE
            raise error(
                "Splat of null value",
                "Splat expressions (with the * symbol) cannot be applied to null sequences.",
                source_loc,
            )
        elements = value.v if sequence else (value,)
        results = [each(env.child({"\x00splat": element})) for element in elements]
        if isinstance(t, (cty.ListType, cty.SetType)):
            return _splat_list(results, t, expr)
        return cty.tuple_val(results)

    return splat


def _splat_list(results: list[Value], t: cty.Type, expr: ast.Splat) -> Value:
    if not results:
        return cty.Value(cty.ListType(DYNAMIC), ())
    first = results[0].type
    if any(r.type != first for r in results):
        raise error(
            "Invalid nested splat expressions",
            "The second level of splat expression produced elements of different types, so it isn't possible"
            " to construct a valid list to represent the top-level result.\n\nConsider using a for expression"
            " instead, to produce a tuple-typed result which can therefore have non-homogenous element types.",
            expr.loc,
        )
    return cty.list_val(results, first)



# --------------------------------------------------------------------------
# Traversal steps: hcl.GetAttr and hcl.Index


def get_attr(obj: Value, name: str, loc: Location) -> Value:
    """`obj.name` with HCL's errors."""
    t = obj.type
    if obj.v is None:
        raise error(
            "Attempt to get attribute from null value", "This value is null, so it does not have any attributes.", loc
        )
    if isinstance(t, cty.ObjectType):
        found = obj.v.get(name)
        if found is None:
            raise error("Unsupported attribute", f'This object does not have an attribute named "{name}".', loc)
        return found  # type: ignore[no-any-return]
    if isinstance(t, cty.MapType):
        found = obj.v.get(name)
        if found is None:
            raise error("Missing map element", f'This map does not have an element with the key "{name}".', loc)
        return found  # type: ignore[no-any-return]
    raise error("Unsupported attribute", _no_attributes_detail(t, name), loc)


def _no_attributes_detail(t: cty.Type, name: str) -> str:
    if isinstance(t, cty.ListType) and isinstance(t.elem, cty.ObjectType):
        if name in t.elem.attrs:
            return (
                "Can't access attributes on a list of objects. Did you mean to access attribute"
                f' "{name}" for a specific element of the list, or across all elements of the list?'
            )
        return (
            "Can't access attributes on a list of objects. Did you mean to access an attribute"
            " for a specific element of the list, or across all elements of the list?"
        )
    if isinstance(t, cty.SetType) and isinstance(t.elem, cty.ObjectType):
        return (
            "Can't access attributes on a set of objects. Did you mean to access an attribute"
            " across all elements of the set?"
        )
    if t.is_primitive():
        return f"Can't access attributes on a primitive-typed value ({cty.friendly_name(t)})."
    return "This value does not have any attributes."


_NO_ELEMENT = "The given key does not identify an element in this collection value"


def index(coll: Value, key: Value, loc: Location) -> Value:
    """`coll[key]` with HCL's errors."""
    if coll.v is None:
        raise error("Attempt to index null value", "This value is null, so it does not have any indices.", loc)
    if key.v is None:
        raise error("Invalid index", "Can't use a null value as an indexing key.", loc)
    t = coll.type
    if isinstance(t, (cty.ListType, cty.TupleType)):
        return _index_sequence(coll, key, loc)
    if isinstance(t, (cty.MapType, cty.ObjectType)):
        was_number = key.type is NUMBER
        name = _convert_key(key, STRING, loc).v
        found = coll.v.get(name)
        if found is None:
            suffix = ""
            if was_number and isinstance(t, cty.ObjectType):
                suffix = " An object only supports looking up attributes by name, not by numeric index."
            raise error("Invalid index", f"{_NO_ELEMENT}.{suffix}", loc)
        return found  # type: ignore[no-any-return]
    if isinstance(t, cty.SetType):
        raise error(
            "Invalid index",
            "Elements of a set are identified only by their value and don't have any separate index or key"
            " to select with, so it's only possible to perform operations across all elements of the set.",
            loc,
        )
    raise error("Invalid index", "This value does not have any indices.", loc)


def _convert_key(key: Value, want: cty.Type, loc: Location) -> Value:
    try:
        return cty.convert(key, want)
    except cty.ConversionError as exc:
        raise error("Invalid index", f"{_NO_ELEMENT}: {exc}.", loc) from None


def _index_sequence(coll: Value, key: Value, loc: Location) -> Value:
    number = _convert_key(key, NUMBER, loc).v
    items = coll.v
    if type(number) is int and 0 <= number < len(items):
        return items[number]  # type: ignore[no-any-return]
    if not cty.is_integer(number):
        reason = "indexing a sequence requires a whole number, but the given index has a fractional part"
    elif cty.num_cmp(number, 0) < 0:
        reason = "a negative number is not a valid index for a sequence"
    elif not items:
        reason = "the collection has no elements"
    elif cty.num_cmp(number, len(items)) == 0:
        reason = "the given index is greater than or equal to the length of the collection"
    elif cty.num_cmp(number, len(items)) > 0:  # buildx words only the index just past the end (checked live)
        raise error("Invalid index", f"{_NO_ELEMENT}.", loc)
    else:
        return items[int(number)]  # type: ignore[no-any-return]
    raise error("Invalid index", f"{_NO_ELEMENT}: {reason}.", loc)
