"""Estimates from day one: durations from the builders' own BuildKit history.

BuildKit keeps a record of every build it ran; `docker buildx history ls`
lists a builder's records and `history inspect REF --format json` shows one:
its context, Dockerfile, stage (`Target`), platforms, build args, status and
duration. The records do not name the bake target (buildx keeps that only in
its private local state), so a record is matched to the project's targets by
what it built: the same context directory, Dockerfile, stage and build args.
A record that matches gives its duration to each of the target's platforms it
built (a multi-platform build's wall time, for each of them). bakeplan's own
jobs are such builds too (one platform each, from `RUN/jobs/JOB.json`).

Only completed records count, and only those whose context is a local
directory inside the project (the bake files' directory or the working
directory): a URL context, stdin or another project's build tells nothing
about this one. Reading is best effort: a builder that is old, unreachable,
slow or forbidden gives no records, and the plan goes on without them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

from bakeplan import buildx
from bakeplan.bake.model import Target
from bakeplan.errors import BakeplanError
from bakeplan.fsutil import user_cache_dir, write_atomic
from bakeplan.jobs import NATIVE
from bakeplan.nodes import Node
from bakeplan.platforms import normalize_platform
from bakeplan.record import record as frozen_record  # `record` here is a BuildKit build record

LIMIT = 50  # newest completed records inspected per builder (BuildKit keeps about as many by default)
WORKERS = 8
BUDGET = 10.0  # seconds for all of it: after that the plan goes on with what was read

Samples = dict[str, tuple[float, ...]]


@frozen_record
class Record:
    """One completed build as `history inspect` shows it."""

    ref: str
    context: str  # relative to the directory inspect ran in, absolute outside it, or a URL
    dockerfile: str  # relative to the context, absolute outside it, or `-` (inline/stdin)
    stage: str
    platforms: tuple[str, ...]  # normalized; () when the build named none
    args: frozenset[tuple[str, str]]
    seconds: float


def completed_refs(text: str) -> list[str]:
    """The refs of the completed records in `history ls --format json` output, in its order (newest first)."""
    refs = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("status") == "Completed" and isinstance(entry.get("ref"), str):
            refs.append(entry["ref"].rsplit("/", 1)[-1])  # `builder/node/ref`: inspect takes the ref
    return refs


def parse_inspect(text: str) -> Record | None:
    """A completed record from `history inspect --format json`; None for anything else."""
    try:
        data = json.loads(text)
        if data.get("Status") != "completed" or not isinstance(data.get("Duration"), int):
            return None
        args = frozenset((str(a["Name"]), str(a["Value"])) for a in data.get("BuildArgs") or ())
        return Record(ref=str(data.get("Ref", "")), context=str(data.get("Context", "")),
                      dockerfile=str(data.get("Dockerfile", "")), stage=str(data.get("Target", "")),
                      platforms=tuple(normalize_platform(str(p)) for p in data.get("Platform") or ()),
                      args=args, seconds=data["Duration"] / 1e9)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


# A build's inputs as both sides can state them: context dir, Dockerfile path (or "-"), stage, build args.
Inputs = tuple[str, str, str, frozenset[tuple[str, str]]]


def record_inputs(record: Record, cwd: Path, roots: Sequence[Path]) -> Inputs | None:
    """What a record built, with paths made absolute; None unless its context is a local directory under `roots`."""
    if not record.context or record.context == "-" or "://" in record.context or record.context.startswith("git@"):
        return None
    context = _absolute(cwd, record.context)
    if not any(context == root or root in context.parents for root in roots):
        return None
    return (str(context), _dockerfile(context, record.dockerfile), record.stage, record.args)


def target_inputs(target: Target, cwd: Path) -> Inputs | None:
    """What a target builds, in the terms of `record_inputs`; None for a remote context."""
    fields = target.fields
    context = str(fields.get("context") or ".")
    if "://" in context or context.startswith("git@"):
        return None
    directory = _absolute(cwd, context)
    dockerfile = "-" if fields.get("dockerfile-inline") else str(fields.get("dockerfile") or "Dockerfile")
    raw = fields.get("args")
    args = frozenset((str(k), str(v)) for k, v in raw.items() if v is not None) if isinstance(raw, dict) else frozenset()
    return (str(directory), _dockerfile(directory, dockerfile), str(fields.get("target") or ""), args)


def _absolute(cwd: Path, path: str) -> Path:
    return Path(os.path.normpath(cwd / path))


def _dockerfile(context: Path, dockerfile: str) -> str:
    return "-" if dockerfile == "-" else str(_absolute(context, dockerfile))


def samples(records: Iterable[Record], targets: Mapping[str, Target], cwd: Path, roots: Sequence[Path]) -> Samples:
    """Durations per `target|platform` and `block:BLOCK|platform` (History's keys): every matching record counts."""
    by_inputs: dict[Inputs, list[Target]] = {}
    for name in sorted(targets):
        inputs = target_inputs(targets[name], cwd)
        if inputs is not None:
            by_inputs.setdefault(inputs, []).append(targets[name])
    found: dict[str, list[float]] = {}
    for record in records:
        inputs = record_inputs(record, cwd, roots)
        for target in by_inputs.get(inputs, []) if inputs else []:
            for platform in _platforms(record, target):
                for key in (f"{target.name}|{platform}", f"block:{target.block or target.name}|{platform}"):
                    found.setdefault(key, []).append(record.seconds)
    return {key: tuple(values) for key, values in sorted(found.items())}


def _platforms(record: Record, target: Target) -> list[str]:
    """The target's platforms (as the target spells them) that the record built.

    A target without platforms is one `native` job: a build of it for one
    platform, named or not (bakeplan may name its node's), is that job.
    """
    if not target.platforms:
        return [NATIVE] if len(record.platforms) <= 1 else []
    return [p for p in target.platforms if normalize_platform(p) in record.platforms]


Lister = Callable[[str | None], str]
Inspector = Callable[[str | None, str, Path], str]


def read(builders: Sequence[str | None], cwd: Path, *, limit: int = LIMIT, budget: float = BUDGET,
         _ls: Lister | None = None, _inspect: Inspector | None = None) -> list[Record]:
    """The completed records of every builder (None: buildx's current one), the newest `limit` of each.

    The calls run concurrently, each with a timeout, and none starts after
    `budget` seconds; a builder that fails or is too slow gives nothing.
    """
    deadline = time.monotonic() + budget

    def left() -> float:
        return min(buildx.HISTORY_TIMEOUT, deadline - time.monotonic())

    ls = _ls or (lambda builder: buildx.history_ls(builder, timeout=left()))
    inspect = _inspect or _remembered(lambda builder, ref, where: buildx.history_inspect(builder, ref, cwd=where,
                                                                                         timeout=left()))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        listings = list(pool.map(lambda b: _quietly(lambda: ls(b), left), builders))
        wanted: dict[str, str | None] = {}  # two builders on one daemon list the same records: inspect each once
        for builder, text in zip(builders, listings):
            for ref in completed_refs(text or "")[:limit]:
                wanted.setdefault(ref, builder)
        texts = list(pool.map(lambda item: _quietly(lambda: inspect(item[1], item[0], cwd), left), wanted.items()))
    return [record for record in map(parse_inspect, (t for t in texts if t)) if record is not None]


def _remembered(inspect: Inspector, folder: Path | None = None) -> Inspector:
    """`inspect`, answered from disk for a record seen before.

    A record never changes once completed, and `history inspect` costs a
    `docker buildx` process, so each is asked once per working directory
    (its paths are relative to it) and kept in the cache directory.
    """
    where = folder if folder is not None else (user_cache_dir(os.environ) or Path.home() / ".cache" / "bakeplan")
    root = where / "buildkit-records"

    def cached(builder: str | None, ref: str, cwd: Path) -> str:
        key = hashlib.sha256(f"{cwd}\0{ref}".encode()).hexdigest()[:32]
        path = root / f"{key}.json"
        try:
            return path.read_text()
        except OSError:
            pass
        text = inspect(builder, ref, cwd)
        if parse_inspect(text) is not None:  # only completed records: nothing half-known is kept
            with suppress(OSError):
                write_atomic(path, text.encode())
        return text

    return cached


def _quietly(call: Callable[[], str], left: Callable[[], float]) -> str | None:
    """The call's output; None when it failed or the time is up: history is only a hint."""
    if left() <= 0:
        return None
    try:
        return call()
    except (BakeplanError, OSError):
        return None


def builder_samples(targets: Mapping[str, Target], nodes: Sequence[Node], cwd: Path, project: Path, *,
                    measured: Callable[[str, str | None], bool] = lambda target, platform: False,
                    limit: int = LIMIT, budget: float = BUDGET,
                    _read: Callable[[Sequence[str | None], Path], list[Record]] | None = None) -> Samples:
    """History samples from the BuildKit history of the usable nodes' builders, for this project's targets.

    Nothing is read when bakeplan has `measured` every target on every
    platform already (reading costs a `docker buildx` call per record).
    """
    builders = list(dict.fromkeys(n.builder or None for n in nodes if n.excluded is None))
    unmeasured = [t for t in targets.values() if not all(measured(t.name, p) for p in t.platforms or (None,))]
    if not builders or not unmeasured:
        return {}
    records = _read(builders, cwd) if _read is not None else read(builders, cwd, limit=limit, budget=budget)
    return samples(records, targets, cwd, roots=[project, cwd])
