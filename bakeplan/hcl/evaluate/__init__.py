"""Evaluation of HCL expressions (the syntax tree of `bakeplan.hcl.ast`) to cty-like values.

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
  implements them (the stdlib table in `functions/` has the rest).
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

Layout: `scope` (Env, EvalContext, the unknown-name diagnostics), `compiler`
(the Compiler and its table of node builders), one module per family of
nodes (`traversal`, `templates`, `constructors` with for-expressions,
`operators`, `calls`), `typeexpr` (type constraints) and `walk` (free
variables and function calls of an expression). This package re-exports
the names its callers use.
"""

from __future__ import annotations

from bakeplan.hcl.evaluate.calls import call_function
from bakeplan.hcl.evaluate.compiler import Compiler, literal_value
from bakeplan.hcl.evaluate.count import Counted, counted, diagnostics, failed
from bakeplan.hcl.evaluate.operators import describe_mismatch, unify_result
from bakeplan.hcl.evaluate.scope import (
    Env,
    EvalContext,
    Evaluator,
    error,
    expr_loc,
    start_range,
    suggest,
    unknown_function,
    unknown_variable,
)
from bakeplan.hcl.evaluate.templates import to_text
from bakeplan.hcl.evaluate.traversal import get_attr, index
from bakeplan.hcl.evaluate.typeexpr import from_json, json_expression, keyword, type_constraint
from bakeplan.hcl.evaluate.walk import free_variables, function_calls

__all__ = [
    "Compiler",
    "Counted",
    "Env",
    "EvalContext",
    "Evaluator",
    "call_function",
    "counted",
    "describe_mismatch",
    "diagnostics",
    "error",
    "expr_loc",
    "failed",
    "free_variables",
    "from_json",
    "function_calls",
    "get_attr",
    "index",
    "json_expression",
    "keyword",
    "literal_value",
    "start_range",
    "suggest",
    "to_text",
    "type_constraint",
    "unify_result",
    "unknown_function",
    "unknown_variable",
]
