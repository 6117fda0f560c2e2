"""Evaluation of HCL expressions (bakeplan's AST from `syntax.py`) to cty-like values.

Each expression node is compiled once into a Python closure (`Compiler.compile`);
evaluating is then calling the closure with an `Env`. A matrix of 6,400
combinations re-runs the same closures 6,400 times without walking the AST
again, which keeps the hot path to plain function calls and dict lookups.

Semantics follow hashicorp/hcl v2 `hclsyntax` as buildx uses it:

- Conditionals evaluate both results (HCL needs both types to unify them), but
  errors of the result that is not selected are dropped: `true ? 1 : nope` is 1.
- `||` and `&&` evaluate both operands, and a known deciding operand wins over
  an error in the other one: `true || nope` is true, `false || nope` fails.
  When the syntax alone shows both results have one primitive type (templates,
  literals), the result not selected is skipped: it could change nothing.
- Templates convert each interpolation to a string (null is an error); a
  template that is exactly `"${x}"` returns x's value unconverted.
- `try`, `can` and `convert` take expressions, not values: the compiler
  implements them (the stdlib table in `functions.py` has the rest).
- A for-expression's `if` that ignores the loop variables is checked before
  iterating, as HCL's pass with unknown values does (so `[for x in [] : x if "s"]`
  fails like in buildx).
- Errors are `BakeFileError("Summary; Detail", location)` with HCL's own summary
  and detail text, located where HCL points (a variable's name, an argument's
  start, an operand...).

Scopes: `Env.vars` holds the local names (matrix values, for-expression and
function parameters); names not found there come from `Env.ctx`, an `EvalContext`
that resolves globals (variables, top-level attributes, `target`, `group`) lazily
and knows the functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import syntax as ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.functions import SPECIAL, ArgError, CallError, Function, Param, try_message
from bakeplan.hcl.values import BOOL, DYNAMIC, NUMBER, STRING, Value

Evaluator = Callable[["Env"], Value]


class EvalContext(Protocol):
    """What expressions see beyond their local names: global values and functions."""

    def lookup(self, name: str, loc: Location) -> Value:
        """The global named `name`; raises BakeFileError ("Unknown variable") when there is none."""
        ...

    def function(self, name: str, loc: Location) -> Function:
        """The function named `name`; raises BakeFileError ("Call to unknown function") when there is none."""
        ...

    def block_value(self, kind: str, name: str, attr: str | None, loc: Location) -> Value:
        """`target.NAME.ATTR` (or the whole `target.NAME` when attr is None) for a block kind."""
        ...


class Env:
    """An evaluation environment: local names over a global context."""

    __slots__ = ("vars", "ctx")

    def __init__(self, ctx: EvalContext, vars: dict[str, Value] | None = None) -> None:  # noqa: A002
        self.ctx = ctx
        self.vars: dict[str, Value] = vars if vars is not None else {}

    def child(self, names: Mapping[str, Value]) -> Env:
        """A new environment with `names` added to (or shadowing) the local names."""
        merged = dict(self.vars)
        merged.update(names)
        return Env(self.ctx, merged)


def error(summary: str, detail: str, loc: Location | None, hint: str | None = None) -> BakeFileError:
    """An evaluation error in HCL's `Summary; Detail` form."""
    return BakeFileError(f"{summary}; {detail}", loc, hint=hint)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """HCL's "Did you mean" suggestion: the first candidate within Levenshtein distance 2."""
    for candidate in candidates:
        if _levenshtein(name, candidate) < 3:
            return candidate
    return ""


def _levenshtein(a: str, b: str) -> int:
    if abs(len(a) - len(b)) > 2:
        return 3
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def unknown_variable(name: str, loc: Location, candidates: Iterable[str]) -> BakeFileError:
    """HCL's "Unknown variable" error, with a suggestion when a close name exists."""
    hint = suggest(name, candidates)
    extra = f' Did you mean "{hint}"?' if hint else ""
    return error(
        "Unknown variable",
        f'There is no variable named "{name}".{extra}',
        loc,
        hint=f'Declare it (variable "{name}" {{ default = ... }}) or fix the name.',
    )


