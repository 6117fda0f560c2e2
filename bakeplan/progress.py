"""What `bakeplan run` shows: a live view on a terminal, plain lines elsewhere, a final summary.

`--progress auto` picks the live view on a TTY outside CI, plain lines
otherwise. The builds' own output never reaches the screen (it goes to one
log file per step); a failing step's last lines are shown. Commands are shown
with `redact()`: values of secret-looking `--var`/`--set` keys are masked.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from bakeplan.record import field, record
from bakeplan.runstate import CANCELLED, FAILED, PENDING, RUNNING, SKIPPED, SUCCEEDED, RunState, StepState
from bakeplan.steps import Step

TAIL_LINES = 12
_SECRET = re.compile(r"(secret|token|password|passwd|credential|api[_-]?key|private[_-]?key|auth)", re.IGNORECASE)
_ASSIGN_FLAGS = ("--var", "--set")


def redact(argv: Sequence[str]) -> list[str]:
    """argv with the values of secret-looking `--var NAME=V` / `--set T.args.NAME=V` masked."""
    out: list[str] = []
    after_flag = False
    for arg in argv:
        inline = next((f for f in _ASSIGN_FLAGS if arg.startswith(f + "=")), "")
        if inline:
            out.append(inline + "=" + _mask(arg[len(inline) + 1:]))
        else:
            out.append(_mask(arg) if after_flag else arg)
        after_flag = arg in _ASSIGN_FLAGS
    return out


def _mask(assignment: str) -> str:
    key, sep, value = assignment.partition("=")
    if sep and value and _SECRET.search(key.rsplit(".", 1)[-1]):
        return f"{key}{sep}***"
    return assignment


def shell_line(argv: Sequence[str]) -> str:
    """A copy-pasteable, redacted rendering of argv (for display only; never executed)."""
    import shlex

    return " ".join(shlex.quote(a) for a in redact(argv))


def log_tail(path: str, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a log file ([] when unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines()[-lines:]


def wants_live(mode: str, stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Whether `--progress MODE` means the live view here."""
    env = os.environ if env is None else env
    if mode == "tty":
        return True
    if mode != "auto":
        return False
    return stream.isatty() and env.get("CI", "").lower() not in {"true", "1"} and env.get("TERM") != "dumb"


# ---------------------------------------------------------------- plain lines


