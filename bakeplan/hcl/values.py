"""The cty-like value model: types, values, numbers, conversion, unification.

This mirrors zclconf/go-cty (the value system under HCL and buildx bake)
closely enough that evaluation results, conversion errors and number
formatting match real buildx.

API summary (for the evaluator and bake decoding)
-------------------------------------------------
Types (immutable, hashable, compare with ``==``):
    ``STRING``, ``NUMBER``, ``BOOL``, ``DYNAMIC`` (cty.DynamicPseudoType, "any"),
    ``ListType(elem)``, ``SetType(elem)``, ``MapType(elem)``,
    ``TupleType((t1, t2, ...))``, ``ObjectType({"name": t, ...}, optional=frozenset())``.
    ``friendly_name(t)`` gives cty's English name ("list of string").
    ``CapsuleType("bytes")`` stands for stdlib's bytes type (never constructible).

Values: ``Value(type, v)`` with two slots, ``.type`` and ``.v`` (the payload):
    - STRING: ``str`` (always NFC; build with ``string_val``)
    - NUMBER: ``int`` (exact integers, literal precision: 512 bits), ``Int64``
      (an ``int`` subclass: integers cty holds at 64 bits, from length(),
      strlen(), int(), list indexes...), ``float`` (a 53-bit go float, from
      ``pow``/``log``), or ``BigFloat`` (a ``Fraction`` with a binary precision,
      normally 512 bits as cty parses literals), or ``NegZero`` (go's negative
      zero, a ``float`` -0.0 carrying its precision: ``0 * -1`` prints "-0";
      a plain ``float`` -0.0 is a 53-bit one). Build with ``number_val``;
      test integrality with ``is_integer``, never ``type(x) is int``; test the
      sign with ``is_negative`` (true for negative zero).
    - BOOL: ``bool`` (use ``TRUE``/``FALSE``)
    - LIST / SET / TUPLE: ``tuple[Value, ...]`` (sets are deduplicated and kept in
      cty's set order: strings lexically, numbers numerically)
    - MAP / OBJECT: ``dict[str, Value]`` whose keys are always in sorted order
      (cty iterates maps and objects by sorted key). Build with
      ``object_val``/``map_val`` which sort; never mutate a payload.
    - null: ``v is None`` with any type. ``NULL`` is the untyped ``null`` literal
      (DYNAMIC null). ``null_val(t)`` makes a typed null.
    Unknown values and marks do not exist here (bake never needs them).
    Values and types pickle safely: ``STRING``/``NUMBER``/``BOOL``/``DYNAMIC``
    unpickle to the same singletons, so ``t is STRING`` keeps working.
    ``Value.__eq__`` is structural identity (type and payload), like cty's
    RawEquals; the HCL ``==`` operator is ``equals(a, b)``.

Constructors: ``string_val``, ``number_val``, ``bool_val``, ``null_val``,
``list_val(elems, elem_type=None)``, ``set_val``, ``tuple_val``, ``map_val``,
``object_val``, ``EMPTY_TUPLE``, ``EMPTY_OBJECT``.

Conversion: ``convert(value, type) -> Value`` (cty's unsafe ``convert.Convert``,
which HCL uses for function arguments, operands, templates and variable
types); raises ``ConversionError`` whose ``str()`` is cty's exact message
("string required", "a number is required", ...). ``can_convert(in, out)``
tests at the type level. ``unify(types) -> Type | None`` is
``convert.UnifyUnsafe`` (conditionals, collection literals); ``unify_values``
converts a sequence of values to their unified type.

Numbers: ``parse_number(str) -> payload`` (cty.ParseNumberVal: base 10, 512
bits), ``format_number(payload) -> str`` (big.Float ``Text('f', -1)``, so 1.0
prints "1" and 10/3 prints 155 digits like buildx), and the arithmetic
``num_add``, ``num_sub``, ``num_mul``, ``num_div`` (raises ``ArithmeticError``
with cty's message for 0/0), ``num_mod`` (truncating, as cty), ``num_neg``,
``num_cmp``; zero results get big.Float's sign (``num_neg(0)`` is -0). Errors
are ``ArithmeticError`` with the message HCL reports. Infinity is
``float('inf')`` and prints "+Inf".

Helpers: ``equals(a, b) -> bool`` (cty Equals: nulls equal each other, types
must match), ``to_python(value)`` (JSON-compatible data; non-integral numbers
become ``float``), ``from_python(obj)`` (JSON data -> value of the implied type:
objects and tuples, as ``jsondecode``), ``json_encode(value)`` (cty JSON:
sorted keys, HTML-safe escaping), ``json_decode(text)``, ``iter_elements(value)``
(key/value pairs as a for-expression sees them), ``length_of(value)``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, Union

# --------------------------------------------------------------------------
# Types


class Type:
    """Base of all cty types."""

    __slots__ = ()

    def is_primitive(self) -> bool:
        """True for string, number and bool."""
        return isinstance(self, PrimitiveType)

    def is_collection(self) -> bool:
        """True for list, set and map types."""
        return isinstance(self, (ListType, SetType, MapType))

    def has_dynamic(self) -> bool:
        """True when DYNAMIC appears anywhere in this type."""
        return False


class PrimitiveType(Type):
    """string, number or bool."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name.upper()

    def __reduce__(self) -> str:
        # unpickle to the module's singleton: types are compared with `is` on hot paths
        return self.name.upper()


