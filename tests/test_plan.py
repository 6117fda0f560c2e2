from __future__ import annotations

import pytest

from bakeplan.bake.model import BakeResult
from bakeplan.errors import BakeplanError, NoNodeError
from bakeplan.history import History
from bakeplan.jobs import Filter, make_jobs
from bakeplan.nodes import EXACT, Node
from bakeplan.plan import Handover, build_plan
from tests.support.plans import node, result, target

AMD, ARM = "linux/amd64", "linux/arm64"
NODES = [node("amd", AMD, slots=2), node("arm", ARM)]
HANDOVER_DIR = "type=oci,dest=<hand-over dir>,tar=false"


def test_each_platform_job_is_scheduled_on_its_own_with_the_exact_bake_argv() -> None:
    plan = build_plan(result(target("app", [AMD, ARM]), files=["a.hcl", "b.hcl"]), NODES)
    assert [(j.id, plan.timings[j.id].node) for j in plan.jobs] == [("app@linux/amd64", "amd"), ("app@linux/arm64", "arm")]
    assert plan.argv("app@linux/arm64") == (
        "docker", "buildx", "bake", "--builder", "arm", "-f", "a.hcl", "-f", "b.hcl",
        "--set", "app.platform=linux/arm64", "app")


def test_a_linked_child_is_a_job_of_its_own_after_its_parent_on_the_parents_node() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, NODES)
    assert [(j.id, plan.timings[j.id].node, plan.timings[j.id].start, plan.timings[j.id].end) for j in plan.jobs] == [
        # Each child can only run on its parent's node: no export is planned.
        ("base@linux/amd64", "amd", 0.0, 60.0), ("base@linux/arm64", "arm", 0.0, 60.0),
        ("app@linux/amd64", "amd", 60.0, 120.0), ("app@linux/arm64", "arm", 60.0, 120.0)]
    assert plan.handovers == ()


def test_a_child_on_its_parents_node_re_solves_the_parent_from_that_nodes_cache() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, NODES)
    assert plan.argv("app@linux/arm64")[-5:] == (
        "--set", "app.platform=linux/arm64", "--set", "base.platform=linux/arm64", "app")
    assert plan.argv("base@linux/arm64")[-3:] == ("--set", "base.platform=linux/arm64", "base")


def test_a_linked_only_parent_is_built_cacheonly_in_its_own_job() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}), requested=["app"])
    plan = build_plan(bake, NODES)
    assert plan.requested == {"app"}
    assert plan.argv("base@linux/amd64")[-5:] == (
        "--set", "base.platform=linux/amd64", "--set", "base.output=type=cacheonly", "base")
    assert plan.argv("app@linux/amd64")[-1] == "app"


def test_requested_targets_follow_groups_and_globs() -> None:
    from bakeplan.plan import requested_targets

    bake = BakeResult(groups={"default": ("all",), "all": ("bin-*", "web")},
                      targets={n: target(n) for n in ("bin-a", "bin-b", "web", "base")}, files=(), requested=("default",))
    assert requested_targets(bake) == {"bin-a", "bin-b", "web"}


def test_a_single_platform_parent_read_by_a_multi_platform_child_is_handed_over_to_the_other_node() -> None:
    # Was refused (one node had to build every platform of a linked component); now each node builds one platform.
    bake = result(target("base", [AMD]), target("app", [AMD, ARM], {"b": "target:base"}))
    history = History({"base|linux/amd64": (20.0,), "app|linux/amd64": (40.0,), "app|linux/arm64": (50.0,)})
    plan = build_plan(bake, NODES, history=history)
    assert {j.id: plan.timings[j.id].node for j in plan.jobs} == {
        "base@linux/amd64": "amd", "app@linux/amd64": "amd", "app@linux/arm64": "arm"}
    assert plan.handovers == (Handover("app@linux/arm64", "base@linux/amd64", "amd", "arm", 4.0),)
    assert plan.exports("base@linux/amd64") and not plan.exports("app@linux/amd64")
    assert plan.timings["app@linux/arm64"].start >= plan.timings["base@linux/amd64"].end


