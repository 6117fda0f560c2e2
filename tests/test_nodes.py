from __future__ import annotations

from pathlib import Path

import pytest

from bakeplan import buildx
from bakeplan.errors import BakeplanError, ToolError
from bakeplan.nodes import (
    ASSUMED,
    DECLARED,
    DETECTED,
    LEARNED,
    BuilderNode,
    Machine,
    Node,
    _cgroup_quota,
    declared_nodes,
    discover,
    host_pools,
    load_config,
    nodes_from_buildx,
    normalize_platform,
    parse_inspect,
    parse_ls_json,
    parse_node_spec,
    parse_size,
    usable,
    usable_cores,
    with_speeds,
)

DATA = Path(__file__).parent / "data" / "buildx"


def test_parses_real_inspect_of_a_two_node_remote_builder() -> None:
    nodes = parse_inspect((DATA / "inspect-two-inactive.txt").read_text())
    assert nodes == (
        BuilderNode("two", "two-amd64", "remote", "unix:///tmp/nope1.sock", "inactive", ("linux/amd64",), 1, "", 2),
        BuilderNode("two", "two-arm64", "remote", "unix:///tmp/nope2.sock", "inactive", ("linux/arm64", "linux/arm/v7"), 2, "", 2),
    )


def test_parses_real_inspect_of_a_builder_that_cannot_load() -> None:
    (node,) = parse_inspect((DATA / "inspect-default-error.txt").read_text())
    assert (node.builder, node.status, node.platforms) == ("default", "error", ())
    assert node.error.startswith("failed to connect to the docker API")


def test_parses_real_ls_json() -> None:
    nodes = parse_ls_json((DATA / "ls-inactive.jsonl").read_text())
    assert [(n.builder, n.name, n.platforms, n.status) for n in nodes] == [
        ("two", "two-amd64", ("linux/amd64",), "inactive"),
        ("two", "two-arm64", ("linux/arm64", "linux/arm/v7"), "inactive"),
        ("default", "", (), "error"),
    ]


RUNNING = """Name:          solo
Driver:        remote
Last Activity: 2026-11-22 12:33:57 +0000 UTC

Nodes:
Name:             solo0
Endpoint:         unix:///run/bk.sock
Status:           running
BuildKit version: v0.20.0
Platforms:        linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/386
Labels:
 org.mobyproject.buildkit.worker.executor:    oci
GC Policy rule#0:
 All:            false
"""


def test_without_stars_the_first_reported_platform_is_native() -> None:
    (node,) = parse_inspect(RUNNING)
    assert (node.name, node.status, node.platforms[:2], node.native) == ("solo0", "running", ("linux/amd64", "linux/amd64/v2"), 1)


def test_a_single_node_builder_is_a_node_and_multi_node_members_say_why_not() -> None:
    items = [*parse_inspect(RUNNING), *parse_inspect((DATA / "inspect-two-inactive.txt").read_text())]
    nodes = nodes_from_buildx(items, Machine("vm", 4, None))
    assert [(n.name, n.builder, n.excluded is None) for n in nodes] == [
        ("solo", "solo", True), ("two/two-amd64", "two", False), ("two/two-arm64", "two", False)]
    assert "not reachable" in (nodes[1].excluded or "")


def test_a_multi_node_member_covered_by_a_single_node_builder_points_to_it() -> None:
    member = BuilderNode("both", "both0", "remote", "unix:///a.sock", "running", ("linux/amd64",), 1, "", 2)
    single = BuilderNode("a", "a0", "remote", "unix:///a.sock", "running", ("linux/amd64",), 1, "", 1)
    nodes = nodes_from_buildx([member, single], Machine("vm", 1, None))
    assert nodes[0].excluded == "in multi-node builder both; used through single-node builder a"
    assert usable(nodes) == (nodes[1],)


