"""Capacity beyond one node's slots: speeds learned from the history, host slots shared in the run, `bakeplan nodes`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bakeplan import history as hist
from bakeplan.cli import plan as plan_cli
from bakeplan.history import History, learn_speeds
from bakeplan.jobs import Job
from bakeplan.nodes import Node
from bakeplan.plan import build_plan
from tests.support.fakerun import FakeHandle, RecordingRunner, ReleaseOnTick, run, statuses, step
from tests.support.plans import node, result, target

AMD = "linux/amd64"


def job(name: str, block: str = "") -> Job:
    return Job(f"{name}@{AMD}", name, AMD, block=block or name)


def measured(runs: Sequence[tuple[str, str, float]], history: History | None = None) -> History:
    """A history with (job, node, seconds) recorded in order."""
    history = history or History()
    for name, where, seconds in runs:
        history = history.record(job(name), seconds, node=where)
    return history


# n2 takes 1.6 times as long as n1 for the same jobs.
TWO_NODES = [(name, where, seconds * (1.6 if where == "n2" else 1.0))
             for name, seconds in (("a", 10.0), ("b", 20.0), ("c", 30.0)) for where in ("n1", "n2")]


# ---------------------------------------------------------------- learning speeds


def test_a_node_that_takes_1_6_times_as_long_gets_1_6_times_less_speed() -> None:
    speeds = measured(TWO_NODES).speeds()
    assert speeds["n1"] / speeds["n2"] == pytest.approx(1.6, rel=1e-3)
    assert speeds["n1"] * speeds["n2"] == pytest.approx(1.0, rel=1e-3)  # relative to the typical node


def test_estimates_are_node_neutral_so_each_node_gets_its_own_time_back() -> None:
    history = measured(TWO_NODES)
    speeds = history.speeds()
    for name, seconds in (("a", 10.0), ("b", 20.0), ("c", 30.0)):
        base = history.estimate(job(name))
        assert (base / speeds["n1"], base / speeds["n2"]) == (pytest.approx(seconds, rel=1e-3),
                                                              pytest.approx(seconds * 1.6, rel=1e-3))


def test_a_job_measured_on_the_slow_node_only_is_estimated_right_on_the_fast_one() -> None:
    history = measured([*TWO_NODES, ("d", "n2", 80.0)])
    assert history.estimate(job("d")) / history.speeds()["n1"] == pytest.approx(50.0, rel=1e-3)


def test_a_speed_needs_two_jobs_compared_with_another_node() -> None:
    assert measured(TWO_NODES[:2]).speeds() == {}  # one job on both nodes (its block repeats it): not yet
    assert set(measured(TWO_NODES[:4]).speeds()) == {"n1", "n2"}
    alone = measured([*TWO_NODES, ("a", "n3", 12.0)])
    assert "n3" not in alone.speeds() and alone.speeds()["n1"] / alone.speeds()["n2"] == pytest.approx(1.6, rel=0.1)


def test_jobs_under_a_second_and_samples_without_a_node_teach_nothing() -> None:
    cached = [(name, where, 0.2 * (3 if where == "n2" else 1)) for name, where, _ in TWO_NODES]
    assert measured(cached).speeds() == {}
    unknown = History().record(job("a"), 10.0).record(job("a"), 16.0).record(job("b"), 20.0).record(job("b"), 32.0)
    assert unknown.speeds() == {} and unknown.estimate(job("a")) == 13.0


def test_equal_nodes_learn_equal_speeds_and_the_estimate_stays_the_median() -> None:
    history = measured([(name, where, 30.0) for name in ("a", "b") for where in ("n1", "n2")])
    assert history.speeds() == {"n1": 1.0, "n2": 1.0} and history.estimate(job("a")) == 30.0


def test_learn_speeds_is_deterministic_and_centred_over_three_nodes() -> None:
    samples: dict[str, tuple[float, ...]] = {}
    placed: dict[str, tuple[str, ...]] = {}
    for name, size in (("a", 10.0), ("b", 40.0), ("c", 25.0)):
        samples[f"{name}|x"] = (size, size * 2, size * 4)
        placed[f"{name}|x"] = ("fast", "mid", "slow")
    speeds = learn_speeds(samples, placed)
    assert speeds == learn_speeds(dict(reversed(samples.items())), placed)
    assert (speeds["fast"] / speeds["mid"], speeds["mid"] / speeds["slow"]) == (pytest.approx(2.0, rel=1e-3),
                                                                             pytest.approx(2.0, rel=1e-3))


def test_the_nodes_of_samples_are_saved_kept_aligned_and_old_files_still_load(tmp_path: Path) -> None:
    history = measured([("a", f"n{i % 2}", float(10 + i)) for i in range(hist.KEEP + 3)])
    key = f"a|{AMD}"
    assert len(history.samples[key]) == len(history.nodes_of(key)) == hist.KEEP
    assert history.nodes_of(key)[-1] == f"n{(hist.KEEP + 2) % 2}"
    path = tmp_path / "history.json"
    hist.save(history, path)
    assert hist.load(path).nodes_of(key) == history.nodes_of(key)
    data = json.loads(path.read_text())
    del data["nodes"]
    path.write_text(json.dumps(data))
    old = hist.load(path)
    assert old.nodes_of(key) == ("",) * hist.KEEP and old.speeds() == {}
    assert old.record(job("a"), 5.0, node="n1").nodes_of(key)[-2:] == ("", "n1")


def test_a_plan_puts_the_learned_speeds_on_its_nodes_and_prices_jobs_by_them() -> None:
    bake = result(*(target(name, [AMD]) for name in ("a", "b", "c")))
    plan = build_plan(bake, [node("n1", AMD), node("n2", AMD)], history=measured(TWO_NODES))
    assert [(n.name, n.speed_source) for n in plan.nodes] == [("n1", "learned"), ("n2", "learned")]
    for job_id, timing in plan.timings.items():
        seconds = {"a": 10.0, "b": 20.0, "c": 30.0}[job_id.split("@")[0]] * (1.6 if timing.node == "n2" else 1.0)
        assert timing.end - timing.start == pytest.approx(seconds, rel=1e-3)


# ---------------------------------------------------------------- the run keeps a host's slots


@dataclass
class HostRunner(RecordingRunner):
    """Also records how many processes ran at once on all nodes together."""

    most_together: int = 0

    def start(self, argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str] | None) -> FakeHandle:
        handle = super().start(argv, log=log, cwd=cwd, env=env)
        with self.lock:
            self.most_together = max(self.most_together, sum(self.running.values()))
        return handle


def test_a_run_never_runs_more_steps_on_a_host_than_its_slots(tmp_path: Path) -> None:
    nodes = (Node("d1", platforms=(AMD,), slots=2, host="vm"), Node("d2", platforms=(AMD,), slots=2, host="vm"))
    steps = [step(f"s{i}", estimate=10) for i in range(8)]
    runner = HostRunner(hold=True)
    state = run(tmp_path / "shared", steps, runner, nodes=nodes, reporter=ReleaseOnTick(runner))
    assert set(statuses(state).values()) == {"succeeded"}
    assert runner.most_together == 2 and set(runner.most) == {"d1", "d2"}
    apart = HostRunner(hold=True)
    nodes = tuple(Node(n.name, platforms=n.platforms, slots=2) for n in nodes)
    run(tmp_path / "apart", steps, apart, nodes=nodes, reporter=ReleaseOnTick(apart))
    assert apart.most_together == 4  # the same nodes on two hosts fill all four slots


# ---------------------------------------------------------------- `bakeplan nodes` says where each figure came from


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    plan_cli.register(app)
    return app


NODE_FLAGS = ["--node", "name=n1,builder=b1,platforms=linux/amd64,slots=2,memory=4g,host=box",
              "--node", "name=n2,builder=b2,platforms=linux/amd64,host=box", "--node", "name=n3,platforms=linux/amd64"]


def test_nodes_json_gives_each_figure_and_its_source(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    hist.save(measured(TWO_NODES), path)
    out = CliRunner().invoke(app, ["nodes", *NODE_FLAGS, "--history", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = [(n["name"], n["host"], n["slots"], n["slots_source"], n["memory"], n["memory_source"], n["speed"],
             n["speed_source"]) for n in json.loads(out.output)]
    assert rows == [("n1", "box", 2, "declared", 4 * 2**30, "declared", 1.265, "learned"),
                    ("n2", "box", 1, "assumed", None, "assumed", 0.791, "learned"),
                    ("n3", "", 1, "assumed", None, "assumed", 1.0, "assumed")]


def test_nodes_table_gives_each_figure_with_its_source_and_the_hosts_shared(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    hist.save(measured(TWO_NODES), path)
    out = CliRunner().invoke(app, ["nodes", *NODE_FLAGS, "--history", str(path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    lines = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
             for line in out.output.splitlines() if line.startswith("│")}
    assert lines["n1"][-5:] == ["box", "2 (declared)", "4.0G (declared)", "1.26 (learned)", "yes"]
    assert lines["n2"][-5:] == ["box", "1 (assumed)", "? (assumed)", "0.79 (learned)", "yes"]
    assert lines["n3"][-5:] == ["-", "1 (assumed)", "? (assumed)", "1.00 (assumed)", "yes"]
    assert "host box: n1, n2 share its 2 slots\n" in out.output


def test_the_plan_table_says_which_node_shares_its_host_and_which_is_slower() -> None:
    from bakeplan.render import table

    bake = result(*(target(name, [AMD]) for name in ("a", "b", "c")))
    nodes = [Node("n1", "n1", platforms=(AMD,), slots=2, host="vm"), Node("n2", "n2", platforms=(AMD,), slots=2, host="vm")]
    text = table.render(build_plan(bake, nodes, history=measured(TWO_NODES)), width=160)
    assert "n1  (linux/amd64; 2 slots; shared with n2 on host vm; speed 1.26)\n" in text
    # a (10 s) waits for b's host slot on n1 and ends at 30 s: on n2, free at 20 s, it would end at 36 s.
    assert "n2  (" not in text and "estimated makespan 30s" in text
