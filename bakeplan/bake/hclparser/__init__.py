"""buildx's hclparser, the evaluation behind `bakeplan.bake.definition.read_definition`.

The stages, in hclparser.Parse's order: `sources` gathers what the files
define; `variables` resolves variables, top-level attributes and built-ins
(with overrides and validation); `functions` loads user functions; `blocks`
expands target and group blocks (matrices) and evaluates their attributes;
`references` answers `target.NAME.ATTR`. `parser.Parser` is the evaluation
context that ties them together.
"""

from __future__ import annotations

from bakeplan.bake.hclparser.blocks import evaluate_blocks
from bakeplan.bake.hclparser.parser import Parser
from bakeplan.bake.hclparser.references import reference_value
from bakeplan.hcl.evaluate import start_range

__all__ = ["Parser", "evaluate_blocks", "reference_value", "start_range"]