def test_only_a_healthy_member_without_a_builder_of_its_own_is_marked_shared() -> None:
    covered = BuilderNode("both", "both0", "remote", "unix:///a.sock", "running", ("linux/amd64",), 1, "", 2)
    alone = BuilderNode("both", "both1", "remote", "unix:///b.sock", "running", ("linux/arm64",), 1, "", 2)
    down = BuilderNode("both", "both2", "remote", "unix:///c.sock", "inactive", (), 1, "", 2)
    single = BuilderNode("a", "a0", "remote", "unix:///a.sock", "running", ("linux/amd64",), 1, "", 1)
    nodes = nodes_from_buildx([covered, alone, down, single], Machine("vm", 1, None))
    assert [(n.name, n.shared) for n in nodes] == [
        ("both/both0", False), ("both/both1", True), ("both/both2", False), ("a", False)]


def test_discover_prefers_declared_nodes() -> None:
    declared = [Node("x", platforms=("linux/amd64",))]
    assert discover(declared, _buildx_nodes=lambda b: pytest.fail("must not ask buildx")) == tuple(declared)


def test_discover_falls_back_to_this_machine_when_buildx_has_nothing_usable() -> None:
    nodes = discover([], _buildx_nodes=lambda b: parse_inspect((DATA / "inspect-default-error.txt").read_text()))
    assert [n.name for n in usable(nodes)] == ["local"]
    assert nodes[0].excluded is not None and nodes[0].excluded.startswith("error: failed to connect")


def test_node_flag() -> None:
    node = parse_node_spec("name=arm,builder=b-arm,platforms=linux/arm64+linux/arm/v7,slots=2,memory=8g")
    assert node == Node("arm", "b-arm", platforms=("linux/arm64", "linux/arm/v7"), native=2, slots=2, memory=8 * 2**30,
                        memory_source="declared")


@pytest.mark.parametrize("spec, message", [
    ("name=a,platforms=linux/amd64,slots=0", "slots must be a positive integer"),
    ("name=a,colour=red", "unknown node field"),
    ("platforms=linux/amd64", "needs a name"),
    ("name=a,memory=lots", "bad memory size"),
    ("oops", "is not KEY=VALUE"),
    ('name=a"b,platforms=linux/amd64', "bad node name"),
    ("name=a,platforms=amd64", "bad platform 'amd64'"),
])
def test_bad_node_flags_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(BakeplanError, match=message):
        parse_node_spec(spec)


def test_a_declared_node_without_platforms_is_listed_but_left_out() -> None:
    assert parse_node_spec("name=a").excluded == "no platforms declared"


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "bakeplan.toml"
    path.write_text('[[node]]\nname = "amd"\nbuilder = "amd"\nplatforms = ["linux/amd64"]\nslots = 4\nmemory = "16g"\n'
                    '[[node]]\nname = "arm"\nplatforms = ["linux/arm64"]\n')
    assert [(n.name, n.builder, n.platforms, n.slots, n.memory) for n in load_config(path)] == [
        ("amd", "amd", ("linux/amd64",), 4, 16 * 2**30), ("arm", None, ("linux/arm64",), 1, None)]
    assert load_config(tmp_path / "absent.toml") == ()


@pytest.mark.parametrize("text, size", [("8g", 8 * 2**30), ("512m", 512 * 2**20), ("2GiB", 2 * 2**30), ("1024", 1024)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text, platform", [
    ("linux/arm64/v8", "linux/arm64"), ("linux/x86_64", "linux/amd64"), ("linux/arm", "linux/arm/v7"),
    ("Linux/AMD64", "linux/amd64"), ("linux/amd64/v3", "linux/amd64/v3"),
])
def test_platforms_are_normalized_as_containerd_does(text: str, platform: str) -> None:
    assert normalize_platform(text) == platform


@pytest.mark.parametrize("cpu_max, quota", [("max 100000", None), ("150000 100000", 1.5), ("50000 100000", 0.5)])
def test_cgroup_v2_quota(tmp_path: Path, cpu_max: str, quota: float | None) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    assert _cgroup_quota(tmp_path) == quota


