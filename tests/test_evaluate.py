"""Expression evaluation: values and errors as real buildx (hcl v2.24) gives them.

Expected values and error texts below were checked against `docker buildx bake
--print` v0.36.1 with the expression placed in `args = { x = jsonencode(EXPR) }`
(line 3, the expression starting at column 20).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast, syntax
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import Compiler, Env, unknown_function, unknown_variable
from bakeplan.hcl.functions import FUNCTIONS, Function
from bakeplan.hcl.values import Value


class Context:
    """A fixed global scope for tests."""

    def __init__(self, names: dict[str, Value] | None = None) -> None:
        self.names = names or {}

    def lookup(self, name: str, loc: Location) -> Value:
        if name not in self.names:
            raise unknown_variable(name, loc, self.names)
        return self.names[name]

    def function(self, name: str, loc: Location) -> Function:
        if name not in FUNCTIONS:
            raise unknown_function(name, loc, FUNCTIONS)
        return FUNCTIONS[name]

    def block_value(self, kind: str, name: str, attr: str | None, loc: Location) -> Value:
        raise unknown_variable(kind, loc, self.names)


def wrap(expr: str) -> str:
    return "target \"t\" {\n  args = {\n    x = jsonencode(%s)\n  }\n}\n" % expr


def evaluate_json(expr: str, **names: object) -> str:
    """The jsonencode of EXPR, evaluated where buildx's test put it."""
    body = syntax.parse(wrap(expr), "o.hcl")
    args = body.blocks[0].body.attributes[0].expr
    assert isinstance(args, ast.Object)
    env = Env(Context({k: cty.from_python(v) for k, v in names.items()}))
    value = Compiler(frozenset({"target"})).evaluate(args.items[0].value, env)
    return str(value.v)


def evaluate(expr: str, **names: object) -> object:
    body = syntax.parse(f"x = {expr}\n", "e.hcl")
    env = Env(Context({k: cty.from_python(v) for k, v in names.items()}))
    return cty.to_python(Compiler().evaluate(body.attributes[0].expr, env))


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("true || undefd", "true"),
        ("undefd || true", "true"),
        ("false && undefd", "false"),
        ('true ? "a" : undefd', '"a"'),
        ("false ? undefd : 1", "1"),
        ('true ? 1 : "x"', '"1"'),
        ('true ? [1] : ["x"]', '["1"]'),
        ("true ? {a=1} : {b=1}", '{"a":1}'),
        ('1 == "1"', "false"),
        ("[1] == [1]", "true"),
        ('-"3"', "-3"),
        ("[{a=1}][*].a", "[1]"),
        ("null[*]", "[]"),
        ('"s"[*]', '["s"]'),
        ("{a=1}.*.a", "[1]"),
        ('{for x in ["a","a"]: x => 1...}', '{"a":[1,1]}'),
        ("upper(1)", '"1"'),
        ("max([1,2]...)", "2"),
        ("{true = 1}", '{"true":1}'),
        ('"${-(length([]))}"', "-0"),  # go's big.Float keeps the sign of zero
        ("-(-0)", "0"),
        ("-0 == 0", "true"),
    ],
)
def test_expression_values_match_buildx(expr: str, expected: str) -> None:
    assert evaluate_json(expr) == expected


