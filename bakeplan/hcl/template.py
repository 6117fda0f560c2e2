"""String templates: heredoc scanning, strip markers, flush heredocs, directive nesting.

Quoted strings arrive here already split into pieces by the Lark grammar
(`bakeplan.hcl.native.grammar`); heredoc bodies arrive raw and are scanned here. Both
become a flat list of template tokens that `assemble` turns into a syntax-tree
expression, following hclsyntax's `parser_template.go` step by step:

1. strip markers: `${~`/`%{~` trim trailing whitespace of the literal token
   just before, `~}` trims leading whitespace of the literal token just after
   (only that one token: in a heredoc each line is its own token, so a strip
   marker never eats more than the rest of one line);
2. `<<-` heredocs: remove the smallest indentation of all lines (blank lines
   ignored; a line starting with `${`/`%{` counts as indentation 0);
3. consecutive literal tokens meld;
4. a template that is exactly one interpolation is a `TemplateWrap`; one
   without interpolations or directives is a string `Literal`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.record import record

ParseExpr = Callable[[str, Location], "ast.Expr"]


@record(frozen=False)
class Lit:
    """A literal text token (mutable: strip markers and flushing edit it)."""

    text: str


@record(frozen=False)
class Interp:
    """`${ expr }` with its strip markers."""

    expr: ast.Expr
    strip_left: bool
    strip_right: bool
    loc: Location


@record(frozen=False)
class Directive:
    """`%{ if/else/endif/for/endfor }` with its strip markers."""

    kind: str
    strip_left: bool
    strip_right: bool
    loc: Location
    cond: ast.Expr | None = None
    key_var: str | None = None
    value_var: str = ""


Token = Lit | Interp | Directive

# Pattern texts, compiled (and cached by `re`) on first use: most files have
# no heredoc or template directive.
_HEREDOC_SPECIAL = r"\$\$\{|%%\{|\$\{|%\{|\n"
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEYWORD = r"\s*(" + _NAME + r")"
_FOR_NAMES = r"\s*(" + _NAME + r")\s*(?:,\s*(" + _NAME + r")\s*)?(?=\s)\s*in(?=[\s(\[{\"])"


def assemble(tokens: list[Token], loc: Location, *, flush: bool = False, end: Location | None = None) -> ast.Expr:
    """Turn flat template tokens into a Literal, TemplateWrap or Template expression.

    `loc` is where the template starts, `end` where it ends (the closing quote
    or heredoc marker, for "missing endif" errors).
    """
    tokens = _apply_strip(tokens)
    if flush:
        _flush_heredoc(tokens)
    tokens = _meld(tokens)
    if len(tokens) == 1 and isinstance(tokens[0], Interp):
        return ast.TemplateWrap(tokens[0].expr, loc)
    parts, _ = _nest(tokens, 0, None, end or loc)
    if all(isinstance(p, str) for p in parts):
        return ast.Literal("string", "".join(p for p in parts if isinstance(p, str)), loc)
    return ast.Template(parts, loc)


def _apply_strip(tokens: list[Token]) -> list[Token]:
    """Apply `~` strip markers to the neighbouring literal tokens (one token each side)."""
    out: list[Token] = []
    ltrim_next = False
    for tok in tokens:
        if isinstance(tok, Lit):
            if ltrim_next:
                tok.text = tok.text.lstrip()
            ltrim_next = False
            out.append(tok)
            continue
        if tok.strip_left and out and isinstance(out[-1], Lit):
            prev = out[-1]
            prev.text = prev.text.rstrip()
        ltrim_next = tok.strip_right
        out.append(tok)
    return out


def _flush_heredoc(tokens: list[Token]) -> None:
    """Remove the common leading whitespace of a `<<-` heredoc's lines, in place."""
    min_spaces: int | None = None
    adjust: list[Lit] = []
    newline = True
    for tok in tokens:
        if newline:
            newline = False
            if isinstance(tok, Lit):
                trimmed = tok.text.lstrip()
                if not trimmed and tok.text.endswith("\n"):
                    spaces = None  # a blank line does not count
                else:
                    spaces = len(tok.text) - len(trimmed)
                    adjust.append(tok)
            else:
                spaces = 0
            if spaces is not None and (min_spaces is None or spaces < min_spaces):
                min_spaces = spaces
        if isinstance(tok, Lit) and tok.text.endswith("\n"):
            newline = True
    if min_spaces:
        for lit in adjust:
            lit.text = lit.text[min_spaces:]


