"""Reading the builders' BuildKit history: real `history ls`/`inspect` output, matched to a project's targets.

The fixtures in tests/data/buildhistory were captured with the pinned buildx
from two real daemons (`bp-amd64`, `bp-arm64`), `inspect` run in the project
directory /tmp/bhproj. That project's bake file, as bakeplan resolved it:
`a` (stage a, X=1, linux/amd64), `b` (stage b, no platforms), matrix `m-1`/`m-2`
(stage a, X=1/2, amd64+arm64), `plain` (context sub), `bad` (fails).
Built with plain `docker buildx bake` (arm64 daemon: everything and `bad`;
amd64 daemon: `a` and `b` before `a` had its ARG), then `bakeplan run m-2`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bakeplan import buildhistory as bh
from bakeplan.bake.model import JSONValue, Target
from bakeplan.errors import ToolError
from bakeplan.nodes import Node

DATA = Path(__file__).parent / "data" / "buildhistory"
PROJECT = Path("/tmp/bhproj")


def target(name: str, block: str = "", **fields: JSONValue) -> Target:
    return Target(name=name, fields={"context": ".", "dockerfile": "Dockerfile", **fields}, block=block or name)


TARGETS = {
    "a": target("a", target="a", args={"X": "1"}, platforms=["linux/amd64"]),
    "b": target("b", target="b"),
    "m-1": target("m-1", "m", target="a", args={"X": "1"}, platforms=["linux/amd64", "linux/arm64"]),
    "m-2": target("m-2", "m", target="a", args={"X": "2"}, platforms=["linux/amd64", "linux/arm64"]),
    "plain": target("plain", context="sub"),
    "bad": target("bad", target="bad"),
}


def inspected(builder: str, ref: str) -> str:
    return (DATA / f"inspect-{builder}-{ref}.json").read_text()


def all_records() -> list[bh.Record]:
    records = []
    for builder in ("amd64", "arm64"):
        for ref in bh.completed_refs((DATA / f"ls-{builder}.jsonl").read_text()):
            record = bh.parse_inspect(inspected(builder, ref))
            assert record is not None
            records.append(record)
    return records


def test_ls_gives_the_refs_of_completed_records_newest_first() -> None:
    refs = bh.completed_refs((DATA / "ls-arm64.jsonl").read_text())
    assert refs[0] == "ge4svu6atnhmyzvvg2e1gj1k6"  # bakeplan's m-2@linux/arm64, the newest
    assert "jwtuxtwc9egzv0kp76su1htyz" not in refs  # `bad`: status Error
    assert len(refs) == 6


def test_inspect_gives_context_stage_platforms_args_and_duration() -> None:
    record = bh.parse_inspect(inspected("arm64", "vfb9yj39tvd3sjeuefhlucjq6"))
    assert record == bh.Record(ref="vfb9yj39tvd3sjeuefhlucjq6", context=".", dockerfile="Dockerfile", stage="a",
                               platforms=("linux/amd64", "linux/arm64"), args=frozenset({("X", "1")}),
                               seconds=1.265325952)


def test_a_record_without_platform_or_stage_has_none() -> None:
    record = bh.parse_inspect(inspected("arm64", "jp1hvlfrxwxm4um4d5gi9sqz3"))
    assert record is not None
    assert (record.context, record.stage, record.platforms, record.args) == ("sub", "", (), frozenset())


@pytest.mark.parametrize("text", [
    (DATA / "inspect-arm64-jwtuxtwc9egzv0kp76su1htyz.json").read_text(),  # failed
    "", "not json", "[]", '{"Status": "completed"}', '{"Status": "completed", "Duration": "3s"}',
])
def test_failed_or_unreadable_records_are_skipped(text: str) -> None:
    assert bh.parse_inspect(text) is None


def test_records_map_to_targets_by_what_they_built() -> None:
    samples = bh.samples(all_records(), TARGETS, PROJECT, [PROJECT])
    assert samples["b|native"] == (2.15657213, 2.230446549)  # one build on each daemon
    assert samples["plain|native"] == (1.150944533,)
    assert samples["a|linux/amd64"] == (1.264704509, 1.265325952)  # its own build, and m-1's identical amd64 half
    assert samples["m-2|linux/arm64"] == (0.013911017, 1.254310311)  # bakeplan's cached job, then bake's build
    assert samples["block:m|linux/amd64"] == (1.078872778, 1.264704509, 1.265325952, 1.254310311)
    assert not any(key.startswith(("bad|", "block:bad|")) for key in samples)  # it never completed


def test_a_build_with_other_args_is_another_build() -> None:
    """amd64's first `a` was built before the Dockerfile had ARG X: no X=1, so it is not `a`."""
    record = bh.parse_inspect(inspected("amd64", "k47ee6j7h00wseai0j0wwjzud"))
    assert record is not None and record.args == frozenset()
    assert bh.samples([record], TARGETS, PROJECT, [PROJECT]) == {}


