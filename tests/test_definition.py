"""buildx's hclparser semantics: variables, globals, functions, blocks, references.

Expected values were checked against `docker buildx bake --print` v0.36.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.definition import Definition, parse_source, read_definition
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import syntax
from bakeplan.hcl import values as cty

BUILTINS = {"BAKE_CMD_CONTEXT": "cwd://", "BAKE_LOCAL_PLATFORM": "linux/amd64"}


def define(*sources: str, env: dict[str, str] | None = None, vars: dict[str, str] | None = None) -> Definition:
    bodies = [syntax.parse(src, f"f{i}.hcl") for i, src in enumerate(sources)]
    return read_definition(bodies, env=env or {}, vars=vars, builtins=BUILTINS)


def attrs(definition: Definition, name: str) -> dict[str, Any]:
    (block,) = [b for b in definition.blocks if b.name == name]
    return {key: cty.to_python(a.value) for key, a in block.attributes.items()}


def args(definition: Definition, name: str = "t") -> dict[str, Any]:
    """A block's `args` as buildx decodes them (map of string)."""
    (block,) = [b for b in definition.blocks if b.name == name]
    value = cty.convert(block.attributes["args"].value, cty.MapType(cty.STRING))
    return cty.to_python(value)  # type: ignore[no-any-return]


def fails(*sources: str, env: dict[str, str] | None = None) -> BakeFileError:
    with pytest.raises(BakeFileError) as caught:
        define(*sources, env=env)
    return caught.value


VARIABLES = """
variable "S" { default = "s" }
variable "B" { default = false }
variable "N" { default = 1 }
variable "L" {
  type = list(string)
  default = ["a"]
}
variable "LN" { type = list(number) }
variable "O" {
  type = object({a = string, b = number})
  default = {a = "x", b = 1}
}
variable "U" {}
variable "T" { default = ["x", 1] }
variable "M" {
  type = map(string)
  default = {}
}
variable "TU" {
  type = tuple([string, number])
  default = ["a", 1]
}
variable "SE" {
  type = set(string)
  default = []
}
variable "ANY" {
  type = any
  default = {a = 1}
}
target "t" {
  args = {
    S = S
    B = B
    N = N
    L = jsonencode(L)
    LN = jsonencode(LN)
    O = jsonencode(O)
    U = U
    T = jsonencode(T)
    M = jsonencode(M)
    TU = jsonencode(TU)
    SE = jsonencode(SE)
    ANY = jsonencode(ANY)
  }
}
"""


def test_variable_defaults() -> None:
    assert args(define(VARIABLES)) == {
        "S": "s",
        "B": "false",
        "N": "1",
        "L": '["a"]',
        "LN": "null",
        "O": '{"a":"x","b":1}',
        "U": "",
        "T": '["x",1]',
        "M": "{}",
        "TU": '["a",1]',
        "SE": "[]",
        "ANY": '{"a":1}',
    }


def test_environment_overrides_convert_to_the_variable_type() -> None:
    env = {
        "S": "env",
        "B": "true",
        "N": "2.50",
        "L": 'a,b,"c,d"',
        "LN": "1,2",
        "O_JSON": '{"a":"j","b":2}',
        "U": "u",
        "M": "a:1,b:2",
        "TU": "z,5",
        "SE": "b,a,b",
        "ANY_JSON": '{"value":[1],"type":["list","number"]}',
    }
    assert args(define(VARIABLES, env=env)) == {
        "S": "env",
        "B": "true",
        "N": "2.5",
        "L": '["a","b","c,d"]',
        "LN": "[1,2]",
        "O": '{"a":"j","b":2}',
        "U": "u",
        "T": '["x",1]',
        "M": '{"a":"1","b":"2"}',
        "TU": '["z",5]',
        "SE": '["a","b"]',
        "ANY": "[1]",
    }


