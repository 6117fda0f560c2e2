"""`--set PATTERN.KEY[.SUB][+]=VALUE` overrides, as buildx's newOverrides/AddOverrides.

Parsing (`parse_overrides`) expands each pattern against the defined target
names and collects, per target, one `Override` per key; applying
(`apply_overrides`) mutates a target's field dict the way buildx's
`Target.AddOverrides` does (docker/buildx bake/bake.go).

Order: buildx applies one target's overrides in Go map order, which is random:
`--set '*.output=type=docker' --set '*.push=true'` (or `--push`) prints
different outputs from run to run, each target on its own. bakeplan applies
them in the order their keys were first given on the command line, buildx's
usual answer (a small Go map iterates in insertion order 7 times in 8).

Build flags (`BuildFlags`: `--push`, `--load`, `--call`, `--no-cache`,
`--pull`, `--sbom`, `--provenance`) are the `--set`s buildx derives from them,
after the user's own. Key names and their semantics are buildx v0.38's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from bakeplan.bake import schema
from bakeplan.bake.schema import DecodeError, TargetFields
from bakeplan.errors import BakeplanError
from bakeplan.record import field, record

# buildx v0.38's newOverrides: plural key names are aliases of singular ones, so
# `--set t.tags=a --set t.tag+=b` is one override of one key.
ALIASES = {
    "annotations": "annotation", "args": "arg", "entitlements": "entitlement", "extra-hosts": "extra-host",
    "labels": "label", "platforms": "platform", "resources": "resource", "tags": "tag", "ulimits": "ulimit",
    "secrets": "secret",
}
# Keys whose values accumulate into a list (repeated --set appends; `KEY=` clears).
LIST_KEYS = frozenset(
    {"output", "cache-to", "cache-from", "tag", "platform", "ssh", "attest", "entitlement", "annotation", "policy", "ulimit", "no-cache-filter"}
)
NAMED_KEYS = frozenset({"contexts", "label", "extra-host"})
SCALAR_KEYS = frozenset({"context", "dockerfile", "target", "call", "no-cache", "shm-size", "network", "pull", "push", "load"})


@record(frozen=False)
class Override:
    """What the --set flags say about one key of one target."""

    value: str = ""
    values: list[str] = field(default_factory=list)
    append: bool = False
    clear: bool = False  # an empty `KEY=` without `+`: the list starts again from nothing


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
        if keys[1] == "secrets" and len(keys) != 2:
            raise OverrideError(f"invalid key {key_part}, secret does not support subkeys")
        keys[1] = ALIASES.get(keys[1], keys[1])
        if not has_value and keys[1] != "arg":
            raise OverrideError(f"invalid override {text}, expected target.name=value")
        okey = ".".join(keys[1:])
        for name in expand_targets(keys[0], target_names):
            per_target = result.setdefault(name, {})
            override = per_target.get(okey) or Override()
            if not _fill(override, keys, key_part, append, value if has_value else None, env):
                continue
            per_target[okey] = override
    return result


def _fill(override: Override, keys: list[str], key_part: str, append: bool, value: str | None, env: Mapping[str, str]) -> bool:
    """Record one --set into `override`; False when buildx skips it (arg.X from an unset env)."""
    head = keys[1]
    if head in LIST_KEYS or (head == "secret" and len(keys) == 2):
        if head != "secret" and len(keys) != 2:
            raise OverrideError(f"invalid key {key_part}, {head} does not support subkeys")
        if value is not None:
            _fill_list(override, append, value)
        return True
    if head == "secret":  # secret.ID: a new source for a declared secret
        if append:
            raise OverrideError(f"invalid key {key_part}, secret does not support append")
    elif head in ("resource", "arg") or head in NAMED_KEYS:
        if len(keys) != 3:
            raise OverrideError(f"invalid key {key_part}, {head} requires name")
        if head == "resource" and append:
            raise OverrideError(f"invalid key {key_part}, resource does not support append")
    elif head in SCALAR_KEYS and len(keys) != 2:
        raise OverrideError(f"invalid key {key_part}, {head} does not support subkeys")
    if head == "arg" and value is None and env_lookup_allowed(env):
        # `--set t.arg.X` (no `=`) takes X from the environment, or is ignored.
        if keys[2] not in env:
            return False
        override.value = env[keys[2]]
    if value is not None:
        override.value = value
    return True


def _fill_list(override: Override, append: bool, value: str) -> None:
    if not append and value == "":
        override.clear = True
        override.values = []
    else:
        override.values.append(value)
    override.append = append and not override.clear


def env_lookup_allowed(env: Mapping[str, str]) -> bool:
    """False when BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP is a true boolean."""
    try:
        return not schema.parse_bool_go(env["BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP"])
    except (KeyError, DecodeError):
        return True


# ------------------------------------------------------------- build flags


@record
class BuildFlags:
    """The `docker buildx bake` build flags that shape the definition (`--push`, `--no-cache`, ...)."""

    push: bool = False
    load: bool = False
    call: str = ""  # --call (or "check" from --check); "" and "build" change nothing
    no_cache: bool | None = None  # None: not given
    pull: bool | None = None
    sbom: str = ""
    provenance: str = ""

    def overrides(self) -> tuple[str, ...]:
        """The `--set`s buildx turns them into, appended after the user's own (commands/bake.go runBake)."""
        out: list[str] = []
        if self.push:
            out.append("*.push=true")
        if self.load:
            out.append("*.load=true")
        call = parse_call(self.call)
        if call is not None:
            out.append(f"*.call={call}")
        for key, flag in (("no-cache", self.no_cache), ("pull", self.pull)):
            if flag is not None:
                out.append(f"*.{key}={'true' if flag else 'false'}")
        for kind, value in (("sbom", self.sbom), ("provenance", self.provenance)):
            if value:
                out.append(f"*.attest={canonical_attest(kind, value)}")
        return tuple(out)


