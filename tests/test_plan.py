from __future__ import annotations

import pytest

from bakeplan.bake.model import BakeResult
from bakeplan.errors import BakeplanError, NoNodeError
from bakeplan.history import History
from bakeplan.jobs import Filter, make_jobs
from bakeplan.nodes import EXACT
from bakeplan.plan import bake_argv, build_plan
from bakeplan.nodes import Node
from test_plan_support import node, result, target

AMD, ARM = "linux/amd64", "linux/arm64"
NODES = [node("amd", AMD, slots=2), node("arm", ARM)]


def test_each_platform_job_is_its_own_unit_with_the_exact_bake_argv() -> None:
    plan = build_plan(result(target("app", [AMD, ARM]), files=["a.hcl", "b.hcl"]), NODES)
    assert [(u.id, plan.placements[u.id].node) for u in plan.units] == [("app@linux/amd64", "amd"), ("app@linux/arm64", "arm")]
    assert plan.argv("app@linux/arm64") == (
        "docker", "buildx", "bake", "--builder", "arm", "-f", "a.hcl", "-f", "b.hcl",
        "--set", "app.platform=linux/arm64", "app")


def test_linked_targets_are_co_scheduled_in_one_invocation_per_platform() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, NODES)
    assert [(u.id, u.jobs) for u in plan.units] == [
        ("app@linux/amd64+1", ("base@linux/amd64", "app@linux/amd64")),
        ("app@linux/arm64+1", ("base@linux/arm64", "app@linux/arm64")),
    ]
    assert plan.argv("app@linux/arm64+1")[-6:] == (
        "--set", "base.platform=linux/arm64", "--set", "app.platform=linux/arm64", "base", "app")
    assert {j.id: j.unit for j in plan.jobs}["base@linux/arm64"] == "app@linux/arm64+1"


def test_a_linked_only_parent_is_left_to_bake_which_builds_it_cacheonly() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}), requested=["app"])
    plan = build_plan(bake, NODES)
    assert plan.argv("app@linux/amd64+1")[-5:] == (
        "--set", "base.platform=linux/amd64", "--set", "app.platform=linux/amd64", "app")
    assert plan.units[0].names == ("app",)


def test_requested_targets_follow_groups_and_globs() -> None:
    from bakeplan.plan import requested_targets

    bake = BakeResult(groups={"default": ("all",), "all": ("bin-*", "web")},
                      targets={n: target(n) for n in ("bin-a", "bin-b", "web", "base")}, files=(), requested=("default",))
    assert requested_targets(bake) == {"bin-a", "bin-b", "web"}


def test_a_shared_parent_across_platforms_without_a_node_for_all_explains_the_link() -> None:
    bake = result(target("base"), target("app", [AMD, ARM], {"b": "target:base"}))
    with pytest.raises(NoNodeError) as caught:
        build_plan(bake, NODES)
    assert "build base, app (linked by target: contexts, built together) for all of native, linux/amd64, linux/arm64 on one node" in str(caught.value)
    assert "linked by target: contexts" in str(caught.value)


def test_a_unit_runs_its_chain_in_sequence_inside_the_invocation() -> None:
    history = History({"base|native": (10.0,), "app|native": (30.0,)})
    plan = build_plan(result(target("base"), target("app", contexts={"b": "target:base"})), NODES, history=history)
    assert [(j, plan.timings[j].start, plan.timings[j].end) for j in ("base@native", "app@native")] == [
        ("base@native", 0.0, 10.0), ("app@native", 10.0, 40.0)]
    assert plan.makespan == 40.0 and plan.critical_path == ("base@native", "app@native")


def test_a_native_job_takes_the_platform_of_its_node() -> None:
    plan = build_plan(result(target("app")), [node("arm", ARM)])
    assert plan.timings["app@native"].platform == ARM
    assert "--set" not in plan.argv("app@native")


