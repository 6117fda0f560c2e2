"""The LALR tables bakeplan ships: what Lark builds today, used when they fit, else exported into the cache folder."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bakeplan.hcl.native import firstchars, lalr, tables
from bakeplan.hcl.native.grammar import lark_parser, patched_grammar
from bench.print_bench import big_file
from tests.support.tools import ROOT

LARK_FILE = Path(str(getattr(importlib.util.find_spec("lark"), "origin", "")))


def other_lark(folder: Path, version: str) -> Path:
    """A stand-in for Lark's `__init__.py` that says another version."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "__init__.py"
    path.write_text(f'__version__: str = "{version}"\n')
    return path


def shipped_data() -> dict[str, object]:
    key = tables.installed_key()
    assert key is not None
    data = tables.read(tables.SHIPPED, key)
    assert data is not None, f"the shipped tables are not those of the installed grammar and Lark; regenerate: {tables.REGENERATE}"
    return data


@pytest.mark.parametrize("seed", ["0", "1"])
def test_the_shipped_tables_are_what_lark_builds_from_the_installed_grammar(seed: str) -> None:
    # Any hash seed: Lark numbers its states in hash order, the export renumbers them.
    script = "import sys; from bakeplan.hcl.native import tables; sys.stdout.buffer.write(tables.regenerated())"
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == tables.SHIPPED.read_bytes(), f"{tables.SHIPPED.name} differs from Lark's tables; regenerate: {tables.REGENERATE}"


def test_lark_version_is_read_without_importing_lark() -> None:
    import lark

    assert tables.lark_version(LARK_FILE) == lark.__version__
    assert tables.lark_version(LARK_FILE.with_name("no-such-file.py")) is None


def test_matching_shipped_tables_are_used_and_nothing_is_exported(tmp_path: Path) -> None:
    data = tables.load(patched_grammar(), LARK_FILE, shipped=tables.SHIPPED, cache=tmp_path)
    assert data == shipped_data()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change", ["grammar", "lark version"])
def test_tables_of_another_grammar_or_lark_are_exported_into_the_cache_folder(tmp_path: Path, change: str) -> None:
    grammar = patched_grammar() + ("\n// another grammar\n" if change == "grammar" else "")
    lark_file = other_lark(tmp_path / "lark", "0.0.1") if change == "lark version" else LARK_FILE
    cache = tmp_path / "cache"
    data = tables.load(grammar, lark_file, shipped=tables.SHIPPED, cache=cache)
    (exported,) = cache.glob("lalr/*.marshal")
    key = tables.cache_key(grammar, lark_file)
    assert key is not None and exported.name == f"{key.hex()}.marshal"
    assert data == tables.read(exported, key) == shipped_data()  # the installed Lark built both


def test_without_matching_shipped_tables_or_a_cache_folder_the_parser_is_lark(tmp_path: Path) -> None:
    lark_file = other_lark(tmp_path / "lark", "0.0.1")
    assert tables.load(patched_grammar(), lark_file, shipped=tables.SHIPPED, cache=None) is None


def damaged(good: bytes, how: str) -> bytes:
    middle = len(good) // 2
    return good[:middle] + bytes(64) + good[middle + 64 :] if how == "bytes" else good[:middle]


@pytest.mark.parametrize("how", ["bytes", "truncated"])
def test_damaged_tables_are_not_used(tmp_path: Path, how: str) -> None:
    shipped = tmp_path / "lalr_tables.marshal"
    shipped.write_bytes(damaged(tables.SHIPPED.read_bytes(), how))
    key = tables.installed_key()
    assert key is not None and tables.read(shipped, key) is None
    cache = tmp_path / "cache"
    assert tables.load(patched_grammar(), LARK_FILE, shipped=shipped, cache=cache) == shipped_data()
    (exported,) = cache.glob("lalr/*.marshal")
    good = exported.read_bytes()
    exported.write_bytes(damaged(good, how))  # damaged in the cache folder too: exported again
    assert tables.load(patched_grammar(), LARK_FILE, shipped=shipped, cache=cache) == shipped_data()
    assert exported.read_bytes() == good


def test_the_parser_from_the_shipped_tables_parses(tmp_path: Path) -> None:
    data = tables.load(patched_grammar(), LARK_FILE, shipped=tables.SHIPPED, cache=None)
    assert data is not None
    tree = lalr._CompactParser(data).parse('target "a" {\n  tags = ["x:${y}"]\n}\n', "start")
    assert tree.data == "start"