def test_untyped_variables_take_json_overrides_as_plain_text() -> None:
    assert args(define(VARIABLES, env={"S_JSON": '"j"', "L_JSON": '["j"]'}))["S"] == '"j"'
    assert args(define(VARIABLES, env={"L_JSON": '["j"]'}))["L"] == '["j"]'


def test_var_flags_win_over_the_environment() -> None:
    src = 'variable "X" { default = "def" }\nG = "${X}-g"\ntarget "t" {\n  args = { X = X, G = G }\n}\n'
    assert args(define(src, env={"X": "env"}, vars={"X": "var"})) == {"X": "var", "G": "var-g"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"T": "x"}, "Invalid value; unsupported type tuple for variable T"),
        ({"B": "yes"}, 'Invalid value; failed to parse B as bool: strconv.ParseBool: parsing "yes": invalid syntax'),
        ({"N": "x"}, 'Invalid value; failed to parse N as number: strconv.ParseFloat: parsing "x": invalid syntax'),
        ({"ANY_JSON": "[1]"}, "Invalid value; failed to convert variable ANY from JSON: missing expected {"),
    ],
)
def test_bad_overrides_fail_at_the_variable(env: dict[str, str], message: str) -> None:
    error = fails(VARIABLES, env=env)
    assert error.detail == message
    assert error.location is not None
    name = next(iter(env)).removesuffix("_JSON")
    assert f'variable "{name}"' in VARIABLES.splitlines()[error.location.line - 1]


def test_variables_are_listed_with_type_value_and_description() -> None:
    src = VARIABLES + 'variable "D" {\n  description = "described"\n  default = "d"\n}\n'
    listed = {v.name: (v.type, v.display, v.description) for v in define(src).variables}
    assert listed == {
        "S": (None, "s", ""),
        "B": (None, "false", ""),
        "N": (None, "1", ""),
        "L": ("list of string", '["a"]', ""),
        "LN": ("list of number", None, ""),
        "O": ("object", '{"a":"x","b":1}', ""),
        "U": (None, "", ""),
        "T": (None, '["x",1]', ""),
        "M": ("map of string", "{}", ""),
        "TU": ("tuple", '["a",1]', ""),
        "SE": ("set of string", "[]", ""),
        "ANY": ("any type", '{"value":{"a":1},"type":["object",{"a":"number"}]}', ""),
        "D": (None, "d", "described"),
    }


def test_validation_blocks() -> None:
    src = """variable "D" {
  default = "d"
  validation {
    condition = D != "bad"
    error_message = "D must not be bad"
  }
}
target "t" {}
"""
    define(src)
    error = fails(src, env={"D": "bad"})
    assert error.detail == "Validation failed; D must not be bad"
    assert error.location == Location("f0.hcl", 4, 17)


def test_builtin_variables() -> None:
    src = 'target "t" {\n  args = { P = BAKE_LOCAL_PLATFORM, C = BAKE_CMD_CONTEXT }\n}\n'
    assert args(define(src)) == {"P": "linux/amd64", "C": "cwd://"}


def test_a_later_variable_block_replaces_an_earlier_one_across_files() -> None:
    first = 'variable "X" { default = "a" }\n'
    second = 'variable "X" {}\ntarget "t" {\n  args = { X = X }\n}\n'
    assert args(define(first, second)) == {"X": ""}


def test_top_level_attributes_are_globals_evaluated_lazily() -> None:
    src = 'variable "A" { default = B }\nB = "x"\ntarget "t" {\n  args = { A = A, B = B, C = C }\n}\nC = "${A}y"\n'
    assert args(define(src)) == {"A": "x", "B": "x", "C": "xy"}


@pytest.mark.parametrize(
    "src",
    [
        'variable "A" { default = B }\nvariable "B" { default = A }\ntarget "t" {}\n',
        'A = B\nB = "${A}x"\ntarget "t" {}\n',
    ],
)
def test_variable_cycles_fail_as_buildx_words_them_with_the_path_in_the_hint(src: str) -> None:
    error = fails(src)
    assert error.detail == "Invalid expression; variable cycle not allowed for A"
    assert error.hint is not None and "(A -> B -> A)" in error.hint