@pytest.mark.parametrize(
    ("expr", "column", "message"),
    [
        ("false || undefd", 29, 'Unknown variable; There is no variable named "undefd".'),
        ("null ? 1 : 2", 20, "Null condition; The condition value is null. Conditions must either be true or false."),
        ('"x" ? 1 : 2', 20, "Incorrect condition type; The condition expression must be of type bool."),
        ('"a" < "b"', 20, "Invalid operand; Unsuitable value for left operand: a number is required."),
        ("!null", 20, "Operation failed; Error during operation: argument must not be null."),
        ("1 / 0", 9, 'Error in function call; Call to function "jsonencode" failed: cannot serialize infinity as JSON.'),
        ("[1,2][2]", 25, "Invalid index; The given key does not identify an element in this collection value: "
         "the given index is greater than or equal to the length of the collection."),
        ("[1,2][-1]", 25, "Invalid index; The given key does not identify an element in this collection value: "
         "a negative number is not a valid index for a sequence."),
        ("[1,2][0.5]", 25, "Invalid index; The given key does not identify an element in this collection value: "
         "indexing a sequence requires a whole number, but the given index has a fractional part."),
        ('{a=1}["b"]', 25, "Invalid index; The given key does not identify an element in this collection value."),
        ("{a=1}[0]", 25, "Invalid index; The given key does not identify an element in this collection value. "
         "An object only supports looking up attributes by name, not by numeric index."),
        ('"x".y', 23, "Unsupported attribute; Can't access attributes on a primitive-typed value (string)."),
        ("null.y", 24, "Attempt to get attribute from null value; This value is null, so it does not have any attributes."),
        ("[for x in null: x]", 30, "Iteration over null value; A null value cannot be used as the collection in a 'for' expression."),
        ("[for x in 1: x]", 30, "Iteration over non-iterable value; A value of type number cannot be used as the collection"
         " in a 'for' expression."),
        ('{for x in ["a","a"]: x => 1}', 41, 'Duplicate object key; Two different items produced the key "a" in this'
         " 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable"
         " grouping by key."),
        ("[for x in [1]: x if null]", 40, "Condition is null; The value of the 'if' clause must not be null."),
        ('[for x in [1]: x if "q"]', 40, "Invalid 'for' condition; The 'if' clause value is invalid: a bool is required."),
        ("[for x in [null]: x if x]", 43, "Invalid 'for' condition; The value of the 'if' clause must not be null."),
        ('[for x in []: x if "q"]', 39, "Invalid 'for' condition; The 'if' clause value is invalid: a bool is required."),
        ("tostring(1)", 20, 'Call to unknown function; There is no function named "tostring".'),
        ("upper()", 26, 'Not enough function arguments; Function "upper" expects 1 argument(s). Missing value for "str".'),
        ("upper(null)", 26, 'Invalid function argument; Invalid value for "str" parameter: argument must not be null.'),
        ('join(",", ["a"]...)', 30, 'Invalid function argument; Invalid value for "lists" parameter: list of string'
         " required, but have string."),
        ('join(",", "a"...)', 30, "Invalid expanding argument value; The expanding argument (indicated by ...) must be"
         " of a tuple, list, or set type."),
        ("{a.b = 1}", 21, "Ambiguous attribute key; If this expression is intended to be a reference, wrap it in"
         " parentheses. If it's instead intended as a literal name containing periods, wrap it in quotes to create a"
         " string literal."),
        ("{(null) = 1}", 30, "Null value as key; Can't use a null value as a key."),
        ("[1][0][0]", 26, "Invalid index; This value does not have any indices."),
    ],
)
def test_expression_errors_match_buildx(expr: str, column: int, message: str) -> None:
    with pytest.raises(BakeFileError) as caught:
        evaluate_json(expr)
    assert caught.value.detail == message
    assert caught.value.location == Location("o.hcl", 3, column)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('"a-${x}-${n}"', "a-s-1"),
        ('"${x}"', "s"),
        ('"${n}"', 1),  # a lone interpolation keeps its type
        ('"${[1, 2]}"', [1, 2]),
        ('"%{ if n == 1 }one%{ else }other%{ endif }"', "one"),
        ('"%{ for i, v in ["a", "b"] }${i}=${v};%{ endfor }"', "0=a;1=b;"),
        ('"x ${~ "a" ~} y"', "xay"),
        ('"$${literal} %%{also}"', "${literal} %{also}"),
        ("<<-EOT\n    a ${x}\n      b\n    EOT", "a s\n  b\n"),
    ],
)
def test_templates(expr: str, expected: object) -> None:
    assert evaluate(expr, x="s", n=1) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("[for v in [1, 2, 3] : v * 2 if v != 2]", [2, 6]),
        ("[for i, v in [\"a\", \"b\"] : \"${i}${v}\"]", ["0a", "1b"]),
        ("{for k, v in {b = 1, a = 2} : v => k}", {"1": "b", "2": "a"}),
        ("{for v in [\"x\", \"y\", \"x\"] : v => v...}", {"x": ["x", "x"], "y": ["y"]}),
        ("[for k, v in {b = 1, a = 2} : k]", ["a", "b"]),  # objects iterate in key order
        ("[for s in setunion([\"b\"], [\"a\"]) : s]", ["a", "b"]),
        ("{a = [{b = 1}, {b = 2}]}.a[*].b", [1, 2]),
        ("[[1, 2], [3]][1][0]", 3),
        ("{\"k-1\" = 1}[\"k-1\"]", 1),
        ("1 + 2 * 3 - 4 / 2", 5),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("!true || (1 < 2 && 2 >= 2)", True),
        ("concat([1], [[\"a\"]]...)", [1, "a"]),
        ("try(nope, \"fallback\")", "fallback"),
        ("can(nope)", False),
        ("can(1)", True),
        ("convert(\"1\", number)", 1),
        ("null", None),
    ],
)
def test_expressions(expr: str, expected: object) -> None:
    assert evaluate(expr) == expected