def test_print_in_a_fresh_cache_folder_builds_no_parser(tmp_path: Path) -> None:
    project, cache = tmp_path / "project", tmp_path / "cache"
    project.mkdir()
    (project / "docker-bake.hcl").write_text('target "app" {\n  tags = ["a:${1 + 1}"]\n}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BAKEPLAN_CACHE_DIR": str(cache)}
    env.pop("BAKEPLAN_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-m", "bakeplan", "print", "app"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert '"a:2"' in done.stdout
    assert cache.is_dir() and not (cache / "lalr").exists() and not (cache / "lark-grammar.cache").exists()


def shape(node: Any) -> object:
    """A parse tree as plain data: each rule's name and children, each token with every field Lark gives it."""
    if isinstance(node, str):
        fields = ("type", "start_pos", "line", "column", "end_line", "end_column", "end_pos")
        return (str(node), str(node.value), *(getattr(node, f) for f in fields))
    return (node.data, [shape(child) for child in node.children])


def corpus_sources(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*/*.hcl"))


def test_the_compact_loop_builds_lark_s_tree_token_for_token(corpus_dir: Path) -> None:
    fast = lalr.compact_parser()
    assert fast is not None
    sources = [p.read_text(encoding="utf-8-sig") for p in corpus_sources(corpus_dir)] + [big_file(40)]
    assert len(sources) > 40
    for text in sources:
        text = text if text.endswith("\n") else text + "\n"
        assert shape(fast.parse(text, "start")) == shape(lark_parser().parse(text, start="start"))


@pytest.mark.parametrize("source", ["a.b[0] + f(x...) * -2\n", "{ for k, v in m : k => v if v != null }", '"${a}:%{ if b }c%{ endif }"'])
def test_the_compact_loop_builds_lark_s_expression_tree(source: str) -> None:
    fast = lalr.compact_parser()
    assert fast is not None
    assert shape(fast.parse(source, "expression")) == shape(lark_parser().parse(source, start="expression"))


@pytest.mark.parametrize(
    ("source", "start"),
    [("x = 1 +\n", "start"), ('target "a" {\n', "start"), ("x = )\n", "start"), ("= 1\n", "start"), ('a = "\n', "start"),
     ("a )", "expression"), ("a b", "expression"), ("", "expression")],
)
def test_input_the_compact_loop_rejects_is_left_to_lark(source: str, start: str) -> None:
    fast = lalr.compact_parser()
    assert fast is not None
    with pytest.raises(lalr._Fallback):
        fast.parse(source, start)
    with pytest.raises(Exception, match="Unexpected"):
        lark_parser().parse(source, start=start)


@pytest.mark.parametrize(
    ("pattern", "first"),
    [
        ("[a-c]+", "abc"),
        ("(?:ab|c)d", "ac"),
        ("x?y", "xy"),
        ("(?!==)[ \t]*=", " \t="),
        (r"\d|-", "-0123456789"),
        ("(?P<h>[ab])(?P=h)", "ab"),
        ("//.*\n|#", "/#"),
    ],
)
def test_first_chars_of_a_pattern(pattern: str, first: str) -> None:
    assert firstchars.first_chars(pattern) == frozenset(first)


@pytest.mark.parametrize("pattern", ["a*", "(?i:a)", "(?:x|)", r"(a)?\1b"])
def test_first_chars_unknown_or_possibly_empty(pattern: str) -> None:
    assert firstchars.first_chars(pattern) is None


def test_first_chars_of_a_negated_set_are_every_other_character() -> None:
    found = firstchars.first_chars("[^a\\s]")
    assert found is not None and "a" not in found and " " not in found and {"b", "{", "0"} <= found


def test_each_head_matches_by_first_character_as_the_whole_alternation(corpus_dir: Path) -> None:
    text = "".join(p.read_text(encoding="utf-8-sig") for p in corpus_sources(corpus_dir)[:30]) + big_file(3) + "é\x00"
    heads = shipped_data()["heads"]
    assert isinstance(heads, list) and heads
    for pattern, smaller in heads:
        full = re.compile(pattern)
        by_char = {char: re.compile(sub) if sub else None for chars, sub in smaller for char in chars}
        for pos in range(len(text)):
            if text[pos] not in by_char:
                continue
            expected = full.match(text, pos)
            fast = by_char[text[pos]]
            found = fast.match(text, pos) if fast is not None else None
            assert (found and (found.lastgroup, found.end())) == (expected and (expected.lastgroup, expected.end())), (pattern, pos)