def test_usable_cores_respect_the_cgroup_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert usable_cores(_cgroup_root=tmp_path) == 1


# ------------------------------------------------------------ real output of real daemons
# Captured from two real buildkitd daemons (one claiming linux/amd64, one linux/arm64 +
# linux/arm/v7, on an amd64 host, which also reports its own amd64 platforms) behind
# remote-driver builders: bp-two (both nodes), bp-amd64, bp-arm64 (one node each), and
# bp-conf (the arm64 daemon, created with --platform linux/arm/v7).


def _real(name: str) -> tuple[BuilderNode, ...]:
    return parse_inspect((DATA / name).read_text())


def test_real_running_multi_node_builder() -> None:
    amd, arm = _real("inspect-two-running.txt")
    assert (amd.builder, amd.name, amd.status, amd.endpoint) == ("bp-two", "bp-two-amd64", "running", "unix:///tmp/bk/amd64/buildkitd.sock")
    assert amd.platforms == ("linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4") and amd.native == 1
    assert arm.platforms[:3] == ("linux/arm64", "linux/arm/v7", "linux/amd64") and arm.native == 1
    assert arm.builder_nodes == 2


def test_real_configured_platforms_are_native_with_the_workers_own() -> None:
    (node,) = _real("inspect-conf-running.txt")
    assert node.platforms[:2] == ("linux/arm/v7", "linux/arm64") and node.native == 2


def test_real_ls_json_lists_every_builder_and_the_broken_default() -> None:
    nodes = parse_ls_json((DATA / "ls-running.jsonl").read_text())
    assert [(n.builder, n.name, n.status, n.builder_nodes) for n in nodes] == [
        ("bp-amd64", "bp-amd64-amd64", "running", 1), ("bp-arm64", "bp-arm64-arm64", "running", 1),
        ("bp-conf", "bp-conf0", "running", 1), ("bp-two", "bp-two-amd64", "running", 2),
        ("bp-two", "bp-two-arm64", "running", 2), ("default", "", "error", 1)]


def test_real_builders_become_nodes_with_reasons() -> None:
    items = [*_real("inspect-amd64-running.txt"), *_real("inspect-two-running.txt"), *_real("inspect-conf-running.txt")]
    nodes = nodes_from_buildx(items, Machine("vm", 2, None))
    alone = nodes_from_buildx(_real("inspect-two-running.txt"), Machine("vm", 2, None))
    assert alone[1].excluded == ("in multi-node builder bp-two: buildx picks its first node per platform; "
                                 "create a single-node builder for unix:///tmp/bk/arm64/buildkitd.sock")
    assert [(n.name, n.excluded) for n in nodes] == [
        ("bp-amd64", None),
        ("bp-two/bp-two-amd64", "in multi-node builder bp-two; used through single-node builder bp-amd64"),
        ("bp-two/bp-two-arm64", "in multi-node builder bp-two; used through single-node builder bp-conf"),
        ("bp-conf", None),
    ]


@pytest.mark.buildkit
def test_discovers_the_real_test_cluster(docker_cli: object, two_node_builder: str, node_builders: dict[str, str]) -> None:
    from bakeplan.buildx import buildx_nodes

    cli = docker_cli
    items = buildx_nodes(docker=cli.docker, env=cli.env)  # type: ignore[attr-defined]
    nodes = {n.name: n for n in nodes_from_buildx(items, Machine("vm", 1, None))}
    amd, arm = nodes[node_builders["amd64"]], nodes[node_builders["arm64"]]
    assert (amd.excluded, amd.builder, amd.native_platforms) == (None, node_builders["amd64"], ("linux/amd64",))
    assert (arm.excluded, arm.builder, arm.native_platforms) == (None, node_builders["arm64"], ("linux/arm64",))
    assert all(n.excluded for name, n in nodes.items() if name.startswith(f"{two_node_builder}/"))


