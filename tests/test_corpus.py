"""All 75 real-world bake files of ../shared/corpus/bake against what real buildx printed.

Comparison as the corpus README says: every group's `targets` compared sorted
(buildx orders a matrix's group at random), `timestamp()` values masked. An
`expected.err` case must fail with a clear BakeplanError naming the same
`file:line` as buildx.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import marshal_indent, render
from bakeplan.errors import BakeplanError

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "bake"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "CASE.json").is_file()) if CORPUS.is_dir() else []
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})|(?<!\d)(19|20)\d{6}(\d{4}(\d{2})?)?(?!\d)")
_ERROR_AT = re.compile(r"ERROR: ([^\s:]+):(\d+)")


def _normalized(text: str) -> str:
    """Groups' target lists sorted, timestamps masked, re-marshalled in the document's own key order."""
    doc: dict[str, Any] = json.loads(_TIMESTAMP.sub("<time>", text))
    for group in doc.get("group", {}).values():
        group["targets"] = sorted(group["targets"])
    return marshal_indent(doc)


def _request(case_dir: Path) -> BakeRequest:
    case = json.loads((case_dir / "CASE.json").read_text())
    return BakeRequest(names=tuple(case["targets"]), files=tuple(case["files"]), env=dict(case["env"]), cwd=case_dir)


def _load(case_dir: Path) -> str:
    from bakeplan.bake.resolve import load

    return render(load(_request(case_dir)))


def test_the_corpus_is_complete(corpus_dir: Path) -> None:
    assert len(CASES) == 75


@pytest.mark.parametrize("case", CASES)
def test_print_matches_buildx(case: str, corpus_dir: Path) -> None:
    case_dir = corpus_dir / case
    expected_err = case_dir / "expected.err"
    if expected_err.is_file():
        with pytest.raises(BakeplanError) as info:
            _load(case_dir)
        match = _ERROR_AT.search(expected_err.read_text())
        if match:
            assert f"{match.group(1)}:{match.group(2)}:" in str(info.value)
        return
    expected = (case_dir / "expected.json").read_text()
    assert _normalized(_load(case_dir)) == _normalized(expected)


@pytest.mark.parametrize("case", [c for c in CASES if (CORPUS / c / "expected.json").is_file()])
def test_json_writer_reproduces_buildx_bytes(case: str, corpus_dir: Path) -> None:
    """Go's MarshalIndent and escaping, checked on every real --print output."""
    expected = (corpus_dir / case / "expected.json").read_text()
    assert marshal_indent(json.loads(expected)) + "\n" == expected