@record(frozen=False)
class PlainReporter:
    """One line per event: `[  12.3s] done app@linux/amd64 on amd64 (4.1s)`."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    total: int = 0
    _clock: Callable[[], float] = time.monotonic
    _origin: float = field(default=0.0, init=False)
    _finished: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._origin = self._clock()

    def _line(self, text: str) -> None:
        print(f"[{self._clock() - self._origin:7.1f}s] {text}", file=self.stream, flush=True)

    def started(self, step: Step, state: StepState) -> None:
        """A step started."""
        self._line(f"start  {step.label} on {state.node}")

    def finished(self, step: Step, state: StepState) -> None:
        """A step ended (or is being retried)."""
        if state.status == RUNNING:
            self._line(f"retry  {step.label} on {state.node}: {state.reason}")
            return
        if state.status == PENDING:
            self._line(f"moved  {step.label} off {state.node}: {state.reason}")
            return
        self._finished += 1
        took = f"{state.duration:.1f}s" if state.duration is not None else "-"
        count = f"{self._finished}/{self.total}" if self.total else str(self._finished)
        word = {SUCCEEDED: "done  ", FAILED: "FAILED", CANCELLED: "cancel"}.get(state.status, state.status)
        self._line(f"{word} {step.label} on {state.node} ({took}) [{count}]")
        if state.status == FAILED:
            for line in log_tail(state.log):
                print(f"    | {line}", file=self.stream)
            print(f"    log: {state.log}", file=self.stream, flush=True)

    def tick(self, state: RunState) -> None:
        """Nothing between events."""

    def close(self) -> None:
        """Nothing to tear down."""


class QuietReporter:
    """`--progress quiet`: nothing until the summary."""

    def started(self, step: Step, state: StepState) -> None:
        """Ignore."""

    def finished(self, step: Step, state: StepState) -> None:
        """Ignore."""

    def tick(self, state: RunState) -> None:
        """Ignore."""

    def close(self) -> None:
        """Nothing to tear down."""


def make_reporter(
    mode: str, steps: Sequence[Step], nodes: Sequence[str], *, live: bool, stream: IO[str] | None = None
) -> LiveReporter | PlainReporter | QuietReporter:
    """The reporter for `--progress MODE` (live: whether a live view fits the terminal)."""
    if mode == "quiet":
        return QuietReporter()
    if live:
        return LiveReporter(steps, nodes, stream=stream)
    return PlainReporter(stream=stream or sys.stdout, total=len(steps))


# ---------------------------------------------------------------- live view


class LiveReporter:
    """A rich live view: per node its running steps, elapsed and estimated remaining; overall ETA."""

    def __init__(self, steps: Sequence[Step], nodes: Sequence[str], *, stream: IO[str] | None = None,
                 _clock: Callable[[], float] = time.monotonic, _now: Callable[[], float] = time.time) -> None:
        """`_clock` times the run (as PlainReporter's); `_now` is the wall clock a step's `started` comes from."""
        from rich.console import Console
        from rich.live import Live

        self.steps = {u.id: u for u in steps}
        self.nodes = list(nodes)
        self.console = Console(file=stream or sys.stdout)
        self.state: RunState | None = None
        self._clock = _clock
        self._now = _now
        self.origin = _clock()
        self.failed_tails: list[tuple[str, list[str]]] = []
        self.live = Live(console=self.console, refresh_per_second=4, transient=True, get_renderable=self._render)
        self.live.start()

    def started(self, step: Step, state: StepState) -> None:
        """Refresh on start."""
        self.live.refresh()

    def finished(self, step: Step, state: StepState) -> None:
        """Print finished steps above the live area."""
        took = f"{state.duration:.1f}s" if state.duration is not None else "-"
        style = {SUCCEEDED: "green", FAILED: "bold red", CANCELLED: "yellow"}.get(state.status, "")
        word = {RUNNING: "retry", PENDING: "moved"}.get(state.status, state.status)
        self.console.print(f"[{style}]{word:<9}[/] {step.label} on {state.node} ({took})", highlight=False)
        if state.status == FAILED:
            for line in log_tail(state.log):
                self.console.print(f"    | {line}", markup=False, highlight=False)
            self.console.print(f"    log: {state.log}", markup=False, highlight=False)

    def tick(self, state: RunState) -> None:
        """Remember the state for the next refresh."""
        self.state = state

    def close(self) -> None:
        """Stop the live area."""
        self.live.stop()

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("node", "running", "elapsed", "remaining"):
            table.add_column(column)
        state = self.state
        if state is None:
            return table
        now = self._now()
        for node in self.nodes:
            running = [(uid, s) for uid, s in state.steps.items() if s.status == RUNNING and s.node == node]
            if not running:
                table.add_row(node, "[dim]idle[/]", "", "")
            for uid, s in running:
                elapsed = now - (s.started or now)
                remaining = max(0.0, self.steps[uid].estimate - elapsed) if uid in self.steps else 0.0
                table.add_row(node, uid, f"{elapsed:.0f}s", f"~{remaining:.0f}s")
        done = sum(1 for s in state.steps.values() if s.status not in {PENDING, RUNNING})
        eta = _eta(state, self.steps, len(self.nodes))
        table.caption = f"{done}/{len(state.steps)} done, elapsed {self._clock() - self.origin:.0f}s, ETA ~{eta:.0f}s"
        return table


def _eta(state: RunState, steps: Mapping[str, Step], nodes: int) -> float:
    """A rough remaining time: remaining estimated work spread over the nodes."""
    left = sum(steps[uid].estimate for uid, s in state.steps.items() if s.status in {PENDING, RUNNING} and uid in steps)
    return left / max(1, nodes)


# ---------------------------------------------------------------- summary


def summary_rows(state: RunState, steps: Sequence[Step]) -> list[tuple[str, str, str, str, str]]:
    """(step, result, node, duration, log) for every step, in plan order."""
    rows = []
    for step in steps:
        s = state.steps[step.id]
        result = s.status if not s.reason or s.status == SUCCEEDED else f"{s.status} ({s.reason})"
        if s.status == FAILED and not s.reason:
            result = f"failed (exit {s.exit_code})"
        if s.attempts > 1:
            result += f" after {s.attempts} attempts"
        took = f"{s.duration:.1f}s" if s.duration is not None and s.status != SKIPPED else "-"
        rows.append((step.label, result, s.node or "-", took, s.log or "-"))
    return rows


def down_lines(state: RunState) -> list[str]:
    """One line per node that went down during the run, with why (and whether it came back)."""
    return [f"node {node} went down: {reason}" for node, reason in sorted(state.down.items())]


def render_summary(state: RunState, steps: Sequence[Step], stream: IO[str], *, rich_table: bool = False) -> None:
    """The final table and a one-line verdict."""
    rows = summary_rows(state, steps)
    header = ("job", "result", "node", "duration", "log")
    if rich_table:
        from rich.console import Console
        from rich.table import Table

        table = Table(*header, title="bakeplan run")
        for row in rows:
            table.add_row(*row)
        Console(file=stream).print(table)
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        for row in (header, *rows):
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=stream)
    for line in down_lines(state):
        print(line, file=stream)
    counts = {k: state.count(k) for k in (SUCCEEDED, FAILED, SKIPPED, CANCELLED, PENDING)}
    parts = [f"{n} {k}" for k, n in counts.items() if n]
    print(f"{'ok' if state.ok else 'FAILED'}: {', '.join(parts) or 'nothing to do'}", file=stream, flush=True)
