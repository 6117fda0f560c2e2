"""cty's arbitrary-precision number: go's big.Float as cty uses it.

Payloads are ``int`` (exact, literal precision), ``Int64`` (integers cty holds
at 64 bits), ``float`` (53-bit results of ``pow``/``log``), ``BigFloat`` (an
exact fraction with its binary precision) and ``NegZero`` (go's signed zero).
Arithmetic rounds to the precision go would keep (ToNearestEven), so decimal
formatting (big.Float ``Text('f', -1)``, the shortest decimal that rounds
back) and parsing (``big.ParseFloat`` base 10 at 512 bits) print what buildx
prints.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import cache
from typing import Any


class BigFloat(Fraction):
    """A non-integral number held exactly, with the binary precision go would keep."""

    __slots__ = ("prec",)
    prec: int

    @classmethod
    def make(cls, value: Fraction, prec: int) -> BigFloat:
        """Wrap an exact fraction (already rounded to `prec` bits)."""
        obj = cls(value.numerator, value.denominator)
        obj.prec = prec
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        # Fraction's own __reduce__ would drop `prec`
        return (_big_float, (self.numerator, self.denominator, self.prec))


def _big_float(numerator: int, denominator: int, prec: int) -> BigFloat:
    """Unpickle a BigFloat."""
    return BigFloat.make(Fraction(numerator, denominator), prec)


class NegZero(float):
    """Negative zero with the binary precision go would keep.

    go's big.Float has signed zeros: ``0 * -1``, ``0 / -5`` and ``-0`` are "-0"
    in buildx, and ``-0 + pow(2, 0.5)`` keeps the 512 bits of the literal.
    A plain ``float`` -0.0 (from ``pow`` and friends) is a 53-bit negative zero.
    """

    __slots__ = ("prec",)
    prec: int

    def __new__(cls, prec: int = 512) -> NegZero:
        obj = super().__new__(cls, -0.0)
        obj.prec = prec
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (NegZero, (self.prec,))

    def __repr__(self) -> str:
        return f"NegZero({self.prec})"


class Int64(int):
    """An integer cty holds at go's default integer precision (64 bits, or its bit length).

    cty.NumberIntVal and big.Float.SetInt make these (length(), strlen(), signum(),
    parseint(), int(), list indexes in for-expressions); dividing two of them rounds
    to 64 bits, where literals would keep 512: length(a) / length(b) prints
    0.33333333333333333334 in buildx.
    """

    __slots__ = ()


Number = int | float | BigFloat
LITERAL_PREC = 512  # cty.ParseNumberVal and hclsyntax parse numbers at 512 bits
FLOAT_PREC = 53


def _prec_of(n: Number) -> int:
    if isinstance(n, BigFloat):
        return n.prec
    if isinstance(n, float):
        return n.prec if type(n) is NegZero else FLOAT_PREC
    if isinstance(n, Int64):
        return max(64, abs(n).bit_length())
    return LITERAL_PREC


def _at_prec(result: Number, prec: int) -> Number:
    """Mark an integral result computed at less than literal precision as an Int64."""
    if prec < LITERAL_PREC and type(result) is int:
        return Int64(result)
    return result


def _round_to_prec(value: Fraction, prec: int) -> Number:
    """Round an exact rational to `prec` significant bits (ToNearestEven); normalise integers."""
    if value.denominator == 1:
        n = value.numerator
        if n.bit_length() <= prec:
            return n
    num, den = abs(value.numerator), value.denominator
    if num == 0:
        return 0
    # scale so that the integer quotient has exactly `prec` bits
    shift = prec - (num.bit_length() - den.bit_length())
    q, r = divmod(num << shift, den) if shift >= 0 else divmod(num, den << -shift)
    if q.bit_length() > prec:
        shift -= 1
        q, r = divmod(num << shift, den) if shift >= 0 else divmod(num, den << -shift)
    dv = den if shift >= 0 else den << -shift
    if 2 * r > dv or (2 * r == dv and q & 1):
        q += 1
    exact = Fraction(q, 1 << shift) if shift >= 0 else Fraction(q << -shift)
    if value < 0:
        exact = -exact
    if exact.denominator == 1:
        return exact.numerator
    return BigFloat.make(exact, prec)


def _exact(n: Number) -> Fraction:
    return n if isinstance(n, Fraction) else Fraction(n)


def is_negative(n: Number) -> bool:
    """The sign bit, as go's big.Float keeps it: true for negative numbers and negative zero."""
    return n < 0 or (n == 0 and isinstance(n, float) and math.copysign(1.0, n) < 0)


