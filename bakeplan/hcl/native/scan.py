"""The diagnostics hclsyntax's scanner reports before the parser runs (checkInvalidTokens).

HCL lexes the whole file first and reports every invalid token and every
quoted string broken by a newline; the parser's diagnostics come after them.
bakeplan's parser stops at its first error, so when a file fails to parse it
is scanned here for the first such token, which is what buildx names.
Only a failed parse is scanned: a file that parses has none.
"""

from __future__ import annotations

from bakeplan.errors import BakeFileError, Location

_MULTI_LINE = (
    "Invalid multi-line string; Quoted strings may not be split over multiple lines. To produce a multi-line "
    'string, either use the \\n escape to represent a newline character or use the "heredoc" multi-line '
    "template syntax."
)
_BITWISE = "Unsupported operator; Bitwise operators are not supported."
_TOKENS = {
    "&": _BITWISE + ' Did you mean boolean AND ("&&")?',
    "|": _BITWISE + ' Did you mean boolean OR ("||")?',
    "~": _BITWISE + ' Did you mean boolean NOT ("!")?',
    "^": _BITWISE,
    "`": 'Invalid character; The "`" character is not valid. To create a multi-line string, use the "heredoc" '
    'syntax, like "<<EOT".',
    "'": 'Invalid character; Single quotes are not valid. Use double quotes (") to enclose strings.',
    ";": 'Invalid character; The ";" character is not valid. Use newlines to separate arguments and blocks, '
    "and commas to separate items in collection values.",
}
_INVALID = "Invalid character; This character is not used within the language."
_VALID = set("{}[]()=!<>+-*/%?:.,\"#_ \t\r\n") | set("0123456789")


def scanner_error(text: str, at: Location) -> BakeFileError | None:
    """The first diagnostic HCL's scanner reports in `text`, with buildx's count of the others after it.

    A broken quoted string leaves one more parse error, two inside a block (its
    recovery reports the block's end too); an invalid token leaves one parse error.
    """
    scan = _Scan(text)
    found = scan.first()
    if found is None:
        return None
    offset, message = found
    others = (2 if scan.braces > 0 else 1) if message is _MULTI_LINE else 1
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    loc = Location(at.file, at.line + line - 1, (at.column + column - 1) if line == 1 else column)
    return BakeFileError(f"{message}, and {others} other diagnostic(s)", loc)


class _Scan:
    """Just enough of HCL's scanner to tell code from strings, templates, heredocs and comments."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.braces = 0  # `{` open in code (blocks, objects) where the scan stopped

    def first(self) -> tuple[int, str] | None:
        """(offset, message) of the first invalid token, or None."""
        return self._code(closing=None)

    def _code(self, closing: str | None) -> tuple[int, str] | None:
        """Code up to the `}` that ends an interpolation (closing="}") or to the end of the text."""
        s = self.s
        depth = 0
        while self.i < len(s):
            c = s[self.i]
            if c == "{":
                depth += 1
                self.braces += 1
            elif c == "}":
                if closing is not None and depth == 0:
                    self.i += 1
                    return None
                depth -= 1
                self.braces -= 1
            if c == '"':
                self.i += 1
                found = self._quoted()
            elif c == "#" or s.startswith("//", self.i):
                self.i = self._line_end()
                continue
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                self.i = len(s) if end < 0 else end + 2
                continue
            elif s.startswith("<<", self.i):
                found = self._heredoc()
            else:
                found = self._token(c)
            if found is not None:
                return found
        return None

    def _token(self, c: str) -> tuple[int, str] | None:
        s, i = self.s, self.i
        if c in "&|" and s.startswith(c * 2, i):
            self.i += 2
            return None
        self.i += 1
        if c in _TOKENS:
            return i, _TOKENS[c]
        if c in _VALID or c.isalnum():
            return None
        return i, _INVALID

    def _quoted(self) -> tuple[int, str] | None:
        """A quoted template, after its opening quote."""
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "\n":
                return self.i, _MULTI_LINE
            if c == '"':
                self.i += 1
                return None
            if c == "\\":
                self.i += 2
                continue
            if s.startswith(("$${", "%%{"), self.i):
                self.i += 3
                continue
            if s.startswith(("${", "%{"), self.i):
                self.i += 2
                found = self._code(closing="}")
                if found is not None:
                    return found
                continue
            self.i += 1
        return None

    def _heredoc(self) -> tuple[int, str] | None:
        """`<<EOT` or `<<-EOT` up to its closing marker (interpolations inside are code)."""
        s = self.s
        start = self.i + 2 + (1 if s.startswith("<<-", self.i) else 0)
        end = start
        while end < len(s) and (s[end].isalnum() or s[end] == "_"):
            end += 1
        marker = s[start:end]
        if not marker or not s.startswith("\n", end):
            self.i += 2
            return None
        self.i = end + 1
        while self.i < len(s):
            line_end = self._line_end()
            if s[self.i : line_end].strip() == marker:
                self.i = line_end
                return None
            self.i = line_end + 1
        return None

    def _line_end(self) -> int:
        end = self.s.find("\n", self.i)
        return len(self.s) if end < 0 else end
