"""`target.NAME.ATTR`: what a reference to another block's attribute reads.

A name written as several target blocks follows hclparser's state for them
(see `References`); the value is the field as buildx decodes it (null when unset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeplan.bake.hclparser.sources import find_attribute
from bakeplan.errors import Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import error, expr_loc
from bakeplan.hcl.values import DYNAMIC, STRING, Value
from bakeplan.record import field, record

if TYPE_CHECKING:
    from bakeplan.bake.hclparser.blocks import Instance

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


@record(frozen=False)
class _Duplicate:
    """The blocks of one target name and hclparser's state for them (see `References.load_references`)."""

    instances: list[Instance]
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


class References:
    """The block instances by name, and hclparser's state for the target names written as several blocks."""

    def __init__(self, fields: dict[str, dict[str, str]]) -> None:
        self.fields = fields
        self.instances: dict[str, dict[str, list[Instance]]] | None = None
        self.duplicates: dict[str, _Duplicate] = {}  # target names written as several blocks
        self._references: dict[tuple[int, str], list[tuple[str, str | None, Location]]] = {}  # (block, attribute) -> target refs

    def index(self, by_name: dict[str, dict[str, list[Instance]]]) -> None:
        """The instances of every block name, known once the blocks are expanded."""
        self.instances = by_name
        self.duplicates = {name: _Duplicate(found) for name, found in by_name["target"].items() if len(found) > 1}

    def block_value(
        self, kind: str, name: str, attr: str | None, loc: Location, at: tuple[Location, ...] = ()
    ) -> Value:
        """`target.NAME.ATTR`: the attribute as the last block of that name decodes it (null when unset).

        An unknown NAME or ATTR is reported at its step (`at`), as HCL reports a
        traversal: `target` is a map of objects there when an attribute follows.
        """
        assert self.instances is not None, "references are read once the blocks are expanded"
        found = self.instances[kind].get(name)
        if not found:
            where = at[0] if at else loc
            if attr is not None:
                raise error("Missing map element", f'This map does not have an element with the key "{name}".', where)
            raise error("Unsupported attribute", f'This object does not have an attribute named "{name}".', where)
        kinds = self.fields[kind]
        if attr is None:
            return cty.object_val(
                {"name": cty.string_val(name)} | {a: self._field_value(found, a, k, loc) for a, k in kinds.items()}
            )
        if attr == "name":
            return cty.string_val(name)
        field_kind = kinds.get(attr)
        if field_kind is None:
            where = at[1] if len(at) > 1 else loc
            raise error("Unsupported attribute", f'This object does not have an attribute named "{attr}".', where)
        return self._field_value(found, attr, field_kind, loc)

    def _field_value(self, instances: list[Instance], attr: str, kind: str, loc: Location) -> Value:
        duplicate = self.duplicates.get(instances[0].name) if instances[0].kind == "target" else None
        if duplicate is None:
            last = instances[-1]
            value = last.attr(attr, loc) if attr in last.plan else None
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

    def load_references(self, instance: Instance) -> None:
        """hclparser loadDeps for a block about to be decoded: the snapshots its `target.` references store."""
        duplicate = self.duplicates.get(instance.name) if instance.kind == "target" else None
        index = duplicate.instances.index(instance) if duplicate is not None else -1
        for name in sorted(instance.plan):
            if duplicate is not None and name in duplicate.done[index]:
                continue
            self._reference_all(instance.block, name, set())

    def block_decoded(self, instance: Instance) -> None:
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
            found = find_attribute(block, attr)
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
            return last.attr(attr, loc) if attr in last.plan else None
        index, done, passed = duplicate.snapshot
        if index == 0 and passed >= 2:  # the first block's struct, with the blocks Parse merged into it
            present = [i for i in duplicate.instances[:passed] if attr in i.plan]
            return _merged_field(attr, [reference_value(kind, i.attr(attr, loc)) for i in present])
        instance = duplicate.instances[index]
        if attr not in done or attr not in instance.plan:
            return None
        return instance.attr(attr, loc)