def unknown_function(name: str, loc: Location, candidates: Iterable[str]) -> BakeFileError:
    """HCL's "Call to unknown function" error, with a suggestion when a close name exists."""
    hint = suggest(name, candidates)
    extra = f' Did you mean "{hint}"?' if hint else ""
    return error(
        "Call to unknown function",
        f'There is no function named "{name}".{extra}',
        loc,
        hint="Bake has its own function list (docs/bake-stdlib.md); define others with a function block.",
    )


# --------------------------------------------------------------------------
# Conversions used by operators and templates (fast paths for the common types)


def to_text(value: Value, loc: Location, null_detail: str, conv_detail: str) -> str:
    """A value as template text: strings as is, numbers formatted, bools as words."""
    t = value.type
    v = value.v
    if v is None:
        raise error("Invalid template interpolation value", null_detail, loc)
    if t is STRING:
        return v  # type: ignore[no-any-return]
    if t is NUMBER:
        return cty.format_number(v)
    if t is BOOL:
        return "true" if v else "false"
    try:
        return cty.convert(value, STRING).v  # type: ignore[no-any-return]
    except cty.ConversionError as exc:
        raise error("Invalid template interpolation value", conv_detail.format(exc), loc) from None


def expr_loc(expr: ast.Expr) -> Location:
    """Where an expression starts."""
    return expr.loc


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
    elif cty.num_cmp(number, len(items)) >= 0:
        reason = "the given index is greater than or equal to the length of the collection"
    else:
        return items[int(number)]  # type: ignore[no-any-return]
    raise error("Invalid index", f"{_NO_ELEMENT}: {reason}.", loc)


# --------------------------------------------------------------------------
# Operators


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


# --------------------------------------------------------------------------
# The compiler


