"""Records: slotted value classes as `@dataclass(slots=True)` makes them, at a plain class's cost.

`@record` gives a class what `@dataclass(frozen=True, slots=True)` gives it:
`__slots__` for its annotated fields, an `__init__` over them (plain defaults
and `field(default_factory=...)`, `init=False`, `__post_init__`), `__eq__` and
`__hash__` over the compared fields, `__repr__`, `__match_args__`,
immutability (`FrozenInstanceError`), pickling and copying. `@record(frozen=False)`
is the mutable form (`@dataclass(slots=True)`: equal by value, unhashable).
`replace()` is `dataclasses.replace`. mypy reads records as dataclasses (PEP 681).

Why not dataclasses: they compile five methods from source text for every
class and then build the class a second time for its slots, about 1 ms a
class on a small machine, and importing them loads `inspect` (about 25 ms).
`bakeplan print` defines some 60 records before it reads a byte, so that was
half of a typical run. Here the one method whose speed matters, `__init__`
(a 1,000-target file makes some 165,000 records), is compiled per class, as
dataclasses would, and writes each field through its slot's own setter (0.66
against 0.92 us for a `Location` with `object.__setattr__`); the others are closures over an
`operator.attrgetter`, which need no compiling. The compiled `__init__`s are
kept in the cache folder (`records-<python>.marshal`, as `.pyc` files keep
modules), so only a first run compiles them (about 10 ms for the print path).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from collections.abc import Callable
from operator import attrgetter
from types import CodeType
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a frozen record (dataclasses' error of the same name)."""


class _Missing:
    """No default given (dataclasses' MISSING)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_FIELDS = "__record_fields__"  # on every record class: field name -> Field, in order


class Field:
    """How one field is made, shown and compared: what `field()` declares."""

    __slots__ = ("default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field(default={self.default!r}, default_factory={self.default_factory!r}, init={self.init}, repr={self.repr}, compare={self.compare})"


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field's default, or a factory for it, and whether `__init__`, `__repr__` and `__eq__` see it."""
    if default is not MISSING and default_factory is not None:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, MISSING if default_factory is None else default_factory, init, repr, compare)


@overload
def record(cls: type[_T], /) -> type[_T]: ...


