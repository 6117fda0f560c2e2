"""buildx's hclparser layer: variables, globals, functions, blocks and matrices -> a `Definition`.

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
  block merged with the others (see `_Parser.load_references`);
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
(", and N other diagnostic(s)": every target and group block is decoded, and
a failed expression counts twice, as gohcl also reports its unknown value).
Values that do not fit their field are found later (`resolve.build_config`
counts those the same way), so when an expression also fails they are left
out of the count.
"""

from __future__ import annotations

import csv
import gc
import json
import math
import platform
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakeplan.bake import matrix as mx
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import syntax as ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.functions import Function, Param
from bakeplan.hcl.evaluate import (
    Compiler,
    Env,
    error,
    expr_loc,
    free_variables,
    function_calls,
    keyword,
    type_constraint,
    unknown_function,
    unknown_variable,
)
from bakeplan.hcl.values import DYNAMIC, STRING, Value

BLOCK_KINDS = ("target", "group")
JSON_SUFFIX = "_JSON"


# ------------------------------------------------------------------ outputs


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class RawBlock:
    """One target or group block after matrix expansion, attributes evaluated."""

    kind: str
    name: str
    attributes: Mapping[str, Attribute]
    label: str
    matrix: Mapping[str, Value] = field(default_factory=dict)
    location: Location | None = None
    label_location: Location | None = None


@dataclass(frozen=True, slots=True)
class Variable:
    """A declared variable as `--list variables` shows it."""

    name: str
    value: Value
    description: str = ""
    type: str | None = None
    display: str | None = None


@dataclass(frozen=True, slots=True)
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
        from bakeplan.hcl import jsonsyntax

        return jsonsyntax.parse_json(data, name)
    text = ast.decode(data, name)
    if name.endswith(".hcl"):
        return ast.parse(text, name)
    try:
        return ast.parse(text, name)
    except BakeFileError:
        from bakeplan.hcl import jsonsyntax

        try:
            return jsonsyntax.parse_json(data, name)
        except BakeFileError:
            pass
        raise


def default_builtins() -> dict[str, str]:
    """buildx's built-in variables for a local invocation."""
    return {"BAKE_CMD_CONTEXT": "cwd://", "BAKE_LOCAL_PLATFORM": local_platform()}


def local_platform() -> str:
    """containerd's platforms.Format(platforms.DefaultSpec()) for this machine."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = platform.system().lower() or "linux"
    if arch == "arm64" and system != "darwin":
        return f"{system}/arm64/v8"
    return f"{system}/{arch}"


# ------------------------------------------------------------------ fields


def _field_kinds() -> dict[str, dict[str, str]]:
    from bakeplan.bake import schema

    return {"target": dict(schema.TARGET_FIELDS), "group": dict(schema.GROUP_FIELDS)}


_LIST_OF_STRING = cty.ListType(STRING)
_MAP_OF_STRING = cty.MapType(STRING)
_REFERENCE_TYPES: dict[str, cty.Type] = {
    "string": STRING,
    "text": STRING,
    "list": _LIST_OF_STRING,
    "map": _MAP_OF_STRING,
    "contexts": _MAP_OF_STRING,
    "bool": cty.BOOL,
}
_EMPTY_ENTRIES = Value(cty.ListType(_MAP_OF_STRING), ())


def reference_value(kind: str, value: Value | None) -> Value:
    """What `target.NAME.ATTR` yields: the field's decoded value as cty (null when unset)."""
    want = _REFERENCE_TYPES.get(kind)
    if want is None:
        if value is None or value.v is None:
            return cty.null_val(DYNAMIC) if kind == "resources" else _EMPTY_ENTRIES
        return value
    if value is None or value.v is None:
        return cty.string_val("") if kind == "text" else cty.null_val(want)
    return cty.convert(value, want)


@dataclass(slots=True)
class _Duplicate:
    """The blocks of one target name and hclparser's state for them (see `_Parser.load_references`)."""

    instances: list[_Instance]
    done: list[set[str]] = field(default_factory=list)  # per block: attributes decoded
    busy: list[set[str]] = field(default_factory=list)  # per block: attributes a reference started to decode
    passed: int = 0  # blocks Parse's loop has decoded (and merged into the first)
    snapshot: tuple[int, frozenset[str], int] | None = None  # (block, its decoded attributes, passed) stored last

    def __post_init__(self) -> None:
        self.done = [set() for _ in self.instances]
        self.busy = [set() for _ in self.instances]

    def store(self, index: int) -> None:
        """Block `index` stores (a copy of) its struct under the name."""
        self.snapshot = (index, frozenset(self.done[index]), self.passed)


