"""format and formatlist (go-cty stdlib format.go).

go's printf verbs over cty values, with big.Float's text formatting (%e %f %g)
and big.Int's (%b %d %o %x).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    ArgError,
    CallError,
    Function,
    go_quote,
    graphemes,
    param,
    s,
    table,
)
from bakeplan.hcl.values import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    ConversionError,
    ListType,
    SetType,
    TupleType,
    Type,
    Value,
)
from bakeplan.record import record


def _go_quote_rune(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    q = go_quote(ch)[1:-1]
    return f"'{q}'" if q != '\\"' else "'\"'"


@record(frozen=False)
class _Verb:
    raw: str = ""
    offset: int = 0
    argnum: int = 0
    mode: str = ""
    zero: bool = False
    sharp: bool = False
    plus: bool = False
    minus: bool = False
    space: bool = False
    width: int = -1
    prec: int = -1


def format_string(fmt: str, args: Sequence[Value]) -> str:
    """cty's formatFSM; raises CallError/ArgError with cty's messages."""
    out: list[str] = []
    i, n_ = 0, len(fmt)
    next_arg, highest = 1, 0
    while i < n_:
        c = fmt[i]
        if c != "%":
            j = fmt.find("%", i)
            j = n_ if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        if i + 1 < n_ and fmt[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        verb, i = _scan_verb(fmt, i, next_arg)
        highest = max(highest, verb.argnum)
        out.append(_format_verb(verb, args))
        next_arg = verb.argnum + 1
    if highest < len(args):
        if highest == 0:
            raise ArgError(highest + 1, "too many arguments; no verbs in format string")
        raise ArgError(highest + 1, f"too many arguments; only {highest} used by format string")
    return "".join(out)


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode()) if not text.isascii() else i


def _scan_verb(fmt: str, start: int, next_arg: int) -> tuple[_Verb, int]:
    verb = _Verb(argnum=next_arg, offset=_byte_offset(fmt, start))
    i = start + 1
    n_ = len(fmt)
    while i < n_ and fmt[i] in "0#-+ ":
        flag = fmt[i]
        verb.zero |= flag == "0"
        verb.sharp |= flag == "#"
        verb.minus |= flag == "-"
        verb.plus |= flag == "+"
        verb.space |= flag == " "
        i += 1
    if i < n_ and fmt[i] in "123456789":
        j = i
        while j < n_ and fmt[j].isdigit() and fmt[j].isascii():
            j += 1
        verb.width = int(fmt[i:j])
        i = j
    if i < n_ and fmt[i] == ".":
        j = i + 1
        while j < n_ and fmt[j] in "0123456789":
            j += 1
        verb.prec = int(fmt[i + 1 : j] or "0")
        i = j
    if i < n_ and fmt[i] == "[":
        j = i + 1
        if j < n_ and fmt[j] in "123456789":
            while j < n_ and fmt[j] in "0123456789":
                j += 1
            verb.argnum = int(fmt[i + 1 : j])
            if j < n_ and fmt[j] == "]":
                i = j + 1
            else:
                _scan_fail(fmt, j)
        else:
            _scan_fail(fmt, j)
    if i < n_ and fmt[i].isascii() and fmt[i].isalpha():
        verb.mode = fmt[i]
        verb.raw = fmt[start : i + 1]
        return verb, i + 1
    _scan_fail(fmt, i)
    raise AssertionError("unreachable")


def _scan_fail(fmt: str, i: int) -> None:
    if i >= len(fmt):
        raise CallError(f"invalid format string starting at offset {_byte_offset(fmt, len(fmt))}")
    raise CallError(f"unrecognized format character {_go_quote_rune(fmt[i])} at offset {_byte_offset(fmt, i)}")


def _format_verb(verb: _Verb, args: Sequence[Value]) -> str:
    idx = verb.argnum - 1
    if idx >= len(args):
        raise CallError(
            f"not enough arguments for {go_quote(verb.raw)} at {verb.offset}: "
            f"need index {verb.argnum} but have {len(args)} total"
        )
    arg = args[idx]
    if verb.mode != "v" and arg.v is None:
        raise CallError(f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: null value cannot be formatted")
    m = verb.mode
    if m == "v":
        return _format_as_is(verb, arg)
    if m == "t":
        b = _verb_convert(verb, arg, BOOL)
        return "true" if b.v else "false"
    if m in "bdoxXeEfgG":
        num = _verb_convert(verb, arg, NUMBER).v
        if m in "bdoxX":
            return _format_integer(verb, num)
        return _format_float(verb, num)
    if m in "sq":
        return _format_str(verb, _verb_convert(verb, arg, STRING).v)
    raise CallError(f"unsupported format verb {_go_quote_rune(m)} in {go_quote(verb.raw)} at offset {verb.offset}")


def _verb_convert(verb: _Verb, arg: Value, t: Type) -> Value:
    try:
        return V.convert(arg, t)
    except ConversionError as e:
        raise CallError(f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: {e}") from None


def _pad(verb: _Verb, text: str) -> str:
    if verb.width < 0:
        return text
    have = len(graphemes(text))
    if have >= verb.width:
        return text
    pad = ("0" if verb.zero else " ") * (verb.width - have)
    return text + pad if verb.minus else pad + text


def _format_as_is(verb: _Verb, arg: Value) -> str:
    if not verb.sharp and arg.v is not None:
        if arg.type is STRING:
            return _pad(verb, arg.v)
        if arg.type is NUMBER:
            return _pad(verb, big_text(arg.v, "g", -1))
    try:
        return _pad(verb, V.json_encode(arg))
    except V.JSONError as e:
        raise CallError(f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: {e}") from None


def _format_str(verb: _Verb, text: str) -> str:
    if verb.prec > 0:
        text = "".join(graphemes(text)[: verb.prec])
    if verb.mode == "s":
        return _pad(verb, text)
    return _pad(verb, V.go_json_string(text))


def _format_integer(verb: _Verb, num: Any) -> str:
    if not V.is_integer(num):
        raise CallError(f"unsupported value for {go_quote(verb.raw)} at {verb.offset}: an integer is required")
    return go_format_int(int(num), verb.mode, verb.width, verb.prec, verb.plus, verb.space, verb.sharp, verb.minus, verb.zero)


def go_format_int(
    x: int, ch: str, width: int, prec: int, plus: bool, space: bool, sharp: bool, minus: bool, zero: bool
) -> str:
    """big.Int's fmt.Formatter."""
    digits = {"b": format(abs(x), "b"), "o": format(abs(x), "o"), "d": str(abs(x)), "x": format(abs(x), "x"), "X": format(abs(x), "X")}[ch]
    sign = "-" if x < 0 else "+" if plus else " " if space else ""
    prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(ch, "") if sharp else ""
    zeros = 0
    if prec >= 0:
        if len(digits) < prec:
            zeros = prec - len(digits)
        elif digits == "0" and prec == 0:
            return ""
    length = len(sign) + len(prefix) + zeros + len(digits)
    left = right = 0
    if width >= 0 and length < width:
        d = width - length
        if minus:
            right = d
        elif zero and prec < 0:
            zeros = d
        else:
            left = d
    return " " * left + sign + prefix + "0" * zeros + digits + " " * right


