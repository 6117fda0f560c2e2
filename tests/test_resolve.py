"""bake.go semantics on decoded blocks: merging, inherits, groups, links, defaults, checks.

Each expectation was checked against `docker buildx bake --print` v0.36.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.buildopts import go_clean
from bakeplan.bake.model import BakeRequest
from bakeplan.bake.printing import print_document
from bakeplan.bake.resolve import RawBlock, build_config, result_from_config
from bakeplan.bake.schema import RawAttribute
from bakeplan.errors import BakeFileError, BakeplanError, CycleError, Location


def target(name: str, label: str = "", **attrs: Any) -> RawBlock:
    """A target block from keyword attributes (underscores stand for dashes)."""
    return RawBlock("target", name, {k.replace("_", "-"): RawAttribute(v) for k, v in attrs.items()}, label=label)


def group(name: str, targets: list[str], description: str = "") -> RawBlock:
    attrs = {"targets": RawAttribute(targets)}
    if description:
        attrs["description"] = RawAttribute(description)
    return RawBlock("group", name, attrs)


def printed(blocks: list[RawBlock], *names: str, sets: tuple[str, ...] = (), env: dict[str, str] | None = None, cwd: Path = Path(".")) -> dict[str, Any]:
    request = BakeRequest(names=names, sets=sets, env=env or {}, cwd=cwd)
    return print_document(result_from_config(build_config(blocks), request, ()))


def test_defaults_context_and_dockerfile() -> None:
    doc = printed([target("a"), target("b", dockerfile="")], "a", "b")
    assert doc["target"]["a"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert doc["target"]["b"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert doc["group"] == {"default": {"targets": ["a", "b"]}}


def test_inherits_merge_rules() -> None:
    blocks = [
        target("base", args={"A": "1", "B": "2"}, tags=["base"], annotations=["a=1"], secret=["id=foo,env=FOO", "id=bar,env=BAR"]),
        target("mid", inherits=["base"], args={"B": "3", "C": None}, annotations=["b=2"], secret=["id=foo,env=FOO2"], network="host"),
        target("app", inherits=["mid"], tags=["app", "app"], platforms=["linux/amd64", "linux/amd64", ""]),
    ]
    app = printed(blocks, "app")["target"]["app"]
    assert app["args"] == {"A": "1", "B": "3"}  # later wins, null dropped
    assert app["annotations"] == ["a=1", "b=2"]  # appended
    assert app["tags"] == ["app"]  # replaced, deduplicated
    assert app["platforms"] == ["linux/amd64"]  # empty strings dropped
    assert app["secret"] == [{"id": "foo", "env": "FOO2"}, {"id": "bar", "env": "BAR"}]  # by id, in place
    assert app["entitlements"] == ["network.host"]
    assert list(app) == ["annotations", "context", "dockerfile", "args", "tags", "secret", "platforms", "network", "entitlements"]


def test_inheritance_cycles_are_tolerated() -> None:
    blocks = [target("c1", inherits=["c2"], tags=["c1"]), target("c2", inherits=["c1"], args={"Z": "z"})]
    doc = printed(blocks, "c1", "c2")
    assert doc["target"]["c1"]["args"] == {"Z": "z"} and doc["target"]["c1"]["tags"] == ["c1"]
    assert doc["target"]["c2"]["args"] == {"Z": "z"} and doc["target"]["c2"]["tags"] == ["c1"]


def test_duplicate_blocks_merge_in_order() -> None:
    doc = printed([target("a", tags=["x"], args={"A": "1"}), target("a", args={"B": "2"})], "a")
    assert doc["target"]["a"]["args"] == {"A": "1", "B": "2"}
    assert doc["target"]["a"]["tags"] == ["x"]


def test_a_later_group_block_replaces_an_earlier_one() -> None:
    doc = printed([target("a"), target("b"), group("default", ["a"]), group("default", ["b"])])
    assert doc["group"] == {"default": {"targets": ["b"]}}
    assert list(doc["target"]) == ["b"]


def test_groups_nest_deduplicate_and_win_over_targets() -> None:
    blocks = [target("a"), target("b"), target("g"), group("g", ["a", "inner"]), group("inner", ["b", "a"])]
    doc = printed(blocks, "g")
    assert set(doc["target"]) == {"a", "b"}
    assert doc["group"]["g"] == {"targets": ["a", "inner"]}
    assert doc["group"]["inner"] == {"targets": ["b", "a"]}
    assert doc["group"]["default"] == {"targets": ["g"]}


def test_default_group_is_used_and_sorted() -> None:
    doc = printed([target("z"), target("a"), group("default", ["z", "a"], description="All")])
    assert doc["group"] == {"default": {"description": "All", "targets": ["a", "z"]}}


def test_a_group_cycle_ends_in_an_unknown_target() -> None:
    with pytest.raises(BakeplanError, match="failed to find target default"):
        printed([target("a"), group("default", ["a", "g2"]), group("g2", ["default"])])


def test_globs_expand_over_groups_then_targets() -> None:
    doc = printed([target("app-1"), target("app-2"), target("web")], "app-*")
    assert set(doc["target"]) == {"app-1", "app-2"}
    with pytest.raises(BakeplanError, match='could not find any target matching "nomatch\\*"'):
        printed([target("a")], "nomatch*")


def test_unknown_target_is_an_error_with_the_defined_names() -> None:
    with pytest.raises(BakeplanError) as info:
        printed([target("a")], "nosuch")
    assert "failed to find target nosuch" in str(info.value)
    assert "a" in str(info.value.hint)


def test_matrix_blocks_become_groups() -> None:
    doc = printed([target("app-1", label="app"), target("app-2", label="app")], "app")
    assert doc["group"]["app"] == {"targets": ["app-1", "app-2"]}


def test_linked_targets_are_pulled_in_as_cache_only() -> None:
    blocks = [target("lib", context="lib"), target("app", contexts={"lib": "target:lib", "img": "docker-image://alpine", "e": ""})]
    doc = printed(blocks, "app")
    assert doc["target"]["app"]["contexts"] == {"img": "docker-image://alpine", "lib": "target:lib"}
    assert doc["target"]["lib"]["output"] == [{"type": "cacheonly"}]
    assert doc["group"] == {"default": {"targets": ["app"]}}
    both = printed(blocks, "app", "lib")
    assert "output" not in both["target"]["lib"]


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([target("a", contexts={"x": "target:a"})], "target a cannot link to itself"),
        ([target("a", contexts={"x": "target:b"}), target("b", contexts={"y": "target:a"})], "cycle"),
    ],
)
def test_bad_links_are_errors(blocks: list[RawBlock], error: str) -> None:
    with pytest.raises((BakeplanError, CycleError), match=error):
        printed(blocks, "a")


def test_linked_platforms_must_be_a_subset() -> None:
    blocks = [target("lib", platforms=["linux/amd64", "linux/arm64"]), target("app", platforms=["linux/amd64", "linux/s390x"], contexts={"l": "target:lib"})]
    with pytest.raises(BakeplanError, match="are not a subset of"):
        printed(blocks, "app")


@pytest.mark.parametrize(
    ("path", "clean"),
    [("", "."), ("./src/../app/", "app"), ("a//b/./c", "a/b/c"), ("../x", "../x"), ("/a/../..", "/"), ("//x", "/x")],
)
def test_context_paths_are_cleaned_like_go(path: str, clean: str) -> None:
    assert go_clean(path) == clean


def test_context_is_cleaned_but_urls_and_cwd_prefix_kept_apart() -> None:
    blocks = [target("a", context="./src/../app/"), target("b", context="cwd://x/./y"), target("c", context="https://github.com/a/b.git#main")]
    doc = printed(blocks, "a", "b", "c")
    assert [doc["target"][n]["context"] for n in "abc"] == ["app", "x/y", "https://github.com/a/b.git#main"]


def test_outputs_in_both_forms_and_stdout_defaults() -> None:
    blocks = [target("a", output=["type=tar", {"type": "local", "dest": "out"}, "type=docker"])]
    assert printed(blocks, "a")["target"]["a"]["output"] == [{"dest": "-", "type": "tar"}, {"dest": "out", "type": "local"}, {"type": "docker"}]
    with pytest.raises(BakeplanError, match="multiple outputs configured to write to stdout"):
        printed([target("a", output=["type=tar", "type=oci"])], "a")
    with pytest.raises(BakeplanError, match="dest is required for local exporter"):
        printed([target("a", output=["type=local"])], "a")


def test_cache_entries_in_string_and_object_form() -> None:
    blocks = [target("a", cache_from=["a,b", {"type": "gha", "scope": "x"}, "", "type=gha"], cache_to=["type=inline"])]
    doc = printed(blocks, "a")["target"]["a"]
    assert doc["cache-from"] == [{"ref": "a", "type": "registry"}, {"ref": "b", "type": "registry"}, {"scope": "x", "type": "gha"}, {"type": "gha"}]
    assert doc["cache-to"] == [{"type": "inline"}]


def test_args_escape_template_markers_in_print() -> None:
    doc = printed([target("a", args={"X": "${a} %{b} <&>"}, dockerfile_inline="FROM ${x}")], "a")
    assert doc["target"]["a"]["args"] == {"X": "$${a} %%{b} <&>"}
    assert doc["target"]["a"]["dockerfile-inline"] == "FROM $${x}"


def test_secret_files_must_exist(tmp_path: Path) -> None:
    blocks = [target("a", secret=["id=GIT_CREDENTIALS"])]
    with pytest.raises(BakeplanError, match="failed to stat GIT_CREDENTIALS"):
        printed(blocks, "a", cwd=tmp_path)
    assert printed(blocks, "a", env={"GIT_CREDENTIALS": "x"}, cwd=tmp_path)["target"]["a"]["secret"] == [{"id": "GIT_CREDENTIALS"}]
    (tmp_path / "GIT_CREDENTIALS").write_text("")
    assert printed(blocks, "a", cwd=tmp_path)["target"]["a"]["secret"] == [{"id": "GIT_CREDENTIALS"}]


def test_source_date_epoch_becomes_an_arg() -> None:
    doc = printed([target("a"), target("b", args={"SOURCE_DATE_EPOCH": "1"})], "a", "b", env={"SOURCE_DATE_EPOCH": "42"})
    assert doc["target"]["a"]["args"] == {"SOURCE_DATE_EPOCH": "42"}
    assert doc["target"]["b"]["args"] == {"SOURCE_DATE_EPOCH": "1"}


def test_unknown_attributes_are_ignored_like_buildx() -> None:
    block = RawBlock("target", "a", {"tagz": RawAttribute(["x"])})
    assert build_config([block]).targets["a"].fields == {}


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"tags": "x"}, "list of string required"),
        ({"args": ["x"]}, "map of string required"),
        ({"output": ["type=local,dest"]}, "invalid value dest"),
        ({"cache-from": [{"ref": "x"}]}, "type required for"),
        ({"attest": ["mode=max"]}, "attestation type not specified"),
        ({"secret": ["id=a,typo=b"]}, "unexpected key 'typo'"),
    ],
)
def test_values_that_do_not_fit_are_errors(attrs: dict[str, Any], message: str) -> None:
    block = RawBlock("target", "a", {k: RawAttribute(v, Location("f.hcl", 1, 1)) for k, v in attrs.items()})
    with pytest.raises(BakeFileError, match=message):
        build_config([block])


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ('tags = "x"', "docker-bake.hcl:2:.*list of string required, but have string"),
        ("tags = [null]", "docker-bake.hcl:2:.*null value is not allowed"),
        ('pull = "yes"', "docker-bake.hcl:2:.*a bool is required"),
        ('tags = [["a"]]', "element 0: string required, but have tuple"),
        ('output = "type=docker"', "list of map of string required, but have string"),
        ("description = null", "null value is not allowed"),
        ("resources = { cpu-shares = 1.5 }", "value must be a whole number"),
        ("attest = [1]", "map of string required, but have number"),
    ],
)
def test_decode_errors_from_hcl_name_the_line(attribute: str, message: str, tmp_path: Path) -> None:
    from bakeplan.bake.resolve import load

    (tmp_path / "docker-bake.hcl").write_text(f'target "a" {{\n  {attribute}\n}}\n')
    with pytest.raises(BakeFileError, match=message):
        load(BakeRequest(names=("a",), cwd=tmp_path))


def test_unknown_attributes_in_hcl_are_never_evaluated(tmp_path: Path) -> None:
    from bakeplan.bake.resolve import load

    (tmp_path / "docker-bake.hcl").write_text('target "a" {\n  tagz = ["x"]\n  foo = nosuch\n}\n')
    assert load(BakeRequest(names=("a",), cwd=tmp_path)).targets["a"].fields == {"context": ".", "dockerfile": "Dockerfile"}
