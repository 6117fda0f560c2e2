"""compose-go's loader, as buildx runs it: YAML, interpolation, `.env`, include, extends, merging.

The result is the merged model buildx keeps (`services` with their `image`,
`build`, `environment` and `env_file`, and `secrets`); bakeplan.bake.compose
turns it into targets. Each step follows compose-go v2 (the version the
pinned buildx vendors):

- YAML as go-yaml v3 decodes it: the 1.2 core schema (`yes`/`on` are
  strings, `010` is octal, `1_000` is 1000, a date is a time), merge keys,
  duplicate keys rejected; every value remembers where it was written;
- template.Substitute: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
  `${VAR:?err}`, `${VAR?err}`, `${VAR:+r}`, `${VAR+r}`, nested defaults;
  unset variables become "";
- dotenv files (KEY=VALUE, `export`, quotes, comments, `${VAR}`);
- `include` and `extends`, paths relative to the included file's folder;
- override.Merge across documents and files, then EnforceUnicity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeplan.errors import BakeFileError, BakeplanError, Location

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class ComposeFile:
    """One compose file: the name diagnostics use and its bytes."""

    name: str
    data: bytes


# ------------------------------------------------------------------ environment


def compose_env(env: Mapping[str, str], overrides: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """buildx's composeEnv: the environment, then `.env` (never overriding it), then --var."""
    out = dict(env)
    dotenv = cwd / ".env"
    if dotenv.is_file():
        loaded = parse_dotenv(dotenv.read_bytes().decode("utf-8", "replace"), ".env", out.get)
        for key, value in loaded.items():
            out.setdefault(key, value)
    out.update(overrides)
    return out


_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]*")


def parse_dotenv(text: str, name: str, lookup: Lookup) -> dict[str, str]:
    """compose-go's dotenv: KEY=VALUE lines, `export`, quotes, comments, `${VAR}` from earlier lines."""
    out: dict[str, str] = {}

    def find(key: str) -> str | None:
        found = lookup(key)
        return found if found is not None else out.get(key)

    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        match = _DOTENV_KEY.match(line)
        rest = line[match.end() :].lstrip() if match else ""
        if match is None or not rest or rest[0] not in "=:":
            if match is not None and not rest:
                inherited = find(match.group(0))  # a bare KEY takes the value it already has
                if inherited is not None:
                    out[match.group(0)] = inherited
                continue
            raise BakeplanError(f"{name}:{index}: unexpected character in variable name near {line!r}")
        key, value = match.group(0), rest[1:].lstrip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            value, index = _quoted_dotenv(value, lines, index, name)
            out[key] = value if quote == "'" else _dotenv_expand(value, find, name)
            continue
        value = re.split(r"\s#", value, maxsplit=1)[0].rstrip()
        out[key] = _dotenv_expand(value, find, name)
    return out


def _quoted_dotenv(value: str, lines: list[str], index: int, name: str) -> tuple[str, int]:
    quote = value[0]
    body = value[1:]
    while True:
        end = _closing_quote(body, quote)
        if end >= 0:
            inner = body[:end]
            break
        if index >= len(lines):
            raise BakeplanError(f"{name}:{index}: unterminated quoted value")
        body += "\n" + lines[index]
        index += 1
    if quote == '"':
        inner = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), inner)
    return inner, index


def _closing_quote(text: str, quote: str) -> int:
    escaped = False
    for position, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quote == '"':
            escaped = True
        elif char == quote:
            return position
    return -1


def _dotenv_expand(value: str, find: Lookup, name: str) -> str:
    try:
        return substitute(value, find)
    except _InterpolationError as exc:
        raise BakeplanError(f"{name}: {exc}") from None


# ------------------------------------------------------------------ interpolation


class _InterpolationError(Exception):
    """A `${VAR:?err}` with no value, or a `$` that starts no substitution."""


class _InvalidTemplate(_InterpolationError):
    pass


_PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


