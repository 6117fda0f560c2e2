"""The machinery every function family shares.

The function model (`Function`, `Param`), the errors implementations raise
(`ArgError`, `CallError`) and the one callers see (`FunctionError`), HCL's
argument conversion before a call, and the small value helpers the families use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.values import DYNAMIC, NUMBER, STRING, ConversionError, Type, Value
from bakeplan.record import record

# --------------------------------------------------------------------------
# The function model


@record
class Param:
    """A function parameter: HCL converts the argument to `type` before the call."""

    name: str
    type: Type
    allow_null: bool = False


Impl = Callable[[list[Value]], Value]


@record
class Function:
    """One stdlib function."""

    name: str
    params: tuple[Param, ...]
    var_param: Param | None
    impl: Impl
    special: bool = False


class FunctionError(Exception):
    """A failed call, worded as HCL's diagnostic ("Summary; Detail")."""

    def __init__(self, summary: str, detail: str, arg_index: int | None = None, subject: str = "name") -> None:
        super().__init__(f"{summary}; {detail}")
        self.summary = summary
        self.detail = detail
        self.arg_index = arg_index
        self.subject = subject


class ArgError(Exception):
    """Raised by implementations: the argument at `index` is unsuitable (cty function.ArgError)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


class CallError(Exception):
    """Raised by implementations: the call failed (a plain error in go)."""


SPECIAL = frozenset({"try", "can", "convert"})


# --------------------------------------------------------------------------
# Calling: argument conversion and HCL's wording of failures


def _param_at(fn: Function, i: int) -> Param | None:
    return fn.params[i] if i < len(fn.params) else fn.var_param


def convert_args(fn: Function, args: Sequence[Value]) -> list[Value]:
    """Each argument converted to its parameter's type and checked for null, as HCL does before a call."""
    out: list[Value] = []
    for i, arg in enumerate(args):
        param = _param_at(fn, i)
        assert param is not None
        try:
            v = arg if param.type is DYNAMIC else V.convert(arg, param.type)
        except ConversionError as e:
            raise FunctionError(
                "Invalid function argument", f'Invalid value for "{param.name}" parameter: {e}.', i, "arg"
            ) from None
        if v.v is None and not param.allow_null:
            raise FunctionError(
                "Invalid function argument",
                f'Invalid value for "{param.name}" parameter: argument must not be null.',
                i,
                "arg",
            )
        out.append(v)
    return out


def raise_arg_error(fn: Function, e: ArgError, nargs: int) -> Value:
    """Raise an implementation's ArgError as HCL words and places it."""
    param = _param_at(fn, e.index)
    if param is None:
        raise FunctionError("Error in function call", f'Call to function "{fn.name}" failed: {e.message}.')
    detail = f'Invalid value for "{param.name}" parameter: {e.message}.'
    if e.index > nargs - 1:
        raise FunctionError("Invalid function argument", detail, None, "call")
    raise FunctionError("Invalid function argument", detail, e.index, "arg")


def try_message(failures: Sequence[tuple[str, str, str | None]]) -> str:
    """tryfunc's error text from (summary, detail, subject-or-None) of each failed expression."""
    lines = ["no expression succeeded:\n"]
    for summary, detail, subject in failures:
        if subject is not None:
            lines.append(f"- {summary} (at {subject})\n  {detail}\n")
        else:
            lines.append(f"- {summary}\n  {detail}\n")
    lines.append("\nAt least one expression must produce a successful result")
    return "".join(lines)


def operand(v: Value, t: Type, side: str, index: int) -> Value:
    """An operator's operand converted to its parameter type ("Invalid operand" when it cannot be)."""
    if t is DYNAMIC:
        return v
    try:
        return V.convert(v, t)
    except ConversionError as e:
        raise FunctionError("Invalid operand", f"Unsuitable value for {side} operand: {e}.", index, "arg") from None


def op_call(fn: Function, args: list[Value]) -> Value:
    """Run an operator's function, failures worded as HCL's "Operation failed"."""
    for p, a in zip(fn.params, args):
        if a.v is None and not p.allow_null:
            raise FunctionError("Operation failed", "Error during operation: argument must not be null.", None, "call")
    try:
        return fn.impl(args)
    except (ArgError, CallError) as e:
        raise FunctionError("Operation failed", f"Error during operation: {e}.", None, "call") from None


# --------------------------------------------------------------------------
# Value helpers

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def to_int(v: Value) -> int:
    """gocty.FromCtyValue into a go int: whole and within int64."""
    n = v.v
    if V.is_integer(n):
        i = int(n)
        if INT64_MIN <= i <= INT64_MAX:
            return i
    raise ValueError(f"value must be a whole number, between {INT64_MIN} and {INT64_MAX}")


def int_arg(v: Value, index: int | None = None, prefix: str = "") -> int:
    """to_int, failing as an ArgError at `index` (or a CallError when None)."""
    try:
        return to_int(v)
    except ValueError as e:
        if index is None:
            raise CallError(prefix + str(e)) from None
        raise ArgError(index, prefix + str(e)) from None


def s(text: str) -> Value:
    """A string value (NFC)."""
    return V.string_val(text)


def n(num: Any) -> Value:
    """A number value."""
    return V.number_val(num)


def n64(num: int) -> Value:
    """An integer as cty.NumberIntVal makes it (64-bit precision)."""
    return Value(NUMBER, V.Int64(num))


@lru_cache(maxsize=1)
def _grapheme_re() -> Any:
    """The `regex` pattern of one grapheme cluster (imported on first use: most files never need it)."""
    import regex  # type: ignore[import-untyped,unused-ignore]

    return regex.compile(r"\X")


def graphemes(text: str) -> list[str]:
    """Extended grapheme clusters (textseg's ScanGraphemeClusters)."""
    if text.isascii() and "\r\n" not in text:
        return list(text)
    return list(_grapheme_re().findall(text))


def go_quote(text: str) -> str:
    """go's %q of a string (strconv.Quote), close enough for error messages."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# --------------------------------------------------------------------------
# Tables


def param(name: str, t: Type = STRING, allow_null: bool = False) -> Param:
    """A parameter, a string unless told otherwise."""
    return Param(name, t, allow_null)


STR_PARAMS = (param("str"),)

Row = tuple[str, tuple[Param, ...], Param | None, Impl]


def table(*rows: Row) -> Mapping[str, Function]:
    """A family's functions by name, from (name, params, var_param, impl) rows."""
    return {name: Function(name, params, var, impl, special=name in SPECIAL) for name, params, var, impl in rows}
