"""Collections (go-cty stdlib collection.go): lists, tuples, maps and objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import (
    INT64_MAX,
    INT64_MIN,
    ArgError,
    CallError,
    Function,
    param,
    table,
    to_int,
)
from bakeplan.hcl.values import (
    DYNAMIC,
    NUMBER,
    STRING,
    ConversionError,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Type,
    Value,
)


def is_seq(t: Type) -> bool:
    return isinstance(t, (ListType, TupleType))


def _hasindex_value(coll: Value, key: Value) -> bool:
    t = coll.type
    if isinstance(t, (ListType, TupleType)):
        if key.type is not NUMBER or not V.is_integer(key.v):
            return False
        i = int(key.v)
        return 0 <= i < len(coll.v) and INT64_MIN <= i <= INT64_MAX
    if isinstance(t, MapType):
        return key.type is STRING and key.v in coll.v
    return False


def _hasindex(a: list[Value]) -> Value:
    t = a[0].type
    if not isinstance(t, (ListType, TupleType, MapType)):
        raise CallError("collection must be a list, a map or a tuple")
    return V.bool_val(_hasindex_value(a[0], a[1]))


def _index(a: list[Value]) -> Value:
    coll, key = a
    t = coll.type
    if isinstance(t, TupleType):
        if key.type is not NUMBER:
            raise CallError("key for tuple must be number")
        try:
            idx = to_int(key)
        except ValueError as e:
            raise CallError(f"invalid key for tuple: {e}") from None
        if idx >= len(t.elems) or idx < 0:
            raise CallError(f"key must be between 0 and {len(t.elems)} inclusive")
    elif isinstance(t, ListType):
        if key.type is not NUMBER:
            raise CallError("key for list must be number")
    elif isinstance(t, MapType):
        if key.type is not STRING:
            raise CallError("key for map must be string")
    else:
        raise CallError("collection must be a list, a map or a tuple")
    if coll.v is None or not _hasindex_value(coll, key):
        raise CallError("invalid index")
    found: Value = coll.v[key.v] if isinstance(t, MapType) else coll.v[int(key.v)]
    return found


def _length(a: list[Value]) -> Value:
    t = a[0].type
    if not isinstance(t, (TupleType, ListType, MapType, SetType)):
        raise CallError("collection must be a list, a map or a tuple")
    return Value(NUMBER, V.Int64(len(a[0].v)))


def _element(a: list[Value]) -> Value:
    lst, idx = a
    t = lst.type
    if not isinstance(t, (ListType, TupleType)):
        raise CallError(f"cannot read elements from {V.friendly_name(t)}")
    try:
        index = to_int(idx)
    except ValueError as e:
        raise CallError(f"invalid index: {e}") from None
    if not lst.v:
        raise CallError("cannot use element function with an empty list")
    picked: Value = lst.v[index % len(lst.v)]
    return picked  # python's % already wraps negatives like go's fix-up


def _coalesce(a: list[Value]) -> Value:
    target = V.unify([v.type for v in a]) if a else None
    if target is None:
        raise CallError("all arguments must have the same type")
    for v in a:
        if v.v is None:
            continue
        try:
            return V.convert(v, target)
        except ConversionError as e:
            raise CallError(str(e)) from None
    raise CallError("no non-null arguments")


def _coalescelist(a: list[Value]) -> Value:
    if not a:
        raise CallError("at least one argument is required")
    for v in a:
        if not is_seq(v.type):
            raise CallError("coalescelist arguments must be lists or tuples")
    for v in a:
        if v.v is None:
            continue
        if v.v:
            return v
    raise CallError("no non-null arguments")


def _compact(a: list[Value]) -> Value:
    return Value(ListType(STRING), tuple(v for v in a[0].v if v.v is not None and v.v != ""))


def _concat(a: list[Value]) -> Value:
    if not a:
        raise CallError("at least one argument is required")
    if all(isinstance(v.type, ListType) for v in a):
        common = V.unify([v.type for v in a])
        if common is not None:
            elems: list[Value] = []
            for i, v in enumerate(a):
                try:
                    elems.extend(V.convert(v, common).v)
                except ConversionError as e:
                    raise ArgError(i, str(e)) from None
            return Value(common, tuple(elems))
    out: list[Value] = []
    for i, v in enumerate(a):
        if not is_seq(v.type):
            raise ArgError(i, f"all arguments must be lists or tuples; got {V.friendly_name(v.type)}")
        out.extend(v.v)
    return V.tuple_val(out)


def _contains(a: list[Value]) -> Value:
    lst, val = a
    if not isinstance(lst.type, (ListType, TupleType, SetType)):
        raise CallError("argument must be list, tuple, or set")
    return V.bool_val(any(V.equals(val, e) for e in lst.v))


def _distinct(a: list[Value]) -> Value:
    lst = a[0]
    out: list[Value] = []
    for v in lst.v:
        if not any(V.equals(x, v) for x in out):
            out.append(v)
    return Value(lst.type, tuple(out))


def _chunklist(a: list[Value]) -> Value:
    lst, size_v = a
    try:
        size = to_int(size_v)
    except ValueError as e:
        raise CallError(f"invalid size: {e}") from None
    if size < 0:
        raise CallError("the size argument must be positive")
    if not lst.v:
        return Value(ListType(lst.type), ())
    if size == 0:
        return Value(ListType(lst.type), (lst,))
    chunks = [Value(lst.type, lst.v[i : i + size]) for i in range(0, len(lst.v), size)]
    return Value(ListType(lst.type), tuple(chunks))


def _flatten(a: list[Value]) -> Value:
    if not isinstance(a[0].type, (ListType, SetType, TupleType)):
        raise CallError("can only flatten lists, sets and tuples")
    return V.tuple_val(_flattener(a[0]))


def _flattener(v: Value) -> list[Value]:
    out: list[Value] = []
    for e in v.v:
        if e.v is not None and isinstance(e.type, (ListType, SetType, TupleType)):
            out.extend(_flattener(e))
        else:
            out.append(e)
    return out


def _keys(a: list[Value]) -> Value:
    m = a[0]
    if isinstance(m.type, MapType):
        return Value(ListType(STRING), tuple(Value(STRING, k) for k in m.v))
    if isinstance(m.type, ObjectType):
        return V.tuple_val([Value(STRING, k) for k in m.type.attrs])
    raise ArgError(0, "must have map or object type")


def _values(a: list[Value]) -> Value:
    m = a[0]
    if isinstance(m.type, MapType):
        return Value(ListType(m.type.elem), tuple(m.v.values()))
    if isinstance(m.type, ObjectType):
        return V.tuple_val(list(m.v.values()))
    raise CallError("values() requires a map as the first argument")


def _lookup(a: list[Value]) -> Value:
    m, key, default = a
    t = m.type
    k = key.v
    if isinstance(t, ObjectType):
        if k in t.attrs:
            attr: Value = m.v[k]
            return attr
        return default
    if isinstance(t, MapType):
        try:
            V.convert(default, t.elem)
        except ConversionError:
            raise ArgError(2, "the default value must have the same type as the map elements") from None
        if k in m.v:
            elem: Value = m.v[k]
            return elem
        try:
            return V.convert(default, t.elem)
        except ConversionError as e:
            raise CallError(str(e)) from None
    raise ArgError(0, "lookup() requires a map as the first argument")


def _merge(a: list[Value]) -> Value:
    if not a:
        return V.EMPTY_OBJECT
    first: Type | None = None
    matching = True
    attrs_known = True
    for i, arg in enumerate(a):
        t = arg.type
        if t is DYNAMIC:
            matching = False
            continue
        if not isinstance(t, (MapType, ObjectType)):
            raise CallError(f'arguments must be maps or objects, got "{V.friendly_name(t)}"')
        if isinstance(t, MapType) and arg.v is not None:
            attrs_known = False
        if i == 0:
            first = t
        elif t != first:
            matching = False
    out: dict[str, Value] = {}
    for arg in a:
        if arg.v is None:
            continue
        out.update(arg.v)
    if matching and isinstance(first, MapType):
        return V.map_val(out, first.elem) if out else Value(first, {})
    del attrs_known
    return V.object_val(out)


def _reverselist(a: list[Value]) -> Value:
    v = a[0]
    t = v.type
    if isinstance(t, TupleType):
        return V.tuple_val(list(reversed(v.v)))
    if isinstance(t, (ListType, SetType)):
        return Value(ListType(t.elem), tuple(reversed(v.v)))
    raise ArgError(0, f"can only reverse list or tuple values, not {V.friendly_name(t)}")


def _setproduct(a: list[Value]) -> Value:
    if len(a) < 2:
        raise CallError("at least two arguments are required")
    etys: list[Type] = []
    list_count = 0
    for i, arg in enumerate(a):
        t = arg.type
        if isinstance(t, SetType):
            etys.append(t.elem)
        elif isinstance(t, ListType):
            etys.append(t.elem)
            list_count += 1
        elif isinstance(t, TupleType):
            list_count += 1
            if not t.elems:
                etys.append(DYNAMIC)
                continue
            u = V.unify(t.elems)
            if u is None:
                raise ArgError(i, "all elements must be of the same type")
            etys.append(u)
        else:
            raise ArgError(i, "a set or a list is required")
    ety = TupleType(etys)
    combos: list[list[Value]] = [[]]
    for j, arg in enumerate(a):
        conv = [e if e.type == etys[j] else V.convert(e, etys[j]) for e in arg.v]
        combos = [c + [e] for c in combos for e in conv]
    tuples = [Value(ety, tuple(c)) for c in combos] if all(len(x.v) for x in a) else []
    if list_count == len(a):
        return Value(ListType(ety), tuple(tuples))
    return V.set_val(tuples, ety) if tuples else Value(SetType(ety), ())


def _slice(a: list[Value]) -> Value:
    lst = a[0]
    t = lst.type
    if isinstance(t, SetType):
        raise ArgError(
            0,
            "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the "
            "ordering of the result is not important",
        )
    if not isinstance(t, (ListType, TupleType)):
        raise ArgError(0, "must be a list or tuple value")
    length = len(lst.v)
    start = _slice_index(a[1], 1, "start", length)
    end = _slice_index(a[2], 2, "end", length)
    if start > end:
        raise ArgError(1, "start index must not be greater than end index")
    if isinstance(t, ListType):
        return Value(t, lst.v[start:end])
    return V.tuple_val(list(lst.v[start:end]))


def _slice_index(v: Value, i: int, what: str, length: int) -> int:
    try:
        idx = to_int(v)
    except ValueError as e:
        raise ArgError(i, f"invalid {what} index: {e}") from None
    if idx < 0:
        raise ArgError(i, f"{what} index must not be less than zero")
    if idx > length:
        raise ArgError(i, f"{what} index must not be greater than the length of the list")
    return idx


def _zipmap(a: list[Value]) -> Value:
    keys, vals = a
    t = vals.type
    if isinstance(t, TupleType):
        if len(keys.v) != len(t.elems):
            raise CallError(f"number of keys ({len(keys.v)}) does not match number of values ({len(t.elems)})")
        for i, k in enumerate(keys.v):
            if k.v is None:
                raise CallError(f"keys list has null value at index {i}")
    elif not isinstance(t, ListType):
        raise CallError("values argument must be a list or tuple value")
    if len(keys.v) != len(vals.v):
        raise CallError(f"number of keys ({len(keys.v)}) does not match number of values ({len(vals.v)})")
    out: dict[str, Value] = {}
    for k, v in zip(keys.v, vals.v):
        out[k.v] = v
    if isinstance(t, ListType):
        return V.map_val(out, t.elem) if out else Value(MapType(t.elem), {})
    return V.object_val(out)


TABLE: Mapping[str, Function] = table(
    ("chunklist", (param("list", ListType(DYNAMIC)), param("size", NUMBER)), None, _chunklist),
    ("coalesce", (), param("vals", DYNAMIC, True), _coalesce),
    ("coalescelist", (), param("vals", DYNAMIC, True), _coalescelist),
    ("compact", (param("list", ListType(STRING)),), None, _compact),
    ("concat", (), param("seqs", DYNAMIC), _concat),
    ("contains", (param("list", DYNAMIC), param("value", DYNAMIC)), None, _contains),
    ("distinct", (param("list", ListType(DYNAMIC)),), None, _distinct),
    ("element", (param("list", DYNAMIC), param("index", NUMBER)), None, _element),
    ("flatten", (param("list", DYNAMIC),), None, _flatten),
    ("hasindex", (param("collection", DYNAMIC), param("key", DYNAMIC)), None, _hasindex),
    ("index", (param("collection", DYNAMIC), param("key", DYNAMIC)), None, _index),
    ("keys", (param("inputMap", DYNAMIC),), None, _keys),
    ("length", (param("collection", DYNAMIC),), None, _length),
    ("lookup", (param("inputMap", DYNAMIC), param("key"), param("default", DYNAMIC)), None, _lookup),
    ("merge", (), param("maps", DYNAMIC, True), _merge),
    ("reverselist", (param("list", DYNAMIC),), None, _reverselist),
    ("setproduct", (), param("sets", DYNAMIC), _setproduct),
    ("slice", (param("list", DYNAMIC), param("start_index", NUMBER), param("end_index", NUMBER)), None, _slice),
    ("values", (param("mapping", DYNAMIC),), None, _values),
    ("zipmap", (param("keys", ListType(STRING)), param("values", DYNAMIC)), None, _zipmap),
)
