"""Quoted strings, templates and heredocs of a Lark tree: escapes decoded, templates assembled.

Quoted strings arrive as one QUOTED_TEMPLATE token (most strings) or as
string parts; heredocs as one token whose body `bakeplan.hcl.template` scans.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import template
from bakeplan.hcl.ast import Expr, Literal
from bakeplan.hcl.native.tree import TOKEN, TreeReader, advance

_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class StringConverter(TreeReader):
    """The string and template rules of the converter."""

    __slots__ = ()

    def _template_string(self, tree: Any) -> Expr:
        raise BakeFileError(
            'Invalid character; "\\" is not valid inside an interpolation or directive.', self.first_loc(tree)
        )


    def _string(self, tree: Any) -> Expr:
        children = tree.children
        loc = self.loc(children[0])
        if len(children) == 1:
            return self._quoted_template(children[0], loc)
        if len(children) == 2:
            return Literal("string", "", loc)
        if len(children) == 3:
            only = children[1].children[0]
            if isinstance(only, TOKEN) and only.type == "STRING_CHARS":
                return Literal("string", self._decode(only), loc)
        tokens: list[template.Token] = []
        for part in children[1:-1]:
            piece = part.children[0]
            if isinstance(piece, TOKEN):
                text = self._decode(piece) if piece.type == "STRING_CHARS" else piece.value[1:]
                last = tokens[-1] if tokens else None
                if type(last) is template.Lit:
                    last.text += text
                else:
                    tokens.append(template.Lit(text))
            else:
                tokens.append(self._sequence(piece))
        return template.assemble(tokens, loc, end=self.loc(children[-1]))

    def _quoted_template(self, tok: Any, loc: Location) -> Expr:
        """A whole one-line quoted string in one token (see the QUOTED_TEMPLATE patch)."""
        raw: str = tok.value
        if "{" not in raw:  # no `${`, `%{` or their escapes
            if "\\" not in raw:
                return Literal("string", raw[1:-1] if raw.isascii() else unicodedata.normalize("NFC", raw[1:-1]), loc)
            return Literal("string", self._decode(tok, 1, len(raw) - 1), loc)
        if "\\" in raw:
            self._decode(tok, 1, len(raw) - 1)  # report a bad escape at its own position
        inner = Location(loc.file, loc.line, loc.column + 1)
        tokens = template.scan_heredoc(raw[1:-1], loc.file, loc.line, self.nested_expression, inner.column, _unescape)
        return template.assemble(tokens, loc, end=Location(loc.file, loc.line, loc.column + len(raw) - 1))

    def _sequence(self, tree: Any) -> template.Token:
        """An interpolation or directive inside a quoted string."""
        children = tree.children
        strip_left = isinstance(children[1], TOKEN) and children[1].type == "STRIP_MARKER"
        strip_right = isinstance(children[-2], TOKEN) and children[-2].type == "STRIP_MARKER"
        loc = self.loc(children[0])
        kind = tree.data
        exprs = [c for c in children if not isinstance(c, TOKEN)]
        if kind == "interpolation":
            return template.Interp(self.free_expr(exprs[0]), strip_left, strip_right, loc)
        if kind == "template_if_start":
            return template.Directive("if", strip_left, strip_right, loc, cond=self.free_expr(exprs[0]))
        if kind == "template_for_start":
            names = [c.children[0].value for c in exprs[:-1]]
            key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
            coll = self.free_expr(exprs[-1])
            return template.Directive("for", strip_left, strip_right, loc, cond=coll, key_var=key_var, value_var=value_var)
        return template.Directive(kind.removeprefix("template_"), strip_left, strip_right, loc)

    def _decode(self, tok: Any, start: int = 0, stop: int | None = None) -> str:
        """The text of a quoted-string chunk (`tok.value[start:stop]`) with escapes decoded (HCL's rules)."""
        raw: str = tok.value
        n = len(raw) if stop is None else stop
        if start == 0 and n == len(raw) and "\\" not in raw and "\n" not in raw:
            return raw if raw.isascii() else unicodedata.normalize("NFC", raw)
        out: list[str] = []
        i = start
        while i < n:
            j = min(_next_special(raw, i), n)
            out.append(raw[i:j])
            if j >= n:
                break
            if raw[j] == "\n":
                raise BakeFileError(
                    "Invalid multi-line string; Quoted strings may not be split over multiple lines. To produce "
                    "a multi-line string, either use the \\n escape to represent a newline character or use the "
                    '"heredoc" multi-line template syntax.',
                    self._offset_loc(tok, j),
                )
            text, i = self._escape(tok, raw, j)
            out.append(text)
        decoded = "".join(out)
        return decoded if decoded.isascii() else unicodedata.normalize("NFC", decoded)

    def _escape(self, tok: Any, raw: str, j: int) -> tuple[str, int]:
        """Decode the backslash escape at `raw[j]`; returns its text and the index after it."""
        sel = raw[j + 1 : j + 2]
        if sel in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[sel], j + 2
        if sel in ("u", "U"):
            width = 4 if sel == "u" else 8
            digits = raw[j + 2 : j + 2 + width]
            if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    return chr(code), j + 2 + width
            raise BakeFileError(
                f"Invalid escape sequence; The \\{sel} escape must be followed by {width} hexadecimal digits "
                "giving a valid Unicode code point.",
                self._offset_loc(tok, j),
            )
        raise BakeFileError(
            f'Invalid escape sequence; The symbol "{sel}" is not a valid escape sequence selector.',
            self._offset_loc(tok, j),
        )

    def _offset_loc(self, tok: Any, offset: int) -> Location:
        """The location of character `offset` of a token's text."""
        return advance(self.loc(tok), tok.value, offset)

    def _heredoc(self, tree: Any) -> Expr:
        tok = tree.children[0]
        raw: str = tok.value
        trim = tree.data == "heredoc_template_trim"
        first_nl = raw.index("\n")
        rest = raw[first_nl + 1 :].removesuffix("\n").removesuffix("\r")
        end = rest.rfind("\n")
        body = rest[: end + 1] if end >= 0 else ""
        loc = self.loc(tok)
        tokens = template.scan_heredoc(body, self.file, loc.line + 1, self.nested_expression)
        marker = rest[end + 1 :]
        end_loc = Location(self.file, loc.line + 1 + body.count("\n"), len(marker) - len(marker.lstrip()) + 1)
        return template.assemble(tokens, loc, flush=trim, end=end_loc)


def _unescape(raw: str) -> str:
    """Decode the backslash escapes of a literal piece already checked by `StringConverter._decode` (NFC, as HCL)."""
    if "\\" not in raw:
        return raw if raw.isascii() else unicodedata.normalize("NFC", raw)
    out: list[str] = []
    i = 0
    while True:
        j = raw.find("\\", i)
        if j < 0:
            out.append(raw[i:])
            return unicodedata.normalize("NFC", "".join(out))
        out.append(raw[i:j])
        sel = raw[j + 1 : j + 2]
        if sel in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[sel])
            i = j + 2
        else:
            width = 4 if sel == "u" else 8
            out.append(chr(int(raw[j + 2 : j + 2 + width], 16)))
            i = j + 2 + width


def _next_special(raw: str, start: int) -> int:
    """The index of the next backslash or newline in `raw` from `start` (len(raw) if none)."""
    b = raw.find("\\", start)
    nl = raw.find("\n", start)
    if b < 0:
        return nl if nl >= 0 else len(raw)
    return b if nl < 0 or b < nl else nl

