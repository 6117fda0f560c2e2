"""Compose files as buildx reads them: every service with a `build` section is a target.

buildx (bake/compose.go) loads compose files with compose-go
(bakeplan.bake.composeload: YAML, interpolation from the environment, then
the working directory's `.env`, then `--var`; include, extends; files merged
in order), keeps `services` (their `image`, `build`, `environment`,
`env_file`) and `secrets` ("empty compose file" when neither), checks them
(compose-go's schema for the build section, checkConsistency), and maps each
service that has `build` to a target (`ParseCompose`), then applies the
`x-bake` extension (`composeExtTarget`). All of them form the `default` group.

Targets come before the targets of HCL/JSON files, which merge into them.

Deterministic where buildx is not: buildx walks services and ulimits (Go
maps) at random; bakeplan keeps their source order.

Known simplifications: YAML timestamps other than plain dates stay strings;
a `.env` or env_file line compose-go would reject may be read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan import observed
from bakeplan.bake import schema
from bakeplan.bake.buildopts import go_clean
from bakeplan.bake.composeenv import parse_dotenv
from bakeplan.bake.composeload import as_build, context_path, expand_user, key_values, load_project
from bakeplan.bake.composeyaml import ComposeFile, go_sprint, go_type
from bakeplan.bake.units import ram_in_bytes
from bakeplan.errors import BakeFileError, BakeplanError, Location
from bakeplan.record import record

__all__ = ["ComposeConfig", "ComposeFile", "ComposeTarget", "read_compose", "to_blocks", "validates"]

_TRUE = ("1", "t", "T", "TRUE", "true", "True")


@record
class ComposeTarget:
    """One service turned into a target: decoded fields in bake's JSON names, and where it was written."""

    name: str
    fields: Mapping[str, Any]
    location: Location | None


@record
class ComposeConfig:
    """What compose files contribute: targets in source order, and whether a `default` group exists."""

    targets: tuple[ComposeTarget, ...]
    has_services: bool


def is_compose_name(name: str) -> bool:
    """buildx treats *.yml / *.yaml as compose files, whatever they hold."""
    return name.lower().endswith((".yml", ".yaml"))


def validates(file: ComposeFile, env: Mapping[str, str], cwd: Path) -> bool:
    """buildx's validateComposeFile for names that are neither *.yml/*.yaml nor *.json/*.hcl."""
    try:
        model, _ = load_project([file], env, cwd)
        _check_types(model)
    except BakeplanError:
        return False
    return True


# ------------------------------------------------------------------ validation


_BUILD_KEYS = frozenset(
    "context dockerfile dockerfile_inline entitlements args ssh labels cache_from cache_to no_cache no_cache_filter "
    "additional_contexts network provenance sbom pull target shm_size extra_hosts isolation privileged secrets tags "
    "ulimits platforms".split()
)
_STRINGS = ("context", "dockerfile", "dockerfile_inline", "network", "target", "isolation")
_LISTS = ("cache_from", "cache_to", "tags", "platforms", "entitlements")
_LIST_OR_DICT = ("args", "labels", "additional_contexts", "ssh")


def _check_types(model: Mapping[str, Any], where: Mapping[str, Location] | None = None) -> None:
    """The parts of compose-go's JSON schema that bake's fields depend on (errors at the service)."""
    services = model.get("services", {})
    for name, service in services.items():
        try:
            _check_service(name, service)
        except BakeplanError as exc:
            raise BakeFileError(exc.message, (where or {}).get(name)) from None
    secrets = model.get("secrets")
    if secrets is not None and not isinstance(secrets, dict):
        raise BakeplanError("secrets must be a mapping")


def _check_service(name: str, service: Mapping[str, Any]) -> None:
    if "image" in service and not isinstance(service["image"], str):
        raise BakeplanError(f"services.{name}.image must be a string")
    if "environment" in service and not isinstance(service["environment"], (list, dict)):
        raise BakeplanError(f"services.{name}.environment must be a list or a mapping")
    build = service.get("build")
    if build is None or isinstance(build, str):
        return
    where = f"services.{name}.build"
    if not isinstance(build, dict):
        raise BakeplanError(f"{where} must be a string or object")
    for key, value in build.items():
        _check_build_key(where, key, value)


