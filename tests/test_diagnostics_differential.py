"""Bake file errors, live against buildx: message, line, column and count of the other diagnostics.

Each case is one erroneous bake file. buildx is run RUNS times on it, since it
visits Go maps at random and may name another diagnostic first from one run
to the next; bakeplan must give one of the variants buildx printed. Locations
are compared as line and column: buildx writes FILE:LINE,COL-COL (also inside
a message, for an error in a user function), bakeplan FILE:LINE:COL
everywhere; the text after the location must be the same.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import render
from bakeplan.bake.resolve import load
from bakeplan.errors import BakeplanError

RUNS = 5
# When bakeplan's error is not among the first RUNS variants, buildx is run up to this many more
# times before the test fails: with two variants one half each, 5 runs miss one 3 times in 100.
MORE_RUNS = 20

HCL = "docker-bake.hcl"
JSON = "docker-bake.json"

# name: (file name, content)
CASES: dict[str, tuple[str, str]] = {
    # ---- counting: every diagnostic of an expression, of a block, of the file
    "one unknown variable": (HCL, 'target "default" {\n  tags = [nope]\n}\n'),
    "a template and a bare reference": (HCL, 'target "default" {\n  tags = ["${nope}", nope2]\n}\n'),
    "two interpolations in one template": (HCL, 'target "default" {\n  tags = ["${a}-${b}"]\n}\n'),
    "two bad attributes in one target": (HCL, 'target "default" {\n  tags = [a1]\n  args = { X = a2 }\n}\n'),
    "bad attributes in two targets": (
        HCL,
        'group "default" {\n  targets = ["a", "b"]\n}\ntarget "a" {\n  tags = [x1]\n}\ntarget "b" {\n  tags = [x2]\n}\n',
    ),
    "a bad target that is not asked for": (HCL, 'target "default" {}\ntarget "other" {\n  tags = [nope]\n}\n'),
    "an unknown variable in a variable default": (HCL, 'variable "V" {\n  default = nope\n}\ntarget "default" {}\n'),
    "two errors in a variable default": (HCL, 'variable "V" {\n  default = "${a}${b}"\n}\ntarget "default" {}\n'),
    "two bad variables": (
        HCL,
        'variable "V" {\n  default = a\n}\nvariable "W" {\n  default = b\n}\ntarget "default" {}\n',
    ),
    "a bad top-level attribute": (HCL, 'X = nope\ntarget "default" {\n  tags = [X]\n}\n'),
    "a bad top-level attribute nobody reads": (HCL, 'X = nope\ntarget "default" {}\n'),
    "a for expression over an unknown": (HCL, 'target "default" {\n  tags = [for x in nope : x]\n}\n'),
    "a for expression with a bad body": (HCL, 'target "default" {\n  tags = [for x in ["a", "b"] : nope]\n}\n'),
    "a for expression with a bad condition": (
        HCL,
        'target "default" {\n  tags = [for x in ["a", "b"] : x if nope]\n}\n',
    ),
    "an object for expression with a bad key": (
        HCL,
        'target "default" {\n  args = {for x in ["a"] : nope => x}\n}\n',
    ),
    "a conditional on an unknown": (HCL, 'target "default" {\n  tags = nope ? ["a"] : ["b"]\n}\n'),
    "a conditional with both results bad": (HCL, 'target "default" {\n  tags = true ? a : b\n}\n'),
    "a conditional on a string": (HCL, 'target "default" {\n  tags = "x" ? ["a"] : ["b"]\n}\n'),
    "a function argument unknown": (HCL, 'target "default" {\n  tags = [upper(nope)]\n}\n'),
    "two function arguments unknown": (HCL, 'target "default" {\n  tags = [join(a, b)]\n}\n'),
    "an unknown function": (HCL, 'target "default" {\n  tags = [nofn("a")]\n}\n'),
    "an unknown function with a bad argument": (HCL, 'target "default" {\n  tags = [nofn(nope)]\n}\n'),
    "too many arguments": (HCL, 'target "default" {\n  tags = [upper("a", "b")]\n}\n'),
    "too few arguments": (HCL, 'target "default" {\n  tags = [join("-")]\n}\n'),
    "an argument of the wrong type": (HCL, 'target "default" {\n  tags = [upper(["a"])]\n}\n'),
    "a function that fails": (HCL, 'target "default" {\n  tags = [regex("(", "a")]\n}\n'),
    "a user function with a bad body": (
        HCL,
        'function "f" {\n  params = [x]\n  result = nope\n}\ntarget "default" {\n  tags = [f("a")]\n}\n',
    ),
    "a user function with too many arguments": (
        HCL,
        'function "f" {\n  params = [x]\n  result = x\n}\ntarget "default" {\n  tags = [f("a", "b")]\n}\n',
    ),
    "a user function calling a bad one": (
        HCL,
        'function "f" {\n  params = [x]\n  result = "${x}${nope}"\n}\nfunction "g" {\n  params = [y]\n'
        '  result = f(y)\n}\ntarget "default" {\n  tags = [g("a")]\n}\n',
    ),
    "a user function failing inside": (
        HCL,
        'function "f" {\n  params = [x]\n  result = upper(x, x)\n}\ntarget "default" {\n  tags = [f("a")]\n}\n',
    ),
    "a user function called twice badly": (
        HCL,
        'function "f" {\n  params = [x]\n  result = x\n}\ntarget "default" {\n  tags = [f(), f("a", "b")]\n}\n',
    ),
    "a matrix over an unknown": (
        HCL,
        'target "default" {\n  matrix = {\n    v = nope\n  }\n  name = "a-${v}"\n}\n',
    ),
    "a bad attribute in every matrix combination": (
        HCL,
        'target "default" {\n  matrix = {\n    v = ["x", "y"]\n  }\n  name = "a-${v}"\n  tags = [nope]\n}\n',
    ),
    "a matrix name with an unknown": (
        HCL,
        'target "default" {\n  matrix = {\n    v = ["x", "y"]\n  }\n  name = "a-${w}"\n}\n',
    ),
    "a matrix that is not a map": (HCL, 'target "default" {\n  matrix = ["x"]\n  name = "a"\n}\n'),
    "inherits from an unknown": (HCL, 'target "default" {\n  inherits = [nope]\n}\n'),
    "inherits and a bad attribute": (
        HCL,
        'target "base" {\n  tags = [b1]\n}\ntarget "default" {\n  inherits = ["base"]\n  args = { X = b2 }\n}\n',
    ),
    "group targets from an unknown": (HCL, 'group "default" {\n  targets = [nope]\n}\n'),
    "a group without targets": (HCL, 'group "default" {\n}\n'),
    "a list where a map is due": (HCL, 'target "default" {\n  args = ["a"]\n}\n'),
    "a string where a list is due": (HCL, 'target "default" {\n  tags = "a"\n}\n'),
    "a word where a bool is due": (HCL, 'target "default" {\n  no-cache = "maybe"\n}\n'),
    "two values of the wrong type": (HCL, 'target "default" {\n  args = ["a"]\n  no-cache = "maybe"\n}\n'),
    "a wrong type and a bad expression": (HCL, 'target "default" {\n  args = ["a"]\n  tags = [nope]\n}\n'),
    "a bad operand": (HCL, 'target "default" {\n  tags = [1 + "a"]\n}\n'),
    "two bad operands": (HCL, 'target "default" {\n  tags = [a + b]\n}\n'),
    "an index out of range": (HCL, 'target "default" {\n  tags = [["a"][3]]\n}\n'),
    "an index just past the end": (HCL, 'target "default" {\n  tags = [["a"][1]]\n}\n'),
    "an attribute of a string": (HCL, 'target "default" {\n  tags = ["a".b]\n}\n'),
    "an unknown object key": (HCL, 'target "default" {\n  args = { (nope) = "x" }\n}\n'),
    "a bad key and a bad value": (HCL, 'target "default" {\n  args = { (k) = v }\n}\n'),
    "a reference to an unknown target": (HCL, 'target "default" {\n  tags = target.nope.tags\n}\n'),
    "a reference to an unknown attribute": (
        HCL,
        'target "a" {\n  tags = ["x"]\n}\ntarget "default" {\n  args = { X = target.a.nope }\n}\n',
    ),
    "an index past a referenced list": (
        HCL,
        'target "a" {\n  tags = ["x"]\n}\ntarget "default" {\n  args = { X = target.a.tags[5] }\n}\n',
    ),
    "a reference to a group when there is none": (HCL, 'target "default" {\n  args = { X = group.nope.targets }\n}\n'),
    "a reference to a whole unknown target": (HCL, 'target "a" {}\ntarget "default" {\n  args = { X = target.nope }\n}\n'),
    "a bad top-level attribute read by two targets": (
        HCL,
        'X = nope\ngroup "default" {\n  targets = ["a", "b"]\n}\ntarget "a" {\n  tags = [X]\n}\ntarget "b" {\n  tags = [X]\n}\n',
    ),
    "a bad argument before too many": (HCL, 'target "default" {\n  tags = [upper(nope, "b")]\n}\n'),
    "a bad argument and a null one": (HCL, 'target "default" {\n  tags = [join(nope, null)]\n}\n'),
    "a user function body with two errors": (
        HCL,
        'function "f" {\n  params = [x]\n  result = "${a}${b}"\n}\ntarget "default" {\n  tags = [f("a")]\n}\n',
    ),
    "a null in a template": (HCL, 'target "default" {\n  tags = ["${null}-${nope}"]\n}\n'),
    "a bad variable read by a target": (HCL, 'variable "V" {\n  default = "${a}${b}"\n}\ntarget "default" {\n  tags = [V]\n}\n'),
    "a variable cycle": (
        HCL,
        'variable "A" {\n  default = B\n}\nvariable "B" {\n  default = A\n}\ntarget "default" {}\n',
    ),
    "a failed validation": (
        HCL,
        'variable "V" {\n  default = "x"\n  validation {\n    condition = V == "y"\n'
        '    error_message = "V must be y."\n  }\n}\ntarget "default" {}\n',
    ),
    "a validation on an unknown": (
        HCL,
        'variable "V" {\n  default = "x"\n  validation {\n    condition = nope\n'
        '    error_message = "bad"\n  }\n}\ntarget "default" {}\n',
    ),
    "a splat of an unknown": (HCL, 'target "default" {\n  tags = nope[*].x\n}\n'),
    "a unary minus on a string": (HCL, 'target "default" {\n  tags = [-"a"]\n}\n'),
    "a not on a string": (HCL, 'target "default" {\n  no-cache = !"a"\n}\n'),
    "a bad variable in a for expression default": (
        HCL,
        'variable "V" {\n  default = [for x in nope : x]\n}\ntarget "default" {}\n',
    ),
    "two unknowns in group targets": (HCL, 'group "default" {\n  targets = [nope, nope2]\n}\n'),
    "a bad body over a map's keys and values": (
        HCL,
        'target "default" {\n  tags = [for k, v in {a = "1", b = "2"} : "${k}${nope}"]\n}\n',
    ),
    "a conditional on a comparison with a bad result": (
        HCL,
        'target "default" {\n  tags = [1 == 1 ? nope : "x"]\n}\n',
    ),
    "nested calls with an unknown inside": (HCL, 'target "default" {\n  tags = [upper(lower(nope))]\n}\n'),
    "too many arguments inside a template": (HCL, 'target "default" {\n  tags = ["${upper("a", "b")}"]\n}\n'),
    "nested user functions with an unknown": (
        HCL,
        'function "f" {\n  params = [x]\n  result = upper(x)\n}\nfunction "g" {\n  params = [x]\n'
        '  result = f(x)\n}\ntarget "default" {\n  tags = [g(nope)]\n}\n',
    ),
    "a variadic user function given a bad value": (
        HCL,
        'function "f" {\n  params = [a]\n  variadic_params = rest\n  result = join(a, rest)\n}\n'
        'target "default" {\n  tags = [f("-", "x", nope)]\n}\n',
    ),
    "a misspelt function attribute": (
        HCL,
        'function "f" {\n  params = [a]\n  variadic_param = rest\n  result = a\n}\ntarget "default" {\n  tags = [f("x")]\n}\n',
    ),
    "an unknown in a matrix list": (
        HCL,
        'target "default" {\n  matrix = {\n    v = ["a", nope]\n  }\n  name = "a-${v}"\n}\n',
    ),
    "an arithmetic on an unknown": (HCL, 'target "default" {\n  dockerfile = 1 + nope\n}\n'),
    "inherits from a target that does not exist": (HCL, 'target "default" {\n  inherits = ["nope"]\n  tags = [x]\n}\n'),
    "a duplicate top-level attribute": (HCL, 'A = "x"\nA = "y"\ntarget "default" {}\n'),
    "an error after a heredoc": (
        HCL,
        'target "default" {\n  tags = [<<EOT\nx\nEOT\n  ]\n  args = { X = nope }\n}\n',
    ),
    "an indented heredoc with two unknowns": (
        HCL,
        'target "default" {\n  tags = [<<-EOT\n    ${a}\n      ${b}\n    EOT\n  ]\n}\n',
    ),
    # ---- templates and heredocs: columns
    "an interpolation after text": (HCL, 'target "default" {\n  tags = ["abc-${nope}"]\n}\n'),
    "a call in an interpolation": (HCL, 'target "default" {\n  tags = ["x${upper(nope)}"]\n}\n'),
    "an if directive on an unknown": (HCL, 'target "default" {\n  tags = ["%{ if nope }x%{ endif }"]\n}\n'),
    "a for directive over an unknown": (HCL, 'target "default" {\n  tags = ["%{ for x in nope }${x}%{ endfor }"]\n}\n'),
    "an escaped dollar then an interpolation": (HCL, 'target "default" {\n  tags = ["$${a}-${nope}"]\n}\n'),
    "a heredoc with an unknown": (HCL, 'target "default" {\n  tags = [<<EOT\nline ${nope}\nEOT\n  ]\n}\n'),
    "an indented heredoc with an unknown": (
        HCL,
        'target "default" {\n  tags = [<<-EOT\n    first\n      ${nope}\n    EOT\n  ]\n}\n',
    ),
    "a heredoc with two unknowns": (HCL, 'target "default" {\n  tags = [<<EOT\n${a}\n  ${b}\nEOT\n  ]\n}\n'),
    "a heredoc where a list is due": (HCL, 'target "default" {\n  tags = <<EOT\nx\nEOT\n}\n'),
    "a template with a non-ASCII prefix": (HCL, 'target "default" {\n  tags = ["éé-${nope}"]\n}\n'),
    "a heredoc with a directive on an unknown": (
        HCL,
        'target "default" {\n  tags = [<<EOT\n%{ if nope }x%{ endif }\nEOT\n  ]\n}\n',
    ),
    "an indented heredoc with a call": (
        HCL,
        'target "default" {\n  tags = [<<-EOT\n      a\n    ${upper(nope)}\n    EOT\n  ]\n}\n',
    ),
    "a heredoc in a call argument": (HCL, 'target "default" {\n  tags = [upper(<<EOT\n${nope}\nEOT\n  )]\n}\n'),
    "a template in a second line of a list": (HCL, 'target "default" {\n  tags = [\n    "a",\n    "b-${nope}",\n  ]\n}\n'),
    "a default of the wrong type": (
        HCL,
        'variable "V" {\n  type = list(string)\n  default = "x"\n}\ntarget "default" {}\n',
    ),
    "an unknown type": (HCL, 'variable "V" {\n  type = lst(string)\n  default = []\n}\ntarget "default" {}\n'),
    # ---- syntax
    "an unclosed bracket before a brace": (HCL, 'target "a" {\n  tags = [\n}\n'),
    "an unclosed bracket at the end": (HCL, 'target "a" {\n  tags = ["a"\n'),
    "an unclosed block": (HCL, 'target "a" {\n  tags = ["a"]\n'),
    "an unclosed object": (HCL, 'target "a" {\n  args = { x = "1"\n'),
    "an unclosed call": (HCL, 'target "a" {\n  tags = [upper("a"]\n}\n'),
    "an unclosed parenthesis": (HCL, 'target "a" {\n  tags = [(1 + 2]\n}\n'),
    "a missing equals sign": (HCL, 'target "a" {\n  tags ["a"]\n}\n'),
    "a missing value": (HCL, 'target "a" {\n  tags =\n}\n'),
    "a stray character": (HCL, 'target "a" {\n  tags = ["a"] @\n}\n'),
    "a stray character in a block": (HCL, 'target "a" {\n  ~\n}\n'),
    "an unterminated string": (HCL, 'target "a" {\n  tags = ["abc]\n}\n'),
    "an unterminated interpolation": (HCL, 'target "a" {\n  tags = ["${a"]\n}\n'),
    "an unterminated heredoc": (HCL, 'target "a" {\n  tags = [<<EOT\nabc\n'),
    "an unterminated heredoc at the end of the file": (HCL, 'x = <<EOT\nabc'),
    "an unclosed object at the end of the file": (HCL, 'x = {\n  a = 1'),
    "an unknown escape": (HCL, 'target "a" {\n  tags = ["\\q"]\n}\n'),
    "a duplicate attribute": (HCL, 'target "default" {\n  tags = ["a"]\n  tags = ["b"]\n}\n'),
    "an attribute after another on one line": (HCL, 'target "a" {\n  tags = ["a"] args = {}\n}\n'),
    "a missing comma in a tuple": (HCL, 'target "a" {\n  tags = ["a" "b"]\n}\n'),
    "a missing comma in an object": (HCL, 'target "a" {\n  args = { a = "1" b = "2" }\n}\n'),
    "a double comma": (HCL, 'target "a" {\n  tags = ["a",,]\n}\n'),
    "a for expression without a colon": (HCL, 'target "a" {\n  tags = [for x in ["a"] x]\n}\n'),
    "a conditional without a colon": (HCL, 'target "a" {\n  tags = true ? ["a"]\n}\n'),
    "a number label": (HCL, 'target 1 {\n}\n'),
    "a block without a label": (HCL, 'target {\n}\n'),
    "a block with two labels": (HCL, 'target "a" "b" {\n}\n'),
    "an unknown block type": (HCL, 'targett "a" {\n}\n'),
    "a nested block in a target": (HCL, 'target "default" {\n  tags = [nope]\n  foo {\n  }\n}\n'),
    "a stray closing brace": (HCL, 'target "a" {\n}\n}\n'),
    "a block label with an equals sign": (HCL, 'target "a" = {\n}\n'),
    "an unclosed template directive": (HCL, 'target "a" {\n  tags = ["%{ if true }x"]\n}\n'),
    "a bad number": (HCL, 'target "a" {\n  tags = [1.e]\n}\n'),
    "a missing value in an object": (HCL, 'target "a" {\n  args = { a = "1", b = }\n}\n'),
    "an unclosed tuple inside a block": (HCL, 'target "a" {\n  tags = [1, 2\n}\n'),
    "an unclosed call across lines": (HCL, 'target "a" {\n  tags = upper(\n}\n'),
    "an unclosed object in a block": (HCL, 'target "a" {\n  tags = ["a"]\n  args = {\n}\n'),
    "a semicolon": (HCL, 'target "a" {\n  tags = ["a"];\n}\n'),
    "a single-quoted string": (HCL, "target \"a\" {\n  tags = ['a']\n}\n"),
    "a single ampersand": (HCL, 'target "a" {\n  no-cache = true & false\n}\n'),
    "a comment with a stray character before an error": (HCL, 'target "a" {\n  # it is @here\n  tags = [\n}\n'),
    "two values on one line": (HCL, 'target "a" {\n  dockerfile = "x" "y"\n}\n'),
    "a block label on the next line": (HCL, 'target "a"\n{\n}\n'),
    "a string as a block type": (HCL, '"target" "a" {\n}\n'),
    "an unterminated string at the end of the file": (HCL, 'target "a" {\n  tags = ["abc'),
    # ---- JSON bake files
    "JSON: a trailing comma in an object": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["a"],\n    }\n  }\n}\n'),
    "JSON: an unclosed array": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["a"\n'),
    "JSON: a number where a block is due": (JSON, '{\n  "target": {\n    "default": 1\n  }\n}\n'),
    "JSON: a call in a template": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["${upper(nope)}"]\n    }\n  }\n}\n'),
    "JSON: not an object": (JSON, '["a"]\n'),
    "JSON: two errors in a variable default": (
        JSON,
        '{\n  "variable": {\n    "V": {\n      "default": "${a}-${b}"\n    }\n  },\n  "target": {\n    "default": {}\n  }\n}\n',
    ),
    "JSON: a bad attribute in a matrix target": (
        JSON,
        '{\n  "target": {\n    "default": {\n      "matrix": {"v": ["x", "y"]},\n      "name": "a-${v}",\n'
        '      "tags": ["${nope}"]\n    }\n  }\n}\n',
    ),
    "JSON: an unknown variable in a template": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["${nope}"]\n    }\n  }\n}\n'),
    "JSON: two unknowns": (
        JSON,
        '{\n  "target": {\n    "default": {\n      "tags": ["${a}", "${b}"],\n      "args": {"X": "${c}"}\n    }\n  }\n}\n',
    ),
    "JSON: a string where a list is due": (JSON, '{\n  "target": {\n    "default": {\n      "tags": "a"\n    }\n  }\n}\n'),
    "JSON: a missing brace": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["a"]\n    }\n  }\n'),
    "JSON: a trailing comma": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["a",]\n    }\n  }\n}\n'),
    "JSON: a bad variable default": (
        JSON,
        '{\n  "variable": {\n    "V": {\n      "default": "${nope}"\n    }\n  },\n  "target": {\n    "default": {}\n  }\n}\n',
    ),
    "JSON: a target that is a list": (JSON, '{\n  "target": ["a"]\n}\n'),
    "JSON: an unterminated interpolation": (JSON, '{\n  "target": {\n    "default": {\n      "tags": ["${a"]\n    }\n  }\n}\n'),
}


class Failure(NamedTuple):
    """An error as compared: line, column (0, 0 without a place) and the text after the place."""

    line: int
    column: int
    text: str


_BUILDX_PLACE = re.compile(r"^(?:\S+?):(\d+),(\d+)(?:-(?:\d+,)?\d+)?: ")
_BUILDX_NESTED = re.compile(r"(\S+?):(\d+),(\d+)(?:-(?:\d+,)?\d+)?\b")
_OURS_PLACE = re.compile(r"^(?:\S+?):(\d+):(\d+): ")


def _buildx_failure(stderr: str) -> Failure:
    """buildx's error line, its nested places written as bakeplan writes them."""
    message = stderr[stderr.rindex("ERROR: ") + len("ERROR: ") :].strip()
    place = _BUILDX_PLACE.match(message)
    line, column = (int(place.group(1)), int(place.group(2))) if place else (0, 0)
    text = message[place.end() :] if place else message
    return Failure(line, column, _BUILDX_NESTED.sub(r"\1:\2:\3", text))