def _signed_zero(negative: bool, prec: int) -> Number:
    """A zero result with go's sign and precision."""
    if negative:
        return -0.0 if prec == FLOAT_PREC else NegZero(prec)
    return 0 if prec >= LITERAL_PREC else Int64(0)


def _is_inf(n: Number) -> bool:
    return isinstance(n, float) and math.isinf(n)


def num_add(a: Number, b: Number) -> Number:
    """a + b as cty computes it (precision is the larger of the operands')."""
    if type(a) is int and type(b) is int:
        return a + b
    if _is_inf(a) or _is_inf(b):
        if _is_inf(a) and _is_inf(b) and a != b:
            raise ArithmeticError("can't compute sum of opposing infinities")  # big.ErrNaN in go
        return a if _is_inf(a) else b
    if type(a) is float and type(b) is float:
        return a + b  # IEEE signed zeros follow the same rules as big.Float's
    prec = max(_prec_of(a), _prec_of(b))
    if a == 0 and b == 0:
        # big.Float: -0 + -0 is -0, every other sum of zeros is +0 (as is x + -x)
        return _signed_zero(is_negative(a) and is_negative(b), prec)
    return _at_prec(_round_to_prec(_exact(a) + _exact(b), prec), prec)


def num_neg(a: Number) -> Number:
    """-a; negating zero flips its sign, as big.Float.Neg does."""
    if type(a) is int:
        return -a if a else NegZero(LITERAL_PREC)
    if isinstance(a, BigFloat):
        return BigFloat.make(-a, a.prec)
    if isinstance(a, Int64):
        return Int64(-a) if a else NegZero(_prec_of(a))
    if type(a) is NegZero:
        return _signed_zero(False, a.prec)
    return -a


def num_sub(a: Number, b: Number) -> Number:
    """a - b (cty adds the negation)."""
    try:
        return num_add(a, num_neg(b))
    except ArithmeticError:
        raise ArithmeticError("can't subtract infinity from itself") from None


def num_mul(a: Number, b: Number) -> Number:
    """a * b: cty multiplies at 512 bits and keeps the exact product's precision."""
    if type(a) is int and type(b) is int:
        whole = a * b
        # a zero product is negative when exactly one factor is (0 * -1 is -0 in go)
        return whole if whole or (a | b) >= 0 else NegZero(LITERAL_PREC)
    if _is_inf(a) or _is_inf(b):
        if a == 0 or b == 0:
            raise ArithmeticError("can't multiply zero by infinity")
        return math.copysign(math.inf, (1 if a > 0 else -1) * (1 if b > 0 else -1))
    if a == 0 or b == 0:
        return _signed_zero(is_negative(a) != is_negative(b), max(_prec_of(a), _prec_of(b)))
    product = _exact(a) * _exact(b)
    rounded = _round_to_prec(product, LITERAL_PREC)
    prec = max(_prec_of(a), _prec_of(b), _min_prec(_exact(rounded)))
    if isinstance(rounded, BigFloat):
        rounded.prec = prec
    return _at_prec(rounded, prec)


class NilPointerPanic(ArithmeticError):
    """An operation where go's math/big dereferences a nil pointer (cty reports the panic)."""


