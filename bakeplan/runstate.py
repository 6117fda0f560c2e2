"""A run's state: where every step stands, moved on by small pure functions, kept in `state.json`.

Like dask's `local.py`, the state is one value and each event makes a new one
(`mark_started`, `mark_finished`, ...); the loop in `bakeplan.execute` applies
them and writes the state atomically after every change, so a crash or a
Ctrl-C never loses what finished. `--resume` starts from the last state:
succeeded steps are kept, with their results (the hand-over references and
pushed digests their children and merges read); everything else runs again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bakeplan.errors import BakeplanError
from bakeplan.fsutil import write_atomic
from bakeplan.record import field, record, replace

if TYPE_CHECKING:
    from bakeplan.steps import Step

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
FINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED})
STATE_VERSION = 2


@record
class StepState:
    """Where one step stands."""

    status: str = PENDING
    attempts: int = 0
    node: str = ""
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    log: str = ""
    reason: str = ""  # why it was skipped, cancelled or failed without a build error
    result: Mapping[str, str] = field(default_factory=dict)  # what a succeeded step hands on (see bakeplan.runs)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish of the last attempt."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@record
class RunState:
    """Every step's state, in plan order, whether fail-fast has tripped, and the nodes that went down.

    `down`: node -> why it was taken out of the run (its daemon stopped answering);
    a node a health probe found again keeps its entry, saying so.
    """

    steps: Mapping[str, StepState]
    stopped: bool = False
    down: Mapping[str, str] = field(default_factory=dict)

    def count(self, status: str) -> int:
        """How many steps have this status."""
        return sum(1 for s in self.steps.values() if s.status == status)

    @property
    def ok(self) -> bool:
        """Whether every step succeeded."""
        return all(s.status == SUCCEEDED for s in self.steps.values())


# ---------------------------------------------------------------- pure transitions


def start_state(steps: Sequence[Step], previous: RunState | None = None) -> RunState:
    """A fresh state; with `previous` (resume) steps that succeeded stay succeeded."""
    states: dict[str, StepState] = {}
    for step in steps:
        old = previous.steps.get(step.id) if previous is not None else None
        states[step.id] = old if old is not None and old.status == SUCCEEDED else StepState()
    return RunState(steps=states)


def mark_started(state: RunState, step_id: str, node: str, now: float, log: str) -> RunState:
    """The step is running on `node` (first attempt)."""
    old = state.steps[step_id]
    new = replace(old, status=RUNNING, attempts=old.attempts + 1, node=node, started=now,
                  finished=None, exit_code=None, log=log, reason="")
    return replace(state, steps={**state.steps, step_id: new})


def mark_retried(state: RunState, step_id: str, code: int) -> RunState:
    """The step failed with `code` and runs again in the same slot."""
    old = state.steps[step_id]
    new = replace(old, attempts=old.attempts + 1, exit_code=code, reason=f"retry after exit {code}")
    return replace(state, steps={**state.steps, step_id: new})


def mark_finished(state: RunState, step_id: str, code: int, now: float, *, fail_fast: bool = False,
                  result: Mapping[str, str] | None = None, reason: str = "") -> RunState:
    """Record the final exit code of a step and what it hands on; a failure stops the run with fail_fast.

    A `reason` is what bakeplan itself saw go wrong (the step could not
    start, or it exited 0 but did not deliver a hand-over): the step failed.
    """
    old = state.steps[step_id]
    ok = code == 0 and not reason
    new = replace(old, status=SUCCEEDED if ok else FAILED, finished=now, exit_code=code,
                  result=dict(result or {}), reason=reason)
    return replace(state, steps={**state.steps, step_id: new}, stopped=state.stopped or (fail_fast and not ok))


def mark_node_down(state: RunState, node: str, reason: str) -> RunState:
    """`node` stopped answering (`reason`): it is out of the run until a probe finds it again."""
    return replace(state, down={**state.down, node: reason})


def mark_node_up(state: RunState, node: str) -> RunState:
    """A health probe found a down `node` answering again: it is used again."""
    return replace(state, down={**state.down, node: f"{state.down.get(node, 'down')}; back after a health probe"})


def mark_moved(state: RunState, step_id: str, reason: str) -> RunState:
    """The step's node went down under it: it waits to run on another node; the lost run is not an attempt."""
    old = state.steps[step_id]
    new = replace(old, status=PENDING, attempts=max(0, old.attempts - 1), reason=reason)
    return replace(state, steps={**state.steps, step_id: new})


