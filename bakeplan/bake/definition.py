"""buildx's hclparser layer: variables, globals, functions, blocks and matrices -> a `Definition`.

This module is the API, its output types and the conversions of override text;
the evaluation itself is `bakeplan.bake.hclparser` (one module per stage).

API (what the bake stage reads)
-------------------------------
``read_definition(bodies, *, env, vars=None, builtins=None, functions=None) -> Definition``

- `bodies`: parsed files in load order (`parse_source(name, data)` parses one
  file as buildx's ParseHCLFile does: `*.json` as HCL JSON, `*.hcl` as HCL,
  anything else HCL then JSON). Later files win for variables, functions and
  top-level attributes, as buildx's merged body does.
- `env`: the environment variables that override variables (pass {} when
  BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP is set); `vars`: `--var NAME=VALUE`
  (win over `env`); `builtins`: BAKE_CMD_CONTEXT / BAKE_LOCAL_PLATFORM
  (default "cwd://" and this machine's platform); `functions`: the stdlib
  table (default `bakeplan.hcl.functions.FUNCTIONS`).

``Definition``
- `blocks: tuple[RawBlock, ...]`: every target and group block, in source
  order, after matrix expansion (a matrix block yields one RawBlock per
  combination, in bakeplan's deterministic order, see `matrix.py`).
  Duplicate blocks are NOT merged here (bake.go merges them: `Target.Merge`).
- `variables: tuple[Variable, ...]`: for `--list variables`, in source order.
- `renamed: Mapping[str, tuple[str, ...]]`: for each block label whose
  generated names differ from the label (a matrix or `name`), the names in
  order (empty when the matrix has no combinations): buildx adds these as
  implicit groups.

``RawBlock(kind, name, attributes, label, matrix, location, label_location)``
- `kind`: "target" or "group"; `name`: the (generated) name; `label`: the
  block label as written; `matrix`: {key: Value} of this combination, in
  matrix key order ({} for plain blocks); `location`: the block's start.
- `attributes`: {name: Attribute} in source order, only the attributes
  buildx decodes (the Target/Group struct fields: `schema.TARGET_FIELDS`);
  `name`/`matrix` and unknown attributes are not included (buildx ignores
  unknown attributes without evaluating them).

``Attribute(name, value, location, name_location)``: `value` is a
`bakeplan.hcl.values.Value` (use `values.to_python` for JSON-like data, or
keep the Value: non-integral numbers need `values.format_number` to print
as buildx does); `location` is where the expression starts (buildx reports
decode errors there).

``Variable(name, value, description, type, display)``: `type` is cty's
friendly name of the declared type ("list of string", None when untyped),
`display` the value as `--list variables` prints it (None for null).

Where buildx is not deterministic, bakeplan picks one behaviour:
- matrix combinations: first key outermost, values in list order (matrix.py);
- `target.NAME.ATTR` when NAME is defined by several blocks: the struct
  hclparser stored last before the reading block is decoded, visiting the
  reader's attributes sorted by name (buildx: Go map order, which is that
  order 7 times in 8); read after all the blocks, that is often the first
  block merged with the others (see `hclparser.references`);
- errors: the first one in source order (see below).
Known simplifications: a top-level attribute is always evaluated in the
global scope (buildx evaluates it in the scope of whatever first references
it, so a matrix variable can leak into it); a `variable` block's description
may be any expression (buildx requires a literal).

Evaluation order and errors follow hclparser.Parse: all variables, their
validations, user functions, block names (matrices), then every target and
group block (an error in a target that was not asked for still fails, as in
buildx), then the remaining top-level attributes. buildx visits Go maps at
random here; bakeplan goes in source order, so with several errors the
first one in the files is reported, followed by buildx's count of the others
(", and N other diagnostic(s)"): every target and group block is decoded (a
matrix block up to its first failed combination); a failed expression counts
all its diagnostics (`hcl.evaluate.count`) and one more, as gohcl also
reports its unknown value; the values of the other attributes that do not fit
their field count too. A variable or top-level attribute fails with its own
expression's diagnostics only (hclparser returns them as they are).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bakeplan.bake import csvvalue
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast, syntax
from bakeplan.hcl import values as cty
from bakeplan.hcl.functions import Function
from bakeplan.hcl.values import DYNAMIC, STRING, Value
from bakeplan.platforms import buildx_local_platform
from bakeplan.record import field, record

BLOCK_KINDS = ("target", "group")
JSON_SUFFIX = "_JSON"


# ------------------------------------------------------------------ outputs


@record
class Attribute:
    """One evaluated attribute of a target or group block."""

    name: str
    value: Value
    location: Location
    name_location: Location

    @property
    def python(self) -> Any:
        """The value as JSON-like Python data (non-integral numbers become float)."""
        return cty.to_python(self.value)


@record
class RawBlock:
    """One target or group block after matrix expansion, attributes evaluated."""

    kind: str
    name: str
    attributes: Mapping[str, Attribute]
    label: str
    matrix: Mapping[str, Value] = field(default_factory=dict)
    location: Location | None = None
    label_location: Location | None = None


@record
class Variable:
    """A declared variable as `--list variables` shows it."""

    name: str
    value: Value
    description: str = ""
    type: str | None = None
    display: str | None = None


@record
class Definition:
    """Everything the bake files define, evaluated."""

    blocks: tuple[RawBlock, ...]
    variables: tuple[Variable, ...]
    renamed: Mapping[str, tuple[str, ...]]

    @property
    def targets(self) -> tuple[RawBlock, ...]:
        """The target blocks, in source order."""
        return tuple(b for b in self.blocks if b.kind == "target")

    @property
    def groups(self) -> tuple[RawBlock, ...]:
        """The group blocks, in source order."""
        return tuple(b for b in self.blocks if b.kind == "group")


# ------------------------------------------------------------------ parsing


def parse_source(name: str, data: bytes) -> ast.Body:
    """Parse one bake file as buildx's ParseHCLFile: by suffix, else HCL then JSON."""
    if name.endswith(".json"):
        from bakeplan.hcl.json import parse_json

        return parse_json(data, name)
    text = syntax.decode(data, name)
    if name.endswith(".hcl"):
        return syntax.parse(text, name)
    try:
        return syntax.parse(text, name)
    except BakeFileError:
        from bakeplan.hcl.json import parse_json

        try:
            return parse_json(data, name)
        except BakeFileError:
            pass
        raise


