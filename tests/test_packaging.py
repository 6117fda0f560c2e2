"""bakeplan as a Python distribution: `python -m build` without warnings, `twine check --strict` clean.

Generated workflows install bakeplan by an exact version, a wheel in the
repository or a VCS URL at a commit (`bakeplan.emit.install`): each of them
is this distribution, so it must build cleanly and carry complete metadata.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import bakeplan
from tests.support.tools import ROOT, missing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel, built from a copy of the source (the tree stays clean)."""
    for module in ("build", "twine"):
        if importlib.util.find_spec(module) is None:
            missing(f"{module} (the `test` extra: pip install -e '.[test]')")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "bakeplan", source / "bakeplan", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else distutils notes it
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    noise = [line for line in (done.stdout + done.stderr).splitlines() if "warning" in line.lower()]
    assert noise == []  # no setuptools deprecation (license table, classifiers, ...) or other warnings
    return out


def test_the_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    version = bakeplan.__version__
    assert names == [f"bakeplan-{version}-py3-none-any.whl", f"bakeplan-{version}.tar.gz"]
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_holds_the_package_its_data_and_the_command(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"bakeplan-{bakeplan.__version__}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bakeplan").rglob("*.py")}
    assert sources <= names and "bakeplan/py.typed" in names
    assert {p.relative_to(ROOT).as_posix() for p in (ROOT / "bakeplan" / "render").glob("*.json")} <= names
    assert "bakeplan/hcl/native/lalr_tables.marshal" in names  # the parser tables (bakeplan.hcl.native.tables)
    assert not any(name.startswith("tests/") for name in names)
    assert "bakeplan = bakeplan.cli:main" in entry_points
    assert metadata["Name"] == "bakeplan" and metadata["Version"] == bakeplan.__version__
    assert metadata["License-Expression"] == "Apache-2.0" and metadata["Requires-Python"] == ">=3.11"
    assert metadata["Description-Content-Type"] == "text/markdown" and metadata.get_payload().startswith("# bakeplan")
    assert metadata.get_all("Classifier") and metadata.get_all("Requires-Dist")


def test_pipx_installs_the_wheel_and_its_command_reads_a_bake_file(dist: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("pipx") is None:
        missing("pipx (the `test` extra: pip install -e '.[test]')")
    [wheel] = dist.glob("*.whl")
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "pipx", "install", "--python", sys.executable, str(wheel)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "docker-bake.hcl").write_text('target "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n')
    command = tmp_path / "bin" / "bakeplan"
    version = subprocess.run([str(command), "--version"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and bakeplan.__version__ in version.stdout, version.stdout + version.stderr
    printed = subprocess.run([str(command), "print", "app"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=60, check=False)
    assert printed.returncode == 0, printed.stderr
    assert '"platforms": [\n        "linux/amd64",\n        "linux/arm64"\n      ]' in printed.stdout
