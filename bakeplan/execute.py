"""Run a plan: one `docker buildx bake` invocation per scheduled unit, on its node.

Policy. The placement is `bakeplan.schedule`'s, driven live: `dispatch()`
starts every ready unit that has a node with a free slot (longest remaining
critical path first, on the node where it finishes first, balancing
equivalent nodes), and `finish()` / `fail()` / `retry()` are fed the real
completion times, so the order adapts to how long builds actually take. A
node is reached through a buildx builder holding only that node, because
inside a multi-node builder buildx sends a platform to the first node that
lists it (`--builder` per unit; `bakeplan.cli.run` makes such builders for
remote nodes).

Failures. A failed unit is rerun in place (same slot) up to `retries` times;
after that its dependents are skipped (transitively) and independent units
go on. With
`fail_fast` nothing new starts after the first failure. Ctrl-C / SIGTERM:
every child's process group gets SIGINT (buildx cancels its builds), then
SIGKILL after a bounded grace period; the state is written and the
`KeyboardInterrupt` propagates (the CLI exits 130).

State. What happened to each unit is a frozen `RunState` moved on by small
pure functions (dask's `local.py` style); the loop in `execute()` applies them,
writes the state atomically after every change (`state.json` in the run
directory) and reports to a `Reporter`. `--resume` starts from the last state:
succeeded units are kept, everything else runs again.

Multi-node images. A pushed multi-platform target whose platforms run as
separate units pushes each platform by digest (`push-by-digest=true`), then a
`merge` unit runs `docker buildx imagetools create` with the target's tags
over the per-platform digests, as buildx does inside a multi-node builder.

The subprocess seam is the `runner=` keyword: tests pass a recording runner.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bakeplan.bake.model import Target
from bakeplan.bake.schema import csv_pair
from bakeplan.cache import CacheBackend, job_refs, override_sets
from bakeplan.errors import BakeplanError, ToolError
from bakeplan.fsutil import write_atomic
from bakeplan.nodes import Node, usable
from bakeplan.plan import Plan, bake_argv
from bakeplan.plan import Unit as PlanUnit
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR, Problem, Task, dispatch, prepare
from bakeplan.schedule import State as SchedState
from bakeplan.schedule import fail as sched_fail
from bakeplan.schedule import finish as sched_finish
from bakeplan.schedule import retry as sched_retry
from bakeplan.schedule import start_state as sched_start

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
FINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED})
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Unit:
    """One invocation to run: a `docker buildx bake` (kind `bake`) or a manifest merge (`merge`).

    `command` is the argv up to the subcommand (`docker buildx bake`,
    `docker buildx imagetools create`) and `args` the rest: the executor puts
    `--builder B` of the node the scheduler picks in between (`unit_argv`).
    `jobs` are the plan's job ids it covers (`TARGET@PLATFORM`); `platforms`
    what its node must build (None: the node's own); `deps` the unit ids it
    waits for; `estimate` its expected seconds. A `merge` unit appends
    `merge_repo@DIGEST` for each dep, read from the dep's `metadata` file.
    """

    id: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    jobs: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    platforms: tuple[str | None, ...] = (None,)
    deps: tuple[str, ...] = ()
    estimate: float = 0.0
    kind: str = "bake"
    metadata: str = ""  # the --metadata-file this unit writes ("" when none)
    merge_target: str = ""
    merge_repo: str = ""

    @property
    def label(self) -> str:
        """How people read the unit: its last job, plus the linked targets built with it."""
        if len(self.jobs) <= 1:
            return self.id
        last = self.jobs[-1]
        others = [t for t in self.targets if t != last.partition("@")[0]]
        return f"{last} (with {', '.join(others)})" if others else last


def unit_argv(unit: Unit, builder: str | None) -> tuple[str, ...]:
    """The unit's argv on a node reached through `builder` (None: the current builder)."""
    return (*unit.command, *(("--builder", builder) if builder else ()), *unit.args)


@dataclass(frozen=True, slots=True)
class UnitState:
    """Where one unit stands."""

    status: str = PENDING
    attempts: int = 0
    node: str = ""
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    log: str = ""
    reason: str = ""  # why it was skipped or cancelled

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish of the last attempt."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass(frozen=True, slots=True)
class RunState:
    """Every unit's state, in plan order, plus whether fail-fast has tripped."""

    units: Mapping[str, UnitState]
    stopped: bool = False

    def count(self, status: str) -> int:
        """How many units have this status."""
        return sum(1 for s in self.units.values() if s.status == status)

    @property
    def ok(self) -> bool:
        """Whether every unit succeeded."""
        return all(s.status == SUCCEEDED for s in self.units.values())


# ---------------------------------------------------------------- pure transitions


def start_state(units: Sequence[Unit], previous: RunState | None = None) -> RunState:
    """A fresh state; with `previous` (resume) units that succeeded stay succeeded."""
    states: dict[str, UnitState] = {}
    for unit in units:
        old = previous.units.get(unit.id) if previous is not None else None
        states[unit.id] = old if old is not None and old.status == SUCCEEDED else UnitState()
    return RunState(units=states)


def mark_started(state: RunState, unit_id: str, node: str, now: float, log: str) -> RunState:
    """The unit is running on `node` (first attempt)."""
    old = state.units[unit_id]
    new = replace(old, status=RUNNING, attempts=old.attempts + 1, node=node, started=now,
                  finished=None, exit_code=None, log=log, reason="")
    return replace(state, units={**state.units, unit_id: new})


def mark_retried(state: RunState, unit_id: str, code: int) -> RunState:
    """The unit failed with `code` and runs again in the same slot."""
    old = state.units[unit_id]
    new = replace(old, attempts=old.attempts + 1, exit_code=code, reason=f"retry after exit {code}")
    return replace(state, units={**state.units, unit_id: new})


def mark_finished(state: RunState, unit_id: str, code: int, now: float, *, fail_fast: bool = False) -> RunState:
    """Record the final exit code of a unit; a failure stops the run with fail_fast."""
    old = state.units[unit_id]
    new = replace(old, status=SUCCEEDED if code == 0 else FAILED, finished=now, exit_code=code)
    return RunState(units={**state.units, unit_id: new}, stopped=state.stopped or (fail_fast and code != 0))


def mark_skipped(state: RunState, unit_ids: Sequence[str], reason: str) -> RunState:
    """These pending units will not run (a unit they need failed)."""
    states = dict(state.units)
    for uid in unit_ids:
        if states[uid].status == PENDING:
            states[uid] = replace(states[uid], status=SKIPPED, reason=reason)
    return replace(state, units=states)


def mark_cancelled(state: RunState, reason: str, now: float) -> RunState:
    """Interrupted: running units are cancelled, pending ones stay pending (resume reruns both)."""
    states = {
        uid: replace(s, status=CANCELLED, finished=now, reason=reason) if s.status == RUNNING else s
        for uid, s in state.units.items()
    }
    return RunState(units=states, stopped=True)


def finish_stopped(state: RunState, reason: str = "not started (--fail-fast)") -> RunState:
    """At the end: what never started is skipped."""
    states = {
        uid: replace(s, status=SKIPPED, reason=s.reason or reason) if s.status == PENDING else s
        for uid, s in state.units.items()
    }
    return replace(state, units=states)


# ---------------------------------------------------------------- state files


def state_to_json(state: RunState) -> dict[str, object]:
    """The state as JSON data (stable key order)."""
    return {
        "version": STATE_VERSION,
        "stopped": state.stopped,
        "units": {
            uid: {
                "status": s.status, "attempts": s.attempts, "node": s.node, "started": s.started,
                "finished": s.finished, "exit_code": s.exit_code, "log": s.log, "reason": s.reason,
            }
            for uid, s in state.units.items()
        },
    }


def state_from_json(data: Mapping[str, object]) -> RunState:
    """Read back `state_to_json` output."""
    raw = data.get("units")
    if data.get("version") != STATE_VERSION or not isinstance(raw, dict):
        raise BakeplanError("the run state file is from another bakeplan version", hint="Start a new run without --resume.")
    units = {str(uid): UnitState(**fields) for uid, fields in raw.items()}
    return RunState(units=units, stopped=bool(data.get("stopped", False)))


def write_state(path: Path, state: RunState) -> None:
    """Write the state atomically (temp file + rename), so a crash never leaves half a file."""
    write_atomic(path, (json.dumps(state_to_json(state), indent=2) + "\n").encode())


def read_state(path: Path) -> RunState:
    """Load a state file written by `write_state`."""
    try:
        return state_from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise BakeplanError(f"cannot read run state {path}: {error}", hint="Start a new run without --resume.") from error


# ---------------------------------------------------------------- runners


class Handle(Protocol):
    """A started child process."""

    def wait(self) -> int:
        """Block until it exits; its exit code."""

    def interrupt(self) -> None:
        """Ask it (and its process group) to stop."""

    def kill(self) -> None:
        """Force it (and its process group) to stop."""


class Runner(Protocol):
    """Starts invocations; the real one spawns processes, tests record argv."""

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> Handle:
        """Start argv with stdout and stderr going to `log`."""


@dataclass
class ProcessHandle:
    """A child in its own process group (so signals reach buildx and its helpers)."""

    popen: subprocess.Popen[bytes]

    def wait(self) -> int:
        """Wait for exit."""
        return self.popen.wait()

    def interrupt(self) -> None:
        """SIGINT to the group: buildx cancels its builds cleanly."""
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        """SIGKILL to the group."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class SubprocessRunner:
    """Runs argv lists (never a shell) with output appended to a log file."""

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> Handle:
        """Spawn the process in a new session."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            try:
                popen = subprocess.Popen(
                    list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, env=None if env is None else dict(env),
                )
            except FileNotFoundError as error:
                raise ToolError(f"{argv[0]} not found", hint="Install the docker CLI with the buildx plugin.") from error
        return ProcessHandle(popen)


# ---------------------------------------------------------------- reporting


class Reporter(Protocol):
    """Receives events as the run goes (see `bakeplan.progress`)."""

    def started(self, unit: Unit, state: UnitState) -> None:
        """A unit started."""

    def finished(self, unit: Unit, state: UnitState) -> None:
        """A unit reached a state after running (succeeded, failed, retrying, cancelled)."""

    def tick(self, state: RunState) -> None:
        """Called after every event and a few times a second while waiting."""


class NullReporter:
    """Reports nothing."""

    def started(self, unit: Unit, state: UnitState) -> None:
        """Ignore."""

    def finished(self, unit: Unit, state: UnitState) -> None:
        """Ignore."""

    def tick(self, state: RunState) -> None:
        """Ignore."""


# ---------------------------------------------------------------- the loop


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: retries, fail-fast, where files go, environment."""

    run_dir: Path
    cwd: Path = Path(".")
    env: Mapping[str, str] | None = None
    retries: int = 0
    fail_fast: bool = False
    grace: float = 10.0  # seconds between SIGINT and SIGKILL on interrupt
    tick: float = 0.25
    emulation_factor: float = DEFAULT_EMULATION_FACTOR


@dataclass
class _Live:
    """The loop's mutable bits: the scheduler's state, running handles, the completion queue."""

    problem: Problem
    sched: SchedState
    origin: float
    handles: dict[str, Handle] = field(default_factory=dict)
    done: queue.Queue[tuple[str, int, bool]] = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)
    interrupted: threading.Event = field(default_factory=threading.Event)


def execute(
    units: Sequence[Unit],
    nodes: Sequence[Node],
    options: RunOptions,
    *,
    builders: Mapping[str, str | None] | None = None,
    previous: RunState | None = None,
    runner: Runner | None = None,
    reporter: Reporter | None = None,
    on_finished: Callable[[Unit, UnitState], None] | None = None,
    _now: Callable[[], float] = time.time,
) -> RunState:
    """Run the units to completion, placing them live with `bakeplan.schedule`.

    `builders` maps node name -> `--builder` (default: each node's own). Returns
    the final state, also written to `run_dir/state.json` after every change.
    """
    runner = runner or SubprocessRunner()
    reporter = reporter or NullReporter()
    builders = {n.name: n.builder for n in nodes} if builders is None else builders
    (options.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (options.run_dir / "metadata").mkdir(exist_ok=True)
    state_file = options.run_dir / "state.json"
    by_id = {unit.id: unit for unit in units}
    state = start_state(units, previous)
    todo = [u for u in units if state.units[u.id].status != SUCCEEDED]
    problem = prepare([Task(u.id, u.estimate, u.platforms, u.deps) for u in todo], usable(nodes),
                      emulation_factor=options.emulation_factor)
    live = _Live(problem=problem, sched=sched_start(problem, now=0.0), origin=_now())
    write_state(state_file, state)
    with _sigterm_as_interrupt():
        try:
            while True:
                if not state.stopped:
                    for placement in dispatch(problem, live.sched):
                        state = _start(by_id[placement.task], placement.node, state, live, runner, options,
                                       builders, by_id, _now)
                        reporter.started(by_id[placement.task], state.units[placement.task])
                        write_state(state_file, state)
                if not live.sched.running:
                    break
                before = state
                state = _collect(state, live, options, reporter, on_finished, _now, by_id)
                if state is not before:
                    write_state(state_file, state)
                reporter.tick(state)
        except BaseException as error:
            # Ctrl-C, SIGTERM, or an error while dispatching: never leave a build behind.
            live.interrupted.set()
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else f"stopped: {error}"
            state = _interrupt(state, live, options, reporter, by_id, _now, reason=reason)
            write_state(state_file, state)
            raise
    state = finish_stopped(state, "not started (--fail-fast)" if state.stopped else "not started")
    write_state(state_file, state)
    return state


def _start(
    unit: Unit, node: str, state: RunState, live: _Live, runner: Runner, options: RunOptions,
    builders: Mapping[str, str | None], by_id: Mapping[str, Unit], now: Callable[[], float],
) -> RunState:
    """Start one unit on a node; a unit that cannot even start fails like a failed build."""
    log = options.run_dir / "logs" / f"{_file_name(unit.id)}.log"
    log.unlink(missing_ok=True)
    state = mark_started(state, unit.id, node, now(), str(log))
    try:
        argv = unit_argv(unit, builders.get(node))
        if unit.kind == "merge":
            argv = (*argv, *merge_sources(unit, by_id))
        handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
    except BakeplanError as error:
        with log.open("a") as out:
            out.write(f"bakeplan: {error}\n")
        live.done.put((unit.id, 127, False))
        return state
    live.handles[unit.id] = handle
    thread = threading.Thread(target=_waiter, args=(unit.id, argv, log, handle, live, runner, options), daemon=True)
    thread.start()
    return state


def _waiter(
    unit_id: str, argv: Sequence[str], log: Path, handle: Handle, live: _Live, runner: Runner, options: RunOptions
) -> None:
    """Wait for a unit's process; rerun it in place while retries are left."""
    attempt = 0
    while True:
        code = handle.wait()
        if code == 0 or attempt >= options.retries or live.interrupted.is_set():
            live.done.put((unit_id, code, False))
            return
        attempt += 1
        with log.open("a") as out:
            out.write(f"\nbakeplan: exit {code}; retry {attempt} of {options.retries}\n")
        live.done.put((unit_id, code, True))
        with live.lock:
            if live.interrupted.is_set():
                live.done.put((unit_id, code, False))
                return
            try:
                handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
            except BakeplanError:
                live.done.put((unit_id, 127, False))
                return
            live.handles[unit_id] = handle


def _collect(
    state: RunState, live: _Live, options: RunOptions, reporter: Reporter,
    on_finished: Callable[[Unit, UnitState], None] | None, now: Callable[[], float], by_id: Mapping[str, Unit],
) -> RunState:
    """Wait a tick for an event and apply it to both states."""
    try:
        unit_id, code, retrying = live.done.get(timeout=options.tick)
    except queue.Empty:
        return state
    if retrying:
        state = mark_retried(state, unit_id, code)
        sched_retry(live.problem, live.sched, unit_id, now() - live.origin)
        reporter.finished(by_id[unit_id], state.units[unit_id])
        return state
    live.handles.pop(unit_id, None)
    at = now()
    state = mark_finished(state, unit_id, code, at, fail_fast=options.fail_fast)
    if code == 0:
        sched_finish(live.problem, live.sched, unit_id, at - live.origin)
    else:
        skipped = sched_fail(live.problem, live.sched, unit_id, at - live.origin)
        state = mark_skipped(state, skipped, f"{unit_id} failed")
    unit_state = state.units[unit_id]
    reporter.finished(by_id[unit_id], unit_state)
    if on_finished is not None:
        on_finished(by_id[unit_id], unit_state)
    return state


def _interrupt(
    state: RunState, live: _Live, options: RunOptions, reporter: Reporter,
    by_id: Mapping[str, Unit], now: Callable[[], float], *, reason: str = "interrupted",
) -> RunState:
    """Stop every child: SIGINT, bounded wait, SIGKILL; record them as cancelled."""
    with live.lock:
        running = dict(live.handles)
    for handle in running.values():
        handle.interrupt()
    pending = set(running)
    deadline = time.monotonic() + options.grace
    pending = _drain(live, pending, deadline)
    for unit_id in pending:
        live.handles[unit_id].kill()
    _drain(live, pending, time.monotonic() + 5.0)
    state = mark_cancelled(state, reason, now())
    for unit_id in running:
        reporter.finished(by_id[unit_id], state.units[unit_id])
    return state


def _drain(live: _Live, pending: set[str], deadline: float) -> set[str]:
    """Collect exits until every pending unit ended or the deadline passed; what is left."""
    pending = set(pending)
    while pending and time.monotonic() < deadline:
        try:
            unit_id, _, retrying = live.done.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if not retrying:
            pending.discard(unit_id)
    return pending


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the loop runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _file_name(unit_id: str) -> str:
    """A unit id as a file name: `/` and `@` are not welcome everywhere."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in unit_id)


# ---------------------------------------------------------------- merges


def merge_sources(unit: Unit, by_id: Mapping[str, Unit]) -> list[str]:
    """REPO@DIGEST for each platform unit a merge waits for, from their metadata files."""
    return [f"{unit.merge_repo}@{read_digest(Path(by_id[dep].metadata), unit.merge_target)}" for dep in unit.deps]


def read_digest(metadata: Path, target: str) -> str:
    """The pushed image digest of `target` from a bake `--metadata-file`."""
    try:
        data = json.loads(metadata.read_text())
        digest = data[target]["containerimage.digest"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BakeplanError(f"no image digest for {target} in {metadata}: {error}") from error
    if not isinstance(digest, str):
        raise BakeplanError(f"no image digest for {target} in {metadata}")
    return digest


# ---------------------------------------------------------------- preflight


def check_docker(docker: str, env: Mapping[str, str] | None = None) -> None:
    """Fail early, saying what to install, when the docker CLI is missing (the plugin: `check_builders`)."""
    path = (env or os.environ).get("PATH")
    if shutil.which(docker, path=path) is None:
        raise ToolError(f"the docker CLI ({docker}) was not found",
                        hint="Install the docker CLI (docker-ce-cli or docker.io) with the buildx plugin.")


def check_builders(docker: str, builders: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Fail early when the buildx plugin is missing or a builder is unknown or unreachable (checked concurrently)."""
    from concurrent.futures import ThreadPoolExecutor

    names = list(dict.fromkeys(builders))
    commands = [[docker, "buildx", "version"], *([docker, "buildx", "inspect", "--bootstrap", b] for b in names)]
    with ThreadPoolExecutor(max_workers=min(8, len(commands))) as pool:
        version, *results = pool.map(lambda argv: _quiet(argv, env), commands)
    if version.returncode != 0:
        raise ToolError("the docker buildx plugin is not installed",
                        hint="Install docker-buildx-plugin (or put docker-buildx in ~/.docker/cli-plugins).")
    for builder, done in zip(names, results):
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["unreachable"])[-1]
            raise ToolError(f"builder {builder!r} is unknown or unreachable: {last}",
                            hint="Create it with `docker buildx create` (or start its buildkitd), or pick nodes with --node/--builder.")


def _quiet(argv: Sequence[str], env: Mapping[str, str] | None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False,
                              env=None if env is None else dict(env))
    except (OSError, subprocess.TimeoutExpired) as error:
        return subprocess.CompletedProcess(list(argv), 127, "", str(error))


# ---------------------------------------------------------------- units from a plan


@dataclass(frozen=True, slots=True)
class BakeOptions:
    """What every invocation passes through to `docker buildx bake`."""

    docker: str = "docker"
    sets: tuple[str, ...] = ()
    vars: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    push: bool = False
    load: bool = False
    progress: str = "plain"  # the builds' own progress format, in their log files
    cache: CacheBackend | None = None


def units_from_plan(plan: Plan, targets: Mapping[str, Target], options: BakeOptions, run_dir: Path) -> tuple[Unit, ...]:
    """One bake unit per plan unit, plus a merge unit per pushed target whose platforms are split.

    A target whose platforms run in different units gets per-platform local
    and tar destinations (`out/linux_arm64`, as buildx lays out a
    multi-platform build) and, when it pushes, a push by digest per platform
    followed by a merge.
    """
    split = split_targets(plan)
    pushing = {t for t in split if options.push or _pushes(targets.get(t))}
    units = [_bake_unit(planned, plan, targets, options, run_dir, split, pushing) for planned in plan.units]
    for target in dict.fromkeys(t for u in plan.units for t in u.targets if t in pushing):
        merge = _merge_unit(target, targets.get(target), [u for u in units if target in u.targets], options)
        if merge is not None:
            units.append(merge)
    return tuple(units)


def split_targets(plan: Plan) -> set[str]:
    """Targets whose platforms are built by more than one unit."""
    count: dict[str, int] = {}
    for unit in plan.units:
        for target in unit.targets:
            count[target] = count.get(target, 0) + 1
    return {t for t, n in count.items() if n > 1}


def _outputs(target: Target | None) -> list[dict[str, str]]:
    """A target's outputs as key/value entries (from the --print form)."""
    raw = target.fields.get("output") if target is not None else None
    return [{str(k): str(v) for k, v in entry.items()} for entry in raw or () if isinstance(entry, Mapping)]


def image_names(target: Target | None) -> list[str]:
    """The names a target's image goes by: its tags, else the `name=` of its image outputs."""
    if target is None:
        return []
    tags = [str(t) for t in (target.fields.get("tags") or ())]
    if tags:
        return tags
    names = [o.get("name", "") for o in _outputs(target) if o.get("type") in {"image", "registry"}]
    return [n.strip() for joined in names for n in joined.split(",") if n.strip()]


def _pushes(target: Target | None) -> bool:
    """Whether the bake file makes the target push (type=registry or image with push=true)."""
    return any(o.get("type") == "registry" or (o.get("type") == "image" and o.get("push") == "true")
               for o in _outputs(target))


def _csv(entry: Mapping[str, str]) -> str:
    """An output entry back to bake's CSV form, quoting fields that need it."""
    return ",".join(csv_pair(key, value) for key, value in entry.items())


def _split_outputs(name: str, target: Target | None, platforms: Sequence[str], push: bool) -> list[str]:
    """`--set NAME.output=...` for one unit's share of a split target ([] keeps the file's outputs)."""
    entries: list[dict[str, str]] = []
    tags = image_names(target)
    if push and tags:
        # By digest, into the first tag's repository (a tagged name is refused); the
        # merge then writes every tag.
        entries.append({"type": "image", "name": repository(tags[0]), "push-by-digest": "true",
                        "name-canonical": "true", "push": "true"})
    suffix = platforms[0].replace("/", "_") if len(platforms) == 1 else ""
    for entry in _outputs(target):
        kind = entry.get("type", "")
        if kind in {"registry", "image"} and push:
            continue
        if kind in {"local", "tar"} and suffix and entry.get("dest") not in {None, "-"}:
            dest = entry["dest"]
            entry = {**entry, "dest": f"{dest}/{suffix}" if kind == "local" else _tar_name(dest, suffix)}
        entries.append(entry)
    if not entries or entries == _outputs(target):
        return []
    sets = [f"{name}.output={_csv(e)}" for e in entries]
    if push and tags:
        sets.append(f"{name}.tags=")  # buildx adds tags to the pushed name, and tagged refs cannot go by digest
    return sets


def _tar_name(dest: str, suffix: str) -> str:
    """`out/image.tar` -> `out/image-linux_arm64.tar`."""
    stem, dot, ext = dest.rpartition(".")
    return f"{stem}-{suffix}.{ext}" if dot and "/" not in ext else f"{dest}-{suffix}"


def _bake_unit(planned: PlanUnit, plan: Plan, targets: Mapping[str, Target], options: BakeOptions, run_dir: Path,
               split: set[str], pushing: set[str]) -> Unit:
    """A plan unit as a builder-independent `docker buildx bake` invocation."""
    sets = [*options.sets, *_cache_sets(planned, options.cache)]
    digests = [t for t in planned.targets if t in pushing]
    for target in planned.targets:
        if target in split:
            sets += _split_outputs(target, targets.get(target), planned.platforms[target], target in pushing)
        elif digests and options.push:
            sets.append(f"{target}.output=type=registry")  # what --push would have done
    argv = bake_argv(planned, Node(name="-"), plan.files, docker=options.docker, sets=sets)
    names = planned.names or planned.targets  # the positional targets bake_argv ends with
    head, middle = argv[:3], argv[3: len(argv) - len(names)]
    extra: list[str] = ["--progress", options.progress]
    for value in options.vars:
        extra += ["--var", value]
    for value in options.allow:
        extra += ["--allow", value]
    if options.push and not digests:
        extra.append("--push")
    if options.load:
        extra.append("--load")
    metadata = str(run_dir / "metadata" / f"{_file_name(planned.id)}.json") if digests else ""
    if metadata:
        extra += ["--metadata-file", metadata]
    return Unit(
        id=planned.id, command=tuple(head), args=(*middle, *extra, *names), jobs=planned.jobs,
        targets=planned.targets, platforms=planned.all_platforms, deps=planned.deps,
        estimate=planned.duration, metadata=metadata,
    )


def _cache_sets(planned: PlanUnit, backend: CacheBackend | None) -> list[str]:
    """Per-target cache entries for the platforms this unit builds."""
    if backend is None:
        return []
    sets: list[str] = []
    for target in planned.targets:
        platforms = planned.platforms[target]
        platform = "+".join(platforms) if platforms else None
        sets += override_sets(target, job_refs(backend, target, platform), replace=backend.replace)
    return sets


def _merge_unit(target: str, fields: Target | None, parts: Sequence[Unit], options: BakeOptions) -> Unit | None:
    """`imagetools create -t TAG...` over the per-platform digests of `target`."""
    tags = image_names(fields)
    if not tags or not parts:
        return None
    args: list[str] = []
    for tag in tags:
        args += ["--tag", tag]
    return Unit(
        id=f"merge:{target}", command=(options.docker, "buildx", "imagetools", "create"), args=tuple(args),
        targets=(target,), platforms=(None,), deps=tuple(u.id for u in parts), estimate=1.0, kind="merge",
        merge_target=target, merge_repo=repository(tags[0]),
    )


def repository(reference: str) -> str:
    """`host:5000/ns/app:tag` -> `host:5000/ns/app` (drops tag and digest)."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name