def test_an_undefined_variable_fails_even_in_a_target_nobody_asked_for() -> None:
    error = fails('target "ok" { tags = ["a"] }\ntarget "bad" { tags = [UNDEF] }\n')
    # gohcl reports a failed expression twice (its value is also unknown): buildx counts the other one
    assert error.detail == 'Unknown variable; There is no variable named "UNDEF"., and 1 other diagnostic(s)'
    assert error.location == Location("f0.hcl", 2, 24)


def test_unknown_attributes_are_ignored_without_evaluation() -> None:
    definition = define('target "ok" {\n  tags = ["a"]\n  foo = UNDEF\n}\n')
    assert list(definition.targets[0].attributes) == ["tags"]


def test_attributes_keep_their_locations() -> None:
    definition = define('target "t" {\n  tags = ["a"]\n}\n')
    tags = definition.targets[0].attributes["tags"]
    assert tags.location == Location("f0.hcl", 2, 10)
    assert tags.name_location == Location("f0.hcl", 2, 3)


@pytest.mark.parametrize(
    ("src", "message", "where"),
    [
        ("target {\n}\n", "Missing name for target; All target blocks must have 1 labels (name).", 1),
        ('target "a" "b" {\n}\n', "Extraneous label for target; Only 1 labels (name) are expected for target blocks.", 1),
        (
            'group "g" {\n  targets = ["t"]\n}\ngroup "g" {\n  description = "x"\n}\ntarget "t" {}\n',
            'Missing required argument; The argument "targets" is required, but no definition was found.',
            4,
        ),
    ],
)
def test_block_structure_errors(src: str, message: str, where: int) -> None:
    error = fails(src)
    assert error.detail == message
    assert error.location is not None and error.location.line == where


def test_unknown_block_types_are_ignored() -> None:
    definition = define('foo "a" {\n  x = undefined_thing\n}\ntarget "t" {}\n')
    assert [b.name for b in definition.blocks] == ["t"]


def test_blocks_come_in_source_order_without_merging() -> None:
    definition = define('target "b" {}\ngroup "g" {\n  targets = ["b"]\n}\ntarget "a" {}\ntarget "b" {}\n')
    assert [(b.kind, b.name) for b in definition.blocks] == [
        ("target", "b"),
        ("group", "g"),
        ("target", "a"),
        ("target", "b"),
    ]


def test_target_references_read_the_last_block_of_that_name() -> None:
    src = """
target "a" {
  tags = target.b.tags
  args = { c = target.c.context, d = jsonencode(target.c.args), n = target.b.name }
}
target "b" { tags = ["b1"] }
target "b" { args = { x = "1" } }
target "c" {
  context = "ctx"
  args = { n = 1 }
}
target "c" { dockerfile = "D" }
target "e" {
  args = { q = 1 }
}
target "f" {
  args = { x = target.e.args.q, y = jsonencode(target.e.platforms) }
}
"""
    definition = define(src)
    # buildx v0.36.1 printed: a has no tags, args {"d": "null"} (a null arg is dropped later)
    assert attrs(definition, "a") == {"tags": None, "args": {"c": None, "d": "null", "n": "b"}}
    assert args(definition, "f") == {"x": "1", "y": "null"}


def test_target_reference_cycles_fail() -> None:
    error = fails('target "a" {\n  tags = target.b.tags\n}\ntarget "b" {\n  tags = target.a.tags\n}\n')
    assert "reference cycle not allowed for target.a.tags" in error.detail


def test_user_functions() -> None:
    src = """
function "f" {
  params = [a]
  variadic_params = rest
  result = "${a}-${join(",", rest)}"
}
function "g" {
  params = []
  result = f("g", "x")
}
target "t" {
  args = { x = f("a"), y = f("a", "b", "c"), z = g() }
}
"""
    assert args(define(src)) == {"x": "a-", "y": "a-b,c", "z": "g-x"}


