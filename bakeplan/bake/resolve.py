"""buildx's bake.go semantics on the evaluated definition: the `BakeResult` of one invocation.

Flow (docker/buildx bake/bake.go `ReadTargets`, then the parts of
`TargetsToBuildOpt` that `--print` observes):

1. decode each evaluated target/group block into typed fields (`schema`),
   merge duplicate target blocks in source order (`dedupeConfig`), add the
   implicit group of every matrix block;
2. expand requested names (globs), parse `--set` overrides;
3. resolve each requested name: groups recurse (a group wins over a
   same-named target), targets merge their `inherits` chain (later wins;
   an inheritance cycle resolves to nothing, as in buildx), apply overrides,
   normalize (dedupe tags/platforms/..., drop empty contexts);
4. pull `target:` linked targets in (with a `cacheonly` output when not asked
   for); self-links and link cycles are errors;
5. the build-options checks `--print` still runs (`buildopts`): context path
   cleaning, secret sources that must exist, output destinations, platform syntax.

Determinism: requested names in command-line order, groups' lists as
written, a matrix's targets in bakeplan's matrix order (buildx: random).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bakeplan.bake import overrides as ov
from bakeplan.bake import schema
from bakeplan.bake.buildopts import build_checks
from bakeplan.bake.model import BakeRequest, BakeResult, Target
from bakeplan.bake.schema import RawAttribute, TargetFields
from bakeplan.errors import BakeFileError, BakeplanError, CycleError, Location
from bakeplan.record import field, record


@record
class PrintResult(BakeResult):
    """A `BakeResult` plus what only `--print` shows: group descriptions."""

    group_descriptions: Mapping[str, str] = field(default_factory=dict)
    nil_groups: frozenset[str] = frozenset()  # groups whose empty target list buildx prints as null


@record
class RawBlock:
    """One evaluated target or group block (after matrix expansion), the input of this stage."""

    kind: str  # "target" | "group"
    name: str
    attributes: Mapping[str, RawAttribute]
    label: str = ""  # the block label (differs from name for matrix targets)
    matrix: Mapping[str, Any] = field(default_factory=dict)
    location: Location | None = None


@record(frozen=False)
class ConfigTarget:
    """A defined target: decoded fields of all its blocks merged, and its origin."""

    name: str
    fields: TargetFields
    label: str
    matrix: Mapping[str, Any]
    location: Location | None


@record(frozen=False)
class ConfigGroup:
    """A defined group."""

    name: str
    targets: list[str]
    description: str = ""
    nil: bool = False  # no targets list at all (`targets = null`, a compose file without builds): prints null


@record(frozen=False)
class Config:
    """buildx's Config: groups and targets in definition order."""

    groups: list[ConfigGroup]
    targets: dict[str, ConfigTarget]

    def group(self, name: str) -> ConfigGroup | None:
        """The first group with that name (buildx takes the first)."""
        for group in self.groups:
            if group.name == name:
                return group
        return None

    def names(self) -> list[str]:
        """Group names then target names, as buildx's matchNames scans them."""
        return [g.name for g in self.groups] + list(self.targets)


# ------------------------------------------------------------------ config