def test_a_handed_over_parent_exports_once_and_its_reader_takes_it_by_digest() -> None:
    bake = result(target("base", [AMD]), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, NODES)
    assert plan.argv("base@linux/amd64")[-5:] == (
        "--set", "base.platform=linux/amd64", "--set", f"base.output={HANDOVER_DIR}", "base")
    assert plan.argv("app@linux/arm64")[-5:] == (
        "--set", "app.platform=linux/arm64",
        "--set", "app.contexts.b=oci-layout://<hand-over of base@linux/amd64>@<digest>", "app")
    assert "app.contexts.b" not in " ".join(plan.argv("app@linux/amd64"))  # same node: re-solved


def test_a_platformless_parent_builds_the_builders_default_and_is_handed_over_to_a_child_of_another_platform() -> None:
    # buildx builds a target without platforms for its builder's default (the first node's platform):
    # bakeplan sets it explicitly, so base is an amd64 image wherever it runs, and app's arm64 job on arm
    # reads that very image by digest.
    bake = result(target("base"), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, NODES)
    assert plan.default_platform == AMD
    assert [(j.id, j.default) for j in plan.jobs] == [
        ("base@linux/amd64", True), ("app@linux/amd64", False), ("app@linux/arm64", False)]
    assert plan.handovers == (Handover("app@linux/arm64", "base@linux/amd64", "amd", "arm", 4.0),)
    assert plan.argv("base@linux/amd64") == (
        "docker", "buildx", "bake", "--builder", "amd", "-f", "docker-bake.hcl",
        "--set", "base.platform=linux/amd64", "--set", f"base.output={HANDOVER_DIR}", "base")
    assert plan.argv("app@linux/arm64")[-3:] == (
        "--set", "app.contexts.b=oci-layout://<hand-over of base@linux/amd64>@<digest>", "app")
    # app on amd re-solves base there, with base's platform set as in base's own invocation.
    assert plan.argv("app@linux/amd64")[-5:] == (
        "--set", "app.platform=linux/amd64", "--set", "base.platform=linux/amd64", "app")
    assert plan.reasons["base@linux/amd64"].startswith("no platforms: the builder's default linux/amd64, set explicitly; ")


@pytest.mark.parametrize(("first", "default"), [(AMD, AMD), (ARM, ARM)])
def test_the_builders_default_is_its_first_nodes_platform(first: str, default: str) -> None:
    other = ARM if first == AMD else AMD
    plan = build_plan(result(target("app")), [node("one", first), node("two", other)])
    assert [j.id for j in plan.jobs] == [f"app@{default}"]
    assert plan.timings[f"app@{default}"].node == "one"  # the only node that builds it natively


def test_a_platformless_job_never_moves_to_a_node_of_another_platform() -> None:
    # amd is busy with a 500s tool for 500s; arm is idle, but app (no platforms, so amd64) would come out
    # arm64 there: it waits for amd.
    bake = result(target("base"), target("app", contexts={"b": "target:base"}), target("tool", [AMD], {"b": "target:base"}))
    history = History({"base|native": (10.0,), "app|native": (30.0,), "tool|linux/amd64": (500.0,)})
    plan = build_plan(bake, [node("amd", AMD), node("arm", ARM)], history=history)
    timing = plan.timings["app@linux/amd64"]
    assert (timing.node, timing.platform, timing.start, timing.end) == ("amd", AMD, 510.0, 540.0)
    assert plan.handovers == ()
    assert "needs linux/amd64: natively on amd" in plan.reasons["app@linux/amd64"]


def test_a_platformless_parent_is_handed_over_between_two_nodes_of_the_same_platform() -> None:
    bake = result(target("base"), target("app", contexts={"b": "target:base"}), target("tool", [AMD], {"b": "target:base"}))
    history = History({"base|native": (10.0,), "app|native": (30.0,), "tool|linux/amd64": (500.0,)})
    plan = build_plan(bake, [node("amd", AMD), node("amd2", AMD)], history=history)
    timing = plan.timings["app@linux/amd64"]
    assert (timing.node, timing.platform) == ("amd2", AMD)
    assert plan.handovers == (Handover("app@linux/amd64", "base@linux/amd64", "amd", "amd2", 4.0),)
    assert plan.argv("app@linux/amd64")[-3:] == (
        "--set", "app.contexts.b=oci-layout://<hand-over of base@linux/amd64>@<digest>", "app")
    assert plan.exports("base@linux/amd64")
    assert timing.end - timing.start == 4.0 + 30.0


