"""Lark's LALR tables for the patched grammar as plain data: shipped with bakeplan, else exported once per cache folder.

Building Lark's parser costs 1-3 s (a second or so even from Lark's own
cache), so the tables the compact loop (`bakeplan.hcl.native.lalr`) drives
come from `lalr_tables.marshal` beside this module: exported from Lark by

    python -m bakeplan.hcl.native.tables      (make lalr-tables)

and committed. That file is keyed by the patched grammar (python-hcl2's
grammar file and our patches, `grammar.patched_grammar`) and Lark's version;
where either differs from the installed ones, the tables are exported from
Lark into the cache folder's `lalr/` (`bakeplan.fsutil.user_cache_dir`),
keyed also by Python's version and Lark's file, as before there were shipped
tables. tests/test_lalr_tables.py regenerates the tables and compares them to
the shipped file, so the two cannot drift apart.

Lark numbers its parser states in an order that follows Python's string
hashing (different in every process), so the export renumbers them in a
fixed order (breadth first from the start states, symbols sorted): the same
grammar and Lark give the same file. It is plain data, the same for every
Python, so Python's version is not part of the shipped key (a file marshal
cannot read is not used). Each state's row is marshalled apart, so a run
decodes only the rows its parse reaches: loading the file costs ~1 ms where
decoding all of it cost ~4 ms. marshal holds no code; a checksum detects a
damaged file, which is not used either.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Any

from bakeplan.fsutil import write_atomic

SHIPPED = Path(__file__).with_name("lalr_tables.marshal")
REGENERATE = "python -m bakeplan.hcl.native.tables (make lalr-tables)"

# The layout of the data below and of the file; part of every key.
_FORMAT = "7"


class Unmirrored(Exception):
    """Lark built its parser in a way the compact loop does not mirror: parse with Lark itself."""


# -- keys and files


def shipped_key(grammar: str, lark_version: str) -> bytes:
    """The key of the shipped tables: what they are built from (the grammar and Lark's version)."""
    return checksum(f"{_FORMAT}\0lark {lark_version}\0{grammar}".encode())


def cache_key(grammar: str, lark_file: Path) -> bytes | None:
    """The key of tables exported into the cache folder: also Python's version and Lark's file (size, time)."""
    try:
        stat = lark_file.stat()
    except OSError:
        return None
    return checksum(f"{_FORMAT}\0{sys.version}\0{stat.st_size}:{stat.st_mtime_ns}\0{grammar}".encode())


def lark_version(lark_file: Path) -> str | None:
    """Lark's `__version__`, read from its `__init__.py` without importing Lark (~0.2 s)."""
    try:
        text = lark_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():  # `__version__: str = "1.3.1"`; no regular expression to compile on every run
        name, equals, value = line.partition("=")
        if equals and name.split(":")[0].strip() == "__version__":
            return value.strip().strip("\"'") or None
    return None


def checksum(data: bytes) -> bytes:
    """8 bytes that change with `data`: CRC-32 and Adler-32 (zlib; hashlib would load OpenSSL, ~5 ms per run)."""
    return zlib.crc32(data).to_bytes(4, "big") + zlib.adler32(data).to_bytes(4, "big")


def encode(data: dict[str, Any], key: bytes) -> bytes:
    """A tables file: the key, a checksum of the payload, the payload (marshal).

    Each state's row is marshalled on its own, so that a run decodes only the
    rows its parse reaches (`lalr._Rows`): decoding all 1,027 rows cost ~3.5 ms.
    """
    payload = marshal.dumps(stored_form(data))
    return key + checksum(payload) + payload


def stored_form(data: dict[str, Any]) -> dict[str, Any]:
    """The tables as a file holds them and `read` returns them: each state's row marshalled on its own."""
    return {**data, "states": [row if isinstance(row, bytes) else marshal.dumps(row) for row in data["states"]]}


def read(path: Path, key: bytes) -> dict[str, Any] | None:
    """The tables in `path` if it holds tables of this `key`, undamaged; else None."""
    try:
        stored = path.read_bytes()
    except OSError:
        return None
    if stored[:8] != key or checksum(stored[16:]) != stored[8:16]:
        return None
    try:
        data: dict[str, Any] = marshal.loads(stored[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return data


def export_into(path: Path, key: bytes) -> dict[str, Any] | None:
    """Export the tables from Lark and store them in `path` (a cache file); None where Lark's parser is not mirrored."""
    from bakeplan.hcl.native.grammar import lark_parser

    try:
        data = stored_form(export(lark_parser()))
    except Exception:  # noqa: BLE001 - Unmirrored, or a Lark whose internals moved: parse with Lark itself
        return None
    try:
        write_atomic(path, encode(data, key))
    except (OSError, ValueError):  # unwritable cache, or data marshal cannot hold: just not stored
        pass
    return data


def load(grammar: str, lark_file: Path, *, shipped: Path, cache: Path | None) -> dict[str, Any] | None:
    """The tables in `shipped` if they were built from this grammar and Lark, else the cache folder's (exported once).

    None when there are neither: no cache folder, one we cannot write
    (exporting on every run would cost more than Lark itself), or a Lark
    whose parser the compact loop does not mirror.
    """
    version = lark_version(lark_file)
    if version is not None:
        data = read(shipped, shipped_key(grammar, version))
        if data is not None:
            return data
    key = cache_key(grammar, lark_file)
    if cache is None or key is None:
        return None
    path = cache / "lalr" / f"{key.hex()}.marshal"
    data = read(path, key)
    if data is not None:
        return data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path.parent, os.W_OK):
        return None
    return export_into(path, key)


# -- exporting Lark's parser


def export(lark: Any) -> dict[str, Any]:
    """Lark's parser as plain data, states numbered in a fixed order; `Unmirrored` when the compact loop cannot follow it.

    `states[s]` maps a symbol to a shifted or goto state (>= 0) or to `~rule`;
    `lexers[s]` is the index of state s's scanner in `scanners`, each of which
    names its shared head in `heads` (`_share_heads`).
    """
    from lark.lexer import ContextualLexer
    from lark.parsers.lalr_analysis import Shift

    from bakeplan.hcl.native.grammar import NewlineFilter

    parser = lark.parser.parser.parser
    table = parser.parse_table
    if lark.lexer_conf.re_module is not re or lark.lexer_conf.g_regex_flags or lark.lexer_conf.use_bytes:
        raise Unmirrored
    rule_index, rules = _export_rules(parser.callbacks)
    states: dict[int, dict[str, int]] = {}
    for state, actions in table.states.items():
        states[int(state)] = {str(symbol): int(arg) if action is Shift else ~rule_index[arg] for symbol, (action, arg) in actions.items()}
    lexer = lark.parser.lexer
    contextual = getattr(lexer, "lexer", lexer)
    if not isinstance(contextual, ContextualLexer) or not isinstance(getattr(lexer, "postlexer", None), NewlineFilter):
        raise Unmirrored
    start = {str(k): int(v) for k, v in table.start_states.items()}
    order = _state_order(states, start)
    scanners: list[tuple[Any, ...]] = []
    seen: dict[int, int] = {}
    lexers: list[int] = []
    for state in order:
        basic = contextual.lexers[state]
        if id(basic) not in seen:
            seen[id(basic)] = len(scanners)
            scanners.append(_export_scanner(basic))
        lexers.append(seen[id(basic)])
    number = {state: i for i, state in enumerate(order)}
    specs, heads = _share_heads(scanners)
    return {
        "states": [{symbol: number[a] if a >= 0 else a for symbol, a in sorted(states[s].items())} for s in order],
        "rules": rules,
        "start": {name: number[s] for name, s in sorted(start.items())},
        "end": {str(k): number[int(v)] for k, v in sorted(table.end_states.items())},
        "scanners": specs,
        "heads": heads,
        "lexers": lexers,
    }


def _state_order(states: dict[int, dict[str, int]], start: dict[str, int]) -> list[int]:
    """Every state, breadth first from the start states (by name), each state's successors by symbol."""
    order = [start[name] for name in sorted(start)]
    placed = set(order)
    for state in order:  # grows while it is read
        for _, target in sorted(states[state].items()):
            if target >= 0 and target not in placed:
                placed.add(target)
                order.append(target)
    if len(order) != len(states):
        raise Unmirrored  # a state no start state reaches: not a table Lark builds
    return order


def _export_rules(callbacks: dict[Any, Any]) -> tuple[dict[Any, int], list[tuple[str, int, str, bool, Any]]]:
    """Each rule's tree shaping (Lark's ChildFilterLALR_NoPlaceholders / ExpandSingleChild / Tree chain)."""
    from functools import partial

    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
    from lark.tree import Tree

    if any(isinstance(key, str) for key in callbacks):
        raise Unmirrored  # terminal callbacks: the loop has none
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
            raise Unmirrored
        rule_index[rule] = len(rules)
        rules.append((str(rule.origin.name), len(rule.expansion), str(callback.args[0]), expand1, include))
    return rule_index, rules


def _export_scanner(basic: Any) -> tuple[Any, ...]:
    """One of Lark's BasicLexers as (head alternatives, head names, plain strings, ignored, newline, unless).

    The head is the alternation Lark compiles, cut after its last regular
    expression; the checks make sure that it is exactly Lark's alternation.
    """
    from lark.lexer import BasicLexer, PatternStr, UnlessCallback

    if type(basic) is not BasicLexer:
        raise Unmirrored
    scanner = basic.scanner  # builds it, and basic.callback
    terminals = list(scanner.terminals)
    alternatives = [f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals]
    if "|".join(m.pattern for m in scanner._mres) != "|".join(alternatives):
        raise Unmirrored
    cut = max((i + 1 for i, t in enumerate(terminals) if not _is_plain(t, PatternStr)), default=0)
    strings = [(str(t.pattern.value), str(t.name)) for t in terminals[cut:]]
    unless: dict[str, dict[str, str]] = {}
    for name, callback in sorted(basic.callback.items()):
        if type(callback) is not UnlessCallback or name in basic.ignore_types:
            raise Unmirrored
        keywords = callback.scanner.terminals
        if not all(_is_plain(t, PatternStr) for t in keywords):
            raise Unmirrored
        words: dict[str, str] = {}
        for t in keywords:  # Lark's fullmatch: the first that equals the token wins
            words.setdefault(str(t.pattern.value), str(t.name))
        unless[str(name)] = dict(sorted(words.items()))
    names = [str(t.name) for t in terminals[:cut]]
    return (tuple(alternatives[:cut]), names, strings, sorted(basic.ignore_types), sorted(basic.newline_types), unless)


def _share_heads(scanners: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[tuple[str, list[tuple[str, str]]]]]:
    """Give each scanner the widest head whose terminals include its own, in the same order.

    Lark sorts every state's terminals by the same key, so a wider head tries
    this state's terminals in this state's order: where it matches one of
    them, that is the state's own answer; where it matches another, the
    loop asks the state's own head. Fewer heads to compile (2 for most files).
    Returns the scanners as (own head, index of the shared head or -1, names,
    plain strings, ignored, newline, unless) and the shared heads as (pattern,
    `firstchars.dispatch`).
    """
    from bakeplan.hcl.native.firstchars import dispatch

    heads = {tuple(spec[1]): spec[0] for spec in scanners}
    shared: list[tuple[Any, ...]] = []
    index: dict[tuple[str, ...], int] = {}
    for alternatives, names, *rest in scanners:
        wider = [h for h in heads if len(h) >= len(names) and [n for n in h if n in set(names)] == names]
        widest = heads[max(wider, key=lambda h: (len(h), h))]
        at = index.setdefault(widest, len(index)) if widest else -1
        shared.append(("|".join(alternatives), at, names, *rest))
    return shared, [("|".join(alternatives), dispatch(alternatives)) for alternatives in index]


def _is_plain(terminal: Any, pattern_str: Any) -> bool:
    """Whether a terminal is a plain string (no flags): it matches exactly where the text starts with it."""
    return type(terminal.pattern) is pattern_str and not terminal.pattern.flags and bool(terminal.pattern.value)


# -- the shipped file


def installed_key() -> bytes | None:
    """`shipped_key` of the installed python-hcl2 grammar and Lark; None without Lark."""
    import importlib.util

    from bakeplan.hcl.native.grammar import patched_grammar

    spec = importlib.util.find_spec("lark")
    version = None if spec is None or spec.origin is None else lark_version(Path(spec.origin))
    return None if version is None else shipped_key(patched_grammar(), version)


def regenerated() -> bytes:
    """The shipped file's bytes as the installed grammar and Lark give them."""
    from bakeplan.hcl.native.grammar import lark_parser

    key = installed_key()
    if key is None:
        raise RuntimeError("Lark is not installed")
    return encode(export(lark_parser()), key)


def main() -> None:
    """Write `lalr_tables.marshal` from the installed grammar and Lark."""
    SHIPPED.write_bytes(regenerated())
    print(f"wrote {SHIPPED} ({SHIPPED.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
