"""The LALR driver: Lark's own tables for the patched grammar, exported once and driven by a compact loop.

Loading Lark (importing it, deserializing its cached tables, building the
tree callbacks and the contextual lexer) cost ~0.2 s per process, more than
parsing a typical bake file. The first run exports exactly what Lark built
from the grammar (`bakeplan.hcl.native.grammar`: parse table, per-state
terminals, the tree shaping of each rule) as plain data to the cache folder's
`lalr/` (`bakeplan.fsutil.user_cache_dir`; marshal, which loads in a
millisecond and can hold no code); later runs drive those tables with the
small loop below, which follows Lark's LALR parser, contextual lexer and tree
builder step for step (same tokens, same trees). Whatever the loop does not
accept is handed to Lark itself, so errors are Lark's own. The file name is a
checksum of the grammar, Lark's and Python's versions.

The lexer. In each parser state Lark's contextual lexer tries the state's
terminals, in its priority order, as one alternation of named groups. Here
every regular-expression terminal of bake's grammar sorts before every plain
string terminal (their widths are unbounded), so a state's alternation is cut
where its plain strings begin: the head (everything up to the last regular
expression) is a pattern, the tail of plain strings is matched with
`str.startswith`, looked up by the first character, and which keyword a name
is (Lark's "unless" callbacks) is a dictionary lookup. States share the
widest head that holds theirs in the same order (`_share_heads`): two heads
to compile with public `re`, about 1 ms, where compiling Lark's own
alternations cost about 1 ms per state used (some 20 ms for a typical file).
"""

from __future__ import annotations

import functools
import itertools
import importlib.util
import os
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bakeplan.fsutil import user_cache_dir, write_atomic
from bakeplan.hcl.native.grammar import NewlineFilter, lark_parser, patched_grammar

_TABLES_FORMAT = "5"


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


class _Scanner:
    """One contextual-lexer state: its shared head, its own head, its plain-string terminals (built on first use)."""

    __slots__ = ("_spec", "shared", "names", "strings", "ignore", "newline_types", "unless", "ready", "_own")

    def __init__(self, spec: tuple[Any, ...]) -> None:
        self._spec = spec
        self.shared: re.Pattern[str] | None = None
        self.names: frozenset[str] = frozenset(spec[2])
        self.strings: dict[str, tuple[tuple[str, str], ...]] = {}
        self.ignore: frozenset[str] = frozenset(spec[4])
        self.newline_types: frozenset[str] = frozenset(spec[5])
        self.unless: dict[str, dict[str, str]] = spec[6]
        self.ready = False
        self._own: re.Pattern[str] | None = None

    def build(self) -> None:
        """Compile the shared head and index the plain strings by their first character (Lark builds lazily too)."""
        shared, strings = self._spec[1], self._spec[3]
        self.shared = _compiled(shared) if shared else None
        by_first: dict[str, list[tuple[str, str]]] = {}
        for value, name in strings:
            by_first.setdefault(value[0], []).append((value, name))
        self.strings = {first: tuple(group) for first, group in by_first.items()}
        self.ready = True

    def own_match(self, text: str, pos: int) -> re.Match[str] | None:
        """This state's own head at `pos`: Lark's alternation up to its plain strings, compiled when first needed."""
        if self._own is None:
            if not self._spec[0]:
                return None
            self._own = _compiled(self._spec[0])
        return self._own.match(text, pos)


