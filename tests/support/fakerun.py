"""A recording runner and a fake composer, to drive the run loop (`bakeplan.execute`) without processes."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeplan.errors import BakeplanError
from bakeplan.execute import NullReporter, RunOptions, execute
from bakeplan.nodes import Node
from bakeplan.runstate import RunState, StepState
from bakeplan.steps import BAKE, Step

AMD, ARM = "linux/amd64", "linux/arm64"
NODES = (
    Node(name="amd", builder="b-amd", platforms=(AMD,), slots=1),
    Node(name="arm", builder="b-arm", platforms=(ARM,), slots=1),
)


def step(sid: str, *, deps: tuple[str, ...] = (), platform: str | None = AMD, estimate: float = 1.0,
         kind: str = BAKE) -> Step:
    return Step(sid, kind, sid, (platform,), deps, estimate)


@dataclass
class FakeComposer:
    """Composes `build STEP --on NODE`; hands on `results[STEP]`; `refuse`/`undelivered` raise at start/collect."""

    results: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    refuse: Mapping[str, BakeplanError] = field(default_factory=dict)
    undelivered: Mapping[str, BakeplanError] = field(default_factory=dict)
    composed: list[tuple[str, str, StepState, dict[str, Mapping[str, str]]]] = field(default_factory=list)
    interruptions: int = 0

    def argv(self, step: Step, node: str, state: RunState) -> tuple[str, ...]:
        deps = {dep: state.steps[dep].result for dep in step.deps}
        self.composed.append((step.id, node, state.steps[step.id], deps))
        if step.id in self.refuse:
            raise self.refuse[step.id]
        return ("build", step.id, "--on", node)

    def collect(self, step: Step, state: StepState) -> Mapping[str, str]:
        if step.id in self.undelivered:
            raise self.undelivered[step.id]
        return self.results.get(step.id, {})

    def interrupted(self) -> None:
        self.interruptions += 1


@dataclass
class FakeHandle:
    """Exits with `code` once its gate opens (at once without a gate); tells the runner when it exits."""

    code: int
    gate: threading.Event | None
    exited: Callable[[], bool]  # whether its node was down
    interrupted: bool = False

    def wait(self) -> int:
        if self.gate is not None:
            self.gate.wait(timeout=10)
        down = self.exited()
        return 130 if self.interrupted else 1 if down else self.code

    def interrupt(self) -> None:
        self.interrupted = True
        if self.gate is not None:
            self.gate.set()

    def kill(self) -> None:
        self.interrupt()


@dataclass
class RecordingRunner:
    """Records every argv and how many processes run on each node at once.

    Exit codes come from `codes` (step id -> one code per attempt, the last
    repeats); `gates` hold a step's processes until set; with `hold` every
    process waits until `release_one()`. A process that ends while its node
    is in `faults` prints buildx's error for a lost node and exits 1.
    """

    codes: Mapping[str, list[int]] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)
    gates: Mapping[str, threading.Event] = field(default_factory=dict)
    hold: bool = False
    started: list[tuple[str, ...]] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)
    most: dict[str, int] = field(default_factory=dict)
    held: list[threading.Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> FakeHandle:
        step_id, node = argv[1], argv[3]
        with self.lock:
            self.started.append(tuple(argv))
            self.running[node] = self.running.get(node, 0) + 1
            self.most[node] = max(self.most.get(node, 0), self.running[node])
            attempts = sum(1 for a in self.started if a[1] == step_id)
        with log.open("a") as out:
            out.write(f"ran {' '.join(argv)}\n")
        codes = self.codes.get(step_id, [0])
        gate = self.gates.get(step_id)
        if self.hold:
            gate = threading.Event()
            self.held.append(gate)
        return FakeHandle(codes[min(attempts, len(codes)) - 1], gate, lambda: self._exited(node, log))

    def _exited(self, node: str, log: Path) -> bool:
        with self.lock:
            self.running[node] -= 1
            fault = self.faults.get(node)
        if fault:
            with log.open("a") as out:
                out.write(f"ERROR: {fault}\n")
        return bool(fault)

    def release_one(self) -> None:
        """Let the oldest held process exit."""
        waiting = [gate for gate in self.held if not gate.is_set()]
        if waiting:
            waiting[0].set()


def run(tmp_path: Path, steps: Sequence[Step], runner: RecordingRunner | None = None,
        composer: FakeComposer | None = None, *, nodes: Sequence[Node] = NODES, previous: RunState | None = None,
        reporter: NullReporter | None = None, on_finished: Callable[[Step, StepState], None] | None = None,
        probe: Callable[[Node], str] | None = None, **options: object) -> RunState:
    settings = {"tick": 0.01, "grace": 2.0, "probe_interval": 0.01, **options}
    return execute(steps, nodes, RunOptions(run_dir=tmp_path / "run", **settings),  # type: ignore[arg-type]
                   composer or FakeComposer(), previous=previous, runner=runner or RecordingRunner(),
                   reporter=reporter, on_finished=on_finished, probe=probe or still_down,
                   _now=itertools.count(100).__next__)


def still_down(node: Node) -> str:
    """A health probe that never finds a node again."""
    return "context deadline exceeded"


def ran(runner: RecordingRunner) -> list[str]:
    return [argv[1] for argv in runner.started]


def statuses(state: RunState) -> dict[str, str]:
    return {sid: s.status for sid, s in state.steps.items()}


def release_after(first: str, gate: threading.Event) -> Callable[[Step, StepState], None]:
    """An on_finished hook: once `first` has ended (as the loop saw it), let the gated step exit."""
    def hook(done: Step, state: StepState) -> None:
        if done.id == first:
            gate.set()
    return hook


def log_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / "run" / "logs" / f"{name}.log").read_text()


class ReleaseOnTick(NullReporter):
    """Lets one held process exit per tick of the loop, so every free slot is taken before anything ends."""

    def __init__(self, runner: RecordingRunner) -> None:
        self.runner = runner

    def tick(self, state: RunState) -> None:
        self.runner.release_one()
