"""Per-job bake definitions: a small, fully resolved JSON bake file for each job.

Every job `bakeplan run` starts could hand buildx the user's whole bake file,
which buildx would then evaluate again (quadratic for big matrices). Instead a
job gets a JSON bake file holding just its targets, exactly as bakeplan's own
`--print` resolved them, and runs `docker buildx bake -f JOB.json TARGET` in
the user's working directory, so relative contexts resolve as before.

Reading such a file back is not the inverse of `--print`:

- buildx reads `.json` bake files as HCL's JSON syntax, where every string,
  and every key of an object value, is a template (hashicorp/hcl json
  `expression.Value`). A literal `${` or `%{` must be written `$${`/`%%{`.
  buildx's `Target.MarshalJSON` already does that for the values of args,
  labels, extra-hosts, annotations and dockerfile-inline (and so does
  bakeplan's print, `resolve.printed_fields`); every other string and every
  object key is escaped here.
- `policy` prints as Go's field names (`Files`, `Reset`, ...), which
  `PolicyConfig.FromCtyValue` does not read: it is written back as the CSV
  form `filename=...,reset=true,...` buildx parses on the command line.
- A linked target the command line does not name is built cache-only
  whatever its `output` (bake.go `loadLinks`), as with the user's own file.
- A dropped link keeps its `target:` context in the file: the caller replaces
  it with `--set CHILD.contexts.NAME=...`, which buildx applies before it
  follows links (bake.go `ReadTargets`), so the parent need not be there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan.bake import schema
from bakeplan.bake.model import BakeResult, JSONValue, Target
from bakeplan.bake.printing import marshal_indent
from bakeplan.fsutil import write_atomic

# Fields whose values `--print` already escaped (buildx bake.go Target.MarshalJSON).
_PRINT_ESCAPED_MAPS = frozenset({"args", "labels", "extra-hosts"})
_PRINT_ESCAPED = frozenset({"annotations", "dockerfile-inline"})
_FIELD_ORDER = {key: index for index, (key, _) in enumerate(schema.TARGET_FIELDS)}
# logrus.Level.String(), the names buildflags.parsePolicyFields reads back.
_LOG_LEVELS = ("panic", "fatal", "error", "warning", "info", "debug", "trace")


def job_definition(
    result: BakeResult,
    names: Sequence[str],
    *,
    platforms: Mapping[str, tuple[str, ...]] | None = None,
    drop_links: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """The bake document of `names` and the targets they link to, ready for buildx to read back."""
    wanted = _reachable(result, names, drop_links or {})
    narrowed = platforms or {}
    return {"target": {name: _job_fields(result.targets[name], narrowed) for name in sorted(wanted)}}


def _reachable(result: BakeResult, names: Sequence[str], drop_links: Mapping[str, Collection[str]]) -> set[str]:
    """`names` plus every target reached through `target:` contexts that are not dropped."""
    missing = [name for name in names if name not in result.targets]
    if missing:
        raise KeyError(f"not a resolved target: {', '.join(missing)}")
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(_links(result.targets[name], drop_links.get(name, ())))
    return wanted


def _links(target: Target, dropped: Collection[str]) -> list[str]:
    """The targets `target` reads through `target:` contexts, except the dropped context names."""
    return [
        value[len("target:"):]
        for key, value in target.contexts.items()
        if key not in dropped and isinstance(value, str) and value.startswith("target:")
    ]


def _job_fields(target: Target, platforms: Mapping[str, tuple[str, ...]]) -> dict[str, JSONValue]:
    """The target's printed fields, platforms replaced when asked, escaped for HCL's JSON syntax."""
    fields = dict(target.fields)
    if target.name in platforms:
        fields.pop("platforms", None)
        if platforms[target.name]:
            fields["platforms"] = list(platforms[target.name])
        fields = dict(sorted(fields.items(), key=lambda item: _FIELD_ORDER.get(item[0], len(_FIELD_ORDER))))
    return {key: _readable(key, value) for key, value in fields.items()}


def _readable(key: str, value: JSONValue) -> JSONValue:
    """One printed field as buildx must read it back from a JSON bake file."""
    if key in _PRINT_ESCAPED:
        return value
    if key in _PRINT_ESCAPED_MAPS:
        return {_escape(name): item for name, item in value.items()}
    if key == "policy":
        return [_policy(entry) for entry in value]
    return _escaped(value)


def _escape(text: str) -> str:
    """A literal string as an HCL template that evaluates to it (`${` -> `$${`, `%{` -> `%%{`)."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _escaped(value: JSONValue) -> JSONValue:
    """Every string and object key of a JSON value escaped as a template; other values unchanged."""
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, dict):
        return {_escape(str(key)): _escaped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(item) for item in value]
    return value


def _policy(entry: Mapping[str, Any]) -> JSONValue:
    """A printed policy entry (Go field names) as the CSV string buildx parses, `{}` when empty."""
    fields = [schema.csv_pair("filename", str(file["Filename"])) for file in entry.get("Files") or ()]
    fields += [f"{name}=true" for name in ("reset", "disabled") if entry.get(name.capitalize())]
    if entry.get("Strict") is not None:
        fields.append(f"strict={str(entry['Strict']).lower()}")
    level = entry.get("LogLevel")
    if level is not None:  # Go prints logrus.Level by its name; a number is the level's index
        fields.append(f"log-level={level if isinstance(level, str) else _LOG_LEVELS[level]}")
    return _escape(",".join(fields)) if fields else {}


def render_definition(doc: Mapping[str, Any]) -> str:
    """The JSON text of a job definition (Go's MarshalIndent layout, trailing newline)."""
    return marshal_indent(doc) + "\n"


def write_definition(path: Path, doc: Mapping[str, Any]) -> None:
    """Write a job definition to `path` atomically (the name must end in `.json` for buildx)."""
    write_atomic(path, render_definition(doc).encode())
