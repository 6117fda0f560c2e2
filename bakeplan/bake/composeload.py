"""compose-go's loader, as buildx runs it: include, extends, merging, on top of YAML and interpolation.

The result is the merged model buildx keeps (`services` with their `image`,
`build`, `environment` and `env_file`, and `secrets`); bakeplan.bake.compose
turns it into targets. Each step follows compose-go v2 (the version the
pinned buildx vendors):

- YAML as go-yaml v3 decodes it (`composeyaml`);
- template.Substitute and dotenv files (`composeenv`);
- `include` and `extends`, paths relative to the included file's folder;
- override.Merge across documents and files, then EnforceUnicity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan import observed
from bakeplan.bake.buildopts import go_clean
from bakeplan.bake.composeenv import compose_env, interpolate, parse_dotenv, substitute
from bakeplan.bake.composeyaml import ComposeFile, go_float, go_sprint, go_type, load_documents
from bakeplan.errors import BakeFileError, BakeplanError, Location

# The environment and YAML steps live in composeenv and composeyaml; callers
# that found them here still do.
__all__ = ["ComposeFile", "as_build", "compose_env", "context_path", "expand_user", "key_values", "load_project", "substitute"]


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
            document = interpolate(document, env.get, (), positions)
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
            observed.probe(full)  # for a replay: a file that appears or goes changes the result
            if not full.is_file():
                raise BakeplanError(f"open {path}: no such file or directory")
            documents, _ = load_documents(ComposeFile(path, full.read_bytes()))
            for part, positions in documents:
                if isinstance(part, dict):
                    part = interpolate(part, included_env.get, (), positions)
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
    observed.probe(cwd / folder / ".env")
    if not spec.get("env_file") and (cwd / folder / ".env").is_file():
        files = [f"{folder}/.env"]
    out: dict[str, str] = {}
    for path in files:
        full = cwd / path
        observed.probe(full)
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
    observed.probe(full)
    if not full.is_file():
        raise BakeplanError(f"cannot read {path}")
    documents, _ = load_documents(ComposeFile(path, full.read_bytes()))
    services: dict[str, Any] = {}
    for document, positions in documents:
        if isinstance(document, dict) and isinstance(document.get("services"), dict):
            services.update(interpolate(document["services"], env.get, ("services",), positions))
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


# ------------------------------------------------------------------ Go maps and paths


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


REMOTE = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def context_path(path: str, env: Mapping[str, str]) -> str:
    """compose-go's absContextPath with an empty working directory: local paths cleaned."""
    if "://" in path or path.startswith("service:") or path.startswith(REMOTE):
        return path
    path = expand_user(path, env)
    return go_clean(path) if path else path
