"""What the bake files define, gathered once in load order: variable and function blocks
(a later definition replaces an earlier one), top-level attributes, target and group blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bakeplan.bake.definition import BLOCK_KINDS
from bakeplan.hcl import ast
from bakeplan.hcl.evaluate import error
from bakeplan.record import field, record


@record(frozen=False)
class Sources:
    """The definitions of one set of bake files, by kind (hclparser's merged body)."""

    variables: dict[str, ast.Block] = field(default_factory=dict)
    functions: dict[str, ast.Block] = field(default_factory=dict)
    attrs: dict[str, ast.Attribute] = field(default_factory=dict)
    blocks: list[ast.Block] = field(default_factory=list)

    def add(self, bodies: Sequence[ast.Body], reserved: set[str]) -> None:
        """The definitions of `bodies`, in load order; `reserved` names are left out."""
        for body in bodies:
            for block in body.blocks:
                self._add_block(block, reserved)
            for attribute in body.attributes:
                if attribute.name not in reserved and attribute.name != "function":
                    self.attrs[attribute.name] = attribute

    def _add_block(self, block: ast.Block, reserved: set[str]) -> None:
        if block.type in ("variable", "function"):
            if len(block.labels) != 1:
                _label_error(block)
            if block.labels[0] in reserved:
                return
            table = self.variables if block.type == "variable" else self.functions
            table.pop(block.labels[0], None)  # a redefinition moves to its new place
            table[block.labels[0]] = block
        elif block.type in BLOCK_KINDS:
            if len(block.labels) != 1:
                _label_error(block)
            self.blocks.append(block)


def collect(bodies: Sequence[ast.Body], builtins: Mapping[str, str]) -> Sources:
    """The definitions of `bodies`; built-in names and block kinds cannot be redefined."""
    sources = Sources()
    sources.add(bodies, set(builtins) | set(BLOCK_KINDS))
    return sources


def _label_error(block: ast.Block) -> None:
    kind = block.type
    if not block.labels:
        # HCL points at the opening brace, where the label was expected
        raise error("Missing name for " + kind, f"All {kind} blocks must have 1 labels (name).", block.body.loc)
    loc = block.label_locs[1] if len(block.label_locs) > 1 else block.loc
    raise error("Extraneous label for " + kind, f"Only 1 labels (name) are expected for {kind} blocks.", loc)


def find_attribute(block: ast.Block, name: str) -> ast.Attribute | None:
    """The attribute `name` of a block, if it is set."""
    for attribute in block.body.attributes:
        if attribute.name == name:
            return attribute
    return None