def _format_float(verb: _Verb, num: Any) -> str:
    """big.Float's fmt.Formatter for %e %E %f %g %G."""
    mode = verb.mode
    prec = verb.prec
    if prec < 0 and mode in "eEf":
        prec = 6
    body = big_text(num, mode, prec)
    sign = ""
    if body.startswith("-"):
        sign, body = "-", body[1:]
    elif body.startswith("+"):
        sign, body = ("+" if not verb.space else " "), body[1:]
    elif verb.plus:
        sign = "+"
    elif verb.space:
        sign = " "
    padding = max(verb.width - len(sign) - len(body), 0) if verb.width >= 0 else 0
    is_inf = isinstance(num, float) and math.isinf(num)
    if verb.zero and not is_inf:
        return sign + "0" * padding + body
    if verb.minus:
        return sign + body + " " * padding
    return " " * padding + sign + body


def _decimal_of(num: Any) -> tuple[str, int, int]:
    """(digits, exp, prec): the exact decimal 0.digits * 10**exp of |num| and its binary precision."""
    if isinstance(num, int):
        digits = str(abs(num)).rstrip("0")
        return (digits, len(str(abs(num))), V.LITERAL_PREC) if num else ("", 0, V.LITERAL_PREC)
    frac = Fraction(num)
    prec = num.prec if isinstance(num, V.BigFloat) else V.FLOAT_PREC
    if frac == 0:
        return "", 0, prec
    digits, point = V._decimal_digits(abs(frac.numerator), -(frac.denominator.bit_length() - 1))
    return digits, point, prec


def big_text(num: Any, fmt: str, prec: int) -> str:
    """big.Float.Text(fmt, prec) for 'e', 'E', 'f', 'g', 'G'."""
    if isinstance(num, float) and math.isinf(num):
        return "+Inf" if num > 0 else "-Inf"
    neg = num < 0 or (isinstance(num, float) and math.copysign(1, num) < 0 and num == 0)
    digits, exp, bits = _decimal_of(num)
    shortest = prec < 0
    if shortest:
        digits, exp, prec = _shortest_text_digits(num, digits, exp, bits, fmt)
    else:
        digits, exp, prec = _rounded_text_digits(digits, exp, fmt, prec)
    sign = "-" if neg else ""
    if fmt in "eE":
        return sign + _fmt_e(digits, exp, prec, fmt)
    if fmt == "f":
        return sign + _fmt_f(digits, exp, prec)
    return sign + _fmt_g(digits, exp, prec, fmt, shortest)


