"""One CSV record, split and written the way buildx does it.

buildx reads every comma-separated value of a bake definition with
tonistiigi/go-csvvalue's `Fields`: cache, output, attest, secret and policy
entries (util/buildflags), `--call` and `--list` values, and the CSV form of a
list, set, tuple or map variable override (bake/hclparser `valueFromCSV`). A
quoted field keeps its commas (`type=registry,"ref=a,b"` is two fields), `""`
inside quotes is one quote, a quote anywhere else is an error, and errors are
Go's `csv.ParseError` texts with a 1-based byte column.
"""

from __future__ import annotations

_BARE_QUOTE = 'bare " in non-quoted-field'
_QUOTE = 'extraneous or missing " in quoted-field'


class CSVError(ValueError):
    """A value that is not one CSV record; the text is Go's error message."""


def fields(line: str, comma: str = ",") -> list[str]:
    """go-csvvalue's Parser.Fields: the fields of one record (a trailing newline is allowed)."""
    if '"' not in line and line and line[-1] != "\n":
        return line.split(comma)  # the common case: no quoting to undo
    if line.endswith("\r\n"):
        line = line[:-2]
    elif line.endswith("\n"):
        line = line[:-1]
    if line == "":
        raise CSVError("EOF")  # io.EOF: buildx's callers skip empty values before they get here
    if '"' not in line:
        return line.split(comma)
    return _quoted_fields(line, comma)


def _quoted_fields(line: str, comma: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while True:
        if not line.startswith('"', pos):
            end = line.find(comma, pos)
            field = line[pos:] if end < 0 else line[pos:end]
            if '"' in field:
                raise _error(line, pos + field.index('"'), _BARE_QUOTE)
            out.append(field)
            if end < 0:
                return out
            pos = end + len(comma)
            continue
        value, pos = _quoted_field(line, pos + 1, comma)
        out.append(value)
        if pos > len(line):
            return out


def _quoted_field(line: str, pos: int, comma: str) -> tuple[str, int]:
    """The quoted field starting after the quote at `pos - 1`; where the next field starts (past the end: no more)."""
    parts: list[str] = []
    while True:
        end = line.find('"', pos)
        if end < 0:
            raise _error(line, pos, _QUOTE)
        parts.append(line[pos:end])
        pos = end + 1
        if line.startswith('"', pos):  # `""`: one quote
            parts.append('"')
            pos += 1
        elif line.startswith(comma, pos):
            return "".join(parts), pos + len(comma)
        elif pos == len(line):
            return "".join(parts), pos + 1
        else:
            raise _error(line, pos - 1, _QUOTE)


def _error(line: str, pos: int, reason: str) -> CSVError:
    column = len(line[:pos].encode()) + 1  # Go counts bytes
    return CSVError(f"parse error on line 1, column {column}: {reason}")


def pair(key: str, value: str) -> str:
    """buildx's csvBuilder.Write for one key=value pair: quoted when it holds a comma or a quote."""
    text = f"{key}={value}"
    if "," in text or '"' in text:
        text = '"' + text.replace('"', '""') + '"'
    return text
