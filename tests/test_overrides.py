"""`--set` overrides, as buildx's newOverrides/AddOverrides (checked against buildx v0.38)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakeplan.bake.model import BakeRequest
from bakeplan.bake.overrides import BuildFlags, glob_match, parse_call, remove_dupes
from bakeplan.bake.printing import print_document
from bakeplan.bake.resolve import RawBlock, build_config, result_from_config
from bakeplan.bake.schema import RawAttribute
from bakeplan.errors import BakeplanError

APP = {
    "tags": ["app:1"],
    "platforms": ["linux/amd64"],
    "args": {"A": "1"},
    "output": ["type=image,name=x", "type=registry"],
    "cache-from": ["type=gha"],
    "secret": ["id=s1,env=S1"],
}


def blocks() -> list[RawBlock]:
    return [
        RawBlock("target", "app", {k: RawAttribute(v) for k, v in APP.items()}),
        RawBlock("target", "app-dev", {"inherits": RawAttribute(["app"])}),
        RawBlock("target", "web", {"contexts": RawAttribute({"base": "target:app"})}),
    ]


def overridden(*sets: str, names: tuple[str, ...] = ("app",), env: dict[str, str] | None = None) -> dict[str, Any]:
    request = BakeRequest(names=names, sets=sets, env=env or {}, cwd=Path("."))
    return print_document(result_from_config(build_config(blocks()), request, ()))["target"]


@pytest.mark.parametrize(
    ("sets", "key", "expected"),
    [
        (("app.tags=new:1", "app.tags+=new:2"), "tags", ["app:1", "new:1", "new:2"]),  # the last `+=` decides
        (("app.platform+=linux/arm64", "app.platform+=linux/riscv64"), "platforms", ["linux/amd64", "linux/arm64", "linux/riscv64"]),
        (("app.output=type=docker",), "output", [{"type": "docker"}]),
        (("app.output+=type=local,dest=out",), "output", [{"name": "x", "type": "image"}, {"type": "registry"}, {"dest": "out", "type": "local"}]),
        (("app.push=false",), "output", [{"name": "x", "push": "false", "type": "image"}]),
        (("app.push=true", "app.load=true"), "output", [{"name": "x", "push": "true", "type": "image"}, {"type": "registry"}, {"type": "docker"}]),
        (("app.cache-from=a,b",), "cache-from", [{"ref": "a", "type": "registry"}, {"ref": "b", "type": "registry"}]),
        (("app.cache-from+=user/x:cache",), "cache-from", [{"type": "gha"}, {"ref": "user/x:cache", "type": "registry"}]),
        (("app.secret.s1=env=S2",), "secret", [{"id": "s1", "env": "S2"}]),
        (("app.secrets=id=x,env=Y",), "secret", [{"id": "x", "env": "Y"}]),
        (("app.args.B=2", "app.args.A"), "args", {"A": "1", "B": "2"}),
        (("app.labels.l=v",), "labels", {"l": "v"}),
        (("app.contexts.c=docker-image://x",), "contexts", {"c": "docker-image://x"}),
        (("app.attest=type=sbom",), "attest", [{"type": "sbom"}]),
        (("app.resources.memory=1g", "app.resources.cpu-shares=3"), "resources", {"memory": "1g", "cpu-shares": 3}),
        (("app.no-cache=1",), "no-cache", True),
        (("app.network=host",), "network", "host"),
        (("app.tag=new:1", "app.tags+=new:2"), "tags", ["app:1", "new:1", "new:2"]),  # v0.38: singular keys are aliases
        (("app.label.l=v", "app.labels.m=w"), "labels", {"l": "v", "m": "w"}),
        (("app.secret=id=x,env=Y",), "secret", [{"id": "x", "env": "Y"}]),
        (("app.attest=", "app.attest=type=provenance"), "attest", [{"type": "provenance"}]),  # an empty value clears
        (("app.context=sub/..",), "context", "."),
    ],
)
def test_set_keys(sets: tuple[str, ...], key: str, expected: Any) -> None:
    assert overridden(*sets)["app"][key] == expected


def test_args_without_value_come_from_the_environment() -> None:
    assert overridden("app.args.HOME", env={"HOME": "/root"})["app"]["args"] == {"A": "1", "HOME": "/root"}
    assert overridden("app.args.UNSET_VAR")["app"]["args"] == {"A": "1"}


def test_empty_value_clears_lists() -> None:
    app = overridden("app.platform=", "app.tags=")["app"]
    assert "platforms" not in app and "tags" not in app


def test_glob_patterns_select_targets() -> None:
    targets = overridden("app*.args.B=2", "*.platform=linux/arm64", names=("app", "app-dev", "web"))
    assert targets["app"]["args"] == targets["app-dev"]["args"] == {"A": "1", "B": "2"}
    assert targets["web"]["platforms"] == ["linux/arm64"]


def test_overrides_reach_linked_targets() -> None:
    targets = overridden("app.tags=over", names=("web",))
    assert targets["app"]["tags"] == ["over"] and targets["app"]["output"] == [{"type": "cacheonly"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app=1", "invalid override key app, expected target.name"),
        ("app.tags", "invalid override app.tags, expected target.name=value"),
        ("nope.tags=1", "could not find any target matching 'nope'"),
        ("app.args=1", "invalid key app.args, arg requires name"),
        ("app.tags.x=1", "invalid key app.tags.x, tag does not support subkeys"),
        ("app.secrets.s1=x", "invalid key app.secrets.s1, secret does not support subkeys"),
        ("app.nosuch=1", "unknown key: nosuch"),
        ("app.no-cache=maybe", "invalid value maybe for boolean key no-cache"),
        ("app.secret.s9=env=S2", 'secret "s9" must be declared before it can be overridden'),
        ("app.secret+=x", "invalid value for outputs: invalid field 'x' must be a key=value pair"),
        ("app.secret.s1+=x", "invalid key app.secret.s1\\+, secret does not support append"),
        ("app.resources.cpu-shares=x", "invalid value x for int64 key resources.cpu-shares"),
        ("[.tags=x", "could not match targets with '\\[': syntax error in pattern"),
    ],
)
def test_bad_sets_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(BakeplanError, match=message):
        overridden(text)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [("app-*", "app-1", True), ("a?p", "app", True), ("[a-c]pp", "bpp", True), ("[^a]pp", "app", False), ("a\\*", "a*", True), ("*", "", True)],
)
def test_glob_match_is_go_path_match(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches


def test_remove_dupes_keeps_buildx_swap_order() -> None:
    assert remove_dupes(["a", "a", "b", "c"]) == ["a", "c", "b"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (BuildFlags(), ()),
        (BuildFlags(push=True, load=True), ("*.push=true", "*.load=true")),
        (BuildFlags(no_cache=True, pull=False), ("*.no-cache=true", "*.pull=false")),
        (BuildFlags(sbom="true", provenance="0"), ("*.attest=type=sbom,disabled=false", "*.attest=type=provenance,disabled=true")),
        (BuildFlags(provenance="mode=max"), ("*.attest=type=provenance,mode=max",)),
        (BuildFlags(call="check"), ("*.call=lint",)),
        (BuildFlags(call="outline,format=json,ignorestatus=1"), ("*.call=outline",)),
        (BuildFlags(call="build"), ()),
        (BuildFlags(provenance="true", call="targets", push=True), ("*.push=true", "*.call=targets", "*.attest=type=provenance,disabled=false")),
    ],
)
def test_build_flags_become_buildx_overrides_in_its_order(flags: BuildFlags, expected: tuple[str, ...]) -> None:
    assert flags.overrides() == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [("a,b", "invalid print value: a,b"), ("x,foo=bar", "invalid print field: foo=bar"), ("x,ignorestatus=maybe", "invalid ignorestatus print value: maybe")],
)
def test_bad_call_values_are_buildx_errors(call: str, message: str) -> None:
    with pytest.raises(BakeplanError, match=message):
        parse_call(call)


def test_build_flags_apply_after_the_users_sets() -> None:
    sets = ("app.call=outline", "app.no-cache=true", *BuildFlags(call="check", no_cache=False).overrides())
    app = overridden(*sets)["app"]
    assert app["call"] == "lint" and app["no-cache"] is False
