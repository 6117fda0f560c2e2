"""How an error reads on stderr: the message, the source line it points at with a caret, the hint.

    error: docker-bake.hcl:2:11: Unknown variable; There is no variable named "nope".
        2 |   tags = [nope]
          |           ^^^^
    Declare it (variable "nope" { default = ... }) or fix the name.

Colour only on a terminal (and never under NO_COLOR); the same text otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bakeplan.errors import BakeFileError, BakeplanError, Location

_RED, _BOLD, _DIM, _RESET = "\033[31m", "\033[1m", "\033[2m", "\033[0m"
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def use_color(stream_fd: int = 2) -> bool:
    """Colour when the stream is a terminal and the user has not asked for none."""
    return os.isatty(stream_fd) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _plain(code: str, text: str) -> str:
    return text


def _ansi(code: str, text: str) -> str:
    return f"{code}{text}{_RESET}"


def render(error: BakeplanError, *, color: bool = False) -> str:
    """The whole text for stderr, ending with a newline."""
    paint = _ansi if color else _plain
    lines = [f"{paint(_BOLD + _RED, 'error:')} {paint(_BOLD, error.message)}"]
    location = error.location if isinstance(error, BakeFileError) else None
    if location is not None:
        lines.extend(excerpt(location, paint))
    if error.hint:
        lines.append(error.hint)
    return "\n".join(lines) + "\n"


def excerpt(location: Location, paint: Callable[[str, str], str] = _plain) -> list[str]:
    """The source line at `location` and a caret under its column (under the word that starts there); [] if unreadable."""
    text = _line(location.file, location.line)
    if text is None or location.column < 1 or location.column > len(text) + 1:
        return []
    start = location.column - 1
    end = start + 1
    while end < len(text) and text[start] in _WORD and text[end] in _WORD:
        end += 1
    # Keep tabs so the caret lines up under any tab width.
    pad = "".join(ch if ch == "\t" else " " for ch in text[:start])
    number = str(location.line)
    bar = paint(_DIM, "|")
    return [f"    {paint(_DIM, number)} {bar} {text}", f"    {' ' * len(number)} {bar} {pad}{paint(_RED, '^' * (end - start))}"]


def _line(file: str, line: int) -> str | None:
    """Line `line` (1-based) of `file` as text, or None (stdin, gone, binary, too short)."""
    if file in ("", "-") or line < 1:
        return None
    try:
        with open(file, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if number == line:
                    return raw.decode("utf-8", "replace").rstrip("\r\n")
    except OSError:
        return None
    return None
