"""The cty-like value model: numbers, conversion, unification, JSON.

Expected strings marked "buildx" were printed by real buildx v0.36.1.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from bakeplan.hcl import values as V
from bakeplan.hcl.functions import FunctionError, binary_op, call, unary_op
from bakeplan.hcl.values import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    ConversionError,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Value,
)


@pytest.mark.parametrize(
    ("literal", "printed"),
    [
        ("1.0", "1"),
        ("3.14159", "3.14159"),
        ("0.1", "0.1"),
        ("1e3", "1000"),
        ("1.50", "1.5"),
        ("-0.5", "-0.5"),
        ("12345678901234567890123", "12345678901234567890123"),
        ("1e-7", "0.0000001"),
    ],
)
def test_number_literals_print_as_cty_does(literal: str, printed: str) -> None:
    parsed = V.parse_number(literal)
    assert parsed is not None
    assert V.format_number(parsed) == printed


def test_division_keeps_512_bits_like_buildx() -> None:
    # buildx: 10/3 prints 155 digits ending in ...332
    assert V.format_number(V.num_div(10, 3)) == "3." + "3" * 153 + "2"
    assert V.format_number(V.num_div(5, 2)) == "2.5"


def test_float_results_print_shortest() -> None:
    # buildx: pow(2, 0.5) and pow(2, 0.5) * 2
    assert V.format_number(math.sqrt(2)) == "1.4142135623730951"
    assert V.format_number(V.num_mul(math.sqrt(2), 2)) == "2.828427124746190290949243717477656900882720947265625"


def test_infinities() -> None:
    assert V.format_number(V.num_div(1, 0)) == "+Inf"
    assert V.format_number(V.num_div(-1, 0)) == "-Inf"
    with pytest.raises(ArithmeticError):
        V.num_div(0, 0)


@pytest.mark.parametrize(("a", "b", "expected"), [(7, 3, 1), (7, -3, 1), (-7, 3, -1), (-7, -3, -1), (5, 0, 5)])
def test_modulo_truncates_toward_zero(a: int, b: int, expected: int) -> None:
    assert V.num_mod(a, b) == expected


def test_modulo_of_fractions() -> None:
    seven_half = V.parse_number("7.5")
    assert seven_half is not None
    assert V.format_number(V.num_mod(seven_half, 2)) == "1.5"


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "0x10", " 1", "1 "])
def test_invalid_numbers_do_not_parse(text: str) -> None:
    assert V.parse_number(text) is None


@pytest.mark.parametrize(
    ("value", "want", "expected"),
    [
        (V.number_val(1), STRING, V.string_val("1")),
        (V.TRUE, STRING, V.string_val("true")),
        (V.string_val("12"), NUMBER, V.number_val(12)),
        (V.string_val("1"), BOOL, V.TRUE),
        (V.string_val("false"), BOOL, V.FALSE),
        (V.NULL, STRING, V.null_val(STRING)),
    ],
)
def test_primitive_conversions(value: Value, want: V.Type, expected: Value) -> None:
    assert V.convert(value, want) == expected


@pytest.mark.parametrize(
    ("value", "want", "message"),
    [
        (V.string_val("x"), NUMBER, "a number is required"),
        (V.string_val("yes"), BOOL, "a bool is required"),
        (V.string_val("True"), BOOL, 'a bool is required; to convert from string, use lowercase "true"'),
        (V.tuple_val([]), STRING, "string required, but have tuple"),
        (V.number_val(1), ListType(STRING), "list of string required, but have number"),
        (V.object_val({}), ObjectType({"a": STRING}), 'attribute "a" is required'),
        (V.object_val({}), ObjectType({"a": STRING, "b": STRING}), 'attributes "a" and "b" are required'),
        (V.tuple_val([V.string_val("a"), V.tuple_val([])]), ListType(STRING), "element 1: string required, but have tuple"),
    ],
)
def test_conversion_errors_use_cty_wording(value: Value, want: V.Type, message: str) -> None:
    with pytest.raises(ConversionError) as info:
        V.convert(value, want)
    assert str(info.value) == message


def test_tuple_converts_to_list_with_unified_elements() -> None:
    mixed = V.tuple_val([V.string_val("a"), V.number_val(1), V.TRUE])
    assert V.convert(mixed, ListType(DYNAMIC)) == V.list_val(
        [V.string_val("a"), V.string_val("1"), V.string_val("true")]
    )


def test_object_converts_to_map_and_back() -> None:
    obj = V.object_val({"b": V.number_val(2), "a": V.string_val("x")})
    as_map = V.convert(obj, MapType(STRING))
    assert as_map.type == MapType(STRING)
    assert list(as_map.v) == ["a", "b"]
    assert V.convert(as_map, ObjectType({"a": STRING})) == V.object_val({"a": V.string_val("x")})


def test_list_to_set_deduplicates_and_sorts() -> None:
    lst = V.list_val([V.string_val("b"), V.string_val("a"), V.string_val("b")])
    st = V.convert(lst, SetType(STRING))
    assert [e.v for e in st.v] == ["a", "b"]


def test_optional_attributes_become_null() -> None:
    want = ObjectType({"a": STRING, "b": NUMBER}, optional=frozenset({"b"}))
    got = V.convert(V.object_val({"a": V.string_val("x")}), want)
    assert got.v["b"] == V.null_val(NUMBER)


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ([STRING, STRING], STRING),
        ([STRING, NUMBER], STRING),
        ([NUMBER, BOOL], None),
        ([NUMBER, DYNAMIC], NUMBER),
        ([ListType(STRING), ListType(NUMBER)], ListType(STRING)),
        ([ObjectType({"a": STRING}), MapType(STRING)], MapType(STRING)),
        ([ObjectType({"a": STRING}), ObjectType({"b": NUMBER})], MapType(STRING)),
        ([TupleType([STRING]), TupleType([NUMBER])], TupleType([STRING])),
        ([TupleType([STRING]), TupleType([])], ListType(STRING)),
        ([ObjectType({}), TupleType([])], None),
    ],
)
def test_unification_matches_cty(types: list[V.Type], expected: V.Type | None) -> None:
    assert V.unify(types) == expected


def test_equality_follows_cty() -> None:
    assert V.equals(V.null_val(STRING), V.NULL)
    assert not V.equals(V.number_val(1), V.string_val("1"))
    assert V.equals(V.tuple_val([V.number_val(1)]), V.tuple_val([V.number_val(1)]))
    assert V.equals(V.number_val(Fraction(1, 2)), V.Value(NUMBER, V.parse_number("0.5")))


def test_json_encoding_sorts_keys_and_escapes_html() -> None:
    value = V.from_python({"b": "<&>\u2028", "a": [1, 2.5, True, None]})
    assert V.json_encode(value) == '{"a":[1,2.5,true,null],"b":"\\u003c\\u0026\\u003e\\u2028"}'


def test_json_decoding_implies_objects_and_tuples() -> None:
    decoded = V.json_decode('{"x": [1, "a"], "y": null, "z": 0.1}')
    assert isinstance(decoded.type, ObjectType)
    assert decoded.v["x"].type == TupleType([NUMBER, STRING])
    assert decoded.v["y"] == V.NULL
    assert V.format_number(decoded.v["z"].v) == "0.1"


def test_json_decoding_errors() -> None:
    with pytest.raises(V.JSONError):
        V.json_decode("{")


def test_to_python_and_back() -> None:
    data = {"a": [1, "x", True, None], "b": {"c": 2.5}}
    assert V.to_python(V.from_python(data)) == data


def test_strings_are_nfc() -> None:
    assert V.string_val("e\u0301").v == "\u00e9"


def test_iteration_order_is_sorted_for_objects() -> None:
    obj = V.object_val({"b": V.TRUE, "a": V.FALSE})
    assert [k.v for k, _ in V.iter_elements(obj)] == ["a", "b"]
    lst = V.tuple_val([V.string_val("x")])
    assert [(k.v, e.v) for k, e in V.iter_elements(lst)] == [(0, "x")]


def test_friendly_names() -> None:
    assert V.friendly_name(ListType(MapType(STRING))) == "list of map of string"
    assert V.friendly_name(DYNAMIC) == "dynamic"
    assert V.friendly_name(DYNAMIC, constraint=True) == "any type"


def _random_literal(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(-1000, 1000))
    if kind == 1:
        return str(rng.randrange(-(10**30), 10**30))
    if kind == 2:
        return f"{rng.randrange(0, 1000)}.{rng.randrange(0, 10 ** rng.randrange(1, 6))}"
    if kind == 3:
        return f"{rng.randrange(1, 100)}e{rng.randrange(-20, 25)}"
    if kind == 4:
        return f"{rng.choice(['', '-'])}0.{rng.randrange(1, 10 ** rng.randrange(1, 4)):0{rng.randrange(1, 6)}d}"
    return f"{rng.randrange(1, 50)}.{rng.randrange(0, 100)}e{rng.randrange(-5, 5)}"


def _literal_value(text: str) -> Value:
    if text.startswith("-"):
        return V.Value(NUMBER, V.num_neg(_literal_value(text[1:]).v))
    parsed = V.parse_number(text)
    assert parsed is not None
    return V.Value(NUMBER, parsed)


def _random_number_cases(seed: int, count: int) -> list[tuple[str, Callable[[], str]]]:
    """(HCL expression, bakeplan's string for it): arithmetic and printf verbs on random literals."""
    rng = random.Random(seed)
    cases: list[tuple[str, Callable[[], str]]] = []
    while len(cases) < count:
        a, b = _random_literal(rng), _random_literal(rng)
        if rng.randrange(2):
            op = rng.choice("+-*/%")
            if op in "/%" and _literal_value(b).v == 0:
                continue
            cases.append((f"({a}) {op} ({b})", _arith_case(op, a, b)))
            continue
        flags = rng.choice(["", "-", "+", "0", " "])
        width = rng.choice(["", str(rng.randrange(1, 15))])
        prec = rng.choice(["", "." + str(rng.randrange(0, 12))])
        fmt = f"%{flags}{width}{prec}{rng.choice('fegEGv')}"
        cases.append((f'format("{fmt}", {a})', _format_case(fmt, a)))
    return cases


def _arith_case(op: str, a: str, b: str) -> Callable[[], str]:
    def run() -> str:
        result: str = V.convert(binary_op(op, _literal_value(a), _literal_value(b)), STRING).v
        return result

    return run


def _format_case(fmt: str, a: str) -> Callable[[], str]:
    def run() -> str:
        result: str = call("format", [V.string_val(fmt), _literal_value(a)]).v
        return result

    return run


@pytest.mark.buildx
def test_random_numbers_match_real_buildx(buildx: Any, tmp_path: Path) -> None:
    cases = _random_number_cases(seed=20261122, count=300)
    body = "\n".join(f"    c{i} = {expr}" for i, (expr, _) in enumerate(cases))
    (tmp_path / "docker-bake.hcl").write_text('target "t" {\n  args = {\n' + body + "\n  }\n}\n", encoding="utf-8")
    proc = subprocess.run(
        buildx.argv("bake", "--print", "t"), capture_output=True, text=True, env=buildx.env, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)["target"]["t"]["args"]
    mismatches = [(expr, printed[f"c{i}"], ours()) for i, (expr, ours) in enumerate(cases) if printed[f"c{i}"] != ours()]
    assert mismatches == []


NULL = V.NULL

# (value, HCL type expression, what buildx printed for jsonencode(convert(value, type)), "ERR message" on failure)
CONVERSIONS: list[tuple[Any, str, str]] = [
    ([1, 'a', True], 'list(string)', '["1","a","true"]'),
    (['b', 'a', 'b'], 'set(string)', '["a","b"]'),
    ([3, 1, 2, 1], 'set(number)', '[1,2,3]'),
    ({'a': 1, 'b': 'x'}, 'map(string)', '{"a":"1","b":"x"}'),
    ({'a': 1, 'b': '2'}, 'map(number)', '{"a":1,"b":2}'),
    ({'a': [1], 'b': ['x', 2]}, 'map(list(string))', '{"a":["1"],"b":["x","2"]}'),
    ({'a': {'x': 1}, 'b': {'y': 'z'}}, 'map(map(string))', '{"a":{"x":"1"},"b":{"y":"z"}}'),
    ([{'a': 1}, {'a': 'x'}], 'list(object({a=string}))', '[{"a":"1"},{"a":"x"}]'),
    ([{'a': 1, 'b': 2}], 'list(object({a=number}))', '[{"a":1}]'),
    ([NULL, 'a'], 'list(string)', '[null,"a"]'),
    ([1, [2]], 'list(any)', 'ERR all list elements must have the same type'),
    ([1, 'a'], 'list(any)', '["1","a"]'),
    ([{'a': 1}, {'b': 2}], 'list(any)', '[{"a":1},{"b":2}]'),
    ([{'a': 1}, {'a': 'x'}], 'list(any)', '[{"a":"1"},{"a":"x"}]'),
    ({'a': 1, 'b': 'x'}, 'map(any)', '{"a":"1","b":"x"}'),
    ({'a': [1], 'b': ['x']}, 'map(any)', '{"a":["1"],"b":["x"]}'),
    ({'a': [1], 'b': []}, 'map(any)', '{"a":[1],"b":[]}'),
    ([[1], []], 'list(any)', '[[1],[]]'),
    ([], 'list(string)', '[]'),
    ({}, 'map(string)', '{}'),
    ([1, 2], 'tuple([string, number])', '["1",2]'),
    ('true', 'bool', 'true'),
    ('1', 'bool', 'true'),
    (1, 'bool', 'ERR bool required, but have number'),
    ('1e3', 'number', '1000'),
    (' 1', 'number', 'ERR a number is required'),
    ([1], 'string', 'ERR string required, but have tuple'),
    ({'a': 1}, 'list(string)', 'ERR list of string required'),
    ([1, [2]], 'list(string)', 'ERR element 1: string required, but have tuple'),
    ({'a': [1]}, 'map(string)', 'ERR element "a": string required, but have tuple'),
    ({'b': 1}, 'object({a=string})', 'ERR attribute "a" is required'),
    ({'a': [1]}, 'object({a=string})', 'ERR attribute "a": string required, but have tuple'),
    ('x', 'list(string)', 'ERR list of string required, but have string'),
    ([NULL], 'list(number)', '[null]'),
    (NULL, 'list(string)', 'null'),
    ([{'a': 1}, 'x'], 'list(any)', 'ERR all list elements must have the same type'),
    ({'a': 'yes'}, 'map(bool)', 'ERR a bool is required'),
    ('TRUE', 'bool', 'ERR a bool is required; to convert from string, use lowercase "true"'),
]


def parse_type(text: str) -> V.Type:
    """A small HCL type-expression parser for the tests (string, list(...), object({...}), tuple([...]))."""
    parsed, rest = _parse_type(text.replace(" ", ""))
    assert rest == ""
    return parsed


def _parse_type(s: str) -> tuple[V.Type, str]:
    for name, prim in (("string", STRING), ("number", NUMBER), ("bool", BOOL), ("any", DYNAMIC)):
        if s.startswith(name) and not s.startswith(name + "("):
            return prim, s[len(name) :]
    head, _, rest = s.partition("(")
    if head in ("list", "set", "map"):
        inner, rest = _parse_type(rest)
        ctor = {"list": ListType, "set": SetType, "map": MapType}[head]
        return ctor(inner), rest[1:]
    if head == "tuple":
        elems, rest = _parse_seq(rest[1:], "]")
        return TupleType(elems), rest[1:]
    attrs: dict[str, V.Type] = {}
    rest = rest[1:]
    while not rest.startswith("}"):
        name, _, rest = rest.partition("=")
        attrs[name], rest = _parse_type(rest)
        rest = rest[1:] if rest.startswith(",") else rest
    return ObjectType(attrs), rest[2:]


def _parse_seq(s: str, close: str) -> tuple[list[V.Type], str]:
    out: list[V.Type] = []
    while not s.startswith(close):
        t, s = _parse_type(s)
        out.append(t)
        s = s[1:] if s.startswith(",") else s
    return out, s[1:]


def _hcl(value: Any) -> str:
    if value is NULL:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_hcl(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return json.dumps(value)


def _val(value: Any) -> Value:
    if value is NULL:
        return V.NULL
    if isinstance(value, dict):
        return V.object_val({k: _val(v) for k, v in value.items()})
    if isinstance(value, list):
        return V.tuple_val([_val(v) for v in value])
    return V.from_python(value)


def _converted(value: Any, texpr: str) -> str:
    try:
        return V.json_encode(V.convert(_val(value), parse_type(texpr)))
    except ConversionError as e:
        return f"ERR {e}"


@pytest.mark.parametrize(("value", "texpr", "expected"), CONVERSIONS)
def test_conversions_match_buildx(value: Any, texpr: str, expected: str) -> None:
    assert _converted(value, texpr) == expected


@pytest.mark.buildx
@pytest.mark.slow
def test_conversions_match_real_buildx(buildx: Any, tmp_path: Path) -> None:
    # one bake file per conversion: buildx v0.36.1 rejects a file that names the same type keyword
    # twice ("variable cycle not allowed for string")
    mismatches = []
    for value, texpr, expected in CONVERSIONS:
        if expected.startswith("ERR"):
            continue
        body = f'target "t" {{\n  args = {{\n    c = jsonencode(convert({_hcl(value)}, {texpr}))\n  }}\n}}\n'
        (tmp_path / "docker-bake.hcl").write_text(body, encoding="utf-8")
        proc = subprocess.run(
            buildx.argv("bake", "--print", "t"), capture_output=True, text=True, env=buildx.env, cwd=tmp_path, check=False
        )
        printed = json.loads(proc.stdout)["target"]["t"]["args"]["c"] if proc.returncode == 0 else proc.stderr
        if printed != _converted(value, texpr):
            mismatches.append((value, texpr, printed))
    assert mismatches == []


def test_sequence_indexes_are_64_bit_integers() -> None:
    # buildx: [for i, x in ["a", "b"] : i / length([1, 2, 3])] is [0, 0.33333333333333333334]
    keys = [k for k, _ in V.iter_elements(V.tuple_val([V.string_val("a"), V.string_val("b")]))]
    assert [V.format_number(V.num_div(k.v, V.Int64(3))) for k in keys] == ["0", "0.33333333333333333334"]
    assert V.format_number(V.num_div(keys[1].v, 3)) == "0." + "3" * 154 + "5"


# --------------------------------------------------------------------------
# Negative zero: go's big.Float keeps the sign of zero, so buildx prints "-0"
# for `0 * -1`. An expression here is a literal (a leading "-" is HCL's unary
# minus, a leading '"' a string), ("neg", x), ("tuple", ...), (op, a, b) or
# (function, args...).

Expr = str | tuple[Any, ...]
_BINARY_OPS = {"+", "-", "*", "/", "%", "==", "<"}
_INF = ("/", "1", "0")
_THIRD = ("/", ("length", ("tuple", "1")), ("length", ("tuple", "1", "1", "1")))  # 64-bit, like buildx
_SQRT2_AT_512 = "1.4142135623730951454746218587388284504413604736328125"

# (expression, what buildx v0.36.1 printed for it as an arg, or for jsonencode(it) when not primitive)
NEGATIVE_ZERO: list[tuple[Expr, str]] = [
    ("-0", "-0"),
    ("-0.0", "-0"),
    ("-0e5", "-0"),
    (("neg", "-0"), "0"),
    (("*", "0", "-1"), "-0"),
    (("*", "-1", "0"), "-0"),
    (("*", "0", "-0"), "-0"),
    (("*", "-0", "-1"), "0"),
    (("*", "-0", "5"), "-0"),
    (("*", "0", "-1.5"), "-0"),
    (("*", "0.0", "-1"), "-0"),
    (("*", "0.5", "-0"), "-0"),
    (("neg", ("*", "0", "-1")), "0"),
    (("/", "0", "-5"), "-0"),
    (("/", "-0", "5"), "-0"),
    (("/", "-0", "-5"), "0"),
    (("/", "0", "5"), "0"),
    (("/", "-0", _INF), "-0"),
    (("/", "0", ("neg", _INF)), "-0"),
    (("/", "-0", ("neg", _INF)), "0"),
    (("/", "1", "-0"), "-Inf"),
    (("/", "-1", "-0"), "+Inf"),
    (("/", _INF, "-0"), "-Inf"),
    (("/", ("neg", _INF), "-5"), "+Inf"),
    (("-", "0", "0"), "0"),
    (("-", "-0", "0"), "-0"),
    (("-", "0", "-0"), "0"),
    (("-", "-0", "-0"), "0"),
    (("+", "-0", "0"), "0"),
    (("+", "0", "-0"), "0"),
    (("+", "-0", "-0"), "-0"),
    (("+", "-0", "1"), "1"),
    (("+", "-1", "1"), "0"),
    (("+", "-0.5", "0.5"), "0"),
    (("-", "1", "1"), "0"),
    (("%", "-0", "5"), "-0"),
    (("%", "-0", "-5"), "0"),
    (("%", "0", "-5"), "0"),
    (("%", "-0.0", "5"), "-0"),
    (("%", "-0", "2.5"), "-0"),
    (("%", "-0", "-2.5"), "0"),
    (("%", "0", "-2.5"), "0"),
    (("%", "-5", "5"), "0"),
    (("%", "-1", "1"), "0"),
    (("%", "-1.5", "0.5"), "0"),
    (("%", "5", "-0"), "5"),
    (("%", ("neg", _INF), "0"), "-Inf"),
    (("%", _INF, "-0"), "+Inf"),
    (("==", "-0", "0"), "true"),
    (("==", ("*", "0", "-1"), "0"), "true"),
    (("<", "-0", "0"), "false"),
    (("min", "-0", "0"), "-0"),
    (("min", "0", "-0"), "0"),
    (("max", "-0", "0"), "-0"),
    (("max", "0", "-0"), "0"),
    (("floor", "-0.5"), "-1"),
    (("ceil", "-0.5"), "0"),
    (("ceil", "-0.2"), "0"),
    (("floor", "-0"), "0"),
    (("ceil", "-0"), "0"),
    (("signum", "-0"), "0"),
    (("signum", ("*", "0", "-1")), "0"),
    (("int", "-0"), "-0"),
    (("int", "-0.5"), "0"),
    (("absolute", "-0"), "0"),
    (("absolute", ("*", "0", "-1")), "0"),
    (("parseint", '"-0"', "10"), "0"),
    (("jsondecode", '"-0"'), "-0"),
    (("jsondecode", '"-0.0"'), "-0"),
    (("format", '"%v"', "-0"), "-0"),
    (("format", '"%v"', ("*", "0", "-1")), "-0"),
    (("format", '"%d"', "-0"), "0"),
    (("format", '"%f"', "-0"), "-0.000000"),
    (("format", '"%.2f"', ("*", "0", "-1")), "-0.00"),
    (("pow", "-0", "1"), "-0"),
    (("*", ("pow", "0", "1"), "-1"), "-0"),
    (("*", ("log", "1", "10"), "-1"), "-0"),
    (("*", ("length", ("tuple",)), "-1"), "-0"),
    (("neg", ("length", ("tuple",))), "-0"),
    (("*", '"-0"', "1"), "-0"),
    (("*", '"-0"', "-1"), "0"),
    (("+", '"-0.0"', "-0"), "-0"),
    (("neg", '"0"'), "-0"),
    (("neg", '"-0"'), "0"),
    (("distinct", ("tuple", "0", "-0")), "[0]"),
    (("distinct", ("tuple", "-0", "0")), "[-0]"),
    (("sort", ("tuple", "0", "-0")), '["-0","0"]'),
    (("jsonencode", ("tuple", "-0", ("*", "0", "-1"))), "[-0,-0]"),
    # a zero keeps its precision too: the literal's 512 bits, length()'s 64
    (("+", "-0", ("pow", "2", "0.5")), _SQRT2_AT_512),
    (("+", ("floor", "-0"), ("pow", "2", "0.5")), _SQRT2_AT_512),
    (("+", ("absolute", "-0"), ("pow", "2", "0.5")), _SQRT2_AT_512),
    (("+", ("jsondecode", '"-0"'), ("pow", "2", "0.5")), _SQRT2_AT_512),
    (("+", ("-", "-0", "0"), ("pow", "2", "0.5")), _SQRT2_AT_512),
    (("+", ("pow", "-0", "1"), ("pow", "2", "0.5")), "1.4142135623730951"),
    (("+", "-0", _THIRD), "0.33333333333333333334236835143737920361672877334058284759521484375"),
    (("-", "-0", _THIRD), "-0.33333333333333333334236835143737920361672877334058284759521484375"),
    (("+", ("neg", ("length", ("tuple",))), _THIRD), "0.33333333333333333334"),
    (("+", ("neg", ("neg", ("length", ("tuple",)))), _THIRD), "0.33333333333333333334"),
    (("+", ("*", ("length", ("tuple",)), "-1"), _THIRD), "0.33333333333333333334236835143737920361672877334058284759521484375"),
    (("+", ("*", ("length", ("tuple",)), ("neg", ("length", ("tuple", "1")))), _THIRD), "0.33333333333333333334"),
]

# (expression, the detail of buildx's "Operation failed" diagnostic)
INFINITY_ERRORS: list[tuple[Expr, str]] = [
    (("/", "0", "-0"), "can't divide zero by zero or infinity by infinity"),
    (("/", _INF, _INF), "can't divide zero by zero or infinity by infinity"),
    (("+", _INF, ("neg", _INF)), "can't compute sum of opposing infinities"),
    (("-", _INF, _INF), "can't subtract infinity from itself"),
    (("*", "-0", _INF), "can't multiply zero by infinity"),
    (("%", "5", _INF), "can't use modulo with zero and infinity"),
    (("%", "-0", _INF), "can't use modulo with zero and infinity"),
    (("%", _INF, _INF), "can't use modulo with zero and infinity"),
    # go dereferences the nil big.Int that Float.Int gives for an infinite quotient (buildx adds a stack trace)
    (("%", _INF, "5"), V.NIL_POINTER_PANIC),
]


def _expr_value(e: Expr) -> Value:
    if isinstance(e, str):
        if e.startswith('"'):
            return V.string_val(json.loads(e))
        return _literal_value(e)
    head, *rest = e
    args = [_expr_value(a) for a in rest]
    if head == "neg":
        return unary_op("-", args[0])
    if head == "tuple":
        return V.tuple_val(args)
    if head in _BINARY_OPS:
        return binary_op(head, args[0], args[1])
    return call(head, args)


def _expr_source(e: Expr) -> str:
    if isinstance(e, str):
        return e
    head, *rest = e
    args = [_expr_source(a) for a in rest]
    if head == "neg":
        return f"-({args[0]})"
    if head == "tuple":
        return "[" + ", ".join(args) + "]"
    if head in _BINARY_OPS:
        return f"({args[0]}) {head} ({args[1]})"
    return f"{head}({', '.join(args)})"


def _printed(value: Value) -> str:
    """What buildx prints for the value as an arg (primitives) or through jsonencode (others)."""
    if value.type.is_primitive():
        text: str = V.convert(value, STRING).v
        return text
    return V.json_encode(value)


@pytest.mark.parametrize(("expr", "printed"), NEGATIVE_ZERO, ids=[_expr_source(e) for e, _ in NEGATIVE_ZERO])
def test_negative_zero_matches_buildx(expr: Expr, printed: str) -> None:
    assert _printed(_expr_value(expr)) == printed


@pytest.mark.parametrize(("expr", "detail"), INFINITY_ERRORS, ids=[_expr_source(e) for e, _ in INFINITY_ERRORS])
def test_infinity_errors_match_buildx(expr: Expr, detail: str) -> None:
    with pytest.raises(FunctionError) as info:
        _expr_value(expr)
    assert str(info.value) == f"Operation failed; Error during operation: {detail}."


def test_negative_zero_payload_keeps_precision() -> None:
    literal = V.num_neg(0)
    assert isinstance(literal, V.NegZero) and literal.prec == V.LITERAL_PREC
    assert V.num_neg(V.Int64(0)) == 0 and V.num_neg(V.Int64(0)).prec == 64  # type: ignore[union-attr]
    assert type(V.num_neg(literal)) is int
    assert V.is_integer(literal) and V.is_negative(literal) and not V.is_negative(0)
    assert V.equals(V.Value(NUMBER, literal), V.number_val(0))  # cty: -0 equals 0


@pytest.mark.buildx
def test_negative_zero_matches_real_buildx(buildx: Any, tmp_path: Path) -> None:
    exprs = []
    for expr, _ in NEGATIVE_ZERO:
        source = _expr_source(expr)
        exprs.append(source if _expr_value(expr).type.is_primitive() else f"jsonencode({source})")
    body = "\n".join(f"    c{i} = {e}" for i, e in enumerate(exprs))
    (tmp_path / "docker-bake.hcl").write_text('target "t" {\n  args = {\n' + body + "\n  }\n}\n", encoding="utf-8")
    proc = subprocess.run(
        buildx.argv("bake", "--print", "t"), capture_output=True, text=True, env=buildx.env, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)["target"]["t"]["args"]
    mismatches = [(e, printed[f"c{i}"], want) for i, (e, (_, want)) in enumerate(zip(exprs, NEGATIVE_ZERO)) if printed[f"c{i}"] != want]
    assert mismatches == []


# --------------------------------------------------------------------------
# Pickling: bake file caches pickle evaluated values


def _sample_value() -> Value:
    return V.object_val(
        {
            "s": V.string_val("x"),
            "n": V.Value(NUMBER, V.parse_number("0.1")),
            "third": V.Value(NUMBER, V.num_div(V.Int64(1), V.Int64(3))),
            "i": V.Value(NUMBER, V.Int64(3)),
            "z": V.Value(NUMBER, V.num_mul(0, -1)),
            "inf": V.Value(NUMBER, V.num_div(-1, 0)),
            "b": V.TRUE,
            "null": V.NULL,
            "typed_null": V.null_val(ListType(STRING)),
            "l": V.list_val([V.string_val("a")]),
            "set": V.set_val([V.number_val(2), V.number_val(1)]),
            "m": V.map_val({"k": V.number_val(1)}),
            "t": V.tuple_val([V.FALSE, V.EMPTY_OBJECT]),
        }
    )


def test_values_survive_pickling() -> None:
    value = _sample_value()
    back = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == value
    assert V.to_python(back) == V.to_python(value)
    assert V.json_encode(V.object_val({k: e for k, e in back.v.items() if k != "inf"})) == V.json_encode(
        V.object_val({k: e for k, e in value.v.items() if k != "inf"})
    )
    # types compare by identity on hot paths: unpickling must give the singletons back
    assert back.v["s"].type is STRING and back.v["b"].type is BOOL and back.v["null"].type is DYNAMIC
    assert back.v["n"].type is NUMBER and back.v["l"].type.elem is STRING
    # numbers keep their precision and kind
    assert back.v["third"].v.prec == 64 and V.format_number(back.v["third"].v) == "0.33333333333333333334"
    assert type(back.v["i"].v) is V.Int64
    assert repr(back.v["z"].v) == "NegZero(512)" and V.format_number(back.v["z"].v) == "-0"
    assert V.format_number(back.v["inf"].v) == "-Inf"


def test_pickled_types_hash_alike_in_another_process(tmp_path: Path) -> None:
    # string hashes differ between processes: composite types must not carry a stale cached hash
    path = tmp_path / "value.pickle"
    path.write_bytes(pickle.dumps(_sample_value(), protocol=pickle.HIGHEST_PROTOCOL))
    script = (
        "import pickle, sys\n"
        "from bakeplan.hcl import values as V\n"
        "v = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "t = V.ObjectType({k: e.type for k, e in v.v.items()})\n"
        "assert hash(v.type) == hash(t) and {t: 1}[v.type] == 1\n"
        "assert V.convert(v.v['l'], V.ListType(V.STRING)) is v.v['l']\n"
        "print(V.json_encode(v.v['t']), V.to_python(v.v['m']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[false,{}]", "{'k':", "1}"]
