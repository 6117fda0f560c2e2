"""The one core call of `bakeplan ci`: bake request -> CI plan (then a renderer)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bakeplan.bake.model import BakeRequest, BakeResult
from bakeplan.emit.legs import EmitOptions, build_plan
from bakeplan.emit.model import BakeCall, CIPlan, keep_only
from bakeplan.emit.since import changed_files, select_changed
from bakeplan.emit.source import jobs_from_result
from bakeplan.errors import BakeplanError
from bakeplan.jobs import Filter
from bakeplan.record import field, record, replace


@record
class CIRequest:
    """What to emit: the bake request, job filters, `--since`, and how legs are made."""

    bake: BakeRequest
    options: EmitOptions
    only: tuple[Filter, ...] = ()
    exclude: tuple[Filter, ...] = ()
    since: str | None = None
    changed: tuple[Path, ...] | None = field(default=None)  # test seam: skip git
    workdir: str | None = None  # relative to the repository root; None: ask git where cwd is


def ci_plan(request: CIRequest, result: BakeResult | None = None) -> CIPlan:
    """Load the bake files (unless given), apply `--since`, then make legs, layers and chunks.

    The selection comes first so that a child whose parent's leg is left out
    knows it must rebuild that parent; the plan keeps every chunk id.
    """
    refuse_stdin(request.bake)  # before reading it
    if result is None:
        from bakeplan.bake.resolve import load

        result = load(request.bake)
    workdir = request.workdir if request.workdir is not None else repository_workdir(request.bake.cwd)
    call = replace(call_of(request.bake, result), workdir=workdir)
    jobs = jobs_from_result(result, request.only, request.exclude)
    if request.since is None:
        return build_plan(jobs, call, request.options)
    cwd = request.bake.cwd
    changed = request.changed if request.changed is not None else changed_files(request.since, cwd)
    selection = select_changed(jobs, changed, result.files, cwd, request.since)
    plan = build_plan(jobs, call, request.options, running=selection.kept)
    return keep_only(plan, selection.kept, selection.omitted)


def repository_workdir(cwd: Path) -> str:
    """`cwd` relative to the root of its git repository ("." at the root or outside any repository).

    CI jobs start at the repository root, while bake resolves files and
    contexts from the directory it runs in: the jobs change to this one first.
    """
    try:
        done = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError:
        return "."
    prefix = done.stdout.strip().rstrip("/") if done.returncode == 0 else ""
    return prefix or "."


def refuse_stdin(bake: BakeRequest) -> None:
    """`-f -` cannot work in CI: the generated jobs run elsewhere and cannot read this command's stdin."""
    if bake.files is not None and "-" in bake.files:
        raise BakeplanError(
            "`-f -` reads the bake definition from stdin, which the generated CI jobs cannot read",
            hint="Save the definition in a file of the repository and pass -f FILE.",
        )


def call_of(bake: BakeRequest, result: BakeResult) -> BakeCall:
    """How CI jobs call bake: the user's files (or the ones found), overrides and variables."""
    refuse_stdin(bake)
    files = bake.files if bake.files is not None else tuple(_relative(f, bake.cwd) for f in result.files)
    return BakeCall(files=tuple(files), names=bake.names, sets=bake.sets, vars=tuple(_pairs(bake.vars)))


def _relative(path: Path, cwd: Path) -> str:
    try:
        return os.path.relpath(path, cwd)
    except ValueError:
        return str(path)


def _pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, _, value = item.partition("=")
        pairs.append((name, value))
    return pairs