class Compiler:
    """Compiles AST expressions into closures, once per node (cached by identity)."""

    def __init__(self, block_kinds: frozenset[str] = frozenset()) -> None:
        self._cache: dict[int, tuple[object, Evaluator]] = {}
        self._builders: dict[type, Callable[[Any], Evaluator]] = {}
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
        fn = self._build(expr)
        self._cache[key] = (expr, fn)
        return fn

    def evaluate(self, expr: ast.Expr, env: Env) -> Value:
        """Evaluate `expr` in `env`."""
        return self.compile(expr)(env)

    def _build(self, expr: ast.Expr) -> Evaluator:
        """Compile a node without caching (each child node is compiled once, by its parent)."""
        kind = type(expr)
        builder = self._builders.get(kind)
        if builder is None:
            builder = getattr(self, "_c_" + kind.__name__, None)
            if builder is None:
                raise BakeFileError(f"unsupported expression {kind.__name__}", expr_loc(expr))
            self._builders[kind] = builder
        return builder(expr)

    # -- leaves

    def _c_Literal(self, expr: ast.Literal) -> Evaluator:
        value = literal_value(expr)
        return lambda env: value

    def _c_Parens(self, expr: ast.Parens) -> Evaluator:
        return self._build(expr.expr)

    def _c_TemplateWrap(self, expr: ast.TemplateWrap) -> Evaluator:
        return self._build(expr.expr)

    def _c_ScopeTraversal(self, expr: ast.ScopeTraversal) -> Evaluator:
        name, loc = expr.name, expr.loc

        def root(env: Env) -> Value:
            found = env.vars.get(name)
            if found is not None:
                return found
            return env.ctx.lookup(name, loc)

        if name in self.block_kinds:
            return self._block_reference(expr, root)
        if not expr.steps:
            return root
        return self._steps(root, expr.steps)

    def _block_reference(self, expr: ast.ScopeTraversal, local: Evaluator) -> Evaluator:
        """`target.NAME[.ATTR]...`: ask the context for just that attribute (buildx resolves lazily)."""
        kind, steps, loc = expr.name, expr.steps, expr.loc
        self.refers_to_blocks = True
        if not steps or not isinstance(steps[0], ast.AttrStep):
            detail = f"cannot access {kind} as a variable" if not steps else f"cannot traverse {kind} without attribute"
            failure = error("Invalid expression", detail, loc)

            def invalid(env: Env) -> Value:
                if kind in env.vars:
                    return local(env)
                raise failure

            return self._steps(invalid, steps)
        block = steps[0].name
        attr = steps[1].name if len(steps) > 1 and isinstance(steps[1], ast.AttrStep) else None
        rest = steps[2:] if attr is not None else steps[1:]
        shadowed = self._steps(local, steps)

        def reference(env: Env) -> Value:
            return env.ctx.block_value(kind, block, attr, loc)

        resolved = self._steps(reference, rest)

        def block_ref(env: Env) -> Value:
            if kind in env.vars:
                return shadowed(env)
            return resolved(env)

        return block_ref

    def _steps(self, source: Evaluator, steps: Sequence[ast.AttrStep | ast.IndexStep]) -> Evaluator:
        fn = source
        for step in steps:
            fn = self._step(fn, step)
        return fn

    def _step(self, source: Evaluator, step: ast.AttrStep | ast.IndexStep) -> Evaluator:
        loc = step.loc
        if isinstance(step, ast.AttrStep):
            name = step.name

            def attr(env: Env) -> Value:
                return get_attr(source(env), name, loc)

            return attr
        key_fn = self._build(step.key)

        def item(env: Env) -> Value:
            coll = source(env)
            return index(coll, key_fn(env), loc)

        return item

    def _c_GetAttr(self, expr: ast.GetAttr) -> Evaluator:
        return self._step(self._build(expr.obj), ast.AttrStep(expr.name, expr.loc))

    def _c_Index(self, expr: ast.Index) -> Evaluator:
        return self._step(self._build(expr.obj), ast.IndexStep(expr.key, expr.loc))

    # -- templates

    def _c_Template(self, expr: ast.Template) -> Evaluator:
        render = self._template_text(expr.parts)
        string_val = cty.string_val

        def template(env: Env) -> Value:
            return string_val(render(env))

        return template

    def _template_text(self, parts: Sequence[ast.TemplatePart]) -> Callable[[Env], str]:
        """One closure rendering all parts: constants inline, plain variables looked up inline."""
        program: list[tuple[int, Any, Location | None]] = []
        for part in parts:
            if isinstance(part, str):
                program.append((0, part, None))
            elif isinstance(part, ast.Interpolation):
                inner = part.expr
                if isinstance(inner, ast.ScopeTraversal) and not inner.steps and inner.name not in self.block_kinds:
                    program.append((1, inner.name, inner.loc))
                else:
                    program.append((2, self._build(inner), expr_loc(inner)))
            elif isinstance(part, ast.TemplateIf):
                program.append((3, self._template_if(part), None))
            else:
                program.append((3, self._template_for(part), None))
        steps = tuple(program)
        null_detail = "The expression result is null. Cannot include a null value in a string template."
        conv_detail = "Cannot include the given value in a string template: {}."

        def render(env: Env) -> str:
            out: list[str] = []
            append = out.append
            local = env.vars
            for code, payload, loc in steps:
                if code == 0:
                    append(payload)
                    continue
                if code == 1:
                    value = local.get(payload)
                    if value is None:
                        value = env.ctx.lookup(payload, loc)  # type: ignore[arg-type]
                elif code == 2:
                    value = payload(env)
                else:
                    append(payload(env))
                    continue
                if value.type is STRING and value.v is not None:
                    append(value.v)
                else:
                    append(to_text(value, loc, null_detail, conv_detail))  # type: ignore[arg-type]
            return "".join(out)

        return render

    def _template_if(self, part: ast.TemplateIf) -> Callable[[Env], str]:
        cond = self._condition(part.cond)
        then = self._template_text(part.then)
        else_ = self._template_text(part.else_)

        def text(env: Env) -> str:
            return then(env) if cond(env) else else_(env)

        return text

    def _template_for(self, part: ast.TemplateFor) -> Callable[[Env], str]:
        body = self._template_text(part.body)
        iterate = self._for_iteration(part.key_var, part.value_var, part.collection, None, part.loc)

        def text(env: Env) -> str:
            return "".join([body(child) for child in iterate(env)])

        return text

    # -- constructors

    def _c_Tuple(self, expr: ast.Tuple) -> Evaluator:
        items = [self._build(item) for item in expr.items]

        def tuple_(env: Env) -> Value:
            return cty.tuple_val([item(env) for item in items])

        return tuple_

    def _c_Object(self, expr: ast.Object) -> Evaluator:
        items = [(self._object_key(item.key, item.value), self._build(item.value)) for item in expr.items]
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

    def _object_key(self, key: ast.Expr, value_expr: ast.Expr) -> Callable[[Env], str]:
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
        fn = self._build(key)
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

    # -- conditionals and operators

    def _condition(self, expr: ast.Expr) -> Callable[[Env], bool]:
        fn = self._build(expr)
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

    def _c_Conditional(self, expr: ast.Conditional) -> Evaluator:
        cond = self._condition(expr.cond)
        yes = self._build(expr.true_expr)
        no = self._build(expr.false_expr)
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

    def _c_BinaryOp(self, expr: ast.BinaryOp) -> Evaluator:
        left = self._build(expr.left)
        right = self._build(expr.right)
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

    def _c_UnaryOp(self, expr: ast.UnaryOp) -> Evaluator:
        operand = self._build(expr.operand)
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

    # -- function calls

    def _c_FunctionCall(self, expr: ast.FunctionCall) -> Evaluator:
        if expr.name in SPECIAL and not expr.expand_final:
            return self._special(expr)
        args = [self._build(arg) for arg in expr.args]
        arg_locs = [expr_loc(arg) for arg in expr.args]
        name, loc, expand = expr.name, expr.loc, expr.expand_final

        def call(env: Env) -> Value:
            fn = env.ctx.function(name, loc)
            values = [arg(env) for arg in args]
            locs = arg_locs
            if expand:
                values, locs = _expand_final(values, arg_locs)
            return call_function(fn, values, locs, loc)

        return call

    def _special(self, expr: ast.FunctionCall) -> Evaluator:
        """try(), can() and convert(): their arguments are expressions, not values."""
        args = [self._build(arg) for arg in expr.args]
        name, loc = expr.name, expr.loc
        if name == "convert":
            return self._convert_call(expr, args)
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

    def _convert_call(self, expr: ast.FunctionCall, args: list[Evaluator]) -> Evaluator:
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

    # -- for expressions

    def _for_iteration(
        self,
        key_var: str | None,
        value_var: str,
        collection: ast.Expr,
        cond: ast.Expr | None,
        loc: Location,
    ) -> Callable[[Env], list[Env]]:
        coll = self._build(collection)
        coll_loc = expr_loc(collection)
        cond_fn = self._for_condition(cond) if cond is not None else None
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

    def _for_condition(self, cond: ast.Expr) -> Callable[[Env], bool]:
        fn = self._build(cond)
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

    def _c_ForTuple(self, expr: ast.ForTuple) -> Evaluator:
        iterate = self._for_iteration(expr.key_var, expr.value_var, expr.collection, expr.cond, expr.loc)
        value = self._build(expr.value)

        def for_tuple(env: Env) -> Value:
            return cty.tuple_val([value(child) for child in iterate(env)])

        return for_tuple

    def _c_ForObject(self, expr: ast.ForObject) -> Evaluator:
        iterate = self._for_iteration(expr.key_var, expr.value_var, expr.collection, expr.cond, expr.loc)
        key_fn = self._build(expr.key)
        value_fn = self._build(expr.value)
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

    # -- splats

    def _c_Splat(self, expr: ast.Splat) -> Evaluator:
        source = self._build(expr.source)
        source_loc = expr_loc(expr.source)

        def item(env: Env) -> Value:
            return env.vars["\x00splat"]

        each = self._steps(item, expr.steps)

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


