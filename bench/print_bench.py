"""`bakeplan print` beside `docker buildx bake --print`, measured in the same run.

Rows: a 3-key matrix of 1,600 / 3,200 / 6,400 / 12,800 targets (no caches); a
~660 KB file of 1,000 targets and the median over the shared corpus, each as a
first run (nothing cached for the file), after an edit (the file changed since
the same command line last ran) and as a repeat run (replayed). Every figure is
the wall time of the whole command (process start included).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "bake"
MATRIX_SIZES = (1600, 3200, 6400, 12800)


def matrix_file(targets: int) -> str:
    """A small bake file whose 3-key matrix expands to `targets` targets (16 x 10 x n; under 160, n x 10 x 1)."""
    first, third = (16, targets // 160) if targets >= 160 else (max(1, targets // 10), 1)
    a_values = ", ".join(f'"a{i}"' for i in range(first))
    b_values = ", ".join(str(i) for i in range(10))
    c_values = ", ".join(f'"c{i}"' for i in range(third))
    return (
        'variable "REPO" {\n  default = "example/app"\n}\n'
        'target "app" {\n'
        "  matrix = {\n"
        f"    a = [{a_values}]\n"
        f"    b = [{b_values}]\n"
        f"    c = [{c_values}]\n"
        "  }\n"
        '  name = "app-${a}-${b}-${c}"\n'
        '  args = { A = a, B = b, C = upper(c) }\n'
        '  tags = ["${REPO}:${a}-${b}-${c}"]\n'
        '  platforms = ["linux/amd64"]\n'
        "}\n"
    )


def big_file(targets: int = 1000) -> str:
    """About 660 bytes per target of ordinary attributes: 1,000 targets is ~660 KB."""
    blocks = ['variable "TAG" {\n  default = "latest"\n}\nvariable "REGISTRY" {\n  default = "registry.example.com/team"\n}\n']
    for i in range(targets):
        blocks.append(
            f'target "service-{i:04d}" {{\n'
            f'  context    = "services/service-{i:04d}"\n'
            f'  dockerfile = "docker/Dockerfile.production"\n'
            f'  target     = "runtime"\n'
            f'  tags       = ["${{REGISTRY}}/service-{i:04d}:${{TAG}}", "${{REGISTRY}}/service-{i:04d}:build-{i}"]\n'
            f'  platforms  = ["linux/amd64", "linux/arm64"]\n'
            f"  args = {{\n"
            f'    SERVICE_NAME = "service-{i:04d}"\n'
            f'    SERVICE_PORT = "{8000 + i}"\n'
            f'    BUILD_FLAVOR = "{"debug" if i % 3 == 0 else "release"}"\n'
            f"  }}\n"
            f"  labels = {{\n"
            f'    "org.opencontainers.image.title"  = "service-{i:04d}"\n'
            f'    "org.opencontainers.image.source" = "https://github.com/example/monorepo"\n'
            f"  }}\n"
            f'  cache-from = ["type=registry,ref=${{REGISTRY}}/cache:service-{i:04d}"]\n'
            f'  cache-to   = ["type=registry,ref=${{REGISTRY}}/cache:service-{i:04d},mode=max"]\n'
            f"}}\n"
        )
    names = ", ".join(f'"service-{i:04d}"' for i in range(targets))
    blocks.append(f'group "default" {{\n  targets = [{names}]\n}}\n')
    return "".join(blocks)


def _bakeplan_argv() -> list[str]:
    exe = Path(sys.executable).parent / "bakeplan"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bakeplan"]


def _buildx_env(base: dict[str, str]) -> dict[str, str] | None:
    docker = shutil.which("docker")
    plugin = ROOT / ".tools" / "docker" / "cli-plugins" / "docker-buildx"
    if docker is None or not plugin.exists():
        return None
    return dict(base, DOCKER_CONFIG=str(ROOT / ".tools" / "docker"))


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one command; a failure is reported and shown as NaN."""
    started = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"  ! {' '.join(argv[:3])} failed in {cwd}: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return float("nan")
    return elapsed


