"""Target and group blocks: each block's instances (one per matrix combination, named and
checked as buildx's resolveBlockNames does), then their decodable attributes evaluated."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from bakeplan.bake import matrix as mx
from bakeplan.bake import schema
from bakeplan.bake.definition import BLOCK_KINDS, Attribute, RawBlock
from bakeplan.bake.hclparser.sources import find_attribute
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import values as cty
from bakeplan.hcl.evaluate import Compiler, Counted, Env, error, expr_loc, start_range
from bakeplan.hcl.evaluate import failed as failed_diagnostics
from bakeplan.hcl.values import STRING, Value
from bakeplan.record import field, record

if TYPE_CHECKING:
    from bakeplan.bake.hclparser.references import References


@record
class Planned:
    """One decodable attribute of a block, compiled once for all its instances."""

    name: str
    expr: ast.Expr
    evaluate: Callable[[Env], Value]
    location: Location
    name_location: Location
    decode_location: Location  # where gohcl reports a value that does not fit (hcl's StartRange)


@record(frozen=False)
class Instance:
    """One block instance (a matrix combination): its env and its evaluated attributes."""

    kind: str
    name: str
    block: ast.Block
    env: Env
    combo: mx.Combination
    plan: dict[str, Planned]
    values: dict[str, Value] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)

    def attr(self, name: str, loc: Location) -> Value:
        """The attribute `name`, evaluated once; evaluating it again while it is evaluated is a cycle."""
        found = self.values.get(name)
        if found is not None:
            return found
        busy = self.busy
        if name in busy:
            raise error(
                "Invalid expression", f"reference cycle not allowed for {self.kind}.{self.name}.{name}", loc
            )
        busy.add(name)
        try:
            value = self.plan[name].evaluate(self.env)
        finally:
            busy.discard(name)
        self.values[name] = value
        return value


class Blocks:
    """The target and group blocks of the bake files, expanded into instances and evaluated."""

    def __init__(
        self,
        blocks: list[ast.Block],
        compiler: Compiler,
        root: Env,
        fields: dict[str, dict[str, str]],
        references: References,
    ) -> None:
        self.blocks = blocks
        self.compiler = compiler
        self.root = root
        self.fields = fields
        self.references = references
        self._plans: dict[int, dict[str, Planned]] = {}
        # (kind, label) -> generated names in order (buildx ParseMeta.Renamed)
        self.renamed: dict[tuple[str, str], dict[str, None]] = {}

    def expand(self) -> list[Instance]:
        """Every block's instances (matrix combinations) with validated, unique names."""
        instances: list[Instance] = []
        by_name: dict[str, dict[str, list[Instance]]] = {kind: {} for kind in BLOCK_KINDS}
        for block in self.blocks:
            generated = self.renamed.setdefault((block.type, block.labels[0]), {})
            for instance in self._block_instances(block):
                instances.append(instance)
                by_name[instance.kind].setdefault(instance.name, []).append(instance)
                generated.setdefault(instance.name, None)
        self.references.index(by_name)
        return instances

    def _block_instances(self, block: ast.Block) -> list[Instance]:
        """buildx resolveBlockNames: evaluate the matrix, then validate the label and each name."""
        label = block.labels[0]
        label_loc = block.label_locs[0] if block.label_locs else block.loc
        matrix_attr = find_attribute(block, "matrix")
        name_attr = find_attribute(block, "name")
        combos: list[mx.Combination] | None = None
        if matrix_attr is not None:
            if block.type == "group":
                raise mx.invalid_name("matrix is not supported for groups", label_loc)
            value = self.compiler.evaluate(matrix_attr.expr, self.root)
            combos = mx.combinations(value, mx.key_order(matrix_attr.expr, value), label_loc)
            if not combos:
                return []  # buildx validates names per combination: none here
        mx.validate_name(label, label_loc)
        if name_attr is not None and block.type == "group":
            raise mx.invalid_name("name is not supported for groups", label_loc)
        if combos is None:
            if name_attr is not None:
                raise mx.invalid_name("name requires matrix", label_loc, hint="Add a matrix to the target, or remove its name.")
            return [Instance(block.type, label, block, self.root, (), self._plan(block))]
        out = [self._instance(block, combo, name_attr, label_loc) for combo in combos]
        mx.check_unique([i.name for i in out], label_loc)
        return out

    def _instance(
        self, block: ast.Block, combo: mx.Combination, name_attr: ast.Attribute | None, label_loc: Location
    ) -> Instance:
        env = Env(self.root.ctx, dict(combo))
        name = block.labels[0]
        if name_attr is not None:
            value = self.compiler.evaluate(name_attr.expr, env)
            try:
                converted = cty.convert(value, STRING)
            except cty.ConversionError as exc:
                raise mx.invalid_name(str(exc), label_loc) from None
            if converted.v is None:
                raise mx.invalid_name("name must not be null", label_loc)
            name = converted.v
            mx.validate_name(name, label_loc)
        return Instance(block.type, name, block, env, combo, self._plan(block))

    def _plan(self, block: ast.Block) -> dict[str, Planned]:
        """The block's decodable attributes (source order), compiled; shared by its instances."""
        plan = self._plans.get(id(block))
        if plan is None:
            kinds = self.fields[block.type]
            plan = {
                a.name: Planned(a.name, a.expr, self.compiler.compile(a.expr), expr_loc(a.expr), a.loc, start_range(a.expr))
                for a in block.body.attributes
                if a.name in kinds
            }
            self._plans[id(block)] = plan
        return plan

    def evaluate_instance(self, instance: Instance, failures: list[tuple[BakeFileError, int]]) -> RawBlock | None:
        """All decodable attributes of one block instance, as a RawBlock; None when some failed (see `failures`)."""
        attributes: dict[str, Attribute] = {}
        block = instance.block
        values = instance.values
        env = instance.env
        tracked = self.compiler.refers_to_blocks  # without block references no cycle can form
        references = self.references
        if tracked and references.duplicates:
            references.load_references(instance)
        failed = len(failures)
        for name, planned in instance.plan.items():
            value = values.get(name)
            if value is None:
                try:
                    value = instance.attr(name, planned.location) if tracked else planned.evaluate(env)
                except Counted as exc:  # a global's failure: its own diagnostics, nothing decoded
                    failures.append((exc.first, exc.count))
                    continue
                except BakeFileError as exc:
                    if "cycle not allowed" in exc.detail:  # hclparser's loadDeps: ends the block, one diagnostic
                        failures.append((exc, 1))
                        return None
                    # gohcl decodes every attribute; a failed expression reports all its diagnostics
                    # and gives an unknown value, which FromCtyValue reports again ("value must be known").
                    failures.append((exc, failed_diagnostics(self.compiler, planned.expr, env) + 1))
                    continue
            attributes[name] = Attribute(name, value, planned.decode_location, planned.name_location)
        if len(failures) > failed:
            # gohcl decodes the attributes that evaluated too: those that do not fit count as well
            last, count = failures[-1]
            failures[-1] = (last, count + unfit(instance.kind, attributes))
            return None
        if tracked and references.duplicates:
            references.block_decoded(instance)
        if instance.kind == "group" and "targets" not in attributes:
            raise error(
                "Missing required argument",
                'The argument "targets" is required, but no definition was found.',
                block.body.loc,
            )
        label_loc = block.label_locs[0] if block.label_locs else None
        return RawBlock(
            instance.kind, instance.name, attributes, block.labels[0], dict(instance.combo), block.loc, label_loc
        )