@pytest.mark.parametrize(
    ("src", "message", "line"),
    [
        (
            'function "f" {\n  params = [a]\n  result = "${a}${zz}"\n}\ntarget "t" {}\n',
            'Invalid expression; variable "zz" does not exist: undefined',
            3,
        ),
        (
            'function "f" {\n  params = [a]\n  result = nofn(a)\n}\ntarget "t" {}\n',
            'Invalid expression; function "nofn" does not exist: undefined',
            3,
        ),
        (
            'function "f" {\n  params = [a]\n  result = g(a)\n}\nfunction "g" {\n  params = [a]\n  result = f(a)\n}\ntarget "t" {}\n',
            "Invalid expression; function cycle not allowed for f",
            7,
        ),
        (
            'function "f" {\n  params = [a]\n  result = a\n}\ntarget "t" {\n args = { x = f() }\n}\n',
            'Not enough function arguments; Function "f" expects 1 argument(s). Missing value for "a"., and 1 other diagnostic(s)',
            6,
        ),
        (
            'function "f" {\n  params = [a]\n  result = a\n}\ntarget "t" {\n args = { x = f(null) }\n}\n',
            'Invalid function argument; Invalid value for "a" parameter: argument must not be null., and 1 other diagnostic(s)',
            6,
        ),
        (
            'function "f" {\n  params = [a]\n  result = "${a}" + 1\n}\ntarget "t" {\n args = { x = f("z") }\n}\n',
            'Error in function call; Call to function "f" failed: f0.hcl:3:12: Invalid operand; Unsuitable value'
            " for left operand: a number is required.., and 1 other diagnostic(s)",
            6,
        ),
    ],
)
def test_user_function_errors(src: str, message: str, line: int) -> None:
    error = fails(src)
    assert error.detail == message
    assert error.location is not None and error.location.line == line


def test_stdlib_functions_win_over_user_functions_of_the_same_name() -> None:
    src = 'function "upper" {\n  params = [s]\n  result = "user"\n}\ntarget "t" {\n  args = { x = upper("a") }\n}\n'
    assert args(define(src)) == {"x": "A"}


def test_json_bake_files_mix_with_hcl_files() -> None:
    hcl = syntax.parse('target "t" {\n  args = { V = V, G = G }\n}\n', "a.hcl")
    data = b'{"variable": {"V": {"default": "v"}}, "G": "g-${V}"}'
    definition = read_definition([hcl, parse_source("b.json", data)], env={}, builtins=BUILTINS)
    assert args(definition) == {"V": "v", "G": "g-v"}




def test_every_corpus_file_evaluates_or_fails_where_buildx_fails(corpus_dir: Path) -> None:
    for case in sorted(p for p in corpus_dir.iterdir() if (p / "CASE.json").exists()):
        spec = json.loads((case / "CASE.json").read_text())
        bodies = [parse_source(f, (case / f).read_bytes()) for f in spec["files"]]
        expected_error = case / "expected.err"
        if expected_error.exists():
            with pytest.raises(BakeFileError) as caught:
                read_definition(bodies, env=spec.get("env", {}), builtins=BUILTINS)
            line = expected_error.read_text().split(":")[2].split(",")[0]
            assert caught.value.location is not None and caught.value.location.line == int(line), case.name
        else:
            read_definition(bodies, env=spec.get("env", {}), builtins=BUILTINS)


