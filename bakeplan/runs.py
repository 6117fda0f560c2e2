"""`bakeplan run` as one function: plan on the nodes, build every job, hand results over, record what happened.

The run directory (`.bakeplan/runs/<stamp>-<pid>/`) holds everything a run
writes beside the builds' own outputs: `state.json` (every step, with what it
handed on), `logs/`, one resolved definition per job (`jobs/JOB.json`, what
`--print` gives for that job's target and the parents it re-solves, so buildx
never evaluates the user's files again), `metadata/` (pushed digests), and
`handover/` (OCI layouts of parents read on other nodes; removed after a
run that succeeded, kept for `--resume` otherwise). Jobs never read the
user's files themselves, so a bake file given on stdin (`-f -`) is read once,
by bakeplan.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bakeplan import history as hist
from bakeplan.bake.jobfile import job_definition, write_definition
from bakeplan.buildx import platform_manifest
from bakeplan.errors import BakeplanError
from bakeplan.execute import Reporter, RunOptions, execute
from bakeplan.handover import DOCKER_LIST, OCI_INDEX, HandoverStore
from bakeplan.history import History
from bakeplan.invocation import bake_argv
from bakeplan.jobs import Job
from bakeplan.nodes import Node
from bakeplan.outputs import image_names, pushes, repositories
from bakeplan.plan import Plan, capable_nodes, tasks
from bakeplan.record import field, record, replace
from bakeplan.runner import Runner, file_name
from bakeplan.runstate import SUCCEEDED, RunState, StepState
from bakeplan.steps import BAKE, MERGE, JobSettings, Step, job_invocation, merge_argv, resolved_here, splits, steps_from_plan


@record(frozen=False)
class JobComposer:
    """Composes each step's argv when it starts (where its parents ran decides how it reads them)."""

    plan: Plan
    settings: JobSettings
    run_dir: Path
    store: HandoverStore
    by_id: Mapping[str, Job] = field(init=False)
    nodes: Mapping[str, Node] = field(init=False)
    capable: Mapping[str, frozenset[str]] = field(init=False)  # job id -> nodes that can build it
    children: Mapping[str, tuple[str, ...]] = field(init=False)
    exported: set[str] = field(init=False)  # jobs that exported a hand-over copy
    imported: dict[str, tuple[str, ...]] = field(init=False)  # job id -> nodes its hand-overs came from

    def __post_init__(self) -> None:
        self.by_id = {job.id: job for job in self.plan.jobs}
        self.nodes = {node.name: node for node in self.plan.nodes}
        self.capable = {job.id: capable_nodes(job, self.plan.nodes) for job in self.plan.jobs}
        children: dict[str, tuple[str, ...]] = {}
        for job in self.plan.jobs:
            for dep in dict.fromkeys(job.deps):
                children[dep] = (*children.get(dep, ()), job.id)
        self.children = children
        self.exported = set()
        self.imported = {}

    def exports(self, job: Job, node: str) -> bool:
        """Whether a child of the job may run on another node, which reads it by digest (then the job exports once)."""
        return any(other != node for child in self.children.get(job.id, ()) for other in self.capable[child])

    def argv(self, step: Step, node: str, state: RunState) -> tuple[str, ...]:
        """The step's argv on `node`."""
        builder = self.plan.builder_names.get(node)
        if step.kind == MERGE:
            digests = [state.steps[dep].result.get("digest", "") for dep in step.deps]
            return merge_argv(step, digests, docker=self.settings.docker, builder=builder)
        job = self.by_id[step.id]
        sources = self.sources(job, node, state)
        # Learned from direct parents only: an ancestor a re-solved parent already brought here loads from cache.
        self.imported[job.id] = tuple(dict.fromkeys(state.steps[d].node for d in sources if d in job.deps))
        export = ""
        if self.exports(job, node):
            self.exported.add(job.id)
        else:
            self.exported.discard(job.id)  # a job moved to another node decides again
        if job.id in self.exported and not self.pushed(job):
            try:
                self.store.prepare(job.id)
            except BakeplanError as error:
                raise BakeplanError(f"{error.message} (on node {node})", hint=error.hint) from error
            export = self.store.output(job.id)
        invocation = job_invocation(job, self.by_id, self.plan.result, self.plan.requested,
                                    self.entitled(export, sources), sources=sources, export=export,
                                    files=(str(self.definition(job, sources)),), builder=builder,
                                    metadata_file=str(self.metadata(job)) if self.wants_digest(job) else "",
                                    node_platform=self.nodes[node].default_platform)
        return bake_argv(invocation)

    def entitled(self, export: str, sources: Mapping[str, str]) -> JobSettings:
        """The settings plus the file-system entitlements bake asks for the hand-over folder.

        buildx refuses to write or read local paths outside the working
        directory without `--allow fs.write=`/`fs.read=` (bake.go entitlements);
        the run directory may be anywhere (`--run-dir`).
        """
        extra = []
        if export and self.store.handoff.kind == "oci":
            extra.append(f"fs.write={self.store.root}")
        if any(ref.startswith("oci-layout://") for ref in sources.values()):
            extra.append(f"fs.read={self.store.root}")
        return replace(self.settings, allow=(*self.settings.allow, *extra)) if extra else self.settings

    def sources(self, job: Job, node: str, state: RunState) -> dict[str, str]:
        """Parents (transitively, through re-solved ones) that ran on another node and handed their result over."""
        found: dict[str, str] = {}
        stack = [job.id]
        seen = {job.id}
        while stack:
            for dep in self.by_id[stack.pop()].deps:
                if dep in seen or dep not in self.by_id:
                    continue
                seen.add(dep)
                done = state.steps.get(dep)
                handed = done.result.get("handover") if done is not None and done.status == SUCCEEDED else None
                if handed and done is not None and done.node != node:  # a parent here is re-solved from cache
                    found[dep] = handed
                else:
                    stack.append(dep)
        return found

    def definition(self, job: Job, sources: Mapping[str, str]) -> Path:
        """Write the job's resolved definition: its target and the parents it re-solves, each on one platform."""
        here = [self.by_id[j] for j in resolved_here(job, self.by_id, sources)]
        platforms = {j.target: (j.platform,) for j in here if j.platform is not None}
        dropped: dict[str, set[str]] = {}
        for j in here:
            handed = {self.by_id[d].target for d in j.deps if d in sources}
            target = self.plan.result.targets[j.target]
            names = {name for name, value in target.contexts.items() if value in {f"target:{t}" for t in handed}}
            if names:
                dropped[j.target] = names
        doc = job_definition(self.plan.result, [job.target], platforms=platforms, drop_links=dropped)
        path = self.run_dir / "jobs" / f"{file_name(job.id)}.json"
        try:
            write_definition(path, doc)
        except OSError as error:
            raise BakeplanError(f"cannot write {path}: {error.strerror or error}",
                                hint="Pick a writable place with --run-dir.") from error
        return path

    def metadata(self, job: Job) -> Path:
        """Where buildx writes the job's metadata (its pushed digest); the folder exists."""
        folder = self.run_dir / "metadata"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{file_name(job.id)}.json"

    def collect(self, step: Step, state: StepState) -> Mapping[str, str]:
        """The pushed digest (for a merge) and the hand-over reference (for children elsewhere)."""
        if step.kind != BAKE:
            return {}
        job = self.by_id[step.id]
        result: dict[str, str] = {}
        target = self.plan.result.targets[job.target]
        exporter = job.id in self.exported
        if self.wants_digest(job):
            result["digest"] = read_digest(self.metadata(job), job.target)
        if exporter and self.pushed(job):
            repo = repositories(image_names(target))[0]
            result["handover"] = f"docker-image://{repo}@{self.manifest(job, state, repo, result['digest'])}"
        elif exporter:
            repo = self.store.handoff.repository
            result["handover"] = self.store.collect(job.id, self.manifest(job, state, repo, result.get("digest", "")))
        return result

    def wants_digest(self, job: Job) -> bool:
        """Whether the job's pushed digest is read: by a merge, or by children elsewhere (a metadata file is written)."""
        target = self.plan.result.targets[job.target]
        merged = job.target in self.plan.requested and splits(target) and pushes(target, push=self.settings.push) \
            and bool(image_names(target))
        return merged or (job.id in self.exported and (self.pushed(job) or self.store.handoff.kind == "registry"))

    def pushed(self, job: Job) -> bool:
        """Whether the job pushes its image anyway: children elsewhere read that push, no extra copy is made."""
        target = self.plan.result.targets[job.target]
        return job.target in self.plan.requested and pushes(target, push=self.settings.push) and bool(image_names(target))

    def manifest(self, job: Job, state: StepState, repo: str, digest: str) -> str:
        """A pushed image's manifest for the job's platform (inside an index when the build attached attestations)."""
        if not digest or not repo or not _is_index(self.metadata(job), job.target):
            return digest
        return platform_manifest(f"{repo}@{digest}", job.platform, builder=self.plan.builder_names.get(state.node),
                                 docker=self.settings.docker)

    def interrupted(self) -> None:
        """Drop half-written exports."""
        self.store.discard_partial()


