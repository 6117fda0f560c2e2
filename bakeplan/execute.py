"""Run steps on nodes: the live loop around `bakeplan.schedule`.

Policy. The placement is `bakeplan.schedule`'s, driven live: `dispatch()`
starts every ready step that has a node with a free slot (longest remaining
critical path first, on the node where it finishes first, near its parents'
results, balancing equivalent nodes), and `finish()` / `fail()` / `retry()`
are fed the real completion times, so the order adapts to how long builds
actually take. One step holds one slot.

What a step runs is the `Composer`'s business (`bakeplan.runs`): asked when
the step starts, on the node it got, it can see where the step's parents ran
and what they handed on. After a success it `collect`s what the step hands on
(a hand-over reference, a pushed digest), which is kept in the state.

Node faults. A step whose `docker buildx` exit says its node stopped
answering (`bakeplan.buildx.node_fault`: the daemon's connection broke, it
is gone, the builder is gone) is no build failure: the node is taken out of
the run with that reason (`schedule.node_down`), every step running there is
stopped and placed again on a node that is up, and the lost run does not
count as an attempt. While steps wait, each down node that could take one is
probed (`docker buildx inspect --bootstrap`) at most every `probe_interval`
seconds; one that answers is used again (`schedule.node_up`). A step that
no node still up can build fails, naming the down nodes, once a probe made
after they went down found them still down. A step whose node goes down
under it more than `MAX_MOVES` times fails like a build (a node that answers
probes but drops every build must not keep the run going round).

Failures. A failed step is rerun in place (same slot) up to `retries` times;
after that its dependents are skipped (transitively) and independent steps go
on. With `fail_fast` nothing new starts after the first failure. Ctrl-C /
SIGTERM: every child's process group gets SIGINT (buildx cancels its builds),
then SIGKILL after a bounded grace period; the composer drops half-written
exports; the state is written and the `KeyboardInterrupt` propagates (the CLI
exits 130).

The subprocess seam is the `runner=` keyword: tests pass a recording runner.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple, Protocol

from bakeplan.buildx import node_fault, probe_builder
from bakeplan.errors import BakeplanError
from bakeplan.nodes import Node, usable
from bakeplan.record import field, record
from bakeplan.runner import Handle, Runner, SubprocessRunner, file_name
from bakeplan.runstate import (
    SUCCEEDED,
    RunState,
    StepState,
    finish_stopped,
    mark_cancelled,
    mark_finished,
    mark_moved,
    mark_node_down,
    mark_node_up,
    mark_retried,
    mark_skipped,
    mark_started,
    mark_unplaceable,
    start_state,
    write_state,
)
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR, Problem, Task, dispatch, give_up, node_down, node_up, prepare, stranded
from bakeplan.schedule import State as SchedState
from bakeplan.schedule import fail as sched_fail
from bakeplan.schedule import finish as sched_finish
from bakeplan.schedule import retry as sched_retry
from bakeplan.schedule import start_state as sched_start
from bakeplan.steps import Step

MAX_MOVES = 3  # a step whose node goes down under it this often fails like a build
Probe = Callable[[Node], str]  # '' when the node answers, else why not


class Composer(Protocol):
    """Turns a step into its argv when it starts, and collects what it hands on when it succeeded."""

    def argv(self, step: Step, node: str, state: RunState) -> tuple[str, ...]:
        """The argv of `step` on `node`, given what has run so far (BakeplanError: it cannot start)."""

    def collect(self, step: Step, state: StepState) -> Mapping[str, str]:
        """What a succeeded step hands on (BakeplanError: it did not deliver, the step fails)."""

    def interrupted(self) -> None:
        """The run is stopping: drop anything half-written."""


# ---------------------------------------------------------------- reporting


class Reporter(Protocol):
    """Receives events as the run goes (see `bakeplan.progress`)."""

    def started(self, step: Step, state: StepState) -> None:
        """A step started."""

    def finished(self, step: Step, state: StepState) -> None:
        """A step reached a state after running (succeeded, failed, retrying, cancelled)."""

    def tick(self, state: RunState) -> None:
        """Called after every event and a few times a second while waiting."""


class NullReporter:
    """Reports nothing."""

    def started(self, step: Step, state: StepState) -> None:
        """Ignore."""

    def finished(self, step: Step, state: StepState) -> None:
        """Ignore."""

    def tick(self, state: RunState) -> None:
        """Ignore."""


@record
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
    handover: float = 0.0  # seconds to read a parent's result on another node (before any is measured)
    transfers: Mapping[tuple[str, str], float] = field(default_factory=dict)  # learned, per node pair
    docker: str = "docker"  # for the health probe of a down node
    probe_interval: float = 5.0  # seconds between two probes of one down node


EXIT, RETRY, FAULT, PROBED = "exit", "retry", "fault", "probed"


class _Event(NamedTuple):
    """What a waiter or a probe tells the loop: a step's exit (`run`: which start of it), or a probe's answer."""

    key: str  # step id (node name for PROBED)
    code: int
    kind: str  # EXIT, RETRY, FAULT (its node stopped answering: `detail` says how), PROBED
    detail: str = ""
    run: int = 0


@record(frozen=False)
class _Live:
    """The loop's mutable bits: the scheduler's state, running handles, the event queue, the nodes' health."""

    problem: Problem
    sched: SchedState
    origin: float
    handles: dict[str, Handle] = field(default_factory=dict)
    done: queue.Queue[_Event] = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)
    interrupted: threading.Event = field(default_factory=threading.Event)
    unstarted: dict[str, str] = field(default_factory=dict)  # step id -> why it could not start
    runs: dict[str, int] = field(default_factory=dict)  # step id -> its current start (older exits are stale)
    moved: dict[str, int] = field(default_factory=dict)  # step id -> how often its node went down under it
    probing: set[str] = field(default_factory=set)  # down nodes being probed now
    probed: dict[str, float] = field(default_factory=dict)  # down node -> when its last probe started (monotonic)
    checked: set[str] = field(default_factory=set)  # down nodes a probe found still down since they went down