@pytest.mark.parametrize("text, message", [
    ('[[node]\nname = "x"\n', r"bakeplan.toml:1:7: Expected"),
    ("node = [1, 2]\n", r"`node` must be an array of tables"),
    ("node = 3\n", r"`node` must be an array of tables"),
    ('[nodes]\nname = "x"\n', r"unknown key\(s\) nodes"),
    ('[[node]]\nname = "x"\nplatforms = 5\n', r"node 1: platforms must be a list"),
    ('[[node]]\nname = "x"\nplatforms = ["bogus"]\n', r"node 1: bad platform 'bogus'"),
    ('[[node]]\nname = ["x"]\nplatforms = ["linux/amd64"]\n', r"node 1: name must be a string"),
    ('[[node]]\nname = "x"\nplatforms = ["linux/amd64"]\nmemory = -5\n', r"node 1: memory must be positive"),
    ('[[node]]\nname = "x"\nplatforms = ["linux/amd64"]\nslots = true\n', r"node 1: slots must be a positive integer"),
    ('[[node]]\nname = "x"\nplatforms = ["linux/amd64"]\nslots = 2.5\n', r"node 1: slots must be a positive integer"),
])
def test_a_malformed_nodes_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bakeplan.toml"
    path.write_text(text)
    with pytest.raises(BakeplanError, match=message):
        load_config(path)


def test_a_nodes_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bakeplan.toml"
    path.write_bytes(b"\xff\xfe[[node]]")
    with pytest.raises(BakeplanError, match="not UTF-8"):
        load_config(path)


def test_a_nodes_file_named_explicitly_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BakeplanError, match="no such nodes file"):
        declared_nodes(tmp_path, (), str(tmp_path / "absent.toml"))
    assert declared_nodes(tmp_path, (), None) == ()


def test_node_flags_replace_the_nodes_file_and_names_are_unique(tmp_path: Path) -> None:
    (tmp_path / "bakeplan.toml").write_text('[[node]]\nname = "file"\nplatforms = ["linux/amd64"]\n')
    assert [n.name for n in declared_nodes(tmp_path, (), None)] == ["file"]
    assert [n.name for n in declared_nodes(tmp_path, ("name=flag,platforms=linux/arm64",), None)] == ["flag"]
    with pytest.raises(BakeplanError, match="node 'a' is declared twice"):
        declared_nodes(tmp_path, ("name=a,platforms=linux/amd64", "name=a,platforms=linux/arm64"), None)


def test_an_explicit_builder_that_is_unusable_does_not_fall_back_to_this_machine() -> None:
    broken = BuilderNode("nosuch", "", "", "", "error", (), 0, error='no builder "nosuch" found')
    nodes = discover([], builder="nosuch", _buildx_nodes=lambda name: (broken,))
    assert [(n.name, n.excluded) for n in nodes] == [("nosuch", 'error: no builder "nosuch" found')]


def test_a_missing_buildx_plugin_is_named_as_such(tmp_path: Path) -> None:
    # Without the plugin the docker CLI answers any `docker buildx ...` with a bare usage error.
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'unknown flag: --format' >&2\nexit 125\n")
    docker.chmod(0o755)
    with pytest.raises(ToolError) as info:
        buildx.buildx_nodes(docker=str(docker))
    assert info.value.message == "the docker buildx plugin is not installed"
    assert "cli-plugins" in str(info.value)


def test_discover_does_not_fall_back_to_this_machine_when_shared_remote_nodes_can_get_builders() -> None:
    members = [BuilderNode("two", f"two{i}", "remote", f"unix:///{i}.sock", "running", (p,), 1, "", 2)
               for i, p in enumerate(("linux/amd64", "linux/arm64"))]
    found = discover((), _buildx_nodes=lambda b: members)
    assert [(n.name, n.shared) for n in found] == [("two/two0", True), ("two/two1", True)]


# ---------------------------------------------------------------- capacity: hosts, slots, memory, speed

VM = Machine("vm", 2, 8 * 2**30)


