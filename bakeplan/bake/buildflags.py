"""buildx's util/buildflags: the cache, output, attest, secret, ssh, resources and policy entries.

Each entry is a frozen record (`bakeplan.record`) whose `to_json` writes what Go's MarshalJSON
writes. The `parse_*_text` functions are the entries' UnmarshalText (their CSV
form, split by `bakeplan.bake.csvvalue` as go-csvvalue splits it); the
`decode_*` functions are their FromCtyValue (a list of CSV strings or objects).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bakeplan.bake import csvvalue
from bakeplan.bake.convert import DecodeError, Number, to_string, to_string_list
from bakeplan.record import record


@record
class CacheEntry:
    """One `cache-from`/`cache-to` entry (buildflags.CacheOptionsEntry)."""

    type: str
    attrs: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Go's MarshalJSON: attrs plus type, keys sorted."""
        return dict(sorted({**dict(self.attrs), "type": self.type}.items()))


@record
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


@record
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


@record
class Secret:
    """One `secret` entry (buildflags.Secret)."""

    id: str = ""
    src: str = ""
    env: str = ""

    def to_json(self) -> dict[str, Any]:
        """Struct order id, src, env; empty ones omitted."""
        return {k: v for k, v in (("id", self.id), ("src", self.src), ("env", self.env)) if v}


@record
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


@record
class Resources:
    """`resources` (buildflags.ResourcesConfig); values keyed by JSON name."""

    values: tuple[tuple[str, str | int], ...] = ()

    def merge(self, other: Resources) -> Resources:
        """Later non-nil fields win."""
        return Resources(_ordered_resources({**dict(self.values), **dict(other.values)}))

    def to_json(self) -> dict[str, Any]:
        """Struct order, nil fields omitted."""
        return dict(self.values)


@record
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


# ------------------------------------------------------------ CSV and entries


def csv_fields(text: str) -> list[str]:
    """One CSV record (go-csvvalue's Fields); a text that is not one is a DecodeError with Go's message."""
    try:
        return csvvalue.fields(text)
    except csvvalue.CSVError as error:
        raise DecodeError(str(error)) from None


csv_pair = csvvalue.pair


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
    # a list (the common case) passes without the slower checks against abstract types
    if type(value) is not list and (isinstance(value, (str, Mapping)) or not isinstance(value, Sequence)):
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
