"""buildx's `Target` and `Group` structs: fields, JSON names, types, print order, decoding.

A target is held between stages as a plain dict keyed by JSON name, in which an
absent key is Go's nil. `TARGET_FIELDS` lists the keys in the order of the Go
struct (docker/buildx bake/bake.go `type Target struct`), which is the order
`--print` writes them. Values are:

- `str` for `*string` fields, `bool` for `*bool`,
- `list[str]` for `[]string`, `dict[str, str | None]` for the maps,
- lists of the frozen entry records of `bakeplan.bake.buildflags` for
  cache/output/attest/secret/ssh,
- `Resources` and `list[Policy]` for the two object fields.

`decode_block` turns evaluated attributes (JSON-like Python values) into that
form with the conversions and errors of cty/gohcl (`bakeplan.bake.convert`)
and the `FromCtyValue` methods of buildx's `util/buildflags`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakeplan.bake.buildflags import (
    POLICY_LEVELS,
    RESOURCE_KEYS,
    SSH,
    Attest,
    CacheEntry,
    ExportEntry,
    Policy,
    Resources,
    Secret,
    csv_fields,
    csv_pair,
    decode_attests,
    decode_cache,
    decode_exports,
    decode_policy,
    decode_resources,
    decode_secrets,
    decode_ssh,
    parse_attest_text,
    parse_bool_go,
    parse_cache_entries,
    parse_cache_text,
    parse_export_text,
    parse_policy_fields,
    parse_secret_text,
    parse_ssh_text,
)
from bakeplan.bake.convert import DecodeError, Number, format_number, lower, to_bool, to_string, to_string_list, to_string_map
from bakeplan.errors import BakeFileError, Location
from bakeplan.record import record

# The entry types and parsers live in bakeplan.bake.buildflags, the conversions in
# bakeplan.bake.convert; they stay importable from here, where callers found them.
__all__ = [
    "POLICY_LEVELS", "RESOURCE_KEYS", "SSH", "Attest", "CacheEntry", "DecodeError", "ExportEntry", "Number", "Policy",
    "RawAttribute", "Resources", "Secret", "TargetFields", "csv_fields", "csv_pair", "decode_attests", "decode_block",
    "decode_cache", "decode_exports", "decode_policy", "decode_resources", "decode_secrets", "decode_ssh",
    "format_number", "parse_attest_text", "parse_bool_go", "parse_cache_entries", "parse_cache_text",
    "parse_export_text", "parse_policy_fields", "parse_secret_text", "parse_ssh_text", "to_bool", "to_string",
    "to_string_list", "to_string_map",
]

# Kinds of field, named after the Go type they stand for.
STRING = "string"  # *string
TEXT = "text"  # string (omitempty), e.g. description
LIST = "list"  # []string
MAP = "map"  # map[string]*string
CONTEXTS = "contexts"  # map[string]string
BOOL = "bool"  # *bool
CACHE = "cache"  # buildflags.CacheOptions
EXPORTS = "exports"  # buildflags.Exports
ATTESTS = "attests"  # buildflags.Attests
SECRETS = "secrets"  # buildflags.Secrets
SSHKEYS = "ssh"  # buildflags.SSHKeys
RESOURCES = "resources"  # *buildflags.ResourcesConfig
POLICY = "policy"  # buildflags.PolicyConfigs

# (JSON/HCL name, kind), in Go struct order = `--print` key order.
TARGET_FIELDS: tuple[tuple[str, str], ...] = (
    ("description", TEXT),
    ("inherits", LIST),
    ("annotations", LIST),
    ("attest", ATTESTS),
    ("context", STRING),
    ("contexts", CONTEXTS),
    ("dockerfile", STRING),
    ("dockerfile-inline", STRING),
    ("args", MAP),
    ("labels", MAP),
    ("tags", LIST),
    ("cache-from", CACHE),
    ("cache-to", CACHE),
    ("target", STRING),
    ("secret", SECRETS),
    ("ssh", SSHKEYS),
    ("platforms", LIST),
    ("output", EXPORTS),
    ("pull", BOOL),
    ("no-cache", BOOL),
    ("network", STRING),
    ("no-cache-filter", LIST),
    ("shm-size", STRING),
    ("ulimits", LIST),
    ("resources", RESOURCES),
    ("call", STRING),
    ("entitlements", LIST),
    ("extra-hosts", MAP),
    ("policy", POLICY),
)
TARGET_KINDS: dict[str, str] = dict(TARGET_FIELDS)
GROUP_FIELDS: tuple[tuple[str, str], ...] = (("description", TEXT), ("targets", LIST))
GROUP_KINDS: dict[str, str] = dict(GROUP_FIELDS)
# Attributes the HCL layer consumes itself (matrix expansion, naming).
IGNORED_ATTRIBUTES = frozenset({"matrix", "name"})

TargetFields = dict[str, Any]

_DECODERS: dict[str, Any] = {
    CACHE: decode_cache,
    EXPORTS: decode_exports,
    ATTESTS: decode_attests,
    SECRETS: decode_secrets,
    SSHKEYS: decode_ssh,
    RESOURCES: decode_resources,
    POLICY: decode_policy,
}


def _decode_lowered(kind: str, value: Any) -> Any:
    if kind == STRING:
        return to_string(value)
    if kind == TEXT:
        if value is None:
            raise DecodeError("null value is not allowed")
        return to_string(value)
    if kind == LIST:
        return to_string_list(value)
    if kind == MAP:
        return to_string_map(value, nullable=True)
    if kind == CONTEXTS:
        return to_string_map(value, nullable=False)
    if kind == BOOL:
        return to_bool(value)
    if value is None:
        return None
    return _DECODERS[kind](value)


@record
class RawAttribute:
    """One evaluated attribute: its value (JSON-like Python) and where it was written."""

    value: Any
    location: Location | None = None
    name_location: Location | None = None


def decode_block(kind: str, attributes: Mapping[str, RawAttribute]) -> TargetFields:
    """Decode a target's or group's attributes; values that do not fit are errors."""
    from bakeplan.hcl import values as hv

    kinds = TARGET_KINDS if kind == "target" else GROUP_KINDS
    out: TargetFields = {}
    for name, attribute in attributes.items():
        if name in IGNORED_ATTRIBUTES and kind == "target":
            continue
        field_kind = kinds.get(name)
        if field_kind is None:
            continue  # buildx ignores (and never evaluates) attributes outside its struct
        raw = attribute.value
        try:
            if isinstance(raw, hv.Value):
                value = _decode_lowered(field_kind, lower(_converted(field_kind, raw, hv), hv))
            else:
                value = _decode_lowered(field_kind, raw)
        except DecodeError as error:
            raise BakeFileError(f"Unsuitable value type; Unsuitable value: {error}", attribute.location) from None
        if value is not None:
            out[name] = value
    return out


def _converted(kind: str, value: Any, hv: Any) -> Any:
    """gohcl's conversion of a value to the field's cty type, with cty's own messages."""
    if kind not in _PLAIN_KINDS:
        if kind != RESOURCES and value.v is not None and not isinstance(value.type, (hv.ListType, hv.TupleType)):
            raise DecodeError(hv.mismatch_message(value.type, hv.ListType(hv.MapType(hv.STRING))))
        return value
    if value.v is None and kind == TEXT:
        raise DecodeError("null value is not allowed")
    if _already(kind, value, hv):
        return value
    want = {STRING: hv.STRING, TEXT: hv.STRING, BOOL: hv.BOOL, LIST: hv.ListType(hv.STRING)}.get(kind, hv.MapType(hv.STRING))
    try:
        converted = hv.convert(value, want)
    except hv.ConversionError as error:
        raise DecodeError(str(error)) from None
    if kind in (LIST, CONTEXTS) and converted.v is not None and any(item.v is None for item in _items(converted.v)):
        raise DecodeError("null value is not allowed")  # gocty into []string / map[string]string
    return converted


_PLAIN_KINDS = frozenset({STRING, TEXT, BOOL, LIST, MAP, CONTEXTS})


def _already(kind: str, value: Any, hv: Any) -> bool:
    """True when the value already has the field's shape (the common case: no conversion needed)."""
    payload = value.v
    if kind in (STRING, TEXT):
        return value.type is hv.STRING
    if kind == LIST:
        return isinstance(payload, tuple) and all(item.type is hv.STRING and item.v is not None for item in payload)
    if kind in (MAP, CONTEXTS):
        nullable = kind == MAP
        return isinstance(payload, dict) and all(
            item.type is hv.STRING and (nullable or item.v is not None) for item in payload.values()
        )
    return False


def _items(payload: Any) -> Any:
    return payload.values() if isinstance(payload, dict) else payload