def test_unknown_variable_suggests_a_close_name() -> None:
    with pytest.raises(BakeFileError) as caught:
        evaluate("VERSON", VERSION="1")
    assert caught.value.detail == 'Unknown variable; There is no variable named "VERSON". Did you mean "VERSION"?'


def test_conditional_with_inconsistent_types_fails() -> None:
    with pytest.raises(BakeFileError) as caught:
        evaluate('true ? [1] : {a = 1}')
    assert caught.value.detail.startswith("Inconsistent conditional result types;")


def test_try_reports_every_failure() -> None:
    with pytest.raises(BakeFileError) as caught:
        evaluate("try(nope, alsonope)")
    assert 'Call to function "try" failed: no expression succeeded:' in caught.value.detail
    assert "Unknown variable (at e.hcl:1:9)" in caught.value.detail


def test_compiled_closures_are_reused() -> None:
    body = syntax.parse('x = "${a}-${b}"\n', "c.hcl")
    compiler = Compiler()
    expr = body.attributes[0].expr
    assert compiler.compile(expr) is compiler.compile(expr)
    results = [
        compiler.evaluate(expr, Env(Context(), {"a": cty.string_val(str(i)), "b": cty.number_val(i)})).v
        for i in range(3)
    ]
    assert results == ["0-0", "1-1", "2-2"]


# --------------------------------------------------------------------------
# Live differential test: random typed expressions, bakeplan vs real buildx


