"""buildx's `Target` and `Group` structs: fields, JSON names, types, print order, decoding.

A target is held between stages as a plain dict keyed by JSON name, in which an
absent key is Go's nil. `TARGET_FIELDS` lists the keys in the order of the Go
struct (docker/buildx bake/bake.go `type Target struct`), which is the order
`--print` writes them. Values are:

- `str` for `*string` fields, `bool` for `*bool`,
- `list[str]` for `[]string`, `dict[str, str | None]` for the maps,
- lists of the frozen entry dataclasses below for cache/output/attest/secret/ssh,
- `Resources` and `list[Policy]` for the two object fields.

`decode_attribute` turns one evaluated attribute (a JSON-like Python value)
into that form with the conversions and errors of cty/gohcl and the
`FromCtyValue` methods of buildx's `util/buildflags`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bakeplan.errors import BakeFileError, Location

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


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One `cache-from`/`cache-to` entry (buildflags.CacheOptionsEntry)."""

    type: str
    attrs: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Go's MarshalJSON: attrs plus type, keys sorted."""
        return dict(sorted({**dict(self.attrs), "type": self.type}.items()))


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One `output` entry (buildflags.ExportEntry)."""

    type: str
    attrs: tuple[tuple[str, str], ...] = ()
    dest: str = ""

    def to_json(self) -> dict[str, Any]:
        """Go's MarshalJSON: attrs plus type and dest (when set), keys sorted."""
        out = {**dict(self.attrs), "type": self.type}
        if self.dest:
            out["dest"] = self.dest
        return dict(sorted(out.items()))

    def with_attr(self, key: str, value: str) -> ExportEntry:
        """A copy with one attribute set."""
        return ExportEntry(self.type, _pairs({**dict(self.attrs), key: value}), self.dest)


@dataclass(frozen=True, slots=True)
class Attest:
    """One `attest` entry (buildflags.Attest)."""

    type: str
    disabled: bool = False
    attrs: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Go's MarshalJSON: attrs, type and `disabled: true`, keys sorted."""
        out: dict[str, Any] = {**dict(self.attrs), "type": self.type}
        if self.disabled:
            out["disabled"] = True
        return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Secret:
    """One `secret` entry (buildflags.Secret)."""

    id: str = ""
    src: str = ""
    env: str = ""

    def to_json(self) -> dict[str, Any]:
        """Struct order id, src, env; empty ones omitted."""
        return {k: v for k, v in (("id", self.id), ("src", self.src), ("env", self.env)) if v}


@dataclass(frozen=True, slots=True)
class SSH:
    """One `ssh` entry (buildflags.SSH)."""

    id: str = ""
    paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Struct order id, paths; empty ones omitted."""
        out: dict[str, Any] = {}
        if self.id:
            out["id"] = self.id
        if self.paths:
            out["paths"] = list(self.paths)
        return out


RESOURCE_KEYS: tuple[tuple[str, bool], ...] = (
    ("memory", False),
    ("memory-swap", False),
    ("cpu-shares", True),
    ("cpu-period", True),
    ("cpu-quota", True),
    ("cpuset-cpus", False),
    ("cpuset-mems", False),
)


@dataclass(frozen=True, slots=True)
class Resources:
    """`resources` (buildflags.ResourcesConfig); values keyed by JSON name."""

    values: tuple[tuple[str, str | int], ...] = ()

    def merge(self, other: Resources) -> Resources:
        """Later non-nil fields win."""
        return Resources(_ordered_resources({**dict(self.values), **dict(other.values)}))

    def to_json(self) -> dict[str, Any]:
        """Struct order, nil fields omitted."""
        return dict(self.values)


@dataclass(frozen=True, slots=True)
class Policy:
    """One `policy` entry (buildflags.PolicyConfig; Go prints its exported field names)."""

    files: tuple[str, ...] = ()
    reset: bool = False
    disabled: bool = False
    strict: bool | None = None
    log_level: int | None = None  # logrus.Level, which Go prints as a number

    def to_json(self) -> dict[str, Any]:
        """The struct has no JSON tags, so Go prints every field under its Go name."""
        return {
            "Files": [{"Filename": f, "Data": None} for f in self.files] if self.files else None,
            "Reset": self.reset,
            "Disabled": self.disabled,
            "Strict": self.strict,
            "LogLevel": self.log_level,
        }


def _pairs(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))


def _ordered_resources(values: Mapping[str, str | int]) -> tuple[tuple[str, str | int], ...]:
    return tuple((k, values[k]) for k, _ in RESOURCE_KEYS if k in values)


class DecodeError(ValueError):
    """A value that does not fit a field; `decode_attribute` adds the location."""


# ---------------------------------------------------------------- conversions


@dataclass(frozen=True, slots=True)
class Number:
    """A cty number lowered from the value model: its exact cty text (e.g. "1.5")."""

    text: str

    def __str__(self) -> str:
        return self.text


def _lower(value: Any, hv: Any) -> Any:
    """A value-model `Value` as JSON-like Python (numbers as `Number`); `hv` is bakeplan.hcl.values, imported late."""
    payload = value.v
    kind = value.type
    if payload is None or kind is hv.STRING or kind is hv.BOOL:
        return payload
    if kind is hv.NUMBER:
        return Number(hv.format_number(payload))
    if isinstance(payload, tuple):
        return [_lower(item, hv) for item in payload]
    if isinstance(payload, dict):
        return {key: _lower(item, hv) for key, item in payload.items()}
    return payload


def format_number(value: int | float | Decimal | Fraction | Number) -> str:
    """cty's number-to-string conversion: big.Float.Text('f', -1)."""
    if isinstance(value, Number):
        return value.text
    if isinstance(value, bool):
        raise DecodeError("string required")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        value = Decimal(value.numerator) / Decimal(value.denominator)
    dec = value if isinstance(value, Decimal) else Decimal(repr(value))
    if dec == dec.to_integral_value():
        return str(int(dec))
    text = format(dec.normalize(), "f")
    return text