class _DynamicType(Type):
    """cty.DynamicPseudoType: "any type", also the type of the `null` literal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DYNAMIC"

    def __reduce__(self) -> str:
        return "DYNAMIC"  # the singleton, as for primitive types

    def has_dynamic(self) -> bool:
        return True


STRING = PrimitiveType("string")
NUMBER = PrimitiveType("number")
BOOL = PrimitiveType("bool")
DYNAMIC = _DynamicType()


class _CollectionType(Type):
    __slots__ = ("elem", "_hash")

    def __init__(self, elem: Type) -> None:
        self.elem = elem
        self._hash = hash((type(self).__name__, elem))

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self.elem == other.elem)  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.elem!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild rather than restore `_hash`: string hashes differ between processes
        return (type(self), (self.elem,))

    def has_dynamic(self) -> bool:
        return self.elem.has_dynamic()


class ListType(_CollectionType):
    """list(elem)."""

    __slots__ = ()


class SetType(_CollectionType):
    """set(elem)."""

    __slots__ = ()


class MapType(_CollectionType):
    """map(elem)."""

    __slots__ = ()


class TupleType(Type):
    """tuple([t1, t2, ...])."""

    __slots__ = ("elems", "_hash")

    def __init__(self, elems: Iterable[Type]) -> None:
        self.elems: tuple[Type, ...] = tuple(elems)
        self._hash = hash(("tuple", self.elems))

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is TupleType and self.elems == other.elems)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"TupleType({list(self.elems)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TupleType, (self.elems,))

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.elems)


class ObjectType(Type):
    """object({name = type, ...}); `optional` names optional attributes (type constraints only)."""

    __slots__ = ("attrs", "optional", "_hash")

    def __init__(self, attrs: Mapping[str, Type], optional: frozenset[str] = frozenset()) -> None:
        self.attrs: dict[str, Type] = {k: attrs[k] for k in sorted(attrs)}
        self.optional = optional
        self._hash = hash(("object", tuple(self.attrs.items()), optional))

    def __eq__(self, other: object) -> bool:
        return self is other or (
            type(other) is ObjectType and self.attrs == other.attrs and self.optional == other.optional
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"ObjectType({self.attrs!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ObjectType, (self.attrs, self.optional))

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.attrs.values())


class CapsuleType(Type):
    """An opaque go type (only stdlib's `bytes`, which bake files cannot construct)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"CapsuleType({self.name!r})"


EMPTY_OBJECT_TYPE = ObjectType({})
EMPTY_TUPLE_TYPE = TupleType(())


def friendly_name(t: Type, constraint: bool = False) -> str:
    """cty's FriendlyName ("list of string"); `constraint` uses "any" for DYNAMIC."""
    if t is DYNAMIC:
        return "any type" if constraint else "dynamic"
    if isinstance(t, PrimitiveType):
        return t.name
    if isinstance(t, ListType):
        return "list of " + friendly_name(t.elem, constraint)
    if isinstance(t, SetType):
        return "set of " + friendly_name(t.elem, constraint)
    if isinstance(t, MapType):
        return "map of " + friendly_name(t.elem, constraint)
    if isinstance(t, TupleType):
        return "tuple"
    if isinstance(t, CapsuleType):
        return t.name
    return "object"


def without_optional(t: Type) -> Type:
    """The type with optional-attribute markers removed, deeply."""
    if isinstance(t, ObjectType):
        return ObjectType({k: without_optional(v) for k, v in t.attrs.items()})
    if isinstance(t, _CollectionType):
        return type(t)(without_optional(t.elem))
    if isinstance(t, TupleType):
        return TupleType(without_optional(e) for e in t.elems)
    return t


# --------------------------------------------------------------------------
# Numbers (emulating go's big.Float as cty uses it)


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


Number = Union[int, float, BigFloat]
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


_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(text: str) -> Number | None:
    """cty.ParseNumberVal (big.ParseFloat base 10, 512 bits); None when invalid."""
    if _NUMBER_RE.fullmatch(text) is None:
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
            return _round_digits(digits, point, i + 1)
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


def _round_digits(digits: str, point: int, n: int) -> tuple[str, int]:
    if n >= len(digits):
        return digits, point
    nxt = digits[n]
    if nxt == "5" and n + 1 == len(digits):
        up = n > 0 and (ord(digits[n - 1]) - 48) % 2 == 1
    else:
        up = nxt >= "5"
    return _round_up(digits, point, n) if up else _trim(digits[:n], point)


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


# --------------------------------------------------------------------------
# Values


class Value:
    """A cty value: a type and a payload (see the module docstring for payload shapes)."""

    __slots__ = ("type", "v")

    def __init__(self, type: Type, v: Any) -> None:  # noqa: A002 - mirrors cty's field name
        self.type = type
        self.v = v

    @property
    def is_null(self) -> bool:
        """True for a (typed or untyped) null."""
        return self.v is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self.type == other.type and self.v == other.v

    def __hash__(self) -> int:
        v = self.v
        if isinstance(v, dict):
            return hash((self.type, tuple(v.items())))
        return hash((self.type, v))

    def __repr__(self) -> str:
        return f"Value({self.type!r}, {self.v!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Value, (self.type, self.v))  # smaller and faster than the generic __slots__ state


TRUE = Value(BOOL, True)
FALSE = Value(BOOL, False)
NULL = Value(DYNAMIC, None)
EMPTY_STRING = Value(STRING, "")
EMPTY_TUPLE = Value(EMPTY_TUPLE_TYPE, ())
EMPTY_OBJECT = Value(EMPTY_OBJECT_TYPE, {})


def nfc(s: str) -> str:
    """NFC-normalise a string as cty.StringVal does (fast for ASCII)."""
    if s.isascii() or unicodedata.is_normalized("NFC", s):
        return s
    return unicodedata.normalize("NFC", s)


def string_val(s: str) -> Value:
    """A string value (NFC-normalised)."""
    return Value(STRING, nfc(s))


def number_val(n: int | float | Fraction) -> Value:
    """A number value; Fractions are rounded to 512 bits, integral values become int."""
    if type(n) is int:
        return Value(NUMBER, n)
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, BigFloat):
        return Value(NUMBER, n.numerator if n.denominator == 1 else n)
    if isinstance(n, Fraction):
        return Value(NUMBER, _round_to_prec(n, LITERAL_PREC))
    if isinstance(n, float) and math.isnan(n):
        raise ArithmeticError("NaN is not a number in cty")
    return Value(NUMBER, n)


def bool_val(b: bool) -> Value:
    """TRUE or FALSE."""
    return TRUE if b else FALSE


def null_val(t: Type) -> Value:
    """A null of type t."""
    return NULL if t is DYNAMIC else Value(t, None)


def tuple_val(elems: Sequence[Value]) -> Value:
    """A tuple of the given elements."""
    elems = tuple(elems)
    return Value(TupleType(e.type for e in elems), elems)


def object_val(attrs: Mapping[str, Value]) -> Value:
    """An object with the given attributes (stored in sorted key order)."""
    items = {k: attrs[k] for k in sorted(attrs)}
    return Value(ObjectType({k: v.type for k, v in items.items()}), items)


