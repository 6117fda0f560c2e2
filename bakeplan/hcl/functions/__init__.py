"""The function table of buildx bake's HCL stdlib, with go-cty's semantics.

buildx registers exactly these names (bake/hclparser/stdlib.go); every other
name is an unknown function, as in buildx. The implementations follow
zclconf/go-cty `cty/function/stdlib`, hashicorp/go-cty-funcs (cidr, crypto,
encoding, uuid) and buildx's own (basename, dirname, formattimestamp, homedir,
indexof, sanitize, semvercmp, timestamp, unixtimestampparse): 106 names, as in
buildx v0.36.1 with go-cty v1.17.0.

Known deviations: `bcrypt` always fails (no bcrypt implementation without a
new dependency; its output is random anyway); `semvercmp` implements the
common Masterminds/semver v3 constraint forms (comparisons, ~, ^, x-ranges,
hyphen ranges, `||`, commas) but not every corner of it; regular expressions
are RE2 translated to the `regex` module (ASCII classes, `$` = end of text,
no backreferences or lookarounds), and rare RE2 syntax-error messages differ.

API for the evaluator
---------------------
- ``FUNCTIONS: Mapping[str, Function]``: name -> ``Function(name, params,
  var_param, impl, special)``; each ``Param(name, type, allow_null)``.
- ``call(name, args) -> Value``: HCL's FunctionCallExpr after argument
  evaluation (and after ``...`` expansion): arity checks, conversion of each
  argument to its parameter type, null checks, then the implementation.
  Raises ``FunctionError`` carrying ``summary`` and ``detail`` (as HCL reports
  them: ``str(err)`` is "Summary; Detail"), ``arg_index`` (the argument to
  point at, or None) and ``subject``: "arg" (that argument's start), "close"
  (the closing parenthesis), "name" (the function name) or "call" (the whole
  call expression), which is where HCL puts the diagnostic.
- Implementations raise ``ArgError(index, message)`` or ``CallError(message)``;
  ``call`` turns them into HCL's wording. Panics in go functions are reported
  with their first line only (buildx appends a go stack trace).
- ``SPECIAL = {"try", "can", "convert"}``: these take unevaluated expressions
  (tryfunc) or a type expression (typeexpr.ConvertFunc); the evaluator
  implements them, using ``try_message`` for try's error and
  ``values.convert`` for convert.
- ``binary_op(op, lhs, rhs)`` / ``unary_op(op, val)``: HCL's operators
  (``+ - * / % == != < <= > >= && || !``), which HCL implements with these
  stdlib functions. Raise ``FunctionError`` with HCL's summaries
  ("Invalid operand", "Operation failed"); ``arg_index`` 0/1 is the operand.

Layout
------
One module per function family, as go-cty's `function/stdlib` has one file
per family; each exports ``TABLE`` (name -> Function) and this package merges
them into ``FUNCTIONS``: `numbers`, `booleans`, `strings`, `regex`, `format`,
`collections`, `sets`, `encoding`, `crypto`, `datetime`, `cidr`, `buildx`
(buildx's additions), `unsupported` (the bytes functions), `special` (try, can,
convert); `base` holds the function model, the errors and argument conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bakeplan.hcl.functions.base import (
    SPECIAL,
    ArgError,
    CallError,
    Function,
    FunctionError,
    Impl,
    Param,
    convert_args,
    graphemes,
    n,
    n64,
    op_call,
    operand,
    raise_arg_error,
    s,
    to_int,
    try_message,
)
from bakeplan.hcl.functions.booleans import TABLE as BOOLEANS
from bakeplan.hcl.functions.buildx import TABLE as BUILDX
from bakeplan.hcl.functions.cidr import TABLE as CIDR
from bakeplan.hcl.functions.collections import TABLE as COLLECTIONS
from bakeplan.hcl.functions.crypto import TABLE as CRYPTO
from bakeplan.hcl.functions.datetime import TABLE as DATETIME
from bakeplan.hcl.functions.datetime import parse_go_duration, parse_rfc3339
from bakeplan.hcl.functions.encoding import TABLE as ENCODING
from bakeplan.hcl.functions.format import TABLE as FORMAT
from bakeplan.hcl.functions.format import big_text, format_string, go_format_int
from bakeplan.hcl.functions.numbers import TABLE as NUMBERS
from bakeplan.hcl.functions.regex import TABLE as REGEX
from bakeplan.hcl.functions.regex import RegexSyntaxError, compile_re2, translate_re2
from bakeplan.hcl.functions.sets import TABLE as SETS
from bakeplan.hcl.functions.special import TABLE as SPECIAL_FUNCTIONS
from bakeplan.hcl.functions.strings import TABLE as STRINGS
from bakeplan.hcl.functions.unsupported import BYTES
from bakeplan.hcl.functions.unsupported import TABLE as UNSUPPORTED
from bakeplan.hcl.values import FALSE, TRUE, Value

__all__ = [
    "BYTES",
    "FUNCTIONS",
    "SPECIAL",
    "ArgError",
    "CallError",
    "Function",
    "FunctionError",
    "Impl",
    "Param",
    "RegexSyntaxError",
    "big_text",
    "binary_op",
    "call",
    "compile_re2",
    "format_string",
    "go_format_int",
    "graphemes",
    "n",
    "n64",
    "parse_go_duration",
    "parse_rfc3339",
    "s",
    "to_int",
    "translate_re2",
    "try_message",
    "unary_op",
]


def _registry(tables: Iterable[Mapping[str, Function]]) -> Mapping[str, Function]:
    """The families' tables merged, by name (buildx bake/hclparser/stdlib.go registers exactly these)."""
    merged: dict[str, Function] = {}
    for family in tables:
        for name, fn in family.items():
            if name in merged:
                raise AssertionError(f"function {name} is defined by two families")
            merged[name] = fn
    return dict(sorted(merged.items()))


