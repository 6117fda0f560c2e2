"""bakeplan.record: records behave as the dataclasses they replace, and their `__init__`s compile once."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from bakeplan.record import FrozenInstanceError, _CompiledInits, field, record, replace


@record
class Point:
    """A frozen record with a plain default and a factory."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclasses.dataclass(frozen=True, slots=True)
class PointDC:
    x: int
    y: int = 0
    tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)


@record(frozen=False)
class Counter:
    """A mutable record with a field outside `__init__`, set by `__post_init__`."""

    name: str
    hidden: int = field(default=7, repr=False, compare=False)
    seen: list[str] = field(default_factory=list)
    total: int = field(init=False)

    def __post_init__(self) -> None:
        self.total = len(self.seen)


@record
class Point3(Point):
    """A record that extends another: the base's fields come first."""

    z: int = 5


def test_a_record_is_built_shown_and_compared_like_the_dataclass() -> None:
    assert Point(1) == Point(1, 0, ()) != Point(2)
    assert repr(Point(1, 2, ("a",))) == repr(PointDC(1, 2, ("a",))).replace("PointDC", "Point")
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point.__match_args__ == PointDC.__match_args__ == ("x", "y", "tags")
    assert not hasattr(Point(1), "__dict__")
    other: object = PointDC(1)
    assert Point(1) != other  # another class is never equal, even with the same fields


def test_a_frozen_record_refuses_assignment() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y


def test_replace_pickle_and_copy_keep_the_values() -> None:
    point = Point(1, 2, ("a",))
    assert replace(point, y=3) == Point(1, 3, ("a",))
    assert pickle.loads(pickle.dumps(point)) == point
    assert copy.deepcopy(point) == point and copy.copy(point) == point


def test_a_mutable_record_runs_post_init_and_is_unhashable() -> None:
    counter = Counter("a", seen=["x", "y"])
    assert counter.total == 2 and counter.hidden == 7
    assert repr(counter) == "Counter(name='a', seen=['x', 'y'], total=2)"
    assert Counter("a", hidden=1) == Counter("a", hidden=2)  # compare=False
    counter.name = "b"
    assert counter.name == "b"
    with pytest.raises(TypeError):
        hash(counter)
    assert Counter("a").seen is not Counter("a").seen  # a new list each time
    with pytest.raises(ValueError, match="init=False"):
        replace(counter, total=1)


def test_a_record_extends_a_record() -> None:
    assert Point3(1, 2, ("t",), 3) == Point3(x=1, y=2, tags=("t",), z=3)
    assert repr(Point3(1)) == "Point3(x=1, y=0, tags=(), z=5)"


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]


def test_compiled_inits_are_kept_for_the_next_process(tmp_path: Path) -> None:
    path = str(tmp_path / "records.marshal")
    first = _CompiledInits(lambda: path)
    code = first.compiled("def _outer():\n def __init__(self):\n  pass\n return __init__\n")
    assert first.fresh
    first.save()
    second = _CompiledInits(lambda: path)
    assert second.compiled("def _outer():\n def __init__(self):\n  pass\n return __init__\n") == code
    assert not second.fresh  # loaded, not compiled


def test_a_damaged_code_file_is_compiled_again(tmp_path: Path) -> None:
    path = tmp_path / "records.marshal"
    path.write_bytes(b"\0\0\0\0garbage")
    inits = _CompiledInits(lambda: str(path))
    inits.compiled("def _outer():\n return None\n")
    assert inits.fresh