def best(argv: Sequence[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    """Best of `runs` wall times."""
    return min(timed(argv, cwd, env) for _ in range(runs))


def _row(label: str, ours: float, theirs: float | None) -> str:
    if theirs is None:
        return f"{label:<34} {ours:>9.3f} s {'n/a':>11}"
    ratio = theirs / ours if ours == ours and ours > 0 else float("nan")
    return f"{label:<34} {ours:>9.3f} s {theirs:>9.3f} s {ratio:>8.1f}x"


def matrix_rows(work: Path, env: dict[str, str], benv: dict[str, str] | None) -> list[str]:
    """The 3-key matrix sizes."""
    rows = []
    ours_times: dict[int, float] = {}
    for size in MATRIX_SIZES:
        folder = work / f"matrix-{size}"
        folder.mkdir()
        (folder / "docker-bake.hcl").write_text(matrix_file(size))
        ours = best([*_bakeplan_argv(), "print", "app"], folder, dict(env, BAKEPLAN_NO_CACHE="1"), 3)
        ours_times[size] = ours
        theirs = best(["docker", "buildx", "bake", "--print", "app"], folder, benv, 1) if benv else None
        rows.append(_row(f"matrix {size:,} targets", ours, theirs))
        print(rows[-1], flush=True)
    rows.append(f"{'  linearity 12,800 / 6,400':<34} {ours_times[12800] / ours_times[6400]:>9.2f}x (goal <= 2.2x)")
    print(rows[-1], flush=True)
    return rows


def _edited(path: Path, round_: int) -> None:
    """Append blank lines: the file's bytes change (HCL, JSON or YAML alike), what it defines does not."""
    with path.open("a") as handle:
        handle.write("\n" * (round_ + 1))


def big_file_rows(work: Path, env: dict[str, str], benv: dict[str, str] | None) -> list[str]:
    """The ~660 KB file: first run (empty cache folder), after an edit (same command line), repeat run (replayed)."""
    folder = work / "big"
    folder.mkdir()
    text = big_file()
    (folder / "docker-bake.hcl").write_text(text)
    # First run: a cache folder of its own each time (nothing cached, not even the command line); best of 3.
    first = min(timed([*_bakeplan_argv(), "print"], folder, dict(env, XDG_CACHE_HOME=str(work / f"cache-first-{i}"))) for i in range(3))
    cache_env = dict(env, XDG_CACHE_HOME=str(work / "cache-big"))
    timed([*_bakeplan_argv(), "print"], folder, cache_env)
    edits = []
    for round_ in range(3):
        _edited(folder / "docker-bake.hcl", round_)
        edits.append(timed([*_bakeplan_argv(), "print"], folder, cache_env))
    cached = best([*_bakeplan_argv(), "print"], folder, cache_env, 3)
    theirs = best(["docker", "buildx", "bake", "--print"], folder, benv, 2) if benv else None
    rows = [
        _row(f"{len(text) // 1000} KB, 1,000 targets: first run", first, theirs),
        _row(f"{len(text) // 1000} KB, 1,000 targets: after an edit", min(edits), theirs),
        _row(f"{len(text) // 1000} KB, 1,000 targets: repeat run", cached, theirs),
    ]
    print("\n".join(rows), flush=True)
    return rows


def corpus_rows(work: Path, env: dict[str, str], benv: dict[str, str] | None) -> list[str]:
    """Median wall time over the corpus cases that print, each in a copy of its folder.

    First run: nothing cached for this file (the parser's tables are, as after
    any earlier run). After an edit: the file changed since the last run of the
    same command line. Repeat run: nothing changed (replayed). buildx's column is
    its own median over the same cases.
    """
    if not CORPUS.is_dir():
        return ["corpus: absent"]
    first_all, edit_all, repeat_all, theirs_all = [], [], [], []
    shutil.copytree(CORPUS, work / "corpus")  # some cases read a neighbour's files (../other/docker-bake.hcl)
    for case_dir in sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file()):
        case = json.loads((case_dir / "CASE.json").read_text())
        copy = work / "corpus" / case_dir.name
        argv = [*_bakeplan_argv(), "print", *(arg for name in case["files"] for arg in ("-f", name)), *case["targets"]]
        case_env = dict(env, **case["env"])
        first_all.append(timed(argv, copy, case_env))
        _edited(copy / case["files"][0], 0)
        edit_all.append(timed(argv, copy, case_env))
        repeat_all.append(timed(argv, copy, case_env))
        if benv:
            buildx = ["docker", "buildx", "bake", "--print", *(arg for name in case["files"] for arg in ("-f", name)), *case["targets"]]
            theirs_all.append(timed(buildx, copy, dict(benv, **case["env"])))
    theirs = statistics.median(t for t in theirs_all if t == t) if theirs_all else None
    rows = [
        _row(f"corpus median, first run ({len(first_all)})", statistics.median(t for t in first_all if t == t), theirs),
        _row(f"corpus median, after an edit ({len(edit_all)})", statistics.median(t for t in edit_all if t == t), theirs),
        _row(f"corpus median, repeat run ({len(repeat_all)})", statistics.median(t for t in repeat_all if t == t), theirs),
    ]
    print("\n".join(rows), flush=True)
    return rows


def fresh_bytecode() -> None:
    """Compile bakeplan's modules whose bytecode is stale, as an install does.

    Under PYTHONDONTWRITEBYTECODE (set in some shells and CI images) a module
    edited since its last .pyc is recompiled on every start (~70 ms for the
    parser alone): that measures the edit, not bakeplan.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "bakeplan"), quiet=2)


def main() -> None:
    """Print the table: bakeplan, buildx, and buildx/bakeplan."""
    fresh_bytecode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDX_BAKE")}
    benv = _buildx_env(env)
    print(f"{'case':<34} {'bakeplan':>11} {'buildx':>11} {'speedup':>9}")
    with tempfile.TemporaryDirectory(prefix="bakeplan-bench-") as tmp:
        work = Path(tmp)
        env = dict(env, XDG_CACHE_HOME=str(work / "cache"))
        matrix_rows(work, env, benv)
        big_file_rows(work, env, benv)
        corpus_rows(work, env, benv)
    if benv is None:
        print("buildx is not installed (make tools): its column is n/a")


if __name__ == "__main__":
    main()