class _CompactParser:
    """Lark's LALR tables for the patched grammar, driven without Lark."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.states: dict[int, dict[str, int]] = data["states"]
        self.rules: list[tuple[str, int, str, bool, tuple[tuple[int, bool], ...] | None]] = data["rules"]
        self.start_states: dict[str, int] = data["start"]
        self.end_states: dict[str, int] = data["end"]
        scanners = [_Scanner(spec) for spec in data["scanners"]]
        self.lexers: dict[int, _Scanner] = {state: scanners[i] for state, i in data["lexers"].items()}

    def _lex(self, text: str, stack: list[int]) -> Iterator[_Token]:
        """Lark's ContextualLexer + BasicLexer.next_token: the state on top of the stack picks the terminals."""
        pos, line, line_start, end = 0, 1, 0, len(text)
        lexers = self.lexers
        while pos < end:
            scanner = lexers[stack[-1]]
            if not scanner.ready:
                scanner.build()
            match = scanner.shared.match(text, pos) if scanner.shared is not None else None
            if match is not None and match.lastgroup not in scanner.names:
                match = scanner.own_match(text, pos)  # a terminal this state does not take: ask its own head
            if match is not None:
                value: str = match.group(0)
                kind: str = match.lastgroup  # type: ignore[assignment]  # every alternative is a named group
            else:
                for value, kind in scanner.strings.get(text[pos], ()):  # noqa: B007 - the match found is used after the loop
                    if text.startswith(value, pos):
                        break
                else:
                    raise _Fallback
            start, first_line, column = pos, line, pos - line_start + 1
            if kind in scanner.newline_types:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if kind in scanner.ignore:
                continue
            token = _Token(value)
            unless = scanner.unless.get(kind)
            if unless is not None:
                kind = unless.get(value, kind)
            token.type, token.value = kind, value
            token.start_pos, token.line, token.column = start, first_line, column
            token.end_line, token.end_column, token.end_pos = line, pos - line_start + 1, pos
            yield token

    def parse(self, text: str, start: str) -> Any:
        """Lark's LALR_Parser.parse with the default tree builder; `_Fallback` where Lark would raise."""
        stack = [self.start_states[start]]
        tokens = NewlineFilter().process(self._lex(text, stack))
        return self._run(tokens, stack, self.end_states[start])

    def _run(self, tokens: Iterator[_Token], stack: list[int], end_state: int) -> Any:
        """Shift every token, reducing before each as the table says, then reduce at `$END` to the start rule.

        The hot loop: kept flat. Reductions follow Lark's ChildFilterLALR_NoPlaceholders /
        ExpandSingleChild / Tree chain.
        """
        states, rules, tree = self.states, self.rules, _Tree
        values: list[Any] = []
        push_state, push_value = stack.append, values.append
        for token in itertools.chain(tokens, (None,)):  # None: the end of input
            kind = "$END" if token is None else token.type
            while True:
                action = states[stack[-1]].get(kind)
                if action is None or (action >= 0 and token is None):
                    raise _Fallback
                if action >= 0:
                    push_state(action)
                    push_value(token)
                    break
                origin, size, name, expand1, include = rules[~action]
                if size == 1 and expand1 and include is None:
                    # `?rule: x` over one child: Lark's ExpandSingleChild hands the child back.
                    del stack[-1]
                    push_state(states[stack[-1]][origin])
                else:
                    if size:
                        children = values[-size:]
                        del stack[-size:]
                        del values[-size:]
                    else:
                        children = []
                    if include is not None:
                        filtered: list[Any] = []
                        for i, to_expand in include:
                            if to_expand:
                                if filtered:
                                    filtered += children[i].children
                                else:
                                    filtered = children[i].children
                            else:
                                filtered.append(children[i])
                        children = filtered
                    push_state(states[stack[-1]][origin])
                    push_value(children[0] if expand1 and len(children) == 1 else tree(name, children))
                if token is None and stack[-1] == end_state:
                    return values[-1]
        raise _Fallback  # not reached: the end of input either reduces to the start rule or fails above



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


def _tables_path() -> Path | None:
    """Where the exported tables live: `lalr/` in bakeplan's cache folder, named by grammar and versions."""
    base = user_cache_dir(os.environ)
    lark_spec = importlib.util.find_spec("lark")
    if base is None or lark_spec is None or lark_spec.origin is None:
        return None
    try:
        stat = Path(lark_spec.origin).stat()
    except OSError:
        return None
    key = f"{_TABLES_FORMAT}\0{sys.version}\0{stat.st_size}:{stat.st_mtime_ns}\0{patched_grammar()}".encode()
    return base / "lalr" / f"{_checksum(key).hex()}.marshal"


def _checksum(data: bytes) -> bytes:
    """8 bytes that change with `data`: CRC-32 and Adler-32 (zlib; hashlib would load OpenSSL, ~5 ms per run)."""
    return zlib.crc32(data).to_bytes(4, "big") + zlib.adler32(data).to_bytes(4, "big")


@functools.lru_cache(maxsize=1)
def compact_parser() -> _CompactParser | None:
    """The compact parser, from the exported tables (exported from Lark first when missing); None if unusable."""
    import marshal

    path = _tables_path()
    if path is None:
        return None
    try:
        stored = path.read_bytes()
        if _checksum(stored[8:]) == stored[:8]:
            return _CompactParser(marshal.loads(stored[8:]))
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: export again
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path.parent, os.W_OK):
        return None  # exporting on every run would cost more than Lark itself
    try:
        data = _export_tables(lark_parser())
    except Exception:  # noqa: BLE001 - _Fallback, or a Lark whose internals moved: parse with Lark itself
        return None
    try:
        payload = marshal.dumps(data)
        payload = _checksum(payload) + payload  # a damaged file is detected, not used
        write_atomic(path, payload)
    except (OSError, ValueError):  # unwritable cache, or data marshal cannot hold: just not stored
        pass
    return _CompactParser(data)


