"""`--set PATTERN.KEY[.SUB][+]=VALUE` overrides, as buildx's newOverrides/AddOverrides.

Parsing (`parse_overrides`) expands each pattern against the defined target
names and collects, per target, one `Override` per key; applying
(`apply_overrides`) mutates a target's field dict the way buildx's
`Target.AddOverrides` does (docker/buildx bake/bake.go).

Order: buildx applies one target's overrides in Go map order, which is random:
`--set '*.output=type=docker' --set '*.push=true'` prints three different
outputs from run to run. bakeplan applies them in the order their keys were
first given on the command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bakeplan.bake import schema
from bakeplan.bake.schema import DecodeError, TargetFields
from bakeplan.errors import BakeplanError

# Keys whose values accumulate into a list (repeated --set appends).
LIST_KEYS = frozenset(
    {"output", "cache-to", "cache-from", "tags", "platform", "secrets", "ssh", "attest", "entitlements", "network", "annotations", "policy"}
)


@dataclass(slots=True)
class Override:
    """What the --set flags say about one key of one target."""

    value: str = ""
    values: list[str] = field(default_factory=list)
    append: bool = False


Overrides = dict[str, dict[str, Override]]


class OverrideError(BakeplanError):
    """A malformed or inapplicable --set."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="Use --set PATTERN.KEY[.SUB][+]=VALUE, e.g. --set '*.platform=linux/amd64'.")


# ------------------------------------------------------------- Go's path.Match


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Translate a Go path.Match pattern to a regex; None when the pattern is malformed."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i + 1 >= n:
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            cls, i = _glob_class(pattern, i + 1)
            if cls is None:
                return None
            out.append(cls)
            continue
        elif ch == "]":
            return None
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _glob_class(pattern: str, i: int) -> tuple[str | None, int]:
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    parts: list[str] = []
    first = True
    while True:
        if i >= len(pattern):
            return None, i
        ch = pattern[i]
        if ch == "]" and not first:
            break
        first = False
        lo, i = _glob_char(pattern, i)
        if lo is None:
            return None, i
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _glob_char(pattern, i + 1)
            if hi is None:
                return None, i
            parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            parts.append(re.escape(lo))
    body = "".join(parts)
    return (f"[^/{body}]" if negate else f"[{body}]"), i + 1


