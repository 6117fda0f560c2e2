"""Conversion between cty types (cty/convert) and cty's mismatch messages.

``get_conversion`` builds, once per pair of types, the function that converts
a value; ``convert`` applies it or raises ``ConversionError`` with cty's
message. Converting tuples and objects to collections unifies their element
types, so this module and ``unification`` call each other, as the files of
go-cty's convert package do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache

from bakeplan.hcl.values.numbers import format_number, parse_number
from bakeplan.hcl.values.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    SetType,
    TupleType,
    Type,
    _CollectionType,
    elem_type_of,
    friendly_name,
    without_optional,
)
from bakeplan.hcl.values.unification import _unify, unify
from bakeplan.hcl.values.values import FALSE, TRUE, Value, null_val, object_val, set_val, tuple_val


class ConversionError(Exception):
    """A value cannot be converted; str() is cty's message, e.g. "string required"."""


Conversion = Callable[[Value], Value]


def convert(value: Value, want: Type) -> Value:
    """cty convert.Convert (unsafe conversions allowed, as HCL uses it)."""
    vt = value.type
    if vt is want or vt == want:
        return value
    conv = get_conversion(vt, want, True)
    if conv is None:
        raise ConversionError(mismatch_message(vt, want))
    return conv(value)


def can_convert(have: Type, want: Type, unsafe: bool = True) -> bool:
    """Whether a conversion exists at the type level."""
    return have == want or get_conversion(have, want, unsafe) is not None


@lru_cache(maxsize=4096)
def get_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    """The conversion from `have` to `want`, or None (cty getConversion, with null handling)."""
    known = _get_conversion_known(have, want, unsafe)
    if known is None:
        return None
    if want is DYNAMIC:
        return _identity
    plain_want = without_optional(want)

    def conv(v: Value) -> Value:
        if v.v is None:
            return null_val(_dynamic_replace(v.type, plain_want))
        return known(v)

    return conv


def _identity(v: Value) -> Value:
    return v


