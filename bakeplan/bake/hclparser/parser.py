"""The evaluation context of one set of bake files (hclparser's `parser`).

Compiled expressions ask it for globals, functions and `target.NAME.ATTR`; it
answers through its collaborators: `Variables` (variables, top-level
attributes, built-ins), `UserFunctions` (`function` blocks), `Blocks` (target
and group blocks) and `References` (what a block reference reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bakeplan.bake.definition import BLOCK_KINDS
from bakeplan.bake.hclparser.blocks import Blocks
from bakeplan.bake.hclparser.functions import UserFunctions
from bakeplan.bake.hclparser.references import References
from bakeplan.bake.hclparser.sources import collect
from bakeplan.bake.hclparser.variables import Variables
from bakeplan.errors import Location
from bakeplan.hcl import ast
from bakeplan.hcl.evaluate import Compiler, Env, unknown_variable
from bakeplan.hcl.functions import Function
from bakeplan.hcl.values import Value


def _field_kinds() -> dict[str, dict[str, str]]:
    from bakeplan.bake import schema

    return {"target": dict(schema.TARGET_FIELDS), "group": dict(schema.GROUP_FIELDS)}


class Parser:
    """The EvalContext of one set of bake files, and the stages that read them."""

    def __init__(
        self,
        bodies: Sequence[ast.Body],
        env: Mapping[str, str],
        vars: Mapping[str, str],
        builtins: Mapping[str, str],
        stdlib: Mapping[str, Function],
    ) -> None:
        self.compiler = Compiler(frozenset(BLOCK_KINDS))
        self.root = Env(self)
        fields = _field_kinds()
        sources = collect(bodies, builtins)
        self.globals = Variables(sources, env, vars, builtins, self.compiler, self.root)
        self.functions = UserFunctions(sources.functions, stdlib, self.compiler, self, self.globals)
        self.references = References(fields)
        self.blocks = Blocks(sources.blocks, self.compiler, self.root, fields, self.references)

    def lookup(self, name: str, loc: Location) -> Value:
        """A global: variable, top-level attribute or built-in (resolved on first use)."""
        return self.globals.lookup(name, loc)

    def function(self, name: str, loc: Location) -> Function:
        """A stdlib function, else a user `function` block."""
        return self.functions.find(name, loc)

    def block_value(
        self, kind: str, name: str, attr: str | None, loc: Location, at: tuple[Location, ...] = ()
    ) -> Value:
        """`target.NAME.ATTR`; before the block names are known, `target` is an unknown variable."""
        if self.references.instances is None or not self.references.instances[kind]:
            # hclparser adds `target` and `group` to the context once it has blocks of that kind
            raise unknown_variable(kind, loc, self.globals.resolved())
        return self.references.block_value(kind, name, attr, loc, at)
