"""Matrix expansion of target blocks: the combinations, their order, and the names they get.

Policy (buildx `Target.GetEvalContexts` / `GetName`, made deterministic):

- `matrix` must be a map or object whose values are lists (tuples, sets, or
  anything iterable: a map's values in key order). Values may be of any type.
- Combinations are the cartesian product in source order: the FIRST key is the
  outermost loop and values follow list order, as GitHub Actions orders a
  matrix. (buildx iterates a Go map here, so its order changes from run to run.)
  Source order means the order the keys are written in the matrix object
  literal; when `matrix` is not a literal (e.g. a variable), keys sort.
- `matrix = {}` yields one combination with no values (a rename, with `name`).
- Each combination's `name` (a string after conversion) must match
  `[a-zA-Z0-9_-]+`; two combinations of one block with the same name are an
  error; `name` without `matrix` is an error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.values import Value

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
VALID_NAME_CHARS = "[a-zA-Z0-9_-]+"

Combination = tuple[tuple[str, Value], ...]


def invalid_name(detail: str, loc: Location | None, hint: str | None = None) -> BakeFileError:
    """buildx's "Invalid name" diagnostic (reported at the block label)."""
    return BakeFileError(f"Invalid name; {detail}", loc, hint=hint)


def validate_name(name: str, loc: Location | None) -> None:
    """Reject a block or generated target name outside `[a-zA-Z0-9_-]+`."""
    if NAME_PATTERN.match(name) is None:
        raise invalid_name(
            f'only "{VALID_NAME_CHARS}" are allowed',
            loc,
            hint=f"Target and group names may only use letters, digits, '_' and '-' (got {name!r}).",
        )


def key_order(expr: ast.Expr, value: Value) -> list[str]:
    """The matrix keys in source order when `expr` is an object literal, else sorted."""
    keys = list(value.v) if isinstance(value.v, dict) else []
    if not isinstance(expr, ast.Object):
        return keys
    order: dict[str, None] = {}
    for item in expr.items:
        literal = _literal_key(item.key)
        if literal is not None and literal in value.v:
            order.setdefault(literal, None)
    for key in keys:  # computed keys (parenthesised expressions) keep sorted order after the literal ones
        order.setdefault(key, None)
    return list(order)


def _literal_key(key: ast.Expr) -> str | None:
    if isinstance(key, ast.Literal) and key.kind == "string":
        return str(key.value)
    if isinstance(key, ast.ScopeTraversal) and not key.steps:
        return key.name
    return None


def combinations(value: Value, order: Sequence[str], loc: Location | None) -> list[Combination]:
    """The matrix's combinations, first key outermost, values in list order."""
    if not isinstance(value.type, (cty.MapType, cty.ObjectType)) or value.v is None:
        raise invalid_name("matrix must be a map", loc, hint='Write the matrix as an object of lists: matrix = { key = ["a", "b"] }.')
    axes: list[list[tuple[str, Value]]] = []
    for key in order:
        options = value.v[key]
        if options.v is None or not cty.is_iterable(options.type):
            raise invalid_name(
                "matrix values must be a list", loc, hint=f'Make matrix value "{key}" a list, e.g. {key} = ["a", "b"].'
            )
        elements = options.v.values() if isinstance(options.v, dict) else options.v
        axes.append([(key, element) for element in elements])
    return [tuple(combo) for combo in itertools.product(*axes)]


def check_unique(names: Sequence[str], loc: Location | None) -> None:
    """Two combinations of one block must not produce the same name."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise invalid_name(
                f'duplicate name "{name}"',
                loc,
                hint='Give each matrix combination its own name, using every matrix key: name = "t-${key}".',
            )
        seen.add(name)
