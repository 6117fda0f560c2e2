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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bakeplan.errors import BakeplanError
from bakeplan.nodes import Node, usable
from bakeplan.runner import Handle, Runner, SubprocessRunner, file_name
from bakeplan.runstate import (
    SUCCEEDED, RunState, StepState, finish_stopped, mark_cancelled, mark_finished, mark_retried, mark_skipped,
    mark_started, start_state, write_state,
)
from bakeplan.schedule import DEFAULT_EMULATION_FACTOR, Problem, Task, dispatch, prepare
from bakeplan.schedule import State as SchedState
from bakeplan.schedule import fail as sched_fail
from bakeplan.schedule import finish as sched_finish
from bakeplan.schedule import retry as sched_retry
from bakeplan.schedule import start_state as sched_start
from bakeplan.steps import Step


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
    handover: float = 0.0  # seconds to read a parent's result on another node (before any is measured)
    transfers: Mapping[tuple[str, str], float] = field(default_factory=dict)  # learned, per node pair


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
    unstarted: dict[str, str] = field(default_factory=dict)  # step id -> why it could not start


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
    _now: Callable[[], float] = time.time,
) -> RunState:
    """Run the steps to completion, placing them live with `bakeplan.schedule`.

    Returns the final state, also written to `run_dir/state.json` after every change.
    """
    runner = runner or SubprocessRunner()
    reporter = reporter or NullReporter()
    (options.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    state_file = options.run_dir / "state.json"
    by_id = {step.id: step for step in steps}
    state = start_state(steps, previous)
    todo = [s for s in steps if state.steps[s.id].status != SUCCEEDED]
    problem = prepare([Task(s.id, s.estimate, s.platforms, s.deps) for s in todo], usable(nodes),
                      emulation_factor=options.emulation_factor, handover=options.handover,
                      transfers=options.transfers)
    live = _Live(problem=problem, sched=sched_start(problem, now=0.0), origin=_now())
    write_state(state_file, state)
    with _sigterm_as_interrupt():
        try:
            while True:
                if not state.stopped:
                    for placement in dispatch(problem, live.sched):
                        step = by_id[placement.task]
                        state = _start(step, placement.node, state, live, runner, options, composer, _now)
                        reporter.started(step, state.steps[step.id])
                        write_state(state_file, state)
                if not live.sched.running:
                    break
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
    state = mark_started(state, step.id, node, now(), str(log))
    try:
        argv = composer.argv(step, node, state)
        handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
    except BakeplanError as error:
        with log.open("a") as out:
            out.write(f"bakeplan: {error.message}\n" + (f"bakeplan: {error.hint}\n" if error.hint else ""))
        live.unstarted[step.id] = error.message
        live.done.put((step.id, 127, False))
        return state
    live.handles[step.id] = handle
    thread = threading.Thread(target=_waiter, args=(step.id, argv, log, handle, live, runner, options), daemon=True)
    thread.start()
    return state


def _waiter(
    step_id: str, argv: Sequence[str], log: Path, handle: Handle, live: _Live, runner: Runner, options: RunOptions
) -> None:
    """Wait for a step's process; rerun it in place while retries are left."""
    attempt = 0
    while True:
        code = handle.wait()
        if code == 0 or attempt >= options.retries or live.interrupted.is_set():
            live.done.put((step_id, code, False))
            return
        attempt += 1
        with log.open("a") as out:
            out.write(f"\nbakeplan: exit {code}; retry {attempt} of {options.retries}\n")
        live.done.put((step_id, code, True))
        with live.lock:
            if live.interrupted.is_set():
                live.done.put((step_id, code, False))
                return
            try:
                handle = runner.start(argv, log=log, cwd=options.cwd, env=options.env)
            except BakeplanError:
                live.done.put((step_id, 127, False))
                return
            live.handles[step_id] = handle


def _collect(
    state: RunState, live: _Live, options: RunOptions, reporter: Reporter,
    on_finished: Callable[[Step, StepState], None] | None, now: Callable[[], float], by_id: Mapping[str, Step],
    composer: Composer,
) -> RunState:
    """Wait a tick for an event and apply it to both states."""
    try:
        step_id, code, retrying = live.done.get(timeout=options.tick)
    except queue.Empty:
        return state
    if retrying:
        state = mark_retried(state, step_id, code)
        sched_retry(live.problem, live.sched, step_id, now() - live.origin)
        reporter.finished(by_id[step_id], state.steps[step_id])
        return state
    live.handles.pop(step_id, None)
    result, reason = _handed_on(by_id[step_id], state.steps[step_id], code, composer)
    reason = live.unstarted.pop(step_id, reason)
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
            step_id, _, retrying = live.done.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if not retrying:
            pending.discard(step_id)
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