def default_builtins() -> dict[str, str]:
    """buildx's built-in variables for a local invocation."""
    return {"BAKE_CMD_CONTEXT": "cwd://", "BAKE_LOCAL_PLATFORM": local_platform()}


def local_platform() -> str:
    """containerd's platforms.Format(platforms.DefaultSpec()) for this machine (buildx's form, `linux/arm64/v8`)."""
    return buildx_local_platform()


# ------------------------------------------------------------------ types and overrides


# A pattern text, compiled (and cached by `re`) on first use: only a number-typed override reads it.
_GO_FLOAT = r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)$"
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def convert_primitive(name: str, text: str, want: cty.Type) -> Value:
    """hclparser convertPrimitive: Go's ParseBool / ParseFloat on an override string."""
    if want is STRING:
        return cty.string_val(text)
    if want is cty.BOOL:
        if text in _GO_TRUE or text in _GO_FALSE:
            return cty.bool_val(text in _GO_TRUE)
        raise ValueError(f'failed to parse {name} as bool: strconv.ParseBool: parsing "{text}": invalid syntax')
    if want is cty.NUMBER:
        return cty.number_val(_parse_go_float(name, text))
    raise ValueError(f"{name} of type {cty.friendly_name(want)} is not a primitive")


def _parse_go_float(name: str, text: str) -> float:
    lowered = text.lower().lstrip("+-")
    if lowered in ("inf", "infinity", "nan"):
        raise ValueError(f"failed to parse {name} as number: invalid number value")
    if not text or not re.match(_GO_FLOAT, text) or not any(c.isdigit() for c in text):
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": invalid syntax')
    try:
        number = float.fromhex(text) if "x" in text.lower() else float(text)
    except ValueError:
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": invalid syntax') from None
    if math.isinf(number):
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": value out of range')
    return number


def value_from_csv(name: str, text: str, want: cty.Type) -> Value:
    """hclparser valueFromCSV: list/set/tuple/map values from a CSV override."""
    try:
        fields = csvvalue.fields(text)
    except csvvalue.CSVError as exc:
        raise ValueError(f"failed to parse {text} as CSV: {exc}") from None
    if isinstance(want, (cty.ListType, cty.SetType)):
        if not want.elem.is_primitive():
            raise ValueError(f"unsupported type {cty.friendly_name(want)} for CSV specification")
        elems = [_csv_element(name, f, want.elem, want) for f in fields]
        if isinstance(want, cty.ListType):
            return cty.list_val(elems, want.elem)
        return cty.set_val(elems, want.elem)
    if isinstance(want, cty.TupleType):
        if len(want.elems) != len(fields):
            raise ValueError(
                f"{cty.friendly_name(want)} expects {len(want.elems)} elements but only {len(fields)} provided"
            )
        return cty.tuple_val([_csv_element(name, f, t, want) for f, t in zip(fields, want.elems)])
    assert isinstance(want, cty.MapType)
    if not want.elem.is_primitive():
        raise ValueError(f"unsupported type {cty.friendly_name(want)} for CSV specification")
    items: dict[str, Value] = {}
    for f in fields:
        try:
            parts = csvvalue.fields(f, ":")
        except csvvalue.CSVError as exc:
            raise ValueError(f"failed to parse {f} as k/v for variable {name}: {exc}") from None
        if len(parts) != 2:
            raise ValueError(f"expected one k/v pair but got {len(parts)} pieces from {f}")
        items[parts[0]] = _csv_element(name, parts[1], want.elem, want, "from")
    return cty.map_val(items, want.elem)