def read_digest(metadata: Path, target: str) -> str:
    """The pushed image digest of `target` from a bake `--metadata-file`."""
    try:
        data = json.loads(metadata.read_text())
        digest = data[target]["containerimage.digest"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BakeplanError(f"no image digest for {target} in {metadata}: {error}",
                            hint="Check that the registry accepted the push (see the job's log).") from error
    if not isinstance(digest, str):
        raise BakeplanError(f"no image digest for {target} in {metadata}")
    return digest


def _is_index(metadata: Path, target: str) -> bool:
    """Whether the target's pushed image is an index (a manifest list), per its metadata file."""
    try:
        media = json.loads(metadata.read_text())[target]["containerimage.descriptor"]["mediaType"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return media in (OCI_INDEX, DOCKER_LIST)


# ---------------------------------------------------------------- history


class HistoryRecorder:
    """Feeds measured job durations and hand-over costs (read from the build logs) back into the history.

    A hand-over's cost is what the builds themselves report: the parent's
    `exporting to oci image format` step, and the child's `[context NAME]`
    steps that load the parent's image (`OCI load from client`, `load
    metadata for`), learned per (source node, destination node).

    Each succeeded job's planned seconds (the estimate its step carried) and
    measured ones are kept in `planned`; `finish` adds them and the makespan's
    to the history as one run. Only estimates that came from measurements
    count (bakeplan's own or the builders'): a 60 s default is no estimate,
    and comparing it would only say that nothing was known.
    """

    def __init__(self, plan: Plan, past: History, composer: JobComposer) -> None:
        self.jobs = {job.id: job for job in plan.jobs}
        self.history = past
        self.composer = composer
        self.planned: dict[str, tuple[float, float]] = {}  # job id -> (planned, actual) seconds
        self.informed = {job.id for job in plan.jobs if past.source(job) != hist.DEFAULT}
        self.speeds = {node.name: node.speed for node in plan.nodes}

    def __call__(self, step: Step, state: StepState) -> None:
        """Record a finished step."""
        duration = state.duration
        if state.status != SUCCEEDED or duration is None or step.id not in self.jobs:
            return
        self.history = self.history.record(self.jobs[step.id], duration, node=state.node)
        if step.id in self.informed:  # the estimate on the node it ran on (`Node.speed`)
            self.planned[step.id] = (step.estimate / self.speeds.get(state.node, 1.0), duration)
        exported, imported = handover_seconds(_read(state.log))
        if step.id in self.composer.exported and exported is not None:
            self.history = self.history.record_export(exported)
        sources = self.composer.imported.get(step.id, ())
        if imported is not None and len(sources) == 1:  # imports from several nodes overlap: not one pair's cost
            self.history = self.history.record_transfer(sources[0], state.node, imported)

    def finish(self, plan: Plan, state: RunState, *, resumed: bool) -> History:
        """The history with this run's planned-versus-actual seconds.

        The makespan is compared only for a whole run that succeeded: a failed
        run stops early, and a resumed one spans the pause between its parts.
        """
        makespan = None
        if state.ok and not resumed and self.informed >= set(plan.timings):
            ran = [state.steps[j] for j in plan.timings if j in state.steps]
            starts = [s.started for s in ran if s.started is not None]
            ends = [s.finished for s in ran if s.finished is not None]
            if starts and ends:
                makespan = (plan.makespan, max(ends) - min(starts))
        return self.history.record_run(hist.RunAccuracy(dict(sorted(self.planned.items())), makespan))


_VERTEX = re.compile(r"^#(\d+) (.*)$")
_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_IMPORT = re.compile(r"^\[(?:[^\]]* )?context [^\]]+\] (OCI load from client|load metadata for )")
_EXPORT = "exporting to oci image format"


def handover_seconds(log: str) -> tuple[float | None, float | None]:
    """(export seconds, import seconds) from a plain-progress build log (None: no such step)."""
    kinds: dict[str, str] = {}
    took: dict[str, float] = {}
    for line in log.splitlines():
        done = _DONE.match(line)
        if done:
            took[done[1]] = max(took.get(done[1], 0.0), float(done[2]))
            continue
        vertex = _VERTEX.match(line)
        if vertex and vertex[1] not in kinds:
            title = vertex[2]
            kinds[vertex[1]] = "export" if title == _EXPORT else "import" if _IMPORT.match(title) else ""
    totals: dict[str, float] = {}
    for number, kind in kinds.items():
        if kind and number in took:
            totals[kind] = totals.get(kind, 0.0) + took[number]
    return totals.get("export"), totals.get("import")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- the run directory


def run_directory(base: Path, *, resume: bool, create: bool = True) -> Path:
    """This run's directory: the latest run's for --resume, else a new one (made when `create`)."""
    if resume:
        try:
            name = (base / "latest").read_text().strip()
        except OSError as error:
            raise BakeplanError(f"nothing to resume: no previous run in {base}",
                                hint="Run without --resume first (or give the --run-dir of the run to resume).") from error
        return base / name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    directory = base / f"{stamp}-{os.getpid()}"
    if create:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (base / "latest").write_text(directory.name + "\n")
        except OSError as error:
            raise BakeplanError(f"cannot create the run directory {directory}: {error.strerror or error}",
                                hint="Pick a writable place with --run-dir.") from error
    return directory


@record
class RunRequest:
    """Everything `run` needs besides the plan."""

    directory: Path
    settings: JobSettings
    store: HandoverStore
    retries: int = 0
    fail_fast: bool = False
    resume: bool = False
    history_path: Path | None = None


def steps_of(plan: Plan, past: History, *, push: bool) -> tuple[Step, ...]:
    """The plan's steps with the estimates the plan used (exports included)."""
    estimates = {task.id: task.duration for task in tasks(plan.jobs, past, plan.nodes)}
    return steps_from_plan(plan.jobs, plan.result, plan.requested, estimates, push=push)


def run(plan: Plan, request: RunRequest, past: History, *, reporter: Reporter | None = None,
        runner: Runner | None = None) -> tuple[RunState, tuple[Step, ...], History]:
    """Build every job of the plan; the final state, the steps and the history with this run's measurements."""
    directory = request.directory
    state_file = directory / "state.json"
    previous = read_previous(state_file, plan) if request.resume else None
    steps = steps_of(plan, past, push=request.settings.push)
    composer = JobComposer(plan, request.settings, directory, request.store)
    request.store.discard_partial()
    recorder = HistoryRecorder(plan, past, composer)
    options = RunOptions(run_dir=directory, cwd=Path.cwd(), retries=request.retries, fail_fast=request.fail_fast,
                         handover=past.handover_default(4.0), transfers=past.transfers(), docker=request.settings.docker)
    state = execute(steps, plan.nodes, options, composer, previous=previous, runner=runner, reporter=reporter,
                    on_finished=recorder)
    if state.ok:
        request.store.cleanup()
    return state, steps, recorder.finish(plan, state, resumed=previous is not None)


def read_previous(state_file: Path, plan: Plan) -> RunState | None:
    """The state to resume from, if the run got that far.

    A succeeded parent whose hand-over layout is gone while a child of it
    still has to run is built again: the child could not read it.
    """
    from bakeplan.runstate import read_state

    if not state_file.exists():
        return None
    previous = read_state(state_file)
    steps = dict(previous.steps)
    for job in plan.jobs:
        for dep in job.deps:
            done = steps.get(dep)
            child = steps.get(job.id)
            if done is not None and done.status == SUCCEEDED and (child is None or child.status != SUCCEEDED) \
                    and not _layout_present(done.result.get("handover", "")):
                steps[dep] = StepState()
    return replace(previous, steps=steps)


def _layout_present(reference: str) -> bool:
    """Whether a hand-over reference can still be read (registry references are taken on trust)."""
    if not reference.startswith("oci-layout://"):
        return True
    folder = reference[len("oci-layout://"):].rpartition("@")[0]
    return (Path(folder) / "index.json").is_file()


def save_history(past: History, path: Path) -> str:
    """Keep the measured durations; '' or a warning (a history that cannot be written does not fail a run)."""
    try:
        hist.save(past, path)
    except OSError as error:
        return f"durations not recorded in {path}: {error.strerror or error}"
    return ""


def dry_run_lines(plan: Plan, steps: Sequence[Step], settings: JobSettings) -> list[str]:
    """`--dry-run`: each step's argv on its planned node, reading the user's files, in planned start order.

    A run composes each job's argv when it starts (reading its resolved
    `jobs/JOB.json`); these are the same invocations on the user's files, and
    hand-over digests are shown as placeholders.
    """
    from bakeplan.progress import shell_line
    from bakeplan.steps import planned_sources

    lines = []
    by_id = {job.id: job for job in plan.jobs}
    order = {step.id: i for i, step in enumerate(steps)}
    far = float("inf")
    for step in sorted(steps, key=lambda s: (plan.timings[s.id].start if s.id in plan.timings else far, order[s.id])):
        node = plan.timings[step.id].node if step.id in plan.timings else ""
        builder = plan.builder_names.get(node)
        if step.kind == MERGE:
            argv = merge_argv(step, [f"<digest of {dep}>" for dep in step.deps], docker=settings.docker, builder=builder)
        else:
            job = by_id[step.id]
            argv = bake_argv(job_invocation(job, by_id, plan.result, plan.requested, settings,
                                            sources=planned_sources(plan, job), export=plan.exports(job.id),
                                            builder=builder, node_platform=plan.node(node).default_platform if node else None))
        lines += [f"# {step.id}" + (f" on {node}" if node else ""), shell_line(argv)]
    return lines
