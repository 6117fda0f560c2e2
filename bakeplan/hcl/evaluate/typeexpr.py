"""Type constraints (hcl ext/typeexpr), used by variables' `type` and by convert()."""

from __future__ import annotations

import re

from bakeplan.errors import Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate.scope import error, expr_loc
from bakeplan.hcl.values import DYNAMIC, STRING

_IDENTIFIER = r"^[^\W\d][\w-]*$"  # compiled (and cached by `re`) on first use: JSON files only


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
        return text if re.match(_IDENTIFIER, text) else None
    return None


def from_json(expr: ast.Expr) -> bool:
    """Whether an expression comes from an HCL JSON file (where strings stand for expressions)."""
    return expr_loc(expr).file.endswith(".json")


def json_expression(expr: ast.Expr) -> ast.Expr:
    """A JSON string literal re-read as HCL native expression syntax (for type expressions)."""
    if isinstance(expr, ast.Literal) and expr.kind == "string" and from_json(expr):
        from bakeplan.hcl import syntax  # the native parser, loaded only for JSON files' type strings

        body = syntax.parse(f"x = {expr.value}\n", expr.loc.file)
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
        raise error(
            "Invalid type specification",
            "A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).",
            loc,
        )
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