def _csv_element(name: str, text: str, want: cty.Type, whole: cty.Type, word: str = "of") -> Value:
    if not want.is_primitive():
        raise ValueError(f"unsupported type {cty.friendly_name(whole)} for CSV specification")
    try:
        return convert_primitive(name, text, want)
    except ValueError as exc:
        raise ValueError(f"failed to parse element {word} type {cty.friendly_name(whole)}: {exc}") from None


def type_json(t: cty.Type) -> Any:
    """cty's JSON encoding of a type ("string", ["list", "string"], ["object", {...}])."""
    if t is DYNAMIC:
        return "dynamic"
    if isinstance(t, cty.PrimitiveType):
        return t.name
    if isinstance(t, cty.ListType):
        return ["list", type_json(t.elem)]
    if isinstance(t, cty.SetType):
        return ["set", type_json(t.elem)]
    if isinstance(t, cty.MapType):
        return ["map", type_json(t.elem)]
    if isinstance(t, cty.TupleType):
        return ["tuple", [type_json(e) for e in t.elems]]
    assert isinstance(t, cty.ObjectType)
    return ["object", {k: type_json(v) for k, v in t.attrs.items()}]


def type_from_json(data: Any) -> cty.Type:
    """The inverse of `type_json` (cty's JSON type encoding)."""
    if data == "dynamic":
        return DYNAMIC
    if isinstance(data, str) and data in ("string", "number", "bool"):
        return {"string": STRING, "number": cty.NUMBER, "bool": cty.BOOL}[data]
    if isinstance(data, list) and len(data) == 2:
        kind, inner = data
        if kind in ("list", "set", "map"):
            return {"list": cty.ListType, "set": cty.SetType, "map": cty.MapType}[kind](type_from_json(inner))
        if kind == "tuple" and isinstance(inner, list):
            return cty.TupleType(type_from_json(t) for t in inner)
        if kind == "object" and isinstance(inner, dict):
            return cty.ObjectType({k: type_from_json(v) for k, v in inner.items()})
    raise ValueError("invalid type specification")


def dynamic_from_json(text: str) -> Value:
    """ctyjson.Unmarshal into DynamicPseudoType: {"value": ..., "type": ...}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(data, dict):
        raise ValueError("missing expected {")
    if "value" not in data or "type" not in data:
        raise ValueError("missing type and value properties")
    want = type_from_json(data["type"])
    return cty.convert(cty.json_decode(json.dumps(data["value"])), want)


def display_value(value: Value, constraint: cty.Type | None) -> str | None:
    """A variable's value as `--list variables` prints it (None for null)."""
    if value.v is None:
        return None
    if constraint is not None:
        if constraint is DYNAMIC:
            type_text = json.dumps(type_json(value.type), separators=(",", ":"))
            return f'{{"value":{cty.json_encode(value)},"type":{type_text}}}'
        text = cty.json_encode(value)
        return text.strip('"') if constraint is STRING else text
    if value.type.is_primitive():
        return str(cty.convert(value, STRING).v)
    return cty.json_encode(value)


# ------------------------------------------------------------------ entry point


def stdlib_functions() -> Mapping[str, Function]:
    """bake's stdlib (bakeplan.hcl.functions)."""
    from bakeplan.hcl import functions

    return functions.FUNCTIONS


def read_definition(
    bodies: Sequence[ast.Body],
    *,
    env: Mapping[str, str],
    vars: Mapping[str, str] | None = None,
    builtins: Mapping[str, str] | None = None,
    functions: Mapping[str, Function] | None = None,
) -> Definition:
    """Evaluate parsed bake files as buildx's hclparser.Parse does (see the module docstring)."""
    # Evaluation allocates many small acyclic objects; the cyclic collector's repeated
    # full scans would make a big matrix cost twice as much (and grow worse than linearly).
    with syntax.no_gc():
        return _read(bodies, env, vars or {}, builtins, functions)


def _read(
    bodies: Sequence[ast.Body],
    env: Mapping[str, str],
    vars: Mapping[str, str],
    builtins: Mapping[str, str] | None,
    functions: Mapping[str, Function] | None,
) -> Definition:
    # the parser reads this module's types and conversions: imported here, so this module loads first
    from bakeplan.bake.hclparser import Parser, evaluate_blocks

    parser = Parser(
        bodies,
        env,
        vars,
        default_builtins() if builtins is None else builtins,
        stdlib_functions() if functions is None else functions,
    )
    parser.globals.resolve_variables()
    listing = parser.globals.listing()
    parser.globals.validate()
    parser.functions.resolve_all()
    instances = parser.blocks.expand()
    blocks = evaluate_blocks(parser.blocks, instances)
    parser.globals.resolve_attributes()
    renamed = {label: tuple(found) for (_, label), found in parser.blocks.renamed.items() if list(found) != [label]}
    return Definition(blocks, listing, renamed)
