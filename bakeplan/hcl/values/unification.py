"""Unification (cty convert.UnifyUnsafe): the one type a set of types can all convert to.

When several types fit, cty prefers a supertype (``_compare_types``) and tries
the candidates in a topological order of that preference (``_sort_types``).
Unifying asks whether each type converts to a candidate, and converting a
tuple to a list unifies its elements: this module reaches ``conversion``
through its module object, so the two can import each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from bakeplan.hcl.values import conversion
from bakeplan.hcl.values.types import (
    DYNAMIC,
    STRING,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    SetType,
    TupleType,
    Type,
    _CollectionType,
)
from bakeplan.hcl.values.values import Value


def unify(types: Sequence[Type]) -> Type | None:
    """The type all of `types` can convert to (unsafe unification), or None."""
    if types and all(t == types[0] for t in types):
        return types[0]
    return _unify(tuple(types), True)


def unify_values(values: Sequence[Value]) -> list[Value] | None:
    """Convert values to their unified type; None when there is none."""
    target = unify([v.type for v in values])
    if target is None:
        return None
    return [v if v.type == target else conversion.convert(v, target) for v in values]


@lru_cache(maxsize=4096)
def _unify_cached(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    return _unify_impl(types, unsafe)


def _unify(types: Sequence[Type], unsafe: bool) -> Type | None:
    return _unify_cached(tuple(types), unsafe)


def _unify_impl(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    if not types:
        return None
    counts = _count_kinds(types)
    n, dyn = len(types), counts["dyn"]
    if counts["map"] and counts["map"] + dyn == n:
        return _unify_collections(MapType, types, unsafe, dyn > 0)
    if counts["map"] and counts["map"] + counts["object"] + dyn == n:
        as_map = _unify_structural_as(types, ObjectType, MapType, unsafe)
        if isinstance(as_map, MapType):
            return as_map
    elif counts["list"] and counts["list"] + dyn == n:
        return _unify_collections(ListType, types, unsafe, dyn > 0)
    elif counts["list"] and counts["list"] + counts["tuple"] + dyn == n:
        as_list = _unify_structural_as(types, TupleType, ListType, unsafe)
        if isinstance(as_list, ListType):
            return as_list
    elif counts["set"] and counts["set"] + dyn == n:
        return _unify_collections(SetType, types, unsafe, dyn > 0)
    elif counts["object"] and counts["object"] + dyn == n:
        return DYNAMIC if dyn else _unify_objects(types, unsafe)  # type: ignore[arg-type]
    elif counts["tuple"] and counts["tuple"] + dyn == n:
        return DYNAMIC if dyn else _unify_tuples(types, unsafe)  # type: ignore[arg-type]
    elif counts["object"] and counts["tuple"]:
        return None
    return _unify_by_preference(types, unsafe)


def _count_kinds(types: tuple[Type, ...]) -> dict[str, int]:
    """How many of `types` are maps, lists, sets, objects, tuples and DYNAMIC."""
    counts = {"map": 0, "list": 0, "set": 0, "object": 0, "tuple": 0, "dyn": 0}
    for t in types:
        if isinstance(t, MapType):
            counts["map"] += 1
        elif isinstance(t, ListType):
            counts["list"] += 1
        elif isinstance(t, SetType):
            counts["set"] += 1
        elif isinstance(t, ObjectType):
            counts["object"] += 1
        elif isinstance(t, TupleType):
            counts["tuple"] += 1
        elif t is DYNAMIC:
            counts["dyn"] += 1
    return counts


def _unify_by_preference(types: tuple[Type, ...], unsafe: bool) -> Type | None:
    for idx in _sort_types(types):
        want = types[idx]
        if all(i == idx or t == want or conversion.get_conversion(t, want, unsafe) is not None for i, t in enumerate(types)):
            return want
    return None


def _unify_collections(ctor: type[_CollectionType], types: tuple[Type, ...], unsafe: bool, dyn: bool) -> Type | None:
    if dyn:
        return DYNAMIC
    elem = _unify(tuple(t.elem for t in types), unsafe)  # type: ignore[attr-defined]
    if elem is None:
        return None
    ret = ctor(elem)
    if all(t == ret or conversion.get_conversion(t, ret, unsafe) is not None for t in types):
        return ret
    return None


def _unify_structural_as(types: tuple[Type, ...], kind: type, ctor: type[_CollectionType], unsafe: bool) -> Type | None:
    structs = tuple(t for t in types if isinstance(t, kind))
    as_coll = _unify_objects_to_map(structs, unsafe) if kind is ObjectType else _unify_tuples_to_list(structs, unsafe)  # type: ignore[arg-type]
    if not isinstance(as_coll, ctor):
        return None
    replaced = tuple(as_coll if isinstance(t, kind) else t for t in types)
    result = _unify(replaced, unsafe)
    return result if isinstance(result, ctor) else None


def _all_convert(types: Sequence[Type], ret: Type, unsafe: bool) -> bool:
    return all(t == ret or conversion.get_conversion(t, ret, unsafe) is not None for t in types)


def _unify_objects(types: tuple[ObjectType, ...], unsafe: bool) -> Type | None:
    first = types[0].attrs
    for t in types[1:]:
        if t.attrs.keys() != first.keys():
            return _unify_objects_to_map(types, unsafe)
    attrs: dict[str, Type] = {}
    for name in first:
        u = _unify(tuple(t.attrs[name] for t in types), unsafe)
        if u is None:
            return None
        attrs[name] = u
    ret = ObjectType(attrs)
    if _all_convert(types, ret, unsafe):
        return ret
    return _unify_objects_to_map(types, unsafe)


def _unify_objects_to_map(types: tuple[ObjectType, ...], unsafe: bool) -> Type | None:
    atys = tuple(a for t in types for a in t.attrs.values())
    ety = _unify(atys, unsafe)
    if ety is None:
        return None
    ret = MapType(ety)
    return ret if _all_convert(types, ret, unsafe) else None


def _unify_tuples(types: tuple[TupleType, ...], unsafe: bool) -> Type | None:
    first = types[0].elems
    if any(len(t.elems) != len(first) for t in types[1:]):
        return _unify_tuples_to_list(types, unsafe)
    elems = []
    for i in range(len(first)):
        u = _unify(tuple(t.elems[i] for t in types), unsafe)
        if u is None:
            return None
        elems.append(u)
    ret = TupleType(elems)
    if _all_convert(types, ret, unsafe):
        return ret
    return _unify_tuples_to_list(types, unsafe)


def _unify_tuples_to_list(types: tuple[TupleType, ...], unsafe: bool) -> Type | None:
    etys = tuple(e for t in types for e in t.elems)
    ety = _unify(etys, unsafe)
    if ety is None:
        return None
    ret = ListType(ety)
    return ret if _all_convert(types, ret, unsafe) else None


# --------------------------------------------------------------------------
# Type preference (cty compareTypes, sortTypes)


def _compare_types(a: Type, b: Type) -> int:
    """cty compareTypes: negative when a is preferred (a is the supertype)."""
    if a is DYNAMIC or b is DYNAMIC:
        return _compare_dynamic(a, b)
    if isinstance(a, PrimitiveType) and isinstance(b, PrimitiveType):
        return _compare_primitives(a, b)
    for kind in (ListType, SetType, MapType):
        if isinstance(a, kind) and isinstance(b, kind):
            return _compare_types(a.elem, b.elem)  # type: ignore[attr-defined,unused-ignore]
    return _compare_structural(a, b)


def _compare_dynamic(a: Type, b: Type) -> int:
    """DYNAMIC is preferred to any other type."""
    if a is not DYNAMIC:
        return -1
    if b is not DYNAMIC:
        return 1
    return 0


def _compare_primitives(a: PrimitiveType, b: PrimitiveType) -> int:
    """string is preferred to number and bool (both convert to it)."""
    if a is STRING or b is STRING:
        if a is not STRING:
            return 1
        if b is not STRING:
            return -1
    return 0


def _compare_structural(a: Type, b: Type) -> int:
    """A collection is preferred to the structural types that convert to it; tuples and objects compare elementwise."""
    swap = 1
    if (
        (isinstance(a, TupleType) and isinstance(b, ListType))
        or (isinstance(a, ObjectType) and isinstance(b, MapType))
        or (isinstance(a, SetType) and isinstance(b, (TupleType, ListType)))
    ):
        a, b = b, a
        swap = -1
    if isinstance(b, SetType) and isinstance(a, (TupleType, ListType)):
        return -1 * swap
    if isinstance(a, ListType) and isinstance(b, TupleType):
        return -1 * swap
    if isinstance(a, MapType) and isinstance(b, ObjectType):
        return -1 * swap
    if isinstance(a, ObjectType) and isinstance(b, ObjectType):
        if a.attrs.keys() != b.attrs.keys():
            return 0
        return _supers([_compare_types(a.attrs[k], b.attrs[k]) for k in a.attrs], swap)
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        if len(a.elems) != len(b.elems):
            return 0
        return _supers([_compare_types(x, y) for x, y in zip(a.elems, b.elems)], swap)
    return 0


def _supers(cmps: list[int], swap: int) -> int:
    a_super = any(c < 0 for c in cmps)
    b_super = any(c > 0 for c in cmps)
    if a_super and b_super:
        return 0
    if a_super:
        return -1 * swap
    if b_super:
        return swap
    return 0


def _sort_types(types: Sequence[Type]) -> list[int]:
    """cty sortTypes: a topological order of preference (Kahn's algorithm, like go)."""
    n = len(types)
    edges: list[list[int]] = [[] for _ in range(n)]
    for i in range(n - 1):
        for j in range(i + 1, n):
            c = _compare_types(types[i], types[j])
            if c < 0:
                edges[i].append(j)
            elif c > 0:
                edges[j].append(i)
    indeg = [0] * n
    for outs in edges:
        for j in outs:
            indeg[j] += 1
    queue = [i for i in range(n) if indeg[i] == 0]
    k = 0
    while k < len(queue):
        i = queue[k]
        k += 1
        for j in edges[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                queue.append(j)
    # go allocates a full-length result; unreached entries stay 0
    return queue + [0] * (n - len(queue))
