"""The bytes functions: names buildx knows that no bake file can call successfully.

No bake value has go-cty's bytes capsule type, so argument conversion always
fails before the implementation runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.hcl import values as V
from bakeplan.hcl.functions.base import CallError, Function, param, table
from bakeplan.hcl.values import NUMBER, Value


def _bytes_unreachable(a: list[Value]) -> Value:
    # the bytes capsule type cannot be constructed in bake, so argument conversion always fails first
    raise CallError("bytes values cannot be created in bake files")


BYTES = V.CapsuleType("bytes")


TABLE: Mapping[str, Function] = table(
    ("byteslen", (param("buf", BYTES),), None, _bytes_unreachable),
    ("bytesslice", (param("buf", BYTES), param("offset", NUMBER), param("length", NUMBER)), None, _bytes_unreachable),
)
