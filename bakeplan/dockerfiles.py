"""Where a job's RUN steps run: the platform a node must have to build it natively.

A job builds its target for one platform, but BuildKit runs each stage's
`RUN` steps on that stage's platform, which is not always the target's:

    FROM --platform=$BUILDPLATFORM golang AS build    # runs on the node's own platform
    RUN GOARCH=$TARGETARCH go build -o /out/app .
    FROM scratch                                       # the target platform: nothing runs
    COPY --from=build /out/app /

A job whose `RUN` steps all run in stages on `$BUILDPLATFORM` (the Go and
tonistiigi/xx cross-compilation pattern), or that runs nothing at all, builds
any target platform at native speed on any node: it may go to an idle node of
another platform. A job that runs steps in a target-platform stage needs a
node of its platform, or pays for emulation; a stage `FROM --platform=linux/amd64`
needs that platform.

The Dockerfile is read with BuildKit's own parser (the `dockerfile` package:
line continuations, heredocs and flags exactly as BuildKit splits them). From
the target's stage (`target`, else the last) the walk follows `FROM <stage>`,
`COPY --from=<stage>` and `RUN --mount=from=<stage>`; a named context replaces
the stage or image of its name, as BuildKit's frontend does, and is not
followed (a `target:` context is its own job). Where the Dockerfile cannot be
read (a remote context, a missing file, another frontend) the job is assumed
to run on its target platform, which is always safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from bakeplan.bake.model import Target
from bakeplan.platforms import normalize_platform
from bakeplan.record import record

_BUILD, _TARGET = "\0build", "\0target"  # what $BUILDPLATFORM / $TARGETPLATFORM expand to
_AUTOMATIC = {
    "BUILDPLATFORM": _BUILD, "BUILDOS": _BUILD, "BUILDARCH": _BUILD, "BUILDVARIANT": _BUILD,
    "TARGETPLATFORM": _TARGET, "TARGETOS": _TARGET, "TARGETARCH": _TARGET, "TARGETVARIANT": _TARGET,
}
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-+][^}]*)?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_FRONTENDS = re.compile(r"^(docker\.io/)?(docker/dockerfile|docker/dockerfile-upstream)(:|@|$)")


@record
class Execution:
    """Where a job's RUN steps run.

    `target`: some RUN runs on the target platform (a node of that platform,
    or emulation). `fixed`: platforms named literally by `FROM --platform=`
    stages that run steps. `build`: some stage runs on the build platform
    (the node's own), so what is cached depends on the node's platform.
    `known`: the Dockerfile was read (otherwise `target` is assumed).
    `reason`: one sentence for `plan`, with the Dockerfile's location.
    """

    target: bool
    fixed: tuple[str, ...] = ()
    build: bool = False
    known: bool = True
    reason: str = ""

    @property
    def anywhere(self) -> bool:
        """No RUN step needs a particular platform: any node builds the job natively."""
        return not self.target and not self.fixed

    def platforms(self, platform: str | None) -> tuple[str | None, ...]:
        """The platforms a node must build to run the job for `platform` ((None,): any node)."""
        needed: list[str | None] = [platform] if self.target else []
        needed += [p for p in self.fixed if p != platform]
        return tuple(needed) or (None,)


UNREAD_REMOTE = Execution(target=True, known=False, reason="the Dockerfile is in a remote context: assumed to run on the target platform")


@record
class _Stage:
    index: int
    name: str  # lower-cased, "" when unnamed
    base: str  # the FROM image or stage name (as written)
    platform: str  # the raw --platform value ("" when absent)
    line: int
    runs: tuple[int, ...]  # lines of its RUN instructions
    sources: tuple[str, ...]  # --from names of COPY and RUN --mount, as written


def classify(target: Target, cwd: Path, platform: str | None = None) -> Execution:
    """How the target's Dockerfile runs for `platform` (None: not known yet): read, walked from the target stage, classified.

    Each file is read and parsed once per process; a classification is kept
    per Dockerfile, stage, named contexts, platform and the build args its
    FROM lines refer to (a matrix of thousands of targets walks it a few times).
    """
    fields = target.fields
    inline = fields.get("dockerfile-inline")
    if isinstance(inline, str):
        text, shown = inline, "dockerfile-inline of target " + repr(target.name)
    else:
        context = str(fields.get("context") or ".")
        dockerfile = str(fields.get("dockerfile") or "Dockerfile")
        if _remote(context) or _remote(dockerfile):
            return UNREAD_REMOTE
        path, shown = _locate(str(cwd), context, dockerfile)
        read = _read(path)
        if isinstance(read, OSError):
            return Execution(target=True, known=False,
                             reason=f"{shown}: cannot read it ({read.strerror}): assumed to run on the target platform")
        text = read
    syntax = _syntax(text)
    if syntax and not _FRONTENDS.match(syntax):
        return Execution(target=True, known=False, reason=f"{shown}: frontend {syntax}: assumed to run on the target platform")
    parsed = _parse(text)
    if isinstance(parsed, str):
        return Execution(target=True, known=False, reason=f"{shown}: {parsed}: assumed to run on the target platform")
    names = parsed[2]
    args = tuple(sorted((str(k), str(v)) for k, v in dict(fields.get("args") or {}).items() if v is not None and k in names))
    contexts = tuple(sorted(name.lower() for name in target.contexts))
    return _classify(text, shown, str(fields.get("target") or ""), contexts, args, platform)


@lru_cache(maxsize=256)
def _locate(cwd: str, context: str, dockerfile: str) -> tuple[str, str]:
    """The Dockerfile's path (relative to the context, as bake has it) and how to show it (relative to cwd)."""
    path = _local(Path(cwd), context) / _strip_cwd(dockerfile)
    return str(path), _display(path, Path(cwd))


@lru_cache(maxsize=256)
def _read(path: str) -> str | OSError:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return error


def _remote(value: str) -> bool:
    return "://" in value and not value.startswith("cwd://") or value.startswith("git@") or value == "-"


def _strip_cwd(value: str) -> str:
    return value[len("cwd://"):] if value.startswith("cwd://") else value


def _local(cwd: Path, context: str) -> Path:
    path = Path(_strip_cwd(context))
    return path if path.is_absolute() else cwd / path


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


@lru_cache(maxsize=4096)
def _classify(text: str, shown: str, stage: str, contexts: tuple[str, ...],
              args: tuple[tuple[str, str], ...], platform: str | None) -> Execution:
    parsed = _parse(text)
    assert not isinstance(parsed, str), "classify checks the parse first"
    stages, meta, _ = parsed
    if not stages:
        return Execution(target=True, known=False, reason=f"{shown}: no FROM: assumed to run on the target platform")
    start = _find(stages, stage)
    if start is None:
        return Execution(target=True, known=False, reason=f"{shown}: no stage {stage!r}: assumed to run on the target platform")
    env = {**meta, **dict(args)}
    return _walk(stages, start, set(contexts), env, _target_args(platform), shown)


@lru_cache(maxsize=64)
def _parse(text: str) -> tuple[list[_Stage], dict[str, str], frozenset[str]] | str:
    """The stages, the global ARG defaults and the names of the args that can change where stages run;
    or BuildKit's parse error."""
    import dockerfile

    try:
        stages, meta = _stages(dockerfile.parse_string(text))
    except dockerfile.GoParseError as e:
        return str(e)
    words = [w for s in stages for w in (s.platform, s.base, *s.sources)] + list(meta.values())
    names = frozenset(m.group("braced") or m.group("plain") for w in words for m in _VARIABLE.finditer(w))
    return stages, meta, names


def _syntax(text: str) -> str:
    """The `# syntax=` directive's image, if the file starts with one (parser directives come first)."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            return ""
        key, sep, value = stripped[1:].partition("=")
        if sep and key.strip().lower() == "syntax":
            return value.strip()
    return ""


@record(frozen=False)
class _Open:
    """A stage while its instructions are read."""

    name: str
    base: str
    platform: str
    line: int
    runs: list[int]
    sources: list[str]

    def close(self, index: int) -> _Stage:
        return _Stage(index, self.name, self.base, self.platform, self.line, tuple(self.runs), tuple(self.sources))


def _stages(commands: Sequence[object]) -> tuple[list[_Stage], dict[str, str]]:
    """The stages in order, and the global ARG defaults (before the first FROM)."""
    stages: list[_Stage] = []
    meta: dict[str, str] = {}
    current: _Open | None = None
    for command in commands:
        cmd = str(getattr(command, "cmd", "")).upper()
        flags = tuple(str(f) for f in getattr(command, "flags", ()))
        value = tuple(str(v) for v in getattr(command, "value", ()))
        line = int(getattr(command, "start_line", 0))
        if cmd == "FROM":
            if current is not None:
                stages.append(current.close(len(stages)))
            name = value[2].lower() if len(value) >= 3 and value[1].lower() == "as" else ""
            current = _Open(name, value[0] if value else "", _flag(flags, "platform") or "", line, [], [])
        elif current is None:
            if cmd == "ARG":
                for item in value:
                    key, _, default = item.partition("=")
                    meta[key] = default
        elif cmd == "RUN":
            current.runs.append(line)
            current.sources += _mount_sources(flags)
        elif cmd in ("COPY", "ADD"):
            source = _flag(flags, "from")
            if source:
                current.sources.append(source)
    if current is not None:
        stages.append(current.close(len(stages)))
    return stages, meta


def _flag(flags: Sequence[str], name: str) -> str | None:
    for flag in flags:
        key, sep, value = flag.lstrip("-").partition("=")
        if sep and key.lower() == name:
            return value
    return None


def _mount_sources(flags: Sequence[str]) -> list[str]:
    """The `from=` of each `--mount` (a stage, an image or a named context)."""
    found = []
    for flag in flags:
        key, sep, value = flag.lstrip("-").partition("=")
        if sep and key.lower() == "mount":
            for part in value.split(","):
                k, s, v = part.partition("=")
                if s and k.strip().lower() == "from" and v.strip():
                    found.append(v.strip())
    return found


def _find(stages: Sequence[_Stage], name: str) -> _Stage | None:
    """The stage to build: by name (case-insensitive), else the last."""
    if not name:
        return stages[-1]
    return next((s for s in stages if s.name == name.lower()), None)


def _reference(stages: Sequence[_Stage], before: int, name: str, contexts: set[str]) -> _Stage | None:
    """The stage `name` refers to from stage `before`, or None (an image or a named context)."""
    lowered = name.lower()
    if lowered in contexts:
        return None
    if lowered.isdigit():
        index = int(lowered)
        return stages[index] if index < before else None
    return next((s for s in stages[:before] if s.name == lowered), None)


def _walk(stages: Sequence[_Stage], start: _Stage, contexts: set[str], env: Mapping[str, str],
          target_args: Mapping[str, str], shown: str) -> Execution:
    """Every stage the start stage needs, each with its platform; then what the RUN steps need."""
    platform_of: dict[int, str] = {}
    names = {**_AUTOMATIC, **target_args}  # stage names may depend on the target platform (`FROM base-$TARGETARCH`)

    def reference(before: int, name: str) -> _Stage | None:
        return _reference(stages, before, _expand(name, env, names, markers=False), contexts)

    def platform(stage: _Stage, seen: frozenset[int] = frozenset()) -> str:
        if stage.index not in platform_of:
            parent = reference(stage.index, stage.base) if stage.name not in contexts else None
            if stage.platform:
                platform_of[stage.index] = _expand(stage.platform, env, _AUTOMATIC)
            elif parent is not None and parent.index not in seen:
                platform_of[stage.index] = platform(parent, seen | {stage.index})
            else:
                platform_of[stage.index] = _TARGET
        return platform_of[stage.index]

    needed: list[_Stage] = []
    stack = [start]
    while stack:
        stage = stack.pop()
        if stage in needed or stage.name in contexts and stage is not start:
            continue
        needed.append(stage)
        if stage.name in contexts:
            continue  # the whole stage is a named context: nothing of it runs here
        for ref in (stage.base, *stage.sources):
            found = reference(stage.index, ref)
            if found is not None:
                stack.append(found)
    needed.sort(key=lambda s: s.index)
    running = [s for s in needed if s.runs and s.name not in contexts]
    on_target = [s for s in running if platform(s) == _TARGET]
    on_build = [s for s in needed if s.name not in contexts and platform(s) == _BUILD]
    unknown = [s for s in running if platform(s) not in (_TARGET, _BUILD) and not _literal(platform(s))]
    fixed = tuple(dict.fromkeys(normalize_platform(platform(s)) for s in running
                                if platform(s) not in (_TARGET, _BUILD) and _literal(platform(s))))
    if unknown:
        s = unknown[0]
        return Execution(target=True, build=bool(on_build), known=False,
                         reason=f"{shown}:{s.line}: stage {_label(s)} has --platform={s.platform} that bakeplan cannot resolve: "
                                "assumed to run on the target platform")
    if on_target:
        s = on_target[0]
        return Execution(target=True, fixed=fixed, build=bool(on_build),
                         reason=f"{shown}:{s.runs[0]}: RUN in stage {_label(s)} runs on the target platform")
    if fixed:
        s = next(s for s in running if platform(s) not in (_TARGET, _BUILD))
        return Execution(target=False, fixed=fixed, build=bool(on_build),
                         reason=f"{shown}:{s.runs[0]}: RUN in stage {_label(s)} runs on {fixed[0]}")
    if running:
        return Execution(target=False, build=True,
                         reason=f"{shown}: every RUN runs on $BUILDPLATFORM (stage{'s' * (len(running) > 1)} "
                                f"{', '.join(_label(s) for s in running)}): cross-compiles on any node")
    return Execution(target=False, build=bool(on_build), reason=f"{shown}: no RUN step: any node builds it")


def _label(stage: _Stage) -> str:
    return repr(stage.name) if stage.name else f"#{stage.index}"


def _literal(value: str) -> bool:
    return bool(value) and "\0" not in value and "$" not in value and value.count("/") in (1, 2)


def _expand(value: str, env: Mapping[str, str], automatic: Mapping[str, str], *, markers: bool = True,
            depth: int = 0) -> str:
    """`value` with build args and global ARG defaults substituted, and the automatic platform
    args from `automatic` (markers, or the target's values). An unresolvable reference stays
    as written (`$NAME`). With `markers`, a value naming the build (target) platform anywhere
    is that marker: `$BUILDOS/$BUILDARCH` and `${BUILDPLATFORM}` alike."""
    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        if name in automatic:
            return automatic[name]
        if name in env and depth < 8:
            return _expand(env[name], env, automatic, markers=False, depth=depth + 1)
        modifier = match.group("modifier") or ""
        if modifier.lstrip(":").startswith("-"):
            return _expand(modifier.lstrip(":")[1:], env, automatic, markers=False, depth=depth + 1)
        return match.group(0)

    expanded = _VARIABLE.sub(substitute, value)
    for marker in (_BUILD, _TARGET) if markers else ():
        if marker in expanded:
            return marker
    return expanded


def _target_args(platform: str | None) -> dict[str, str]:
    """TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT of a platform ({} when not known)."""
    if not platform:
        return {}
    normal = normalize_platform(platform)
    parts = normal.split("/")
    return {"TARGETPLATFORM": normal, "TARGETOS": parts[0], "TARGETARCH": parts[1] if len(parts) > 1 else "",
            "TARGETVARIANT": parts[2] if len(parts) > 2 else ""}


