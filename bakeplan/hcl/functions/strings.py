"""Strings (go-cty stdlib string.go).

Case mapping rune by rune as go does, trimming with go's white space, lengths
and substrings in grapheme clusters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    STR_PARAMS,
    ArgError,
    CallError,
    Function,
    Impl,
    graphemes,
    int_arg,
    param,
    s,
    table,
)
from bakeplan.hcl.values import NUMBER, STRING, ListType, Value

_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _go_upper(text: str) -> str:
    # go's strings.ToUpper maps rune by rune (no "ß" -> "SS" expansions)
    if text.isascii():
        return text.upper()
    return "".join(c if len(u := c.upper()) != 1 else u for c in text)


def _go_lower(text: str) -> str:
    if text.isascii():
        return text.lower()
    # go maps U+0130 to a plain "i"; every other multi-rune python lowering keeps the rune
    return "".join(lo if len(lo := c.lower()) == 1 else ("i" if c == "\u0130" else c) for c in text)


def _go_title_char(c: str) -> str:
    t = c.title()
    return t if len(t) == 1 else c


def _go_title(text: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out = []
    prev = " "
    for c in text:
        out.append(_go_title_char(c) if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or unicodedata.category(c).startswith("N"):
        return False
    return c in _GO_SPACE


def _str_fn(f: Callable[[str], str]) -> Impl:
    def impl(a: list[Value]) -> Value:
        return s(f(a[0].v))

    return impl


def _reverse(a: list[Value]) -> Value:
    return s("".join(reversed(graphemes(a[0].v))))


def _strlen(a: list[Value]) -> Value:
    return Value(NUMBER, V.Int64(len(graphemes(a[0].v))))


def _substr(a: list[Value]) -> Value:
    text = a[0].v
    offset = int_arg(a[1])
    length = int_arg(a[2])
    clusters = graphemes(text)
    if offset < 0:
        offset += len(clusters)
    elif length == 0:
        return s("")
    rest = clusters
    if offset > 0:
        if offset > len(clusters):
            return s("")
        rest = clusters[offset:]
    if length <= 0:
        # a zero length is only reachable with a negative offset: go then takes the rest
        return s("".join(rest))
    return s("".join(rest[:length]))


def _join(a: list[Value]) -> Value:
    sep = a[0].v
    lists = a[1:]
    if not lists:
        raise CallError("at least one list is required")
    items: list[str] = []
    for ai, lst in enumerate(lists):
        for ei, v in enumerate(lst.v):
            if v.v is None:
                if len(lists) > 1:
                    raise ArgError(ai + 1, f"element {ei} of list {ai + 1} is null; cannot concatenate null values")
                raise ArgError(ai + 1, f"element {ei} is null; cannot concatenate null values")
            items.append(v.v)
    return s(sep.join(items))


def _sort(a: list[Value]) -> Value:
    lst = a[0]
    if not lst.v:
        return lst
    items = []
    for i, v in enumerate(lst.v):
        if v.v is None:
            raise CallError(f"given list element {i} is null; a null string cannot be sorted")
        items.append(v.v)
    # go's sort.Strings compares bytes; for valid UTF-8 that is code point order
    return Value(ListType(STRING), tuple(Value(STRING, x) for x in sorted(items)))


def _split(a: list[Value]) -> Value:
    sep, text = a[0].v, a[1].v
    parts = list(text) if sep == "" else text.split(sep)
    return Value(ListType(STRING), tuple(s(p) for p in parts))


_CHOMP = r"(?:\r\n?|\n)*\Z"  # compiled on first use (re caches it)


def _chomp(a: list[Value]) -> Value:
    return s(re.sub(_CHOMP, "", a[0].v, count=1))


def _indent(a: list[Value]) -> Value:
    spaces = int_arg(a[0])
    if spaces < 0:
        raise CallError("panic in function implementation: strings: negative Repeat count")
    return s(a[1].v.replace("\n", "\n" + " " * spaces))


def _trimspace(text: str) -> str:
    return text.strip(_GO_SPACE)


def _trim(a: list[Value]) -> Value:
    cut = a[1].v
    return s(a[0].v.strip(cut)) if cut else a[0]


def _trimprefix(a: list[Value]) -> Value:
    text, prefix = a[0].v, a[1].v
    return s(text[len(prefix) :]) if prefix and text.startswith(prefix) else a[0]


def _trimsuffix(a: list[Value]) -> Value:
    text, suffix = a[0].v, a[1].v
    return s(text[: -len(suffix)]) if suffix and text.endswith(suffix) else a[0]


def _replace(a: list[Value]) -> Value:
    text, old, new = a[0].v, a[1].v, a[2].v
    if old == "":
        # go's strings.Replace with an empty old string inserts `new` around every rune
        return s(new + new.join(text) + new if text else new)
    return s(text.replace(old, new))


TABLE: Mapping[str, Function] = table(
    ("chomp", STR_PARAMS, None, _chomp),
    ("indent", (param("spaces", NUMBER), param("str")), None, _indent),
    ("join", (param("separator"),), param("lists", ListType(STRING)), _join),
    ("lower", STR_PARAMS, None, _str_fn(_go_lower)),
    ("replace", (param("str"), param("substr"), param("replace")), None, _replace),
    ("reverse", STR_PARAMS, None, _reverse),
    ("sort", (param("list", ListType(STRING)),), None, _sort),
    ("split", (param("separator"), param("str")), None, _split),
    ("strlen", STR_PARAMS, None, _strlen),
    ("substr", (param("str"), param("offset", NUMBER), param("length", NUMBER)), None, _substr),
    ("title", STR_PARAMS, None, _str_fn(_go_title)),
    ("trim", (param("str"), param("cutset")), None, _trim),
    ("trimprefix", (param("str"), param("prefix")), None, _trimprefix),
    ("trimspace", STR_PARAMS, None, _str_fn(_trimspace)),
    ("trimsuffix", (param("str"), param("suffix")), None, _trimsuffix),
    ("upper", STR_PARAMS, None, _str_fn(_go_upper)),
)
