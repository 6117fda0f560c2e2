"""Regular expressions (go-cty stdlib regexp.go).

go's RE2 syntax is translated to the `regex` module's (ASCII classes, `$` = end
of text; no backreferences or lookarounds), with go's FindAll and Expand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import ArgError, CallError, Function, param, s, table
from bakeplan.hcl.values import STRING, ListType, ObjectType, TupleType, Type, Value


class RegexSyntaxError(Exception):
    """An RE2 syntax error, worded like go's regexp/syntax (code, expr)."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"{code}: `{expr}`")
        self.code = code
        self.expr = expr


_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def translate_re2(pattern: str) -> str:
    """Translate an RE2 pattern to an equivalent `regex` module pattern (or raise RegexSyntaxError)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    multiline = False
    ungreedy = False
    depth = 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            i, piece = _translate_escape(pattern, i, in_class=False)
            out.append(piece)
            continue
        if c == "[":
            i, piece = _translate_class(pattern, i)
            out.append(piece)
            continue
        if c == "(":
            i, piece, flags = _translate_group(pattern, i)
            if "m" in flags and depth == 0:
                multiline = True
            if "U" in flags:
                ungreedy = True
            out.append(piece)
            if piece != "(?" + flags + ")" or not flags:
                depth += 1 if not piece.endswith(")") else 0
            continue
        if c == ")":
            depth = max(depth - 1, 0)
        if c == "$" and not multiline:
            out.append(r"(?!(?s:.))")
            i += 1
            continue
        if c == "{":
            _check_repeat(pattern, i)
        if c in "*+?" and (i + 1 < n and pattern[i + 1] in "*+"):
            raise RegexSyntaxError("invalid nested repetition operator", pattern[i : i + 2])
        out.append(c)
        i += 1
        if ungreedy and (c in "*+?" or (c == "}" and _closes_repeat(pattern, i - 1))) and not _quantified_twice(out):
            # (?U) swaps greedy and lazy repetition
            if i < n and pattern[i] == "?":
                i += 1
            else:
                out.append("?")
    return "".join(out)


def _closes_repeat(p: str, end: int) -> bool:
    start = p.rfind("{", 0, end)
    return start >= 0 and _REPEAT_RE.fullmatch(p, start, end + 1) is not None


def _quantified_twice(out: list[str]) -> bool:
    return len(out) >= 2 and out[-1] == "?" and out[-2] in ("*", "+", "?")


_ASCII_CLASSES = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_WORD = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NON_BOUNDARY = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"


def _complement(ranges: str) -> str:
    """The complement (within all of Unicode) of an ASCII class body like "0-9A-Za-z_"."""
    chars: set[int] = set()
    body = ranges.encode().decode("unicode_escape")
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            chars.update(range(ord(body[k]), ord(body[k + 2]) + 1))
            k += 3
        else:
            chars.add(ord(body[k]))
            k += 1
    out = []
    start = None
    for code in range(0, 129):
        inside = code in chars or code == 128
        if not inside and start is None:
            start = code
        elif inside and start is not None:
            out.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    out.append("\\U00000080-\\U0010ffff")
    return "".join(out)


def _translate_escape(p: str, i: int, in_class: bool) -> tuple[int, str]:
    if i + 1 >= len(p):
        raise RegexSyntaxError("trailing backslash at end of expression", "")
    e = p[i + 1]
    if e.isdigit() and e != "0":
        raise RegexSyntaxError("invalid escape sequence", p[i : i + 2])
    if e == "z":
        return i + 2, r"\Z"
    if e == "Q":
        end = p.find(r"\E", i + 2)
        lit = p[i + 2 :] if end < 0 else p[i + 2 : end]
        import regex  # type: ignore[import-untyped,unused-ignore]

        return (len(p) if end < 0 else end + 2), regex.escape(lit)
    if e in "pP":
        if i + 2 < len(p) and p[i + 2] == "{":
            end = p.find("}", i + 3)
            if end < 0:
                raise RegexSyntaxError("invalid character class range", p[i:])
            return end + 1, p[i : end + 1]
        return i + 3, p[i : i + 3]
    if e == "x" and i + 2 < len(p) and p[i + 2] == "{":
        end = p.find("}", i + 3)
        if end < 0 or not re.fullmatch(r"[0-9A-Fa-f]+", p[i + 3 : end]):
            raise RegexSyntaxError("invalid escape sequence", p[i : end + 1 if end > 0 else len(p)])
        return end + 1, f"\\U{int(p[i + 3 : end], 16):08x}"
    # go's \d \w \s \b are ASCII-only while the rest of the pattern stays Unicode-aware
    if e in "dws":
        body = _ASCII_CLASSES[e]
        return i + 2, body if in_class else f"[{body}]"
    if e in "DWS":
        body = _complement(_ASCII_CLASSES[e.lower()])
        return i + 2, body if in_class else f"[{body}]"
    if e == "b" and not in_class:
        return i + 2, _BOUNDARY
    if e == "B" and not in_class:
        return i + 2, _NON_BOUNDARY
    if e.isalnum() and e not in "afnrtvAx0":
        raise RegexSyntaxError("invalid escape sequence", p[i : i + 2])
    return i + 2, p[i : i + 2]


def _translate_class(p: str, i: int) -> tuple[int, str]:
    out = ["["]
    j = i + 1
    if j < len(p) and p[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(p):
        c = p[j]
        if c == "]" and not first:
            out.append("]")
            return j + 1, "".join(out)
        if c == "[" and p.startswith("[:", j):
            end = p.find(":]", j + 2)
            if end > 0:
                name = p[j + 2 : end]
                body = _POSIX.get(name.lstrip("^"))
                if body is None:
                    raise RegexSyntaxError("invalid character class range", p[j : end + 2])
                out.append(_complement(body) if name.startswith("^") else body)
                j = end + 2
                first = False
                continue
        if c == "\\":
            j, piece = _translate_escape(p, j, in_class=True)
            out.append(piece)
            first = False
            continue
        if c == "-" and j > i + 1 and j + 1 < len(p) and p[j + 1] not in "]\\[" and p[j - 1] not in "[^\\":
            if ord(p[j + 1]) < ord(p[j - 1]):
                raise RegexSyntaxError("invalid character class range", p[j - 1 : j + 2])
        if c == "[":
            out.append("\\[")
        elif c == "]":
            out.append("\\]")
        else:
            out.append(c)
        first = False
        j += 1
    raise RegexSyntaxError("missing closing ]", p[i:])


_REPEAT_RE = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def _check_repeat(p: str, i: int) -> None:
    m = _REPEAT_RE.match(p, i)
    if m is None:
        return
    lo = int(m.group(1))
    hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
    if lo > 1000 or hi > 1000 or (hi >= 0 and hi < lo):
        raise RegexSyntaxError("invalid repeat count", m.group(0))


def _translate_group(p: str, i: int) -> tuple[int, str, str]:
    if not p.startswith("(?", i):
        return i + 1, "(", ""
    rest = p[i + 2 :]
    if rest.startswith("P<") or rest.startswith("<"):
        start = i + (4 if rest.startswith("P<") else 3)
        end = p.find(">", start)
        if end < 0:
            raise RegexSyntaxError("invalid named capture", p[i:])
        name = p[start:end]
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise RegexSyntaxError("invalid named capture", p[i : end + 1])
        return end + 1, f"(?P<{name}>", ""
    m = re.match(r"([imsU-]*)([:)])", rest)
    if m is None or m.group(1) in ("-",) or ("U" in m.group(1) and not (i == 0 and m.group(2) == ")")):
        # go reports the text up to and including the first unsupported character
        j = i + 2
        while j < len(p) and p[j] in "imsU-":
            j += 1
        raise RegexSyntaxError("invalid or unsupported Perl syntax", p[i : j + 1])
    flags = m.group(1).replace("U", "")
    if m.group(2) == ")" and not flags:
        return i + 2 + m.end(), "", m.group(1)
    if m.group(2) == ")":
        return i + 2 + m.end(), f"(?{flags})" if "-" not in flags else _scoped_flags(flags), flags
    return i + 2 + m.end(), f"(?{flags}:", flags


def _scoped_flags(flags: str) -> str:
    on, _, off = flags.partition("-")
    return f"(?{on}-{off})" if on else f"(?-{off})"


def compile_re2(pattern: str) -> Any:
    """Compile an RE2 pattern with go semantics (ASCII \\w \\d \\b, `$` = end of text).

    The translation is written for the `regex` module (Unicode properties,
    its error texts); a pattern without properties that the standard `re`
    accepts means the same there (`regex`'s VERSION0 is `re`'s behaviour), and
    `re` is loaded already: the ~10 ms import of `regex` is paid only when needed.
    """
    translated = translate_re2(pattern)
    if "\\p" not in translated and "\\P" not in translated:
        try:
            return re.compile(translated)
        except re.error:
            pass  # let `regex` say what is wrong, in the words we map to RE2's
    import regex  # type: ignore[import-untyped,unused-ignore]

    try:
        return regex.compile(translated, regex.VERSION0)
    except regex.error as e:
        raise _python_regex_error(pattern, e) from None


def _python_regex_error(pattern: str, e: Any) -> RegexSyntaxError:
    msg = str(e.msg if hasattr(e, "msg") else e)
    if "missing )" in msg:
        return RegexSyntaxError("missing closing )", pattern)
    if "unbalanced parenthesis" in msg:
        return RegexSyntaxError("unexpected )", pattern)
    if "nothing to repeat" in msg:
        return RegexSyntaxError("missing argument to repetition operator", pattern[e.pos : e.pos + 1] if e.pos is not None else pattern)
    if "bad character range" in msg:
        return RegexSyntaxError("invalid character class range", pattern)
    if "unterminated character set" in msg:
        return RegexSyntaxError("missing closing ]", pattern)
    return RegexSyntaxError("invalid or unsupported Perl syntax", pattern)


def _regex_compile_arg(pattern: str) -> Any:
    try:
        return compile_re2(pattern)
    except RegexSyntaxError as e:
        raise ArgError(0, f"invalid regexp pattern: {e.code} in {e.expr}" if e.expr else f"invalid regexp pattern: {e.code}") from None


def _regex_result_type(rx: Any) -> tuple[str, list[str]]:
    names = [""] * rx.groups
    for name, idx in rx.groupindex.items():
        names[idx - 1] = name
    unnamed = sum(1 for x in names if not x)
    named = [x for x in names if x]
    if unnamed == 0 and not named:
        return "string", names
    if unnamed and named:
        raise ArgError(0, "invalid regexp pattern: cannot mix both named and unnamed capture groups")
    return ("tuple" if unnamed else "object"), names


def _regex_result(m: Any, kind: str, names: list[str]) -> Value:
    if kind == "string":
        return s(m.group(0))
    groups = [(s(g) if g is not None else V.null_val(STRING)) for g in m.groups()]
    if kind == "tuple":
        return V.tuple_val(groups)
    return V.object_val(dict(zip(names, groups)))


def _regex(a: list[Value]) -> Value:
    rx = _regex_compile_arg(a[0].v)
    kind, names = _regex_result_type(rx)
    m = rx.search(a[1].v)
    if m is None:
        raise CallError("pattern did not match any part of the given string")
    return _regex_result(m, kind, names)


def _regexall(a: list[Value]) -> Value:
    rx = _regex_compile_arg(a[0].v)
    kind, names = _regex_result_type(rx)
    elems = [_regex_result(m, kind, names) for m in _go_find_all(rx, a[1].v)]
    if not elems:
        ety: Type = STRING if kind == "string" else _empty_result_type(kind, rx.groups, names)
        return Value(ListType(ety), ())
    return Value(ListType(elems[0].type), tuple(elems))


def _empty_result_type(kind: str, count: int, names: list[str]) -> Type:
    if kind == "tuple":
        return TupleType([STRING] * count)
    return ObjectType({x: STRING for x in names})


def _go_find_all(rx: Any, text: str) -> list[Any]:
    """go's FindAll: like finditer, but an empty match right after a previous match is skipped."""
    out = []
    prev_end = -1
    for m in rx.finditer(text):
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
    return out