def cross(name: str, platforms: list[str] | None = None, contexts: dict[str, str] | None = None) -> object:
    """A target whose Dockerfile only runs steps on $BUILDPLATFORM (it cross-compiles)."""
    built = target(name, platforms, contexts)
    fields = dict(built.fields)
    fields["dockerfile-inline"] = ("FROM --platform=$BUILDPLATFORM golang AS build\nRUN go build -o /out/app .\n"
                                   "FROM scratch\nCOPY --from=build /out/app /\n")
    return type(built)(built.name, fields)


def test_a_cross_compiling_job_goes_to_an_idle_node_of_another_platform() -> None:
    # Two arm64 jobs, one arm node, an idle amd node: the cross-compiling one may build arm64 on amd.
    bake = result(cross("bin", [ARM]), target("img", [ARM]))
    history = History({"bin|linux/arm64": (30.0,), "img|linux/arm64": (60.0,)})
    plan = build_plan(bake, [node("amd", AMD), node("arm", ARM)], history=history)
    assert (plan.timings["img@linux/arm64"].node, plan.timings["bin@linux/arm64"].node) == ("arm", "amd")
    assert plan.timings["bin@linux/arm64"].platform == ARM and plan.makespan == 60.0
    assert plan.reasons["bin@linux/arm64"] == (
        "dockerfile-inline of target 'bin': every RUN runs on $BUILDPLATFORM (stage 'build'): cross-compiles on any node; "
        "any node: natively on amd, arm")
    assert "needs linux/arm64: natively on arm" in plan.reasons["img@linux/arm64"]


def test_a_job_that_runs_steps_on_its_target_platform_is_emulated_only_where_a_node_lists_the_platform() -> None:
    # amd lists arm64 under emulation; arm is busy 100s. img (RUN in its target stage) either waits for arm
    # (100 + 20) or emulates on amd (3 x 20 = 60): it emulates. A node that does not list arm64 never takes it.
    nodes = [Node("amd", "amd", platforms=(AMD, ARM), native=1), node("arm", ARM), node("amd2", AMD)]
    history = History({"long|linux/arm64": (100.0,), "img|linux/arm64": (20.0,)})
    plan = build_plan(result(target("long", [ARM]), target("img", [ARM])), nodes, history=history)
    assert (plan.timings["img@linux/arm64"].node, plan.timings["img@linux/arm64"].end) == ("amd", 60.0)
    assert plan.reasons["img@linux/arm64"].endswith("needs linux/arm64: natively on arm; emulated on amd")


def test_a_grandparent_read_through_a_parent_re_solved_on_the_same_node_is_read_by_digest_there_too() -> None:
    # g (amd64 only) on amd; p and c (arm64 only) on arm. c's invocation re-solves p from arm's cache, so it
    # reads p's parent g by digest as p's own job did: a hand-over from g to c, set on p's context.
    bake = result(target("g", [AMD]), target("p", [ARM], {"g": "target:g"}), target("c", [ARM], {"p": "target:p"}))
    history = History({"g|linux/amd64": (20.0,), "p|linux/arm64": (30.0,), "c|linux/arm64": (40.0,)})
    plan = build_plan(bake, NODES, history=history)
    # c names g too (it re-solves p, which reads g), but p already brought g onto arm: c pays nothing for it.
    assert plan.handovers == (Handover("p@linux/arm64", "g@linux/amd64", "amd", "arm", 4.0),
                              Handover("c@linux/arm64", "g@linux/amd64", "amd", "arm", 0.0))
    assert plan.exports("g@linux/amd64") and not plan.exports("p@linux/arm64")
    assert plan.argv("c@linux/arm64")[-5:] == (
        "--set", "c.platform=linux/arm64",
        "--set", "p.contexts.g=oci-layout://<hand-over of g@linux/amd64>@<digest>", "c")
    # g: 20s + 1s export; p: 4s hand-over + 30s; c: 40s, the read of g already on arm (p's job loaded it) charged nothing.
    assert [(plan.timings[j].start, plan.timings[j].end) for j in ("g@linux/amd64", "p@linux/arm64", "c@linux/arm64")] == [
        (0.0, 21.0), (21.0, 55.0), (55.0, 95.0)]


