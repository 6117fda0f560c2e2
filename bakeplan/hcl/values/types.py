"""cty types: primitives, collections, structural types, type constraints, friendly names.

go-cty keeps one file per kind of type (primitive_type.go, list_type.go, ...,
object_type.go with its optional attributes, which only type constraints use);
here a type is a small immutable, hashable object and all of them fit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class Type:
    """Base of all cty types."""

    __slots__ = ()

    def is_primitive(self) -> bool:
        """True for string, number and bool."""
        return isinstance(self, PrimitiveType)

    def is_collection(self) -> bool:
        """True for list, set and map types."""
        return isinstance(self, (ListType, SetType, MapType))

    def has_dynamic(self) -> bool:
        """True when DYNAMIC appears anywhere in this type."""
        return False


class PrimitiveType(Type):
    """string, number or bool."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name.upper()

    def __reduce__(self) -> str:
        # unpickle to the module's singleton: types are compared with `is` on hot paths
        return self.name.upper()


class _DynamicType(Type):
    """cty.DynamicPseudoType: "any type", also the type of the `null` literal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DYNAMIC"

    def __reduce__(self) -> str:
        return "DYNAMIC"  # the singleton, as for primitive types

    def has_dynamic(self) -> bool:
        return True


STRING = PrimitiveType("string")
NUMBER = PrimitiveType("number")
BOOL = PrimitiveType("bool")
DYNAMIC = _DynamicType()


class _CollectionType(Type):
    __slots__ = ("elem", "_hash")

    def __init__(self, elem: Type) -> None:
        self.elem = elem
        self._hash = hash((type(self).__name__, elem))

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self) and self.elem == other.elem)  # type: ignore[attr-defined,unused-ignore]

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.elem!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild rather than restore `_hash`: string hashes differ between processes
        return (type(self), (self.elem,))

    def has_dynamic(self) -> bool:
        return self.elem.has_dynamic()


class ListType(_CollectionType):
    """list(elem)."""

    __slots__ = ()


class SetType(_CollectionType):
    """set(elem)."""

    __slots__ = ()


class MapType(_CollectionType):
    """map(elem)."""

    __slots__ = ()


class TupleType(Type):
    """tuple([t1, t2, ...])."""

    __slots__ = ("elems", "_hash")

    def __init__(self, elems: Iterable[Type]) -> None:
        self.elems: tuple[Type, ...] = tuple(elems)
        self._hash = hash(("tuple", self.elems))

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is TupleType and self.elems == other.elems)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"TupleType({list(self.elems)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TupleType, (self.elems,))

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.elems)


class ObjectType(Type):
    """object({name = type, ...}); `optional` names optional attributes (type constraints only)."""

    __slots__ = ("attrs", "optional", "_hash")

    def __init__(self, attrs: Mapping[str, Type], optional: frozenset[str] = frozenset()) -> None:
        self.attrs: dict[str, Type] = {k: attrs[k] for k in sorted(attrs)}
        self.optional = optional
        self._hash = hash(("object", tuple(self.attrs.items()), optional))

    def __eq__(self, other: object) -> bool:
        return self is other or (
            type(other) is ObjectType and self.attrs == other.attrs and self.optional == other.optional
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"ObjectType({self.attrs!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ObjectType, (self.attrs, self.optional))

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.attrs.values())


class CapsuleType(Type):
    """An opaque go type (only stdlib's `bytes`, which bake files cannot construct)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"CapsuleType({self.name!r})"


EMPTY_OBJECT_TYPE = ObjectType({})
EMPTY_TUPLE_TYPE = TupleType(())


def friendly_name(t: Type, constraint: bool = False) -> str:
    """cty's FriendlyName ("list of string"); `constraint` uses "any" for DYNAMIC."""
    if t is DYNAMIC:
        return "any type" if constraint else "dynamic"
    if isinstance(t, PrimitiveType):
        return t.name
    if isinstance(t, ListType):
        return "list of " + friendly_name(t.elem, constraint)
    if isinstance(t, SetType):
        return "set of " + friendly_name(t.elem, constraint)
    if isinstance(t, MapType):
        return "map of " + friendly_name(t.elem, constraint)
    if isinstance(t, TupleType):
        return "tuple"
    if isinstance(t, CapsuleType):
        return t.name
    return "object"


def without_optional(t: Type) -> Type:
    """The type with optional-attribute markers removed, deeply."""
    if isinstance(t, ObjectType):
        return ObjectType({k: without_optional(v) for k, v in t.attrs.items()})
    if isinstance(t, _CollectionType):
        return type(t)(without_optional(t.elem))
    if isinstance(t, TupleType):
        return TupleType(without_optional(e) for e in t.elems)
    return t


def elem_type_of(t: Type) -> Type:
    """Element type of a list, set or map type."""
    assert isinstance(t, _CollectionType)
    return t.elem


def is_iterable(t: Type) -> bool:
    """True for collection and structural types (what for-expressions accept)."""
    return isinstance(t, (_CollectionType, TupleType, ObjectType))