def _get_conversion_known(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    if want is DYNAMIC:
        return _identity
    if have is DYNAMIC:
        return _dynamic_fixup(want) if unsafe else None
    if isinstance(have, PrimitiveType) and isinstance(want, PrimitiveType):
        return _primitive_conversion(have, want, unsafe)
    if isinstance(want, ObjectType) and isinstance(have, ObjectType):
        return _object_to_object(have, want, unsafe)
    if isinstance(want, TupleType) and isinstance(have, TupleType):
        return _tuple_to_tuple(have, want, unsafe)
    if isinstance(have, _CollectionType) and isinstance(want, _CollectionType):
        return _collection_conversion(have, want, unsafe)
    return _structural_conversion(have, want, unsafe)


def _collection_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    """A list, set or map to a list, set or map."""
    if isinstance(want, ListType) and isinstance(have, (ListType, SetType)):
        if have.elem == want.elem:
            return _collection_to_list(want.elem, None)
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_list(want.elem, c)
    if isinstance(want, SetType) and isinstance(have, (ListType, SetType)):
        if isinstance(have, ListType) and not unsafe:
            return None
        if have.elem == want.elem:
            return _collection_to_set(want.elem, None)
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_set(want.elem, c)
    if isinstance(want, MapType) and isinstance(have, MapType):
        c = get_conversion(have.elem, want.elem, unsafe)
        return None if c is None else _collection_to_map(want.elem, c)
    return None


def _structural_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    """A tuple to a list or set, an object to a map, a map to an object."""
    if isinstance(want, ListType) and isinstance(have, TupleType):
        return _tuple_to_list(have, want.elem, unsafe)
    if isinstance(want, SetType) and isinstance(have, TupleType):
        return _tuple_to_set(have, want.elem, unsafe)
    if isinstance(want, MapType) and isinstance(have, ObjectType):
        return _object_to_map(have, want.elem, unsafe)
    if isinstance(want, ObjectType) and isinstance(have, MapType):
        return _map_to_object(have, want, unsafe) if unsafe else None
    return None


def _dynamic_fixup(want: Type) -> Conversion:
    def conv(v: Value) -> Value:
        return convert(v, want)

    return conv


def _num_to_str(v: Value) -> Value:
    return Value(STRING, format_number(v.v))


def _bool_to_str(v: Value) -> Value:
    return Value(STRING, "true" if v.v else "false")


def _str_to_num(v: Value) -> Value:
    n = parse_number(v.v)
    if n is None:
        raise ConversionError("a number is required")
    return Value(NUMBER, n)


def _str_to_bool(v: Value) -> Value:
    s = v.v
    if s in ("true", "1"):
        return TRUE
    if s in ("false", "0"):
        return FALSE
    low = s.lower()
    if low in ("true", "false"):
        raise ConversionError(f'a bool is required; to convert from string, use lowercase "{low}"')
    raise ConversionError("a bool is required")


def _primitive_conversion(have: Type, want: Type, unsafe: bool) -> Conversion | None:
    if have is want:
        return _identity
    if want is STRING:
        return _num_to_str if have is NUMBER else _bool_to_str
    if not unsafe or have is not STRING:
        return None
    return _str_to_num if want is NUMBER else _str_to_bool


def _collection_to_list(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = tuple(conv(e) for e in v.v) if conv is not None else v.v
        if not elems:
            return Value(ListType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), ())
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to list")
        return Value(ListType(et), elems)

    return run


def _collection_to_set(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = tuple(conv(e) for e in v.v) if conv is not None else v.v
        if not elems:
            return Value(SetType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), ())
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to set")
        return set_val(elems, et)

    return run


def _collection_to_map(ety: Type, conv: Conversion | None) -> Conversion:
    def run(v: Value) -> Value:
        elems = {k: conv(e) for k, e in v.v.items()} if conv is not None else dict(v.v)
        if not elems:
            return Value(MapType(elem_type_of(v.type) if ety is DYNAMIC else without_optional(ety)), {})
        if isinstance(ety, (_CollectionType, ObjectType)):
            elems = _unify_elements(elems)
        return _make_map_checked(elems, "element types must all match for conversion to map")

    return run


def _make_map_checked(elems: dict[str, Value], message: str) -> Value:
    types = {e.type for e in elems.values()}
    if len(types) != 1:
        raise ConversionError(message)
    return Value(MapType(next(iter(types))), elems)


def _unify_elements(elems: dict[str, Value]) -> dict[str, Value]:
    target = unify([e.type for e in elems.values()])
    if target is None:
        raise ConversionError("cannot find a common base type for all elements")
    return {k: (e if e.type == target else _must_conv(e, target)) for k, e in elems.items()}


def _must_conv(v: Value, t: Type) -> Value:
    c = get_conversion(v.type, t, True)
    if c is None:  # cty would panic here; report the mismatch instead
        raise ConversionError(mismatch_message(v.type, t))
    return c(v)


def _unify_for_collection(etys: Sequence[Type], ety: Type, unsafe: bool) -> Type | None:
    if ety is not DYNAMIC:
        return ety
    unified = _unify(etys, unsafe)
    if unified is None:
        return None
    if unified is DYNAMIC and any(t is not DYNAMIC for t in etys):
        return None
    return unified


def _elem_convs(etys: Sequence[Type], target: Type, unsafe: bool) -> list[Conversion | None] | None:
    convs: list[Conversion | None] = []
    for t in etys:
        if t == target:
            convs.append(None)
            continue
        c = get_conversion(t, target, unsafe)
        if c is None:
            return None
        convs.append(c)
    return convs


def _tuple_elem_convs(have: TupleType, ety: Type, unsafe: bool) -> list[Conversion | None] | None:
    """Each element's conversion to the list's or set's element type (None: kept as it is); None if one cannot convert."""
    target = _unify_for_collection(have.elems, ety, unsafe)
    return None if target is None else _elem_convs(have.elems, target, unsafe)


def _tuple_to_list(have: TupleType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.elems:
        return lambda v: Value(ListType(without_optional(ety)), ())
    convs = _tuple_elem_convs(have, ety, unsafe)
    if convs is None:
        return None

    def run(v: Value) -> Value:
        elems = [e if c is None else c(e) for e, c in zip(v.v, convs)]
        unified = unify([e.type for e in elems])
        if unified is None:
            raise ConversionError("cannot find a common base type for all elements")
        elems = [e if e.type == unified else _must_conv(e, unified) for e in elems]
        if any(e.type != unified for e in elems):
            raise ConversionError("element types must all match for conversion to list")
        return Value(ListType(unified), tuple(elems))

    return run


def _tuple_to_set(have: TupleType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.elems:
        return lambda v: Value(SetType(without_optional(ety)), ())
    convs = _tuple_elem_convs(have, ety, unsafe)
    if convs is None:
        return None

    def run(v: Value) -> Value:
        elems = [e if c is None else c(e) for e, c in zip(v.v, convs)]
        et = elems[0].type
        if any(e.type != et for e in elems):
            raise ConversionError("element types must all match for conversion to set")
        return set_val(elems, et)

    return run


def _object_to_map(have: ObjectType, ety: Type, unsafe: bool) -> Conversion | None:
    if not have.attrs:
        return lambda v: Value(MapType(without_optional(ety)), {})
    target = ety
    if ety is DYNAMIC:
        unified = _unify(list(have.attrs.values()), unsafe)
        if unified is None:
            return None
        target = unified
    convs: dict[str, Conversion | None] = {}
    for name, t in have.attrs.items():
        if t == target:
            convs[name] = None
            continue
        c = get_conversion(t, target, unsafe)
        if c is None:
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        elems = {k: (e if convs.get(k) is None else convs[k](e)) for k, e in v.v.items()}  # type: ignore[misc]
        if isinstance(target, (_CollectionType, ObjectType)):
            elems = _unify_elements(elems)
        return _make_map_checked(elems, "attribute types must all match for conversion to map")

    return run


def _object_to_object(have: ObjectType, want: ObjectType, unsafe: bool) -> Conversion | None:
    convs: dict[str, Conversion | None] = {}
    for name, out_t in want.attrs.items():
        in_t = have.attrs.get(name)
        if in_t is None:
            if name in want.optional:
                continue
            return None
        if in_t == out_t:
            convs[name] = None
            continue
        c = get_conversion(in_t, out_t, unsafe)
        if c is None:
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        out: dict[str, Value] = {}
        for name, e in v.v.items():
            if name not in convs:
                continue
            c = convs[name]
            out[name] = e if c is None else c(e)
        for name in want.optional:
            if name not in out:
                out[name] = null_val(without_optional(want.attrs[name]))
        return object_val(out)

    return run


def _tuple_to_tuple(have: TupleType, want: TupleType, unsafe: bool) -> Conversion | None:
    if len(have.elems) != len(want.elems):
        return None
    convs: list[Conversion | None] = []
    for in_t, out_t in zip(have.elems, want.elems):
        if in_t == out_t:
            convs.append(None)
            continue
        c = get_conversion(in_t, out_t, unsafe)
        if c is None:
            return None
        convs.append(c)

    def run(v: Value) -> Value:
        return tuple_val([e if c is None else c(e) for e, c in zip(v.v, convs)])

    return run


def _map_to_object(have: MapType, want: ObjectType, unsafe: bool) -> Conversion | None:
    convs: dict[str, Conversion | None] = {}
    for name, t in want.attrs.items():
        if t == have.elem:
            convs[name] = None
            continue
        c = get_conversion(have.elem, t, unsafe)
        if c is None:
            if name in want.optional and unsafe:
                continue
            return None
        convs[name] = c

    def run(v: Value) -> Value:
        out: dict[str, Value] = {}
        for name, e in v.v.items():
            if name not in want.attrs:
                continue
            if name in convs:
                c = convs[name]
                out[name] = e if c is None else c(e)
            else:
                msg = mismatch_message(e.type, want.attrs[name])
                raise ConversionError(f'map element type is incompatible with attribute "{name}": {msg}')
        for name, t in want.attrs.items():
            if name not in out:
                if name in want.optional:
                    out[name] = null_val(t)
                else:
                    raise ConversionError(f'map has no element for required attribute "{name}"')
        return object_val(out)

    return run


def _dynamic_replace(have: Type, want: Type) -> Type:
    """The concrete type a null of type `have` takes when converted to `want` (cty dynamicReplace)."""
    if have is DYNAMIC:
        return want
    if want is DYNAMIC:
        return have
    if isinstance(want, PrimitiveType):
        return want
    if isinstance(want, MapType):
        if isinstance(have, MapType):
            return MapType(_dynamic_replace(have.elem, want.elem))
        if isinstance(have, ObjectType):
            u = _unify(list(have.attrs.values()), True)
            return MapType(_dynamic_replace(u or DYNAMIC, want.elem))
        return want
    if isinstance(want, ObjectType):
        out: dict[str, Type] = {}
        for name, t in want.attrs.items():
            if isinstance(have, MapType):
                out[name] = _dynamic_replace(have.elem, t)
            elif isinstance(have, ObjectType):
                out[name] = _dynamic_replace(have.attrs[name], t) if name in have.attrs else t
        return ObjectType(out)
    if isinstance(want, (SetType, ListType)):
        ctor = type(want)
        if isinstance(have, (SetType, ListType)):
            return ctor(_dynamic_replace(have.elem, want.elem))
        if isinstance(have, TupleType):
            u = _unify(have.elems, True)
            return ctor(_dynamic_replace(u or DYNAMIC, want.elem))
        return want
    if isinstance(want, TupleType) and isinstance(have, TupleType):
        return TupleType(_dynamic_replace(h, w) for h, w in zip(have.elems, want.elems))
    return want


# --------------------------------------------------------------------------
# Mismatch messages (cty convert.MismatchMessage)


def mismatch_message(got: Type, want: Type) -> str:
    """cty's explanation of why `got` cannot become `want`."""
    if isinstance(got, ObjectType) and isinstance(want, ObjectType):
        return _mismatch_objects(got, want)
    if isinstance(got, TupleType) and isinstance(want, ListType) and want.elem is DYNAMIC:
        return "all list elements must have the same type"
    if isinstance(got, TupleType) and isinstance(want, SetType) and want.elem is DYNAMIC:
        return "all set elements must have the same type"
    if isinstance(got, ObjectType) and isinstance(want, MapType) and want.elem is DYNAMIC:
        return "all map elements must have the same type"
    if isinstance(got, (TupleType, ObjectType)) and want.is_collection():
        return _mismatch_from_structural(got, want)
    if got.is_collection() and want.is_collection():
        return _mismatch_collections(got, want)
    if not _likely_confusing(got, want):
        return f"{friendly_name(want)} required, but have {friendly_name(got)}"
    return friendly_name(want, True) + " required"


def _likely_confusing(got: Type, want: Type) -> bool:
    if got.is_primitive() != want.is_primitive():
        return False
    if want is STRING:
        return False
    if (want is BOOL and got is NUMBER) or (got is BOOL and want is NUMBER):
        return False
    if (
        isinstance(got, _CollectionType)
        and isinstance(want, _CollectionType)
        and not got.elem.has_dynamic()
        and want.elem.has_dynamic()
    ):
        return False
    if isinstance(got, TupleType) and isinstance(want, ObjectType):
        return False
    return True


def _mismatch_objects(got: ObjectType, want: ObjectType) -> str:
    missing = []
    unsafe_msg = ""
    safe_msg = ""
    for name, want_t in want.attrs.items():
        got_t = got.attrs.get(name)
        if got_t is None:
            if name not in want.optional:
                missing.append(name)
            continue
        if got_t == want_t or unsafe_msg:
            continue
        if get_conversion(got_t, want_t, True) is None:
            unsafe_msg = f'attribute "{name}": {mismatch_message(got_t, want_t)}'
        if safe_msg:
            continue
        if get_conversion(got_t, want_t, False) is None:
            safe_msg = f'attribute "{name}": {mismatch_message(got_t, want_t)}'
    if missing:
        missing.sort()
        quoted = [json.dumps(m) for m in missing]
        if len(quoted) == 1:
            return f"attribute {quoted[0]} is required"
        if len(quoted) == 2:
            return f"attributes {quoted[0]} and {quoted[1]} are required"
        return f"attributes {', '.join(quoted[:-1])}, and {quoted[-1]} are required"
    return unsafe_msg or safe_msg or "incorrect object attributes"


def _mismatch_from_structural(got: Type, want: Type) -> str:
    assert isinstance(want, _CollectionType)
    if isinstance(want, (ListType, SetType)) and not isinstance(got, TupleType):
        return friendly_name(want, True) + " required"
    if isinstance(want, MapType) and not isinstance(got, ObjectType):
        return friendly_name(want, True) + " required"
    if isinstance(got, TupleType):
        for i, t in enumerate(got.elems):
            if t == want.elem or get_conversion(t, want.elem, True) is not None:
                continue
            return f"element {i}: {mismatch_message(t, want.elem)}"
    elif isinstance(got, ObjectType):
        for name, t in got.attrs.items():
            if t == want.elem or get_conversion(t, want.elem, True) is not None:
                continue
            return f"element {json.dumps(name)}: {mismatch_message(t, want.elem)}"
    return f"all elements must be {friendly_name(want.elem, True)}"


def _mismatch_collections(got: Type, want: Type) -> str:
    assert isinstance(want, _CollectionType) and isinstance(got, _CollectionType)
    if isinstance(want, (ListType, SetType)) and not isinstance(got, (ListType, SetType)):
        return friendly_name(want, True) + " required"
    if isinstance(want, MapType) and not isinstance(got, MapType):
        return friendly_name(want, True) + " required"
    noun = {ListType: "list element type", SetType: "set element type", MapType: "map element type"}[type(want)]
    return f"incorrect {noun}: {mismatch_message(got.elem, want.elem)}"