def mark_unplaceable(state: RunState, step_id: str, reason: str, now: float) -> RunState:
    """No node still up can build the step: it failed without a build, saying why."""
    new = replace(state.steps[step_id], status=FAILED, finished=now, reason=reason)
    return replace(state, steps={**state.steps, step_id: new})


def mark_skipped(state: RunState, step_ids: Sequence[str], reason: str) -> RunState:
    """These pending steps will not run (a step they need failed)."""
    states = dict(state.steps)
    for uid in step_ids:
        if states[uid].status == PENDING:
            states[uid] = replace(states[uid], status=SKIPPED, reason=reason)
    return replace(state, steps=states)


def mark_cancelled(state: RunState, reason: str, now: float) -> RunState:
    """Interrupted: running steps are cancelled, pending ones stay pending (resume reruns both)."""
    states = {
        uid: replace(s, status=CANCELLED, finished=now, reason=reason) if s.status == RUNNING else s
        for uid, s in state.steps.items()
    }
    return replace(state, steps=states, stopped=True)


def finish_stopped(state: RunState, reason: str = "not started (--fail-fast)") -> RunState:
    """At the end: what never started is skipped."""
    states = {
        uid: replace(s, status=SKIPPED, reason=s.reason or reason) if s.status == PENDING else s
        for uid, s in state.steps.items()
    }
    return replace(state, steps=states)


# ---------------------------------------------------------------- state files


def state_to_json(state: RunState) -> dict[str, object]:
    """The state as JSON data (stable key order)."""
    return {
        "version": STATE_VERSION,
        "stopped": state.stopped,
        "down": dict(state.down),
        "steps": {
            uid: {
                "status": s.status, "attempts": s.attempts, "node": s.node, "started": s.started,
                "finished": s.finished, "exit_code": s.exit_code, "log": s.log, "reason": s.reason, "result": dict(s.result),
            }
            for uid, s in state.steps.items()
        },
    }


def state_from_json(data: Mapping[str, object]) -> RunState:
    """Read back `state_to_json` output."""
    if not isinstance(data, Mapping):
        raise BakeplanError("the run state file is not a bakeplan state", hint="Start a new run without --resume.")
    raw = data.get("steps")
    if data.get("version") != STATE_VERSION or not isinstance(raw, dict):
        raise BakeplanError("the run state file is from another bakeplan version", hint="Start a new run without --resume.")
    steps = {str(uid): StepState(**fields) for uid, fields in raw.items()}
    down = data.get("down", {})
    if not isinstance(down, dict):
        raise BakeplanError("the run state file is not a bakeplan state", hint="Start a new run without --resume.")
    return RunState(steps=steps, stopped=bool(data.get("stopped", False)), down={str(k): str(v) for k, v in down.items()})


def write_state(path: Path, state: RunState) -> None:
    """Write the state atomically (temp file + rename), so a crash never leaves half a file."""
    try:
        write_atomic(path, (json.dumps(state_to_json(state), indent=2) + "\n").encode())
    except OSError as error:
        raise BakeplanError(f"cannot write the run state {path}: {error.strerror or error}",
                            hint="Pick a writable place with --run-dir.") from error


def read_state(path: Path) -> RunState:
    """Load a state file written by `write_state`."""
    try:
        return state_from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise BakeplanError(f"cannot read run state {path}: {error}", hint="Start a new run without --resume.") from error



def last_run_down(runs: Path) -> tuple[Path, Mapping[str, str]] | None:
    """The latest run under `runs` and the nodes that went down in it (None: no run, or an unreadable one)."""
    try:
        directory = runs / (runs / "latest").read_text().strip()
        return directory, read_state(directory / "state.json").down
    except (OSError, BakeplanError):
        return None
