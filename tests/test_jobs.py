from __future__ import annotations

import pytest

from bakeplan.errors import BakeplanError
from bakeplan.jobs import Filter, make_jobs, select
from tests.support.plans import result, target


def test_a_target_without_platforms_is_one_native_job() -> None:
    (job,) = make_jobs(result(target("app")))
    assert (job.id, job.platform, job.platform_label, job.deps) == ("app@native", None, "native", ())


def test_a_multi_platform_target_is_one_job_per_platform_in_order() -> None:
    jobs = make_jobs(result(target("app", ["linux/arm64", "linux/amd64"])))
    assert [j.id for j in jobs] == ["app@linux/arm64", "app@linux/amd64"]


def test_child_jobs_depend_on_the_parent_job_of_the_same_platform() -> None:
    jobs = make_jobs(result(
        target("base", ["linux/amd64", "linux/arm64"]),
        target("app", ["linux/amd64", "linux/arm64"], {"b": "target:base", "src": "./src"}),
    ))
    assert {j.id: j.deps for j in jobs} == {
        "base@linux/amd64": (), "base@linux/arm64": (),
        "app@linux/amd64": ("base@linux/amd64",), "app@linux/arm64": ("base@linux/arm64",),
    }


@pytest.mark.parametrize("parent_platforms, dep", [((), "base@native"), (("linux/amd64",), "base@linux/amd64")])
def test_a_single_platform_parent_serves_every_child_platform(parent_platforms: tuple[str, ...], dep: str) -> None:
    jobs = make_jobs(result(target("base", parent_platforms), target("app", ["linux/amd64", "linux/arm64"], {"b": "target:base"})))
    assert [j.deps for j in jobs if j.target == "app"] == [(dep,), (dep,)]


def test_a_multi_platform_parent_missing_the_child_platform_is_an_error() -> None:
    with pytest.raises(BakeplanError, match="'base' is built for linux/amd64, linux/386"):
        make_jobs(result(target("base", ["linux/amd64", "linux/386"]), target("app", ["linux/arm64"], {"b": "target:base"})))


def test_jobs_of_named_targets_include_their_linked_parents() -> None:
    bake = result(target("base"), target("app", contexts={"b": "target:base"}), target("other"))
    assert [j.id for j in make_jobs(bake, ["app"])] == ["base@native", "app@native"]


def test_matrix_values_and_block_are_carried_on_jobs() -> None:
    (job,) = make_jobs(result(target("bin-linux-arm64", ["linux/arm64"], matrix={"goos": "linux", "goarch": "arm64"}, block="bin")))
    assert (dict(job.matrix), job.block) == ({"goos": "linux", "goarch": "arm64"}, "bin")


MATRIX = result(*[
    target(f"bin-{os_}-{arch}", [f"{os_}/{arch}"], matrix={"goos": os_, "goarch": arch, "cgo": cgo}, block="bin")
    for os_ in ("linux", "windows") for arch, cgo in (("amd64", True), ("arm64", False))
])


@pytest.mark.parametrize("only, exclude, expected", [
    ([], [], ["bin-linux-amd64", "bin-linux-arm64", "bin-windows-amd64", "bin-windows-arm64"]),
    (["goarch=arm64"], [], ["bin-linux-arm64", "bin-windows-arm64"]),
    (["goarch=arm64", "goarch=amd64", "goos=linux"], [], ["bin-linux-amd64", "bin-linux-arm64"]),
    ([], ["platform=windows/*"], ["bin-linux-amd64", "bin-linux-arm64"]),
    (["platform=linux/arm64/v8"], [], ["bin-linux-arm64"]),
    (["target=bin-linux-*"], ["goarch=amd64"], ["bin-linux-arm64"]),
    (["target=bin"], ["cgo=true"], ["bin-linux-arm64", "bin-windows-arm64"]),
])
def test_only_and_exclude_select_by_matrix_platform_and_target(only: list[str], exclude: list[str], expected: list[str]) -> None:
    jobs = select(make_jobs(MATRIX), [Filter.parse(f) for f in only], [Filter.parse(f) for f in exclude])
    assert [j.target for j in jobs] == expected


def test_selection_keeps_the_parents_a_kept_job_needs() -> None:
    jobs = make_jobs(result(target("base"), target("app", contexts={"b": "target:base"})))
    assert [j.id for j in select(jobs, [Filter.parse("target=app")])] == ["base@native", "app@native"]


@pytest.mark.parametrize("text", ["noequals", "=value"])
def test_a_malformed_filter_says_what_is_expected(text: str) -> None:
    with pytest.raises(BakeplanError, match="expected KEY=VALUE"):
        Filter.parse(text)


@pytest.mark.parametrize("only, exclude", [(["nokey=x"], []), ([], ["goos=linux", "gos=windows"])])
def test_a_filter_key_no_job_has_is_a_typo_not_an_empty_selection(only: list[str], exclude: list[str]) -> None:
    with pytest.raises(BakeplanError, match=r"unknown filter key '(nokey|gos)'") as error:
        select(make_jobs(MATRIX), [Filter.parse(f) for f in only], [Filter.parse(f) for f in exclude])
    assert error.value.hint == "Filter on platform, target or a matrix key: cgo, goarch, goos."


@pytest.mark.parametrize("only, exclude", [(["goos=linx"], []), ([], ["platform=*"])])
def test_a_selection_that_leaves_no_job_says_which_values_there_are(only: list[str], exclude: list[str]) -> None:
    with pytest.raises(BakeplanError, match="no job matches .* \\(of 4 jobs\\)") as error:
        select(make_jobs(MATRIX), [Filter.parse(f) for f in only], [Filter.parse(f) for f in exclude])
    assert error.value.hint is not None and ("goos: linux, windows" in error.value.hint or "linux/amd64" in error.value.hint)


def test_comma_separated_platforms_are_split_as_the_build_does() -> None:
    # `--set '*.platform=linux/amd64,linux/arm64'`: `--print` keeps one entry, buildx builds two platforms.
    jobs = make_jobs(result(target("app", ["linux/amd64,linux/arm64", "linux/amd64"])))
    assert [j.id for j in jobs] == ["app@linux/amd64", "app@linux/arm64"]
