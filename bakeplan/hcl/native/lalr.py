"""The LALR driver: Lark's own tables for the patched grammar, driven by a compact loop.

Loading Lark (importing it, deserializing its cached tables, building the
tree callbacks and the contextual lexer) cost ~0.2 s per process, more than
parsing a typical bake file, and building its parser in a fresh cache folder
1-3 s. So bakeplan ships exactly what Lark builds from the grammar
(`bakeplan.hcl.native.grammar`: parse table, per-state terminals, the tree
shaping of each rule) as plain data (`bakeplan.hcl.native.tables`: shipped,
or exported once into the cache folder where the installed grammar or Lark
differ), and drives those tables with the small loop below, which follows
Lark's LALR parser, contextual lexer and tree builder step for step (same
tokens, same trees). Whatever the loop does not accept is handed to Lark
itself, so errors are Lark's own.

The lexer. In each parser state Lark's contextual lexer tries the state's
terminals, in its priority order, as one alternation of named groups. Here
every regular-expression terminal of bake's grammar sorts before every plain
string terminal (their widths are unbounded), so a state's alternation is cut
where its plain strings begin: the head (everything up to the last regular
expression) is a pattern, the tail of plain strings is matched with
`str.startswith`, looked up by the first character, and which keyword a name
is (Lark's "unless" callbacks) is a dictionary lookup. States share the
widest head that holds theirs in the same order (`tables._share_heads`), and a
head is matched through the smaller alternation of its alternatives that may
start with the character at hand (`firstchars`): a few small patterns to
compile with public `re`, about 1 ms, where compiling Lark's own alternations
cost about 1 ms per state used (some 20 ms for a typical file).

The parser. Lark's loop, with two shortcuts that build the same tree: the
end of input is checked only where the table has no action (`_run`), and a
run of reductions over one child is looked up once per (state below, state,
lookahead) (`_chain`). Per token on the 1,000-target bench file (CPython
3.11, callgrind): 36.8k instructions before these and the token dict, 26.5k after.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import marshal
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bakeplan.fsutil import user_cache_dir
from bakeplan.hcl.native import tables
from bakeplan.hcl.native.grammar import NewlineFilter, lark_parser, patched_grammar


class _Fallback(Exception):
    """The compact parser cannot go on: let Lark parse the text (and report its error)."""


class _Token(str):
    """A token like Lark's (a str with its type and position)."""

    type: str
    value: str
    start_pos: int
    line: int
    column: int
    end_line: int
    end_column: int
    end_pos: int

    def update(self, type: str | None = None, value: str | None = None) -> _Token:
        """A copy with another type or value, at the same position (Lark's Token.update)."""
        token = _Token(value if value is not None else self.value)
        token.type = type if type is not None else self.type
        token.value = str(token)
        token.start_pos, token.line, token.column = self.start_pos, self.line, self.column
        token.end_line, token.end_column, token.end_pos = self.end_line, self.end_column, self.end_pos
        return token

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Token) and self.type != other.type:
            return False
        return str.__eq__(self, other)

    __hash__ = str.__hash__


class _Tree:
    """A parse-tree node like Lark's Tree: a rule name and its children."""

    __slots__ = ("data", "children")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A scanner head, compiled once per process for every state that shares it."""
    return re.compile(pattern)


def _no_head(text: str, pos: int) -> None:
    """The head of a state whose terminals are all plain strings: it matches nothing."""
    return None


class _Dispatch(dict[str, Any]):
    """A shared head's match for each first character (`firstchars`), compiled on first use."""

    __slots__ = ("_full", "_smaller")

    def __init__(self, full: str, smaller: list[tuple[str, str]]) -> None:
        super().__init__()
        self._full = full
        self._smaller = smaller

    def __missing__(self, char: str) -> Any:
        pattern = next((pattern for chars, pattern in self._smaller if char in chars), self._full)
        match = _compiled(pattern).match if pattern else _no_head
        self[char] = match
        return match


# What the lexer reads of a scanner for each token: its head's match by first character, the
# terminals the head answers for this state, its plain strings by first character, ignored
# terminals, terminals that may hold newlines, and which keyword a name is.
_Head = tuple[_Dispatch, frozenset[str], dict[str, tuple[tuple[str, str], ...]], frozenset[str], frozenset[str], dict[str, dict[str, str]]]