def to_string(value: Any) -> str | None:
    """cty convert to string: strings as is, numbers formatted, bools as words."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, Fraction, Number)):
        return format_number(value)
    raise DecodeError("string required")


def to_bool(value: Any) -> bool | None:
    """cty convert to bool: bools, and the strings "true"/"false"."""
    if value is None or isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if isinstance(value, str):
        raise DecodeError("a bool is required")
    raise DecodeError("bool required")


def to_string_list(value: Any) -> list[str] | None:
    """cty convert to list(string); null elements are an error when decoded into []string."""
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise DecodeError("list of string required")
    out: list[str] = []
    for item in value:
        if isinstance(item, (Mapping, list, tuple)):
            raise DecodeError("list of string required")
        text = to_string(item)
        if text is None:
            raise DecodeError("null value is not allowed")
        out.append(text)
    return out


def to_string_map(value: Any, *, nullable: bool) -> dict[str, str | None] | None:
    """cty convert to map(string); null values kept only for map[string]*string."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise DecodeError("map of string required")
    out: dict[str, str | None] = {}
    for key, item in value.items():
        if isinstance(item, (Mapping, list, tuple)):
            raise DecodeError("map of string required")
        text = to_string(item)
        if text is None and not nullable:
            raise DecodeError("null value is not allowed")
        out[str(key)] = text
    return out


# ------------------------------------------------------------ CSV and entries


def csv_fields(text: str) -> list[str]:
    """tonistiigi/go-csvvalue.Fields: one CSV record (quotes allowed), "" gives [""]."""
    if '"' not in text and "\n" not in text and "\r" not in text:
        return text.split(",")  # the common case, without the csv module's overhead
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as error:
        raise DecodeError(f"parse error: {error}") from None
    if len(rows) != 1:
        raise DecodeError(f"parse error on line 1: extraneous or missing \" in {text!r}")
    return rows[0]


def csv_pair(key: str, value: str) -> str:
    """buildx's csvBuilder.Write for one key=value pair (quoted when needed)."""
    pair = f"{key}={value}"
    if "," in pair or '"' in pair:
        pair = '"' + pair.replace('"', '""') + '"'
    return pair


def parse_cache_text(text: str) -> CacheEntry:
    """CacheOptionsEntry.UnmarshalText: `ref` alone or `type=...,k=v`."""
    fields = csv_fields(text)
    if len(fields) == 1 and "=" not in fields[0]:
        return CacheEntry("registry", (("ref", fields[0]),))
    kind = ""
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            raise DecodeError(f"invalid value {item}")
        if key.lower() == "type":
            kind = value
        else:
            attrs[key.lower()] = value
    if not kind:
        raise DecodeError(f"type required for {_go_quote(text)}")
    return CacheEntry(kind, _pairs(attrs))


def parse_cache_entries(values: Sequence[str]) -> list[CacheEntry]:
    """buildflags.ParseCacheEntry: a bare CSV of refs yields one entry per ref."""
    out: list[CacheEntry] = []
    for text in values:
        if text == "":
            continue
        if "=" not in text:
            out.extend(parse_cache_text(ref) for ref in csv_fields(text))
            continue
        out.append(parse_cache_text(text))
    return out