def test_the_hand_over_time_is_learned_per_node_pair() -> None:
    bake = result(target("base", [AMD]), target("app", [AMD, ARM], {"b": "target:base"}))
    history = History().record_transfer("amd", "arm", 9.0)
    plan = build_plan(bake, NODES, history=history)
    assert plan.handovers[0].seconds == 9.0
    timing = plan.timings["app@linux/arm64"]
    assert timing.end - timing.start == 9.0 + 60.0  # imported in the child's slot, then built


def test_a_child_runs_after_its_parent_on_one_node_without_hand_over() -> None:
    history = History({"base|native": (10.0,), "app|native": (30.0,)})
    plan = build_plan(result(target("base"), target("app", contexts={"b": "target:base"})), NODES, history=history)
    jobs = ("base@linux/amd64", "app@linux/amd64")
    assert [(j, plan.timings[j].node, plan.timings[j].start, plan.timings[j].end) for j in jobs] == [
        (jobs[0], "amd", 0.0, 10.0), (jobs[1], "amd", 10.0, 40.0)]  # amd64 jobs: no other node reads base, no export
    assert plan.handovers == () and plan.makespan == 40.0 and plan.critical_path == jobs


def test_on_one_node_nothing_is_exported() -> None:
    history = History({"base|native": (10.0,), "app|native": (30.0,)})
    plan = build_plan(result(target("base"), target("app", contexts={"b": "target:base"})), [node("amd", AMD, slots=2)],
                      history=history)
    assert plan.timings["app@linux/amd64"].start == 10.0 and plan.makespan == 40.0


def test_a_platformless_job_takes_its_builders_default_platform_explicitly() -> None:
    plan = build_plan(result(target("app")), [node("arm", ARM)])
    assert plan.timings["app@linux/arm64"].platform == ARM
    assert plan.argv("app@linux/arm64")[-3:] == ("--set", "app.platform=linux/arm64", "app")


def test_without_a_known_platform_a_platformless_job_takes_its_nodes() -> None:
    plan = build_plan(result(target("app")), [Node("any", "any")])
    assert [j.id for j in plan.jobs] == ["app@native"] and plan.default_platform is None
    assert "--set" not in plan.argv("app@native")


def test_durations_come_from_history_and_the_longest_job_starts_first() -> None:
    history = History({"slow|linux/amd64": (100.0,), "fast|linux/amd64": (5.0,)})
    plan = build_plan(result(target("fast", [AMD]), target("slow", [AMD])), [node("amd", AMD)], history=history)
    timings = sorted(plan.timings.items(), key=lambda item: item[1].start)
    assert [(j, t.start, t.end, t.rank) for j, t in timings] == [
        ("slow@linux/amd64", 0.0, 100.0, EXACT), ("fast@linux/amd64", 100.0, 105.0, EXACT)]
    assert plan.lower_bound.value == 105.0 and plan.ratio == 1.0


def test_filters_narrow_the_plan() -> None:
    bake = result(*[target(f"bin-{a}", [f"linux/{a}"], matrix={"arch": a}, block="bin") for a in ("amd64", "arm64")])
    plan = build_plan(bake, NODES, exclude=[Filter.parse("arch=arm64")])
    assert [j.id for j in plan.jobs] == ["bin-amd64@linux/amd64"]


def test_no_node_for_a_platform_is_a_clear_error() -> None:
    with pytest.raises(NoNodeError, match="no node can build app@linux/s390x for linux/s390x"):
        build_plan(result(target("app", ["linux/s390x"])), NODES)