# buildx follows this with go's stack trace
NIL_POINTER_PANIC = "panic in function implementation: runtime error: invalid memory address or nil pointer dereference"


def _min_prec(value: Fraction) -> int:
    """Bits needed to represent a dyadic rational exactly (big.Float.MinPrec)."""
    num = abs(value.numerator)
    if num == 0:
        return 0
    return (num >> ((num & -num).bit_length() - 1)).bit_length()


def num_div(a: Number, b: Number) -> Number:
    """a / b; dividing by zero gives an infinity, as in cty (signs follow big.Float.Quo)."""
    negative = is_negative(a) != is_negative(b)
    if b == 0:
        if a == 0:
            raise ArithmeticError("can't divide zero by zero or infinity by infinity")
        return -math.inf if negative else math.inf
    if _is_inf(a):
        if _is_inf(b):
            raise ArithmeticError("can't divide zero by zero or infinity by infinity")
        return -math.inf if negative else math.inf
    if type(a) is float and type(b) is float:
        return a / b  # IEEE signs match big.Float's
    prec = max(_prec_of(a), _prec_of(b))
    if a == 0 or _is_inf(b):
        return _signed_zero(negative, prec)
    return _at_prec(_round_to_prec(_exact(a) / _exact(b), prec), prec)


def num_mod(a: Number, b: Number) -> Number:
    """a % b with cty's semantics: the quotient is truncated toward zero."""
    if b == 0:
        return a  # cty returns the dividend when the divisor equals zero (either sign)
    if _is_inf(a) or _is_inf(b):
        # cty's shortcut for infinities compares pointers to its own constants, so
        # computed infinities go through the general algorithm and go panics
        if not _is_inf(b):
            raise NilPointerPanic(NIL_POINTER_PANIC)  # Float.Int of an infinite quotient is a nil big.Int
        raise ArithmeticError("can't use modulo with zero and infinity")  # inf * 0 or inf / inf
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q
        # go keeps the dividend's precision
        return _at_prec(int(a - q * b), _prec_of(a))
    quotient = num_div(a, b)
    truncated = int(quotient) if not isinstance(quotient, float) else int(math.trunc(quotient))
    if truncated:
        return num_sub(a, num_mul(truncated, b))
    if a == 0:
        # go computes a - b * (+0): the zero keeps a's sign only when b is positive
        return _signed_zero(is_negative(a) and not is_negative(b), _prec_of(a))
    return a


def num_cmp(a: Number, b: Number) -> int:
    """-1, 0 or 1."""
    return (a > b) - (a < b)


def is_integer(n: Number) -> bool:
    """True when the number has no fractional part (and is finite)."""
    if isinstance(n, int):
        return True
    if isinstance(n, float):
        return math.isfinite(n) and n.is_integer()
    return n.denominator == 1


@cache
def _number_syntax() -> re.Pattern[str]:
    """cty's number literal syntax, compiled on first use: runs that parse no number skip the compile."""
    return re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> Number | None:
    """cty.ParseNumberVal (big.ParseFloat base 10, 512 bits); None when invalid."""
    if _number_syntax().fullmatch(text) is None:
        if text in ("Inf", "+Inf", "inf", "+inf"):
            return math.inf
        if text in ("-Inf", "-inf"):
            return -math.inf
        return None
    if text.lstrip("+-").isdigit():
        whole_value = int(text)
        # big.Float keeps the sign of zero ("-0" prints as "-0")
        return NegZero(LITERAL_PREC) if whole_value == 0 and text.startswith("-") else whole_value
    mant, _, exp = text.lower().partition("e")
    neg = mant.startswith("-")
    mant = mant.lstrip("+-")
    whole, _, frac = mant.partition(".")
    digits = int((whole + frac) or "0")
    e10 = (int(exp) if exp else 0) - len(frac)
    if abs(e10) > 100000:  # go would build an enormous or tiny float; keep it bounded
        return None
    value = Fraction(digits * 10**e10) if e10 >= 0 else Fraction(digits, 10**-e10)
    if neg and value == 0:
        return NegZero(LITERAL_PREC)
    return _round_to_prec(-value if neg else value, LITERAL_PREC)


