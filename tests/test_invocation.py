"""The one model of a `docker buildx bake` argv: order of flags and `--set`s, and which user sets are kept."""

from __future__ import annotations

import pytest

from bakeplan.invocation import Invocation, TargetSettings, bake_argv, set_key, user_sets


def test_a_target_says_platform_outputs_tags_cache_then_contexts_in_that_order() -> None:
    settings = TargetSettings(
        name="app", platform="linux/arm64", outputs=("type=local,dest=out", "type=oci,dest=h,tar=false"),
        tags=("r/app:v1", "r/app:latest"), cache_from=("type=registry,ref=c:app",), cache_to=("type=inline",),
        contexts=(("base", "oci-layout:///h/base@sha256:b"), ("root", "docker-image://r/root@sha256:r")),
    )
    assert settings.sets() == [
        "app.platform=linux/arm64",
        "app.output=type=local,dest=out", "app.output=type=oci,dest=h,tar=false",
        "app.tags=r/app:v1", "app.tags=r/app:latest",
        "app.cache-from+=type=registry,ref=c:app",
        "app.cache-to+=type=inline",
        "app.contexts.base=oci-layout:///h/base@sha256:b", "app.contexts.root=docker-image://r/root@sha256:r",
    ]


def test_none_leaves_a_key_alone_and_empty_clears_it() -> None:
    assert TargetSettings(name="app").sets() == []
    assert TargetSettings(name="app", outputs=(), tags=()).sets() == ["app.output=type=cacheonly", "app.tags="]


def test_cache_replace_sets_instead_of_adding() -> None:
    settings = TargetSettings(name="app", cache_from=("type=gha",), cache_to=("type=gha,mode=max",), cache_replace=True)
    assert settings.sets() == ["app.cache-from=type=gha", "app.cache-to=type=gha,mode=max"]


def test_bake_argv_puts_every_flag_in_its_place() -> None:
    invocation = Invocation(
        names=("app",), files=("a.hcl", "b.hcl"),
        settings=(TargetSettings(name="app", platform="linux/amd64"), TargetSettings(name="base", platform="linux/amd64")),
        variables=("TAG=v1", "X=2"), sets=("*.args.X=1",), allow=("network.host", "fs.read=/tmp"),
        load=True, no_cache=True, metadata_file="/run/metadata/app.json", progress="plain",
        builder="b-amd", docker="/usr/bin/docker",
    )
    assert bake_argv(invocation) == (
        "/usr/bin/docker", "buildx", "bake", "--builder", "b-amd", "-f", "a.hcl", "-f", "b.hcl",
        "--var", "TAG=v1", "--var", "X=2", "--progress", "plain", "--allow", "network.host", "--allow", "fs.read=/tmp",
        "--load", "--no-cache", "--metadata-file", "/run/metadata/app.json",
        "--set", "*.args.X=1", "--set", "app.platform=linux/amd64", "--set", "base.platform=linux/amd64", "app",
    )


def test_the_smallest_invocation_names_its_target() -> None:
    assert bake_argv(Invocation(names=("app",))) == ("docker", "buildx", "bake", "app")


@pytest.mark.parametrize(("item", "key"), [
    ("app.platform=linux/amd64", ("app", "platform")),
    ("*.output=type=registry", ("*", "output")),
    ("app.tags=", ("app", "tags")),
    ("app.cache-from+=type=gha", ("app", "cache-from")),
    ("app.args.X=1", ("app", "args")),
    ("app.contexts.base=target:other", ("app", "contexts")),
    ("app-*.args.URL=http://x.io/a=b", ("app-*", "args")),
])
def test_set_key_is_what_a_set_addresses(item: str, key: tuple[str, str]) -> None:
    assert set_key(item) == key


OWNED = {"app": {"platform", "output", "tags"}, "base": {"platform"}}


@pytest.mark.parametrize(("item", "kept"), [
    ("*.platform=linux/amd64,linux/arm64", False),
    ("*.output=type=registry", False),  # app's outputs are bakeplan's
    ("app.tags=", False),
    ("app.tags=r/app:v2", False),
    ("app.output+=type=local,dest=x", False),
    ("base.platform=linux/arm64", False),
    ("a*.platform=linux/arm64", False),
    ("*.args.X=1", True),
    ("app.args.X=1", True),
    ("base.output=type=local,dest=x", True),  # bakeplan leaves base's outputs alone
    ("base.tags=r/base", True),
    ("other.platform=linux/arm64", True),  # no target of the invocation
    ("*.cache-from=type=gha", True),
    ("app.contexts.base=docker-image://r/base", True),
])
def test_user_sets_drop_only_keys_bakeplan_sets_on_a_target_they_reach(item: str, kept: bool) -> None:
    assert user_sets((item,), OWNED) == ((item,) if kept else ())


def test_user_sets_keep_their_order() -> None:
    sets = ("*.args.B=2", "*.platform=linux/amd64", "app.args.A=1", "*.output=type=docker", "*.no-cache=true")
    assert user_sets(sets, OWNED) == ("*.args.B=2", "app.args.A=1", "*.no-cache=true")
    assert user_sets(sets, {}) == sets