class _Scanner:
    """One contextual-lexer state: its shared head, its own head, its plain-string terminals (built on first use)."""

    __slots__ = ("_spec", "_shared", "head", "_own")

    def __init__(self, spec: tuple[Any, ...], shared: _Dispatch) -> None:
        self._spec = spec
        self._shared = shared
        self.head: _Head | None = None
        self._own: re.Pattern[str] | None = None

    def build(self) -> _Head:
        """Index the plain strings by their first character (Lark builds lazily too)."""
        _, _, names, strings, ignore, newline_types, unless = self._spec
        by_first: dict[str, list[tuple[str, str]]] = {}
        for value, name in strings:
            by_first.setdefault(value[0], []).append((value, name))
        self.head = (self._shared, frozenset(names), {first: tuple(group) for first, group in by_first.items()}, frozenset(ignore),
                     frozenset(newline_types), unless)
        return self.head

    def own_match(self, text: str, pos: int) -> re.Match[str] | None:
        """This state's own head at `pos`: Lark's alternation up to its plain strings, compiled when first needed."""
        if self._own is None:
            if not self._spec[0]:
                return None
            self._own = _compiled(self._spec[0])
        return self._own.match(text, pos)


class _Rows(dict[int, dict[str, int]]):
    """The parse table by state: a row stored marshalled (`tables.encode`) is decoded when the loop first reaches it."""

    __slots__ = ("_stored",)

    def __init__(self, stored: list[bytes] | list[dict[str, int]]) -> None:
        super().__init__()
        self._stored = stored

    def __missing__(self, state: int) -> dict[str, int]:
        row = self._stored[state]
        decoded: dict[str, int] = marshal.loads(row) if isinstance(row, bytes) else row
        self[state] = decoded
        return decoded