def _decimal_digits(m: int, e: int) -> tuple[str, int]:
    """Exact decimal of m * 2**e (m > 0) as (digits without trailing zeros, exp) with value 0.digits * 10**exp."""
    if e >= 0:
        s = str(m << e)
        point = len(s)
    else:
        s = str(m * 5**-e)
        point = len(s) + e
    stripped = s.rstrip("0")
    return (stripped or "0"), point


def _shortest_digits(value: Fraction, prec: int) -> tuple[str, int]:
    """Go's big.Float roundShortest: the shortest decimal that rounds back to `value` at `prec` bits."""
    num, den = value.numerator, value.denominator  # den is a power of two
    e = -(den.bit_length() - 1)
    mant = num
    # normalise so that mant has prec+1 bits (its lsb is half an ulp)
    s = mant.bit_length() - (prec + 1)
    if s < 0:
        mant <<= -s
    elif s > 0:
        mant >>= s
    e += s
    digits, point = _decimal_digits(num, -(den.bit_length() - 1))
    lower, lpoint = _decimal_digits(mant - 1, e)
    upper, upoint = _decimal_digits(mant + 1, e)
    inclusive = mant & 2 == 0
    # go's decimal type keeps digits and a decimal point; pad lower/upper to align like d.at(i)
    del lpoint, upoint
    for i, ch in enumerate(digits):
        m = ord(ch)
        lo = ord(lower[i]) if i < len(lower) else ord("0")
        up = ord(upper[i]) if i < len(upper) else ord("0")
        okdown = lo != m or (inclusive and i + 1 == len(lower))
        okup = m != up and (inclusive or m + 1 < up or i + 1 < len(upper))
        if okdown and okup:
            return round_decimal(digits, point, i + 1)
        if okdown:
            return _trim(digits[: i + 1], point)
        if okup:
            return _round_up(digits, point, i + 1)
    return digits, point


def _trim(digits: str, point: int) -> tuple[str, int]:
    stripped = digits.rstrip("0")
    return (stripped, point) if stripped else ("0", point)


def _round_up(digits: str, point: int, n: int) -> tuple[str, int]:
    head = digits[:n]
    i = len(head) - 1
    while i >= 0 and head[i] == "9":
        i -= 1
    if i < 0:
        return "1", point + 1
    return _trim(head[:i] + chr(ord(head[i]) + 1), point)


def round_decimal(digits: str, point: int, n: int) -> tuple[str, int]:
    """go's decimal.Round(n): keep n digits, half to even on an exact tie; trailing zeros dropped, "" for zero.

    The one decimal rounding: number printing here and `format`'s verbs
    (bakeplan.hcl.functions.format) both round with it.
    """
    if n < 0 or n >= len(digits):
        return digits, point
    nxt = digits[n]
    if nxt == "5" and n + 1 == len(digits):
        up = n > 0 and (ord(digits[n - 1]) - 48) % 2 == 1
    else:
        up = nxt >= "5"
    return _round_up(digits, point, n) if up else (digits[:n].rstrip("0"), point)


def format_number(n: Number) -> str:
    """big.Float.Text('f', -1): what cty prints when a number becomes a string."""
    if isinstance(n, int):
        return str(n)
    if isinstance(n, float):
        if math.isinf(n):
            return "+Inf" if n > 0 else "-Inf"
        if n.is_integer():
            return str(int(n)) if n != 0 or math.copysign(1, n) > 0 else "-0"
        value: Fraction = Fraction(n)
        prec = FLOAT_PREC
    else:
        assert isinstance(n, BigFloat)
        value, prec = n, n.prec
    digits, point = _shortest_digits(abs(value), prec)
    sign = "-" if value < 0 else ""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"