def test_the_worker_hostname_label_is_read_from_real_inspect_and_ls_output() -> None:
    assert [n.host for n in _real("inspect-two-running.txt")] == ["vm", "vm"]
    assert [n.host for n in parse_ls_json((DATA / "ls-running.jsonl").read_text())] == ["vm"] * 5 + [""]
    (solo,) = parse_inspect(RUNNING)  # labels without a hostname, then GC policy lines
    assert solo.host == ""


def test_daemons_on_this_machine_share_its_detected_slots_and_memory() -> None:
    nodes = usable(nodes_from_buildx([*_real("inspect-amd64-running.txt"), *_real("inspect-conf-running.txt")], VM))
    assert [(n.name, n.host, n.slots, n.slots_source, n.memory, n.memory_source) for n in nodes] == [
        ("bp-amd64", "vm", 2, DETECTED, 8 * 2**30, DETECTED), ("bp-conf", "vm", 2, DETECTED, 8 * 2**30, DETECTED)]
    assert host_pools(nodes) == ((0, 0), (2,))


@pytest.mark.parametrize("endpoint, host, expected", [
    ("tcp://10.0.0.7:1234", "build-7", ("build-7", 2, None, ASSUMED)),  # elsewhere: this machine's cores, assumed
    ("tcp://10.0.0.7:1234", "", ("", 2, None, ASSUMED)),  # no hostname: a host of its own
    ("tcp://10.0.0.7:1234", "vm", ("vm", 2, 8 * 2**30, DETECTED)),  # reports this machine's name
    ("tcp://127.0.0.1:1234", "elsewhere", ("vm", 2, 8 * 2**30, DETECTED)),  # loopback is here, whatever it says
    ("docker-container://buildx_buildkit_b0", "1f0c2d3e4a5b", ("1f0c2d3e4a5b", 2, None, ASSUMED)),
])
def test_where_a_buildx_node_runs_decides_its_slots_and_memory(endpoint: str, host: str,
                                                               expected: tuple[object, ...]) -> None:
    item = BuilderNode("b", "b0", "remote", endpoint, "running", ("linux/amd64",), 1, host=host)
    (node,) = nodes_from_buildx([item], VM)
    assert (node.host, node.slots, node.memory, node.slots_source) == expected
    assert node.memory_source == (DETECTED if node.memory else ASSUMED)


def test_nodes_naming_one_host_share_a_pool_of_the_most_slots_any_of_them_has() -> None:
    nodes = [Node("a", slots=4, host="box"), Node("b", slots=1), Node("c", slots=2, host="box"), Node("d", slots=1)]
    assert host_pools(nodes) == ((0, 1, 0, 2), (4, 1, 1))


def test_declared_figures_win_and_missing_ones_are_assumed() -> None:
    full = parse_node_spec("name=a,platforms=linux/amd64,slots=3,memory=4g,host=box")
    bare = parse_node_spec("name=b,platforms=linux/amd64")
    assert (full.slots, full.slots_source, full.memory, full.memory_source, full.host) == (3, DECLARED, 4 * 2**30, DECLARED, "box")
    assert (bare.slots, bare.slots_source, bare.memory, bare.memory_source, bare.host) == (1, ASSUMED, None, ASSUMED, "")
    assert discover([full, bare], _buildx_nodes=lambda b: pytest.fail("must not ask buildx")) == (full, bare)


def test_the_fallback_to_this_machine_is_detected() -> None:
    nodes = discover([], _buildx_nodes=lambda b: (), _machine=VM)
    assert [(n.name, n.host, n.slots, n.slots_source, n.memory_source) for n in nodes] == [
        ("local", "vm", 2, DETECTED, DETECTED)]


def test_learned_speeds_replace_the_assumed_one_by_node_name() -> None:
    nodes = with_speeds([Node("a"), Node("b")], {"b": 0.625, "gone": 2.0})
    assert [(n.speed, n.speed_source) for n in nodes] == [(1.0, ASSUMED), (0.625, LEARNED)]
