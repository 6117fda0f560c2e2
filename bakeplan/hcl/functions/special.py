"""try, can and convert: named in the table, run by the evaluator.

They take unevaluated expressions (tryfunc) or a type expression
(typeexpr.ConvertFunc); the table gives their names and parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

from bakeplan.hcl.functions.base import CallError, Function, param, table
from bakeplan.hcl.values import DYNAMIC, Value


def _special(a: list[Value]) -> Value:
    raise CallError("this function is evaluated by the evaluator")


TABLE: Mapping[str, Function] = table(
    ("can", (param("expression", DYNAMIC),), None, _special),
    ("convert", (param("value", DYNAMIC, True), param("type", DYNAMIC)), None, _special),
    ("try", (), param("expressions", DYNAMIC), _special),
)
