"""What an expression sees: local names (`Env`) over a global context (`EvalContext`),
and the diagnostics for names that are not there, in HCL's `Summary; Detail` form."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl.functions import Function
from bakeplan.hcl.values import Value

Evaluator = Callable[["Env"], Value]


class EvalContext(Protocol):
    """What expressions see beyond their local names: global values and functions."""

    def lookup(self, name: str, loc: Location) -> Value:
        """The global named `name`; raises BakeFileError ("Unknown variable") when there is none."""
        ...

    def function(self, name: str, loc: Location) -> Function:
        """The function named `name`; raises BakeFileError ("Call to unknown function") when there is none."""
        ...

    def block_value(
        self, kind: str, name: str, attr: str | None, loc: Location, at: tuple[Location, ...] = ()
    ) -> Value:
        """`target.NAME.ATTR` (or the whole `target.NAME` when attr is None) for a block kind;
        `at`: where the `.NAME` and `.ATTR` steps are (HCL points at the step that fails)."""
        ...


class Env:
    """An evaluation environment: local names over a global context."""

    __slots__ = ("vars", "ctx")

    def __init__(self, ctx: EvalContext, vars: dict[str, Value] | None = None) -> None:
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


def local_suggestion(exc: BakeFileError, env: Env, name: str, loc: Location) -> BakeFileError:
    """`exc`, or for an unknown name close to a local one, the error suggesting that one:
    HCL suggests from the innermost scope first (matrix and for-expression variables)."""
    if env.vars and exc.detail.startswith("Unknown variable;") and suggest(name, env.vars):
        return unknown_variable(name, loc, env.vars)
    return exc


def start_range(expr: ast.Expr) -> Location:
    """hclsyntax's StartRange, where gohcl reports a decoded value that does not fit its field
    and HCL a function argument.

    A template's is its first part's: just inside the quote (past an empty
    string's), or the first interpolation's expression; a heredoc's is the
    start of its text on the next line. bakeplan's syntax tree keeps no
    heredoc marker, so a string ending in a newline counts as a heredoc, and
    an indented (`<<-`) one is assumed unindented.
    """
    loc = expr.loc
    if loc.file.endswith(".json"):
        return loc
    if isinstance(expr, ast.Template) and expr.parts and isinstance(expr.parts[0], ast.Interpolation):
        return expr.parts[0].expr.loc
    if isinstance(expr, ast.Template):
        text = "".join(part for part in expr.parts if isinstance(part, str))
    elif isinstance(expr, ast.Literal) and expr.kind == "string" and isinstance(expr.value, str):
        text = expr.value
    else:
        return loc
    if text.endswith("\n"):
        return Location(loc.file, loc.line + 1, 1)
    return Location(loc.file, loc.line, loc.column + (2 if text == "" else 1))


def expr_loc(expr: ast.Expr) -> Location:
    """Where an expression starts."""
    return expr.loc
