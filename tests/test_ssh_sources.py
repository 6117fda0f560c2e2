"""ssh sources are checked by `--print` as buildx checks them (BuildKit's agent config), with its messages."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import render
from bakeplan.bake.resolve import load
from bakeplan.errors import BakeplanError

CASES = {
    "an id and a missing key file": (["mykey=/nonexistent"], ""),
    "the default id and a missing key file": (["default=/nonexistent"], ""),
    "two paths, the first missing": (["k=/nonexistent,/also"], ""),
    "no path and no agent": (["default"], ""),
    "no path and an agent socket that is gone": (["default"], "/nonexistent.sock"),
    "a key file that is not a key": (["k=docker-bake.hcl"], ""),
}


def _print(cwd: Path, env: dict[str, str], buildx: Any | None) -> tuple[bool, str]:
    if buildx is None:
        try:
            return True, render(load(BakeRequest(env=env, cwd=cwd)))
        except BakeplanError as error:
            return False, error.message
    done = subprocess.run(buildx.argv("bake", "--print"), cwd=cwd, env={**buildx.env, **env}, capture_output=True, text=True,
                          timeout=60, check=False)
    return done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr.strip().splitlines()[-1].removeprefix("ERROR: ")


@pytest.mark.buildx
@pytest.mark.parametrize("case", CASES)
def test_ssh_sources_fail_like_buildx(tmp_path: Path, buildx: Any, case: str) -> None:
    entries, agent = CASES[case]
    listed = ", ".join(f'"{entry}"' for entry in entries)
    (tmp_path / "docker-bake.hcl").write_text(f'target "default" {{\n  ssh = [{listed}]\n}}\n')
    env = {"SSH_AUTH_SOCK": agent}
    ours = _print(tmp_path, env, None)
    assert not ours[0]
    assert ours == _print(tmp_path, env, buildx)