def substitute(template: str, lookup: Lookup) -> str:
    """compose-go's template.Substitute (unset variables become "")."""
    failure: list[_InterpolationError] = []

    def replace(match: re.Match[str]) -> str:
        try:
            return _replacement(match.group(0), lookup)
        except _InterpolationError as exc:
            if not failure:
                failure.append(exc)
            return ""

    result = _PATTERN.sub(replace, template)
    if failure:
        if isinstance(failure[0], _InvalidTemplate):
            raise _InvalidTemplate(template)
        raise failure[0]
    return result


def _replacement(text: str, lookup: Lookup) -> str:
    operator = _first_operator(text)
    close = _closing_brace(text)
    rest = ""
    if close >= 0:
        text, rest = text[: close + 1], text[close + 1 :]
    match = _PATTERN.fullmatch(text) or _PATTERN.match(text)
    assert match is not None
    if match.group("escaped"):
        return "$"
    name = match.group("named") or ""
    braced = not name
    if braced:
        name = match.group("braced") or ""
    if not name:
        raise _InvalidTemplate(text)
    if braced and operator is not None and operator in name:
        return _apply(name, operator, lookup) + substitute(rest, lookup)
    return lookup(name) or ""


def _first_operator(text: str) -> str | None:
    """The operator that appears first in the text (compose-go sorts its table by position)."""
    found = [(text.find(op), order, op) for order, op in enumerate(_OPERATORS) if op in text]
    return min(found)[2] if found else None


def _closing_brace(text: str) -> int:
    depth = 0
    position = 0
    while position < len(text):
        if text[position] == "}":
            depth -= 1
            if depth == 0:
                return position
        if text[position] == "{":
            depth += 1
            position += 1
        position += 1
    return -1


def _apply(substitution: str, operator: str, lookup: Lookup) -> str:
    name, _, argument = substitution.partition(operator)
    value = lookup(name)
    if operator in (":?", "?"):
        if value is None or (operator == ":?" and value == ""):
            reason = substitute(argument, lookup)
            detail = f": {reason}" if reason else ""
            raise _InterpolationError(f"required variable {name} is missing a value{detail}")
        return value
    if operator in (":-", "-"):
        if value is None or (operator == ":-" and value == ""):
            return substitute(argument, lookup)
        return value
    if value is not None and (operator == "+" or value != ""):
        return substitute(argument, lookup)
    return value or ""


Positions = dict[tuple[str | int, ...], Location]


def _interpolate(value: Any, lookup: Lookup, path: tuple[str | int, ...], positions: Positions | None = None) -> Any:
    """Every string of a document interpolated; an error names the value's path and, when known, its place."""
    if isinstance(value, str):
        try:
            return substitute(value, lookup)
        except _InterpolationError as exc:
            shown = ".".join("[]" if isinstance(part, int) else part for part in path)
            if isinstance(exc, _InvalidTemplate):
                message = f"invalid interpolation format for {shown}.\nYou may need to escape any $ with another $.\n{exc}"
            else:
                message = f"error while interpolating {shown}: {exc}"
            raise BakeFileError(message, (positions or {}).get(path)) from None
    if isinstance(value, dict):
        return {key: _interpolate(item, lookup, (*path, key), positions) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, lookup, (*path, index), positions) for index, item in enumerate(value)]
    return value


# ------------------------------------------------------------------ YAML


PLAIN_TAG = "tag:bakeplan,2026:plain"
_EXPLICIT = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null")


def _yaml_loader() -> Any:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        """Every untagged plain scalar gets PLAIN_TAG: bakeplan resolves it as yaml.v3 does."""

        yaml_implicit_resolvers: dict[str | None, Any] = {None: [(PLAIN_TAG, re.compile(".*", re.S))]}

    return Loader


_RESOLVED: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_BASES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}


@dataclass(frozen=True, slots=True)
class GoTime:
    """A YAML date (`2024-01-02`), which yaml.v3 decodes as a time and fmt.Sprint prints in full."""

    text: str

    def __str__(self) -> str:
        return f"{self.text} 00:00:00 +0000 UTC"