def list_val(elems: Sequence[Value], elem_type: Type | None = None) -> Value:
    """A list; all elements must already have type `elem_type` (or the first one's)."""
    elems = tuple(elems)
    if elem_type is None:
        if not elems:
            raise ValueError("list_val of no elements needs elem_type")
        elem_type = elems[0].type
    return Value(ListType(elem_type), elems)


def map_val(elems: Mapping[str, Value], elem_type: Type | None = None) -> Value:
    """A map; all elements must already have type `elem_type` (or a common one)."""
    items = {k: elems[k] for k in sorted(elems)}
    if elem_type is None:
        if not items:
            raise ValueError("map_val of no elements needs elem_type")
        elem_type = next(iter(items.values())).type
    return Value(MapType(elem_type), items)


def set_val(elems: Iterable[Value], elem_type: Type | None = None) -> Value:
    """A set: duplicates removed, elements in cty's set order."""
    unique: dict[Value, None] = {}
    for e in elems:
        unique.setdefault(e, None)
    ordered = sorted(unique, key=_set_sort_key)
    if elem_type is None:
        if not ordered:
            raise ValueError("set_val of no elements needs elem_type")
        elem_type = ordered[0].type
    return Value(SetType(elem_type), tuple(ordered))


def _set_sort_key(v: Value) -> tuple[int, Any]:
    # cty: nulls sort last; strings lexically, numbers numerically, false < true, others by hash bytes
    if v.v is None:
        return (2, "")
    t = v.type
    if t is STRING or t is BOOL:
        return (0, v.v)
    if t is NUMBER:
        return (0, _exact(v.v) if not _is_inf(v.v) else v.v)
    return (1, _set_hash_text(v))


def _set_hash_text(v: Value) -> str:
    if v.v is None:
        return "~"
    t = v.type
    if t is NUMBER:
        return format_number(v.v)
    if t is BOOL:
        return "T" if v.v else "F"
    if t is STRING:
        return json.dumps(v.v)
    if isinstance(t, MapType):
        return "{" + "".join(f"{json.dumps(k)}:{_set_hash_text(e)};" for k, e in v.v.items()) + "}"
    if isinstance(t, (ListType, SetType)):
        return "[" + "".join(_set_hash_text(e) + ";" for e in v.v) + "]"
    elems = v.v.values() if isinstance(t, ObjectType) else v.v
    return "<" + "".join(_set_hash_text(e) + ";" for e in elems) + ">"


def elem_type_of(t: Type) -> Type:
    """Element type of a list, set or map type."""
    assert isinstance(t, _CollectionType)
    return t.elem


# --------------------------------------------------------------------------
# Equality and iteration


def equals(a: Value, b: Value) -> bool:
    """cty's Value.Equals: nulls equal each other regardless of type; otherwise types must match."""
    if a.v is None or b.v is None:
        return a.v is None and b.v is None
    if a.type != b.type:
        return False
    t = a.type
    if t is NUMBER or t is STRING or t is BOOL:
        return bool(a.v == b.v)
    if isinstance(t, (ObjectType, MapType)):
        if a.v.keys() != b.v.keys():
            return False
        return all(equals(a.v[k], b.v[k]) for k in a.v)
    if len(a.v) != len(b.v):
        return False
    return all(equals(x, y) for x, y in zip(a.v, b.v))


def iter_elements(v: Value) -> Iterator[tuple[Value, Value]]:
    """(key, value) pairs of a list/tuple/set (index keys; sets key by value) or map/object (sorted keys)."""
    if isinstance(v.v, dict):
        for k, e in v.v.items():
            yield Value(STRING, k), e
    elif isinstance(v.type, SetType):
        for e in v.v:
            yield e, e
    else:
        for i, e in enumerate(v.v):
            yield Value(NUMBER, Int64(i)), e


def length_of(v: Value) -> int:
    """Number of elements of a collection or structural value."""
    return len(v.v)


def is_iterable(t: Type) -> bool:
    """True for collection and structural types (what for-expressions accept)."""
    return isinstance(t, (_CollectionType, TupleType, ObjectType))


# --------------------------------------------------------------------------
# Conversion


class ConversionError(Exception):
    """A value cannot be converted; str() is cty's message, e.g. "string required"."""


Conversion = Callable[[Value], Value]


def convert(value: Value, want: Type) -> Value:
    """cty convert.Convert (unsafe conversions allowed, as HCL uses it)."""
    vt = value.type
    if vt is want or vt == want:
        return value
    conv = get_conversion(vt, want, True)
    if conv is None:
        raise ConversionError(mismatch_message(vt, want))
    return conv(value)


def can_convert(have: Type, want: Type, unsafe: bool = True) -> bool:
    """Whether a conversion exists at the type level."""
    return have == want or get_conversion(have, want, unsafe) is not None


@lru_cache(maxsize=4096)
def get_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    """The conversion from `have` to `want`, or None (cty getConversion, with null handling)."""
    known = _get_conversion_known(have, want, unsafe)
    if known is None:
        return None
    if want is DYNAMIC:
        return _identity
    plain_want = without_optional(want)

    def conv(v: Value) -> Value:
        if v.v is None:
            return null_val(_dynamic_replace(v.type, plain_want))
        return known(v)

    return conv


def _identity(v: Value) -> Value:
    return v


