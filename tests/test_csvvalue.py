"""One CSV record, split as go-csvvalue splits it: quoted commas stay in their field."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake import csvvalue
from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import render
from bakeplan.bake.resolve import load
from bakeplan.errors import BakeplanError


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("type=registry,ref=a", ["type=registry", "ref=a"]),
        ('type=registry,"ref=a,b"', ["type=registry", "ref=a,b"]),
        ('"type=registry","ref=a,b"', ["type=registry", "ref=a,b"]),
        ('"say ""hi""",x', ['say "hi"', "x"]),
        ('a,"",b', ["a", "", "b"]),
        ("a,", ["a", ""]),
        ('"a,b",', ["a,b", ""]),
        (",", ["", ""]),
        ("a,b\n", ["a", "b"]),
        ('"a,b"\r\n', ["a,b"]),
        ('"a\nb",c', ["a\nb", "c"]),
        ("a\nb", ["a\nb"]),
    ],
)
def test_fields_split_at_commas_outside_quotes(text: str, fields: list[str]) -> None:
    assert csvvalue.fields(text) == fields


def test_fields_take_another_separator() -> None:
    assert csvvalue.fields('"a:b":c', ":") == ["a:b", "c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "EOF"),
        ("\n", "EOF"),
        ('type=registry,ref="a', 'parse error on line 1, column 19: bare " in non-quoted-field'),
        ('x,"y', 'parse error on line 1, column 4: extraneous or missing " in quoted-field'),
        ('"a"b,c', 'parse error on line 1, column 3: extraneous or missing " in quoted-field'),
        ('"a""', 'parse error on line 1, column 5: extraneous or missing " in quoted-field'),
        ('é,"x', 'parse error on line 1, column 5: extraneous or missing " in quoted-field'),  # Go counts bytes
    ],
)
def test_a_text_that_is_no_record_is_an_error_with_gos_message(text: str, message: str) -> None:
    with pytest.raises(csvvalue.CSVError) as caught:
        csvvalue.fields(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [("dest", "out", "dest=out"), ("dest", "out,x", '"dest=out,x"'), ("name", 'say "hi"', '"name=say ""hi"""')],
)
def test_pairs_are_quoted_when_they_hold_a_comma_or_a_quote_and_split_back_whole(key: str, value: str, text: str) -> None:
    assert csvvalue.pair(key, value) == text
    assert csvvalue.fields(f"type=local,{text}") == ["type=local", f"{key}={value}"]


# ------------------------------------------------------------ live, against buildx

BAKE = """
variable "LIST" {
  type = list(string)
  default = []
}
variable "MAP" {
  type = map(string)
  default = {}
}
target "default" {
  args = { L = join("|", LIST), M = jsonencode(MAP) }
  ATTRIBUTES
}
"""

CASES: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "quoted commas in cache, output and secret entries": (
        'cache-to = ["type=registry,\\"ref=r/c:a,b\\""]\n  output = ["type=local,\\"dest=out,x\\""]\n'
        '  secret = ["id=s,\\"src=a,b\\""]',
        {},
        (),
    ),
    "a bare quote in a cache entry": ('cache-to = ["type=registry,ref=\\"a"]', {}, ()),
    "an unterminated quote in an output": ('output = ["type=local,\\"dest=a"]', {}, ()),
    "a list override with a quoted comma": ("", {"LIST": 'x,"y,z"'}, ()),
    "a list override with a bare quote": ("", {"LIST": 'x,y"z'}, ()),
    "a list override with an unterminated quote": ("", {"LIST": 'x,"y'}, ()),
    "an empty list override": ("", {"LIST": ""}, ()),
    "a map override with a quoted comma and a quoted colon": ("", {"MAP": 'a:b,"c:d,e","""x:y"":z"'}, ()),
    "a map override quoted at the wrong level": ("", {"MAP": '"a:b":c'}, ()),
    "a map override with a bare quote": ("", {"MAP": 'a:b"c'}, ()),
    "a secret set with an unterminated quote": ("", {}, ('default.secret=id=s,"src=a',)),
    "a secret set with a bare quote": ("", {}, ('default.secret=id=s,src=a"b',)),
    "an output set with a quoted comma": ("", {}, ('default.output=type=local,"dest=o,y"',)),
    "an output set with an unterminated quote": ("", {}, ('default.output=type=local,"dest=a',)),
    "a cache-to set with a bare quote": ("", {}, ('default.cache-to=type=local,dest="x',)),
    "a cache-from set with an unterminated quote": ("", {}, ('default.cache-from=type=local,"src=x',)),
}


def _theirs(buildx: Any, cwd: Path, env: dict[str, str], sets: tuple[str, ...]) -> tuple[bool, str]:
    argv = buildx.argv("bake", "--print", *(f"--set={item}" for item in sets))
    done = subprocess.run(argv, cwd=cwd, env={**buildx.env, **env}, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 0:
        return True, done.stdout
    return False, done.stderr[done.stderr.rindex("ERROR: ") + len("ERROR: "):].strip()


@pytest.mark.buildx
@pytest.mark.parametrize("case", list(CASES))
def test_csv_values_read_like_buildx(case: str, tmp_path: Path, buildx: Any) -> None:
    attributes, env, sets = CASES[case]
    (tmp_path / "docker-bake.hcl").write_text(BAKE.replace("ATTRIBUTES", attributes))
    (tmp_path / "a,b").write_text("secret")
    ok, theirs = _theirs(buildx, tmp_path, env, sets)
    try:
        ours = render(load(BakeRequest(sets=sets, env={**buildx.env, **env}, cwd=tmp_path)))
    except BakeplanError as error:
        assert not ok, theirs
        if sets:  # a --set names no place
            assert str(error).splitlines()[0] == theirs  # (bakeplan adds a hint line)
        else:  # buildx writes the place as FILE:LINE,COL-COL:, bakeplan as FILE:LINE:COL:; the message after it is the same
            assert str(error).split(": ", 1)[1] == theirs.split(": ", 1)[1]
        return
    assert ok, theirs
    assert json.loads(ours) == json.loads(theirs)
