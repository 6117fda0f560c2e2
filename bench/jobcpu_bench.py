"""Client CPU per job of `bakeplan run`, now and before the job files (issue 8).

Each job of a run is one `docker buildx bake` invocation. Before, every
invocation named the user's bake file, so buildx evaluated the whole file
(its matrix included) once per job: quadratic in the number of targets over a
run. Now bakeplan writes each job a small resolved JSON definition
(`bakeplan.bake.jobfile`, through `bakeplan.runs.JobComposer`) and the
invocation reads only that.

For a 3-key matrix of 100, 1,600 and 6,400 targets (print_bench's file),
planned on two declared linux/amd64 nodes, this reports per job:

- new: bakeplan composing the invocation in-process (`JobComposer.argv`, which
  writes the job file; CPU time of this process, every job of the plan), plus
  buildx starting on it: the composed argv with `--print` (no daemon needed),
  CPU (user + sys) of the child processes from `getrusage(RUSAGE_CHILDREN)`;
- old: the job's former argv on the user's file (`Plan.argv`, `-f
  docker-bake.hcl`) with `--print`, same CPU measure.

buildx runs on evenly spread jobs of the plan (SAMPLES_NEW, SAMPLES_OLD: the
old path costs 12 to 25 s of CPU a call at 6,400 targets, so only 3 jobs there). Loading and planning
the file happens once per run, not per job: shown apart.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.print_bench import _buildx_env, fresh_bytecode, matrix_file

SIZES = (100, 1600, 6400)
SAMPLES_NEW = 20
SAMPLES_OLD = {100: 10, 1600: 5, 6400: 3}
PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class Row:
    """Per-job CPU seconds of one matrix size."""

    targets: int
    once: float  # bakeplan: load + plan, once per run
    compose: float  # bakeplan: JobComposer.argv, mean per job over every job
    start_new: float  # buildx --print on the job file, mean over the sampled jobs
    start_old: float  # buildx --print on the user's file, mean over the sampled jobs
    sampled_new: int
    sampled_old: int

    @property
    def new(self) -> float:
        """Per-job CPU now: compose + buildx on the job file."""
        return self.compose + self.start_new


def child_cpu(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """CPU seconds (user + sys) of argv and everything it waited for (docker -> buildx plugin)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(list(argv), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def printing(argv: Sequence[str]) -> list[str]:
    """A `docker buildx bake ...` argv turned into its `--print` form (buildx resolves, builds nothing)."""
    assert tuple(argv[1:3]) == ("buildx", "bake"), argv
    return [*argv[:3], "--print", *argv[3:]]


def spread(items: Sequence[str], count: int) -> list[str]:
    """`count` items evenly spread from first to last (deterministic)."""
    if count >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)] if count > 1 else [items[0]]


def measure(size: int, work: Path, benv: dict[str, str]) -> Row:
    """Plan the matrix, compose every job in-process, start buildx on sampled jobs both ways."""
    from bakeplan.bake.model import BakeRequest
    from bakeplan.bake.resolve import load
    from bakeplan.handover import HandoverStore
    from bakeplan.history import History
    from bakeplan.nodes import Node
    from bakeplan.plan import build_plan
    from bakeplan.runs import JobComposer, steps_of
    from bakeplan.runstate import start_state
    from bakeplan.steps import JobSettings

    project = work / f"matrix-{size}"
    project.mkdir()
    (project / "docker-bake.hcl").write_text(matrix_file(size))
    nodes = [Node(name, platforms=(PLATFORM,), slots=2) for name in ("n1", "n2")]
    started = time.process_time()
    result = load(BakeRequest(names=("app",), files=("docker-bake.hcl",), env={}, cwd=project))
    plan = build_plan(result, nodes)
    once = time.process_time() - started
    assert len(plan.jobs) == size, (size, len(plan.jobs))
    run_dir = project / ".bakeplan" / "run"
    composer = JobComposer(plan, JobSettings(progress="plain"), run_dir, HandoverStore(run_dir))  # as runs.run
    steps = steps_of(plan, History(), push=False)
    state = start_state(steps)
    argvs: dict[str, tuple[str, ...]] = {}
    started = time.process_time()
    for step in steps:
        argvs[step.id] = composer.argv(step, plan.timings[step.id].node, state)
    compose = (time.process_time() - started) / len(steps)
    ids = [job.id for job in plan.jobs]
    new_jobs, old_jobs = spread(ids, SAMPLES_NEW), spread(ids, SAMPLES_OLD[size])
    start_new = statistics.fmean(child_cpu(printing(argvs[j]), project, benv) for j in new_jobs)
    start_old = statistics.fmean(child_cpu(printing(plan.argv(j)), project, benv) for j in old_jobs)
    return Row(size, once, compose, start_new, start_old, len(new_jobs), len(old_jobs))


def _table(rows: Sequence[Row]) -> None:
    print(f"client CPU per job (user + sys), {PLATFORM} matrix on 2 declared nodes; "
          "new = bakeplan compose + buildx on the job file, old = buildx on the whole file")
    header = (f"{'targets':>7} {'compose ms':>10} {'buildx new ms':>13} {'new ms':>8} {'old ms':>9} "
              f"{'new/old':>8} {'sampled':>9} {'load+plan s':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.targets:>7,} {r.compose * 1e3:>10.2f} {r.start_new * 1e3:>13.1f} {r.new * 1e3:>8.1f} "
              f"{r.start_old * 1e3:>9.0f} {r.new / r.start_old:>8.4f} {f'{r.sampled_new}/{r.sampled_old}':>9} "
              f"{r.once:>11.2f}")
    first, last = rows[0], rows[-1]
    print(f"new path {last.targets:,} / {first.targets:,} targets: {last.new / first.new:.2f}x per job (flat = 1.00); "
          f"old path: {last.start_old / first.start_old:.0f}x")
    print("sampled: jobs started with buildx --print, new/old (old: only 3 jobs at 6,400 targets, each call is that slow); "
          "compose: mean over every job of the plan; load+plan: bakeplan's, once per run, not per job")


def main() -> None:
    """Print the per-job CPU table (or why it cannot run here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDX_BAKE")}
    benv = _buildx_env(env)
    if benv is None:
        print("jobcpu_bench: skipped, buildx is not installed (make tools)")
        return
    fresh_bytecode()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bakeplan-jobcpu-") as tmp:
        for size in SIZES:
            rows.append(measure(size, Path(tmp), benv))
            print(f"  {size:,} targets measured", file=sys.stderr, flush=True)
    _table(rows)


if __name__ == "__main__":
    main()
