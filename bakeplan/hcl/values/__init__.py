"""The cty-like value model: types, values, numbers, conversion, unification.

This mirrors zclconf/go-cty (the value system under HCL and buildx bake)
closely enough that evaluation results, conversion errors and number
formatting match real buildx.

The package is shaped like go-cty: ``types`` (cty types, type constraints,
friendly names), ``numbers`` (big.Float arithmetic, Go decimal parsing and
formatting), ``values`` (``Value``, constructors, equality, iteration),
``conversion`` and ``unification`` (cty/convert), ``json`` (cty/json and
JSON-like Python data). Import the names from here: ``from bakeplan.hcl import
values as cty`` then ``cty.convert(...)``.

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

# conversion first: it imports unification, which reaches back to it through the module object
from bakeplan.hcl.values.conversion import (
    Conversion,
    ConversionError,
    can_convert,
    convert,
    get_conversion,
    mismatch_message,
)
from bakeplan.hcl.values.json import (
    JSONError,
    from_python,
    go_json_string,
    json_decode,
    json_encode,
    to_python,
)
from bakeplan.hcl.values.numbers import (
    FLOAT_PREC,
    LITERAL_PREC,
    NIL_POINTER_PANIC,
    BigFloat,
    Int64,
    NegZero,
    NilPointerPanic,
    Number,
    _decimal_digits,
    _shortest_digits,
    format_number,
    is_integer,
    is_negative,
    num_add,
    num_cmp,
    num_div,
    num_mod,
    num_mul,
    num_neg,
    num_sub,
    parse_number,
    round_decimal,
)
from bakeplan.hcl.values.types import (
    BOOL,
    DYNAMIC,
    EMPTY_OBJECT_TYPE,
    EMPTY_TUPLE_TYPE,
    NUMBER,
    STRING,
    CapsuleType,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    SetType,
    TupleType,
    Type,
    elem_type_of,
    friendly_name,
    is_iterable,
    without_optional,
)
from bakeplan.hcl.values.unification import unify, unify_values
from bakeplan.hcl.values.values import (
    EMPTY_OBJECT,
    EMPTY_STRING,
    EMPTY_TUPLE,
    FALSE,
    NULL,
    TRUE,
    Value,
    bool_val,
    equals,
    iter_elements,
    length_of,
    list_val,
    map_val,
    nfc,
    null_val,
    number_val,
    object_val,
    set_val,
    string_val,
    tuple_val,
)

__all__ = [
    # types
    "BOOL",
    "DYNAMIC",
    "EMPTY_OBJECT_TYPE",
    "EMPTY_TUPLE_TYPE",
    "NUMBER",
    "STRING",
    "CapsuleType",
    "ListType",
    "MapType",
    "ObjectType",
    "PrimitiveType",
    "SetType",
    "TupleType",
    "Type",
    "elem_type_of",
    "friendly_name",
    "is_iterable",
    "without_optional",
    # numbers (the two digit helpers are functions/format.py's, for printf-style verbs)
    "FLOAT_PREC",
    "LITERAL_PREC",
    "NIL_POINTER_PANIC",
    "BigFloat",
    "Int64",
    "NegZero",
    "NilPointerPanic",
    "Number",
    "_decimal_digits",
    "_shortest_digits",
    "round_decimal",
    "format_number",
    "is_integer",
    "is_negative",
    "num_add",
    "num_cmp",
    "num_div",
    "num_mod",
    "num_mul",
    "num_neg",
    "num_sub",
    "parse_number",
    # values
    "EMPTY_OBJECT",
    "EMPTY_STRING",
    "EMPTY_TUPLE",
    "FALSE",
    "NULL",
    "TRUE",
    "Value",
    "bool_val",
    "equals",
    "iter_elements",
    "length_of",
    "list_val",
    "map_val",
    "nfc",
    "null_val",
    "number_val",
    "object_val",
    "set_val",
    "string_val",
    "tuple_val",
    # conversion and unification
    "Conversion",
    "ConversionError",
    "can_convert",
    "convert",
    "get_conversion",
    "mismatch_message",
    "unify",
    "unify_values",
    # JSON and Python data
    "JSONError",
    "from_python",
    "go_json_string",
    "json_decode",
    "json_encode",
    "to_python",
]
