"""Lark's parse errors worded as HCL's diagnostics, at the positions HCL reports."""

from __future__ import annotations

from typing import Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl.native.tree import TOKEN


def is_syntax_error(err: Exception) -> bool:
    """Whether `err` is Lark's UnexpectedInput (lark is imported only once something failed)."""
    from lark.exceptions import UnexpectedInput

    return isinstance(err, UnexpectedInput)


def syntax_error(err: Any, at: Location, text: str) -> BakeFileError:
    """A Lark parse error as HCL would word it, at the position HCL reports."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    token = getattr(err, "token", None)
    loc = _shift(at, getattr(err, "line", 1), getattr(err, "column", 1))
    if isinstance(err, UnexpectedCharacters) and text.startswith("<<", err.pos_in_stream):
        return _unterminated_heredoc(at, text)
    if token is not None and str(token.value).startswith("<<"):
        return _unterminated_heredoc(at, text)
    if isinstance(err, UnexpectedCharacters):
        return BakeFileError(f"Invalid character; This character is not used within the language: {err.char!r}.", loc)
    if token is not None and token.type == "STRING_CHARS" and str(token.value).strip():
        # Outside a string, the only terminal that takes any character.
        char = str(token.value).strip()[0]
        return BakeFileError(f"Invalid character; This character is not used within the language: {char!r}.", loc)
    if isinstance(err, UnexpectedToken) and token is not None and token.type != "$END":
        value = str(token.value)
        if value.strip() and value[:1] in (" ", "\t"):
            # `=` and `:` carry their leading blanks in python-hcl2's tokens;
            # HCL points at the symbol itself.
            loc = Location(loc.file, loc.line, loc.column + len(value) - len(value.lstrip(" \t")))
        text_ = value.strip()
        # A string token already carries its quotes.
        shown = (text_ if text_.startswith('"') else f'"{text_}"') if text_ else "end of line"
        return BakeFileError(f"Invalid syntax; Unexpected {shown} here.", loc, hint=_expected_hint(err))
    stack = getattr(getattr(err, "state", None), "value_stack", None) or []
    return _unclosed(stack, at, text) or BakeFileError(
        "Invalid syntax; Unexpected end of file.", loc, hint=_expected_hint(err)
    )


def _shift(at: Location, line: Any, column: Any) -> Location:
    """A Lark position (1-based, relative to a text starting at `at`) as a file location."""
    if not isinstance(line, int) or not isinstance(column, int) or line < 1:
        line, column = 1, 1
    return Location(at.file, at.line + line - 1, (at.column + column - 1) if line == 1 else column)


def _unterminated_heredoc(at: Location, text: str) -> BakeFileError:
    """A heredoc without its closing marker: HCL points at the end of the file."""
    body = text.rstrip("\n")
    last = body[body.rfind("\n") + 1 :]
    return BakeFileError(
        "Unterminated template string; No closing marker was found for the string.",
        _shift(at, body.count("\n") + 1, len(last) + 1),
    )


_UNCLOSED = {
    "LSQB": "Unterminated tuple constructor expression; There is no corresponding closing bracket before the end "
    "of the file. This may be caused by incorrect bracket nesting elsewhere in this file.",
    "LPAR": "Unbalanced parentheses; Expected a closing parenthesis to terminate the expression.",
    "INTERP_START": "Unclosed template interpolation sequence; There is no closing brace for this interpolation "
    "sequence before the end of the file.",
    "DIRECTIVE_START": "Unclosed template directive; There is no closing brace for this directive before the end "
    "of the file.",
}
_UNCLOSED_CALL = (
    "Unterminated function call; There is no closing parenthesis for this function call before the end of the "
    "file. This may be caused by incorrect parenthesis nesting elsewhere in this file."
)
_UNCLOSED_BLOCK = (
    "Unclosed configuration block; There is no closing brace for this block before the end of the file. This "
    "may be caused by incorrect brace nesting elsewhere in this file."
)
_UNCLOSED_OBJECT = (
    "Unterminated object constructor expression; There is no corresponding closing brace before the end of "
    "the file. This may be caused by incorrect brace nesting elsewhere in this file."
)


def _unclosed(stack: list[Any], at: Location, text: str) -> BakeFileError | None:
    """At the end of the file, the innermost construct still open (from the parser's stack), as HCL reports it."""
    for index in range(len(stack) - 1, -1, -1):
        tok = stack[index]
        if not isinstance(tok, TOKEN):
            continue
        loc = _shift(at, tok.line, tok.column)
        before = stack[index - 1] if index > 0 else None
        if tok.type == "DBLQUOTE":
            line_end = text.find("\n", tok.start_pos)
            line_start = text.rfind("\n", 0, tok.start_pos) + 1
            end = Location(loc.file, loc.line, (line_end if line_end >= 0 else len(text)) - line_start + 1)
            return BakeFileError("Unterminated template string; No closing marker was found for the string.", end)
        if tok.type == "LBRACE":
            is_block = before is not None and not isinstance(before, TOKEN)
            return BakeFileError(_UNCLOSED_BLOCK if is_block else _UNCLOSED_OBJECT, loc)
        if tok.type == "LPAR" and before is not None and not isinstance(before, TOKEN):
            return BakeFileError(_UNCLOSED_CALL, _first_token_loc(before, at))
        if tok.type in _UNCLOSED:
            return BakeFileError(_UNCLOSED[tok.type], loc)
    return None


def _first_token_loc(tree: Any, at: Location) -> Location:
    """The location of the first token of a Lark tree."""
    while not isinstance(tree, TOKEN):
        tree = tree.children[0]
    return _shift(at, tree.line, tree.column)


_TERMINAL_NAMES = {
    "NAME": "a name", "INT_LITERAL": "a number", "FLOAT_LITERAL": "a number", "DBLQUOTE": "a string",
    "SIMPLE_STRING": "a string", "NL_OR_COMMENT": "a newline", "EQ": '"="', "COLON": '":"', "COMMA": '","',
    "LSQB": '"["', "RSQB": '"]"', "LBRACE": '"{"', "RBRACE": '"}"', "LPAR": '"("', "RPAR": '")"',
    "QMARK": '"?"', "ELLIPSIS": '"..."', "FOR_OBJECT_ARROW": '"=>"', "IN": '"in"', "IF": '"if"',
}  # fmt: skip


def _expected_hint(err: Any) -> str | None:
    """What the grammar expected there, in words, to help fix the input."""
    names = sorted({_TERMINAL_NAMES[t] for t in getattr(err, "expected", None) or () if t in _TERMINAL_NAMES})
    return "Expected " + " or ".join(names) + "." if names else None

