"""Per-job cache references: distinct per target and platform, valid tags, user settings kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan.cache import (
    MAX_TAG,
    CacheRefs,
    job_refs,
    job_tag,
    override_sets,
    parse_backend,
    sanitize_tag,
)
from bakeplan.errors import UsageError
from tests.support.clusters import Buildx


@pytest.mark.parametrize(("target", "platform", "scope", "tag"), [
    ("app", "linux/amd64", "", "app-linux-amd64"),
    ("app", "linux/arm/v7", "", "app-linux-arm-v7"),
    ("app", None, "", "app-native"),
    ("app", "linux/arm64", "main", "main-app-linux-arm64"),
    ("app", "linux/arm64", "feature/x y", "feature-x-y-app-linux-arm64"),
])
def test_job_tag_names_target_and_platform(target: str, platform: str | None, scope: str, tag: str) -> None:
    assert job_tag(target, platform, scope) == tag


@pytest.mark.parametrize(("text", "tag"), [
    ("a/b:c@d", "a-b-c-d"),
    ("..-leading", "leading"),
    ("ok_1.2-3", "ok_1.2-3"),
    ("", "cache"),
])
def test_sanitize_tag_keeps_only_valid_characters(text: str, tag: str) -> None:
    assert sanitize_tag(text) == tag


def test_long_tags_are_cut_to_128_and_stay_distinct() -> None:
    one, two = sanitize_tag("x" * 200 + "a"), sanitize_tag("x" * 200 + "b")
    assert len(one) == len(two) == MAX_TAG
    assert one != two
    assert one.startswith("x" * 100)


def test_every_platform_and_target_gets_its_own_registry_ref() -> None:
    backend = parse_backend("registry:reg.example/cache/app")
    refs = {(t, p): job_refs(backend, t, p) for t in ("app", "tool") for p in ("linux/amd64", "linux/arm64")}
    written = [r.cache_to[0] for r in refs.values()]
    assert len(set(written)) == 4
    assert refs["app", "linux/arm64"] == CacheRefs(
        cache_from=("type=registry,ref=reg.example/cache/app:app-linux-arm64",),
        cache_to=("type=registry,ref=reg.example/cache/app:app-linux-arm64,mode=max",),
    )


def test_fallback_scopes_are_read_but_never_written() -> None:
    backend = parse_backend("registry:r/c", scope="feature-1", fallbacks=("main",))
    refs = job_refs(backend, "app", "linux/amd64")
    assert refs.cache_from == (
        "type=registry,ref=r/c:feature-1-app-linux-amd64",
        "type=registry,ref=r/c:main-app-linux-amd64",
    )
    assert refs.cache_to == ("type=registry,ref=r/c:feature-1-app-linux-amd64,mode=max",)


@pytest.mark.parametrize(("spec", "cache_from", "cache_to"), [
    ("local:/var/cache/bk", "type=local,src=/var/cache/bk/app-linux-amd64",
     "type=local,dest=/var/cache/bk/app-linux-amd64,mode=max"),
    ("gha", "type=gha,scope=app-linux-amd64", "type=gha,scope=app-linux-amd64,mode=max"),
    ("s3:bucket?region=eu-west-1", "type=s3,bucket=bucket,name=app-linux-amd64,region=eu-west-1",
     "type=s3,bucket=bucket,name=app-linux-amd64,region=eu-west-1,mode=max"),
    ("ghcr.io/me/cache", "type=registry,ref=ghcr.io/me/cache:app-linux-amd64",
     "type=registry,ref=ghcr.io/me/cache:app-linux-amd64,mode=max"),
])
def test_backends(spec: str, cache_from: str, cache_to: str) -> None:
    refs = job_refs(parse_backend(spec), "app", "linux/amd64")
    assert refs == CacheRefs((cache_from,), (cache_to,))


@pytest.mark.parametrize("spec", ["nonsense", "registry:", "s3:", "gha:main", "registy:r/c", "loacl:/tmp/c", "me/cache:v1"])
def test_bad_cache_spec_is_a_usage_error_that_says_what_is_expected(spec: str) -> None:
    with pytest.raises(UsageError, match="--cache"):
        parse_backend(spec)


def test_a_misspelt_cache_type_is_named_with_the_one_meant() -> None:
    with pytest.raises(UsageError) as caught:
        parse_backend("registy:ghcr.io/me/cache")
    assert str(caught.value) == (
        "bad --cache 'registy:ghcr.io/me/cache': unknown cache type 'registy'\n"
        "Did you mean registry:? Use registry:REPO, local:DIR, gha or s3:BUCKET?region=REGION."
    )


@pytest.mark.parametrize("spec", ["localhost:5000/cache", "registry.example.com:443/team/cache"])
def test_a_bare_repository_may_name_a_registry_port(spec: str) -> None:
    assert parse_backend(spec).location == spec


def test_overrides_append_to_the_users_cache_settings_unless_replacing() -> None:
    refs = CacheRefs(("type=gha,scope=a", "type=gha,scope=b"), ("type=gha,scope=a,mode=max",))
    assert override_sets("app", refs) == (
        "app.cache-from+=type=gha,scope=a", "app.cache-from+=type=gha,scope=b", "app.cache-to+=type=gha,scope=a,mode=max",
    )
    assert override_sets("app", refs, replace=True) == (
        "app.cache-from=type=gha,scope=a", "app.cache-from=type=gha,scope=b", "app.cache-to=type=gha,scope=a,mode=max",
    )


@pytest.mark.buildx
@pytest.mark.parametrize(("replace", "expected_from"), [
    (False, [{"ref": "user/cache", "type": "registry"}, {"ref": "r/c:app-linux-arm64", "type": "registry"},
             {"ref": "r/c:main-app-linux-arm64", "type": "registry"}]),
    (True, [{"ref": "r/c:app-linux-arm64", "type": "registry"}, {"ref": "r/c:main-app-linux-arm64", "type": "registry"}]),
])
def test_real_buildx_keeps_or_replaces_the_users_cache_as_asked(
    buildx: Buildx, tmp_path: Path, replace: bool, expected_from: list[dict[str, str]]
) -> None:
    import json
    import subprocess

    (tmp_path / "docker-bake.hcl").write_text(
        'target "app" {\n  cache-from = ["type=registry,ref=user/cache"]\n  cache-to = ["type=inline"]\n}\n'
    )
    refs = job_refs(parse_backend("registry:r/c", fallbacks=("main",)), "app", "linux/arm64")
    argv = buildx.argv("bake", "--print", "app")
    for item in override_sets("app", refs, replace=replace):
        argv += ["--set", item]
    done = subprocess.run(argv, cwd=tmp_path, env=buildx.env, capture_output=True, text=True, check=True)
    printed = json.loads(done.stdout)["target"]["app"]
    assert printed["cache-from"] == expected_from
    own = {"mode": "max", "ref": "r/c:app-linux-arm64", "type": "registry"}
    assert printed["cache-to"] == ([own] if replace else [{"type": "inline"}, own])


def test_a_cross_compiled_jobs_cache_names_the_node_platform_it_was_filled_on() -> None:
    from bakeplan.dockerfiles import Execution
    from bakeplan.jobs import Job
    from bakeplan.steps import built_on

    assert job_tag("bin", "linux/arm64", "main", "linux/amd64") == "main-bin-linux-arm64-on-linux-amd64"
    cross = Job("bin@linux/arm64", "bin", "linux/arm64", execution=Execution(target=False, build=True))
    assert built_on(cross, "linux/amd64") == "linux/amd64"
    assert built_on(cross, "linux/arm64/v8") is None  # on its own platform: the plain name
    # Nothing runs on the build platform (or nothing was read): one cache whatever the node.
    assert built_on(Job("img@linux/arm64", "img", "linux/arm64", execution=Execution(target=False)), "linux/amd64") is None
    assert built_on(Job("img@linux/arm64", "img", "linux/arm64"), "linux/amd64") is None
    emulated = Job("app@linux/arm64", "app", "linux/arm64", execution=Execution(target=True, build=True))
    assert built_on(emulated, "linux/amd64") == "linux/amd64"  # its $BUILDPLATFORM stages ran as amd64
    refs = job_refs(parse_backend("registry:r/c"), "bin", "linux/arm64", "linux/amd64")
    assert refs.cache_to == ("type=registry,ref=r/c:bin-linux-arm64-on-linux-amd64,mode=max",)
