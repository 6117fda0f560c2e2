"""`--since REV`: keep the jobs whose inputs changed since REV, plus their dependents.

A job's inputs are its local context directory, its Dockerfile and its named
local contexts (paths as bake resolves them, relative to the working
directory). A change to a bake file itself may change any target, so it keeps
everything. Jobs with a remote context are always kept: git cannot tell
whether they changed. The changed paths are `git diff --name-only REV` (the
working tree against REV, so uncommitted edits count) plus untracked files.
"""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import networkx as nx

from bakeplan.emit.model import Job, Omitted, dependency_graph
from bakeplan.errors import BakeplanError, ToolError
from bakeplan.record import record

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


@record
class Selection:
    """The job ids kept and, for the others, why they were left out."""

    kept: frozenset[str]
    omitted: tuple[Omitted, ...]


def changed_files(rev: str, cwd: Path, *, _run: Runner = subprocess.run) -> tuple[Path, ...]:
    """Absolute paths changed since REV: `git diff --name-only REV` plus untracked files."""
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd, _run).strip())
    diff = _git(["diff", "--name-only", "-z", rev, "--"], top, _run)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], top, _run)
    names = sorted({name for name in (diff + untracked).split("\0") if name})
    return tuple((top / name).resolve() for name in names)


def _git(args: list[str], cwd: Path, run: Runner) -> str:
    try:
        done = run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as error:
        raise ToolError("git is not installed", hint="Install git to use --since.") from error
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise BakeplanError(
            f"git {' '.join(args[:2])} failed: {message[0] if message else 'exit ' + str(done.returncode)}",
            hint="--since needs a git work tree and a revision that exists in it (fetch more history?).",
        )
    return done.stdout.decode(errors="replace")


def select_changed(
    jobs: Sequence[Job], changed: Iterable[Path], bake_files: Sequence[Path], cwd: Path, rev: str
) -> Selection:
    """Keep jobs whose inputs changed (all of them when a bake file changed), plus dependents."""
    paths = tuple(Path(p).resolve() for p in changed)
    touched_files = [f for f in bake_files if (cwd / f).resolve() in paths]
    if touched_files:
        return Selection(frozenset(job.id for job in jobs), ())
    kept = {job.id for job in jobs if _changed(job, paths, cwd)}
    kept = _with_dependents(jobs, kept)
    kept = _whole_targets(jobs, kept)
    omitted = tuple(Omitted(job.id, _reason(job, rev)) for job in jobs if job.id not in kept)
    return Selection(frozenset(kept), omitted)


def input_paths(job: Job) -> tuple[str, ...]:
    """The job's local inputs as written (context, Dockerfile, named local contexts)."""
    found = [job.inputs.context, job.inputs.dockerfile, *job.inputs.local_contexts, *job.inputs.files]
    return tuple(dict.fromkeys(p for p in found if p))


def _shown(job: Job) -> list[str]:
    """The inputs worth naming: the extra files only when they lie outside the directories."""
    dirs = [posixpath.normpath(p) for p in (job.inputs.context, *job.inputs.local_contexts) if p]
    extra = [f for f in job.inputs.files if not any(_under(posixpath.normpath(f), d) for d in dirs)]
    return [p for p in (job.inputs.context, job.inputs.dockerfile, *job.inputs.local_contexts, *extra) if p]


def _under(path: str, directory: str) -> bool:
    return directory == "." and not path.startswith(("../", "/")) or path == directory or path.startswith(directory + "/")


def _changed(job: Job, paths: Sequence[Path], cwd: Path) -> bool:
    if job.inputs.context is None:
        return True  # remote context: git cannot tell, so build it
    roots = [(cwd / p).resolve() for p in input_paths(job)]
    return any(path == root or root in path.parents for path in paths for root in roots)


def _with_dependents(jobs: Sequence[Job], kept: set[str]) -> set[str]:
    """`kept` plus every job that (transitively) waits for one of them."""
    graph = dependency_graph(jobs)
    return set(kept).union(*(nx.descendants(graph, job_id) for job_id in kept))


def _whole_targets(jobs: Sequence[Job], kept: set[str]) -> set[str]:
    """All platforms of a kept target: a manifest merge needs every platform's digest."""
    targets = {job.target for job in jobs if job.id in kept}
    return {job.id for job in jobs if job.target in targets}


def _reason(job: Job, rev: str) -> str:
    inputs = ", ".join(_shown(job)) or "(no local inputs)"
    return f"no change since {rev} in {inputs}, nor in what it depends on"
