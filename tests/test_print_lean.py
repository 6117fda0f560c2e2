"""`bakeplan print` of an edited ordinary file loads only what it uses: start-up time is most of a typical run.

A module that a typical file never needs (typer after its arguments were read
once, a stdlib function family, dataclasses' `inspect`, `tempfile` for a cache
write) costs every run milliseconds; these tests make a regression visible.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# An ordinary bake file: a variable, a group, inheritance, templates, a conditional, two common functions.
HCL = """\
variable "TAG" {
  default = "latest"
}
group "default" {
  targets = ["app", "worker"]
}
target "app" {
  context    = "."
  dockerfile = "Dockerfile"
  tags       = ["example/app:${TAG}", join("-", ["example/app", upper(TAG)])]
  args       = { VERSION = TAG == "latest" ? "dev" : TAG }
  platforms  = ["linux/amd64", "linux/arm64"]
}
target "worker" {
  inherits = ["app"]
  tags     = ["example/worker:${TAG}"]
}
"""
# Runs `bakeplan print` in-process as the console script does; the modules it loaded go to stderr, last line.
PROBE = "import sys\nfrom bakeplan.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n    print(*sorted(sys.modules), file=sys.stderr)"
# Each costs a typical run time (measured on a 2-core machine: typer+click ~45 ms, inspect ~10 ms,
# tempfile ~5 ms, hashlib and uuid ~3 ms each, platform ~3 ms) and none is needed by the file above.
UNNEEDED = [
    "typer", "click", "rich", "dataclasses", "inspect", "tokenize", "tempfile", "shutil", "random", "hashlib", "uuid",
    "platform", "datetime", "base64", "subprocess", "yaml", "regex", "lark",
    "bakeplan.bake.compose", "bakeplan.hcl.json",
    "bakeplan.hcl.functions.crypto", "bakeplan.hcl.functions.datetime", "bakeplan.hcl.functions.cidr",
    "bakeplan.hcl.functions.buildx", "bakeplan.hcl.functions.regex", "bakeplan.hcl.functions.format",
    "bakeplan.hcl.functions.encoding",
]  # fmt: skip


def loaded_modules(cwd: Path, cache: Path) -> set[str]:
    """The modules one `bakeplan print` in its own process had loaded when it ended."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache)}
    for name in ("BAKEPLAN_NO_CACHE", "BAKEPLAN_CACHE_DIR"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", PROBE, "print"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"example/app:latest"' in proc.stdout
    return set(proc.stderr.strip().splitlines()[-1].split())


@pytest.fixture
def edited_run(tmp_path: Path) -> set[str]:
    """The modules of a `print` after an edit: the arguments are known, the file must be read again."""
    project = tmp_path / "project"
    project.mkdir()
    bake_file = project / "docker-bake.hcl"
    bake_file.write_text(HCL)
    loaded_modules(project, tmp_path / "cache")
    bake_file.write_text(HCL + "# edited\n")
    return loaded_modules(project, tmp_path / "cache")


def test_printing_an_edited_file_reads_and_evaluates_it_again(edited_run: set[str]) -> None:
    assert {"bakeplan.bake.definition", "bakeplan.hcl.evaluate", "bakeplan.hcl.functions.strings"} <= edited_run


def test_printing_an_edited_ordinary_file_loads_none_of_the_modules_it_does_not_need(edited_run: set[str]) -> None:
    assert sorted(edited_run & set(UNNEEDED)) == []


def test_print_leaves_the_collector_on_with_what_it_kept_frozen(tmp_path: Path) -> None:
    # paused while it runs, frozen at the end: neither a pass over the run's objects nor the exit's last collection scans them
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    probe = "import gc\nfrom bakeplan.cli import main\nmain(['print'])\nprint(gc.isenabled(), gc.get_freeze_count() > 0)"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BAKEPLAN_NO_CACHE": "1"}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True True"