def build_config(blocks: Iterable[RawBlock]) -> Config:
    """Decode blocks; merge duplicate targets; add each matrix block's implicit group."""
    from bakeplan.hcl import values

    targets: dict[str, ConfigTarget] = {}
    groups: list[ConfigGroup] = []
    renamed: dict[str, list[str]] = {}
    blocks = list(blocks)
    for block in blocks:
        try:
            fields = schema.decode_block(block.kind, block.attributes)
        except BakeFileError as error:
            raise _counted(error, blocks) from None
        if block.kind == "group":
            group = ConfigGroup(
                block.name, _dedup(fields.get("targets") or []), fields.get("description", ""), "targets" not in fields
            )
            # A later group block of the same name replaces the earlier one in
            # place (hclparser.Parse: groups have no Merge method).
            index = next((i for i, g in enumerate(groups) if g.name == block.name), None)
            if index is None:
                groups.append(group)
            else:
                groups[index] = group
            continue
        label = block.label or block.name
        renamed.setdefault(label, [])
        renamed[label].append(block.name)
        existing = targets.get(block.name)
        if existing is None:
            matrix = {k: values.to_python(v) if isinstance(v, values.Value) else v for k, v in block.matrix.items()}
            targets[block.name] = ConfigTarget(block.name, fields, label, matrix, block.location)
        else:
            merge(existing.fields, fields)
    for label, names in renamed.items():
        names = _dedup(names)
        if names != [label]:
            groups.append(ConfigGroup(label, names))
    return Config(groups, targets)


def _counted(first: BakeFileError, blocks: Sequence[RawBlock]) -> BakeFileError:
    """The first value that does not fit, with buildx's count of the others (gohcl decodes every attribute)."""
    count = 0
    for block in blocks:
        for name, attribute in block.attributes.items():
            try:
                schema.decode_block(block.kind, {name: attribute})
            except BakeFileError:
                count += 1
    if count <= 1:
        return first
    return BakeFileError(f"{first.detail}, and {count - 1} other diagnostic(s)", first.location, hint=first.hint)


