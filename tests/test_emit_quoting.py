"""Quoted commas in `bakeplan ci` output: each leg's `--set` means to buildx what the bake file says.

buildx reads output, cache and secret entries as CSV (util/buildflags, go-csvvalue), so
`type=local,"dest=out,x"` is a local export to the folder `out,x`. A leg that gives
the export its per-platform folder must quote it again, or buildx would read `x/linux_amd64"`
as a field of its own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import Target
from bakeplan.cli import main
from bakeplan.emit.source import inputs_of

BAKE = """
target "site" {
  platforms = ["linux/amd64", "linux/arm64"]
  output = ["type=local,\\"dest=out,x\\""]
  cache-to = ["type=local,\\"dest=cache,x\\""]
  secret = ["id=s,\\"src=a,b\\""]
}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "a,b").write_text("secret\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    return tmp_path


def printed(buildx: Any, cwd: Path, *args: str) -> dict[str, Any]:
    """`docker buildx bake --print ARGS...` as JSON."""
    done = subprocess.run(buildx.argv("bake", "--print", *args), cwd=cwd, env=buildx.env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert isinstance(document, dict)
    return document


@pytest.mark.buildx
def test_each_legs_sets_keep_a_quoted_comma_in_the_export_folder(
    each_buildx: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = printed(each_buildx, project, "site")["target"]["site"]
    assert whole["output"] == [{"type": "local", "dest": "out,x"}]
    main(["ci", "github", "site"])
    rows = json.loads(capsys.readouterr().out)["include"]
    assert [row["platform"] for row in rows] == ["linux/amd64", "linux/arm64"]
    for row in rows:
        sets = [x for line in row["set"].splitlines() for x in ("--set", line)]
        own = printed(each_buildx, project, *sets, "site")["target"]["site"]
        assert own["output"] == [{"type": "local", "dest": f"out,x/{row['platform'].replace('/', '_')}"}]
        assert own["secret"] == whole["secret"] == [{"id": "s", "src": "a,b"}]
        assert {"type": "local", "dest": "cache,x"} in own["cache-to"]


def test_a_secret_written_as_csv_text_reads_its_quoted_source_whole() -> None:
    inputs = inputs_of(Target("site", {"secret": ['id=s,"src=a,b"', "id=t,type=env,env=T"]}))
    assert inputs.files == ("Dockerfile.dockerignore", "a,b")