def test_records_of_other_directories_are_ignored() -> None:
    """inspect run elsewhere shows the context absolute; outside the project it counts for nothing."""
    elsewhere = bh.Record("r", "/srv/other", "Dockerfile", "b", (), frozenset(), 5.0)
    assert bh.samples([elsewhere], TARGETS, PROJECT, [PROJECT]) == {}
    absolute = bh.Record("r", str(PROJECT), "Dockerfile", "b", (), frozenset(), 5.0)
    assert bh.samples([absolute], TARGETS, PROJECT, [PROJECT])["b|native"] == (5.0,)
    a_url = bh.Record("r", "https://github.com/x/y.git", "Dockerfile", "b", (), frozenset(), 5.0)
    assert bh.samples([a_url], TARGETS, PROJECT, [PROJECT]) == {}


def test_the_same_context_outside_the_project_roots_is_ignored() -> None:
    shared = {"b": target("b", context="../shared", target="b")}
    record = bh.Record("r", "../shared", "Dockerfile", "b", (), frozenset(), 5.0)
    assert bh.samples([record], shared, PROJECT, [PROJECT]) == {}


def test_a_dockerfile_outside_the_context_is_compared_as_an_absolute_path() -> None:
    targets = {"t": target("t", context="app", dockerfile="../docker/app.Dockerfile")}
    record = bh.Record("r", "app", str(PROJECT / "docker" / "app.Dockerfile"), "", (), frozenset(), 3.0)
    assert bh.samples([record], targets, PROJECT, [PROJECT]) == {"block:t|native": (3.0,), "t|native": (3.0,)}


def test_a_target_with_platforms_takes_only_records_of_its_platforms() -> None:
    record = bh.Record("r", ".", "Dockerfile", "a", ("linux/s390x",), frozenset({("X", "1")}), 5.0)
    assert bh.samples([record], TARGETS, PROJECT, [PROJECT]) == {}
    native = bh.Record("r", ".", "Dockerfile", "a", (), frozenset({("X", "1")}), 5.0)
    assert bh.samples([native], TARGETS, PROJECT, [PROJECT]) == {}  # built for some node's own platform


def fake_ls(listings: dict[str | None, str]) -> bh.Lister:
    def ls(builder: str | None) -> str:
        if builder not in listings:
            raise ToolError(f"no builder {builder!r} found")
        return listings[builder]
    return ls


def test_read_inspects_each_completed_ref_once_and_survives_failing_builders() -> None:
    asked: list[tuple[str | None, str, Path]] = []

    def inspect(builder: str | None, ref: str, cwd: Path) -> str:
        asked.append((builder, ref, cwd))
        if ref == "ge4svu6atnhmyzvvg2e1gj1k6":
            raise ToolError("deadline exceeded")
        return inspected("arm64", ref)

    arm64 = (DATA / "ls-arm64.jsonl").read_text()
    records = bh.read(["bp-arm64", "gone", "bp-two"], PROJECT,
                      _ls=fake_ls({"bp-arm64": arm64, "bp-two": arm64}), _inspect=inspect)
    assert sorted(ref for _, ref, _ in asked) == sorted(bh.completed_refs(arm64))
    assert {builder for builder, _, _ in asked} == {"bp-arm64"} and {cwd for _, _, cwd in asked} == {PROJECT}
    assert len(records) == 5


