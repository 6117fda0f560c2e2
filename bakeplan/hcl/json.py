"""HCL JSON syntax bake files (docker-bake.json) to the same syntax tree as HCL files.

HCL's JSON syntax has no blocks of its own: a schema decides which object
properties are blocks. buildx's schema (bake/hclparser): at the top level
`variable`, `function`, `target` and `group` are blocks with one label, and
every other property is a global attribute; inside `variable`, `validation`
is a block without labels; all other properties are attributes.

A labelled block is written `{"target": {"NAME": {...}}}` (or a list of such
objects, or `{"NAME": [{...}, {...}]}` for several blocks of one name).
Expressions: every JSON string is a template (`${}` and `%{}` work, as with
HCL's JSON parser given an evaluation context), object property names too;
numbers keep their source text. Properties named `//` in bodies are comments.
Locations are those of the JSON values; positions inside a string count from
just after its opening quote, ignoring JSON escapes (as HCL does).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import cast

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import template
from bakeplan.hcl.ast import Attribute, Block, Body, Expr, Literal, LiteralKind, Object, ObjectItem, Tuple
from bakeplan.hcl.syntax import decode, no_gc, parse_expression
from bakeplan.record import record

# block type -> (number of labels, nested block schema)
_TOP_BLOCKS: dict[str, int] = {"variable": 1, "function": 1, "target": 1, "group": 1}
_NESTED_BLOCKS: dict[str, dict[str, int]] = {"variable": {"validation": 0}}

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')


@record
class _Value:
    """A JSON value with where it starts; `value` is decoded (objects: list of properties)."""

    kind: str
    value: object
    loc: Location
    text: str = ""


@record
class _Property:
    """One `"name": value` of a JSON object."""

    name: str
    name_loc: Location
    value: _Value


class _Reader:
    """A small JSON reader that keeps the position of every value and property."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        self.depth = 0  # objects and arrays open at the current position
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def loc(self, offset: int) -> Location:
        """The location of a character offset."""
        idx = bisect_right(self.starts, offset) - 1
        return Location(self.file, idx + 1, offset - self.starts[idx] + 1)

    def fail(self, what: str) -> BakeFileError:
        """A JSON syntax error at the current position."""
        return BakeFileError(f"Invalid JSON; {what}.", self.loc(self.pos))

    def skip(self) -> None:
        """Skip whitespace."""
        match = _WS.match(self.text, self.pos)
        assert match is not None
        self.pos = match.end()

    def document(self) -> _Value:
        """The whole file: one value and nothing after it."""
        self.skip()
        value = self.value()
        self.skip()
        if self.pos != len(self.text):
            raise self.fail("extra characters after the end of the JSON value")
        return value

    def value(self) -> _Value:
        """One JSON value at the current position."""
        start = self.pos
        ch = self.text[start : start + 1]
        if ch and ch in "{[":
            self.depth += 1
            found = self.properties(start) if ch == "{" else self.items(start)
            self.depth -= 1
            return _Value("object" if ch == "{" else "array", found, self.loc(start))
        if ch == '"':
            return _Value("string", self.string(), self.loc(start))
        for word, kind, val in (("true", "bool", True), ("false", "bool", False), ("null", "null", None)):
            if self.text.startswith(word, start):
                self.pos += len(word)
                return _Value(kind, val, self.loc(start))
        match = _NUMBER.match(self.text, start)
        if match is None or not match.group():
            raise self.fail("expected a value (object, array, string, number, true, false or null)")
        self.pos = match.end()
        return _Value("number", match.group(), self.loc(start))

    def string(self) -> str:
        """A JSON string at the current position, decoded."""
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail("invalid or unterminated string")
        self.pos = match.end()
        decoded: str = json.loads(match.group())
        return decoded

    def properties(self, start: int) -> list[_Property]:
        """The properties of an object, in order (duplicates kept)."""
        self.pos += 1
        props: list[_Property] = []
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return props
        while True:
            self.skip()
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a property name in double quotes")
            name_loc = self.loc(self.pos)
            name = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail('expected ":" after the property name')
            self.pos += 1
            self.skip()
            props.append(_Property(name, name_loc, self.value()))
            if self.close("}", start):
                return props

    def items(self, start: int) -> list[_Value]:
        """The elements of an array."""
        self.pos += 1
        values: list[_Value] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return values
        while True:
            self.skip()
            values.append(self.value())
            if self.close("]", start):
                return values

    def close(self, closer: str, start: int) -> bool:
        """After an element: True at the closing bracket, False after a comma.

        The end of the file, and a comma before the closing bracket, are worded
        as HCL's JSON parser words them (buildx counts one more diagnostic).
        """
        self.skip()
        ch = self.text[self.pos : self.pos + 1]
        if ch == "":
            what = "No closing brace was found for this JSON object" if closer == "}" else (
                "No closing bracket was found for this JSON array"
            )
            # HCL's summary says "object" for an array too; every container left open counts
            raise BakeFileError(f"Unclosed object; {what}., and {self.depth} other diagnostic(s)", self.loc(start))
        self.pos += 1
        if ch == closer:
            return True
        if ch != ",":
            self.pos -= 1
            raise self.fail(f'expected "," or "{closer}"')
        comma = self.pos - 1
        self.skip()
        if self.text.startswith(closer, self.pos):
            if closer == "}":
                detail = "Trailing comma in object; JSON does not permit a trailing comma after the final property in an object."
                raise BakeFileError(detail, self.loc(comma))
            detail = "Trailing comma in array; JSON does not permit a trailing comma after the final value in an array."
            raise BakeFileError(f"{detail}, and 1 other diagnostic(s)", self.loc(comma))  # buildx counts one more
        return False