def _export_tables(lark: Any) -> dict[str, Any]:
    """Lark's parser as plain data; `_Fallback` when it is built in a way the compact loop does not mirror."""
    from lark.lexer import ContextualLexer
    from lark.parsers.lalr_analysis import Shift

    parser = lark.parser.parser.parser
    table = parser.parse_table
    if lark.lexer_conf.re_module is not re or lark.lexer_conf.g_regex_flags or lark.lexer_conf.use_bytes:
        raise _Fallback
    rule_index, rules = _export_rules(parser.callbacks)
    states: dict[int, dict[str, int]] = {}
    for state, actions in table.states.items():
        row: dict[str, int] = {}
        for symbol, (action, arg) in actions.items():
            row[str(symbol)] = int(arg) if action is Shift else ~rule_index[arg]
        states[int(state)] = row
    lexer = lark.parser.lexer
    contextual = getattr(lexer, "lexer", lexer)
    if not isinstance(contextual, ContextualLexer) or not isinstance(getattr(lexer, "postlexer", None), NewlineFilter):
        raise _Fallback
    scanners: list[tuple[Any, ...]] = []
    seen: dict[int, int] = {}
    lexers: dict[int, int] = {}
    for state, basic in contextual.lexers.items():
        if id(basic) not in seen:
            seen[id(basic)] = len(scanners)
            scanners.append(_export_scanner(basic))
        lexers[int(state)] = seen[id(basic)]
    return {
        "states": states,
        "rules": rules,
        "start": {str(k): int(v) for k, v in table.start_states.items()},
        "end": {str(k): int(v) for k, v in table.end_states.items()},
        "scanners": _share_heads(scanners),
        "lexers": lexers,
    }


def _export_rules(callbacks: dict[Any, Any]) -> tuple[dict[Any, int], list[tuple[str, int, str, bool, Any]]]:
    """Each rule's tree shaping (Lark's ChildFilterLALR_NoPlaceholders / ExpandSingleChild / Tree chain)."""
    from functools import partial

    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
    from lark.tree import Tree

    if any(isinstance(key, str) for key in callbacks):
        raise _Fallback  # terminal callbacks: the loop has none
    rule_index: dict[Any, int] = {}
    rules: list[tuple[str, int, str, bool, Any]] = []
    for rule, callback in callbacks.items():
        include: Any = None
        expand1 = False
        if isinstance(callback, ChildFilterLALR_NoPlaceholders):
            include = tuple((int(i), bool(e)) for i, e in callback.to_include)
            callback = callback.node_builder
        if isinstance(callback, ExpandSingleChild):
            expand1 = True
            callback = callback.node_builder
        if not (isinstance(callback, partial) and callback.func is Tree and len(callback.args) == 1 and not callback.keywords):
            raise _Fallback
        rule_index[rule] = len(rules)
        rules.append((str(rule.origin.name), len(rule.expansion), str(callback.args[0]), expand1, include))
    return rule_index, rules


def _export_scanner(basic: Any) -> tuple[Any, ...]:
    """One of Lark's BasicLexers as (head pattern, plain strings in order, ignored, newline, unless) data.

    The head is the alternation Lark compiles, cut after its last regular
    expression; the checks make sure that it is exactly Lark's alternation.
    """
    from lark.lexer import BasicLexer, PatternStr, UnlessCallback

    if type(basic) is not BasicLexer:
        raise _Fallback
    scanner = basic.scanner  # builds it, and basic.callback
    terminals = list(scanner.terminals)
    alternatives = [f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals]
    if "|".join(m.pattern for m in scanner._mres) != "|".join(alternatives):
        raise _Fallback
    cut = max((i + 1 for i, t in enumerate(terminals) if not _is_plain(t, PatternStr)), default=0)
    strings = [(str(t.pattern.value), str(t.name)) for t in terminals[cut:]]
    unless: dict[str, dict[str, str]] = {}
    for name, callback in basic.callback.items():
        if type(callback) is not UnlessCallback or name in basic.ignore_types:
            raise _Fallback
        keywords = callback.scanner.terminals
        if not all(_is_plain(t, PatternStr) for t in keywords):
            raise _Fallback
        words: dict[str, str] = {}
        for t in keywords:  # Lark's fullmatch: the first that equals the token wins
            words.setdefault(str(t.pattern.value), str(t.name))
        unless[str(name)] = words
    names = [str(t.name) for t in terminals[:cut]]
    return ("|".join(alternatives[:cut]), "", names, strings, sorted(basic.ignore_types), sorted(basic.newline_types),
            unless)


def _share_heads(scanners: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Give each scanner the widest head whose terminals include its own, in the same order.

    Lark sorts every state's terminals by the same key, so a wider head tries
    this state's terminals in this state's order: where it matches one of
    them, that is the state's own answer; where it matches another, the
    loop asks the state's own head. Fewer heads to compile (2 for most files).
    """
    heads = {tuple(spec[2]): spec[0] for spec in scanners}
    shared: list[tuple[Any, ...]] = []
    for own, _, names, *rest in scanners:
        wider = [h for h in heads if len(h) >= len(names) and [n for n in h if n in set(names)] == names]
        widest = max(wider, key=lambda h: (len(h), h))
        shared.append((own, heads[widest], names, *rest))
    return shared


def _is_plain(terminal: Any, pattern_str: Any) -> bool:
    """Whether a terminal is a plain string (no flags): it matches exactly where the text starts with it."""
    return type(terminal.pattern) is pattern_str and not terminal.pattern.flags and bool(terminal.pattern.value)
