"""AST walks: the function calls and the free variables of an expression (hcl's Variables())."""

from __future__ import annotations

from collections.abc import Iterator

from bakeplan.errors import Location
from bakeplan.hcl import ast


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