def _target_references(expr: object) -> list[tuple[str, str | None]]:
    """The `target.NAME[.ATTR]` traversals of an expression, in source order (hcl's Variables())."""
    out: list[tuple[str, str | None]] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(reversed(node))
            continue
        if isinstance(node, ast.ScopeTraversal):
            steps = node.steps
            if node.name == "target" and steps and isinstance(steps[0], ast.AttrStep):
                attr = steps[1].name if len(steps) > 1 and isinstance(steps[1], ast.AttrStep) else None
                out.append((steps[0].name, attr))
        if isinstance(node, (str, Location)):
            continue
        stack.extend(reversed([getattr(node, slot) for slot in getattr(node, "__slots__", ()) if slot != "loc"]))
    return out


def start_range(expr: ast.Expr) -> Location:
    """hclsyntax's StartRange, where gohcl reports a decoded value that does not fit its field.

    A template's is its first part's: just inside the quote (past an empty
    string's), or the first interpolation's expression; a heredoc's is the
    start of its text on the next line. bakeplan's syntax tree keeps no
    heredoc marker, so a string ending in a newline counts as a heredoc, and
    an indented (`<<-`) one is assumed unindented.
    """
    loc = expr.loc
    if loc.file.endswith(".json"):
        return loc
    if isinstance(expr, ast.Template) and expr.parts and isinstance(expr.parts[0], ast.Interpolation):
        return expr.parts[0].expr.loc
    if isinstance(expr, ast.Template):
        text = "".join(part for part in expr.parts if isinstance(part, str))
    elif isinstance(expr, ast.Literal) and expr.kind == "string" and isinstance(expr.value, str):
        text = expr.value
    else:
        return loc
    if text.endswith("\n"):
        return Location(loc.file, loc.line + 1, 1)
    return Location(loc.file, loc.line, loc.column + (2 if text == "" else 1))


_MERGED_MAPS = frozenset({"args", "labels", "extra-hosts", "contexts"})
_MERGED_LISTS = frozenset({"annotations", "policy", "no-cache-filter", "ulimits", "entitlements", "inherits", "attest", "secret", "ssh", "cache-from"})


def _merged_field(attr: str, values: list[Value]) -> Value | None:
    """One field of the first block's struct after Target.Merge of the later blocks (values as references show them)."""
    present = [v for v in values if v.v is not None]
    if not present:
        return None
    if attr in _MERGED_MAPS:
        items: dict[str, Value] = {}
        for value in present:
            items.update({k: v for k, v in value.v.items() if v.v is not None})
        return cty.map_val(items, STRING) if items else present[-1]
    if attr in _MERGED_LISTS and all(isinstance(v.v, tuple) for v in present):
        elems = [e for value in present for e in value.v]
        return cty.tuple_val(elems)
    if attr == "description":
        texts = [v for v in present if v.v != ""]
        return texts[-1] if texts else present[0]
    return present[-1]


# ------------------------------------------------------------------ the parser


@dataclass(frozen=True, slots=True)
class _Planned:
    """One decodable attribute of a block, compiled once for all its instances."""

    name: str
    evaluate: Callable[[Env], Value]
    location: Location
    name_location: Location
    decode_location: Location  # where gohcl reports a value that does not fit (hcl's StartRange)


@dataclass(slots=True)
class _Instance:
    """One block instance (a matrix combination): its env and its evaluated attributes."""

    kind: str
    name: str
    block: ast.Block
    env: Env
    combo: mx.Combination
    plan: dict[str, _Planned]
    values: dict[str, Value] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)