def _plain_scalar(text: str) -> Any:
    """yaml.v3's resolution of an untagged plain scalar (its `resolve`, decoding into interface{})."""
    if text in _RESOLVED:
        return _RESOLVED[text]
    first = text[:1]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if not (first.isdigit() or first in "+-"):
        return text
    date = _DATE.match(text)
    if date and _valid_date(*map(int, date.groups())):
        year, month, day = map(int, date.groups())
        return GoTime(f"{year:04d}-{month:02d}-{day:02d}")
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.match(plain) and abs(float(plain)) != float("inf"):
        return float(plain)  # out of float64's range, strconv.ParseFloat fails: a string
    return text


def _valid_date(year: int, month: int, day: int) -> bool:
    import datetime

    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), else ParseUint: sign, 0x/0o/0b prefixes, a leading 0 is octal."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text[1:] if text.startswith("+") else text)
    base = _BASES.get(body[:2], 8 if len(body) > 1 and body[0] == "0" else 10)
    digits = body[2:] if body[:2] in _BASES else body
    if not digits.isalnum():
        return None
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    if not -(1 << 63) <= value < (1 << 64) or (value >= (1 << 63) and text[:1] in "+-"):
        return None  # beyond int64, and beyond uint64 (which takes no sign)
    return value


def _location(name: str, mark: Any) -> Location:
    return Location(name, mark.line + 1, mark.column + 1)


class _Converter:
    """PyYAML nodes to Python values, remembering where each service was written."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.services: dict[str, Location] = {}
        self.positions: Positions = {}

    def convert(self, node: Any, path: tuple[str | int, ...] = ()) -> Any:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        self.positions[path] = _location(self.name, node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (key_node.value == "<<" and key_node.tag == PLAIN_TAG):
                merged = self.convert(value_node, path)
                for source in merged if isinstance(merged, list) else [merged]:
                    if isinstance(source, dict):
                        for key, item in source.items():
                            out.setdefault(key, item)
                continue
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else self.convert(key_node, path)
            key = go_sprint(key) if not isinstance(key, str) else key
            if key in out:
                where = _location(self.name, key_node.start_mark)
                raise BakeFileError(f'mapping key "{key}" already defined', where)
            if path == ("services",):
                self.services.setdefault(key, _location(self.name, key_node.start_mark))
            out[key] = self.convert(value_node, (*path, key))
        return out


def _scalar(node: Any) -> Any:
    """A plain or explicitly typed scalar resolved as yaml.v3 does; quoted and `!!str` ones stay strings."""
    if node.tag == PLAIN_TAG or node.tag in _EXPLICIT:
        return _plain_scalar(node.value)
    return node.value


def load_documents(file: ComposeFile) -> tuple[list[tuple[Any, Positions]], dict[str, Location]]:
    """The YAML documents of one file with where each value was written, and where each service key was."""
    import yaml  # type: ignore[import-untyped,unused-ignore]

    text = file.data.decode("utf-8", "replace")
    converter = _Converter(file.name)
    try:
        nodes = list(yaml.compose_all(text, Loader=_yaml_loader()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        where = _location(file.name, mark) if mark is not None else None
        raise BakeFileError(f"failed to parse {file.name}: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise BakeplanError(f"failed to parse {file.name}: {exc}") from None
    documents: list[tuple[Any, Positions]] = []
    for node in nodes:
        if node is not None:
            converter.positions = {}
            documents.append((converter.convert(node), converter.positions))
    return documents, converter.services


# ------------------------------------------------------------------ merging


_BY_KEY = frozenset({"args", "labels", "additional_contexts"})
_UNIQUE = frozenset({"args", "labels", "additional_contexts", "tags"})


def _merge(base: Any, other: Any, path: tuple[str, ...]) -> Any:
    """compose-go's override.Merge for the parts bake reads."""
    if len(path) == 3 and path[0] == "services" and path[2] == "build":
        return _merge_mappings(as_build(base), as_build(other), path)
    if len(path) == 4 and path[0] == "services" and path[2] == "build" and path[3] in _BY_KEY:
        return [*_as_sequence(base), *_as_sequence(other)]
    if len(path) == 4 and path[0] == "services" and path[2] == "build" and path[3] == "extra_hosts":
        left = _as_sequence(base)
        return [*left, *[item for item in _as_sequence(other) if item not in left]]
    if len(path) == 3 and path[0] == "services" and path[2] == "environment":
        return [*_as_sequence(base), *_as_sequence(other)]
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise BakeplanError(f"cannot override {'.'.join(path)}")
        return _merge_mappings(base, other, path)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise BakeplanError(f"cannot override {'.'.join(path)}")
        return [*base, *other]
    return other