def test_json_files_hold_functions_typed_variables_and_matrices() -> None:
    data = b"""{
  "variable": {"L": {"type": "list(string)", "default": ["a"]}},
  "function": {"f": {"params": ["a"], "variadic_params": "rest", "result": "${a}-${length(rest)}"}},
  "target": {"m": {"name": "m-${x}", "matrix": {"x": ["1", "2"]}, "args": {"X": "${f(x, L...)}"}}}
}"""
    definition = read_definition([parse_source("b.json", data)], env={"L": "p,q"}, builtins=BUILTINS)
    # buildx v0.36.1: m-1 {X: "1-2"}, m-2 {X: "2-2"}
    assert [(b.name, args(definition, b.name)) for b in definition.targets] == [
        ("m-1", {"X": "1-2"}),
        ("m-2", {"X": "2-2"}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.50", "2.5"), ("1e3", "1000"), (".5", "0.5"), ("+5", "5"), ("0x1p4", "16")],
)
def test_number_overrides_parse_like_go(text: str, expected: str) -> None:
    src = 'variable "N" { default = 1 }\ntarget "t" {\n  args = { N = N }\n}\n'
    assert args(define(src, env={"N": text})) == {"N": expected}


@pytest.mark.parametrize("text", ["1_000", "0x10", "abc", "", "inf", "NaN"])
def test_bad_number_overrides_fail(text: str) -> None:
    src = 'variable "N" { default = 1 }\ntarget "t" {}\n'
    assert "failed to parse N as number" in fails(src, env={"N": text}).detail


BASE_1 = 'target "base" {\n  dockerfile = "a.Dockerfile"\n  args = { A = "1" }\n}\n'
BASE_2 = 'target "base" {\n  tags = ["x"]\n  args = { B = "2" }\n}\n'
BASE_3 = 'target "base" {\n  dockerfile = "c.Dockerfile"\n  args = { C = "3" }\n}\n'
READER = 'target "app" {\n  dockerfile = target.base.dockerfile\n  tags = target.base.tags\n  args = target.base.args\n}\n'


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # read after both blocks: the first block's struct, merged (`tags`, sorted last, stores it last)
        ((BASE_1 + BASE_2 + READER,), {"dockerfile": "a.Dockerfile", "tags": ["x"], "args": {"A": "1", "B": "2"}}),
        # read before or between the blocks: the last block's own struct
        ((READER + BASE_1 + BASE_2,), {"dockerfile": None, "tags": ["x"], "args": {"B": "2"}}),
        ((BASE_1 + READER, BASE_2), {"dockerfile": None, "tags": ["x"], "args": {"B": "2"}}),
        # three blocks: `tags` stores the first (merged), then the third: the third's own
        ((BASE_1 + BASE_2 + BASE_3 + READER,), {"dockerfile": "c.Dockerfile", "tags": None, "args": {"C": "3"}}),
        # only `args`, which every block decoded already: what Parse stored last, the last block's own
        ((BASE_1 + BASE_2 + 'target "app" {\n  args = target.base.args\n}\n',), {"args": {"B": "2"}}),
    ],
)
def test_references_to_a_target_of_several_blocks_read_the_struct_stored_last(sources: tuple[str, ...], expected: dict[str, Any]) -> None:
    assert attrs(define(*sources), "app") == expected


@pytest.mark.parametrize(
    ("sources", "first", "others"),
    [
        # every failed expression in every block counts twice, the first (in source order) is shown
        (('target "a" {\n  tags = [nope]\n}\ntarget "b" {\n  dockerfile = nope\n  args = { x = upper(1, 2) }\n}\n',), (2, 11), 5),
        # a reference cycle ends its block with one diagnostic
        (('target "a" {\n  tags = target.a.tags\n}\n',), (2, 10), 0),
    ],
)
def test_failures_in_blocks_are_counted_as_buildx_counts_them(sources: tuple[str, ...], first: tuple[int, int], others: int) -> None:
    error = fails(*sources)
    assert error.location is not None and (error.location.line, error.location.column) == first
    assert error.detail.endswith(f", and {others} other diagnostic(s)") if others else "other diagnostic" not in error.detail


def test_a_target_of_several_blocks_reading_itself_is_a_cycle() -> None:
    error = fails('target "a" {\n  dockerfile = target.a.dockerfile\n}\n', 'target "a" {\n  dockerfile = "D"\n}\n')
    assert error.detail == "Invalid expression; reference cycle not allowed for target.a.dockerfile"
    assert error.location == Location("f0.hcl", 2, 16)