class _CompactParser:
    """Lark's LALR tables for the patched grammar, driven without Lark."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.states: dict[int, dict[str, int]] = _Rows(data["states"])
        self.rules: list[tuple[str, int, str, bool, tuple[tuple[int, bool], ...] | None]] = data["rules"]
        self.start_states: dict[str, int] = data["start"]
        self.end_states: dict[str, int] = data["end"]
        heads = [_Dispatch(pattern, smaller) for pattern, smaller in data["heads"]]
        no_head = _Dispatch("", [])
        scanners = [_Scanner(spec, heads[spec[1]] if spec[1] >= 0 else no_head) for spec in data["scanners"]]
        self.lexers: list[_Scanner] = [scanners[i] for i in data["lexers"]]
        # Rules over one child that keep no placeholder: (origin, tree name, or None where the
        # child itself is the value: `?rule: x`, Lark's ExpandSingleChild); None for the others.
        self.units: list[tuple[str, str | None] | None] = [
            (origin, None if expand1 else name) if size == 1 and include is None else None
            for origin, size, name, expand1, include in self.rules
        ]
        self.end = _Token("")
        self.end.type = "$END"
        self.chains: dict[tuple[int, int, str], tuple[int, tuple[str, ...]]] = {}

    def _chain(self, below: int, top: int, kind: str) -> tuple[int, tuple[str, ...]]:
        """The reductions over one child that follow one another on top of state `below` before `kind`.

        They leave the stack as deep as it was: the state on top becomes the
        returned one, and the value on top is wrapped in a tree per name, in
        order. The table decides them from these three alone, so the loop
        remembers them (`chains`): a value climbs `string` -> `expr_term` ->
        `unary_expr` -> `or_expr` -> `expression` in one step.
        """
        names: list[str] = []
        state = top
        while True:
            action = self.states[state].get(kind)
            unit = None if action is None or action >= 0 else self.units[~action]
            if unit is None:
                break
            origin, name = unit
            state = self.states[below][origin]
            if name is not None:
                names.append(name)
        chain = self.chains[below, top, kind] = (state, tuple(names))
        return chain

    def _lex(self, text: str, stack: list[int]) -> Iterator[_Token]:
        """Lark's ContextualLexer + BasicLexer.next_token: the state on top of the stack picks the terminals."""
        pos, line, line_start, end = 0, 1, 0, len(text)
        lexers, token_type = self.lexers, _Token
        while pos < end:
            scanner = lexers[stack[-1]]
            heads, names, strings, ignore, newline_types, unless = scanner.head or scanner.build()
            match: re.Match[str] | None = heads[text[pos]](text, pos)
            if match is not None and match.lastgroup not in names:
                match = scanner.own_match(text, pos)  # a terminal this state does not take: ask its own head
            if match is not None:
                value: str = match[0]
                kind: str = match.lastgroup  # type: ignore[assignment]  # every alternative is a named group
            else:
                for value, kind in strings.get(text[pos], ()):  # noqa: B007 - the match found is used after the loop
                    if text.startswith(value, pos):
                        break
                else:
                    raise _Fallback
            start, first_line, column = pos, line, pos - line_start + 1
            pos += len(value)
            if kind in newline_types:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = start + value.rindex("\n") + 1
            if kind in ignore:
                continue
            if kind in unless:
                kind = unless[kind].get(value, kind)
            token = token_type(value)
            # One dict in place of eight attribute stores (each of which may grow the token's dict).
            token.__dict__ = {"type": kind, "value": value, "start_pos": start, "line": first_line, "column": column,
                              "end_line": line, "end_column": pos - line_start + 1, "end_pos": pos}
            yield token

    def parse(self, text: str, start: str) -> Any:
        """Lark's LALR_Parser.parse with the default tree builder; `_Fallback` where Lark would raise."""
        stack = [self.start_states[start]]
        tokens = NewlineFilter().process(self._lex(text, stack))
        return self._run(tokens, stack, self.end_states[start])

    def _run(self, tokens: Iterator[_Token], stack: list[int], end_state: int) -> Any:
        """Shift every token, reducing before each as the table says, then reduce at `$END` to the start rule.

        The hot loop: kept flat. Reductions follow Lark's ChildFilterLALR_NoPlaceholders /
        ExpandSingleChild / Tree chain; a run of them over a single child replaces the top of
        the stacks in one step (`_chain`). The table has no action where the input is wrong,
        and none for `$END` once the start rule is reduced: both end the loop with a KeyError.
        """
        states, rules, units, chains, tree = self.states, self.rules, self.units, self.chains, _Tree
        values: list[Any] = []
        push_state, push_value = stack.append, values.append
        kind = ""
        try:
            for token in itertools.chain(tokens, (self.end,)):
                kind = token.type
                while True:
                    action = states[stack[-1]][kind]
                    if action >= 0:
                        push_state(action)
                        push_value(token)
                        break
                    if units[~action] is not None:
                        chain = chains.get((stack[-2], stack[-1], kind)) or self._chain(stack[-2], stack[-1], kind)
                        stack[-1] = chain[0]
                        for name in chain[1]:
                            values[-1] = tree(name, [values[-1]])
                        continue
                    origin, size, name, expand1, include = rules[~action]
                    if size:
                        children = values[-size:]
                        del stack[-size:]
                        del values[-size:]
                    else:
                        children = []
                    if include is not None:
                        children = _included(children, include)
                    push_state(states[stack[-1]][origin])
                    push_value(children[0] if expand1 and len(children) == 1 else tree(name, children))
        except KeyError:
            if kind == "$END" and stack[-1] == end_state:
                return values[-1]
        raise _Fallback  # a token (or the end of input) the table has no action for: Lark reports it


def _included(children: list[Any], include: tuple[tuple[int, bool], ...]) -> list[Any]:
    """The children a rule keeps (Lark's ChildFilterLALR_NoPlaceholders): some, and some children's children in place."""
    filtered: list[Any] = []
    for i, to_expand in include:
        if to_expand:
            if filtered:
                filtered += children[i].children
            else:
                filtered = children[i].children
        else:
            filtered.append(children[i])
    return filtered


def parse_tree(text: str, start: str) -> Any:
    """Parse with the compact tables (`compact_parser`) when they are usable, else with Lark itself.

    Any input the compact parser does not accept is parsed again by Lark, so
    syntax errors (and anything unforeseen) come out exactly as Lark has them.
    """
    fast = compact_parser()
    if fast is not None:
        try:
            return fast.parse(text, start)
        except Exception:  # noqa: BLE001 - _Fallback, or anything unforeseen: Lark decides
            pass
    return lark_parser().parse(text, start=start)


@functools.lru_cache(maxsize=1)
def compact_parser() -> _CompactParser | None:
    """The compact parser from the shipped tables, else from tables exported into the cache folder; None if unusable."""
    spec = importlib.util.find_spec("lark")
    if spec is None or spec.origin is None:
        return None
    data = tables.load(patched_grammar(), Path(spec.origin), shipped=tables.SHIPPED, cache=user_cache_dir(os.environ))
    return None if data is None else _CompactParser(data)