class _Parser:
    """The evaluation context of one set of bake files (hclparser's `parser`)."""

    def __init__(
        self,
        bodies: Sequence[ast.Body],
        env: Mapping[str, str],
        vars: Mapping[str, str],  # noqa: A002
        builtins: Mapping[str, str],
        stdlib: Mapping[str, Function],
    ) -> None:
        self.lookup_env = env
        self.overrides = vars
        self.builtins = dict(builtins)
        self.stdlib = stdlib
        self.compiler = Compiler(frozenset(BLOCK_KINDS))
        self.root = Env(self)
        self.fields = _field_kinds()
        self.variables: dict[str, ast.Block] = {}
        self.functions: dict[str, ast.Block] = {}
        self.attrs: dict[str, ast.Attribute] = {}
        self.blocks: list[ast.Block] = []
        self.values: dict[str, Value] = {}
        self.constraints: dict[str, cty.Type] = {}
        self.busy: list[str] = []
        self.user_functions: dict[str, Function] = {}
        self.busy_functions: list[str] = []
        self.instances: dict[str, dict[str, list[_Instance]]] | None = None
        self.duplicates: dict[str, _Duplicate] = {}  # target names written as several blocks
        self._references: dict[tuple[int, str], list[tuple[str, str | None, Location]]] = {}  # (block, attribute) -> target refs
        self._plans: dict[int, dict[str, _Planned]] = {}
        # (kind, label) -> generated names in order (buildx ParseMeta.Renamed)
        self.renamed: dict[tuple[str, str], dict[str, None]] = {}
        self._collect(bodies)

    # -- collecting definitions

    def _collect(self, bodies: Sequence[ast.Body]) -> None:
        reserved = set(self.builtins) | set(BLOCK_KINDS)
        for body in bodies:
            for block in body.blocks:
                self._collect_block(block, reserved)
            for attribute in body.attributes:
                if attribute.name not in reserved and attribute.name != "function":
                    self.attrs[attribute.name] = attribute

    def _collect_block(self, block: ast.Block, reserved: set[str]) -> None:
        if block.type in ("variable", "function"):
            if len(block.labels) != 1:
                _label_error(block)
            if block.labels[0] in reserved:
                return
            table = self.variables if block.type == "variable" else self.functions
            table.pop(block.labels[0], None)  # a redefinition moves to its new place
            table[block.labels[0]] = block
        elif block.type in BLOCK_KINDS:
            if len(block.labels) != 1:
                _label_error(block)
            self.blocks.append(block)

    # -- EvalContext

    def lookup(self, name: str, loc: Location) -> Value:
        """A global: variable, top-level attribute or built-in (resolved on first use)."""
        found = self.values.get(name)
        if found is not None:
            return found
        if name in self.busy:
            path = " -> ".join([*self.busy[self.busy.index(name) :], name])
            raise error(
                "Invalid expression",
                f"variable cycle not allowed for {name} ({path})",
                loc,
                hint="Variables and top-level attributes must not depend on themselves; break the cycle.",
            )
        if name not in self.attrs and name not in self.variables and name not in self.builtins:
            raise unknown_variable(name, loc, self._global_names())
        return self.resolve(name)

    def function(self, name: str, loc: Location) -> Function:
        """A stdlib function, else a user `function` block."""
        found = self.stdlib.get(name) or self.user_functions.get(name)
        if found is not None:
            return found
        if name in self.functions:
            return self._resolve_function(name, loc)
        raise unknown_function(name, loc, [*self.stdlib, *self.functions])

    def block_value(self, kind: str, name: str, attr: str | None, loc: Location) -> Value:
        """`target.NAME.ATTR`: the attribute as the last block of that name decodes it (null when unset)."""
        if self.instances is None:
            raise unknown_variable(kind, loc, self._global_names())
        found = self.instances[kind].get(name)
        if not found:
            raise error("Unsupported attribute", f'This object does not have an attribute named "{name}".', loc)
        kinds = self.fields[kind]
        if attr is None:
            return cty.object_val(
                {"name": cty.string_val(name)} | {a: self._field_value(found, a, k, loc) for a, k in kinds.items()}
            )
        if attr == "name":
            return cty.string_val(name)
        field_kind = kinds.get(attr)
        if field_kind is None:
            raise error("Unsupported attribute", f'This object does not have an attribute named "{attr}".', loc)
        return self._field_value(found, attr, field_kind, loc)

    def _field_value(self, instances: list[_Instance], attr: str, kind: str, loc: Location) -> Value:
        duplicate = self.duplicates.get(instances[0].name) if instances[0].kind == "target" else None
        if duplicate is None:
            last = instances[-1]
            value = self._instance_attr(last, attr, loc) if attr in last.plan else None
        else:
            value = self._snapshot_value(duplicate, attr, kind, loc)
        try:
            return reference_value(kind, value)
        except cty.ConversionError as exc:
            raise error("Unsuitable value type", f"Unsuitable value: {exc}", loc) from None

    # -- several blocks of one target: what a reference sees
    #
    # hclparser decodes each block into its own struct and stores a copy of
    # the struct it decoded last under the name (`resolveBlock`); Parse then
    # merges every later block into the first one's struct (`Target.Merge`).
    # A reference `target.N.X` first decodes X in every block of N that has
    # not decoded X yet, in order, each storing its struct again. So the value
    # a block reads is the struct stored last before it is decoded: the first
    # block's (merged with the blocks Parse has passed by then) or a later
    # block's own. buildx visits a block's attributes in Go map order, which
    # for a small map is the insertion order 7 times in 8: gohcl's schema
    # order, names sorted. bakeplan always visits them sorted by name.

    def load_references(self, instance: _Instance) -> None:
        """hclparser loadDeps for a block about to be decoded: the snapshots its `target.` references store."""
        duplicate = self.duplicates.get(instance.name) if instance.kind == "target" else None
        index = duplicate.instances.index(instance) if duplicate is not None else -1
        for name in sorted(instance.plan):
            if duplicate is not None and name in duplicate.done[index]:
                continue
            self._reference_all(instance.block, name, set())

    def block_decoded(self, instance: _Instance) -> None:
        """A block decoded by Parse's own loop: it stores its struct, then merges into the first block."""
        duplicate = self.duplicates.get(instance.name) if instance.kind == "target" else None
        if duplicate is None:
            return
        index = duplicate.instances.index(instance)
        duplicate.done[index].update(instance.plan)
        duplicate.store(index)
        duplicate.passed = index + 1

    def _reference_all(self, block: ast.Block, attr: str, visiting: set[tuple[int, str]]) -> None:
        """loadDeps of one attribute's expression: each `target.N.X` it reads, in order."""
        key = (id(block), attr)
        references = self._references.get(key)
        if references is None:  # once per block, not per matrix combination
            found = _find_attribute(block, attr)
            refs = [] if found is None else _target_references(found.expr)
            references = self._references[key] = [(n, a, expr_loc(found.expr)) for n, a in refs] if found else []
        for name, target_attr, where in references:
            self._reference(name, target_attr, where, visiting)

    def _reference(self, name: str, attr: str | None, where: Location, visiting: set[tuple[int, str]]) -> None:
        """resolveBlock of every block of `name` for `attr` (None: the whole block)."""
        duplicate = self.duplicates.get(name)
        if duplicate is None:
            return
        for index, instance in enumerate(duplicate.instances):
            if attr is None:  # the whole block: nothing marked in progress, so guard the recursion here
                if (id(instance.block), "") in visiting:
                    continue
                visiting.add((id(instance.block), ""))
                undone = [a for a in sorted(instance.plan) if a not in duplicate.done[index]]
            elif attr in duplicate.done[index]:
                continue  # already decoded: resolveBlock returns before storing anything
            elif attr in duplicate.busy[index]:  # never cleared, as hclparser's progressB
                raise error("Invalid expression", f"reference cycle not allowed for target.{name}.{attr}", where)
            else:
                duplicate.busy[index].add(attr)
                undone = [attr]
            for item in undone:
                self._reference_all(instance.block, item, visiting)
            duplicate.done[index].update(undone)
            duplicate.store(index)

    def _snapshot_value(self, duplicate: _Duplicate, attr: str, kind: str, loc: Location) -> Value | None:
        if duplicate.snapshot is None:  # nothing stored yet (a reference outside any block): the last block's own
            last = duplicate.instances[-1]
            return self._instance_attr(last, attr, loc) if attr in last.plan else None
        index, done, passed = duplicate.snapshot
        if index == 0 and passed >= 2:  # the first block's struct, with the blocks Parse merged into it
            present = [i for i in duplicate.instances[:passed] if attr in i.plan]
            return _merged_field(attr, [reference_value(kind, self._instance_attr(i, attr, loc)) for i in present])
        instance = duplicate.instances[index]
        if attr not in done or attr not in instance.plan:
            return None
        return self._instance_attr(instance, attr, loc)

    def _global_names(self) -> list[str]:
        return [*self.builtins, *self.variables, *self.attrs]

    # -- variables and globals

    def resolve(self, name: str) -> Value:
        """Evaluate a global once (hclparser resolveValue) and cache it."""
        self.busy.append(name)
        try:
            value = self._resolve(name)
        finally:
            self.busy.pop()
        self.values[name] = value
        return value

    def _resolve(self, name: str) -> Value:
        if name in self.builtins:
            return cty.string_val(self.builtins[name])
        attribute = self.attrs.get(name)
        block = self.variables.get(name) if attribute is None else None
        var_type: cty.Type = DYNAMIC
        typed = False
        default: ast.Expr | None = attribute.expr if attribute is not None else None
        if block is not None:
            var_type, typed = self._constraint(block)
            found = _find_attribute(block, "default")
            default = found.expr if found is not None else None
        if default is None and self._override(name, False) is None:
            return cty.null_val(var_type) if typed else cty.EMPTY_STRING
        value = cty.NULL
        if default is not None:
            value = self.compiler.evaluate(default, self.root)
            try:
                value = cty.convert(value, var_type)
            except cty.ConversionError as exc:
                raise self._invalid_value(
                    name, f"invalid type {cty.friendly_name(var_type)} for variable {name} default value: {exc}"
                ) from None
        override = self._override(name, typed)
        if override is not None and name in self.variables:
            value = self._from_override(name, override, value, var_type, typed, default is None)
        return value

    def _constraint(self, block: ast.Block) -> tuple[cty.Type, bool]:
        name = block.labels[0]
        if name in self.constraints:
            return self.constraints[name], True
        found = _find_attribute(block, "type")
        if found is None or (isinstance(found.expr, ast.Literal) and found.expr.kind == "null"):
            return DYNAMIC, False
        var_type = type_constraint(found.expr)
        self.constraints[name] = var_type
        return var_type, True

    def _lookup_var(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        return self.lookup_env.get(name)

    def _override(self, name: str, favor_json: bool) -> tuple[str, bool] | None:
        """hclparser valueHasOverride: (text, is_json) of NAME or NAME_JSON, if set."""
        text = self._lookup_var(name)
        found = None if text is None else (text, False)
        if found is None or favor_json:
            json_name = name + JSON_SUFFIX
            if json_name not in self.variables and json_name not in self.builtins:
                json_text = self._lookup_var(json_name)
                if json_text is not None:
                    found = (json_text, True)
        return found

    def _from_override(
        self, name: str, override: tuple[str, bool], value: Value, var_type: cty.Type, typed: bool, no_default: bool
    ) -> Value:
        text, is_json = override
        if typed and is_json:
            try:
                if var_type is DYNAMIC:
                    return dynamic_from_json(text)
                return cty.convert(cty.json_decode(text), var_type)
            except (cty.JSONError, cty.ConversionError, ValueError) as exc:
                raise self._invalid_value(name, f"failed to convert variable {name} from JSON: {exc}") from None
        if isinstance(var_type, (cty.ListType, cty.SetType, cty.TupleType, cty.MapType)):
            return self._from_csv(name, text, var_type)
        if typed and var_type.is_primitive():
            return self._primitive(name, text, var_type)
        if typed:
            raise self._invalid_value(name, f"unsupported type {cty.friendly_name(var_type)} for variable {name}")
        if no_default or value.type is DYNAMIC:
            return cty.string_val(text)
        if value.type.is_primitive():
            return self._primitive(name, text, value.type)
        raise self._invalid_value(name, f"unsupported type {cty.friendly_name(value.type)} for variable {name}")

    def _primitive(self, name: str, text: str, want: cty.Type) -> Value:
        try:
            return convert_primitive(name, text, want)
        except ValueError as exc:
            raise self._invalid_value(name, str(exc)) from None

    def _from_csv(self, name: str, text: str, want: cty.Type) -> Value:
        try:
            return value_from_csv(name, text, want)
        except ValueError as exc:
            raise self._invalid_value(name, f"failed to convert variable {name} from CSV: {exc}") from None

    def _invalid_value(self, name: str, detail: str) -> BakeFileError:
        block = self.variables.get(name)
        attribute = self.attrs.get(name)
        loc = block.body.loc if block is not None else (attribute.loc if attribute is not None else None)
        return error("Invalid value", detail, loc)

    # -- validation and listing

    def validate(self) -> None:
        """Run every variable's `validation` blocks (after all variables are known)."""
        for block in self.variables.values():
            for rule in block.body.blocks:
                if rule.type == "validation":
                    self._check_rule(rule)

    def _check_rule(self, rule: ast.Block) -> None:
        condition = _find_attribute(rule, "condition")
        if condition is None:
            raise error(
                "Missing required argument",
                'The argument "condition" is required, but no definition was found.',
                rule.body.loc,
            )
        loc = expr_loc(condition.expr)
        result = self.compiler.evaluate(condition.expr, self.root)
        if result.v is None:
            raise error("Invalid condition result", "Condition expression must return either true or false, not null.", loc)
        try:
            passed = cty.convert(result, cty.BOOL).v
        except cty.ConversionError as exc:
            raise error("Invalid condition result", f"Invalid condition result value: {exc}", loc) from None
        if passed:
            return
        message_attr = _find_attribute(rule, "error_message")
        message = "This check failed, but has an invalid error message."
        if message_attr is not None:
            message = _text(self.compiler.evaluate(message_attr.expr, self.root), expr_loc(message_attr.expr)) or message
        raise error("Validation failed", message, loc)

    def listing(self) -> tuple[Variable, ...]:
        """The variables as `--list variables` describes them, in source order."""
        out: list[Variable] = []
        for name, block in self.variables.items():
            value = self.values[name]
            constraint = self.constraints.get(name)
            description_attr = _find_attribute(block, "description")
            description = ""
            if description_attr is not None:
                found = self.compiler.evaluate(description_attr.expr, self.root)
                description = _text(found, expr_loc(description_attr.expr)) or ""
            type_name = None if constraint is None else cty.friendly_name(constraint, True)
            out.append(Variable(name, value, description, type_name, display_value(value, constraint)))
        return tuple(out)

    # -- user functions

    def resolve_functions(self) -> None:
        """Check every user function, as hclparser does before evaluating blocks."""
        for name, block in self.functions.items():
            if name not in self.stdlib and name not in self.user_functions:
                self._resolve_function(name, block.loc)

    def _resolve_function(self, name: str, loc: Location) -> Function:
        block = self.functions[name]
        if name in self.busy_functions:
            raise error("Invalid expression", f"function cycle not allowed for {name}", loc)
        self.busy_functions.append(name)
        try:
            function = self._build_function(name, block)
        finally:
            self.busy_functions.pop()
        self.user_functions[name] = function
        return function

    def _build_function(self, name: str, block: ast.Block) -> Function:
        params_attr = _find_attribute(block, "params")
        result_attr = _find_attribute(block, "result")
        label_loc = block.label_locs[0] if block.label_locs else block.loc
        if result_attr is None:
            raise error("Invalid function", f"empty result not allowed for {name}", label_loc)
        if params_attr is None:
            raise error("Invalid function", f"empty params not allowed for {name}", label_loc)
        params = _param_names(params_attr.expr)
        variadic_attr = _find_attribute(block, "variadic_params")
        variadic = None
        if variadic_attr is not None:
            variadic = keyword(variadic_attr.expr)
            if variadic is None:
                raise error(
                    "Invalid param element", "Each parameter name must be an identifier.", expr_loc(variadic_attr.expr)
                )
        locals_ = {*params, *([variadic] if variadic else [])}
        self._check_function_deps(result_attr.expr, locals_)
        return self._make_function(name, params, variadic, result_attr.expr)

    def _check_function_deps(self, expr: ast.Expr, locals_: set[str]) -> None:
        """buildx loads a function's dependencies strictly: unknown names fail even if never called."""
        loc = expr_loc(expr)
        for fname, _ in function_calls(expr):
            if fname in self.stdlib or fname in self.user_functions:
                continue
            if fname not in self.functions:
                raise error("Invalid expression", f'function "{fname}" does not exist: undefined', loc)
            self._resolve_function(fname, loc)  # a cycle is reported at this result expression
        for root in free_variables(expr, locals_):
            if root not in self.values and root not in self.attrs and root not in self.variables:
                if root not in self.builtins:
                    raise error("Invalid expression", f'variable "{root}" does not exist: undefined', loc)

    def _make_function(self, name: str, params: list[str], variadic: str | None, result: ast.Expr) -> Function:
        body = self.compiler.compile(result)
        ctx = self
        count = len(params)

        def impl(args: list[Value]) -> Value:
            local = dict(zip(params, args))
            if variadic is not None:
                local[variadic] = cty.tuple_val(args[count:])
            return body(Env(ctx, local))

        var_param = Param(variadic, DYNAMIC) if variadic is not None else None
        return Function(name, tuple(Param(p, DYNAMIC) for p in params), var_param, impl)

    # -- blocks

    def expand_blocks(self) -> list[_Instance]:
        """Every block's instances (matrix combinations) with validated, unique names."""
        instances: list[_Instance] = []
        by_name: dict[str, dict[str, list[_Instance]]] = {kind: {} for kind in BLOCK_KINDS}
        for block in self.blocks:
            generated = self.renamed.setdefault((block.type, block.labels[0]), {})
            for instance in self._block_instances(block):
                instances.append(instance)
                by_name[instance.kind].setdefault(instance.name, []).append(instance)
                generated.setdefault(instance.name, None)
        self.instances = by_name
        self.duplicates = {name: _Duplicate(found) for name, found in by_name["target"].items() if len(found) > 1}
        return instances

    def _block_instances(self, block: ast.Block) -> list[_Instance]:
        """buildx resolveBlockNames: evaluate the matrix, then validate the label and each name."""
        label = block.labels[0]
        label_loc = block.label_locs[0] if block.label_locs else block.loc
        matrix_attr = _find_attribute(block, "matrix")
        name_attr = _find_attribute(block, "name")
        combos: list[mx.Combination] | None = None
        if matrix_attr is not None:
            if block.type == "group":
                raise mx.invalid_name("matrix is not supported for groups", label_loc)
            value = self.compiler.evaluate(matrix_attr.expr, self.root)
            combos = mx.combinations(value, mx.key_order(matrix_attr.expr, value), label_loc)
            if not combos:
                return []  # buildx validates names per combination: none here
        mx.validate_name(label, label_loc)
        if name_attr is not None and block.type == "group":
            raise mx.invalid_name("name is not supported for groups", label_loc)
        if combos is None:
            if name_attr is not None:
                raise mx.invalid_name("name requires matrix", label_loc, hint="Add a matrix to the target, or remove its name.")
            return [_Instance(block.type, label, block, self.root, (), self._plan(block))]
        out = [self._instance(block, combo, name_attr, label_loc) for combo in combos]
        mx.check_unique([i.name for i in out], label_loc)
        return out

    def _instance(
        self, block: ast.Block, combo: mx.Combination, name_attr: ast.Attribute | None, label_loc: Location
    ) -> _Instance:
        env = Env(self, dict(combo))
        name = block.labels[0]
        if name_attr is not None:
            value = self.compiler.evaluate(name_attr.expr, env)
            try:
                converted = cty.convert(value, STRING)
            except cty.ConversionError as exc:
                raise mx.invalid_name(str(exc), label_loc) from None
            if converted.v is None:
                raise mx.invalid_name("name must not be null", label_loc)
            name = converted.v
            mx.validate_name(name, label_loc)
        return _Instance(block.type, name, block, env, combo, self._plan(block))

    def _plan(self, block: ast.Block) -> dict[str, _Planned]:
        """The block's decodable attributes (source order), compiled; shared by its instances."""
        plan = self._plans.get(id(block))
        if plan is None:
            kinds = self.fields[block.type]
            plan = {
                a.name: _Planned(a.name, self.compiler.compile(a.expr), expr_loc(a.expr), a.loc, start_range(a.expr))
                for a in block.body.attributes
                if a.name in kinds
            }
            self._plans[id(block)] = plan
        return plan

    def evaluate_instance(self, instance: _Instance, failures: list[tuple[BakeFileError, int]]) -> RawBlock | None:
        """All decodable attributes of one block instance, as a RawBlock; None when some failed (see `failures`)."""
        attributes: dict[str, Attribute] = {}
        block = instance.block
        values = instance.values
        env = instance.env
        tracked = self.compiler.refers_to_blocks  # without block references no cycle can form
        if tracked and self.duplicates:
            self.load_references(instance)
        failed = len(failures)
        for name, planned in instance.plan.items():
            value = values.get(name)
            if value is None:
                try:
                    value = self._instance_attr(instance, name, planned.location) if tracked else planned.evaluate(env)
                except BakeFileError as exc:
                    if "cycle not allowed" in exc.detail:  # hclparser's loadDeps: ends the block, one diagnostic
                        failures.append((exc, 1))
                        return None
                    # gohcl decodes every attribute; a failed expression also gives an unknown
                    # value, which FromCtyValue reports again ("value must be known").
                    failures.append((exc, 2))
                    continue
            attributes[name] = Attribute(name, value, planned.decode_location, planned.name_location)
        if len(failures) > failed:
            return None
        if tracked and self.duplicates:
            self.block_decoded(instance)
        if instance.kind == "group" and "targets" not in attributes:
            raise error(
                "Missing required argument",
                'The argument "targets" is required, but no definition was found.',
                block.body.loc,
            )
        label_loc = block.label_locs[0] if block.label_locs else None
        return RawBlock(
            instance.kind, instance.name, attributes, block.labels[0], dict(instance.combo), block.loc, label_loc
        )

    def _instance_attr(self, instance: _Instance, name: str, loc: Location) -> Value:
        found = instance.values.get(name)
        if found is not None:
            return found
        busy = instance.busy
        if name in busy:
            raise error(
                "Invalid expression", f"reference cycle not allowed for {instance.kind}.{instance.name}.{name}", loc
            )
        busy.add(name)
        try:
            value = instance.plan[name].evaluate(instance.env)
        finally:
            busy.discard(name)
        instance.values[name] = value
        return value

    def resolve_globals(self) -> None:
        """Evaluate every top-level attribute not yet used (their errors still count)."""
        for name in self.attrs:
            if name not in self.values:
                self.lookup(name, self.attrs[name].loc)


def _text(value: Value, loc: Location) -> str | None:
    """A string-typed setting (description, error_message); None for null."""
    if value.v is None:
        return None
    try:
        return str(cty.convert(value, STRING).v)
    except cty.ConversionError as exc:
        raise error("Unsuitable value type", f"Unsuitable value: {exc}", loc) from None


def _label_error(block: ast.Block) -> None:
    kind = block.type
    if not block.labels:
        raise error("Missing name for " + kind, f"All {kind} blocks must have 1 labels (name).", block.loc)
    loc = block.label_locs[1] if len(block.label_locs) > 1 else block.loc
    raise error("Extraneous label for " + kind, f"Only 1 labels (name) are expected for {kind} blocks.", loc)


def _find_attribute(block: ast.Block, name: str) -> ast.Attribute | None:
    for attribute in block.body.attributes:
        if attribute.name == name:
            return attribute
    return None


def _param_names(expr: ast.Expr) -> list[str]:
    if not isinstance(expr, ast.Tuple):
        raise error("Invalid expression", "A static list expression is required.", expr_loc(expr))
    names: list[str] = []
    for item in expr.items:
        name = keyword(item)
        if name is None:
            raise error("Invalid param element", "Each parameter name must be an identifier.", expr_loc(item))
        names.append(name)
    return names


# ------------------------------------------------------------------ types and overrides


_GO_FLOAT = re.compile(r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)$")
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
    if not text or not _GO_FLOAT.match(text) or not any(c.isdigit() for c in text):
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": invalid syntax')
    try:
        number = float.fromhex(text) if "x" in text.lower() else float(text)
    except ValueError:
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": invalid syntax') from None
    if math.isinf(number):
        raise ValueError(f'failed to parse {name} as number: strconv.ParseFloat: parsing "{text}": value out of range')
    return number


def csv_fields(text: str) -> list[str]:
    """One CSV record (go-csvvalue): quotes allowed; an empty string is one empty field."""
    if text == "":
        return [""]
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise ValueError(f"failed to parse {text} as CSV: {exc}") from None
    return rows[0] if rows else [""]


def value_from_csv(name: str, text: str, want: cty.Type) -> Value:
    """hclparser valueFromCSV: list/set/tuple/map values from a CSV override."""
    fields = csv_fields(text)
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
        parts = next(csv.reader([f], delimiter=":"), [])
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
    vars: Mapping[str, str] | None = None,  # noqa: A002
    builtins: Mapping[str, str] | None = None,
    functions: Mapping[str, Function] | None = None,
) -> Definition:
    """Evaluate parsed bake files as buildx's hclparser.Parse does (see the module docstring)."""
    # Evaluation allocates many small acyclic objects; the cyclic collector's repeated
    # full scans would make a big matrix cost twice as much (and grow worse than linearly).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(bodies, env, vars or {}, builtins, functions)
    finally:
        if was_enabled:
            gc.enable()