def _check_build_key(where: str, key: str, value: Any) -> None:
    if key.startswith("x-"):
        return
    if key not in _BUILD_KEYS:
        raise BakeplanError(f"{where} additional properties '{key}' not allowed")
    wrong = (
        (key in _STRINGS and not isinstance(value, str))
        or (key in _LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)))
        or (key in _LIST_OR_DICT and not isinstance(value, (list, dict)))
        or (key in ("no_cache", "pull", "privileged") and not isinstance(value, (bool, str)))
        or (key == "shm_size" and (isinstance(value, bool) or not isinstance(value, (int, str))))
        or (key == "ulimits" and not isinstance(value, dict))
        or (key == "secrets" and not isinstance(value, list))
        or (key == "extra_hosts" and not isinstance(value, (list, dict)))
    )
    if wrong:
        raise BakeplanError(f"{where}.{key} must be {_KEY_TYPES.get(key, 'a string')}, got {go_type(value)}")


_KEY_TYPES = {
    **dict.fromkeys(_LISTS, "a list of strings"),
    **dict.fromkeys(_LIST_OR_DICT, "a list or a mapping"),
    "extra_hosts": "a list or a mapping",
    "no_cache": "a boolean",
    "pull": "a boolean",
    "privileged": "a boolean",
    "shm_size": "an integer or a string",
    "ulimits": "a mapping",
    "secrets": "a list",
}


def _check_consistency(model: Mapping[str, Any], where: Mapping[str, Location]) -> None:
    """compose-go's checkConsistency, for what survives buildx's filter."""
    services: Mapping[str, Any] = model.get("services", {})
    secrets = model.get("secrets") or {}
    for name, service in services.items():
        build = service.get("build")
        at = where.get(name)
        if build is None:
            if not service.get("image"):
                _fail(f'service "{name}" has neither an image nor a build context specified: invalid compose project', at)
            continue
        if isinstance(build, str):
            continue
        if build.get("dockerfile_inline") and build.get("dockerfile"):
            _fail(f'service "{name}" declares mutualy exclusive dockerfile and dockerfile_inline: invalid compose project', at)
        for context_name, value in key_values(build.get("additional_contexts")).items():
            if value is not None and value.startswith("service:"):
                other = value[len("service:") :]
                if other not in services:
                    _fail(f'service "{name}" declares unknown service "{other}" as additional contexts {context_name}', at)
                if services[other].get("build") is None:
                    _fail(f'service "{name}" declares non-buildable service "{other}" as additional contexts {context_name}', at)
        for secret in build.get("secrets") or []:
            source = secret if isinstance(secret, str) else (secret or {}).get("source", "")
            if source not in secrets:
                _fail(f'service "{name}" refers to undefined build secret {source}: invalid compose project', at)


def _fail(message: str, at: Location | None) -> None:
    raise BakeFileError(f"failed to parse compose file: {message}", at)


# ------------------------------------------------------------------ mapping


def read_compose(files: Sequence[ComposeFile], env: Mapping[str, str], cwd: Path) -> ComposeConfig:
    """buildx's ParseComposeFiles: the targets of every service that has `build`, in source order."""
    documents = [file for file in files if file.data]  # buildx skips empty files
    if not documents:
        return ComposeConfig((), False)
    model, where = load_project(documents, env, cwd)
    _check_types(model, where)
    _check_consistency(model, where)
    services: Mapping[str, Any] = model.get("services", {})
    secrets: Mapping[str, Any] = model.get("secrets") or {}
    targets: list[ComposeTarget] = []
    for name, service in services.items():
        if service.get("build") is None:
            continue
        at = where.get(name)
        target_name = name.replace(".", "_")
        if not _TARGET_NAME.match(target_name):
            _fail(f'invalid service name "{target_name}": only "[a-zA-Z0-9_-]+" are allowed', at)
        try:
            fields = _target_fields(service, secrets, env, cwd)
        except (schema.DecodeError, ValueError) as exc:
            _fail(str(exc), at)
        targets.append(ComposeTarget(target_name, fields, at))
    return ComposeConfig(tuple(targets), bool(services))