def _meld(tokens: list[Token]) -> list[Token]:
    """Join consecutive literal tokens."""
    out: list[Token] = []
    for tok in tokens:
        if isinstance(tok, Lit) and out and isinstance(out[-1], Lit):
            out[-1] = Lit(out[-1].text + tok.text)
        else:
            out.append(tok)
    return out


def _nest(
    tokens: list[Token], pos: int, opener: Directive | None, loc: Location
) -> tuple[tuple[ast.TemplatePart, ...], int]:
    """Build template parts from `pos` until the directive closing `opener` (or the end)."""
    parts: list[ast.TemplatePart] = []
    while pos < len(tokens):
        tok = tokens[pos]
        if isinstance(tok, Lit):
            if tok.text:
                parts.append(tok.text)
            pos += 1
        elif isinstance(tok, Interp):
            parts.append(ast.Interpolation(tok.expr, tok.loc))
            pos += 1
        elif tok.kind in ("if", "for"):
            part, pos = _nest_directive(tokens, pos, loc)
            parts.append(part)
        else:
            if opener is None:
                raise BakeFileError(
                    f"Unexpected {tok.kind} directive; The control directives within this template are unbalanced.",
                    tok.loc,
                )
            return tuple(parts), pos
    if opener is not None:
        what = "endif" if opener.kind == "if" else "endfor"
        raise BakeFileError(
            f"Unexpected end of template; The {opener.kind} directive at {_range(opener.loc)} is missing "
            f"its corresponding {what} directive.",
            loc,
        )
    return tuple(parts), pos


def _nest_directive(tokens: list[Token], pos: int, loc: Location) -> tuple[ast.TemplatePart, int]:
    """Build one `%{ if }` or `%{ for }` directive starting at `tokens[pos]`."""
    opener = tokens[pos]
    assert isinstance(opener, Directive)
    body, pos = _nest(tokens, pos + 1, opener, loc)
    closer = tokens[pos]
    assert isinstance(closer, Directive)
    if opener.kind == "for":
        _expect(closer, "endfor", opener)
        assert opener.cond is not None
        return ast.TemplateFor(opener.key_var, opener.value_var, opener.cond, body, opener.loc), pos + 1
    else_: tuple[ast.TemplatePart, ...] = ()
    if closer.kind == "else":
        else_, pos = _nest(tokens, pos + 1, opener, loc)
        closer = tokens[pos]
        assert isinstance(closer, Directive)
    _expect(closer, "endif", opener)
    assert opener.cond is not None
    return ast.TemplateIf(opener.cond, body, else_, opener.loc), pos + 1


def _expect(closer: Directive, kind: str, opener: Directive) -> None:
    """Fail unless `closer` is the directive that closes `opener`."""
    if closer.kind == kind:
        return
    if closer.kind == "else":
        detail = (
            "An else clause is not expected for a for directive."
            if opener.kind == "for"
            else f"Already in the else clause for the if started at {_range(opener.loc)}."
        )
        raise BakeFileError(f"Unexpected else directive; {detail}", closer.loc)
    raise BakeFileError(
        f"Unexpected {closer.kind} directive; Expecting an {kind} directive for the {opener.kind} "
        f"started at {_range(opener.loc)}.",
        closer.loc,
    )


def _range(loc: Location) -> str:
    """A position inside a message, written as bakeplan writes every place (HCL: FILE:LINE,COL-COL)."""
    return f"{loc.file}:{loc.line}:{loc.column}"


# --- heredoc bodies ---------------------------------------------------------


@record
class _Source:
    """A heredoc body and how to turn its offsets into file positions."""

    text: str
    file: str
    first_line: int
    first_column: int
    line_starts: tuple[int, ...]

    def loc(self, offset: int) -> Location:
        """The file location of `offset` in the text (lines after the first start at column 1)."""
        idx = bisect_right(self.line_starts, offset) - 1
        base = self.first_column if idx == 0 else 1
        return Location(self.file, self.first_line + idx, offset - self.line_starts[idx] + base)


