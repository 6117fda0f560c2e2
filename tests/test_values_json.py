"""jsondecode's syntax errors, worded as buildx words them (go's encoding/json driven by cty's ImpliedType).

Each message below is what the pinned buildx prints after `Call to function
"jsondecode" failed: `; the live test checks that it still does.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.hcl import values as V

# (document, buildx's message)
SAME = [
    ('"\\q"', "invalid character 'q' in string escape code"),
    ('"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
    ('"\\', "unexpected EOF"),
    ('"\\u12', "unexpected EOF"),
    ('"abc', "unexpected EOF"),
    ("tx", "invalid character 'x' in literal true (expecting 'r')"),
    ("nulx", "invalid character 'x' in literal null (expecting 'l')"),
    ("fals", "unexpected EOF"),
    ("nul", "unexpected EOF"),
    ("-a", "invalid character 'a' in numeric literal"),
    ("-", "unexpected EOF"),
    ("1.", "unexpected EOF"),
    ("}", "invalid character '}' looking for beginning of value"),
    (":", "invalid character ':' looking for beginning of value"),
    ("[1 2]", "invalid character '2' after array element"),
    ("[1,]", "invalid character ']' looking for beginning of value"),
    ('{"a" 1}', "invalid character '1' after object key"),
    ('{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
    ("{} x", "extraneous data after JSON object"),
]

# Cases bakeplan once worded otherwise (control characters quoted, literals and numbers read as go reads them, a key right after `{`).
DIFFERENT = [
    ('"a\x01"', "invalid character '\\x01' in string literal"),  # go quotes a control character
    ("truex", "extraneous data after JSON object"),  # go reads `true`, then sees more
    ("01", "extraneous data after JSON object"),  # go reads `0`, then sees more
    ("{1:2}", "invalid character '1'"),  # cty words a non-string object key itself
]


@pytest.mark.parametrize(
    ("document", "message"),
    [*SAME, *DIFFERENT],
)
def test_json_decode_words_a_syntax_error_as_buildx(document: str, message: str) -> None:
    with pytest.raises(V.JSONError) as error:
        V.json_decode(document)
    assert str(error.value) == message


def _buildx_message(buildx: Any, cwd: Path, document: str) -> str:
    (cwd / "docker-bake.hcl").write_text(f'target "t" {{\n  args = {{ X = jsondecode({json.dumps(document)}) }}\n}}\n')
    argv = buildx.argv("bake", "--print", "t")
    done = subprocess.run(argv, cwd=cwd, env=buildx.env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout
    found = re.search(r'Call to function "jsondecode" failed: (.*)\.(?:, and \d+ other diagnostic\(s\))?$', done.stderr, re.M)
    assert found is not None, done.stderr
    return found.group(1)


@pytest.mark.buildx
@pytest.mark.parametrize(("document", "message"), [*SAME, *DIFFERENT])
def test_buildx_words_the_syntax_error_so(document: str, message: str, tmp_path: Path, buildx: Any) -> None:
    assert _buildx_message(buildx, tmp_path, document) == message