_TARGET_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def _target_fields(service: Mapping[str, Any], secrets: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """One service's `build` as bake fields (compose.go's Target literal, then x-bake, target and image)."""
    build = as_build(service["build"])
    fields: dict[str, Any] = {}
    context = build.get("context", ".")
    fields["context"] = context_path(context, env) if context != "" else None
    fields["contexts"] = _named_contexts(key_values(build.get("additional_contexts")), env)
    for key, field in (("dockerfile", "dockerfile"), ("dockerfile_inline", "dockerfile-inline")):
        if build.get(key):
            fields[field] = build[key]
    fields["args"] = _args(build.get("args"), service_environment(service, env, cwd), env)
    fields["labels"] = {k: ("" if v is None else v) for k, v in key_values(build.get("labels"), label=True).items()}
    fields["tags"] = list(build.get("tags") or [])
    fields["cache-from"] = schema.parse_cache_entries(build.get("cache_from") or [])
    fields["cache-to"] = schema.parse_cache_entries(build.get("cache_to") or [])
    if build.get("network"):
        fields["network"] = build["network"]
    fields["platforms"] = list(build.get("platforms") or [])
    fields["ssh"] = sorted(_ssh(build.get("ssh"), env), key=_ssh_order)
    fields["secret"] = [_secret(item, secrets, env) for item in build.get("secrets") or []]
    fields["shm-size"] = _shm_size(build.get("shm_size"))
    fields["ulimits"] = _ulimits(build.get("ulimits"))
    fields["extra-hosts"] = _extra_hosts(build.get("extra_hosts"))
    fields["attest"] = _attests(build)
    if _truthy(build.get("no_cache")):
        fields["no-cache"] = True
    if _truthy(build.get("pull")):
        fields["pull"] = True
    _apply_x_bake(fields, build.get("x-bake"))
    if build.get("target"):
        fields["target"] = build["target"]
    if not fields["tags"] and service.get("image"):
        fields["tags"] = [go_sprint(service["image"])]
    return {key: value for key, value in fields.items() if value is not None and value != [] and value != {}}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value in _TRUE)


def _named_contexts(contexts: Mapping[str, str | None], env: Mapping[str, str] | None) -> dict[str, str]:
    """composeToBuildkitNamedContexts: `service:NAME` becomes `target:NAME` (sanitised).

    `env` is None for x-bake's contexts, which compose-go never sees as paths.
    """
    out: dict[str, str] = {}
    for key, value in contexts.items():
        text = value or "" if env is None else context_path(value or "", env)
        if text.startswith(("service:", "target:")):
            text = "target:" + text.split(":", 1)[1].replace(".", "_")
        out[key] = text
    return out


def _args(value: Any, environment: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, str]:
    """Build args; one without a value takes the service's environment, then the project's."""
    out: dict[str, str] = {}
    for key, item in key_values(value).items():
        if item is None:
            item = environment.get(key)
            if item is None:
                item = env.get(key)
        if item is not None:
            out[key] = item
    return out