def parse_json(data: bytes, filename: str) -> Body:
    """Parse an HCL JSON bake file into a Body."""
    if data.startswith(b"\xef\xbb\xbf"):
        # HCL's JSON scanner, unlike its native one, has no BOM rule: the BOM is the first (bad) token.
        raise BakeFileError(
            "Invalid start of value; A JSON value must start with a brace, a bracket, a number, a string, or a keyword.",
            Location(filename, 1, 1),
        )
    with no_gc():
        root = _Reader(decode(data, filename), filename).document()
        if root.kind != "object":
            # HCL reads a root array as several bodies: the first element that is no object is the error
            items = cast("list[_Value]", root.value) if root.kind == "array" else [root]
            bad = next((item for item in items if item.kind != "object"), None)
            if bad is not None:
                raise BakeFileError(
                    "Incorrect JSON value type; A JSON object is required here, to define arguments and child blocks.",
                    bad.loc,
                )
            raise BakeFileError("Invalid JSON body; The root of a JSON bake file must be an object.", root.loc)
        return _body(root, _TOP_BLOCKS)


def _props(value: _Value) -> list[_Property]:
    """The properties of an object value (typed accessor)."""
    return cast("list[_Property]", value.value)


def _body(obj: _Value, schema: dict[str, int]) -> Body:
    """An object as a body: schema properties are blocks, the rest attributes."""
    attributes: list[Attribute] = []
    blocks: list[Block] = []
    seen: dict[str, Location] = {}
    for prop in _props(obj):
        if prop.name == "//":
            continue
        if prop.name in schema:
            blocks.extend(_blocks(prop.name, schema[prop.name], prop.value, ()))
            continue
        if prop.name in seen:
            first = seen[prop.name]
            raise BakeFileError(
                f'Duplicate attribute definition; The attribute "{prop.name}" was already defined at '
                f"{first.file}:{first.line}:{first.column}.",  # bakeplan's place style (HCL: LINE,COL-COL)
                prop.name_loc,
            )
        seen[prop.name] = prop.name_loc
        attributes.append(Attribute(prop.name, expression(prop.value), prop.name_loc))
    return Body(tuple(attributes), tuple(blocks), obj.loc)


def _blocks(kind: str, nlabels: int, value: _Value, labels: tuple[tuple[str, Location], ...]) -> list[Block]:
    """The blocks of type `kind` written as `value`, peeling one label per object level."""
    if value.kind == "array":
        assert isinstance(value.value, list)
        return [b for item in value.value for b in _blocks(kind, nlabels, item, labels)]
    if value.kind != "object" and len(labels) < nlabels:
        raise BakeFileError(
            "Incorrect JSON value type; A JSON object is required here, to specify name labels for this block., "
            "and 1 other diagnostic(s)",
            value.loc,
        )
    if value.kind != "object":
        raise BakeFileError(
            f'Incorrect JSON value type; Either a JSON object or a JSON array is required, representing '
            f'the contents of one or more "{kind}" blocks.',
            value.loc,
        )
    if len(labels) < nlabels:
        out: list[Block] = []
        for prop in _props(value):
            out.extend(_blocks(kind, nlabels, prop.value, (*labels, (prop.name, prop.name_loc))))
        return out
    body = _body(value, _NESTED_BLOCKS.get(kind, {}))
    start = labels[0][1] if labels else value.loc
    return [Block(kind, tuple(n for n, _ in labels), body, start, tuple(loc for _, loc in labels))]


def expression(value: _Value) -> Expr:
    """A JSON value as an expression: strings are templates, objects have template keys."""
    kind = value.kind
    if kind == "string":
        assert isinstance(value.value, str)
        return _template(value.value, value.loc)
    if kind == "number" or kind == "bool" or kind == "null":
        return Literal(cast(LiteralKind, kind), cast("str | bool | None", value.value), value.loc)
    if kind == "array":
        assert isinstance(value.value, list)
        return Tuple(tuple(expression(item) for item in value.value), value.loc)
    items = tuple(
        ObjectItem(_template(prop.name, prop.name_loc), expression(prop.value), prop.name_loc)
        for prop in _props(value)
    )
    return Object(items, value.loc)


def _template(text: str, loc: Location) -> Expr:
    """A JSON string's contents parsed as an HCL template (positions from after the quote)."""
    if "${" not in text and "%{" not in text:
        return Literal("string", text, loc)
    try:
        tokens = template.scan_heredoc(text, loc.file, loc.line, parse_expression, loc.column + 1)
    except BakeFileError as exc:
        if not exc.detail.startswith("Unclosed template interpolation sequence;"):
            raise
        # HCL's JSON reader scans a string's template as a file of its own
        raise BakeFileError(
            "Unclosed template interpolation sequence; There is no closing brace for this interpolation sequence "
            "before the end of the file. This might be caused by incorrect nesting inside the given expression., "
            "and 1 other diagnostic(s)",
            exc.location,
        ) from None
    return template.assemble(tokens, loc)