def canonical_attest(kind: str, value: str) -> str:
    """buildflags.CanonicalizeAttest: `--sbom=true` is `type=sbom,disabled=false`, `--sbom=K=V` is `type=sbom,K=V`."""
    try:
        return f"type={kind},disabled={'false' if schema.parse_bool_go(value) else 'true'}"
    except DecodeError:
        return f"type={kind},{value}"


def parse_call(text: str) -> str | None:
    """buildflags.ParseCallFunc: the method name `--call` asks for, None for a plain build."""
    if text == "":
        return None
    try:
        fields = schema.csv_fields(text)
    except DecodeError as error:
        raise BakeplanError(str(error)) from None
    name = ""
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            if name:
                raise BakeplanError(f"invalid print value: {text}", hint='Use --call NAME[,format=json][,ignorestatus=true], e.g. --call check.')
            name = item
        elif key == "ignorestatus":
            try:
                schema.parse_bool_go(value)
            except DecodeError as error:
                raise BakeplanError(f"invalid ignorestatus print value: {value}: {error}") from None
        elif key != "format":
            raise BakeplanError(f"invalid print field: {item}", hint="--call takes format= and ignorestatus= besides the method name.")
    name = "lint" if name == "check" else name  # "check" is the alias buildx keeps for "lint"
    return None if name == "build" else name


# ------------------------------------------------------------------ applying


def apply_overrides(target: TargetFields, overrides: Mapping[str, Override] | None) -> None:
    """buildx's Target.AddOverrides, in the order the keys were first given."""
    if not overrides:
        return
    secret_overrides: dict[str, Override] = {}
    for key, override in overrides.items():
        head, _, sub = key.partition(".")
        if head == "secret" and sub:
            secret_overrides[sub] = override
            continue
        try:
            _apply_one(target, head, sub, override)
        except DecodeError as error:
            # buildx returns ParseCacheEntry's error as it is (bake.go AddOverrides).
            raise OverrideError(str(error) if head in ("cache-from", "cache-to") else f"invalid override {key}: {error}") from None
    for ident, override in secret_overrides.items():
        _update_secret(target, ident, override.value)


# The target field each canonical (singular) override key sets.
_FIELD = {"arg": "args", "label": "labels", "extra-host": "extra-hosts", "tag": "tags", "platform": "platforms",
          "ulimit": "ulimits", "annotation": "annotations", "entitlement": "entitlements", "secret": "secret"}
_SCALARS = frozenset({"context", "dockerfile", "target", "call", "shm-size", "network"})


def _parse_bool(key: str, value: str) -> bool:
    try:
        return schema.parse_bool_go(value)
    except DecodeError:
        raise OverrideError(f"invalid value {value} for boolean key {key}") from None


def _replace_or_append(target: TargetFields, name: str, override: Override, items: list[Any]) -> None:
    target[name] = (list(target.get(name) or []) + items) if override.append else items


def _apply_one(target: TargetFields, head: str, sub: str, override: Override) -> None:
    value = override.value
    name = _FIELD.get(head, head)
    if head in _SCALARS:
        target[name] = value
    elif head in ("arg", "contexts", "label", "extra-host"):
        target.setdefault(name, {})[sub] = value  # newOverrides made sure of the sub key
    elif head in ("tag", "platform", "no-cache-filter", "ulimit"):
        _replace_or_append(target, name, override, list(override.values))
    elif head in ("annotation", "entitlement"):
        # Both always add to what the target has, unless an empty `KEY=` cleared it.
        target[name] = [*([] if override.clear else target.get(name) or []), *override.values]
    elif head == "policy":
        policies = [schema.parse_policy_fields(schema.csv_fields(v)) for v in override.values]
        _replace_or_append(target, "policy", override, list(policies))
    elif head in ("cache-from", "cache-to"):
        entries = schema.parse_cache_entries(override.values)
        target[head] = merge_cache(target.get(head), entries) if override.append else (entries or None)
    elif head in ("secret", "ssh", "output", "attest"):
        _apply_entries(target, head, override)
    elif head in ("no-cache", "pull"):
        target[head] = _parse_bool(head, value)
    elif head in ("push", "load"):
        flag = _parse_bool(head, value)
        outputs = list(target.get("output") or [])
        target["output"] = (_set_push(outputs, flag) if head == "push" else _set_load(outputs, flag)) or None
    elif head == "resource":
        _set_resource(target, sub, value)
    else:
        raise OverrideError(f"unknown key: {head}")


def _apply_entries(target: TargetFields, head: str, override: Override) -> None:
    texts = [v for v in override.values if v != ""]
    try:
        if head == "secret":
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
            current = None if override.clear else target.get("attest")
            target["attest"] = merge_attests(current, attests)
    except DecodeError as error:
        # buildx wraps every one of these but attest's as "outputs" (bake.go AddOverrides).
        raise OverrideError(f"invalid value for {'attest' if head == 'attest' else 'outputs'}: {error}") from None


def _set_resource(target: TargetFields, sub: str, value: str) -> None:
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