@overload
def record(*, frozen: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[_T] | None = None, /, *, frozen: bool = True) -> Any:
    """Make `cls` a slotted record: `@record` (frozen, hashable) or `@record(frozen=False)` (mutable)."""
    if cls is None:
        return lambda cls: _build(cls, frozen)
    return _build(cls, frozen)


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of the record `obj` with some fields changed (`dataclasses.replace`)."""
    fields: dict[str, Field] = getattr(obj, _FIELDS)
    for name, spec in fields.items():
        if not spec.init:
            if name in changes:
                raise ValueError(f"field {name} is declared with init=False, it cannot be specified with replace()")
        elif name not in changes:
            changes[name] = getattr(obj, name)
    return type(obj)(**changes)


def _build(cls: type[_T], frozen: bool) -> type[_T]:
    fields = _collect_fields(cls)
    inherited = {name for base in cls.__mro__[1:] for name in base.__dict__.get("__slots__", ())}
    namespace = {key: value for key, value in cls.__dict__.items() if key not in fields and key not in ("__dict__", "__weakref__")}
    namespace["__slots__"] = tuple(name for name in fields if name not in inherited)
    namespace[_FIELDS] = fields
    namespace["__match_args__"] = tuple(name for name, spec in fields.items() if spec.init)
    if "__repr__" not in cls.__dict__:
        namespace["__repr__"] = _make_repr(tuple(name for name, spec in fields.items() if spec.repr))
    if "__eq__" not in cls.__dict__:
        compared = tuple(name for name, spec in fields.items() if spec.compare)
        key: Callable[[Any], Any] = attrgetter(*compared) if compared else _no_key
        namespace["__eq__"] = _make_eq(key)
        if "__hash__" not in cls.__dict__:
            namespace["__hash__"] = _make_hash(key) if frozen else None
    if frozen:
        namespace["__setattr__"] = _frozen_setattr
        namespace["__delattr__"] = _frozen_delattr
        namespace.setdefault("__getstate__", _getstate)
        namespace.setdefault("__setstate__", _setstate)
    metaclass: Any = type(cls)  # type, or ABCMeta for a record that implements an ABC
    built: type[_T] = metaclass(cls.__name__, cls.__bases__, namespace)
    built.__init__ = _make_init(built, fields)  # type: ignore[method-assign]  # needs the built class: its slots write the fields
    return built


def _collect_fields(cls: type[Any]) -> dict[str, Field]:
    """Inherited records' fields first, then this class's annotations in source order (ClassVar skipped)."""
    fields: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(base.__dict__.get(_FIELDS, {}))
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        fields[name] = value if isinstance(value, Field) else Field(value, MISSING, True, True, True)
    return fields


def _make_init(cls: type[Any], fields: dict[str, Field]) -> Callable[..., None]:
    """`__init__(self, a, b=default, ...)`, compiled once for the class: it runs for every instance."""
    params: list[str] = []
    lines: list[str] = []
    names: dict[str, Any] = {"_MISSING": MISSING}  # and each field's slot setter: faster than object.__setattr__
    seen_default = False
    for name, spec in fields.items():
        if spec.default_factory is not MISSING:
            names[f"_factory_{name}"] = spec.default_factory
            value = f"_factory_{name}() if {name} is _MISSING else {name}" if spec.init else f"_factory_{name}()"
            default = "_MISSING"
        elif spec.default is not MISSING:
            names[f"_default_{name}"] = spec.default
            value = name if spec.init else f"_default_{name}"
            default = f"_default_{name}"
        else:
            value, default = (name, "") if spec.init else ("", "")
        if spec.init:
            if default:
                seen_default = True
                params.append(f"{name}={default}")
            elif seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument in {cls.__qualname__}")
            else:
                params.append(name)
        if value:
            names[f"_set_{name}"] = getattr(cls, name).__set__
            lines.append(f"  _set_{name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        lines.append("  self.__post_init__()")
    source = (
        f"def _outer({', '.join(names)}):\n"
        f" def __init__(self, {', '.join(params)}):\n" + ("\n".join(lines) or "  pass") + "\n"
        " return __init__\n"
    )
    scope: dict[str, Any] = {}
    exec(_CODES.compiled(source), {}, scope)
    init: Callable[..., None] = scope["_outer"](**names)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


class _CompiledInits:
    """Compiled `__init__` sources by their text, loaded from and saved to the cache folder once per process."""

    def __init__(self, path: Callable[[], str | None] | None = None) -> None:
        self._path = path or _cache_path  # where the codes are kept: the cache folder's file unless told
        self.codes: dict[str, CodeType] | None = None
        self.fresh: dict[str, CodeType] = {}

    def compiled(self, source: str) -> CodeType:
        """The code of `source`: kept from an earlier run, or compiled now (and saved when the process exits)."""
        if self.codes is None:
            self.codes = self._load()
        code = self.codes.get(source)
        if code is None:
            code = self.codes[source] = compile(source, "<record>", "exec")
            if not self.fresh:
                import atexit

                atexit.register(self.save)
            self.fresh[source] = code
        return code

    def _load(self) -> dict[str, CodeType]:
        path = self._path()
        if path is None:
            return {}
        try:
            with open(path, "rb") as handle:
                stored = handle.read()
            if zlib.crc32(stored[4:]).to_bytes(4, "big") == stored[:4]:
                codes: dict[str, CodeType] = marshal.loads(stored[4:])
                return codes
        except (OSError, ValueError, EOFError, TypeError):  # none yet, unreadable or damaged: compile again
            pass
        return {}

    def save(self) -> None:
        """Store what this process compiled beside what is stored (at exit; a failure only costs compiling again)."""
        from pathlib import Path

        from bakeplan.fsutil import write_atomic

        path = self._path()
        if path is None:
            return
        codes = {**self._load(), **self.fresh}  # another command may have saved its records meanwhile
        if len(codes) > 4096:  # grown without bound (many versions): start again from this run's
            codes = dict(self.fresh)
        try:
            payload = marshal.dumps(codes)
            write_atomic(Path(path), zlib.crc32(payload).to_bytes(4, "big") + payload)
        except (OSError, ValueError):  # no cache folder: compile again next time
            pass


def _cache_path() -> str | None:
    """`records-<python>.marshal` in bakeplan's cache folder: code objects are only valid for one Python build."""
    from bakeplan.fsutil import cache_home

    home = cache_home(os.environ)
    return None if home is None else os.path.join(home, f"records-{sys.implementation.cache_tag}-{sys.hexversion:x}.marshal")


_CODES = _CompiledInits()


def _make_repr(shown: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    return __repr__


def _make_eq(key: Callable[[Any], Any]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _make_hash(key: Callable[[Any], Any]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _no_key(_: Any) -> tuple[()]:
    return ()


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self.__record_fields__)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for name, value in zip(self.__record_fields__, state, strict=True):
        object.__setattr__(self, name, value)