def test_durations_come_from_history_and_the_longest_job_starts_first() -> None:
    history = History({"slow|linux/amd64": (100.0,), "fast|linux/amd64": (5.0,)})
    plan = build_plan(result(target("fast", [AMD]), target("slow", [AMD])), [node("amd", AMD)], history=history)
    assert [(p.task, p.start, p.end, p.rank) for p in sorted(plan.placements.values(), key=lambda p: p.start)] == [
        ("slow@linux/amd64", 0.0, 100.0, EXACT), ("fast@linux/amd64", 100.0, 105.0, EXACT)]
    assert plan.lower_bound.value == 105.0 and plan.ratio == 1.0


def test_filters_narrow_the_plan() -> None:
    bake = result(*[target(f"bin-{a}", [f"linux/{a}"], matrix={"arch": a}, block="bin") for a in ("amd64", "arm64")])
    plan = build_plan(bake, NODES, exclude=[Filter.parse("arch=arm64")])
    assert [j.id for j in plan.jobs] == ["bin-amd64@linux/amd64"]


def test_no_node_for_a_platform_is_a_clear_error() -> None:
    with pytest.raises(NoNodeError, match="no node can build app@linux/s390x for linux/s390x"):
        build_plan(result(target("app", ["linux/s390x"])), NODES)


def test_excluded_nodes_are_kept_in_the_plan_but_never_used() -> None:
    down = node("down", AMD).__class__("down", platforms=(AMD,), excluded="status error")
    plan = build_plan(result(target("app", [AMD])), [down, *NODES])
    assert [n.name for n in plan.nodes] == ["down", "amd", "arm"]
    assert plan.timings["app@linux/amd64"].node == "amd"


def test_same_input_same_plan() -> None:
    bake = result(*[target(f"t{i}", [AMD, ARM], {"b": "target:base"} if i % 2 else None) for i in range(20)],
                  target("base", [AMD, ARM]))
    assert build_plan(bake, NODES) == build_plan(bake, NODES)


def test_bake_argv_appends_extra_sets_before_the_targets_and_omits_a_missing_builder() -> None:
    plan = build_plan(result(target("app", [AMD])), NODES)
    unit = plan.units[0]
    argv = bake_argv(unit, Node("x", platforms=(AMD,)), ["f.hcl"], sets=["app.cache-to=type=inline"])
    assert argv == ("docker", "buildx", "bake", "-f", "f.hcl", "--set", "app.platform=linux/amd64",
                    "--set", "app.cache-to=type=inline", "app")


def test_jobs_of_a_plan_match_make_jobs() -> None:
    bake = result(target("base"), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, [node("both", AMD, ARM, slots=2)])
    assert [j.id for j in plan.jobs] == [j.id for j in make_jobs(bake)]
    assert {plan.timings[j.id].node for j in plan.jobs} == {"both"}


def test_the_users_vars_and_sets_come_before_the_platform_set_which_must_win() -> None:
    plan = build_plan(result(target("app", [AMD])), NODES, overrides=["*.platform=linux/s390x", "app.tags=x"],
                      variables=["TAG=1"])
    assert plan.argv("app@linux/amd64")[5:] == (
        "-f", "docker-bake.hcl", "--var", "TAG=1", "--set", "*.platform=linux/s390x", "--set", "app.tags=x",
        "--set", "app.platform=linux/amd64", "app")


def test_without_any_usable_node_the_error_lists_every_candidate_and_why_it_is_left_out() -> None:
    down = Node("down", platforms=(AMD,), excluded="status error")
    bare = Node("bare", excluded="no platforms declared")
    with pytest.raises(BakeplanError, match="no usable node") as caught:
        build_plan(result(target("app", [AMD])), [down, bare])
    assert "down (left out: status error): linux/amd64" in str(caught.value)
    assert "bare (left out: no platforms declared): (no platforms)" in str(caught.value)


def test_a_linked_unit_without_a_node_is_named_by_its_targets_not_its_unit_id() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    with pytest.raises(NoNodeError) as caught:
        build_plan(bake, [node("amd", AMD)])
    message = str(caught.value)
    assert message.startswith("no node can build base, app (linked by target: contexts, built together) for linux/arm64;")
    assert "+1" not in message