FUNCTIONS: Mapping[str, Function] = _registry(
    [
        NUMBERS,
        BOOLEANS,
        STRINGS,
        REGEX,
        FORMAT,
        COLLECTIONS,
        SETS,
        ENCODING,
        CRYPTO,
        DATETIME,
        CIDR,
        BUILDX,
        UNSUPPORTED,
        SPECIAL_FUNCTIONS,
    ]
)


# --------------------------------------------------------------------------
# Calling


def call(name: str, args: Sequence[Value]) -> Value:
    """Call stdlib function `name` with evaluated arguments, as HCL does."""
    fn = FUNCTIONS[name]
    params, var = fn.params, fn.var_param
    if len(args) < len(params):
        qual = " at least" if var is not None else ""
        raise FunctionError(
            "Not enough function arguments",
            f'Function "{name}" expects{qual} {len(params)} argument(s). Missing value for "{params[len(args)].name}".',
            None,
            "close",
        )
    if var is None and len(args) > len(params):
        raise FunctionError(
            "Too many function arguments",
            f'Function "{name}" expects only {len(params)} argument(s).',
            len(params),
            "arg",
        )
    converted = convert_args(fn, args)
    try:
        return fn.impl(converted)
    except ArgError as e:
        return raise_arg_error(fn, e, len(args))
    except CallError as e:
        raise FunctionError("Error in function call", f'Call to function "{name}" failed: {e}.', None, "name") from None


# --------------------------------------------------------------------------
# Operators (hclsyntax expression_ops.go)


_BINARY = {
    "+": "add",
    "-": "subtract",
    "*": "multiply",
    "/": "divide",
    "%": "modulo",
    "==": "equal",
    "!=": "notequal",
    "<": "lessthan",
    "<=": "lessthanorequalto",
    ">": "greaterthan",
    ">=": "greaterthanorequalto",
    "&&": "and",
    "||": "or",
}


def binary_op(op: str, lhs: Value, rhs: Value) -> Value:
    """Apply HCL binary operator `op` (operands already evaluated)."""
    fn = FUNCTIONS[_BINARY[op]]
    a = operand(lhs, fn.params[0].type, "left", 0)
    b = operand(rhs, fn.params[1].type, "right", 1)
    if op == "||" and (a.v is True or b.v is True):
        return TRUE
    if op == "&&" and (a.v is False or b.v is False):
        return FALSE
    return op_call(fn, [a, b])


def unary_op(op: str, val: Value) -> Value:
    """Apply HCL unary operator `-` or `!`."""
    fn = FUNCTIONS["negate" if op == "-" else "not"]
    return op_call(fn, [operand(val, fn.params[0].type, "unary", 0)])
