"""Learned job durations: what earlier runs measured, robust to outliers.

Samples are kept per (target, platform) — the last `KEEP` of them — and the
estimate is their median, which one slow run (a cold cache, a busy host) or
one instant run (everything cached) cannot drag far. A job never seen before
borrows from its matrix siblings (same block label and platform, then same
block on any platform), else the default.

Stored as JSON (`history.json` in the cache directory), written atomically
(temporary file + rename) so a crash never leaves half a file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeplan.fsutil import user_cache_dir, write_atomic
from bakeplan.jobs import NATIVE, Job

DEFAULT_SECONDS = 60.0
KEEP = 9  # samples kept per key: odd, so the median is a sample
VERSION = 1


@dataclass(frozen=True, slots=True)
class History:
    """Duration samples (seconds) keyed by `target|platform` and `block|platform` (`native` for none)."""

    samples: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    default: float = DEFAULT_SECONDS

    def estimate(self, job: Job) -> float:
        """The estimated duration of a job in seconds."""
        platform = job.platform or NATIVE
        for key in (_key(job.target, platform), _key("block:" + job.block, platform)):
            if self.samples.get(key):
                return statistics.median(self.samples[key])
        siblings = [statistics.median(v) for k, v in sorted(self.samples.items()) if k.startswith(f"block:{job.block}|") and v]
        return statistics.median(siblings) if siblings else self.default

    def record(self, job: Job, seconds: float) -> History:
        """A new history with one more measurement of `job`."""
        if seconds < 0 or seconds != seconds:
            return self
        platform = job.platform or NATIVE
        samples = dict(self.samples)
        for key in (_key(job.target, platform), _key("block:" + job.block, platform)):
            samples[key] = (*samples.get(key, ()), float(seconds))[-KEEP:]
        return History(samples, self.default)


    def record_transfer(self, source: str, dest: str, seconds: float) -> History:
        """A new history with one more measured hand-over import from node `source` to node `dest`."""
        return self._add(_key(_HANDOVER + source, dest), seconds)

    def record_export(self, seconds: float) -> History:
        """A new history with one more measured export of a result for hand-over."""
        return self._add(_EXPORT, seconds)

    def transfers(self) -> dict[tuple[str, str], float]:
        """Learned hand-over seconds per (source node, destination node)."""
        found = {}
        for key, values in self.samples.items():
            if key.startswith(_HANDOVER) and values:
                source, _, dest = key[len(_HANDOVER):].rpartition("|")
                found[(source, dest)] = statistics.median(values)
        return found

    def handover_default(self, default: float) -> float:
        """Hand-over seconds between nodes never measured together: the median of all pairs, else `default`."""
        known = list(self.transfers().values())
        return statistics.median(known) if known else default

    def export_default(self, default: float = 1.0) -> float:
        """Seconds a job spends exporting its result for hand-over."""
        values = self.samples.get(_EXPORT)
        return statistics.median(values) if values else default

    def _add(self, key: str, seconds: float) -> History:
        if seconds < 0 or seconds != seconds:
            return self
        return History({**self.samples, key: (*self.samples.get(key, ()), float(seconds))[-KEEP:]}, self.default)


_HANDOVER = "handover:"
_EXPORT = "export:|*"


def _key(name: str, platform: str) -> str:
    return f"{name}|{platform}"


def default_path(env: Mapping[str, str] | None = None, *, project: Path | None = None) -> Path:
    """`$BAKEPLAN_CACHE_DIR/history.json`, else `$XDG_CACHE_HOME/bakeplan/history.json`, else ~/.cache/...

    With a `project` (the bake files' directory) the file is `history-<hash>.json`
    beside it: durations are keyed by target and platform, and two projects
    that both have an `app` target must not share estimates.
    """
    env = os.environ if env is None else env
    if env.get("BAKEPLAN_CACHE_DIR"):
        base = Path(env["BAKEPLAN_CACHE_DIR"])
    else:
        base = user_cache_dir(env) or Path.home() / ".cache" / "bakeplan"  # no HOME: the password database's
    if project is None:
        return base / "history.json"
    digest = hashlib.sha256(str(project).encode()).hexdigest()[:16]
    return base / f"history-{digest}.json"


def project_dir(files: Sequence[str] | None, cwd: Path) -> Path:
    """The project a bake invocation belongs to: the first bake file's directory, else the working directory."""
    first = (cwd / files[0]) if files else cwd / "docker-bake.hcl"
    return first.resolve().parent


def load(path: Path, *, default: float = DEFAULT_SECONDS) -> History:
    """The history stored at `path`; empty when absent or unreadable (it is only a hint)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return History(default=default)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return History(default=default)
    raw = data.get("samples", {})
    if not isinstance(raw, dict):
        return History(default=default)
    samples = {
        str(k): tuple(float(x) for x in v if isinstance(x, (int, float)))[-KEEP:]
        for k, v in sorted(raw.items()) if isinstance(v, list)
    }
    return History(samples, default)


def save(history: History, path: Path) -> None:
    """Write the history atomically (temporary file in the same directory, then rename)."""
    data = {"version": VERSION, "samples": {k: list(v) for k, v in sorted(history.samples.items())}}
    write_atomic(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def record_all(history: History, measured: Sequence[tuple[Job, float]]) -> History:
    """Record several measurements, in order."""
    for job, seconds in measured:
        history = history.record(job, seconds)
    return history