def _dedup(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# ------------------------------------------------------------------- merge

_REPLACE = frozenset({"context", "dockerfile", "dockerfile-inline", "target", "call", "pull", "no-cache", "network", "shm-size"})
_REPLACE_LIST = frozenset({"tags", "platforms", "cache-to", "output"})
_APPEND = frozenset({"annotations", "policy", "no-cache-filter", "ulimits", "entitlements", "inherits"})
_MAPS = frozenset({"args", "labels", "extra-hosts"})


def merge(into: TargetFields, other: Mapping[str, Any]) -> None:
    """buildx's Target.Merge: `other`'s non-nil fields over `into`, per field rules."""
    for key, value in other.items():
        if key in _REPLACE or key in _REPLACE_LIST:
            into[key] = value
        elif key in _MAPS:
            base = dict(into.get(key) or {})
            base.update({k: v for k, v in value.items() if v is not None})
            if base or key in into:
                into[key] = base
        elif key == "contexts":
            into[key] = {**(into.get(key) or {}), **value}
        elif key in _APPEND:
            into[key] = [*(into.get(key) or []), *value]
        elif key == "description":
            if value:
                into[key] = value
        else:
            _merge_entries(into, key, value)


def _merge_entries(into: TargetFields, key: str, value: Any) -> None:
    if key == "attest":
        into[key] = ov.merge_attests(into.get(key), value)
    elif key in ("secret", "ssh"):
        into[key] = ov.merge_by_id(into.get(key), value)
    elif key == "cache-from":
        into[key] = ov.merge_cache(into.get(key), value)
    elif key == "resources":
        current = into.get(key)
        into[key] = value if current is None else current.merge(value)
    else:
        raise AssertionError(f"unknown field {key}")
    if into[key] is None:
        del into[key]


def _remove_dupes_str(items: Sequence[str]) -> list[str]:
    """buildx's removeDupesStr: first occurrence kept, empty strings dropped."""
    return [item for item in _dedup(items) if item != ""]


def normalize(target: TargetFields) -> None:
    """buildx's Target.normalize."""
    for key in [k for k, v in target.items() if v is None]:
        del target[key]
    for key in ("annotations", "tags", "platforms", "no-cache-filter", "ulimits"):
        if key in target:
            target[key] = _remove_dupes_str(target[key])
    for key, ident in (("attest", "type"), ("secret", "id"), ("ssh", "id")):
        if key in target:
            target[key] = ov.normalize_keyed(target[key], ident)
    for key in ("cache-from", "cache-to", "output"):
        if key in target:
            target[key] = ov.remove_dupes(target[key]) or None
    if target.get("network") == "host":
        target["entitlements"] = [*(target.get("entitlements") or []), "network.host"]
    if "entitlements" in target:
        target["entitlements"] = _remove_dupes_str(target["entitlements"])
    if "contexts" in target:
        contexts = {k: v for k, v in target["contexts"].items() if v != ""}
        target["contexts"] = contexts or None
    for key in [k for k, v in target.items() if v is None]:
        del target[key]


# ----------------------------------------------------------------- resolve


class Resolver:
    """Resolves names of one Config with one set of overrides (buildx's Config methods)."""

    def __init__(self, config: Config, overrides: ov.Overrides) -> None:
        self.config = config
        self.overrides = overrides

    def resolve_group(self, name: str) -> tuple[list[str], list[str]]:
        """buildx's ResolveGroup: (target names, group names), deduplicated."""
        targets, groups = self._group(name, {})
        return _dedup(targets), _dedup(groups)

    def _group(self, name: str, visited: dict[str, tuple[list[str], list[str]]]) -> tuple[list[str], list[str]]:
        if name in visited:
            return visited[name]
        group = self.config.group(name)
        if group is None:
            return [name], []
        visited[name] = ([], [])
        targets: list[str] = []
        groups = [name]
        for member in group.targets:
            sub_targets, sub_groups = self._group(member, visited)
            # A group met again while being expanded yields nothing, and buildx
            # then treats its name as a target name.
            targets.extend(sub_targets or [member])
            groups.extend(sub_groups)
        visited[name] = (targets, groups)
        return targets, groups

    def resolve_target(self, name: str) -> TargetFields:
        """buildx's ResolveTarget: inherits merged, overrides applied, defaults set."""
        resolved = self._target(name, {})
        assert resolved is not None
        resolved.pop("inherits", None)
        resolved.setdefault("context", ".")
        if not resolved.get("dockerfile"):
            resolved["dockerfile"] = "Dockerfile"
        return resolved

    def _target(self, name: str, visited: dict[str, TargetFields | None]) -> TargetFields | None:
        if name in visited:
            # In progress (an inheritance cycle) gives None: buildx skips it.
            found = visited[name]
            return None if found is None else _copy(found)
        visited[name] = None
        defined = self.config.targets.get(name)
        if defined is None:
            raise BakeplanError(f"failed to find target {name}", hint=self._hint())
        parents: TargetFields = {}
        for parent in defined.fields.get("inherits") or []:
            resolved = self._target(parent, visited)
            if resolved is not None:
                merge(parents, resolved)
        result: TargetFields = {}
        merge(result, parents)
        merge(result, _copy(defined.fields))
        ov.apply_overrides(result, self.overrides.get(name))
        normalize(result)
        visited[name] = result
        return _copy(result)

    def _hint(self) -> str:
        names = sorted(self.config.names())
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        return f"Defined targets and groups: {shown or '(none)'}; `bakeplan print --list targets` lists them."


def _copy(fields: TargetFields) -> TargetFields:
    out: TargetFields = {}
    for key, value in fields.items():
        out[key] = dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
    return out


def match_names(config: Config, pattern: str) -> list[str]:
    """buildx's matchNames: a name with glob characters expands over groups then targets."""
    if not any(ch in pattern for ch in "*?[]"):
        return [pattern]
    names: list[str] = []
    for name in config.names():
        try:
            if ov.glob_match(pattern, name):
                names.append(name)
        except ValueError:
            pass
    if not names:
        raise BakeplanError(f'could not find any target matching "{pattern}"', hint="`bakeplan print --list targets` lists the defined names.")
    return names


def read_targets(config: Config, names: Sequence[str], sets: Sequence[str], env: Mapping[str, str]) -> tuple[dict[str, TargetFields], dict[str, ConfigGroup]]:
    """buildx's ReadTargets on a Config: the resolved targets and the groups to print."""
    requested = _dedup(name for raw in names for name in match_names(config, raw.replace(".", "_")))
    overrides = ov.parse_overrides(sets, list(config.targets), env)
    resolver = Resolver(config, overrides)
    targets: dict[str, TargetFields] = {}
    groups: dict[str, ConfigGroup] = {}
    for name in requested:
        target_names, group_names = resolver.resolve_group(name)
        for target_name in target_names:
            targets[target_name] = resolver.resolve_target(target_name)
        for group_name in group_names:
            group = config.group(group_name)
            if group is not None:
                groups[group_name] = group
    _default_group(groups, requested)
    for name in list(targets):
        _load_links(resolver, name, targets[name], targets, [])
    return targets, groups


def _default_group(groups: dict[str, ConfigGroup], requested: Sequence[str]) -> None:
    """buildx adds every requested name to the `default` group, then sorts it."""
    for name in requested:
        if "default" in groups and name == "default":
            continue
        if "default" not in groups:
            groups["default"] = ConfigGroup("default", [])
        groups["default"] = ConfigGroup("default", [*groups["default"].targets, name], groups["default"].description)
    if "default" in groups:
        group = groups["default"]
        groups["default"] = ConfigGroup("default", sorted(_dedup(group.targets)), group.description, group.nil)


def _load_links(resolver: Resolver, name: str, target: TargetFields, targets: dict[str, TargetFields], visited: list[str]) -> None:
    """buildx's loadLinks: follow `target:` contexts, adding linked targets as cache-only."""
    visited = [*visited, name]
    for value in (target.get("contexts") or {}).values():
        if not value.startswith("target:"):
            continue
        other = value[len("target:") :]
        if other == name:
            raise BakeplanError(f"target {other} cannot link to itself", hint="Point the context at another target or a path.")
        if other in visited:
            raise CycleError("target link", [*visited[visited.index(other) :], other])
        linked_target = targets.get(other)
        if linked_target is None:
            linked_target = resolver.resolve_target(other)
            linked_target["output"] = [schema.ExportEntry("cacheonly")]
            targets[other] = linked_target
        _load_links(resolver, other, linked_target, targets, visited)
        for entitlement in linked_target.get("entitlements") or []:
            if entitlement not in (target.get("entitlements") or []):
                target["entitlements"] = [*(target.get("entitlements") or []), entitlement]
        mine, theirs = target.get("platforms") or [], linked_target.get("platforms") or []
        if len(mine) > 1 and len(theirs) > 1 and not set(mine) <= set(theirs):
            raise BakeplanError(
                f"target {other} can't be used by {name} because its platforms [{' '.join(mine)}] are not a subset of [{' '.join(theirs)}]"
            )


# --------------------------------------------------------- printed fields


_ESCAPED_MAPS = ("args", "labels", "extra-hosts")


def _escape(text: str) -> str:
    return text.replace("${", "$${").replace("%{", "%%{")


# Field name -> (position in buildx's Target struct, kind); kinds whose empty value is omitted.
_FIELD_ORDER = {key: (index, kind) for index, (key, kind) in enumerate(schema.TARGET_FIELDS)}
_OMIT_EMPTY = frozenset({schema.LIST, schema.MAP, schema.CONTEXTS, schema.CACHE, schema.EXPORTS, schema.ATTESTS,
                         schema.SECRETS, schema.SSHKEYS, schema.POLICY, schema.TEXT})


def printed_fields(target: TargetFields) -> dict[str, Any]:
    """The target's `--print` object: struct order, nil/empty omitted, `${` escaped."""
    out: dict[str, Any] = {}
    for key in sorted((key for key in target if key in _FIELD_ORDER), key=_FIELD_ORDER.__getitem__):
        value = target[key]
        kind = _FIELD_ORDER[key][1]
        if kind in _OMIT_EMPTY and not value:
            continue
        out[key] = _printed_value(key, kind, value)
    return out


def _printed_value(key: str, kind: str, value: Any) -> Any:
    if key == "annotations":
        return [_escape(v) for v in value]
    if key == "dockerfile-inline":
        return _escape(value)
    if key in _ESCAPED_MAPS:
        return {k: (None if v is None else _escape(v)) for k, v in sorted(value.items())}
    if kind == schema.CONTEXTS:
        return dict(sorted(value.items()))
    if kind in (schema.CACHE, schema.EXPORTS, schema.ATTESTS, schema.SECRETS, schema.SSHKEYS, schema.POLICY):
        return [entry.to_json() for entry in value]
    if kind == schema.RESOURCES:
        return value.to_json()
    if kind == schema.LIST:
        return list(value)
    return value


# -------------------------------------------------------------------- load


def result_from_config(config: Config, request: BakeRequest, files: tuple[Path, ...]) -> PrintResult:
    """Resolve the requested names of a Config into the printed result."""
    names = request.names or ("default",)
    targets, groups = read_targets(config, names, request.sets, request.env)
    epoch = request.env.get("SOURCE_DATE_EPOCH", "")
    out: dict[str, Target] = {}
    for name in sorted(targets):
        fields = targets[name]
        if epoch and "SOURCE_DATE_EPOCH" not in (fields.get("args") or {}):
            fields["args"] = {**(fields.get("args") or {}), "SOURCE_DATE_EPOCH": epoch}
        build_checks(fields, request.env, request.cwd)
        defined = config.targets.get(name)
        out[name] = Target(
            name=name,
            fields=printed_fields(fields),
            matrix=dict(defined.matrix) if defined else {},
            block=defined.label if defined else name,
            location=defined.location if defined else None,
        )
    return PrintResult(
        groups={name: tuple(group.targets) for name, group in groups.items()},
        targets=out,
        files=files,
        requested=tuple(names),
        group_descriptions={name: group.description for name, group in groups.items() if group.description},
        nil_groups=frozenset(name for name, group in groups.items() if group.nil and not group.targets),
    )


def load(request: BakeRequest) -> PrintResult:
    """Read, evaluate and resolve the bake files of one invocation, as `docker buildx bake --print`."""
    from bakeplan.bake import files as bakefiles

    _refuse_file_relative_paths(request.env)
    found = bakefiles.find_files(request)
    config: Config = bakefiles.cached_evaluation(
        found, request, lambda store_parse: build_config(bakefiles.read_blocks(found, request, store_parse=store_parse))
    )
    return result_from_config(config, request, tuple(f.path for f in found))


def _refuse_file_relative_paths(env: Mapping[str, str]) -> None:
    """buildx's opt-in BUILDX_BAKE_FILE_RELATIVE_PATHS rebases contexts on each file's folder: not implemented."""
    value = env.get("BUILDX_BAKE_FILE_RELATIVE_PATHS", "").strip()
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        raise BakeplanError(
            "BUILDX_BAKE_FILE_RELATIVE_PATHS is not supported by bakeplan yet",
            hint="Unset it (contexts are then relative to the working directory, buildx's default).",
        )


def list_entries(request: BakeRequest) -> list[tuple[str, str, bool]]:
    """(name, description, is_group) of every defined target and group, for `--list targets`."""
    from bakeplan.bake import files as bakefiles

    config = build_config(bakefiles.read_blocks(bakefiles.find_files(request), request))
    entries = [(t.name, t.fields.get("description", ""), False) for t in config.targets.values()]
    for group in config.groups:
        description = group.description
        if group.targets:
            members = ", ".join(sorted(group.targets))
            description = f"{description} ({members})" if description else members
        entries.append((group.name, description, True))
    return entries


def list_variables(request: BakeRequest) -> list[dict[str, Any]]:
    """Every variable with its type, value and description, for `--list variables`."""
    from bakeplan.bake import files as bakefiles

    return bakefiles.read_variables(bakefiles.find_files(request), request)
