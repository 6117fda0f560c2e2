"""Every cache lives in one folder: `$BAKEPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/bakeplan`, else `~/.cache/bakeplan`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeplan import buildhistory
from bakeplan.bake.files import _code_fingerprint
from bakeplan.fsutil import cache_home, user_cache_dir
from bakeplan.history import default_path

ROOT = Path(__file__).resolve().parent.parent
CACHEABLE = 'target "default" {\n  tags = ["me/app:${TAG}"]\n}\nvariable "TAG" {\n  default = "dev"\n}\n'
# timestamp() changes from run to run: the evaluation is never cached, the parse is.
UNCACHEABLE = 'target "default" {\n  args = { WHEN = timestamp() }\n}\n'


def test_the_cache_folder_is_the_first_variable_set() -> None:
    env = {"BAKEPLAN_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}
    assert cache_home(env) == "/c"
    assert cache_home({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == "/x/bakeplan"
    assert cache_home({"HOME": "/h"}) == "/h/.cache/bakeplan"
    assert user_cache_dir(env) == Path("/c")


def test_without_home_the_password_database_gives_the_home_folder() -> None:
    pwd = pytest.importorskip("pwd")
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert cache_home({}) == os.path.join(home, ".cache", "bakeplan")


def run_print(project: Path, env: dict[str, str]) -> None:
    """`bakeplan print` in its own process (the parser tables are read once per process)."""
    proc = subprocess.run([sys.executable, "-m", "bakeplan", "print"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_print_keeps_every_cache_under_BAKEPLAN_CACHE_DIR(tmp_path: Path) -> None:
    cache, xdg, home = tmp_path / "cache", tmp_path / "xdg", tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BAKEPLAN_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(xdg),
           "HOME": str(home)}
    env.pop("BAKEPLAN_NO_CACHE", None)
    for name, text in (("pure", CACHEABLE), ("impure", UNCACHEABLE)):
        project = tmp_path / name
        project.mkdir()
        (project / "docker-bake.hcl").write_text(text)
        run_print(project, env)
        run_print(project, env)
    assert list(cache.glob("eval/*/*.pickle")), "the evaluation cache"
    assert list(cache.glob("parse/*/*.pickle")), "the parse cache"
    assert not xdg.exists() and not home.exists()


def test_the_duration_history_and_the_build_records_live_under_BAKEPLAN_CACHE_DIR(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_path().parent == default_path(project=tmp_path).parent == tmp_path / "cache"
    record = json.dumps({"Status": "completed", "Duration": 2_000_000_000, "Ref": "r1"})
    remembered = buildhistory._remembered(lambda builder, ref, cwd: record)
    assert remembered("b", "r1", tmp_path) == record
    assert [p.parent for p in (tmp_path / "cache").rglob("*.json")] == [tmp_path / "cache" / "buildkit-records"]
    assert not (tmp_path / "xdg").exists()


def test_the_evaluation_cache_key_follows_the_modules_whose_objects_it_pickles(tmp_path: Path) -> None:
    for name in ("hcl/syntax.py", "bake/definition.py", "record.py", "errors.py", "cli/print_.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# v1\n")
    before = _code_fingerprint(str(tmp_path))
    (tmp_path / "cli/print_.py").write_text("# v2, longer\n")  # not a reading stage: same key
    assert _code_fingerprint(str(tmp_path)) == before
    for name in ("hcl/syntax.py", "bake/definition.py", "record.py", "errors.py"):
        (tmp_path / name).write_text(f"# {name} changed\n")
        changed = _code_fingerprint(str(tmp_path))
        assert changed != before, name
        before = changed
