"""Learned job durations: what earlier runs measured, robust to outliers.

Samples are kept per (target, platform) — the last `KEEP` of them — and the
estimate is their median, which one slow run (a cold cache, a busy host) or
one instant run (everything cached) cannot drag far. A job never seen before
borrows from its matrix siblings (same block label and platform, then same
block on any platform), else the default.

Samples from the builders' own BuildKit history (`bakeplan.buildhistory`)
fill in where bakeplan has measured nothing: at each step above bakeplan's
own samples come first, then the builders'. They are read afresh for every
plan and never saved, so nothing stale outlives the builders' records.

Each sample keeps the node it ran on. Node speeds (`speeds`) come from jobs
measured on more than one node: duration = the job's own size x the node's
slowness, fitted on the logarithms with medians (robust, like the
estimates), so a node whose jobs take 1.6 times as long as the same jobs
elsewhere gets speed 0.62 and the others about 1. A node needs `MIN_COMPARED`
such jobs before its speed counts as learned. Estimates are then made
node-neutral: each sample is scaled by the speed of the node that measured
it, and the scheduler divides by the speed of the node it plans on.

After each run the planned and measured seconds are kept too (per job, and
the makespan from first job start to last job end) for the last `RUNS` runs,
so `plan` can say how far its estimates tend to be off (`estimate_error`).

Stored as JSON (`history.json` in the cache directory), written atomically
(temporary file + rename) so a crash never leaves half a file behind. The
`runs` and `nodes` keys were added later and are optional: older files load
without them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from bakeplan.fsutil import user_cache_dir, write_atomic
from bakeplan.jobs import NATIVE, Job
from bakeplan.record import field, record, replace

DEFAULT_SECONDS = 60.0
OWN, BUILDERS, DEFAULT = "history", "builders", "default"  # where an estimate came from
KEEP = 9  # samples kept per key: odd, so the median is a sample
RUNS = 5  # runs whose planned-versus-actual seconds are kept
VERSION = 1
MIN_COMPARED = 2  # jobs a node must share with other nodes before its speed is learned
MIN_SECONDS = 1.0  # shorter jobs (all cached) say more about overheads than about a node's speed


@record
class RunAccuracy:
    """One run's planned versus actual seconds: per job id, and for the makespan (None: not comparable)."""

    jobs: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    makespan: tuple[float, float] | None = None


@record
class EstimateError:
    """How far the estimates of the last `runs` runs were off, as fractions of the planned seconds.

    `per_job`: the median absolute relative error over every job of those runs;
    `makespan`: the signed mean relative error of their makespans (positive: late).
    """

    runs: int
    per_job: float | None
    makespan: float | None