def _static_type(expr: ast.Expr) -> cty.Type | None:
    """The primitive type an expression always has, when the syntax alone tells (templates, literals)."""
    if isinstance(expr, ast.Template):
        return STRING
    if isinstance(expr, ast.Literal):
        return {"string": STRING, "number": NUMBER, "bool": BOOL}.get(expr.kind)
    if isinstance(expr, ast.Parens):
        return _static_type(expr.expr)
    return None


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
        if lerr is not None:
            raise lerr
        if rerr is not None:
            raise rerr
        assert lhs is not None and rhs is not None
        if lhs.v is None or rhs.v is None:
            raise error("Operation failed", "Error during operation: argument must not be null.", expr.loc)
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
    if lerr is not None:
        raise lerr
    if rerr is not None:
        raise rerr
    assert lhs is not None and rhs is not None
    if lhs.v is None or rhs.v is None:
        raise error("Operation failed", "Error during operation: argument must not be null.", loc)
    try:
        return run(lhs, rhs)
    except ArithmeticError as exc:
        raise error("Operation failed", f"Error during operation: {exc}.", loc) from None


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
    params = fn.params
    if len(values) < len(params):
        qual = " at least" if fn.var_param is not None else ""
        raise error(
            "Not enough function arguments",
            f'Function "{fn.name}" expects{qual} {len(params)} argument(s). Missing value for "{params[len(values)].name}".',
            loc,
        )
    if fn.var_param is None and len(values) > len(params):
        raise error(
            "Too many function arguments",
            f'Function "{fn.name}" expects only {len(params)} argument(s).',
            locs[len(params)],
        )
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


