"""Matrix expansion: combination order, naming, validation (checked against buildx v0.36.1)."""

from __future__ import annotations

import pytest

from bakeplan.bake.definition import Definition, read_definition
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import syntax
from bakeplan.hcl import values as cty


def define(src: str) -> Definition:
    return read_definition([syntax.parse(src, "m.hcl")], env={}, builtins={})


def names(src: str) -> list[str]:
    return [block.name for block in define(src).targets]


def test_first_key_is_the_outermost_loop_and_values_keep_list_order() -> None:
    src = """
target "app" {
  name = "app-${os}-${arch}"
  matrix = {
    os = ["linux", "darwin"]
    arch = ["amd64", "arm64", "riscv64"]
  }
}
"""
    assert names(src) == [
        "app-linux-amd64",
        "app-linux-arm64",
        "app-linux-riscv64",
        "app-darwin-amd64",
        "app-darwin-arm64",
        "app-darwin-riscv64",
    ]


def test_source_order_of_keys_wins_over_alphabetical_order() -> None:
    src = """
target "t" {
  name = "t-${z}-${a}"
  matrix = {
    z = ["1", "2"]
    a = ["x", "y"]
  }
}
"""
    assert names(src) == ["t-1-x", "t-1-y", "t-2-x", "t-2-y"]


def test_matrix_values_of_any_type_reach_attributes_and_the_block_records_them() -> None:
    src = """
target "app" {
  name = "app-${a}-${b.x}"
  matrix = {
    a = ["1", 2]
    b = [{x = "p"}, {x = "q"}]
  }
  args = { A = a, B = b.x }
}
"""
    blocks = define(src).targets
    # buildx printed app-1-p, app-2-p, app-1-q, app-2-q (in random order)
    assert [b.name for b in blocks] == ["app-1-p", "app-1-q", "app-2-p", "app-2-q"]
    assert cty.to_python(blocks[1].attributes["args"].value) == {"A": "1", "B": "q"}
    assert {k: cty.to_python(v) for k, v in blocks[2].matrix.items()} == {"a": 2, "b": {"x": "p"}}
    assert all(b.label == "app" for b in blocks)


def test_the_block_label_becomes_a_group_of_the_generated_names() -> None:
    src = """
target "app" {
  name = "app-${v}"
  matrix = { v = ["1", "2"] }
}
target "plain" {}
"""
    assert define(src).renamed == {"app": ("app-1", "app-2")}


def test_matrix_without_name_keeps_the_label() -> None:
    src = 'target "t" {\n  matrix = { v = ["1"] }\n  args = { V = v }\n}\n'
    assert names(src) == ["t"]


def test_an_empty_matrix_renames_the_target() -> None:
    src = 'target "ren" {\n  name = "renamed"\n  matrix = {}\n}\n'
    definition = define(src)
    assert [b.name for b in definition.targets] == ["renamed"]
    assert definition.renamed == {"ren": ("renamed",)}


def test_a_matrix_key_with_no_values_yields_no_targets_and_an_empty_group() -> None:
    src = 'target "t" {\n  matrix = { a = [] }\n}\n'
    definition = define(src)
    assert definition.targets == ()
    assert definition.renamed == {"t": ()}


def test_6400_combinations_expand() -> None:
    src = """
target "m" {
  name = "m-${a}-${b}-${c}"
  matrix = {
    a = range(16)
    b = range(20)
    c = range(20)
  }
  tags = ["r/m:${a}-${b}-${c}"]
}
"""
    blocks = define(src).targets
    assert len(blocks) == 6400
    assert blocks[0].name == "m-0-0-0" and blocks[-1].name == "m-15-19-19"
    assert cty.to_python(blocks[21].attributes["tags"].value) == ["r/m:0-1-1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"', "Invalid name; name requires matrix"),
        ('name = "a/b"\nmatrix = {}', 'Invalid name; only "[a-zA-Z0-9_-]+" are allowed'),
        ('name = "same"\nmatrix = { a = [1, 2] }', 'Invalid name; duplicate name "same"'),
        ('matrix = "s"', "Invalid name; matrix must be a map"),
        ('matrix = { a = "s" }', "Invalid name; matrix values must be a list"),
        (
            'name = "n-${a}"\nmatrix = { a = [[1]] }',
            "Invalid template interpolation value; Cannot include the given value in a string template:"
            " string required, but have tuple.",
        ),
    ],
)
def test_invalid_matrices_fail_like_buildx(body: str, message: str) -> None:
    src = 'target "t" {\n%s\n}\ntarget "u" {}\n' % body
    with pytest.raises(BakeFileError) as caught:
        define(src)
    assert caught.value.detail == message
    assert caught.value.location is not None and caught.value.location.line in (1, 2)


def test_name_errors_point_at_the_block_label() -> None:
    with pytest.raises(BakeFileError) as caught:
        define('target "t" {\n  name = "x"\n}\n')
    assert caught.value.location == Location("m.hcl", 1, 8)


def test_a_numeric_name_converts_to_a_string() -> None:
    assert names('target "t" {\n  matrix = { a = [1] }\n  name = 5\n}\n') == ["5"]


def test_groups_reject_matrix_and_name() -> None:
    with pytest.raises(BakeFileError, match="matrix is not supported for groups"):
        define('group "g" {\n  targets = []\n  matrix = {}\n}\n')
    with pytest.raises(BakeFileError, match="name is not supported for groups"):
        define('group "g" {\n  targets = []\n  name = "x"\n}\n')


def test_an_invalid_label_is_rejected() -> None:
    with pytest.raises(BakeFileError) as caught:
        define('target "a/b" {}\n')
    assert caught.value.detail == 'Invalid name; only "[a-zA-Z0-9_-]+" are allowed'