def _bakeplan_failure(message: str) -> Failure:
    place = _OURS_PLACE.match(message)
    if place is None:
        return Failure(0, 0, message)
    return Failure(int(place.group(1)), int(place.group(2)), message[place.end() :])


def theirs(buildx: Any, cwd: Path, runs: int = RUNS) -> set[Failure]:
    """Every variant buildx printed in `runs` runs (it fails every time on these files)."""
    found = set()
    for _ in range(runs):
        done = subprocess.run(
            buildx.argv("bake", "--print"), cwd=cwd, env=buildx.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode != 0, done.stdout
        found.add(_buildx_failure(done.stderr))
    return found


def ours(cwd: Path, env: dict[str, str]) -> Failure:
    """bakeplan's error on the same files (the first line: a hint may follow)."""
    try:
        render(load(BakeRequest(env=env, cwd=cwd)))
    except BakeplanError as error:
        return _bakeplan_failure(str(error).splitlines()[0])
    raise AssertionError("bakeplan read the file without an error")


# Cases where bakeplan deliberately differs, with the reason (kept strict: a fix shows up).
DIFFERENT: dict[str, str] = {}


def _case(name: str) -> Any:
    if name in DIFFERENT:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=DIFFERENT[name]))
    return name


@pytest.mark.buildx
@pytest.mark.parametrize("case", [_case(name) for name in CASES])
def test_a_bake_file_error_reads_as_buildx_reports_it(case: str, tmp_path: Path, buildx: Any) -> None:
    filename, content = CASES[case]
    (tmp_path / filename).write_text(content)
    mine = ours(tmp_path, dict(buildx.env))
    variants = theirs(buildx, tmp_path)
    for _ in range(MORE_RUNS if mine not in variants else 0):
        variants |= theirs(buildx, tmp_path, runs=1)
        if mine in variants:
            break
    assert mine in variants