def _diagnostic_parts(exc: BakeFileError) -> tuple[str, str, str | None]:
    summary, _, detail = exc.detail.partition("; ")
    where = exc.location
    subject = None if where is None else f"{where.file}:{where.line},{where.column}"
    return summary, detail, subject


def _inner(exc: BakeFileError) -> str:
    if exc.location is None:
        return exc.detail
    where = exc.location
    return f"{where.file}:{where.line},{where.column}: {exc.detail}"


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


# --------------------------------------------------------------------------
# Type constraints (hcl ext/typeexpr), used by variables' `type` and convert()


_IDENTIFIER = re.compile(r"^[^\W\d][\w-]*$")


def keyword(expr: ast.Expr) -> str | None:
    """hcl.ExprAsKeyword: the bare identifier an expression consists of, if any.

    In HCL JSON files a string holds the keyword (`"params": ["a"]`), as hcl's
    JSON expressions parse strings as traversals when asked for one.
    """
    if isinstance(expr, ast.ScopeTraversal) and not expr.steps:
        return expr.name
    if isinstance(expr, ast.Literal) and expr.kind in ("bool", "null"):
        return {True: "true", False: "false", None: "null"}[expr.value]  # type: ignore[index]
    if isinstance(expr, ast.Literal) and expr.kind == "string" and from_json(expr):
        text = str(expr.value).strip()
        return text if _IDENTIFIER.match(text) else None
    return None


def from_json(expr: ast.Expr) -> bool:
    """Whether an expression comes from an HCL JSON file (where strings stand for expressions)."""
    return expr_loc(expr).file.endswith(".json")


def json_expression(expr: ast.Expr) -> ast.Expr:
    """A JSON string literal re-read as HCL native expression syntax (for type expressions)."""
    if isinstance(expr, ast.Literal) and expr.kind == "string" and from_json(expr):
        body = ast.parse(f"x = {expr.value}\n", expr.loc.file)
        return body.attributes[0].expr
    return expr


_PRIMITIVES: dict[str, cty.Type] = {"string": STRING, "number": cty.NUMBER, "bool": cty.BOOL, "any": DYNAMIC}


def type_constraint(expr: ast.Expr, *, in_object: bool = False) -> cty.Type:
    """hcl typeexpr.TypeConstraint: `string`, `list(number)`, `object({a = string})`..."""
    expr = json_expression(expr)
    loc = expr_loc(expr)
    word = keyword(expr)
    if word is not None:
        found = _PRIMITIVES.get(word)
        if found is None:
            raise error("Invalid type specification", f'The keyword "{word}" is not a valid type specification.', loc)
        return found
    if not isinstance(expr, ast.FunctionCall):
        raise error("Invalid type specification", "A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).", loc)
    return _type_call(expr, loc)