def _merge_mappings(base: Any, other: Any, path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in (other if isinstance(other, dict) else {}).items():
        out[key] = _merge(out[key], value, (*path, key)) if key in out else value
    return out


def as_build(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, dict):
        items: list[str] = []
        for key, item in value.items():
            if item is None:
                items.append(key)
            elif isinstance(item, list):
                items.extend(f"{key}={go_sprint(each)}" for each in item)
            else:
                items.append(f"{key}={go_sprint(item)}")
        return sorted(items)
    if isinstance(value, list):
        return list(value)
    return [value] if isinstance(value, str) else []


def _unique(build: dict[str, Any]) -> None:
    """compose-go's EnforceUnicity: a later KEY=... entry replaces the earlier one in its place."""
    for key in _UNIQUE:
        items = build.get(key)
        if not isinstance(items, list):
            continue
        out: list[Any] = []
        seen: dict[str, int] = {}
        for item in items:
            if not isinstance(item, str):
                raise BakeplanError(f"build.{key}: unexpected type {go_type(item)}")
            index = item.split("=", 1)[0]
            if index in seen:
                out[seen[index]] = item
            else:
                seen[index] = len(out)
                out.append(item)
        build[key] = out


# ------------------------------------------------------------------ loading


def load_project(files: Sequence[ComposeFile], env: Mapping[str, str], cwd: Path) -> tuple[dict[str, Any], dict[str, Location]]:
    """compose-go's loadComposeFiles: the merged, interpolated model (services and secrets only)."""
    model: dict[str, Any] = {}
    where: dict[str, Location] = {}
    for file in files:
        documents, services = load_documents(file)
        for name, location in services.items():
            where.setdefault(name, location)
        for document, positions in documents:
            if not isinstance(document, dict):
                raise BakeFileError("top-level object must be a mapping", positions.get(()))
            document = _interpolate(document, env.get, (), positions)
            _apply_include(document, env, cwd, [file.name])
            _apply_extends(document, file.name, env, cwd)
            model = _merge_mappings(model, document, ())
            for service in (model.get("services") or {}).values():
                if isinstance(service, dict) and isinstance(service.get("build"), dict):
                    _unique(service["build"])
    return _filtered(model), where


def _apply_include(document: dict[str, Any], env: Mapping[str, str], cwd: Path, chain: list[str]) -> None:
    """compose-go's ApplyInclude: each included project's services and secrets, paths relative to its folder.

    A service the including file defines too is the included one merged with it.
    """
    for entry in _string_list(document.pop("include", None)):
        spec = {"path": entry} if isinstance(entry, str) else entry
        paths = [str(p) for p in _string_list(spec.get("path"))]
        if not paths:
            raise BakeplanError("include: path is required")
        folder = go_clean(str(spec.get("project_directory") or Path(paths[0]).parent))
        if paths[0] in chain:
            raise BakeplanError("include cycle detected:\n" + "\n include ".join([*chain, paths[0]]))
        included_env = dict(env)
        for key, value in _include_env(spec, folder, env, cwd).items():
            included_env.setdefault(key, value)
        imported: dict[str, Any] = {}
        for path in paths:
            full = cwd / path
            if not full.is_file():
                raise BakeplanError(f"open {path}: no such file or directory")
            documents, _ = load_documents(ComposeFile(path, full.read_bytes()))
            for part, positions in documents:
                if isinstance(part, dict):
                    part = _interpolate(part, included_env.get, (), positions)
                    _apply_include(part, included_env, cwd, [*chain, path])
                    _apply_extends(part, path, included_env, cwd)
                    imported = _merge_mappings(imported, part, ())
        _rebase(imported, folder)
        for key in ("services", "secrets"):
            source = imported.get(key)
            if not isinstance(source, dict):
                continue
            target = document.setdefault(key, {})
            for name, value in source.items():
                target[name] = _merge(value, target[name], (key, name)) if name in target else value


def _string_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _include_env(spec: Mapping[str, Any], folder: str, env: Mapping[str, str], cwd: Path) -> dict[str, str]:
    files = [str(f) for f in _string_list(spec.get("env_file")) if f != "/dev/null"]
    if not spec.get("env_file") and (cwd / folder / ".env").is_file():
        files = [f"{folder}/.env"]
    out: dict[str, str] = {}
    for path in files:
        full = cwd / path
        if not full.is_file():
            raise BakeplanError(f"couldn't find env file: {path}")
        out.update(parse_dotenv(full.read_bytes().decode("utf-8", "replace"), path, env.get))
    return out


def _rebase(model: dict[str, Any], folder: str, *, default_context: bool = True) -> None:
    """compose-go's ResolveRelativePaths for an included or extended file: paths join its folder.

    An included project got its default context (".") before; a file `extends` reads did not.
    """

    def join(path: Any) -> Any:
        if not isinstance(path, str) or path.startswith(("/", "~")) or path == "":
            return path
        return go_clean(f"{folder}/{path}")

    def context(path: Any) -> Any:
        if isinstance(path, str) and ("://" in path or path.startswith(("service:", *REMOTE))):
            return path
        return join(path)

    for service in (model.get("services") or {}).values():
        if not isinstance(service, dict):
            continue
        build = as_build(service.get("build"))
        if isinstance(build, dict):
            if "context" in build or default_context:
                build["context"] = context(build.get("context", "."))
            extra = build.get("additional_contexts")
            if isinstance(extra, dict):
                build["additional_contexts"] = {k: context(v) for k, v in extra.items()}
            elif isinstance(extra, list):
                build["additional_contexts"] = [_rebased_pair(item, context) for item in extra]
            service["build"] = build
        if "env_file" in service:
            service["env_file"] = [
                {**item, "path": join(item.get("path"))} if isinstance(item, dict) else join(item)
                for item in _string_list(service["env_file"])
            ]
    for secret in (model.get("secrets") or {}).values():
        if isinstance(secret, dict) and "file" in secret:
            secret["file"] = join(secret["file"])


def _rebased_pair(item: Any, rebase: Callable[[Any], Any]) -> Any:
    key, sep, value = str(item).partition("=")
    return f"{key}={rebase(value)}" if sep else item


def _apply_extends(document: dict[str, Any], name: str, env: Mapping[str, str], cwd: Path) -> None:
    """compose-go's ApplyExtends: each service with `extends` becomes its base merged with itself."""
    services = document.get("services")
    if not isinstance(services, dict):
        return
    for service in list(services):
        services[service] = _extended(service, services, name, env, cwd, [])


def _extended(
    service: str, services: dict[str, Any], name: str, env: Mapping[str, str], cwd: Path, seen: list[tuple[str, str]]
) -> Any:
    config = services.get(service)
    if not isinstance(config, dict) or "extends" not in config:
        return config
    extends = config["extends"]
    ref = extends.get("service") if isinstance(extends, dict) else extends
    if not isinstance(ref, str):
        raise BakeplanError(f"extends.{service}.service is required")
    source, base_services = name, services
    if isinstance(extends, dict) and extends.get("file") is not None:
        source = str(extends["file"])
        base_services = _services_of(source, service, ref, name, env, cwd)
    elif ref not in services:
        raise BakeplanError(f'cannot extend service "{service}" in {name}: service "{ref}" not found')
    seen = [*seen, (name, service)]
    if (source, ref) in seen:
        lines = [f"  {seen[0][1]} in {seen[0][0]}", *(f"  extends {s} in {f}" for f, s in [*seen[1:], (source, ref)])]
        raise BakeplanError("Circular reference:\n" + "\n".join(lines))
    base = _extended(ref, base_services, source, env, cwd, seen)
    if base is None:
        return config
    merged = _merge(_clone(base), config, ("services", "x"))
    merged.pop("extends", None)
    return merged


def _services_of(path: str, service: str, ref: str, name: str, env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """The services of another file `extends` reads, their paths relative to its folder (no default context)."""
    full = cwd / path
    if not full.is_file():
        raise BakeplanError(f"cannot read {path}")
    documents, _ = load_documents(ComposeFile(path, full.read_bytes()))
    services: dict[str, Any] = {}
    for document, positions in documents:
        if isinstance(document, dict) and isinstance(document.get("services"), dict):
            services.update(_interpolate(document["services"], env.get, ("services",), positions))
    if ref not in services:
        raise BakeplanError(f'cannot extend service "{service}" in {name}: service "{ref}" not found in {path}')
    _rebase({"services": services}, go_clean(str(Path(path).parent)), default_context=False)
    return services


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clone(item) for item in value]
    return value


def _filtered(model: dict[str, Any]) -> dict[str, Any]:
    """buildx keeps `services` (image, build, environment, env_file of each) and `secrets`."""
    out: dict[str, Any] = {}
    services = model.get("services")
    if isinstance(services, dict):
        kept: dict[str, Any] = {}
        for name, service in services.items():
            if service is None:
                kept[name] = {}
            elif isinstance(service, dict):
                kept[name] = {k: service[k] for k in ("image", "build", "environment", "env_file") if k in service}
        out["services"] = kept
    if "secrets" in model:
        out["secrets"] = model["secrets"]
    if not out:
        raise BakeplanError("empty compose file", hint="A compose file needs a `services` section.")
    _check_json(out)
    return out


def _check_json(value: Any) -> None:
    """compose-go validates the model as JSON, which has no infinities or NaN."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise BakeplanError(f"json: unsupported value: {go_float(value)}")
    if isinstance(value, dict):
        for item in value.values():
            _check_json(item)
    elif isinstance(value, list):
        for item in value:
            _check_json(item)


# ------------------------------------------------------------------ Go formatting and paths


def go_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null"
    )


def go_sprint(value: Any) -> str:
    """fmt.Sprint of a YAML scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, GoTime):
        return str(value)
    if value is None:
        return "<nil>"
    return str(value)