def parse_export_text(text: str) -> ExportEntry:
    """ExportEntry.UnmarshalText: a bare path is a local export, `-` a tar to stdout."""
    fields = csv_fields(text)
    if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
        return ExportEntry("local" if text != "-" else "tar", (), text)
    kind, dest = "", ""
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            raise DecodeError(f"invalid value {item}")
        key = key.strip().lower()
        if key == "type":
            kind = value
        elif key == "dest":
            dest = value
        else:
            attrs[key] = value
    if not kind:
        raise DecodeError("type is required for output")
    return ExportEntry(kind, _pairs(attrs), dest)


def parse_bool_go(text: str) -> bool:
    """strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise DecodeError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def parse_attest_text(text: str) -> Attest:
    """Attest.UnmarshalText: `type=sbom,disabled=true,k=v`."""
    kind, disabled = "", False
    attrs: dict[str, str] = {}
    for item in csv_fields(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise DecodeError(f"invalid value {item}")
        name = key.strip().lower()
        if name == "type":
            kind = value
        elif name == "disabled":
            try:
                disabled = parse_bool_go(value)
            except DecodeError as error:
                raise DecodeError(f"invalid value {item}: {error}") from None
        else:
            attrs[key] = value
    if not kind:
        raise DecodeError("attestation type not specified")
    return Attest(kind, disabled, _pairs(attrs))


def parse_secret_text(text: str) -> Secret:
    """Secret.UnmarshalText: `id=...,src=...,env=...,type=file|env`."""
    try:
        fields = csv_fields(text)
    except DecodeError as error:
        raise DecodeError(f"failed to parse csv secret: {error}") from None
    ident = src = env = kind = ""
    for item in fields:
        key, sep, value = item.partition("=")
        key = key.lower()
        if not sep:
            raise DecodeError(f"invalid field '{item}' must be a key=value pair")
        if key == "type":
            if value not in ("file", "env"):
                raise DecodeError(f"unsupported secret type {_go_quote(value)}")
            kind = value
        elif key == "id":
            ident = value
        elif key in ("source", "src"):
            src = value
        elif key == "env":
            env = value
        else:
            raise DecodeError(f"unexpected key '{key}' in '{item}'")
    if kind == "env" and not env:
        env, src = src, ""
    return Secret(ident, src, env)


def parse_ssh_text(text: str) -> SSH:
    """SSH.UnmarshalText: `id` or `id=path1,path2`."""
    ident, sep, paths = text.partition("=")
    return SSH(ident, tuple(paths.split(",")) if sep else ())


POLICY_LEVELS = {"panic": 0, "fatal": 1, "error": 2, "warn": 3, "warning": 3, "info": 4, "debug": 5, "trace": 6}


def parse_policy_fields(fields: Sequence[str]) -> Policy:
    """buildflags.parsePolicyFields."""
    files: list[str] = []
    reset = disabled = False
    strict: bool | None = None
    level: int | None = None
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            raise DecodeError(f"invalid value {item}")
        key = key.strip().lower()
        if key == "filename" and value:
            files.append(value)
        elif key in ("reset", "disabled", "strict"):
            try:
                flag = parse_bool_go(value)
            except DecodeError as error:
                raise DecodeError(f"invalid value {item}: {error}") from None
            reset, disabled, strict = (
                (flag, disabled, strict) if key == "reset" else (reset, flag, strict) if key == "disabled" else (reset, disabled, flag)
            )
        elif key == "log-level" and value.lower() in POLICY_LEVELS:
            level = POLICY_LEVELS[value.lower()]
        else:
            raise DecodeError(f"invalid value {item}")
    return Policy(tuple(files), reset, disabled, strict, level)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------ list decoders


def _elements(value: Any, want: str) -> list[Any]:
    """buildflags' FromCtyValue on a list: tuples/lists only; skip empty strings and nulls."""
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise DecodeError(f"list of {want} required")
    return [item for item in value if item is not None and item != ""]


def _string_map(value: Any) -> dict[str, str]:
    """convert.Convert(v, cty.Map(cty.String)) for an entry given in object form."""
    if not isinstance(value, Mapping):
        if isinstance(value, bool):
            raise DecodeError("map of string required, but have bool")
        if isinstance(value, (int, float, Decimal, Fraction, Number)):
            raise DecodeError("map of string required, but have number")
        raise DecodeError("map of string required")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, (Mapping, list, tuple)):
            raise DecodeError("map of string required")
        text = to_string(item)
        if text is not None:
            out[str(key)] = text
    return out