def _type_call(expr: ast.FunctionCall, loc: Location) -> cty.Type:
    name, args = expr.name, expr.args
    if name in ("list", "set", "map"):
        if len(args) != 1:
            raise error("Incorrect type specification", f"The {name} type constructor requires one argument specifying the element type.", loc)
        elem = type_constraint(args[0])
        return {"list": cty.ListType, "set": cty.SetType, "map": cty.MapType}[name](elem)
    if name == "tuple" and len(args) == 1 and isinstance(args[0], ast.Tuple):
        return cty.TupleType(type_constraint(item) for item in args[0].items)
    if name == "object" and len(args) == 1 and isinstance(args[0], ast.Object):
        return _object_type(args[0])
    if name in ("tuple", "object", "optional"):
        raise error("Invalid type specification", f"Invalid use of the {name} type constructor.", loc)
    raise error("Invalid type specification", f'Keyword "{name}" is not a valid type constructor.', loc)


def _object_type(expr: ast.Object) -> cty.Type:
    attrs: dict[str, cty.Type] = {}
    optional: set[str] = set()
    for item in expr.items:
        key = keyword(item.key)
        if key is None and isinstance(item.key, ast.Literal) and item.key.kind == "string":
            key = str(item.key.value)
        if key is None:
            raise error("Invalid type specification", "Object constructor map keys must be attribute names.", expr_loc(item.key))
        value = item.value
        if isinstance(value, ast.FunctionCall) and value.name == "optional" and value.args:
            optional.add(key)
            value = value.args[0]
        attrs[key] = type_constraint(value)
    return cty.ObjectType(attrs, frozenset(optional))


# --------------------------------------------------------------------------
# AST walks


def function_calls(expr: ast.Expr) -> Iterator[tuple[str, Location]]:
    """Every function call in an expression (hclsyntax.VisitAll over FunctionCallExpr)."""
    for node in _walk(expr):
        if isinstance(node, ast.FunctionCall):
            yield node.name, node.loc


def free_variables(expr: ast.Expr, bound: set[str]) -> list[str]:
    """Root names an expression reads from its scope (hcl Variables(), minus `bound`)."""
    out: dict[str, None] = {}
    _free(expr, frozenset(bound), out)
    return list(out)


def _free(node: object, bound: frozenset[str], out: dict[str, None]) -> None:
    if isinstance(node, ast.ScopeTraversal):
        if node.name not in bound:
            out.setdefault(node.name, None)
        for step in node.steps:
            if isinstance(step, ast.IndexStep):
                _free(step.key, bound, out)
        return
    if isinstance(node, (ast.ForTuple, ast.ForObject, ast.TemplateFor)):
        _free(node.collection, bound, out)
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for child in _for_children(node):
            _free(child, inner, out)
        return
    for child in _children(node):
        _free(child, bound, out)


def _for_children(node: ast.ForTuple | ast.ForObject | ast.TemplateFor) -> list[object]:
    if isinstance(node, ast.TemplateFor):
        return list(node.body)
    children: list[object] = [node.value]
    if isinstance(node, ast.ForObject):
        children.append(node.key)
    if node.cond is not None:
        children.append(node.cond)
    return children


def _children(node: object) -> list[object]:
    if isinstance(node, (str, ast.Literal)):
        return []
    if isinstance(node, (ast.Template,)):
        return list(node.parts)
    if isinstance(node, ast.TemplateIf):
        return [node.cond, *node.then, *node.else_]
    if isinstance(node, ast.Object):
        return [x for item in node.items for x in (item.key, item.value)]
    if isinstance(node, ast.Splat):
        return [node.source, *[s.key for s in node.steps if isinstance(s, ast.IndexStep)]]
    out: list[object] = []
    for name in getattr(node, "__slots__", ()):
        if name == "loc":
            continue
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(v for v in value if not isinstance(v, (str, Location)) or isinstance(node, ast.Template))
        elif value is not None and not isinstance(value, (str, bool, Location)):
            out.append(value)
    return out


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, (ast.ForTuple, ast.ForObject, ast.TemplateFor)):
        yield from _walk(node.collection)
        for child in _for_children(node):
            yield from _walk(child)
        return
    if isinstance(node, ast.ScopeTraversal):
        for step in node.steps:
            if isinstance(step, ast.IndexStep):
                yield from _walk(step.key)
        return
    for child in _children(node):
        yield from _walk(child)
