"""Lark's parse errors worded as HCL's diagnostics, at the positions HCL reports."""

from __future__ import annotations

from typing import Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl.native.scan import scanner_error
from bakeplan.hcl.native.tree import TOKEN


def is_syntax_error(err: Exception) -> bool:
    """Whether `err` is Lark's UnexpectedInput (lark is imported only once something failed)."""
    from lark.exceptions import UnexpectedInput

    return isinstance(err, UnexpectedInput)


def syntax_error(err: Any, at: Location, text: str, *, added_newline: bool = False) -> BakeFileError:
    """A Lark parse error as HCL would word it, at the position HCL reports.

    `added_newline`: the parser was given the text with a newline the file does not end with.
    """
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    token = getattr(err, "token", None)
    loc = _shift(at, getattr(err, "line", 1), getattr(err, "column", 1))
    source = text[:-1] if added_newline else text  # the file as HCL reads it
    if isinstance(err, UnexpectedCharacters) and text.startswith("<<", err.pos_in_stream):
        return _unterminated_heredoc(at, source)
    if token is not None and str(token.value).startswith("<<"):
        return _unterminated_heredoc(at, source)
    scanned = scanner_error(source, at)  # HCL's scanner reports before its parser
    if scanned is not None:
        return scanned
    if isinstance(err, UnexpectedCharacters):
        return BakeFileError(f"Invalid character; This character is not used within the language: {err.char!r}.", loc)
    expected = frozenset(getattr(err, "expected", None) or ())
    stack = getattr(getattr(err, "state", None), "value_stack", None) or []
    if token is not None and token.type == "STRING_CHARS" and str(token.value).strip():
        # Outside a string, the only terminal that takes any character: a token that cannot come here.
        if expected & _EXPRESSION_STARTS:
            return BakeFileError(_INVALID_EXPRESSION, loc)
        return BakeFileError(_BODY_ITEM, loc)
    if isinstance(err, UnexpectedToken) and token is not None and token.type != "$END":
        value = str(token.value)
        if value.strip() and value[:1] in (" ", "\t"):
            # `=` and `:` carry their leading blanks in python-hcl2's tokens;
            # HCL points at the symbol itself.
            loc = Location(loc.file, loc.line, loc.column + len(value) - len(value.lstrip(" \t")))
        parsed = _parser_error(token.type, expected, stack, loc, at)
        if parsed is not None:
            return parsed
        text_ = value.strip()
        # A string token already carries its quotes.
        shown = (text_ if text_.startswith('"') else f'"{text_}"') if text_ else "end of line"
        return BakeFileError(f"Invalid syntax; Unexpected {shown} here.", loc, hint=_expected_hint(err))
    if expected & _EXPRESSION_STARTS and not added_newline:  # a newline ended the last item: the next is missing
        return BakeFileError(
            "Missing expression; Expected the start of an expression, but found the end of the file.", _end(at, source)
        )
    return _unclosed(stack, at, text) or BakeFileError(
        "Invalid syntax; Unexpected end of file.", loc, hint=_expected_hint(err)
    )


_EXPRESSION_STARTS = frozenset({"LSQB", "LPAR", "INT_LITERAL"})
_INVALID_EXPRESSION = "Invalid expression; Expected the start of an expression, but found an invalid expression token."
_BODY_ITEM = "Argument or block definition required; An argument or block definition is required here."
_BODY_ITEM_EQUALS = _BODY_ITEM + ' To set an argument, use the equals sign "=" to introduce the argument value.'
_BLOCK_EQUALS = (
    'Invalid block definition; The equals sign "=" indicates an argument definition, and must not be used when '
    "defining a block."
)
_BLOCK_NEWLINE = (
    'Invalid block definition; A block definition must have block content delimited by "{" and "}", starting on '
    "the same line as the block header."
)
_BLOCK_LABEL = 'Invalid block definition; Either a quoted string block label or an opening brace ("{") is expected here.'


def _parser_error(kind: str, expected: frozenset[str], stack: list[Any], loc: Location, at: Location) -> BakeFileError | None:
    """hclsyntax's parser diagnostic for an unexpected token, told apart by what the grammar expected there."""
    top = stack[-1] if stack else None
    top_name = getattr(top, "data", None)
    if "EQ" in expected and "LBRACE" in expected and top_name == "identifier":
        return BakeFileError(_BODY_ITEM_EQUALS, _first_token_loc(top, at))  # a name, then neither `=` nor a block
    if "LBRACE" in expected and "QUOTED_TEMPLATE" in expected and not expected & _EXPRESSION_STARTS:
        message = {"EQ": _BLOCK_EQUALS, "NL_OR_COMMENT": _BLOCK_NEWLINE}.get(kind, _BLOCK_LABEL)
        return BakeFileError(message, loc)  # among a block's labels
    if "ELLIPSIS" in expected and "RPAR" in expected:
        return BakeFileError(
            "Missing argument separator; A comma is required to separate each function argument from the next.", loc
        )
    if expected <= {"RPAR", "NL_OR_COMMENT"}:
        return BakeFileError("Unbalanced parentheses; Expected a closing parenthesis to terminate the expression.", loc)
    if expected == {"COMMA", "NL_OR_COMMENT", "RSQB"}:
        return BakeFileError("Missing item separator; Expected a comma to mark the beginning of the next item.", loc)
    if "COLON" in expected and any(getattr(t, "type", None) == "FOR" for t in stack):
        return BakeFileError(
            "Invalid 'for' expression; For expression requires a colon after the collection expression.", loc
        )
    if expected == {"COLON"} and any(getattr(t, "type", None) == "QMARK" for t in stack):
        if top_name == "new_line_or_comment":
            loc = _first_token_loc(top, at)  # HCL stops at the newline that ends the expression
        return BakeFileError(
            "Missing false expression in conditional; The conditional operator (...?...:...) requires a false "
            "expression, delimited by a colon.",
            loc,
        )
    if "NL_OR_COMMENT" in expected and not expected & _EXPRESSION_STARTS and getattr(top, "type", None) != "EQ":
        if any(getattr(t, "type", None) == "EQ" for t in stack):  # after an attribute's value
            return BakeFileError("Missing newline after argument; An argument definition must end with a newline.", loc)
    if expected <= {"$END", "NAME", "RBRACE", "NL_OR_COMMENT"}:
        if kind in ("QUOTED_TEMPLATE", "DBLQUOTE"):
            return BakeFileError("Invalid argument name; Argument names must not be quoted.", loc)
        return BakeFileError(_BODY_ITEM, loc)
    return None


def _end(at: Location, text: str) -> Location:
    """The position just past the end of the text."""
    return _shift(at, text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1)


def _shift(at: Location, line: Any, column: Any) -> Location:
    """A Lark position (1-based, relative to a text starting at `at`) as a file location."""
    if not isinstance(line, int) or not isinstance(column, int) or line < 1:
        line, column = 1, 1
    return Location(at.file, at.line + line - 1, (at.column + column - 1) if line == 1 else column)


def _unterminated_heredoc(at: Location, text: str) -> BakeFileError:
    """A heredoc without its closing marker: HCL points at the end of the file."""
    return BakeFileError("Unterminated template string; No closing marker was found for the string.", _end(at, text))


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