def _get_conversion_known(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    if want is DYNAMIC:
        return _identity
    if have is DYNAMIC:
        return _dynamic_fixup(want) if unsafe else None
    if isinstance(have, PrimitiveType) and isinstance(want, PrimitiveType):
        return _primitive_conversion(have, want, unsafe)
    if isinstance(want, ObjectType) and isinstance(have, ObjectType):
        return _object_to_object(have, want, unsafe)
    if isinstance(want, TupleType) and isinstance(have, TupleType):
        return _tuple_to_tuple(have, want, unsafe)
    if isinstance(want, ListType) and isinstance(have, (ListType, SetType)):
        if have.elem == want.elem:
            return _collection_to_list(want.elem, None)
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_list(want.elem, c)
    if isinstance(want, SetType) and isinstance(have, (ListType, SetType)):
        if isinstance(have, ListType) and not unsafe:
            return None
        if have.elem == want.elem:
            return _collection_to_set(want.elem, None)
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_set(want.elem, c)
    if isinstance(want, MapType) and isinstance(have, MapType):
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_map(want.elem, c)
    if isinstance(want, ListType) and isinstance(have, TupleType):
        return _tuple_to_list(have, want.elem, unsafe)
    if isinstance(want, SetType) and isinstance(have, TupleType):
        return _tuple_to_set(have, want.elem, unsafe)
    if isinstance(want, MapType) and isinstance(have, ObjectType):
        return _object_to_map(have, want.elem, unsafe)
    if isinstance(want, ObjectType) and isinstance(have, MapType):
        return _map_to_object(have, want, unsafe) if unsafe else None
    return None


def _dynamic_fixup(want: Type) -> Conversion:
    def conv(v: Value) -> Value:
        return convert(v, want)

    return conv


def _num_to_str(v: Value) -> Value:
    return Value(STRING, format_number(v.v))


def _bool_to_str(v: Value) -> Value:
    return Value(STRING, "true" if v.v else "false")


def _str_to_num(v: Value) -> Value:
    n = parse_number(v.v)
    if n is None:
        raise ConversionError("a number is required")
    return Value(NUMBER, n)


def _str_to_bool(v: Value) -> Value:
    s = v.v
    if s in ("true", "1"):
        return TRUE
    if s in ("false", "0"):
        return FALSE
    low = s.lower()
    if low in ("true", "false"):
        raise ConversionError(f'a bool is required; to convert from string, use lowercase "{low}"')
    raise ConversionError("a bool is required")


def _primitive_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    if have is want:
        return _identity
    if want is STRING:
        return _num_to_str if have is NUMBER else _bool_to_str
    if not unsafe or have is not STRING:
        return None
    return _str_to_num if want is NUMBER else _str_to_bool


def _collection_to_list(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = tuple(conv(e) for e in v.v) if conv is not None else v.v
        if not elems:
            return Value(ListType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), ())
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to list")
        return Value(ListType(et), elems)

    return run


def _collection_to_set(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = tuple(conv(e) for e in v.v) if conv is not None else v.v
        if not elems:
            return Value(SetType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), ())
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to set")
        return set_val(elems, et)

    return run


def _collection_to_map(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = {k: conv(e) for k, e in v.v.items()} if conv is not None else dict(v.v)
        if not elems:
            return Value(MapType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), {})
        if isinstance(ety, (_CollectionType, ObjectType)):
            elems = _unify_elements(elems)
        return _make_map_checked(elems, "element types must all match for conversion to map")

    return run


def _make_map_checked(elems: dict[str, Value], message: str) -> Value:
    types = {e.type for e in elems.values()}
    if len(types) != 1:
        raise ConversionError(message)
    return Value(MapType(next(iter(types))), elems)


def _unify_elements(elems: dict[str, Value]) -> dict[str, Value]:
    target = unify([e.type for e in elems.values()])
    if target is None:
        raise ConversionError("cannot find a common base type for all elements")
    return {k: (e if e.type == target else _must_conv(e, target)) for k, e in elems.items()}


def _must_conv(v: Value, t: Type) -> Value:
    c = get_conversion(v.type, t, True)
    if c is None:  # cty would panic here; report the mismatch instead
        raise ConversionError(mismatch_message(v.type, t))
    return c(v)


def _unify_for_collection(etys: Sequence[Type], ety: Type, unsafe: bool) -> Type | None:
    if ety is not DYNAMIC:
        return ety
    unified = _unify(etys, unsafe)
    if unified is None:
        return None
    if unified is DYNAMIC and any(t is not DYNAMIC for t in etys):
        return None
    return unified


def _elem_convs(etys: Sequence[Type], target: Type, unsafe: bool) -> list[Conversion | None] | None:
    convs: list[Conversion | None] = []
    for t in etys:
        if t == target:
            convs.append(None)
            continue
        c = get_conversion(t, target, unsafe)
        if c is None:
            return None
        convs.append(c)
    return convs


def _tuple_to_list(have: TupleType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.elems:
        return lambda v: Value(ListType(without_optional(ety)), ())
    target = _unify_for_collection(have.elems, ety, unsafe)
    if target is None:
        return None
    convs = _elem_convs(have.elems, target, unsafe)
    if convs is None:
        return None

    def run(v: Value) -> Value:
        elems = [e if c is None else c(e) for e, c in zip(v.v, convs)]
        unified = unify([e.type for e in elems])
        if unified is None:
            raise ConversionError("cannot find a common base type for all elements")
        elems = [e if e.type == unified else _must_conv(e, unified) for e in elems]
        if any(e.type != unified for e in elems):
            raise ConversionError("element types must all match for conversion to list")
        return Value(ListType(unified), tuple(elems))

    return run


def _tuple_to_set(have: TupleType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.elems:
        return lambda v: Value(SetType(without_optional(ety)), ())
    target = _unify_for_collection(have.elems, ety, unsafe)
    if target is None:
        return None
    convs = _elem_convs(have.elems, target, unsafe)
    if convs is None:
        return None

    def run(v: Value) -> Value:
        elems = [e if c is None else c(e) for e, c in zip(v.v, convs)]
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to set")
        return set_val(elems, et)

    return run


def _object_to_map(have: ObjectType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.attrs:
        return lambda v: Value(MapType(without_optional(ety)), {})
    target = ety
    if ety is DYNAMIC:
        unified = _unify(list(have.attrs.values()), unsafe)
        if unified is None:
            return None
        target = unified
    convs: dict[str, Conversion | None] = {}
    for name, t in have.attrs.items():
        if t == target:
            convs[name] = None
            continue
        c = get_conversion(t, target, unsafe)
        if c is None:
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        elems = {k: (e if convs.get(k) is None else convs[k](e)) for k, e in v.v.items()}  # type: ignore[misc]
        if isinstance(target, (_CollectionType, ObjectType)):
            elems = _unify_elements(elems)
        return _make_map_checked(elems, "attribute types must all match for conversion to map")

    return run


def _object_to_object(have: ObjectType, want: ObjectType, unsafe: bool) -> Conversion | None:
    convs: dict[str, Conversion | None] = {}
    for name, out_t in want.attrs.items():
        in_t = have.attrs.get(name)
        if in_t is None:
            if name in want.optional:
                continue
            return None
        if in_t == out_t:
            convs[name] = None
            continue
        c = get_conversion(in_t, out_t, unsafe)
        if c is None:
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        out: dict[str, Value] = {}
        for name, e in v.v.items():
            if name not in convs:
                continue
            c = convs[name]
            out[name] = e if c is None else c(e)
        for name in want.optional:
            if name not in out:
                out[name] = null_val(without_optional(want.attrs[name]))
        return object_val(out)

    return run


def _tuple_to_tuple(have: TupleType, want: TupleType, unsafe: bool) -> Conversion | None:
    if len(have.elems) != len(want.elems):
        return None
    convs: list[Conversion | None] = []
    for in_t, out_t in zip(have.elems, want.elems):
        if in_t == out_t:
            convs.append(None)
            continue
        c = get_conversion(in_t, out_t, unsafe)
        if c is None:
            return None
        convs.append(c)

    def run(v: Value) -> Value:
        return tuple_val([e if c is None else c(e) for e, c in zip(v.v, convs)])

    return run


def _map_to_object(have: MapType, want: ObjectType, unsafe: bool) -> Conversion | None:
    convs: dict[str, Conversion | None] = {}
    for name, t in want.attrs.items():
        if t == have.elem:
            convs[name] = None
            continue
        c = get_conversion(have.elem, t, unsafe)
        if c is None:
            if name in want.optional and unsafe:
                continue
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        out: dict[str, Value] = {}
        for name, e in v.v.items():
            if name not in want.attrs:
                continue
            if name in convs:
                c = convs[name]
                out[name] = e if c is None else c(e)
            else:
                msg = mismatch_message(e.type, want.attrs[name])
                raise ConversionError(f'map element type is incompatible with attribute "{name}": {msg}')
        for name, t in want.attrs.items():
            if name not in out:
                if name in want.optional:
                    out[name] = null_val(t)
                else:
                    raise ConversionError(f'map has no element for required attribute "{name}"')
        return object_val(out)

    return run


def _dynamic_replace(have: Type, want: Type) -> Type:
    """The concrete type a null of type `have` takes when converted to `want` (cty dynamicReplace)."""
    if have is DYNAMIC:
        return want
    if want is DYNAMIC:
        return have
    if isinstance(want, PrimitiveType):
        return want
    if isinstance(want, MapType):
        if isinstance(have, MapType):
            return MapType(_dynamic_replace(have.elem, want.elem))
        if isinstance(have, ObjectType):
            u = _unify(list(have.attrs.values()), True)
            return MapType(_dynamic_replace(u or DYNAMIC, want.elem))
        return want
    if isinstance(want, ObjectType):
        out: dict[str, Type] = {}
        for name, t in want.attrs.items():
            if isinstance(have, MapType):
                out[name] = _dynamic_replace(have.elem, t)
            elif isinstance(have, ObjectType):
                out[name] = _dynamic_replace(have.attrs[name], t) if name in have.attrs else t
        return ObjectType(out)
    if isinstance(want, (SetType, ListType)):
        ctor = type(want)
        if isinstance(have, (SetType, ListType)):
            return ctor(_dynamic_replace(have.elem, want.elem))
        if isinstance(have, TupleType):
            u = _unify(have.elems, True)
            return ctor(_dynamic_replace(u or DYNAMIC, want.elem))
        return want
    if isinstance(want, TupleType) and isinstance(have, TupleType):
        return TupleType(_dynamic_replace(h, w) for h, w in zip(have.elems, want.elems))
    return want


# --------------------------------------------------------------------------
# Mismatch messages (cty convert.MismatchMessage)


def mismatch_message(got: Type, want: Type) -> str:
    """cty's explanation of why `got` cannot become `want`."""
    if isinstance(got, ObjectType) and isinstance(want, ObjectType):
        return _mismatch_objects(got, want)
    if isinstance(got, TupleType) and isinstance(want, ListType) and want.elem is DYNAMIC:
        return "all list elements must have the same type"
    if isinstance(got, TupleType) and isinstance(want, SetType) and want.elem is DYNAMIC:
        return "all set elements must have the same type"
    if isinstance(got, ObjectType) and isinstance(want, MapType) and want.elem is DYNAMIC:
        return "all map elements must have the same type"
    if isinstance(got, (TupleType, ObjectType)) and want.is_collection():
        return _mismatch_from_structural(got, want)
    if got.is_collection() and want.is_collection():
        return _mismatch_collections(got, want)
    if not _likely_confusing(got, want):
        return f"{friendly_name(want)} required, but have {friendly_name(got)}"
    return friendly_name(want, True) + " required"


def _likely_confusing(got: Type, want: Type) -> bool:
    if got.is_primitive() != want.is_primitive():
        return False
    if want is STRING:
        return False
    if (want is BOOL and got is NUMBER) or (got is BOOL and want is NUMBER):
        return False
    if (
        isinstance(got, _CollectionType)
        and isinstance(want, _CollectionType)
        and not got.elem.has_dynamic()
        and want.elem.has_dynamic()
    ):
        return False
    if isinstance(got, TupleType) and isinstance(want, ObjectType):
        return False
    return True


def _mismatch_objects(got: ObjectType, want: ObjectType) -> str:
    missing = []
    unsafe_msg = ""
    safe_msg = ""
    for name, want_t in want.attrs.items():
        got_t = got.attrs.get(name)
        if got_t is None:
            if name not in want.optional:
                missing.append(name)
            continue
        if got_t == want_t or unsafe_msg:
            continue
        if get_conversion(got_t, want_t, True) is None:
            unsafe_msg = f'attribute "{name}": {mismatch_message(got_t, want_t)}'
        if safe_msg:
            continue
        if get_conversion(got_t, want_t, False) is None:
            safe_msg = f'attribute "{name}": {mismatch_message(got_t, want_t)}'
    if missing:
        missing.sort()
        quoted = [json.dumps(m) for m in missing]
        if len(quoted) == 1:
            return f"attribute {quoted[0]} is required"
        if len(quoted) == 2:
            return f"attributes {quoted[0]} and {quoted[1]} are required"
        return f"attributes {', '.join(quoted[:-1])}, and {quoted[-1]} are required"
    return unsafe_msg or safe_msg or "incorrect object attributes"


def _mismatch_from_structural(got: Type, want: Type) -> str:
    assert isinstance(want, _CollectionType)
    if isinstance(want, (ListType, SetType)) and not isinstance(got, TupleType):
        return friendly_name(want, True) + " required"
    if isinstance(want, MapType) and not isinstance(got, ObjectType):
        return friendly_name(want, True) + " required"
    if isinstance(got, TupleType):
        for i, t in enumerate(got.elems):
            if t == want.elem or get_conversion(t, want.elem, True) is not None:
                continue
            return f"element {i}: {mismatch_message(t, want.elem)}"
    elif isinstance(got, ObjectType):
        for name, t in got.attrs.items():
            if t == want.elem or get_conversion(t, want.elem, True) is not None:
                continue
            return f"element {json.dumps(name)}: {mismatch_message(t, want.elem)}"
    return f"all elements must be {friendly_name(want.elem, True)}"


def _mismatch_collections(got: Type, want: Type) -> str:
    assert isinstance(want, _CollectionType) and isinstance(got, _CollectionType)
    if isinstance(want, (ListType, SetType)) and not isinstance(got, (ListType, SetType)):
        return friendly_name(want, True) + " required"
    if isinstance(want, MapType) and not isinstance(got, MapType):
        return friendly_name(want, True) + " required"
    noun = {ListType: "list element type", SetType: "set element type", MapType: "map element type"}[type(want)]
    return f"incorrect {noun}: {mismatch_message(got.elem, want.elem)}"


# --------------------------------------------------------------------------
# Unification (cty convert.UnifyUnsafe)


def unify(types: Sequence[Type]) -> Type | None:
    """The type all of `types` can convert to (unsafe unification), or None."""
    if types and all(t == types[0] for t in types):
        return types[0]
    return _unify(tuple(types), True)


def unify_values(values: Sequence[Value]) -> list[Value] | None:
    """Convert values to their unified type; None when there is none."""
    target = unify([v.type for v in values])
    if target is None:
        return None
    return [v if v.type == target else convert(v, target) for v in values]


@lru_cache(maxsize=4096)
def _unify_cached(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    return _unify_impl(types, unsafe)


def _unify(types: Sequence[Type], unsafe: bool) -> Type | None:
    return _unify_cached(tuple(types), unsafe)


def _unify_impl(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    if not types:
        return None
    counts = {"map": 0, "list": 0, "set": 0, "object": 0, "tuple": 0, "dyn": 0}
    for t in types:
        if isinstance(t, MapType):
            counts["map"] += 1
        elif isinstance(t, ListType):
            counts["list"] += 1
        elif isinstance(t, SetType):
            counts["set"] += 1
        elif isinstance(t, ObjectType):
            counts["object"] += 1
        elif isinstance(t, TupleType):
            counts["tuple"] += 1
        elif t is DYNAMIC:
            counts["dyn"] += 1
    n, dyn = len(types), counts["dyn"]
    if counts["map"] and counts["map"] + dyn == n:
        return _unify_collections(MapType, types, unsafe, dyn > 0)
    if counts["map"] and counts["map"] + counts["object"] + dyn == n:
        as_map = _unify_structural_as(types, ObjectType, MapType, unsafe)
        if isinstance(as_map, MapType):
            return as_map
    elif counts["list"] and counts["list"] + dyn == n:
        return _unify_collections(ListType, types, unsafe, dyn > 0)
    elif counts["list"] and counts["list"] + counts["tuple"] + dyn == n:
        as_list = _unify_structural_as(types, TupleType, ListType, unsafe)
        if isinstance(as_list, ListType):
            return as_list
    elif counts["set"] and counts["set"] + dyn == n:
        return _unify_collections(SetType, types, unsafe, dyn > 0)
    elif counts["object"] and counts["object"] + dyn == n:
        return DYNAMIC if dyn else _unify_objects(types, unsafe)  # type: ignore[arg-type]
    elif counts["tuple"] and counts["tuple"] + dyn == n:
        return DYNAMIC if dyn else _unify_tuples(types, unsafe)  # type: ignore[arg-type]
    elif counts["object"] and counts["tuple"]:
        return None
    return _unify_by_preference(types, unsafe)


def _unify_by_preference(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    for idx in _sort_types(types):
        want = types[idx]
        if all(i == idx or t == want or get_conversion(t, want, unsafe) is not None for i, t in enumerate(types)):
            return want
    return None


def _unify_collections(ctor: type[_CollectionType], types: tuple[Type, ...], unsafe: bool, dyn: bool) -> Type | None:
    if dyn:
        return DYNAMIC
    elem = _unify(tuple(t.elem for t in types), unsafe)  # type: ignore[attr-defined]
    if elem is None:
        return None
    ret = ctor(elem)
    if all(t == ret or get_conversion(t, ret, unsafe) is not None for t in types):
        return ret
    return None


def _unify_structural_as(types: tuple[Type, ...], kind: type, ctor: type[_CollectionType], unsafe: bool) -> Type | None:
    structs = tuple(t for t in types if isinstance(t, kind))
    as_coll = _unify_objects_to_map(structs, unsafe) if kind is ObjectType else _unify_tuples_to_list(structs, unsafe)  # type: ignore[arg-type]
    if not isinstance(as_coll, ctor):
        return None
    replaced = tuple(as_coll if isinstance(t, kind) else t for t in types)
    result = _unify(replaced, unsafe)
    return result if isinstance(result, ctor) else None


def _all_convert(types: Sequence[Type], ret: Type, unsafe: bool) -> bool:
    return all(t == ret or get_conversion(t, ret, unsafe) is not None for t in types)


def _unify_objects(types: tuple[ObjectType, ...], unsafe: bool) -> Type | None:
    first = types[0].attrs
    for t in types[1:]:
        if t.attrs.keys() != first.keys():
            return _unify_objects_to_map(types, unsafe)
    attrs: dict[str, Type] = {}
    for name in first:
        u = _unify(tuple(t.attrs[name] for t in types), unsafe)
        if u is None:
            return None
        attrs[name] = u
    ret = ObjectType(attrs)
    if _all_convert(types, ret, unsafe):
        return ret
    return _unify_objects_to_map(types, unsafe)


def _unify_objects_to_map(types: tuple[ObjectType, ...], unsafe: bool) -> Type | None:
    atys = tuple(a for t in types for a in t.attrs.values())
    ety = _unify(atys, unsafe)
    if ety is None:
        return None
    ret = MapType(ety)
    return ret if _all_convert(types, ret, unsafe) else None


def _unify_tuples(types: tuple[TupleType, ...], unsafe: bool) -> Type | None:
    first = types[0].elems
    if any(len(t.elems) != len(first) for t in types[1:]):
        return _unify_tuples_to_list(types, unsafe)
    elems = []
    for i in range(len(first)):
        u = _unify(tuple(t.elems[i] for t in types), unsafe)
        if u is None:
            return None
        elems.append(u)
    ret = TupleType(elems)
    if _all_convert(types, ret, unsafe):
        return ret
    return _unify_tuples_to_list(types, unsafe)


def _unify_tuples_to_list(types: tuple[TupleType, ...], unsafe: bool) -> Type | None:
    etys = tuple(e for t in types for e in t.elems)
    ety = _unify(etys, unsafe)
    if ety is None:
        return None
    ret = ListType(ety)
    return ret if _all_convert(types, ret, unsafe) else None


def _compare_types(a: Type, b: Type) -> int:
    """cty compareTypes: negative when a is preferred (a is the supertype)."""
    if a is DYNAMIC or b is DYNAMIC:
        if a is not DYNAMIC:
            return -1
        if b is not DYNAMIC:
            return 1
        return 0
    if isinstance(a, PrimitiveType) and isinstance(b, PrimitiveType):
        if a is STRING or b is STRING:
            if a is not STRING:
                return 1
            if b is not STRING:
                return -1
        return 0
    for kind in (ListType, SetType, MapType):
        if isinstance(a, kind) and isinstance(b, kind):
            return _compare_types(a.elem, b.elem)  # type: ignore[attr-defined,unused-ignore]
    swap = 1
    if (
        (isinstance(a, TupleType) and isinstance(b, ListType))
        or (isinstance(a, ObjectType) and isinstance(b, MapType))
        or (isinstance(a, SetType) and isinstance(b, (TupleType, ListType)))
    ):
        a, b = b, a
        swap = -1
    if isinstance(b, SetType) and isinstance(a, (TupleType, ListType)):
        return -1 * swap
    if isinstance(a, ListType) and isinstance(b, TupleType):
        return -1 * swap
    if isinstance(a, MapType) and isinstance(b, ObjectType):
        return -1 * swap
    if isinstance(a, ObjectType) and isinstance(b, ObjectType):
        if a.attrs.keys() != b.attrs.keys():
            return 0
        return _supers([_compare_types(a.attrs[k], b.attrs[k]) for k in a.attrs], swap)
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        if len(a.elems) != len(b.elems):
            return 0
        return _supers([_compare_types(x, y) for x, y in zip(a.elems, b.elems)], swap)
    return 0


def _supers(cmps: list[int], swap: int) -> int:
    a_super = any(c < 0 for c in cmps)
    b_super = any(c > 0 for c in cmps)
    if a_super and b_super:
        return 0
    if a_super:
        return -1 * swap
    if b_super:
        return swap
    return 0


def _sort_types(types: Sequence[Type]) -> list[int]:
    """cty sortTypes: a topological order of preference (Kahn's algorithm, like go)."""
    n = len(types)
    edges: list[list[int]] = [[] for _ in range(n)]
    for i in range(n - 1):
        for j in range(i + 1, n):
            c = _compare_types(types[i], types[j])
            if c < 0:
                edges[i].append(j)
            elif c > 0:
                edges[j].append(i)
    indeg = [0] * n
    for outs in edges:
        for j in outs:
            indeg[j] += 1
    queue = [i for i in range(n) if indeg[i] == 0]
    k = 0
    while k < len(queue):
        i = queue[k]
        k += 1
        for j in edges[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                queue.append(j)
    # go allocates a full-length result; unreached entries stay 0
    return queue + [0] * (n - len(queue))


# --------------------------------------------------------------------------
# Python and JSON interchange


def to_python(v: Value) -> Any:
    """JSON-compatible data: str, int, float, bool, None, list, dict (sorted keys)."""
    p = v.v
    if p is None:
        return None
    t = v.type
    if t is STRING or t is BOOL:
        return p
    if t is NUMBER:
        if isinstance(p, int):
            return int(p)
        if isinstance(p, float) and p.is_integer():
            return int(p)
        return float(p)
    if isinstance(p, dict):
        return {k: to_python(e) for k, e in p.items()}
    return [to_python(e) for e in p]


def from_python(obj: Any) -> Value:
    """The value of JSON-like data: dicts become objects, lists tuples (like jsondecode)."""
    if obj is None:
        return NULL
    if isinstance(obj, bool):
        return TRUE if obj else FALSE
    if isinstance(obj, str):
        return string_val(obj)
    if isinstance(obj, float) and math.isfinite(obj):
        # like a JSON or HCL literal: the shortest decimal, parsed at 512 bits
        parsed = parse_number(repr(obj))
        return Value(NUMBER, parsed if parsed is not None else obj)
    if isinstance(obj, (int, float, Fraction)):
        return number_val(obj)
    if isinstance(obj, Value):
        return obj
    if isinstance(obj, Mapping):
        return object_val({str(k): from_python(e) for k, e in obj.items()})
    if isinstance(obj, (list, tuple)):
        return tuple_val([from_python(e) for e in obj])
    raise TypeError(f"cannot make a value of {type(obj).__name__}")


class JSONError(Exception):
    """jsonencode/jsondecode failure with cty's message."""


def json_encode(v: Value) -> str:
    """cty's JSON marshalling: object keys sorted, HTML-safe escaping like go's encoding/json."""
    parts: list[str] = []
    _json_into(v, parts)
    return "".join(parts)


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def go_json_string(s: str) -> str:
    """go's json.Marshal of a string: \\uXXXX for controls, HTML characters escaped, UTF-8 kept."""
    out = json.dumps(s, ensure_ascii=False)  # DEL stays as is in both
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], out)


def _json_into(v: Value, parts: list[str]) -> None:
    p = v.v
    if p is None:
        parts.append("null")
        return
    t = v.type
    if t is STRING:
        parts.append(go_json_string(p))
    elif t is NUMBER:
        if _is_inf(p):
            raise JSONError("cannot serialize infinity as JSON")
        parts.append(format_number(p))
    elif t is BOOL:
        parts.append("true" if p else "false")
    elif isinstance(p, dict):
        parts.append("{")
        for i, (k, e) in enumerate(p.items()):
            if i:
                parts.append(",")
            parts.append(go_json_string(k))
            parts.append(":")
            _json_into(e, parts)
        parts.append("}")
    else:
        parts.append("[")
        for i, e in enumerate(p):
            if i:
                parts.append(",")
            _json_into(e, parts)
        parts.append("]")


def json_decode(text: str) -> Value:
    """cty's JSON unmarshalling with implied types: objects, tuples, numbers at 512 bits."""
    problem = _go_json_problem(text)
    if problem is not None:
        raise JSONError(problem)
    data = json.loads(
        text,
        parse_float=_json_number,
        parse_int=_json_number,
        parse_constant=_json_bad_constant,
        object_pairs_hook=_json_object,
    )
    return _json_to_value(data)


class _JNum:
    __slots__ = ("n",)

    def __init__(self, n: Number) -> None:
        self.n = n


def _json_number(s: str) -> _JNum:
    n = parse_number(s)
    if n is None:
        raise json.JSONDecodeError("invalid number", s, 0)
    return _JNum(n)


def _json_bad_constant(s: str) -> Any:
    raise json.JSONDecodeError(f"invalid character '{s[0]}' looking for beginning of value", s, 0)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # go keeps the last value of a duplicate key, unless the two have different implied types
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out and _json_to_value(out[k]).type != _json_to_value(v).type:
            raise JSONError(f"duplicate {json.dumps(k)} property in JSON object")
        out[k] = v
    return out


def _json_to_value(data: Any) -> Value:
    if data is None:
        return NULL
    if isinstance(data, bool):
        return TRUE if data else FALSE
    if isinstance(data, _JNum):
        return Value(NUMBER, data.n)
    if isinstance(data, str):
        return string_val(data)
    if isinstance(data, dict):
        return object_val({k: _json_to_value(e) for k, e in data.items()})
    return tuple_val([_json_to_value(e) for e in data])


class _GoJSONScan:
    """Enough of go's json.Decoder.Token state machine to word syntax errors as cty reports them."""

    _WS = " \t\r\n"

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.stack: list[str] = []
        self.state = "top"

    def problem(self) -> str | None:
        try:
            self._value_token()
            self._skip_ws()
            if self.i < len(self.s):
                return "extraneous data after JSON object"
        except _GoJSONFail as e:
            return str(e)
        return None

    def _skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in self._WS:
            self.i += 1

    def _peek(self) -> str:
        self._skip_ws()
        if self.i >= len(self.s):
            raise _GoJSONFail("EOF")
        return self.s[self.i]

    def _value_token(self) -> None:
        c = self._peek()
        if c == "{":
            self.i += 1
            self._object()
        elif c == "[":
            self.i += 1
            self._array()
        elif c in "]}:,":
            raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of value")
        else:
            self._scalar()

    def _object(self) -> None:
        first = True
        while True:
            c = self._peek()
            if c == "}" and first:
                self.i += 1
                return
            if c != '"':
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of object key string")
            self._scalar()
            c = self._peek()
            if c != ":":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after object key")
            self.i += 1
            self._value_token()
            c = self._peek()
            if c == "}":
                self.i += 1
                return
            if c != ",":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after object key:value pair")
            self.i += 1
            first = False

    def _array(self) -> None:
        c = self._peek()
        if c == "]":
            self.i += 1
            return
        while True:
            self._value_token()
            c = self._peek()
            if c == "]":
                self.i += 1
                return
            if c != ",":
                raise _GoJSONFail(f"invalid character {_go_quote_char(c)} after array element")
            self.i += 1
            c = self._peek()
            if c == "]":
                raise _GoJSONFail("invalid character ']' looking for beginning of value")

    def _scalar(self) -> None:
        m = _JSON_SCALAR.match(self.s, self.i)
        if m is None or m.end() == self.i:
            self._scalar_error()
        assert m is not None
        self.i = m.end()

    def _scalar_error(self) -> None:
        rest = self.s[self.i :]
        c = rest[0]
        if c == '"':
            j = 1
            while j < len(rest):
                ch = rest[j]
                if ch == '"':
                    break
                if ch == "\\":
                    if j + 1 >= len(rest):
                        raise _GoJSONFail("unexpected EOF")
                    esc = rest[j + 1]
                    if esc == "u":
                        for k in range(j + 2, j + 6):
                            if k >= len(rest):
                                raise _GoJSONFail("unexpected EOF")
                            if rest[k] not in "0123456789abcdefABCDEF":
                                raise _GoJSONFail(f"invalid character {_go_quote_char(rest[k])} in \\u hexadecimal character escape")
                        j += 6
                        continue
                    if esc not in '"\\/bfnrt':
                        raise _GoJSONFail(f"invalid character {_go_quote_char(esc)} in string escape code")
                    j += 2
                    continue
                if ord(ch) < 0x20:
                    raise _GoJSONFail(f"invalid character {_go_quote_char(ch)} in string literal")
                j += 1
            raise _GoJSONFail("unexpected EOF")
        for word in ("true", "false", "null"):
            if c == word[0]:
                for k, expect in enumerate(word):
                    if k >= len(rest):
                        raise _GoJSONFail("unexpected EOF")
                    if rest[k] != expect:
                        raise _GoJSONFail(
                            f"invalid character {_go_quote_char(rest[k])} in literal {word} (expecting {_go_quote_char(expect)})"
                        )
        if c == "-" or c.isdigit():
            self._number_error(rest)
        raise _GoJSONFail(f"invalid character {_go_quote_char(c)} looking for beginning of value")

    def _number_error(self, rest: str) -> None:
        m = re.match(r"-?", rest)
        k = m.end() if m else 0
        if k >= len(rest):
            raise _GoJSONFail("unexpected EOF")
        if not rest[k].isdigit():
            raise _GoJSONFail(f"invalid character {_go_quote_char(rest[k])} in numeric literal")
        raise _GoJSONFail("unexpected EOF")


class _GoJSONFail(Exception):
    pass


_JSON_SCALAR = re.compile(
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
    r"|true(?![A-Za-z0-9])|false(?![A-Za-z0-9])|null(?![A-Za-z0-9])"
    r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![0-9.eE+-])"
)


def _go_json_problem(text: str) -> str | None:
    """The error go's decoder (as cty's ImpliedType drives it) reports for `text`, or None when valid."""
    return _GoJSONScan(text).problem()


def _go_quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    return "'" + ch + "'"