def service_environment(service: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> dict[str, str | None]:
    """compose-go's WithServicesEnvironmentResolved: `env_file` files, overridden by `environment`."""
    environment = {k: (env.get(k) if v is None else v) for k, v in key_values(service.get("environment")).items()}
    loaded: dict[str, str | None] = {}
    for entry in _env_files(service.get("env_file")):
        path = go_clean(expand_user(str(entry.get("path", "")), env))
        full = cwd / path
        observed.probe(full)  # for a replay: an optional env file that appears changes the result
        if not full.exists():
            if entry.get("required", True) is not False:
                raise ValueError(f"env file {path} not found: stat {path}: no such file or directory")
            continue

        def lookup(key: str) -> str | None:
            found = env.get(key)
            return found if found is not None else environment.get(key)

        loaded.update(parse_dotenv(full.read_bytes().decode("utf-8", "replace"), path, lookup))
    return {**loaded, **environment}


def _env_files(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            out.append({"path": item})
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise ValueError(f"invalid type {go_type(item)} for env_file")
    return out


def _ssh(value: Any, env: Mapping[str, str]) -> list[schema.SSH]:
    """compose-go's SSHConfig (`default`, `ID=PATH`) as buildflags.SSH entries."""
    if value is None:
        return []
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        pairs = [(str(k), "" if v is None else go_sprint(v)) for k, v in value.items()]
    else:
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"invalid ssh key type {go_type(item)}")
            ident, sep, path = item.partition("=")
            if not sep and ident != "default":
                raise ValueError(f'invalid ssh key "{item}"')
            pairs.append((ident, path))
    out: list[schema.SSH] = []
    for ident, path in pairs:
        if path:
            path = expand_user(path, env)
            path = path if path.startswith("/") else go_clean(path)
        out.append(schema.SSH(ident, (path,) if path else ()))
    return out


def _ssh_order(key: schema.SSH) -> tuple[str, tuple[str, ...]]:
    """buildflags SSH.Less: by ID, then by paths."""
    return key.id, key.paths


def _secret(item: Any, secrets: Mapping[str, Any], env: Mapping[str, str]) -> schema.Secret:
    """composeToBuildkitSecret: the ID is the source, file and environment from the top-level secret."""
    source = item if isinstance(item, str) else str((item or {}).get("source", ""))
    config = secrets.get(source) or {}
    if not isinstance(config, dict):
        raise ValueError(f"secrets.{source} must be a mapping")
    external = config.get("external")
    if external is True or (isinstance(external, str) and external.lower() == "true") or isinstance(external, dict):
        raise ValueError(f"unsupported external secret {config.get('name') or source}")
    path = config.get("file") or ""
    if path:
        path = expand_user(str(path), env)
        path = path if path.startswith("/") else go_clean(path)
    return schema.Secret(source, path, str(config.get("environment") or ""))


_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _shm_size(value: Any) -> str | None:
    """compose-go's UnitBytes, printed as docker's MemBytes (`1GiB`); none when not positive."""
    if value is None:
        return None
    if isinstance(value, int):
        size = value
    else:
        size = ram_in_bytes(str(value))  # SizeError is a ValueError, which the caller reports
    if size <= 0:
        return None
    amount, unit = float(size), 0
    while amount >= 1024 and unit < len(_BINARY) - 1:
        amount /= 1024
        unit += 1
    return f"{amount:.4g}{_BINARY[unit]}"


_ULIMIT_NAMES = frozenset("core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack".split())


def _ulimits(value: Any) -> list[str]:
    """NAME=SOFT:HARD per entry; a single number leaves soft and hard at 0, as buildx reads it."""
    out: list[str] = []
    for name, limit in (value or {}).items():
        if isinstance(limit, dict):
            soft, hard = _int(limit.get("soft", 0)), _int(limit.get("hard", 0))
        elif isinstance(limit, int) and not isinstance(limit, bool):
            soft = hard = 0
        else:
            raise ValueError(f"services.build.ulimits.{name}: invalid type {go_type(limit)} for ulimits")
        if name not in _ULIMIT_NAMES:
            raise ValueError(f"invalid ulimit type: {name}")
        if soft > hard:
            raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        out.append(f"{name}={soft}:{hard}")
    return out


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"ulimit value {go_sprint(value)} is not an integer")
    return value


def _extra_hosts(value: Any) -> dict[str, str]:
    """compose-go's HostsList (`host=ip`, `host:ip`, or a map), IPs of a host joined by commas."""
    hosts: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for host, ips in value.items():
            hosts[host] = [go_sprint(i) for i in ips] if isinstance(ips, list) else ["" if ips is None else go_sprint(ips)]
    else:
        for item in value or []:
            text = go_sprint(item)
            for separator in ("=", ":"):
                host, sep, ips = text.partition(separator)
                if sep:
                    hosts.setdefault(host, []).extend(ips.split(","))
                    break
            else:
                raise ValueError(f"invalid additional host, missing IP: {text}")
    out: dict[str, str] = {}
    for host, ips in hosts.items():
        if host == "" or ":" in host or "=" in host:
            raise ValueError(f"bad host name '{host}'")
        out[host] = ",".join(ip[1:-1] if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]" else ip for ip in ips)
    return out