@record
class History:
    """Duration samples (seconds) keyed by `target|platform` and `block|platform` (`native` for none)."""

    samples: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    default: float = DEFAULT_SECONDS
    # The same keys, read from the builders' BuildKit history; a fallback, never saved.
    builders: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    # Planned versus actual seconds of the last `RUNS` runs, oldest first.
    runs: tuple[RunAccuracy, ...] = ()
    # Per key of `samples`: the node each of its last samples ran on ('' : not known), aligned at the end.
    placed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Caches, filled on first use (`replace` starts them afresh).
    _speeds: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    _neutral: dict[str, tuple[float, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def estimate(self, job: Job) -> float:
        """The estimated duration of a job in seconds."""
        return self.explain(job)[0]

    def source(self, job: Job) -> str:
        """Where a job's estimate comes from: `history` (bakeplan's runs), `builders` (BuildKit's) or `default`."""
        return self.explain(job)[1]

    def explain(self, job: Job) -> tuple[float, str]:
        """A job's estimate and its source: the job itself, its block on its platform, then its block anywhere."""
        platform = job.platform or NATIVE
        own = self.neutral()
        # A platform-less target's job takes the builder's default (`Job.default`): samples from before
        # that, and BuildKit's records of it, are under `native`.
        keys = (_key(job.target, platform), *((_key(job.target, NATIVE),) if job.default else ()),
                _key("block:" + job.block, platform), *((_key("block:" + job.block, NATIVE),) if job.default else ()))
        for key in (*keys, None):
            for samples, source in ((own, OWN), (self.builders, BUILDERS)):
                found = _median(samples, key) if key else _siblings(samples, job.block)
                if found is not None:
                    return found, source
        return self.default, DEFAULT

    def speeds(self) -> dict[str, float]:
        """Learned speed per node name (1: as fast as the others; 0.625: jobs take 1.6 times as long)."""
        if "" not in self._speeds:
            self._speeds.update(learn_speeds(self.samples, self.placed))
            self._speeds[""] = 1.0  # marks the cache filled: no node has an empty name
        return {node: speed for node, speed in self._speeds.items() if node}

    def neutral(self) -> Mapping[str, tuple[float, ...]]:
        """Job samples as on a node of speed 1: each scaled by the speed of the node that measured it."""
        speeds = self.speeds()
        if not speeds or not self.samples:
            return self.samples
        if not self._neutral:
            self._neutral.update((key, tuple(s * speeds.get(n, 1.0) for s, n in zip(values, self.nodes_of(key))))
                                 for key, values in self.samples.items())
        return self._neutral

    def nodes_of(self, key: str) -> tuple[str, ...]:
        """The node of each sample of `key` ('' where it was not recorded)."""
        count = len(self.samples.get(key, ()))
        known = self.placed.get(key, ())[-count:] if count else ()
        return ("",) * (count - len(known)) + tuple(known)

    def measured(self, target: str, platform: str | None) -> bool:
        """Whether bakeplan itself has measured this target on this platform."""
        return bool(self.samples.get(_key(target, platform or NATIVE)))

    def with_builders(self, samples: Mapping[str, tuple[float, ...]]) -> History:
        """This history with the builders' samples as the fallback (replacing any earlier ones)."""
        return replace(self, builders=dict(samples))

    def record(self, job: Job, seconds: float, node: str = "") -> History:
        """A new history with one more measurement of `job`, made on `node`."""
        if seconds < 0 or seconds != seconds:
            return self
        platform = job.platform or NATIVE
        samples, placed = dict(self.samples), dict(self.placed)
        for key in (_key(job.target, platform), _key("block:" + job.block, platform)):
            if node or key in placed:  # keys never measured on a known node stay out of `placed`
                placed[key] = (*self.nodes_of(key), node)[-KEEP:]
            samples[key] = (*samples.get(key, ()), float(seconds))[-KEEP:]
        return replace(self, samples=samples, placed=placed)

    def record_run(self, accuracy: RunAccuracy) -> History:
        """A new history with one more run's planned-versus-actual seconds (a run with none is not kept)."""
        if not accuracy.jobs and accuracy.makespan is None:
            return self
        return replace(self, runs=(*self.runs, accuracy)[-RUNS:])

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
        return replace(self, samples={**self.samples, key: (*self.samples.get(key, ()), float(seconds))[-KEEP:]})


_HANDOVER = "handover:"
_EXPORT = "export:|*"


def _key(name: str, platform: str) -> str:
    return f"{name}|{platform}"


def learn_speeds(samples: Mapping[str, tuple[float, ...]], placed: Mapping[str, tuple[str, ...]],
                 *, rounds: int = 20) -> dict[str, float]:
    """Each node's speed from jobs measured on several nodes: log seconds = job size + node slowness.

    Alternating medians over the jobs' per-node medians (logarithms), the
    slownesses centred on 0, so that speeds are relative to the typical node.
    Only nodes sharing `MIN_COMPARED` jobs with another node get one.
    """
    rows = _comparable(samples, placed)
    counts: dict[str, int] = {}
    for row in rows:
        for node in row:
            counts[node] = counts.get(node, 0) + 1
    slow = dict.fromkeys(sorted(counts), 0.0)
    for _ in range(rounds):
        sizes = [statistics.fmean(v - slow[n] for n, v in row.items()) for row in rows]
        for node in slow:
            slow[node] = statistics.median(row[node] - size for row, size in zip(rows, sizes) if node in row)
        centre = statistics.fmean(slow.values()) if slow else 0.0
        slow = {node: value - centre for node, value in slow.items()}
    return {node: round(math.exp(-value), 3) for node, value in slow.items() if counts[node] >= MIN_COMPARED}


def _comparable(samples: Mapping[str, tuple[float, ...]], placed: Mapping[str, tuple[str, ...]]) -> list[dict[str, float]]:
    """Per job key measured on at least two nodes: node -> log of its median seconds there.

    The block key of a target alone in its block (same name) repeats that
    target's samples: it is left out.
    """
    rows: list[dict[str, float]] = []
    for key in sorted(placed):
        values = samples.get(key, ())
        twin = key.removeprefix("block:")
        if twin != key and samples.get(twin) == values and placed.get(twin) == placed[key]:
            continue
        nodes = placed[key][-len(values):] if values else ()
        by_node: dict[str, list[float]] = {}
        for seconds, node in zip(values[len(values) - len(nodes):], nodes):
            if node and seconds >= MIN_SECONDS:
                by_node.setdefault(node, []).append(seconds)
        row = {node: math.log(statistics.median(v)) for node, v in sorted(by_node.items())}
        if len(row) >= 2:
            rows.append(row)
    return rows


def _median(samples: Mapping[str, tuple[float, ...]], key: str) -> float | None:
    """The median of a key's samples, None without any."""
    values = samples.get(key)
    return statistics.median(values) if values else None


def _siblings(samples: Mapping[str, tuple[float, ...]], block: str) -> float | None:
    """The median of a block's per-platform medians (a matrix sibling on any platform)."""
    found = [statistics.median(v) for k, v in sorted(samples.items()) if k.startswith(f"block:{block}|") and v]
    return statistics.median(found) if found else None


def estimate_error(runs: Sequence[RunAccuracy]) -> EstimateError | None:
    """How far planned seconds were from actual ones in these runs; None without any comparable pair."""
    per_job = [_relative(*pair) for run in runs for pair in run.jobs.values() if pair[0] > 0]
    makespans = [_relative(*run.makespan) for run in runs if run.makespan is not None and run.makespan[0] > 0]
    if not per_job and not makespans:
        return None
    compared = sum(any(planned > 0 for planned, _ in (*run.jobs.values(), run.makespan or (0.0, 0.0))) for run in runs)
    return EstimateError(compared, statistics.median(abs(e) for e in per_job) if per_job else None,
                         statistics.fmean(makespans) if makespans else None)


def _relative(planned: float, actual: float) -> float:
    """The signed error of `planned` as a fraction of it (positive: it took longer)."""
    return (actual - planned) / planned


def default_path(env: Mapping[str, str] | None = None, *, project: Path | None = None) -> Path:
    """`history.json` in bakeplan's cache folder (`bakeplan.fsutil.cache_home`).

    With a `project` (the bake files' directory) the file is `history-<hash>.json`
    beside it: durations are keyed by target and platform, and two projects
    that both have an `app` target must not share estimates.
    """
    env = os.environ if env is None else env
    base = user_cache_dir(env) or Path.home() / ".cache" / "bakeplan"  # no home at all: Path.home() says so
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
    raw_runs = data.get("runs", [])  # absent before planned-versus-actual was kept
    runs = [run for run in map(_load_run, raw_runs if isinstance(raw_runs, list) else ()) if run.jobs or run.makespan]
    return History(samples, default, runs=tuple(runs[-RUNS:]), placed=_load_nodes(data.get("nodes"), samples))


def _load_nodes(raw: object, samples: Mapping[str, tuple[float, ...]]) -> dict[str, tuple[str, ...]]:
    """The stored node of each sample (absent before nodes were kept); anything of the wrong shape is left out."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): tuple(v)[-len(samples[k]):] for k, v in sorted(raw.items())
            if k in samples and samples[k] and isinstance(v, list) and all(isinstance(x, str) for x in v)}


def _load_run(raw: object) -> RunAccuracy:
    """One stored run's planned-versus-actual pairs; anything of the wrong shape is left out."""
    if not isinstance(raw, dict):
        return RunAccuracy()
    jobs = raw.get("jobs")
    pairs = {str(k): pair for k, v in sorted(jobs.items()) if (pair := _pair(v)) is not None} \
        if isinstance(jobs, dict) else {}
    return RunAccuracy(pairs, _pair(raw.get("makespan")))


def _pair(raw: object) -> tuple[float, float] | None:
    """`[planned, actual]` as stored, None when it is not two numbers."""
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, (int, float)) for x in raw):
        return float(raw[0]), float(raw[1])
    return None


def _dump_run(run: RunAccuracy) -> dict[str, object]:
    data: dict[str, object] = {"jobs": {k: list(v) for k, v in sorted(run.jobs.items())}}
    if run.makespan is not None:
        data["makespan"] = list(run.makespan)
    return data


def save(history: History, path: Path) -> None:
    """Write the history atomically (temporary file in the same directory, then rename)."""
    data: dict[str, object] = {"version": VERSION, "samples": {k: list(v) for k, v in sorted(history.samples.items())}}
    if history.runs:
        data["runs"] = [_dump_run(run) for run in history.runs]
    if history.placed:
        data["nodes"] = {k: list(history.nodes_of(k)) for k in sorted(history.placed) if k in history.samples}
    write_atomic(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def record_all(history: History, measured: Sequence[tuple[Job, float]]) -> History:
    """Record several measurements, in order."""
    for job, seconds in measured:
        history = history.record(job, seconds)
    return history