def _evaluate_blocks(parser: _Parser, instances: list[_Instance]) -> tuple[RawBlock, ...]:
    """Every block, as hclparser.Parse decodes them: a failed block does not stop the others.

    The first failure (in source order) is reported with buildx's count of the
    other diagnostics: ", and N other diagnostic(s)".
    """
    blocks: list[RawBlock] = []
    failures: list[tuple[BakeFileError, int]] = []
    for instance in instances:
        try:
            found = parser.evaluate_instance(instance, failures)
        except BakeFileError as exc:
            failures.append((exc, 1))
            continue
        if found is not None:
            blocks.append(found)
    if not failures:
        return tuple(blocks)
    first = failures[0][0]
    others = sum(count for _, count in failures) - 1
    if others == 0:
        raise first
    raise BakeFileError(f"{first.detail}, and {others} other diagnostic(s)", first.location, hint=first.hint) from first


def _read(
    bodies: Sequence[ast.Body],
    env: Mapping[str, str],
    vars: Mapping[str, str],  # noqa: A002
    builtins: Mapping[str, str] | None,
    functions: Mapping[str, Function] | None,
) -> Definition:
    parser = _Parser(
        bodies,
        env,
        vars,
        default_builtins() if builtins is None else builtins,
        stdlib_functions() if functions is None else functions,
    )
    for name in parser.variables:
        if name not in parser.values:
            parser.lookup(name, parser.variables[name].loc)
    listing = parser.listing()
    parser.validate()
    parser.resolve_functions()
    instances = parser.expand_blocks()
    blocks = _evaluate_blocks(parser, instances)
    parser.resolve_globals()
    renamed = {label: tuple(found) for (_, label), found in parser.renamed.items() if list(found) != [label]}
    return Definition(blocks, listing, renamed)
