"""Starting child processes: the real runner spawns `docker buildx ...`; tests pass a recording one.

Children run in their own session (process group), never through a shell,
with stdout and stderr appended to the step's log file, so that a SIGINT to
the group reaches buildx and everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from bakeplan.errors import ToolError
from bakeplan.record import record


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


@record(frozen=False)
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
            except OSError as error:
                raise ToolError(f"cannot start {argv[0]}: {error.strerror or error}") from error
        return ProcessHandle(popen)


def file_name(step_id: str) -> str:
    """A step id as a file name: `/`, `@` and `:` are not welcome everywhere."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in step_id)
