"""Docker memory sizes (go-units RAMInBytes): one parser for shm-size, resources and compose, read as buildx reads them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import render
from bakeplan.bake.resolve import load
from bakeplan.bake.units import SizeError, ram_in_bytes
from bakeplan.errors import BakeplanError


@pytest.mark.parametrize(("text", "size"), [
    ("1024", 1024), ("1b", 1), ("2k", 2048), ("1kb", 1024), ("1KiB", 1024), ("1.5g", 3 << 29),
    ("1 g", 1 << 30), ("1e3", 1000), (".5k", 512), ("5.", 5), ("+1m", 1 << 20), ("-0", 0), ("1p", 1 << 50),
])
def test_sizes(text: str, size: int) -> None:
    assert ram_in_bytes(text) == size


@pytest.mark.parametrize(("text", "message"), [
    ("", "invalid size: ''"), ("B", "invalid size: 'B'"), ("-1", "invalid size: '-1'"), ("inf", "invalid size: 'inf'"),
    ("1x", "invalid suffix: 'x'"), ("1kbb", "invalid suffix: 'kbb'"), ("1gi", "invalid suffix: 'gi'"), ("1e", "invalid suffix: 'e'"),
    ("1.5.5", 'strconv.ParseFloat: parsing "1.5.5": invalid syntax'), ("1  g", 'strconv.ParseFloat: parsing "1 ": invalid syntax'),
    ("0x10", 'strconv.ParseFloat: parsing "0x10": invalid syntax'), ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
])
def test_what_go_units_refuses_says_what_it_says(text: str, message: str) -> None:
    with pytest.raises(SizeError) as caught:
        ram_in_bytes(text)
    assert str(caught.value) == message


LIVE = [" 1g", "1  g", "1e3g", "0x10", ".5g", "1_0g", "1kib", "1kbb", "1bb", "B", "1ib", "1x", "1X", "+1g", "-1", "1.5.5",
        "inf", "1,5g", "\uff11g", "", "1pb", "1e", "1e400"]


def _print(cwd: Path, buildx: Any | None) -> tuple[bool, str]:
    """(ok, output or the error after buildx's prefix) from buildx, or from bakeplan when `buildx` is None."""
    if buildx is None:
        try:
            return True, render(load(BakeRequest(env={}, cwd=cwd)))
        except BakeplanError as error:
            return False, error.message
    done = subprocess.run(buildx.argv("bake", "--print"), cwd=cwd, env=buildx.env, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr.strip().splitlines()[-1].removeprefix("ERROR: ")


@pytest.mark.buildx
@pytest.mark.parametrize("key", ["memory", "memory-swap", "shm-size"])
@pytest.mark.parametrize("value", LIVE)
def test_sizes_in_bake_files_read_like_buildx(tmp_path: Path, buildx: Any, key: str, value: str) -> None:
    field = f'shm-size = {json.dumps(value)}' if key == "shm-size" else f'resources = {{\n    {key} = {json.dumps(value)}\n  }}'
    (tmp_path / "docker-bake.hcl").write_text(f'target "default" {{\n  {field}\n}}\n')
    assert _print(tmp_path, None) == _print(tmp_path, buildx)