def unfit(kind: str, attributes: Mapping[str, Attribute]) -> int:
    """How many of the attributes do not fit their field (gohcl reports each)."""
    count = 0
    for name, attribute in attributes.items():
        try:
            schema.decode_block(kind, {name: schema.RawAttribute(attribute.value, attribute.location)})
        except BakeFileError:
            count += 1
    return count


def evaluate_blocks(blocks_: Blocks, instances: list[Instance]) -> tuple[RawBlock, ...]:
    """Every block, as hclparser.Parse decodes them: a failed block does not stop the others.

    The first failure (in source order) is reported with buildx's count of the
    other diagnostics: ", and N other diagnostic(s)".
    """
    blocks: list[RawBlock] = []
    failures: list[tuple[BakeFileError, int]] = []
    failed_blocks: set[int] = set()
    for instance in instances:
        if id(instance.block) in failed_blocks:
            continue  # hclparser stops a matrix block at its first failed combination
        known = len(failures)
        try:
            found = blocks_.evaluate_instance(instance, failures)
        except BakeFileError as exc:
            failures.append((exc, 1))
            found = None
        if found is not None:
            blocks.append(found)
        if len(failures) > known:
            failed_blocks.add(id(instance.block))
    if not failures:
        return tuple(blocks)
    first = failures[0][0]
    others = sum(count for _, count in failures) + sum(unfit(b.kind, b.attributes) for b in blocks) - 1
    if others == 0:
        raise first
    raise BakeFileError(f"{first.detail}, and {others} other diagnostic(s)", first.location, hint=first.hint) from first