def scan_heredoc(
    text: str,
    file: str,
    first_line: int,
    parse_expr: ParseExpr,
    first_column: int = 1,
    unescape: Callable[[str], str] | None = None,
) -> list[Token]:
    """Split a template's raw text (a heredoc body, a JSON or quoted string) into template tokens.

    `text[0]` is at `first_line`:`first_column`. Each line is its own literal
    token, as in HCL's scanner. Heredocs and JSON strings have no backslash
    escapes, only `$${` and `%%{`; quoted strings pass `unescape` for their
    literal pieces.
    """
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    src = _Source(text, file, first_line, first_column, tuple(starts))
    tokens: list[Token] = []
    buf: list[str] = []
    pos = 0
    for match in re.finditer(_HEREDOC_SPECIAL, text):
        if match.start() < pos:
            continue  # inside an interpolation already consumed
        buf.append(text[pos : match.start()] if unescape is None else unescape(text[pos : match.start()]))
        seq = match.group()
        pos = match.end()
        if seq == "\n" or seq == "$${" or seq == "%%{":
            buf.append(seq[1:] if seq != "\n" else "\n")
            if seq == "\n":
                tokens.append(Lit("".join(buf)))
                buf = []
            continue
        if buf and any(buf):
            tokens.append(Lit("".join(buf)))
        buf = []
        close = find_close(text, pos, src.loc(match.start()))
        tokens.append(_sequence(src, match.start(), pos, close, parse_expr))
        pos = close + 1
    rest = "".join(buf) + (text[pos:] if unescape is None else unescape(text[pos:]))
    if rest:
        tokens.append(Lit(rest))
    return tokens


def _sequence(src: _Source, start: int, inner: int, close: int, parse_expr: ParseExpr) -> Token:
    """One `${...}` or `%{...}` sequence of a heredoc, from `start` to the `}` at `close`."""
    strip_left = src.text.startswith("~", inner)
    strip_right = close > inner and src.text[close - 1] == "~"
    lo = inner + 1 if strip_left else inner
    hi = close - 1 if strip_right else close
    if src.text[start] == "$":
        return Interp(parse_expr(src.text[lo:hi], src.loc(lo)), strip_left, strip_right, src.loc(start))
    return parse_directive(src.text[lo:hi], src.loc(lo), strip_left, strip_right, src.loc(start), parse_expr)


def parse_directive(
    text: str, at: Location, strip_left: bool, strip_right: bool, loc: Location, parse_expr: ParseExpr
) -> Directive:
    """Parse the inside of a `%{ ... }` directive whose text starts at `at`."""
    match = re.match(_KEYWORD, text)
    if match is None:
        raise BakeFileError(
            'Invalid template directive; A template directive keyword ("if", "for", etc) is expected '
            "at the beginning of a %{ sequence.",
            at,
        )
    keyword, rest_at = match.group(1), match.end()
    if keyword in ("else", "endif", "endfor"):
        if text[rest_at:].strip():
            raise BakeFileError(
                f"Extra characters in {keyword} marker; Expected a closing brace to end the sequence, "
                "but found extra characters.",
                _offset(at, text, rest_at),
            )
        return Directive(keyword, strip_left, strip_right, loc)
    if keyword == "if":
        cond = parse_expr(text[rest_at:], _offset(at, text, rest_at))
        return Directive("if", strip_left, strip_right, loc, cond=cond)
    if keyword == "for":
        names = re.compile(_FOR_NAMES).match(text, rest_at)
        if names is None:
            raise BakeFileError(
                "Invalid 'for' directive; For directive requires variable names and the 'in' keyword.",
                _offset(at, text, rest_at),
            )
        key_var, value_var = (names.group(1), names.group(2)) if names.group(2) else (None, names.group(1))
        coll = parse_expr(text[names.end() :], _offset(at, text, names.end()))
        return Directive("for", strip_left, strip_right, loc, cond=coll, key_var=key_var, value_var=value_var)
    raise BakeFileError(
        f'Invalid template control keyword; "{keyword}" is not a valid template control keyword.',
        _offset(at, text, match.start(1)),
    )


def _offset(at: Location, text: str, offset: int) -> Location:
    """The location of `text[offset]` given that `text[0]` is at `at`."""
    newlines = text.count("\n", 0, offset)
    if newlines == 0:
        return Location(at.file, at.line, at.column + offset)
    return Location(at.file, at.line + newlines, offset - text.rfind("\n", 0, offset))


def find_close(text: str, pos: int, opener: Location) -> int:
    """The index of the `}` closing a `${`/`%{` whose contents start at `pos`.

    Skips nested braces and quoted strings (with their own nested templates).
    """
    depth = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return pos
            depth -= 1
        elif ch == '"':
            pos = _skip_quoted(text, pos + 1, opener)
            continue
        pos += 1
    raise BakeFileError(
        "Unclosed template interpolation sequence; There is no closing brace for this interpolation "
        "sequence before the end of the template.",
        opener,
    )


def _skip_quoted(text: str, pos: int, opener: Location) -> int:
    """The index just after the quoted string whose contents start at `pos`."""
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == '"':
            return pos + 1
        if ch in "$%" and text.startswith("{", pos + 1):
            pos = find_close(text, pos + 2, opener) + 1
            continue
        if ch in "$%" and text.startswith(ch + "{", pos + 1):
            pos += 3
            continue
        pos += 1
    return pos
