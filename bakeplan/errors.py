"""The one error base that every user-facing failure derives from.

Only `bakeplan.cli` catches these: it prints `str(error)` to stderr and exits 1 (2 for a `UsageError`).
Anything else that escapes is a bug (exit 3, rerun with --debug for the traceback).
"""

from __future__ import annotations

from collections.abc import Sequence

from bakeplan.record import record


@record
class Location:
    """A position in a bake file, 1-based like HCL's diagnostics."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class BakeplanError(Exception):
    """A failure caused by the user's input or environment, with a clear message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class UsageError(BakeplanError):
    """A malformed option value (`--node`, `--cache`, ...): exit 2, like the usage errors typer reports itself."""


class BakeFileError(BakeplanError):
    """Bad bake input: syntax, evaluation, validation. Carries where it happened."""

    def __init__(self, message: str, location: Location | None = None, *, hint: str | None = None) -> None:
        text = message if location is None else f"{location}: {message}"
        super().__init__(text, hint=hint)
        self.location = location
        self.detail = message


class CycleError(BakeplanError):
    """A dependency cycle; `path` starts and ends with the same name."""

    def __init__(self, what: str, path: Sequence[str], location: Location | None = None) -> None:
        self.path = tuple(path)
        self.location = location
        text = f"{what} cycle: {' -> '.join(self.path)}"
        super().__init__(text if location is None else f"{location}: {text}")


class NoNodeError(BakeplanError):
    """No node can build a job's platform."""

    def __init__(self, job: str, platform: str, nodes: Sequence[tuple[str, Sequence[str]]]) -> None:
        listing = "\n".join(f"  {name}: {', '.join(plats) or '(no platforms)'}" for name, plats in nodes)
        super().__init__(
            f"no node can build {job} for {platform}; nodes:\n{listing or '  (none)'}",
            hint="Declare a node for that platform (bakeplan.toml or --node) or narrow the selection.",
        )
        self.job = job
        self.platform = platform
        self.nodes = tuple((name, tuple(plats)) for name, plats in nodes)


class ToolError(BakeplanError):
    """A required external tool (docker CLI, buildx plugin, builder) is missing or unreachable."""
