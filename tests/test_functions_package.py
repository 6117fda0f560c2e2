"""The stdlib package's shape: one table per family, merged into one registry."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import bakeplan.hcl.functions as stdlib


def _family_tables() -> dict[str, dict[str, stdlib.Function]]:
    tables = {}
    for info in pkgutil.iter_modules(stdlib.__path__):
        module = importlib.import_module(f"{stdlib.__name__}.{info.name}")
        if info.name != "base":
            tables[info.name] = dict(module.TABLE)
    return tables


def test_every_function_comes_from_exactly_one_family_table() -> None:
    tables = _family_tables()
    owners: dict[str, list[str]] = {}
    for family, table in tables.items():
        for name in table:
            owners.setdefault(name, []).append(family)
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}
    assert sorted(owners) == sorted(stdlib.FUNCTIONS)
    for table in tables.values():
        for name, function in table.items():
            assert stdlib.FUNCTIONS[name] is function


def test_the_registry_lists_functions_in_name_order() -> None:
    assert list(stdlib.FUNCTIONS) == sorted(stdlib.FUNCTIONS)


def test_every_exported_name_resolves() -> None:
    assert [name for name in stdlib.__all__ if not hasattr(stdlib, name)] == []


def test_importing_the_stdlib_leaves_the_regex_module_for_first_use() -> None:
    # `regex` costs milliseconds to import and most bake files call no regex function
    probe = "import sys, bakeplan.hcl.functions; print('regex' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_family_loads_when_one_of_its_functions_is_first_looked_up() -> None:
    # a file that calls no crypto function never pays for hashlib and uuid
    probe = (
        "import sys, bakeplan.hcl.functions as f\n"
        "before = 'bakeplan.hcl.functions.crypto' in sys.modules\n"
        "listed = 'md5' in f.FUNCTIONS and len(f.FUNCTIONS)\n"
        "still = 'bakeplan.hcl.functions.crypto' in sys.modules\n"
        "name = f.FUNCTIONS['md5'].name\n"
        "print(before, listed, still, name, 'bakeplan.hcl.functions.crypto' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "106", "False", "md5", "True"]


def test_a_name_outside_every_family_is_not_a_function() -> None:
    assert "tostring" not in stdlib.FUNCTIONS
    assert stdlib.FUNCTIONS.get("tostring") is None
