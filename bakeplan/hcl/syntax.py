"""HCL native syntax (docker-bake.hcl) to the syntax tree of `bakeplan.hcl.ast`, with locations.

Entry points
------------
- `parse(text, filename) -> ast.Body` for HCL native syntax text;
  `decode(data, filename)` first turns a file's bytes into that text.
- `parse_expression(text, at) -> ast.Expr` for one expression starting at `at`.
The HCL JSON syntax is `bakeplan.hcl.json.parse_json`; which one a bake file
uses is the bake layer's choice (`bakeplan.bake.definition.parse_source`).

Errors are `BakeFileError(message, Location)` where HCL reports them, worded
like HCL's diagnostics ("Summary; Detail").

How (`bakeplan.hcl.native`): python-hcl2's Lark grammar (hcl2/hcl2.lark,
patched where it disagrees with HCL: `native.grammar`) drives an LALR parser
(Lark's own tables, driven by a compact loop: `native.lalr`), and one pass
converts its tree (`native.convert`). python-hcl2 accepts some input HCL
rejects; the conversion rejects it as HCL does. It also accepts what
python-hcl2 rejects: a UTF-8 BOM, `!!x`, a last line without newline,
`${~ x ~}`, a newline before `-` inside brackets.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl.ast import Body
from bakeplan.hcl.native.convert import parse_body, parse_expression

__all__ = ["decode", "no_gc", "parse", "parse_expression"]


def decode(data: bytes, filename: str) -> str:
    """Decode a bake file as UTF-8, dropping a leading BOM as HCL does."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise BakeFileError(
            "Invalid character encoding; All input files must be UTF-8 encoded.", Location(filename, line, column)
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building (or loading) a syntax tree.

    A tree is hundreds of thousands of small objects that all live on; the
    collector would rescan them again and again while finding nothing to free
    (it tripled parse time and made loading a cached tree 7x slower).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(text: str, filename: str) -> Body:
    """Parse HCL native syntax `text` (reported as `filename`) into a Body."""
    with no_gc():
        return parse_body(text, filename)
