"""Expressions of a Lark tree: operators (by HCL's precedence), traversals, splats, collections, for, calls."""

from __future__ import annotations

from typing import Any

from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl.ast import (
    AttrStep,
    BinaryOp,
    Conditional,
    Expr,
    ForObject,
    ForTuple,
    FunctionCall,
    GetAttr,
    Index,
    IndexStep,
    Literal,
    Object,
    ObjectItem,
    Parens,
    ScopeTraversal,
    Splat,
    Step,
    Tuple,
    UnaryOp,
)
from bakeplan.hcl.native.strings import StringConverter
from bakeplan.hcl.native.tree import NL, TOKEN, ends_line

_BINARY_OPS = {
    "DOUBLE_PIPE": "||",
    "DOUBLE_AMP": "&&",
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "PLUS": "+",
    "MINUS": "-",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
}

# HCL's binary operator precedence (hclsyntax/operation.go), all left-associative.
_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


class ExpressionConverter(StringConverter):
    """The expression rules of the converter (strings and templates come from `StringConverter`)."""

    __slots__ = ()

    def __init__(self, file: str, dl: int, dc: int, *, free: bool = False) -> None:
        super().__init__(file, dl, dc, free=free)
        self._rules.update({
            "paren_expr": self._paren_expr,
            "identifier": self._identifier,
            "literal_value": self._literal_value,
            "int_lit": self._number,
            "float_lit": self._number,
            "string": self._string,
            "template_string": self._template_string,
            "tuple": self._tuple,
            "object": self._object,
            "function_call": self._function_call,
            "heredoc_template": self._heredoc,
            "heredoc_template_trim": self._heredoc,
            "index_expr_term": self._index,
            "get_attr_expr_term": self._get_attr,
            "attr_splat_expr_term": self._splat,
            "full_splat_expr_term": self._splat,
            "for_tuple_expr": self._for_tuple,
            "for_object_expr": self._for_object,
            "binary_chain": self._binary_chain,
            "unary_op": self._unary_op,
            "conditional": self._conditional,
        })

    def _newline_error(self, node: Any) -> BakeFileError:
        """A newline inside an expression where HCL's newlines end the expression."""
        # An operator token that python-hcl2's postlexer merged with the newline
        # before it keeps the operator's own position.
        at = self.first_loc(node)
        return BakeFileError(
            "Invalid expression; Expected the start of an expression, but found an invalid expression token.",
            at,
            hint="Outside (), [] and function arguments a newline ends the expression; wrap it in parentheses.",
        )

    def _paren_expr(self, tree: Any) -> Expr:
        children = tree.children
        inner = next(c for c in children if not isinstance(c, TOKEN) and c.data != NL)
        return Parens(self.free_expr(inner), self.loc(children[0]))

    def _identifier(self, tree: Any) -> Expr:
        tok = tree.children[0]
        return ScopeTraversal(tok.value, (), self.loc(tok))

    def _literal_value(self, tree: Any) -> Expr:
        tok = tree.children[0]
        if tok.type == "NULL":
            return Literal("null", None, self.loc(tok))
        return Literal("bool", tok.type == "TRUE", self.loc(tok))

    def _number(self, tree: Any) -> Expr:
        tok = tree.children[0]
        text = tok.value
        loc = self.loc(tok)
        if text.startswith("-"):
            # HCL has no negative literals: `-1` is negation applied to `1`.
            inner = Literal("number", text[1:], Location(loc.file, loc.line, loc.column + 1))
            return UnaryOp("-", inner, loc)
        return Literal("number", text, loc)

    def _tuple(self, tree: Any) -> Expr:
        children = tree.children
        items = tuple(self.free_expr(c) for c in children if not isinstance(c, TOKEN) and c.data != NL)
        return Tuple(items, self.loc(children[0]))

    def _object(self, tree: Any) -> Expr:
        children = tree.children
        items: list[ObjectItem] = []
        separated = True
        for child in children:
            if isinstance(child, TOKEN):
                separated = separated or child.type == "COMMA"
                continue
            if child.data == NL:
                separated = True
                continue
            if not separated:
                raise BakeFileError(
                    "Missing attribute separator; Expected a newline or comma to mark the beginning "
                    "of the next attribute.",
                    self.first_loc(child),
                )
            items.append(self._object_item(child))
            separated = ends_line(child)  # a heredoc value ate its newline
        return Object(tuple(items), self.loc(children[0]))

    def _object_item(self, tree: Any) -> ObjectItem:
        key_node = tree.children[0].children[0]
        if key_node.data == "keyword" or _is_bare_literal(key_node):
            # HCL takes a bare keyword key (`for`, `null`, `true`) as its name.
            tok = key_node.children[0]
            key: Expr = Literal("string", tok.value, self.loc(tok))
        else:
            key = self.free_expr(key_node, False)
            if type(key) is ScopeTraversal and not key.steps:
                key = Literal("string", key.name, key.loc)
        return ObjectItem(key, self.free_expr(tree.children[2], False), key.loc)

    def _function_call(self, tree: Any) -> Expr:
        children = tree.children
        names: list[str] = []
        args: tuple[Expr, ...] = ()
        expand = False
        close = None
        for child in children:
            if isinstance(child, TOKEN):
                if child.type == "RPAR":
                    close = self.loc(child)
                continue
            if child.data == "identifier":
                names.append(child.children[0].value)
            elif child.data == "arguments":
                args, expand = self._arguments(child)
        return FunctionCall("::".join(names), args, expand, self.first_loc(children[0]), close)

    def _arguments(self, tree: Any) -> tuple[tuple[Expr, ...], bool]:
        args: list[Expr] = []
        expand = False
        for child in tree.children:
            if isinstance(child, TOKEN):
                expand = expand or child.type == "ELLIPSIS"
            elif child.data != NL:
                args.append(self.free_expr(child))
        return tuple(args), expand

    def _index(self, tree: Any) -> Expr:
        base = self.expr(tree.children[0])
        return _with_step(base, self._step(tree.children[1]))

    def _get_attr(self, tree: Any) -> Expr:
        base = self.expr(tree.children[0])
        return _with_step(base, self._step(tree.children[1]))

    def _step(self, tree: Any) -> Step:
        """A `get_attr`, `braces_index` or `short_index` rule as a traversal step."""
        children = tree.children
        if tree.data == "get_attr":
            name = children[1].children[0]
            return AttrStep(name.value, self.loc(children[0]))
        if tree.data == "short_index":
            tok = children[1]
            return IndexStep(Literal("number", tok.value, self.loc(tok)), self.loc(children[0]))
        key = next(c for c in children if not isinstance(c, TOKEN) and c.data != NL)
        return IndexStep(self.free_expr(key), self.loc(children[0]))

    def _splat(self, tree: Any) -> Expr:
        source = self.expr(tree.children[0])
        splat = tree.children[1]
        full = tree.data == "full_splat_expr_term"
        steps = [self._step(c) for c in splat.children[1:]]
        loc = self.loc(splat.children[0])
        if full:
            return Splat(source, tuple(steps), True, loc)
        # `.*` only carries attribute steps (and legacy `.0`); a `[...]` ends it
        # and applies to the whole result, as in HCL's parser.
        cut = next((i for i, c in enumerate(splat.children[1:]) if c.data == "braces_index"), len(steps))
        result: Expr = Splat(source, tuple(steps[:cut]), False, loc)
        for step in steps[cut:]:
            result = _with_step(result, step)
        return result

    def _for_intro(self, tree: Any) -> tuple[str | None, str, Expr]:
        names: list[str] = []
        coll: Expr | None = None
        for child in tree.children:
            if isinstance(child, TOKEN) or child.data == NL:
                continue
            if child.data == "identifier" and coll is None and len(names) < 2 and not _after_in(tree, child):
                names.append(child.children[0].value)
            else:
                coll = self.expr(child)
        assert coll is not None
        if len(names) == 2:
            return names[0], names[1], coll
        return None, names[0], coll

    def _for_parts(self, tree: Any) -> tuple[tuple[str | None, str, Expr], list[Expr], Expr | None, bool]:
        saved = self.free
        self.free = True
        result = self._for_parts_free(tree)
        self.free = saved
        return result

    def _for_parts_free(self, tree: Any) -> tuple[tuple[str | None, str, Expr], list[Expr], Expr | None, bool]:
        intro: tuple[str | None, str, Expr] | None = None
        exprs: list[Expr] = []
        cond: Expr | None = None
        grouping = False
        for child in tree.children:
            if isinstance(child, TOKEN):
                grouping = grouping or child.type == "ELLIPSIS"
            elif child.data == "for_intro":
                intro = self._for_intro(child)
            elif child.data == "for_cond":
                cond = self.expr(next(c for c in child.children if not isinstance(c, TOKEN) and c.data != NL))
            elif child.data != NL:
                exprs.append(self.expr(child))
        assert intro is not None
        return intro, exprs, cond, grouping

    def _for_tuple(self, tree: Any) -> Expr:
        (key_var, value_var, coll), exprs, cond, _ = self._for_parts(tree)
        return ForTuple(key_var, value_var, coll, exprs[0], cond, self.loc(tree.children[0]))

    def _for_object(self, tree: Any) -> Expr:
        (key_var, value_var, coll), exprs, cond, grouping = self._for_parts(tree)
        return ForObject(key_var, value_var, coll, exprs[0], exprs[1], grouping, cond, self.loc(tree.children[0]))

    def _binary_chain(self, tree: Any) -> Expr:
        """`a op b op c ...` as one flat list, built into a tree by precedence (shunting-yard)."""
        operands: list[Expr] = []
        ops: list[str] = []
        after_op = False
        for child in tree.children:
            if child.data == "binary_operator":
                tok = child.children[0]
                if not self.free and "\n" in tok.value:
                    raise self._newline_error(tok)
                self._reduce_ops(operands, ops, _PRECEDENCE[_BINARY_OPS[tok.type]])
                ops.append(_BINARY_OPS[tok.type])
                after_op = True
            elif child.data == NL:
                if after_op and not self.free:
                    raise self._newline_error(child)
            else:
                operands.append(self.expr(child))
                after_op = False
        self._reduce_ops(operands, ops, 0)
        return operands[0]

    @staticmethod
    def _reduce_ops(operands: list[Expr], ops: list[str], precedence: int) -> None:
        """Combine stacked operators binding at least as tightly as `precedence` (left-associative)."""
        while ops and _PRECEDENCE[ops[-1]] >= precedence:
            op = ops.pop()
            right = operands.pop()
            left = operands.pop()
            operands.append(BinaryOp(op, left, right, left.loc))

    def _unary_op(self, tree: Any) -> Expr:
        tok, operand = tree.children
        return UnaryOp(tok.value, self.expr(operand), self.loc(tok))

    def _conditional(self, tree: Any) -> Expr:
        if not self.free:
            for child in tree.children:
                if isinstance(child, TOKEN) and child.type == "QMARK" and "\n" in child.value:
                    raise self._newline_error(child)
                if not isinstance(child, TOKEN) and child.data == NL:
                    raise self._newline_error(child)
        cond, true_expr, false_expr = (
            self.expr(c) for c in tree.children if not isinstance(c, TOKEN) and c.data != NL
        )
        return Conditional(cond, true_expr, false_expr, cond.loc)


def _is_bare_literal(node: Any) -> bool:
    """Whether an object key is a bare `true`, `false` or `null`."""
    return bool(node.data == "literal_value")


def _after_in(intro: Any, child: Any) -> bool:
    """Whether `child` comes after the `in` keyword of a for_intro."""
    seen_in = False
    for c in intro.children:
        if c is child:
            return seen_in
        if isinstance(c, TOKEN) and c.type == "IN":
            seen_in = True
    return seen_in


def _with_step(base: Expr, step: Step) -> Expr:
    """Extend a variable traversal by one step, or apply the step to any other expression."""
    if type(base) is ScopeTraversal:
        return ScopeTraversal(base.name, (*base.steps, step), base.loc)
    if type(step) is AttrStep:
        return GetAttr(base, step.name, step.loc)
    assert type(step) is IndexStep
    return Index(base, step.key, step.loc)