def _shortest_text_digits(num: Any, digits: str, exp: int, bits: int, fmt: str) -> tuple[str, int, int]:
    """(digits, exp, prec) for a negative precision: the shortest digits that read back as `num`."""
    if digits:
        frac = abs(Fraction(num))
        digits, exp = V._shortest_digits(frac, bits) if not isinstance(num, int) else _int_shortest(num)
    if fmt in "eE":
        prec = len(digits) - 1
    elif fmt == "f":
        prec = max(len(digits) - exp, 0)
    else:
        prec = len(digits)
    return digits, exp, prec


def _rounded_text_digits(digits: str, exp: int, fmt: str, prec: int) -> tuple[str, int, int]:
    """(digits, exp, prec) rounded to `prec` as the verb counts it (%g's 0 means 1)."""
    if fmt in "eE":
        digits, exp = V.round_decimal(digits, exp, 1 + prec)
    elif fmt == "f":
        digits, exp = V.round_decimal(digits, exp, exp + prec)
    else:
        if prec == 0:
            prec = 1
        digits, exp = V.round_decimal(digits, exp, prec)
    return digits, exp, prec


def _fmt_g(digits: str, exp: int, prec: int, fmt: str, shortest: bool) -> str:
    """%g / %G: %e for large and small exponents, %f otherwise (big.Float's rule)."""
    eprec = prec
    if eprec > len(digits) and len(digits) >= exp:
        eprec = len(digits)
    if shortest:
        eprec = 6
    x = exp - 1
    if x < -4 or x >= eprec:
        if prec > len(digits):
            prec = len(digits)
        return _fmt_e(digits, exp, prec - 1, "e" if fmt == "g" else "E")
    if prec > exp:
        prec = len(digits)
    return _fmt_f(digits, exp, max(prec - exp, 0))


def _int_shortest(num: int) -> tuple[str, int]:
    text = str(abs(num))
    if abs(num).bit_length() > V.LITERAL_PREC:
        return V._shortest_digits(Fraction(abs(num)), V.LITERAL_PREC)
    return text.rstrip("0"), len(text)


def _fmt_e(digits: str, exp: int, prec: int, e: str) -> str:
    first = digits[0] if digits else "0"
    out = first
    if prec > 0:
        more = digits[1 : prec + 1]
        out += "." + more + "0" * (prec - len(more))
    x = exp - 1 if digits else 0
    sign = "-" if x < 0 else "+"
    return f"{out}{e}{sign}{abs(x):02d}"


def _fmt_f(digits: str, exp: int, prec: int) -> str:
    if exp > 0:
        m = min(len(digits), exp)
        out = digits[:m] + "0" * (exp - m)
    else:
        out = "0"
    if prec > 0:
        frac = "".join(digits[exp + i] if 0 <= exp + i < len(digits) else "0" for i in range(prec))
        out += "." + frac
    return out


def _format(a: list[Value]) -> Value:
    return s(format_string(a[0].v, a[1:]))


def _formatlist(a: list[Value]) -> Value:
    fmt = a[0].v
    args = a[1:]
    if not args:
        return Value(ListType(STRING), (s(format_string(fmt, [])),))
    iter_len = -1
    chooser = -1
    seqs: list[tuple[Value, ...] | None] = []
    for i, arg in enumerate(args):
        t = arg.type
        if isinstance(t, (ListType, SetType, TupleType)) and arg.v is not None:
            this = len(arg.v)
            if iter_len == -1:
                iter_len, chooser = this, i
            elif this != iter_len:
                raise ArgError(
                    i + 1,
                    f"argument {i + 1} has length {this}, which is inconsistent with argument {chooser + 1} of length {iter_len}",
                )
            seqs.append(arg.v)
        else:
            seqs.append(None)
    if iter_len == 0:
        return Value(ListType(STRING), ())
    if iter_len == -1:
        iter_len = 1
    out = []
    for k in range(iter_len):
        call_args = [seq[k] if seq is not None else arg for seq, arg in zip(seqs, args)]
        try:
            out.append(s(format_string(fmt, call_args)))
        except (ArgError, CallError) as e:
            raise CallError(f"error on format iteration {k}: {e}") from None
    return Value(ListType(STRING), tuple(out))


TABLE: Mapping[str, Function] = table(
    ("format", (param("format"),), param("args", DYNAMIC, True), _format),
    ("formatlist", (param("format"),), param("args", DYNAMIC, True), _formatlist),
)