def test_a_linked_parent_no_node_can_build_is_named_with_its_readers_in_the_hint() -> None:
    bake = result(target("base", ["linux/s390x"]), target("app", [AMD, ARM], {"b": "target:base"}))
    with pytest.raises(NoNodeError) as caught:
        build_plan(bake, NODES)
    error = caught.value
    assert (error.job, error.platform) == ("base@linux/s390x", "linux/s390x")
    assert str(error).startswith(
        "no node can build base@linux/s390x for linux/s390x; nodes:\n  amd: linux/amd64\n  arm: linux/arm64")
    assert error.hint is not None
    assert error.hint.startswith("app@linux/amd64, app@linux/arm64 read it through a target: context, so they cannot run either.")


def test_a_linked_job_without_a_node_is_named_by_its_job_id() -> None:
    bake = result(target("base", [AMD, ARM]), target("app", [AMD, ARM], {"b": "target:base"}))
    with pytest.raises(NoNodeError) as caught:
        build_plan(bake, [node("amd", AMD)])
    assert str(caught.value).startswith("no node can build base@linux/arm64 for linux/arm64;")
    assert caught.value.hint is not None and caught.value.hint.startswith("app@linux/arm64 reads it through a target: context")


def test_excluded_nodes_are_kept_in_the_plan_but_never_used() -> None:
    down = Node("down", platforms=(AMD,), excluded="status error")
    plan = build_plan(result(target("app", [AMD])), [down, *NODES])
    assert [n.name for n in plan.nodes] == ["down", "amd", "arm"]
    assert plan.timings["app@linux/amd64"].node == "amd"


def test_same_input_same_plan() -> None:
    bake = result(*[target(f"t{i}", [AMD, ARM], {"b": "target:base"} if i % 2 else None) for i in range(20)],
                  target("base", [AMD]))
    assert build_plan(bake, NODES) == build_plan(bake, NODES)


def test_a_node_without_a_builder_gets_no_builder_flag() -> None:
    plan = build_plan(result(target("app", [AMD])), [Node("x", platforms=(AMD,))])
    assert plan.argv("app@linux/amd64") == ("docker", "buildx", "bake", "-f", "docker-bake.hcl",
                                            "--set", "app.platform=linux/amd64", "app")


def test_jobs_of_a_plan_match_make_jobs() -> None:
    bake = result(target("base"), target("app", [AMD, ARM], {"b": "target:base"}))
    plan = build_plan(bake, [node("both", AMD, ARM, slots=2)])
    assert [j.id for j in plan.jobs] == [j.id for j in make_jobs(bake, default_platform=AMD)]
    assert {plan.timings[j.id].node for j in plan.jobs} == {"both"} and plan.handovers == ()


def test_the_users_vars_and_sets_come_before_the_platform_set_which_must_win() -> None:
    plan = build_plan(result(target("app", [AMD])), NODES, overrides=["*.platform=linux/s390x", "app.tags=x"],
                      variables=["TAG=1"])
    assert plan.argv("app@linux/amd64")[5:] == (
        "-f", "docker-bake.hcl", "--var", "TAG=1", "--set", "app.tags=x", "--set", "app.platform=linux/amd64", "app")


def test_without_any_usable_node_the_error_lists_every_candidate_and_why_it_is_left_out() -> None:
    down = Node("down", platforms=(AMD,), excluded="status error")
    bare = Node("bare", excluded="no platforms declared")
    with pytest.raises(BakeplanError, match="no usable node") as caught:
        build_plan(result(target("app", [AMD])), [down, bare])
    assert "down (left out: status error): linux/amd64" in str(caught.value)
    assert "bare (left out: no platforms declared): (no platforms)" in str(caught.value)


def test_a_flexible_job_leaves_the_only_node_of_a_platform_to_the_jobs_that_need_it() -> None:
    bake = result(target("base"), target("app", [AMD, ARM], {"b": "target:base"}),
                  *[target(f"bin-{a}", [f"linux/{a}"]) for a in ("amd64", "arm64")])
    history = History({"base|native": (20.0,), "app|linux/amd64": (40.0,), "app|linux/arm64": (50.0,)})
    plan = build_plan(bake, [node("amd", AMD, slots=2), node("both", AMD, ARM)], history=history)
    # amd: base 0-21, bin-amd64 0-60, app@amd64 21-61; both: bin-arm64 0-60, app@arm64 60-114 (4s hand-over).
    assert plan.makespan <= 114.0, {j: (t.node, t.start, t.end) for j, t in plan.timings.items()}
