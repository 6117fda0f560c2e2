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
``FUNCTIONS`` knows every family's names (``FAMILIES``) and imports a family
the first time one of its functions is looked up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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
from bakeplan.hcl.values import FALSE, TRUE, Value

__all__ = [
    "FUNCTIONS",
    "SPECIAL",
    "ArgError",
    "CallError",
    "Function",
    "FunctionError",
    "Impl",
    "Param",
    "binary_op",
    "call",
    "graphemes",
    "n",
    "n64",
    "s",
    "to_int",
    "try_message",
    "unary_op",
]


# Each family's names, as its module's TABLE defines them. The registry imports
# a family the first time one of its names is looked up: a file that calls no
# date, crypto or network function never loads datetime, hashlib, uuid or ipaddress.
FAMILIES: Mapping[str, tuple[str, ...]] = {
    "numbers": ("absolute", "add", "ceil", "divide", "floor", "greaterthan", "greaterthanorequalto", "int", "lessthan",
                "lessthanorequalto", "log", "max", "min", "modulo", "multiply", "negate", "parseint", "pow", "range",
                "signum", "subtract"),
    "booleans": ("and", "equal", "not", "notequal", "or"),
    "strings": ("chomp", "indent", "join", "lower", "replace", "reverse", "sort", "split", "strlen", "substr", "title",
                "trim", "trimprefix", "trimspace", "trimsuffix", "upper"),
    "regex": ("regex", "regex_replace", "regexall"),
    "format": ("format", "formatlist"),
    "collections": ("chunklist", "coalesce", "coalescelist", "compact", "concat", "contains", "distinct", "element",
                    "flatten", "hasindex", "index", "keys", "length", "lookup", "merge", "reverselist", "setproduct",
                    "slice", "values", "zipmap"),
    "sets": ("sethaselement", "setintersection", "setsubtract", "setsymmetricdifference", "setunion"),
    "encoding": ("base64decode", "base64encode", "csvdecode", "jsondecode", "jsonencode", "urlencode"),
    "crypto": ("bcrypt", "md5", "rsadecrypt", "sha1", "sha256", "sha512", "uuidv4", "uuidv5"),
    "datetime": ("formatdate", "timeadd", "timestamp"),
    "cidr": ("cidrhost", "cidrnetmask", "cidrsubnet", "cidrsubnets"),
    "buildx": ("basename", "dirname", "formattimestamp", "homedir", "indexof", "sanitize", "semvercmp",
               "unixtimestampparse"),
    "unsupported": ("byteslen", "bytesslice"),
    "special": ("can", "convert", "try"),
}


class Registry(Mapping[str, Function]):
    """name -> Function over the families' tables, in name order; a family loads on its first lookup."""

    def __init__(self, families: Mapping[str, Sequence[str]]) -> None:
        self._family_of = {name: family for family, names in families.items() for name in names}
        self._names = sorted(self._family_of)
        self._loaded: dict[str, Function] = {}

    def __getitem__(self, name: str) -> Function:
        found = self._loaded.get(name)
        if found is None:
            self._loaded.update(_family_table(self._family_of[name]))
            found = self._loaded[name]
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._family_of

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _family_table(family: str) -> Mapping[str, Function]:
    """The TABLE of module `bakeplan.hcl.functions.<family>`."""
    from importlib import import_module

    table: Mapping[str, Function] = import_module(f"{__name__}.{family}").TABLE
    return table


FUNCTIONS: Mapping[str, Function] = Registry(FAMILIES)


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
