"""`python -m bakeplan.emit.check [--write] DIR`: fail when a checked-in CI plan is stale.

Every example directory `DIR/<example>/` with a `ci/` subdirectory holds
generated files next to its `docker-bake.hcl` (`--write` rewrites the ones
present, or all kinds for a new `ci/`); each known file name stands for
one `bakeplan ci` command, run in the example directory with `-f
docker-bake.hcl`, any extra arguments listed in `ci/args` (one per line), and a
fixed environment (so a developer's variables cannot change the output).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import bakeplan
from bakeplan.record import record

# Generated file name -> the `bakeplan ci` arguments that produce it.
OUTPUTS: Mapping[str, tuple[str, ...]] = {
    "github.json": ("github",),
    "github-workflow.yml": ("github", "--workflow"),
    "gitlab.yml": ("gitlab",),
    "gitlab-matrix.yml": ("gitlab", "--mode", "matrix"),
    "Jenkinsfile": ("jenkins",),
}
BAKE_FILE = "docker-bake.hcl"


@record
class Outcome:
    """One generated file and whether the checked-in copy matches."""

    path: Path
    fresh: bool


def command(example: Path, name: str) -> list[str]:
    """The argv that regenerates `example/ci/name`."""
    extra_file = example / "ci" / "args"
    extra = [line.strip() for line in extra_file.read_text().splitlines() if line.strip()] if extra_file.exists() else []
    return [sys.executable, "-m", "bakeplan", "ci", *OUTPUTS[name][:1], "-f", BAKE_FILE, *OUTPUTS[name][1:], *extra]


def generate(example: Path, name: str) -> str:
    """Run the command for one generated file and return its output."""
    root = Path(bakeplan.__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(command(example, name), cwd=example, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{example / 'ci' / name}: `bakeplan ci` failed:\n{done.stderr.strip()}")
    return done.stdout


def examples(root: Path) -> list[Path]:
    """Example directories that hold checked-in CI plans, sorted."""
    return sorted(p for p in root.iterdir() if (p / "ci").is_dir() and (p / BAKE_FILE).is_file())


def check(root: Path, *, write: bool = False) -> list[Outcome]:
    """Compare (or with write=True, rewrite) every generated file under `root`."""
    outcomes = []
    for example in examples(root):
        names = [n for n in OUTPUTS if (example / "ci" / n).exists()]
        if write and not names:
            names = list(OUTPUTS)  # a new example: write every kind
        for name in names:
            path = example / "ci" / name
            text = generate(example, name)
            fresh = path.exists() and path.read_text(encoding="utf-8") == text
            if write and not fresh:
                path.write_text(text, encoding="utf-8")
            outcomes.append(Outcome(path, fresh))
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 1 when a checked-in plan is stale (or, with --write, after rewriting them)."""
    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    roots = [Path(a) for a in args if a != "--write"] or [Path("matrices")]
    outcomes = [o for root in roots for o in check(root, write=write)]
    stale = [o for o in outcomes if not o.fresh]
    for outcome in stale:
        verb = "rewrote" if write else "stale"
        print(f"{verb}: {outcome.path}", file=sys.stderr)
    if stale and not write:
        print(f"regenerate with: python -m bakeplan.emit.check --write {' '.join(map(str, roots))}", file=sys.stderr)
        return 1
    done = f"rewrote {len(stale)}, " if write else ""
    print(f"{done}{len(outcomes) - len(stale)} of {len(outcomes)} checked-in CI plans were up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