class ExprGenerator:
    """Random, mostly well-typed HCL expressions over a few known variables."""

    STRINGS = ['"a"', '"b-c"', '"x.y"', '""', "S", '"${S}-t"']
    NUMBERS = ["0", "1", "2.5", "10", "0.1", "N", "-3"]
    LISTS = ['["a", "b"]', "L", '[]', '["z"]']

    def __init__(self, seed: int) -> None:
        import random

        self.rng = random.Random(seed)

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def gen(self, kind: str, depth: int = 0) -> str:
        if depth > 2 or self.rng.random() < 0.3:
            return self.pick({"str": self.STRINGS, "num": self.NUMBERS, "bool": ["true", "false", "B"], "list": self.LISTS}[kind])
        build: Callable[[int], str] = getattr(self, "gen_" + kind)
        return build(depth + 1)

    def gen_str(self, d: int) -> str:
        g = self.gen
        return self.pick([
            f'"${{{g("str", d)}}}-${{{g("num", d)}}}"',
            f'upper({g("str", d)})',
            f'join(",", {g("list", d)})',
            f'"%{{ if {g("bool", d)} }}yes%{{ else }}no%{{ endif }}"',
            f'"%{{ for i, v in {g("list", d)} }}${{i}}=${{v}};%{{ endfor }}"',
            f'{g("bool", d)} ? {g("str", d)} : {g("num", d)}',
            f'format("%s/%d", {g("str", d)}, floor({g("num", d)}))',
            f'replace({g("str", d)}, "a", "A")',
            f'O.{self.pick(["k", "m"])}',
            f'lookup(O, {g("str", d)}, "dflt")',
            f'coalesce({g("str", d)}, "c")',
            f'{g("list", d)}[{g("num", d)}]',
            f'O[{g("str", d)}]',
            f'element({g("list", d)}, {g("num", d)})',
            f'"${{{g("bool", d)}}}/${{{g("list", d)}[0]}}"',
            f'trimspace(" ${{{g("str", d)}}} ")',
        ])

    def gen_num(self, d: int) -> str:
        g = self.gen
        return self.pick([
            f'{g("num", d)} {self.pick(["+", "-", "*", "/", "%"])} {g("num", d)}',
            f'length({g("list", d)})',
            f'max({g("num", d)}, {g("num", d)})',
            f'-({g("num", d)})',
            f'{g("bool", d)} ? {g("num", d)} : {g("num", d)}',
            f'"${{{g("num", d)}}}"',
        ])

    def gen_bool(self, d: int) -> str:
        g = self.gen
        return self.pick([
            f'{g("num", d)} {self.pick(["<", ">", "<=", ">=", "==", "!="])} {g("num", d)}',
            f'{g("str", d)} == {g("str", d)}',
            f'{g("bool", d)} {self.pick(["&&", "||"])} {g("bool", d)}',
            f'!{g("bool", d)}',
            f'contains({g("list", d)}, {g("str", d)})',
        ])

    def gen_list(self, d: int) -> str:
        g = self.gen
        return self.pick([
            f'[for v in {g("list", d)} : "${{v}}-{self.rng.randint(0, 9)}"]',
            f'[for v in {g("list", d)} : v if v != {g("str", d)}]',
            f'concat({g("list", d)}, [{g("str", d)}])',
            f'split(",", {g("str", d)})',
            '[for k, v in O : "${k}:${v}"]',
            f'keys({{for v in {g("list", d)} : v => v...}})',
            f'[{{a = {g("str", d)}}}, {{a = {g("str", d)}}}][*].a',
            f'{g("bool", d)} ? {g("list", d)} : {g("list", d)}',
            f'distinct(concat({g("list", d)}, {g("list", d)}))',
            f'values({{for k, v in O : upper(k) => "${{v}}{g("num", d)}"}})',
            f'flatten([{g("list", d)}, [{g("list", d)}]])',
            f'slice({g("list", d)}, 0, {g("num", d)})',
            f'sort({g("list", d)})',
            f'reverse({g("list", d)})',
        ])


PRELUDE = """variable "S" { default = "sv" }
variable "N" { default = 4 }
variable "B" { default = true }
variable "L" { default = ["p", "q"] }
O = { k = "kv", m = "mv" }
"""


def _differential_file(seed: int, count: int) -> tuple[str, list[str]]:
    gen = ExprGenerator(seed)
    exprs = [gen.gen(gen.pick(["str", "num", "bool", "list"])) for _ in range(count)]
    lines = [PRELUDE]
    for i, expr in enumerate(exprs):
        lines.append(f'target "t{i}" {{\n  args = {{\n    x = jsonencode({expr})\n  }}\n}}\n')
    return "".join(lines), exprs


@pytest.mark.buildx
@pytest.mark.parametrize("seed", range(6))
def test_random_expressions_match_buildx(seed: int, buildx: Any, tmp_path: Any) -> None:
    import json
    import subprocess

    from bakeplan.bake.definition import read_definition

    # one file per expression batch; buildx fails the whole file on any error, so compare per expression
    src, exprs = _differential_file(seed, 12)
    for i, expr in enumerate(exprs):
        single = PRELUDE + f'target "t" {{\n  args = {{\n    x = jsonencode({expr})\n  }}\n}}\n'
        path = tmp_path / f"e{i}.hcl"
        path.write_text(single)
        run = subprocess.run(
            buildx.argv("bake", "--progress=quiet", "-f", str(path), "--print", "t"),
            env=buildx.env, capture_output=True, text=True, check=False, cwd=tmp_path,
        )
        try:
            definition = read_definition([syntax.parse(single, str(path))], env={}, builtins={})
            mine: str | None = str(definition.targets[0].attributes["args"].value.v["x"].v)
        except BakeFileError:
            mine = None
        if run.returncode != 0:
            assert mine is None, (expr, run.stderr[-300:])
            continue
        theirs = json.loads(run.stdout)["target"]["t"]["args"]["x"]
        assert mine == theirs, expr
