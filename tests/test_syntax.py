"""Bake files to syntax trees: every construct, templates, heredocs, HCL JSON, errors with locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan.bake.definition import parse_source
from bakeplan.errors import BakeFileError, Location
from bakeplan.hcl import ast
from bakeplan.hcl import syntax as s
from bakeplan.hcl.json import parse_json
from bakeplan.hcl.native import convert, grammar, lalr


def expr_of(source: str) -> ast.Expr:
    """The expression of the single attribute `x = <source>`."""
    body = s.parse(f"x = {source}\n", "t.hcl")
    assert len(body.attributes) == 1
    return body.attributes[0].expr


def loc(line: int, column: int, file: str = "t.hcl") -> Location:
    return Location(file, line, column)


def error_of(source: str, file: str = "t.hcl") -> BakeFileError:
    with pytest.raises(BakeFileError) as info:
        s.parse(source, file)
    return info.value


def json_error_of(source: str) -> BakeFileError:
    with pytest.raises(BakeFileError) as info:
        parse_json(source.encode(), "b.json")
    return info.value


# --- corpus ---------------------------------------------------------------


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(
        p
        for p in corpus.glob("*/*")
        if p.suffix in (".hcl", ".json") and p.name not in ("CASE.json", "expected.json")
    )


def test_every_corpus_bake_file_parses(corpus_dir: Path) -> None:
    files = corpus_files(corpus_dir)
    assert len(files) >= 80
    for path in files:
        body = parse_source(path.name, path.read_bytes())
        assert body.attributes or body.blocks, path


def lark_and_compact_trees(text: str) -> tuple[ast.Body, ast.Body]:
    """The same text through Lark itself and through the compact table-driven parser."""
    fast = lalr.compact_parser()
    if fast is None:
        pytest.skip("no writable cache directory for the exported parser tables")
    text = text if text.endswith("\n") else text + "\n"
    top = Location("t.hcl", 1, 1)
    with s.no_gc():
        by_lark = convert.Converter("t.hcl", 0, 0).body(grammar.lark_parser().parse(text, start="start").children[0], top)
        by_tables = convert.Converter("t.hcl", 0, 0).body(fast.parse(text, "start").children[0], top)
    return by_lark, by_tables


def test_the_compact_parser_builds_the_same_tree_as_lark_on_the_corpus(corpus_dir: Path) -> None:
    for path in corpus_files(corpus_dir):
        if path.suffix == ".hcl":
            by_lark, by_tables = lark_and_compact_trees(path.read_text(encoding="utf-8-sig"))
            assert by_tables == by_lark, path


@pytest.mark.parametrize(
    "source",
    [
        'a = "x${b}y %{ if c }d%{ else }e%{ endif }"\n',
        "a = <<-EOT\n    x ${y}\n  EOT\n",
        "a = [for k, v in m : upper(v) if k != \"x\"]\nb = {for v in l : v => v...}\n",
        "a = x.y[0].*.z[*].w\nb = !!c ? -1 : 2 * (3 + 4) % 5\n",
        'target "t" {\n  args = { A = 1, "B" = true, C = null }\n}\n',
        "f = func(a, b...)\n",
        # Keywords where a name is allowed and where it is not; plain-string terminals after the regex head.
        'x = "%{ for k, v in m }${k}=${v} %{ endfor }"\nfor_each = { true = null, for = 1, "in" : if }\n',
        "e = 1.5e3 + -2 - p::ns::f(1) >= 3 && !c || d != e\n",
        'y = <<-EOT\n  %{ if a }${b}%{ else }c%{ endif }\n  EOT\nz = "$${x} %%{y} \\u00e9"\n',
        'block "l" other {\n  nested { k = v }\n}\n',
    ],
)
def test_the_compact_parser_builds_the_same_tree_as_lark(source: str) -> None:
    by_lark, by_tables = lark_and_compact_trees(source)
    assert by_tables == by_lark


# --- structure ------------------------------------------------------------


def test_body_keeps_attributes_and_blocks_in_source_order_with_locations() -> None:
    body = s.parse('b = 1\na = 2\ntarget "one" {\n  x = 1\n}\ngroup default {}\n', "f.hcl")
    assert [a.name for a in body.attributes] == ["b", "a"]
    assert body.attributes[1].loc == loc(2, 1, "f.hcl")
    assert [(b.type, b.labels) for b in body.blocks] == [("target", ("one",)), ("group", ("default",))]
    assert body.blocks[0].loc == loc(3, 1, "f.hcl")
    assert body.blocks[0].label_locs == (loc(3, 8, "f.hcl"),)
    assert body.blocks[0].body.attributes[0].loc == loc(4, 3, "f.hcl")


def test_single_line_blocks() -> None:
    body = s.parse('target "a" { context = "." }\ngroup "g" {}\n', "t.hcl")
    assert body.blocks[0].body.attributes[0].name == "context"
    assert body.blocks[1].body == ast.Body((), (), loc(2, 11))


def test_nested_blocks_and_keyword_names() -> None:
    body = s.parse('variable "X" {\n  default = 1\n  validation {\n    condition = true\n  }\n}\nin = 1\n', "t.hcl")
    var = body.blocks[0]
    assert var.body.blocks[0].type == "validation"
    assert var.body.blocks[0].body.attributes[0].name == "condition"
    assert body.attributes[0].name == "in"


def test_bom_comments_crlf_and_missing_final_newline_are_accepted() -> None:
    body = s.parse('\ufeff# c\n// d\n/* e\n f */\nx = 1 # tail\r\ny = "a" // end', "t.hcl")
    assert [a.name for a in body.attributes] == ["x", "y"]
    assert body.attributes[0].loc == loc(5, 1)


# --- expressions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind", "value"),
    [
        ("1", "number", "1"),
        ("1.50", "number", "1.50"),
        ("1e3", "number", "1e3"),
        ("2.5E-2", "number", "2.5E-2"),
        ("true", "bool", True),
        ("false", "bool", False),
        ("null", "null", None),
        ('"plain"', "string", "plain"),
        ('""', "string", ""),
    ],
)
def test_literals_keep_kind_and_exact_number_text(source: str, kind: str, value: object) -> None:
    assert expr_of(source) == ast.Literal(kind, value, loc(1, 5))  # type: ignore[arg-type]


def test_negative_number_is_negation_as_in_hcl() -> None:
    assert expr_of("-1") == ast.UnaryOp("-", ast.Literal("number", "1", loc(1, 6)), loc(1, 5))


def test_nested_unary_operators_are_accepted() -> None:
    expr = expr_of("!!a")
    assert isinstance(expr, ast.UnaryOp) and isinstance(expr.operand, ast.UnaryOp)
    assert expr.operand.operand == ast.ScopeTraversal("a", (), loc(1, 7))


def test_traversal_steps() -> None:
    expr = expr_of('target.foo.tags[0]["k"].1')
    assert isinstance(expr, ast.ScopeTraversal)
    assert expr.name == "target"
    assert [type(st).__name__ for st in expr.steps] == ["AttrStep", "AttrStep", "IndexStep", "IndexStep", "IndexStep"]
    assert expr.steps[1] == ast.AttrStep("tags", loc(1, 15))
    step = expr.steps[2]
    assert isinstance(step, ast.IndexStep) and step.key == ast.Literal("number", "0", loc(1, 21))


def test_index_and_attr_on_non_variables() -> None:
    expr = expr_of("f(a)[1].b")
    assert isinstance(expr, ast.GetAttr) and expr.name == "b"
    assert isinstance(expr.obj, ast.Index) and isinstance(expr.obj.obj, ast.FunctionCall)


def test_function_call_with_expansion_and_namespaces() -> None:
    call = expr_of("concat(a, [1, 2]...)")
    assert isinstance(call, ast.FunctionCall)
    assert (call.name, call.expand_final, len(call.args)) == ("concat", True, 2)
    assert expr_of("provider::ns::fn()") == ast.FunctionCall("provider::ns::fn", (), False, loc(1, 5))
    multi = expr_of("f(\n  a,\n  b,\n)")
    assert isinstance(multi, ast.FunctionCall) and multi.args[1].loc == loc(3, 3)


def test_tuple_and_object_keys() -> None:
    tup = expr_of('[1, "a",\n  b]')
    assert isinstance(tup, ast.Tuple) and len(tup.items) == 3
    obj = expr_of('{ a = 1, "b" = 2, c: 3, (d) = 4, true = 5, for = 6\n  e = 7 }')
    assert isinstance(obj, ast.Object)
    keys = [item.key for item in obj.items]
    assert keys[0] == ast.Literal("string", "a", loc(1, 7))
    assert keys[1] == ast.Literal("string", "b", loc(1, 14))
    assert keys[2] == ast.Literal("string", "c", loc(1, 23))
    assert isinstance(keys[3], ast.Parens) and keys[3].expr == ast.ScopeTraversal("d", (), loc(1, 30))
    assert keys[4] == ast.Literal("string", "true", loc(1, 38))  # buildx prints "true": "5"
    assert keys[5] == ast.Literal("string", "for", loc(1, 48))
    assert keys[6] == ast.Literal("string", "e", loc(2, 3))


def test_operators_precedence_and_conditional() -> None:
    expr = expr_of("a || b && c == d + e * f")
    assert isinstance(expr, ast.BinaryOp) and expr.op == "||"
    right = expr.right
    assert isinstance(right, ast.BinaryOp) and right.op == "&&"
    cond = expr_of("a > 1 ? b : c ? d : e")
    assert isinstance(cond, ast.Conditional) and isinstance(cond.false_expr, ast.Conditional)
    assert isinstance(cond.cond, ast.BinaryOp) and cond.cond.op == ">"
    assert expr_of("(1 - 2) % 3") == ast.BinaryOp(
        "%",
        ast.Parens(
            ast.BinaryOp("-", ast.Literal("number", "1", loc(1, 6)), ast.Literal("number", "2", loc(1, 10)), loc(1, 6)),
            loc(1, 5),
        ),
        ast.Literal("number", "3", loc(1, 15)),
        loc(1, 5),
    )


def test_multiline_operators_inside_brackets() -> None:
    expr = expr_of("(\n  a\n  && b\n)")
    assert isinstance(expr, ast.Parens) and isinstance(expr.expr, ast.BinaryOp)
    assert isinstance(expr_of("[for x in [1] : x\n + 1]"), ast.ForTuple)
    assert isinstance(expr_of("f(1 +\n 2, a ?\n b : c)"), ast.FunctionCall)
    assert isinstance(expr_of('"${a +\n b}"'), ast.TemplateWrap)


def test_newlines_inside_brackets_are_ignored_as_in_hcl() -> None:
    body = s.parse("X = (1\n - 2)\nY = [1\n , 2]\nZ = {for k, v in m : k\n => v\n + 1}\nW = [ # c\n 3 /* d */\n]\n", "t.hcl")
    x, y, z, w = (a.expr for a in body.attributes)
    assert isinstance(x, ast.Parens) and isinstance(x.expr, ast.BinaryOp) and x.expr.op == "-"
    assert isinstance(y, ast.Tuple) and len(y.items) == 2
    assert isinstance(z, ast.ForObject) and isinstance(z.value, ast.BinaryOp)
    assert w == ast.Tuple((ast.Literal("number", "3", loc(9, 2)),), loc(8, 5))


def test_for_expressions() -> None:
    tup = expr_of("[for i, v in xs : upper(v) if i > 0]")
    assert isinstance(tup, ast.ForTuple)
    assert (tup.key_var, tup.value_var) == ("i", "v")
    assert tup.collection == ast.ScopeTraversal("xs", (), loc(1, 18))
    assert tup.cond is not None
    obj = expr_of("{for v in xs : v => v...}")
    assert isinstance(obj, ast.ForObject)
    assert (obj.key_var, obj.value_var, obj.grouping, obj.cond) == (None, "v", True, None)


def test_splats() -> None:
    full = expr_of("a[*].b[0]")
    assert isinstance(full, ast.Splat) and full.full
    assert full.source == ast.ScopeTraversal("a", (), loc(1, 5))
    assert [type(st).__name__ for st in full.steps] == ["AttrStep", "IndexStep"]
    attr = expr_of("a.*.b[0]")
    # `.*` takes only attribute steps; the index applies to the whole result (HCL).
    assert isinstance(attr, ast.Index) and isinstance(attr.obj, ast.Splat)
    assert not attr.obj.full and attr.obj.steps == (ast.AttrStep("b", loc(1, 8)),)


# --- templates ------------------------------------------------------------


def test_template_interpolation_locations() -> None:
    tpl = expr_of('"a-${b.c}-${ d }"')
    assert isinstance(tpl, ast.Template)
    assert tpl.parts[0] == "a-"
    interp = tpl.parts[1]
    assert isinstance(interp, ast.Interpolation)
    assert interp.loc == loc(1, 8)
    assert interp.expr == ast.ScopeTraversal("b", (ast.AttrStep("c", loc(1, 11)),), loc(1, 10))
    last = tpl.parts[3]
    assert isinstance(last, ast.Interpolation) and last.expr.loc == loc(1, 18)


def test_single_interpolation_is_a_wrap() -> None:
    assert expr_of('"${a}"') == ast.TemplateWrap(ast.ScopeTraversal("a", (), loc(1, 8)), loc(1, 5))
    assert isinstance(expr_of('"${a} "'), ast.Template)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        (r'"a\nb\t\"q\"\\"', 'a\nb\t"q"\\'),
        (r'"\u00e9\U0001F600"', "\u00e9\U0001f600"),
        ('"$${x} %%{y} $ % $$"', "${x} %{y} $ % $$"),
        ('"cost: 5%"', "cost: 5%"),
    ],
)
def test_quoted_string_escapes(source: str, text: str) -> None:
    assert expr_of(source) == ast.Literal("string", text, loc(1, 5))


def test_escaped_interpolation_next_to_real_one() -> None:
    tpl = expr_of('"$${a}${b}"')
    assert isinstance(tpl, ast.Template) and tpl.parts[0] == "${a}"


def test_strip_markers_in_quoted_strings() -> None:
    tpl = expr_of('"a  ${~ b ~}  c"')
    assert isinstance(tpl, ast.Template)
    assert tpl.parts[0] == "a" and tpl.parts[2] == "c"


def test_if_and_for_directives() -> None:
    tpl = expr_of('"%{ if a }yes%{ else }no%{ endif }|%{ for k, v in m }${k}=${v},%{ endfor }"')
    assert isinstance(tpl, ast.Template)
    cond, sep, loop = tpl.parts
    assert isinstance(cond, ast.TemplateIf) and cond.then == ("yes",) and cond.else_ == ("no",)
    assert sep == "|"
    assert isinstance(loop, ast.TemplateFor) and (loop.key_var, loop.value_var) == ("k", "v")
    assert len(loop.body) == 4


def test_heredoc_keeps_text_and_interpolation_locations() -> None:
    body = s.parse('x = <<EOT\nhello\n  ${name} "q" \\n\nEOT\ny = 1\n', "t.hcl")
    tpl = body.attributes[0].expr
    assert isinstance(tpl, ast.Template)
    assert tpl.parts[0] == "hello\n  "
    interp = tpl.parts[1]
    assert isinstance(interp, ast.Interpolation) and interp.expr.loc == loc(3, 5)
    assert tpl.parts[2] == ' "q" \\n\n'
    assert body.attributes[1].loc == loc(5, 1)


def test_plain_heredoc_is_a_literal() -> None:
    assert expr_of("<<EOT\n  a\n b\nEOT\n") == ast.Literal("string", "  a\n b\n", loc(1, 5))
    assert expr_of("<<EOT\nEOT\n") == ast.Literal("string", "", loc(1, 5))


def test_flush_heredoc_removes_common_indentation() -> None:
    expr = expr_of("<<-EOT\n    a\n\n      b\n    EOT\n")
    assert expr == ast.Literal("string", "a\n\n  b\n", loc(1, 5))


def test_flush_heredoc_line_starting_with_interpolation_counts_as_unindented() -> None:
    tpl = expr_of("<<-EOT\n  a\n${b}\nEOT\n")
    assert isinstance(tpl, ast.Template) and tpl.parts[0] == "  a\n"


def test_heredoc_directives_and_strip_markers_act_on_one_line() -> None:
    tpl = expr_of("<<EOT\n%{ for x in xs ~}\n\n${x}\n%{~ endfor }\nEOT\n")
    assert isinstance(tpl, ast.Template)
    loop = tpl.parts[0]
    assert isinstance(loop, ast.TemplateFor)
    # `~}` eats only the rest of its own line; the blank line stays (buildx prints "\np\nq\n").
    assert loop.body[0] == "\n"
    assert len(loop.body) == 2 and isinstance(loop.body[1], ast.Interpolation)
    assert tpl.parts[1] == "\n"


def test_heredoc_interpolation_with_nested_quotes_and_braces() -> None:
    tpl = expr_of('<<EOT\n${ {a = "}"}.a } ${"x${y}"}\nEOT\n')
    assert isinstance(tpl, ast.Template)
    first = tpl.parts[0]
    assert isinstance(first, ast.Interpolation) and isinstance(first.expr, ast.ScopeTraversal) is False


# --- errors ---------------------------------------------------------------


def test_duplicate_attribute_is_an_error_at_the_second() -> None:
    err = error_of("X = 1\nX = 2\n", "docker-bake.hcl")
    assert err.location == Location("docker-bake.hcl", 2, 1)
    assert "Attribute redefined" in str(err) and "docker-bake.hcl:1:1" in str(err)


def test_duplicate_attribute_inside_a_block() -> None:
    err = error_of('target "a" {\n  tags = []\n  tags = []\n}\n')
    assert err.location == loc(3, 3)


def test_multiline_quoted_string_is_an_error_at_the_newline() -> None:
    err = error_of('x = "a\nb"\n', "docker-bake.hcl")
    assert err.location == Location("docker-bake.hcl", 1, 7)
    assert "Invalid multi-line string" in str(err)


def test_invalid_escape_is_an_error_at_the_backslash() -> None:
    err = error_of('target "a" {\n  args = { A = "\\q" }\n}\n', "docker-bake.hcl")
    assert err.location == Location("docker-bake.hcl", 2, 17)
    assert 'The symbol "q" is not a valid escape sequence selector' in str(err)


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("x = \n", 1, 5),
        ("x = 1 y = 2\n", 1, 7),
        ('target "a" {\n  x = [1, 2\n}\n', 3, 1),
        ("x = {a = 1 b = 2}\n", 1, 12),
        ("x = 1 +\n 2\n", 1, 8),
        ("x = {\n a = 1\n + 1 }\n", 3, 2),
        ("x = a\n + 1\n", 2, 2),
        ("x = true ?\n 1 : 2\n", 1, 11),
        ("x = a.b.c = 1\n", 1, 11),
        ('x = "${a"\n', 1, 10),  # the string inside the interpolation breaks at the newline
        ('target "a" {\n  x = 1 }\n', 2, 9),
        ('target "a" { x = 1\n}\n', 1, 19),
        ('target "a" {\n  y {\n  } }\n', 3, 5),
    ],
)
def test_syntax_errors_name_the_line(source: str, line: int, column: int) -> None:
    err = error_of(source)
    assert err.location is not None
    assert (err.location.line, err.location.column) == (line, column)


@pytest.mark.parametrize(
    ("source", "line", "column", "summary"),
    [
        ('target "a" {\n  x = 1\n', 1, 12, "Unclosed configuration block"),
        ('x = "abc\n', 1, 9, "Invalid multi-line string"),
        ("x = f(1, 2\n", 1, 5, "Unterminated function call"),
        ("x = {a = 1\n", 2, 1, "Missing expression"),
        ("x = <<EOT\nabc\n", 3, 1, "Unterminated template string"),
        ("x = 1 @\n", 1, 7, "Invalid character"),
    ],
)
def test_errors_at_the_end_of_the_file_point_where_buildx_does(source: str, line: int, column: int, summary: str) -> None:
    err = error_of(source, "docker-bake.hcl")
    assert err.location == Location("docker-bake.hcl", line, column)
    assert err.detail.startswith(summary)


def test_unbalanced_template_directives() -> None:
    assert "endif" in str(error_of('x = "%{ if a }b"\n'))
    assert "Unexpected endfor directive" in str(error_of('x = "%{ if a }b%{ endfor }"\n'))


def test_unclosed_directive_is_reported_at_the_end_of_the_template() -> None:
    err = error_of('target "a" {\n  args = {\n    M = <<EOT\n %{~ if true ~}\n y\n  EOT\n  }\n}\n')
    assert err.location == loc(6, 3)
    assert "The if directive at t.hcl:4:2 is missing its corresponding endif directive" in str(err)
    assert error_of('x = "a%{ for v in b }"\n').location == loc(1, 22)


def test_ambiguous_object_key_is_left_to_evaluation() -> None:
    obj = expr_of("{ a.b = 1 }")
    assert isinstance(obj, ast.Object)
    assert obj.items[0].key == ast.ScopeTraversal("a", (ast.AttrStep("b", loc(1, 8)),), loc(1, 7))


def test_parsing_pauses_and_restores_the_garbage_collector() -> None:
    import gc

    assert gc.isenabled()
    s.parse("x = 1\n", "t.hcl")
    assert gc.isenabled()
    error_of("x = \n")
    assert gc.isenabled()


def test_parse_expression_places_locations_at_the_given_start() -> None:
    expr = s.parse_expression("  a +\n  b", Location("f", 3, 10))
    assert isinstance(expr, ast.BinaryOp)
    assert expr.left.loc == Location("f", 3, 12) and expr.right.loc == Location("f", 4, 3)


# --- HCL JSON -------------------------------------------------------------


def test_json_blocks_follow_the_bake_schema() -> None:
    src = (
        '{\n  "variable": {"TAG": {"default": "v1", "validation": [{"condition": true}]}},\n'
        '  "target": {"app": {"tags": ["x:${TAG}"], "args": {"A": 1.50}}},\n'
        '  "group": [{"default": {"targets": ["app"]}}],\n'
        '  "//": "comment",\n  "G": null\n}\n'
    )
    body = parse_json(src.encode(), "b.json")
    assert [(b.type, b.labels) for b in body.blocks] == [("variable", ("TAG",)), ("target", ("app",)), ("group", ("default",))]
    var = body.blocks[0]
    assert var.body.attributes[0] == ast.Attribute("default", ast.Literal("string", "v1", loc(2, 35, "b.json")), loc(2, 24, "b.json"))
    assert var.body.blocks[0].type == "validation"
    target = body.blocks[1]
    tags = target.body.attributes[0].expr
    assert isinstance(tags, ast.Tuple)
    tpl = tags.items[0]
    assert isinstance(tpl, ast.Template) and tpl.parts[0] == "x:"
    interp = tpl.parts[1]
    assert isinstance(interp, ast.Interpolation) and interp.expr.loc == loc(3, 36, "b.json")
    args = target.body.attributes[1].expr
    assert isinstance(args, ast.Object) and args.items[0].value == ast.Literal("number", "1.50", loc(3, 58, "b.json"))
    assert body.attributes == (ast.Attribute("G", ast.Literal("null", None, loc(6, 8, "b.json")), loc(6, 3, "b.json")),)


def test_json_several_blocks_of_one_name() -> None:
    body = parse_json(b'{"target": {"a": [{"x": 1}, {"y": 2}]}}', "b.json")
    assert [b.labels for b in body.blocks] == [("a",), ("a",)]


def test_json_object_keys_are_templates() -> None:
    body = parse_json(b'{"x": {"${k}": 1}}', "b.json")
    obj = body.attributes[0].expr
    assert isinstance(obj, ast.Object) and isinstance(obj.items[0].key, ast.TemplateWrap)


def test_json_errors() -> None:
    assert json_error_of('{"a": 1,}').location == Location("b.json", 1, 8)  # the trailing comma
    assert "Duplicate attribute" in str(json_error_of('{"a": 1, "a": 2}'))
    assert "A JSON object is required here, to define arguments and child blocks." in str(json_error_of("[1]"))


# --- files ------------------------------------------------------------------


def test_json_files_go_through_the_json_reader(tmp_path: Path) -> None:
    bake = tmp_path / "docker-bake.json"
    bake.write_bytes(b'{"target": {"a": {"context": "."}}}')
    body = parse_source(bake.name, bake.read_bytes())
    assert body.blocks[0].labels == ("a",)
    bake.write_bytes(b'\xef\xbb\xbf{"target": {"a": {}}}')  # HCL's JSON reader, unlike its native one, has no BOM rule
    with pytest.raises(BakeFileError, match="docker-bake.json:1:1: Invalid start of value"):
        parse_source(bake.name, bake.read_bytes())


# --- golden: literal templates against real buildx ---------------------------

GOLDEN_TEMPLATES = {
    "A": "<<-EOT\n\t  a\n\t b\n\tEOT",
    "C": '"a ${~ "b" ~} c"',
    "D": '"%{ if true ~}  yes  %{~ else }no%{ endif ~}  !"',
    "E": "<<-EOT\n    %{~ if true ~}\n    in\n    %{~ endif ~}\n    out\n  EOT",
    "F": '"\\u00e9\\t\\"\\\\"',
    "G": '<<-EOT\n  ${"q"}\n    r\n  EOT',
    "H": '"$$x %%y $ %"',
    "I": '<<EOT\n${"a"}${~ "  b" ~}  \n  c\nEOT',
    "J": '"e\u0301"',
    "K": "<<-EOT\n\n    x\n\n  y\nEOT",
    "L": '"${"a"}${"b"}"',
    "M": '<<EOT\n%{ if false }x%{ endif }\n %{~ if true ~} \n\n y%{ endif }\nEOT',
}


def render(expr: ast.Expr) -> str:
    """Render a template whose interpolations and conditions are literals."""
    if isinstance(expr, ast.Literal):
        return str(expr.value)
    if isinstance(expr, ast.TemplateWrap):
        return render(expr.expr)
    assert isinstance(expr, ast.Template)
    return render_parts(expr.parts)


def render_parts(parts: tuple[ast.TemplatePart, ...]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, ast.Interpolation):
            out.append(render(part.expr))
        elif isinstance(part, ast.TemplateIf):
            assert isinstance(part.cond, ast.Literal)
            out.append(render_parts(part.then if part.cond.value else part.else_))
    return "".join(out)


@pytest.mark.buildx
def test_literal_templates_match_buildx(buildx: object, tmp_path: Path) -> None:
    import json
    import subprocess

    src = 'target "a" {\n  args = {\n' + "".join(f"    {k} = {v}\n" for k, v in GOLDEN_TEMPLATES.items()) + "  }\n}\n"
    (tmp_path / "docker-bake.hcl").write_text(src)
    run = subprocess.run(
        buildx.argv("bake", "--print", "a"),  # type: ignore[attr-defined]
        cwd=tmp_path,
        env=buildx.env,  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(run.stdout)["target"]["a"]["args"]
    args = s.parse(src, "docker-bake.hcl").blocks[0].body.attributes[0].expr
    assert isinstance(args, ast.Object)
    got = {str(item.key.value): render(item.value) for item in args.items if isinstance(item.key, ast.Literal)}
    assert got == expected


def test_json_strings_are_templates_with_directives_and_escapes() -> None:
    src = '{"target": {"a": {"args": {"A": "%{ if true ~} yes %{~ endif }", "B": "$${V} ${V}"}}}}'
    args = parse_json(src.encode(), "b.json").blocks[0].body.attributes[0].expr
    assert isinstance(args, ast.Object)
    a, b = (item.value for item in args.items)
    assert isinstance(a, ast.Template)
    cond = a.parts[0]
    assert isinstance(cond, ast.TemplateIf) and cond.then == ("yes",)
    assert isinstance(b, ast.Template) and b.parts[0] == "${V} "
    interp = b.parts[1]
    assert isinstance(interp, ast.Interpolation) and interp.expr.loc == loc(1, 80, "b.json")


def test_heredoc_for_directive_with_key_and_value() -> None:
    tpl = expr_of("<<EOT\n%{ for k, v in {a = 1} }${k}=${v}\n%{ endfor }\nEOT\n")
    assert isinstance(tpl, ast.Template)
    loop = tpl.parts[0]
    assert isinstance(loop, ast.TemplateFor) and (loop.key_var, loop.value_var) == ("k", "v")
    assert isinstance(loop.collection, ast.Object) and loop.collection.loc == loc(2, 16)
    assert loop.loc == loc(2, 1)


# --- one-token quoted templates and the simple-traversal fast path --------------


@pytest.mark.parametrize(
    "source",
    ['"a.${b.c}-${d}"', '"\\\\${b}\\"q\\""', '"$${x}-${y}-%%{z}"', '"${~ a ~} b %{ if c }d%{ endif }"', '"é${a}"'],
)
def test_one_token_templates_equal_the_grammar_path(source: str) -> None:
    # Appending `${""}` (a nested quote) forces python-hcl2's string rules;
    # without that last part, both trees must be the same.
    fast = expr_of(source)
    slow = expr_of(source[:-1] + '${""}"')
    assert isinstance(fast, ast.Template) and isinstance(slow, ast.Template)
    assert fast.parts == slow.parts[:-1] and fast.loc == slow.loc
    last = slow.parts[-1]
    assert isinstance(last, ast.Interpolation) and last.expr == ast.Literal("string", "", last.expr.loc)


def test_one_token_template_bad_escape_is_reported_at_the_backslash() -> None:
    err = error_of('x = "${a}\\q"\n')
    assert err.location == loc(1, 10) and "Invalid escape sequence" in str(err)


def test_simple_traversal_fast_path_matches_the_parser() -> None:
    assert s.parse_expression("a.bc.d", loc(1, 5)) == expr_of("a.bc.d")
    assert s.parse_expression(" true ", loc(1, 4)) == expr_of("true")
    # HCL reads a lone `for` as a variable ("Unknown variable" in buildx).
    assert s.parse_expression("for", loc(1, 5)) == ast.ScopeTraversal("for", (), loc(1, 5))


def test_a_string_after_a_tuple_item_asks_for_a_comma() -> None:
    err = error_of('target "a" {\n  tags = ["x" "y"]\n}\n')
    assert err.location == loc(2, 15)
    assert err.detail == "Missing item separator; Expected a comma to mark the beginning of the next item."