def test_read_inspects_at_most_the_newest_records_of_each_builder() -> None:
    asked: list[str] = []

    def inspect(builder: str | None, ref: str, cwd: Path) -> str:
        asked.append(ref)
        return inspected("arm64", ref)

    bh.read([None], PROJECT, limit=2, _ls=fake_ls({None: (DATA / "ls-arm64.jsonl").read_text()}), _inspect=inspect)
    assert sorted(asked) == sorted(bh.completed_refs((DATA / "ls-arm64.jsonl").read_text())[:2])


def test_no_builders_answering_means_no_samples() -> None:
    def broken(builders: Sequence[str | None], cwd: Path) -> list[bh.Record]:
        return bh.read(["x"], cwd, _ls=fake_ls({}))

    nodes = [Node("x", builder="x", platforms=("linux/amd64",))]
    assert bh.builder_samples(TARGETS, nodes, PROJECT, PROJECT, _read=broken) == {}


def test_builder_samples_asks_each_usable_nodes_builder_once() -> None:
    asked: list[list[str | None]] = []

    def read(builders: Sequence[str | None], cwd: Path) -> list[bh.Record]:
        asked.append(list(builders))
        return all_records()

    nodes = [Node("n1", builder="bp-amd64"), Node("n2", builder="bp-amd64"), Node("local"),
             Node("down", builder="bp-down", excluded="unreachable")]
    found = bh.builder_samples(TARGETS, nodes, PROJECT, PROJECT, _read=read)
    assert asked == [["bp-amd64", None]]
    assert found["b|native"] == (2.15657213, 2.230446549)


def test_nothing_is_read_when_bakeplan_measured_every_job_itself() -> None:
    def read(builders: Sequence[str | None], cwd: Path) -> list[bh.Record]:
        raise AssertionError("the builders' history must not be read")

    nodes = [Node("n1", builder="bp-amd64")]
    assert bh.builder_samples(TARGETS, nodes, PROJECT, PROJECT, measured=lambda target, platform: True, _read=read) == {}
    # One target bakeplan never ran is enough to ask.
    found = bh.builder_samples(TARGETS, nodes, PROJECT, PROJECT, _read=lambda builders, cwd: all_records(),
                               measured=lambda target, platform: target != "b")
    assert found["b|native"] == (2.15657213, 2.230446549)


def test_a_completed_record_is_inspected_once_per_working_directory(tmp_path: Path) -> None:
    ref = bh.completed_refs((DATA / "ls-arm64.jsonl").read_text())[0]
    asked: list[tuple[str, Path]] = []

    def inspect(builder: str | None, wanted: str, cwd: Path) -> str:
        asked.append((wanted, cwd))
        return inspected("arm64", wanted) if wanted == ref else '{"Status": "running"}'

    remembered = bh._remembered(inspect, tmp_path)
    assert remembered("b", ref, PROJECT) == remembered("b", ref, PROJECT) == inspected("arm64", ref)
    remembered("b", ref, PROJECT / "sub")  # its paths are relative to where it was asked: asked again
    remembered("b", "unfinished", PROJECT)
    remembered("b", "unfinished", PROJECT)  # not completed: not kept
    assert asked == [(ref, PROJECT), (ref, PROJECT / "sub"), ("unfinished", PROJECT), ("unfinished", PROJECT)]


def test_the_fixtures_hold_no_machine_paths() -> None:
    """Captured in the project directory: contexts are relative there, so the files travel."""
    for path in DATA.iterdir():
        assert "bakeplan-cluster" not in path.read_text(), path
        if path.suffix == ".json":
            assert not json.loads(path.read_text()).get("Context", "").startswith("/"), path


def test_nothing_is_asked_once_the_time_budget_is_spent() -> None:
    def ls(builder: str | None) -> str:
        raise AssertionError("called after the budget")

    assert bh.read(["bp-amd64"], PROJECT, budget=0.0, _ls=ls) == []


def test_a_target_without_platforms_takes_a_build_for_one_platform_as_its_native_job() -> None:
    one = bh.Record("r", ".", "Dockerfile", "b", ("linux/arm64",), frozenset(), 4.0)
    two = bh.Record("s", ".", "Dockerfile", "b", ("linux/amd64", "linux/arm64"), frozenset(), 9.0)
    assert bh.samples([one, two], TARGETS, PROJECT, [PROJECT])["b|native"] == (4.0,)