def execute(
    steps: Sequence[Step],
    nodes: Sequence[Node],
    options: RunOptions,
    composer: Composer,
    *,
    previous: RunState | None = None,
    runner: Runner | None = None,
    reporter: Reporter | None = None,
    on_finished: Callable[[Step, StepState], None] | None = None,
    probe: Probe | None = None,
    _now: Callable[[], float] = time.time,
) -> RunState:
    """Run the steps to completion, placing them live with `bakeplan.schedule`.

    Returns the final state, also written to `run_dir/state.json` after every change.
    `probe` asks whether a down node answers again (default: `docker buildx inspect --bootstrap`).
    """
    runner = runner or SubprocessRunner()
    probe = probe or (lambda node: probe_builder(node.builder or None, docker=options.docker, env=options.env))
    reporter = reporter or NullReporter()
    (options.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    state_file = options.run_dir / "state.json"
    by_id = {step.id: step for step in steps}
    state = start_state(steps, previous)
    todo = [s for s in steps if state.steps[s.id].status != SUCCEEDED]
    problem = prepare([Task(s.id, s.estimate, s.platforms, s.deps, cpus=s.cpus, memory=s.memory) for s in todo],
                      usable(nodes),
                      emulation_factor=options.emulation_factor, handover=options.handover,
                      transfers=options.transfers)
    live = _Live(problem=problem, sched=sched_start(problem, now=0.0), origin=_now())
    write_state(state_file, state)
    with _sigterm_as_interrupt():
        try:
            while True:
                if not state.stopped:
                    _probe_down(live, probe, options)
                    before = state
                    state = _strand(state, live, reporter, on_finished, _now, by_id)
                    if state is not before:
                        write_state(state_file, state)
                    for placement in dispatch(problem, live.sched):
                        step = by_id[placement.task]
                        state = _start(step, placement.node, state, live, runner, options, composer, _now)
                        reporter.started(step, state.steps[step.id])
                        write_state(state_file, state)
                if not live.sched.running and not (live.probing and live.sched.ready):
                    break  # a probe only matters to steps still waiting for a node
                before = state
                state = _collect(state, live, options, reporter, on_finished, _now, by_id, composer)
                if state is not before:
                    write_state(state_file, state)
                reporter.tick(state)
        except BaseException as error:
            # Ctrl-C, SIGTERM, or an error while dispatching: never leave a build behind.
            live.interrupted.set()
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else f"stopped: {error}"
            state = _interrupt(state, live, options, reporter, by_id, _now, reason=reason)
            composer.interrupted()
            with suppress(BakeplanError):  # the error being raised says more than a state that cannot be written
                write_state(state_file, state)
            raise
    state = finish_stopped(state, "not started (--fail-fast)" if state.stopped else "not started")
    write_state(state_file, state)
    return state


def _start(
    step: Step, node: str, state: RunState, live: _Live, runner: Runner, options: RunOptions,
    composer: Composer, now: Callable[[], float],
) -> RunState:
    """Start one step on a node; a step that cannot even start fails like a failed build, saying why."""
    log = options.run_dir / "logs" / f"{file_name(step.id)}.log"
    log.unlink(missing_ok=True)
    moved = state.steps[step.id].reason if step.id in live.moved else ""
    state = mark_started(state, step.id, node, now(), str(log))
    run = live.runs[step.id] = live.runs.get(step.id, 0) + 1
    if moved:
        log.write_text(f"bakeplan: {moved}; running again on {node}\n")
    offset = _size(log)
    try:
        argv = composer.argv(step, node, state)
        handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
    except BakeplanError as error:
        with log.open("a") as out:
            out.write(f"bakeplan: {error.message}\n" + (f"bakeplan: {error.hint}\n" if error.hint else ""))
        live.unstarted[step.id] = error.message
        live.done.put(_Event(step.id, 127, EXIT, run=run))
        return state
    live.handles[step.id] = handle
    attempt = state.steps[step.id].attempts - 1  # build retries already used (a lost run is not one)
    thread = threading.Thread(target=_waiter, args=(step.id, run, attempt, argv, log, offset, handle, live, runner,
                                                    options), daemon=True)
    thread.start()
    return state


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _fault(code: int, log: Path, offset: int) -> str:
    """Why this run's node stopped answering, from its log past `offset` ('' for a build error)."""
    if code == 0:
        return ""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return node_fault(text.splitlines()[-40:])


def _waiter(
    step_id: str, run: int, attempt: int, argv: Sequence[str], log: Path, offset: int, handle: Handle, live: _Live,
    runner: Runner, options: RunOptions,
) -> None:
    """Wait for a step's process; rerun it in place while retries are left, unless its node stopped answering."""
    while True:
        code = handle.wait()
        with live.lock:
            if live.runs.get(step_id) != run:
                return  # moved off a down node: this run's end is no news
        fault = "" if live.interrupted.is_set() else _fault(code, log, offset)
        if fault:
            live.done.put(_Event(step_id, code, FAULT, fault, run))
            return
        if code == 0 or attempt >= options.retries or live.interrupted.is_set():
            live.done.put(_Event(step_id, code, EXIT, run=run))
            return
        attempt += 1
        with log.open("a") as out:
            out.write(f"\nbakeplan: exit {code}; retry {attempt} of {options.retries}\n")
        live.done.put(_Event(step_id, code, RETRY, run=run))
        with live.lock:
            if live.interrupted.is_set() or live.runs.get(step_id) != run:
                live.done.put(_Event(step_id, code, EXIT, run=run))
                return
            offset = _size(log)
            try:
                handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
            except BakeplanError:
                live.done.put(_Event(step_id, 127, EXIT, run=run))
                return
            live.handles[step_id] = handle


def _collect(
    state: RunState, live: _Live, options: RunOptions, reporter: Reporter,
    on_finished: Callable[[Step, StepState], None] | None, now: Callable[[], float], by_id: Mapping[str, Step],
    composer: Composer,
) -> RunState:
    """Wait a tick for an event and apply it to both states."""
    try:
        event = live.done.get(timeout=options.tick)
    except queue.Empty:
        return state
    if event.kind == PROBED:
        return _probed(state, live, event.key, event.detail, now)
    step_id, code = event.key, event.code
    if live.runs.get(step_id) != event.run:
        return state  # the end of a run on a node that went down: the step was placed again
    if event.kind == FAULT and live.moved.get(step_id, 0) < MAX_MOVES:
        return _node_lost(state, live, state.steps[step_id].node, event.detail, reporter, by_id, now)
    if event.kind == RETRY:
        state = mark_retried(state, step_id, code)
        sched_retry(live.problem, live.sched, step_id, now() - live.origin)
        reporter.finished(by_id[step_id], state.steps[step_id])
        return state
    return _ended(state, live, event, options, reporter, on_finished, now, by_id, composer)


def _ended(
    state: RunState, live: _Live, event: _Event, options: RunOptions, reporter: Reporter,
    on_finished: Callable[[Step, StepState], None] | None, now: Callable[[], float], by_id: Mapping[str, Step],
    composer: Composer,
) -> RunState:
    """A step's last run ended: it succeeded (and handed on what it should) or failed, skipping its dependents."""
    step_id, code = event.key, event.code
    live.handles.pop(step_id, None)
    result, reason = _handed_on(by_id[step_id], state.steps[step_id], code, composer)
    reason = live.unstarted.pop(step_id, reason)
    if event.kind == FAULT:
        reason = f"node {state.steps[step_id].node} went down under it {MAX_MOVES + 1} times: {event.detail}"
    at = now()
    state = mark_finished(state, step_id, code, at, fail_fast=options.fail_fast, result=result, reason=reason)
    if state.steps[step_id].status == SUCCEEDED:
        sched_finish(live.problem, live.sched, step_id, at - live.origin)
    else:
        skipped = sched_fail(live.problem, live.sched, step_id, at - live.origin)
        state = mark_skipped(state, skipped, f"{step_id} failed")
    step_state = state.steps[step_id]
    reporter.finished(by_id[step_id], step_state)
    if on_finished is not None:
        on_finished(by_id[step_id], step_state)
    return state


def _node_lost(
    state: RunState, live: _Live, node: str, reason: str, reporter: Reporter, by_id: Mapping[str, Step],
    now: Callable[[], float],
) -> RunState:
    """Take `node` out of the run: stop what runs there and send it back to be placed on a node that is up."""
    if node not in live.sched.down:
        state = mark_node_down(state, node, reason)
        live.checked.discard(node)
        live.probed.pop(node, None)  # the first probe is due at once
    for step_id in node_down(live.problem, live.sched, node, now() - live.origin):
        with live.lock:
            live.runs[step_id] += 1  # whatever that run still reports is stale
            handle = live.handles.pop(step_id, None)
        if handle is not None:
            handle.interrupt()
        _set_aside(Path(state.steps[step_id].log), node)
        live.moved[step_id] = live.moved.get(step_id, 0) + 1
        state = mark_moved(state, step_id, f"node {node} went down: {reason}")
        reporter.finished(by_id[step_id], state.steps[step_id])
    return state


def _set_aside(log: Path, node: str) -> None:
    """Keep the log of a run lost with its node beside the step's (its process may still write to it)."""
    with suppress(OSError):
        log.rename(log.with_name(f"{log.stem}.lost-on-{file_name(node)}.log"))


def _probe_down(live: _Live, probe: Probe, options: RunOptions) -> None:
    """Probe each down node some waiting step could use, at most every `probe_interval` seconds, in the background."""
    waiting = {n for key in live.sched.ready for n in key}
    for node in sorted(live.sched.down):
        last = live.probed.get(node)
        if node in live.probing or live.problem.node_index[node] not in waiting \
                or (last is not None and time.monotonic() - last < options.probe_interval):
            continue
        live.probing.add(node)
        live.probed[node] = time.monotonic()
        found = live.problem.nodes[live.problem.node_index[node]]
        threading.Thread(target=_prober, args=(found, probe, live), daemon=True).start()


def _prober(node: Node, probe: Probe, live: _Live) -> None:
    try:
        answer = probe(node)
    except Exception as error:  # noqa: BLE001 - a probe that breaks says the node is not back
        answer = f"probe failed: {error}"
    live.done.put(_Event(node.name, 0, PROBED, answer))


def _probed(state: RunState, live: _Live, node: str, answer: str, now: Callable[[], float]) -> RunState:
    """A probe answered: a node that answers is used again; one that does not stays down."""
    live.probing.discard(node)
    if node not in live.sched.down:
        return state
    if answer:
        live.checked.add(node)
        return state
    node_up(live.problem, live.sched, node, now() - live.origin)
    live.checked.discard(node)
    return mark_node_up(state, node)


def _strand(
    state: RunState, live: _Live, reporter: Reporter, on_finished: Callable[[Step, StepState], None] | None,
    now: Callable[[], float], by_id: Mapping[str, Step],
) -> RunState:
    """Fail each waiting step that no node still up can build, once probes found all its nodes still down."""
    problem = live.problem
    for step_id in stranded(problem, live.sched):
        nodes = [problem.nodes[n].name for n, _ in problem.capable[problem.index[step_id]]]
        if any(n not in live.checked or n in live.probing for n in nodes):
            continue
        at = now()
        skipped = give_up(problem, live.sched, step_id, at - live.origin)
        down = ", ".join(f"{n} ({state.down.get(n, 'down')})" for n in nodes)
        state = mark_unplaceable(state, step_id, f"no healthy node left for it: down are {down}", at)
        state = mark_skipped(state, skipped, f"{step_id} failed")
        reporter.finished(by_id[step_id], state.steps[step_id])
        if on_finished is not None:
            on_finished(by_id[step_id], state.steps[step_id])
    return state


def _handed_on(step: Step, state: StepState, code: int, composer: Composer) -> tuple[Mapping[str, str], str]:
    """What a succeeded step hands on, or (nothing, why it failed to deliver)."""
    if code != 0:
        return {}, ""
    try:
        return composer.collect(step, state), ""
    except BakeplanError as error:
        with open(state.log, "a") as out:
            out.write(f"bakeplan: {error.message}\n" + (f"bakeplan: {error.hint}\n" if error.hint else ""))
        return {}, error.message


def _interrupt(
    state: RunState, live: _Live, options: RunOptions, reporter: Reporter,
    by_id: Mapping[str, Step], now: Callable[[], float], *, reason: str = "interrupted",
) -> RunState:
    """Stop every child: SIGINT, bounded wait, SIGKILL; record them as cancelled."""
    with live.lock:
        running = dict(live.handles)
    for handle in running.values():
        handle.interrupt()
    pending = set(running)
    deadline = time.monotonic() + options.grace
    pending = _drain(live, pending, deadline)
    for step_id in pending:
        live.handles[step_id].kill()
    _drain(live, pending, time.monotonic() + 5.0)
    state = mark_cancelled(state, reason, now())
    for step_id in running:
        reporter.finished(by_id[step_id], state.steps[step_id])
    return state


def _drain(live: _Live, pending: set[str], deadline: float) -> set[str]:
    """Collect exits until every pending step ended or the deadline passed; what is left."""
    pending = set(pending)
    while pending and time.monotonic() < deadline:
        try:
            event = live.done.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event.kind in (EXIT, FAULT) and live.runs.get(event.key) == event.run:
            pending.discard(event.key)
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