def go_float(value: float) -> str:
    """Go's %v of a float64: shortest digits, exponent below 1e-4 or from 1e21."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal

    exact = Decimal(repr(value)).normalize()
    exponent = exact.adjusted()
    if -4 <= exponent < 21:
        return format(exact, "f")
    digits = exact.as_tuple().digits
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def key_values(value: Any, *, label: bool = False) -> dict[str, str | None]:
    """A list_or_dict as a map: `K=V` entries, `K` alone is null (an empty string for labels)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else go_sprint(v)) for k, v in value.items()}
    out: dict[str, str | None] = {}
    for item in value:
        key, sep, rest = go_sprint(item).partition("=")
        if key and key[-1].isspace() and not label:
            raise ValueError(f"environment variable {key} is declared with a trailing space")
        out[key] = rest if sep else ("" if label else None)
    return out


def expand_user(path: str, env: Mapping[str, str]) -> str:
    if path.startswith("~") and env.get("HOME"):
        return go_clean(env["HOME"] + "/" + path[1:])
    return path


def go_clean(path: str) -> str:
    from bakeplan.bake.resolve import go_clean

    return go_clean(path)


REMOTE = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def context_path(path: str, env: Mapping[str, str]) -> str:
    """compose-go's absContextPath with an empty working directory: local paths cleaned."""
    if "://" in path or path.startswith("service:") or path.startswith(REMOTE):
        return path
    path = expand_user(path, env)
    return go_clean(path) if path else path