def _glob_char(pattern: str, i: int) -> tuple[str | None, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        return None, i
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return None, i
    return pattern[i], i + 1


def glob_match(pattern: str, name: str) -> bool:
    """Go's path.Match; raises ValueError for a malformed pattern."""
    regex = _glob_regex(pattern)
    if regex is None:
        raise ValueError("syntax error in pattern")
    return regex.match(name) is not None


# ------------------------------------------------------------------- parsing


def expand_targets(pattern: str, names: Sequence[str]) -> list[str]:
    """buildx's Config.expandTargets: an exact target name, else glob matches."""
    if pattern in names:
        return [pattern]
    try:
        matched = [name for name in names if glob_match(pattern, name)]
    except ValueError:
        raise OverrideError(f"could not match targets with '{pattern}': syntax error in pattern") from None
    if not matched:
        raise OverrideError(f"could not find any target matching '{pattern}'")
    return matched


def parse_overrides(sets: Sequence[str], target_names: Sequence[str], env: Mapping[str, str]) -> Overrides:
    """buildx's newOverrides: per target name, per key, the accumulated override."""
    result: Overrides = {}
    for text in sets:
        key_part, sep, value = text.partition("=")
        has_value = bool(sep)
        append = key_part.endswith("+")
        skey = key_part[:-1] if append else key_part
        keys = skey.split(".", 2)
        if len(keys) < 2:
            raise OverrideError(f"invalid override key {skey}, expected target.name")
        if not has_value and keys[1] != "args":
            raise OverrideError(f"invalid override {text}, expected target.name=value")
        okey = ".".join(keys[1:])
        for name in expand_targets(keys[0], target_names):
            per_target = result.setdefault(name, {})
            override = per_target.get(okey) or Override()
            if not _fill(override, keys, key_part, append, has_value, value, env):
                continue
            per_target[okey] = override
    return result


def _fill(override: Override, keys: list[str], key_part: str, append: bool, has_value: bool, value: str, env: Mapping[str, str]) -> bool:
    """Record one --set into `override`; False when buildx skips it (args.X from an unset env)."""
    head = keys[1]
    if head in LIST_KEYS:
        if has_value:
            override.append = append
            override.values.append(value)
        return True
    if head in ("resources", "secret"):
        if len(keys) != 3:
            raise OverrideError(f"invalid key {key_part}, {head} requires name")
        if append:
            raise OverrideError(f"invalid key {key_part}, {head} does not support append")
        override.value = value
        return True
    if head in ("args", "contexts") and len(keys) != 3:
        raise OverrideError(f"invalid key {key_part}, {head} requires name")
    if head == "args" and not has_value:
        # `--set t.args.X` (no `=`) takes X from the environment, or is ignored.
        if keys[2] not in env:
            return False
        override.value = env[keys[2]]
    if has_value:
        override.value = value
    return True


# ------------------------------------------------------------------ applying


def apply_overrides(target: TargetFields, overrides: Mapping[str, Override] | None) -> None:
    """buildx's Target.AddOverrides, in the order the keys were first given."""
    if not overrides:
        return
    secret_overrides: dict[str, Override] = {}
    for key, override in overrides.items():
        head, _, sub = key.partition(".")
        has_sub = "." in key
        try:
            if head == "secret":
                if not has_sub:
                    raise OverrideError("invalid format for secret, expecting secret.<id>=<value>")
                secret_overrides[sub] = override
                continue
            _apply_one(target, head, sub, has_sub, override)
        except DecodeError as error:
            raise OverrideError(f"invalid override {key}: {error}") from None
    for ident, override in secret_overrides.items():
        _update_secret(target, ident, override.value)


def _set_map_entry(target: TargetFields, field_name: str, sub: str, has_sub: bool, value: str) -> None:
    if not has_sub:
        example = "<hostname>=<ip>" if field_name == "extra-hosts" else "<name>=<value>"
        raise OverrideError(f"invalid format for {field_name}, expecting {field_name}.{example}")
    target.setdefault(field_name, {})[sub] = value


def _parse_bool(key: str, value: str) -> bool:
    try:
        return schema.parse_bool_go(value)
    except DecodeError:
        raise OverrideError(f"invalid value {value} for boolean key {key}") from None


def _replace_or_append(target: TargetFields, name: str, override: Override, items: list[Any]) -> None:
    target[name] = (list(target.get(name) or []) + items) if override.append else items


def _apply_one(target: TargetFields, head: str, sub: str, has_sub: bool, override: Override) -> None:
    value = override.value
    simple = {"context": "context", "dockerfile": "dockerfile", "target": "target", "call": "call", "shm-size": "shm-size", "network": "network"}
    if head in simple:
        target[simple[head]] = value
    elif head in ("args", "contexts", "labels", "extra-hosts"):
        _set_map_entry(target, head, sub, has_sub, value)
    elif head in ("tags", "platform", "no-cache-filter", "ulimits"):
        field_name = "platforms" if head == "platform" else head
        _replace_or_append(target, field_name, override, list(override.values))
    elif head in ("annotations", "entitlements"):
        target[head] = list(target.get(head) or []) + list(override.values)
    elif head == "policy":
        policies = [schema.parse_policy_fields(schema.csv_fields(v)) for v in override.values]
        _replace_or_append(target, "policy", override, list(policies))
    elif head in ("cache-from", "cache-to"):
        entries = schema.parse_cache_entries(override.values)
        target[head] = merge_cache(target.get(head), entries) if override.append else (entries or None)
    elif head in ("secrets", "ssh", "output", "attest"):
        _apply_entries(target, head, override)
    elif head in ("no-cache", "pull"):
        target[head] = _parse_bool(head, value)
    elif head in ("push", "load"):
        flag = _parse_bool(head, value)
        outputs = list(target.get("output") or [])
        target["output"] = (_set_push(outputs, flag) if head == "push" else _set_load(outputs, flag)) or None
    elif head == "resources":
        _set_resource(target, sub, has_sub, value)
    else:
        raise OverrideError(f"unknown key: {head}")


def _apply_entries(target: TargetFields, head: str, override: Override) -> None:
    texts = [v for v in override.values if v != ""]
    if head == "secrets":
        secrets = [schema.parse_secret_text(v) for v in texts]
        target["secret"] = merge_by_id(target.get("secret"), secrets) if override.append else secrets
    elif head == "ssh":
        keys = [schema.parse_ssh_text(v) for v in texts]
        target["ssh"] = merge_by_id(target.get("ssh"), keys) if override.append else keys
    elif head == "output":
        outputs = [schema.parse_export_text(v) for v in texts]
        target["output"] = merge_exports(target.get("output"), outputs) if override.append else outputs
    else:
        attests = [schema.parse_attest_text(v) for v in texts]
        target["attest"] = merge_attests(target.get("attest"), attests)


def _set_resource(target: TargetFields, sub: str, has_sub: bool, value: str) -> None:
    if not has_sub:
        raise OverrideError("invalid format for resources, expecting resources.<name>=<value>")
    numeric = dict(schema.RESOURCE_KEYS)
    if sub not in numeric:
        raise OverrideError(f"unknown resources key {sub}")
    item: str | int = value
    if numeric[sub]:
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            raise OverrideError(f"invalid value {value} for int64 key resources.{sub}")
        item = int(value)
    current = target.get("resources") or schema.Resources()
    target["resources"] = current.merge(schema.Resources(((sub, item),)))


def _update_secret(target: TargetFields, ident: str, value: str) -> None:
    """buildx's Target.updateSecret: only a declared secret's source can be overridden."""
    if ident == "":
        raise OverrideError("invalid format for secret, expecting secret.<id>=<value>")
    secrets: list[schema.Secret] = list(target.get("secret") or [])
    for index, secret in enumerate(secrets):
        if secret.id != ident:
            continue
        try:
            parsed = schema.parse_secret_text(value)
        except DecodeError as error:
            raise OverrideError(str(error)) from None
        if parsed.id and parsed.id != ident:
            raise OverrideError(f'secret override id "{parsed.id}" does not match declared secret "{ident}"')
        secrets[index] = schema.Secret(secret.id, parsed.src, parsed.env)
        target["secret"] = secrets
        return
    raise OverrideError(f'secret "{ident}" must be declared before it can be overridden')


def _set_push(outputs: list[schema.ExportEntry], push: bool) -> list[schema.ExportEntry]:
    """buildx's setPushOverride (including its swap-with-last removal order)."""
    if not push:
        i = 0
        while i < len(outputs):
            entry = outputs[i]
            if entry.type == "registry":
                outputs[i], outputs[-1] = outputs[-1], outputs[i]
                outputs.pop()
                continue
            if entry.type == "image":
                outputs[i] = entry.with_attr("push", "false")
            i += 1
        return outputs
    add = all(entry.type == "docker" for entry in outputs)
    outputs = [entry.with_attr("push", "true") if entry.type == "image" else entry for entry in outputs]
    if add:
        outputs.append(schema.ExportEntry("image", (("push", "true"),)))
    return outputs


def _set_load(outputs: list[schema.ExportEntry], load: bool) -> list[schema.ExportEntry]:
    """buildx's setLoadOverride."""
    if not load:
        return outputs
    for entry in outputs:
        if entry.type == "docker":
            if not entry.dest:
                return outputs
        elif entry.type not in ("image", "registry", "oci"):
            return outputs
    return [*outputs, schema.ExportEntry("docker")]


# ------------------------------------------------- buildflags merge semantics


def remove_dupes(items: list[Any]) -> list[Any]:
    """buildflags.removeDupes: walks backwards, swapping each later duplicate with the last element."""
    s = list(items)
    for i in range(len(s) - 2, -1, -1):
        elem = s[i]
        for j in range(i + 1, len(s)):
            if elem == s[j]:
                s[j], s[-1] = s[-1], s[j]
                s.pop()
                break
    return s


def merge_cache(current: list[Any] | None, other: list[Any] | None) -> list[Any] | None:
    """CacheOptions.Merge."""
    if other is None:
        return remove_dupes(current) or None if current else None
    if current is None:
        return remove_dupes(other) or None
    return remove_dupes([*current, *other]) or None


def merge_exports(current: list[Any] | None, other: list[Any] | None) -> list[Any] | None:
    """Exports.Merge (unlike CacheOptions.Merge, a nil side leaves the other as is)."""
    if other is None:
        return current
    if current is None:
        return other
    return remove_dupes([*current, *other]) or None


def _dedupe_by(items: list[Any], key: str) -> list[Any]:
    """removeAttestDupes / removeSecretDupes / removeSSHDupes: a later entry replaces an earlier one in place."""
    out: list[Any] = []
    index: dict[str, int] = {}
    for item in items:
        k = getattr(item, key)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


def merge_attests(current: list[Any] | None, other: list[Any] | None) -> list[Any] | None:
    """Attests.Merge (dedupe by type)."""
    return _merge_keyed(current, other, "type")


def merge_by_id(current: list[Any] | None, other: list[Any] | None) -> list[Any] | None:
    """Secrets.Merge / SSHKeys.Merge (dedupe by id)."""
    return _merge_keyed(current, other, "id")


def _merge_keyed(current: list[Any] | None, other: list[Any] | None, key: str) -> list[Any] | None:
    # Merge with a nil side returns the other side (normalized in Go only as a
    # discarded call result for attests/secrets/ssh, so not deduplicated).
    if other is None:
        return current
    if current is None:
        return other
    return _dedupe_by([*current, *other], key) or None


def normalize_keyed(items: list[Any] | None, key: str) -> list[Any] | None:
    """Attests/Secrets/SSHKeys.Normalize."""
    if not items:
        return None
    return _dedupe_by(list(items), key)