def _regex_replace(a: list[Value]) -> Value:
    text, pattern, repl = a[0].v, a[1].v, a[2].v
    try:
        rx = compile_re2(pattern)
    except RegexSyntaxError as e:
        raise CallError(f"error parsing regexp: {e.code}: `{e.expr}`") from None
    out: list[str] = []
    last = 0
    for m in _go_find_all(rx, text):
        out.append(text[last : m.start()])
        out.append(_go_expand(repl, m))
        last = m.end()
    out.append(text[last:])
    return s("".join(out))


_EXPAND_NAME = re.compile(r"[A-Za-z0-9_]+")


def _go_expand(template: str, m: Any) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out: list[str] = []
    i = 0
    while i < len(template):
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        rest = template[j + 1 :]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        name, consumed = _expand_name(rest)
        if name is None:
            out.append("$")
            i = j + 1
            continue
        out.append(_group_text(m, name))
        i = j + 1 + consumed
    return "".join(out)


def _expand_name(rest: str) -> tuple[str | None, int]:
    if rest.startswith("{"):
        end = rest.find("}")
        if end < 0:
            return None, 0
        name = rest[1:end]
        if not _EXPAND_NAME.fullmatch(name):
            return None, 0
        return name, end + 1
    mm = _EXPAND_NAME.match(rest)
    if mm is None:
        return None, 0
    return mm.group(0), mm.end()


def _group_text(m: Any, name: str) -> str:
    if name.isdigit():
        idx = int(name)
        if idx <= m.re.groups:
            return m.group(idx) or ""
        return ""
    if name in m.re.groupindex:
        return m.group(name) or ""
    return ""


TABLE: Mapping[str, Function] = table(
    ("regex_replace", (param("str"), param("pattern"), param("replace")), None, _regex_replace),
    ("regex", (param("pattern"), param("string")), None, _regex),
    ("regexall", (param("pattern"), param("string")), None, _regexall),
)
