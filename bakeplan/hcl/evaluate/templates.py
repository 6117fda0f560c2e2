"""Templates: `"a-${x}"`, `%{if}` and `%{for}` directives, rendered by one closure per template."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.constructors import for_iteration
from bakeplan.hcl.evaluate.operators import condition
from bakeplan.hcl.evaluate.scope import Env, Evaluator, error, expr_loc, local_suggestion
from bakeplan.hcl.values import BOOL, NUMBER, STRING, Value

if TYPE_CHECKING:
    from bakeplan.hcl.evaluate.compiler import Compiler


def compile_template(compiler: Compiler, expr: ast.Template) -> Evaluator:
    """A template: its parts rendered and joined into one string."""
    render = _template_text(compiler, expr.parts)
    string_val = cty.string_val

    def template(env: Env) -> Value:
        return string_val(render(env))

    return template


def _template_text(compiler: Compiler, parts: Sequence[ast.TemplatePart]) -> Callable[[Env], str]:
    """One closure rendering all parts: constants inline, plain variables looked up inline."""
    program: list[tuple[int, Any, Location | None]] = []
    for part in parts:
        if isinstance(part, str):
            program.append((0, part, None))
        elif isinstance(part, ast.Interpolation):
            inner = part.expr
            if isinstance(inner, ast.ScopeTraversal) and not inner.steps and inner.name not in compiler.block_kinds:
                program.append((1, inner.name, inner.loc))
            else:
                program.append((2, compiler.build(inner), expr_loc(inner)))
        elif isinstance(part, ast.TemplateIf):
            program.append((3, _template_if(compiler, part), None))
        else:
            program.append((3, _template_for(compiler, part), None))
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
                    try:  # inline: the hot path of every `${NAME}`
                        value = env.ctx.lookup(payload, loc)  # type: ignore[arg-type]
                    except BakeFileError as exc:
                        raise local_suggestion(exc, env, payload, loc) from None  # type: ignore[arg-type]
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


def _template_if(compiler: Compiler, part: ast.TemplateIf) -> Callable[[Env], str]:
    cond = condition(compiler, part.cond)
    then = _template_text(compiler, part.then)
    else_ = _template_text(compiler, part.else_)

    def text(env: Env) -> str:
        return then(env) if cond(env) else else_(env)

    return text


def _template_for(compiler: Compiler, part: ast.TemplateFor) -> Callable[[Env], str]:
    body = _template_text(compiler, part.body)
    iterate = for_iteration(compiler, part.key_var, part.value_var, part.collection, None, part.loc)

    def text(env: Env) -> str:
        return "".join([body(child) for child in iterate(env)])

    return text


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