def _attests(build: Mapping[str, Any]) -> list[schema.Attest]:
    """`sbom` and `provenance` as attestations (buildflags.CanonicalizeAttest)."""
    out: list[schema.Attest] = []
    for kind in ("sbom", "provenance"):
        value = build.get(kind)
        if value is None or value == "":
            continue
        text = go_sprint(value)
        out.append(schema.parse_attest_text(_canonical_attest(kind, text)))
    return out


def _canonical_attest(kind: str, text: str) -> str:
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return f"type={kind},disabled=true"
    if text in _TRUE:
        return f"type={kind}"
    return f"type={kind},{text}"


# ------------------------------------------------------------------ x-bake


def _string_array(value: Any) -> list[str]:
    """x-bake's stringArray: a list, or one string split at white space."""
    if value is None:
        return []
    if isinstance(value, list):
        return [go_sprint(item) for item in value]
    if isinstance(value, dict):
        raise ValueError("x-bake: cannot unmarshal a mapping into a list of strings")
    return go_sprint(value).split()


def _dedup(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _apply_x_bake(fields: dict[str, Any], ext: Any) -> None:
    """composeExtTarget: the x-bake extension adds to (lists) or sets (flags) the target's fields."""
    if ext is None:
        return
    if not isinstance(ext, dict):
        raise ValueError("x-bake must be a mapping")
    from bakeplan.bake import overrides as ov

    tags = _string_array(ext.get("tags"))
    if tags:
        fields["tags"] = _dedup([*fields["tags"], *tags])
    for key in ("cache-from", "cache-to"):
        entries = schema.parse_cache_entries(_string_array(ext.get(key)))
        if entries:
            fields[key] = ov.merge_cache(fields[key] or None, entries) or []
    secrets = [schema.parse_secret_text(text) for text in _string_array(ext.get("secret")) if text]
    if secrets:
        fields["secret"] = ov.merge_by_id(fields["secret"] or None, secrets) or []
    ssh = [schema.parse_ssh_text(text) for text in _string_array(ext.get("ssh")) if text]
    if ssh:
        fields["ssh"] = sorted(ov.merge_by_id(fields["ssh"] or None, ssh) or [], key=_ssh_order)
    platforms = _string_array(ext.get("platforms"))
    if platforms:
        fields["platforms"] = _dedup([*fields["platforms"], *platforms])
    outputs = [schema.parse_export_text(text) for text in _string_array(ext.get("output")) if text]
    if outputs:
        fields["output"] = outputs
    for key in ("pull", "no-cache"):
        if key in ext and ext[key] is not None:
            fields[key] = _x_bool(key, ext[key])
    filters = _string_array(ext.get("no-cache-filter"))
    if filters:
        fields["no-cache-filter"] = _dedup(filters)
    contexts = ext.get("contexts")
    if contexts:
        if not isinstance(contexts, dict):
            raise ValueError("x-bake.contexts must be a mapping")
        added = _named_contexts({str(k): go_sprint(v) for k, v in contexts.items()}, None)
        fields["contexts"] = {**added, **fields["contexts"]}


def _x_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"x-bake.{key}: cannot unmarshal {go_sprint(value)!r} into a boolean")


# ------------------------------------------------------------------ blocks


def to_blocks(config: ComposeConfig) -> list[Any]:
    """The compose targets as `resolve.RawBlock`s, then their `default` group (when there are services)."""
    from bakeplan.bake.resolve import RawBlock

    blocks: list[Any] = []
    for target in config.targets:
        attributes = {key: schema.RawAttribute(_plain(value), target.location) for key, value in target.fields.items()}
        blocks.append(RawBlock("target", target.name, attributes, target.name, {}, target.location))
    if config.has_services:
        members = schema.RawAttribute([target.name for target in config.targets] or None)  # Go's nil slice
        blocks.append(RawBlock("group", "default", {"targets": members}, "default"))
    return blocks


def _plain(value: Any) -> Any:
    """A decoded field in the JSON-like form `schema.decode_block` reads back to the same value."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, schema.Attest):
        return {**dict(value.attrs), "type": value.type, **({"disabled": "true"} if value.disabled else {})}
    if isinstance(value, (schema.CacheEntry, schema.ExportEntry, schema.Secret, schema.SSH)):
        return value.to_json()
    return value