def decode_cache(value: Any) -> list[CacheEntry]:
    """CacheOptions.FromCtyValue."""
    out: list[CacheEntry] = []
    for item in _elements(value, "map of string"):
        if isinstance(item, str):
            out.extend(parse_cache_entries([item]))
            continue
        attrs = _string_map(item)
        kind = attrs.pop("type", "")
        if not kind:
            raise DecodeError(f"type required for {_cty_json(item)}")
        out.append(CacheEntry(kind, _pairs(attrs)))
    return out


def decode_exports(value: Any) -> list[ExportEntry]:
    """Exports.FromCtyValue."""
    out: list[ExportEntry] = []
    for item in _elements(value, "map of string"):
        if isinstance(item, str):
            out.append(parse_export_text(item))
            continue
        attrs = _string_map(item)
        kind = attrs.pop("type", "")
        dest = attrs.pop("dest", "")
        if not kind:
            raise DecodeError("type is required for output")
        out.append(ExportEntry(kind, _pairs(attrs), dest))
    return out


def decode_attests(value: Any) -> list[Attest]:
    """Attests.FromCtyValue (object form needs no type, unlike the text form)."""
    out: list[Attest] = []
    for item in _elements(value, "map of string"):
        if isinstance(item, str):
            out.append(parse_attest_text(item))
            continue
        attrs = _string_map(item)
        kind = attrs.pop("type", "")
        disabled = parse_bool_go(attrs.pop("disabled")) if "disabled" in attrs else False
        out.append(Attest(kind, disabled, _pairs(attrs)))
    return out


def _object_attrs(item: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """The known attributes of an object-form entry (cty's conversion drops the others)."""
    if not isinstance(item, Mapping):
        raise DecodeError("object required")
    return {k: v for k, v in item.items() if v is not None and k in allowed}


def decode_secrets(value: Any) -> list[Secret]:
    """Secrets.FromCtyValue."""
    out: list[Secret] = []
    for item in _elements(value, "object"):
        if isinstance(item, str):
            out.append(parse_secret_text(item))
            continue
        attrs = {k: to_string(v) or "" for k, v in _object_attrs(item, ("id", "src", "env")).items()}
        out.append(Secret(attrs.get("id", ""), attrs.get("src", ""), attrs.get("env", "")))
    return out


def decode_ssh(value: Any) -> list[SSH]:
    """SSHKeys.FromCtyValue."""
    out: list[SSH] = []
    for item in _elements(value, "object"):
        if isinstance(item, str):
            out.append(parse_ssh_text(item))
            continue
        attrs = _object_attrs(item, ("id", "paths"))
        paths = to_string_list(attrs.get("paths")) or []
        out.append(SSH(to_string(attrs.get("id")) or "", tuple(paths)))
    return out


def decode_resources(value: Any) -> Resources | None:
    """ResourcesConfig.FromCtyValue."""
    if value is None:
        return None
    attrs = _object_attrs(value, [k for k, _ in RESOURCE_KEYS])
    numeric = dict(RESOURCE_KEYS)
    values: dict[str, str | int] = {}
    for key, item in attrs.items():
        if numeric[key]:
            number = item if isinstance(item, (int, float, Decimal, Fraction)) and not isinstance(item, bool) else None
            if isinstance(item, Number):
                number = Decimal(item.text)
            if number is None:
                try:
                    number = Decimal(str(item))
                except ArithmeticError:
                    raise DecodeError("a number is required") from None
            if number != int(number):
                raise DecodeError("value must be a whole number, between -9223372036854775808 and 9223372036854775807")
            values[key] = int(number)
        else:
            text = to_string(item)
            if text is not None:
                values[key] = text
    return Resources(_ordered_resources(values))


def decode_policy(value: Any) -> list[Policy]:
    """PolicyConfigs.FromCtyValue."""
    out: list[Policy] = []
    for item in _elements(value, "map of string"):
        if isinstance(item, str):
            out.append(parse_policy_fields(csv_fields(item)))
            continue
        if not isinstance(item, Mapping):
            raise DecodeError("map of string required")
        fields = []
        for key, field_value in item.items():
            if field_value is None or field_value == "":
                continue
            text = to_string(field_value)
            fields.append(f"{key}={text}")
        out.append(parse_policy_fields(fields))
    return out


def _cty_json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


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


@dataclass(frozen=True, slots=True)
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
                value = _decode_lowered(field_kind, _lower(_converted(field_kind, raw, hv), hv))
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
