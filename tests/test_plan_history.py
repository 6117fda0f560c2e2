from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeplan.history import DEFAULT_SECONDS, KEEP, EstimateError, History, default_path, load, record_all, save
from bakeplan.jobs import Job


def job(target: str, platform: str | None = "linux/amd64", block: str = "") -> Job:
    return Job(f"{target}@{platform}", target, platform, block=block or target)


def test_unknown_jobs_get_the_default() -> None:
    assert History().estimate(job("app")) == DEFAULT_SECONDS


def test_the_estimate_is_the_median_so_one_outlier_does_not_move_it() -> None:
    history = record_all(History(), [(job("app"), s) for s in (30, 31, 29, 600, 30)])
    assert history.estimate(job("app")) == 30


def test_only_the_last_samples_are_kept() -> None:
    history = record_all(History(), [(job("app"), float(s)) for s in range(20)])
    assert history.samples["app|linux/amd64"] == tuple(float(s) for s in range(20 - KEEP, 20))


def test_an_unseen_matrix_sibling_borrows_from_its_block_same_platform_first() -> None:
    history = record_all(History(), [
        (job("bin-a", block="bin"), 40.0), (job("bin-b", "linux/arm64", block="bin"), 90.0)])
    assert history.estimate(job("bin-c", block="bin")) == 40.0
    assert history.estimate(job("bin-c", "linux/s390x", block="bin")) == 65.0


def test_save_and_load_round_trip_atomically(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "history.json"
    history = History().record(job("app"), 12.5)
    save(history, path)
    assert load(path) == history
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temporary file left
    assert json.loads(path.read_text())["version"] == 1


def test_a_corrupt_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("{not json")
    assert load(path) == History()
    path.write_text('{"version": 99}')
    assert load(path) == History()


def test_default_path_follows_the_cache_dir_variables() -> None:
    assert default_path({"BAKEPLAN_CACHE_DIR": "/c"}) == Path("/c/history.json")
    assert default_path({"XDG_CACHE_HOME": "/x"}) == Path("/x/bakeplan/history.json")


def test_a_history_file_of_the_wrong_shape_is_ignored_like_a_corrupt_one(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"version": 1, "samples": [1, 2]}))
    assert load(path).samples == {}


def test_each_project_has_its_own_default_history(tmp_path: Path) -> None:
    from bakeplan.history import project_dir

    env = {"BAKEPLAN_CACHE_DIR": "/c"}
    one, two = project_dir(None, tmp_path / "one"), project_dir(["sub/docker-bake.hcl"], tmp_path / "two")
    assert (one, two) == (tmp_path / "one", tmp_path / "two" / "sub")
    paths = {default_path(env, project=one), default_path(env, project=two)}
    assert len(paths) == 2 and all(p.parent == Path("/c") and p.name.startswith("history-") for p in paths)
    assert default_path(env, project=one) == default_path(env, project=project_dir(None, tmp_path / "one"))


def test_builders_history_fills_in_a_job_bakeplan_never_ran() -> None:
    from bakeplan.history import BUILDERS

    history = History().with_builders({"app|linux/amd64": (10.0, 12.0, 50.0)})
    assert history.estimate(job("app")) == 12.0  # the median of the builders' records
    assert history.source(job("app")) == BUILDERS


def test_bakeplan_own_samples_come_before_the_builders() -> None:
    from bakeplan.history import OWN

    history = History().record(job("app"), 30.0).with_builders({"app|linux/amd64": (10.0,)})
    assert (history.estimate(job("app")), history.source(job("app"))) == (30.0, OWN)


def test_the_builders_record_of_the_job_itself_beats_a_sibling_bakeplan_ran() -> None:
    history = History().record(job("bin-a", block="bin"), 40.0).with_builders(
        {"bin-b|linux/amd64": (5.0,), "block:bin|linux/amd64": (5.0,)})
    assert history.estimate(job("bin-b", block="bin")) == 5.0
    assert history.estimate(job("bin-c", block="bin")) == 40.0  # neither has bin-c: bakeplan's sibling first


def test_siblings_in_the_builders_history_are_borrowed_as_bakeplan_own_are() -> None:
    history = History().with_builders({"block:bin|linux/arm64": (90.0,)})
    assert history.estimate(job("bin-c", block="bin")) == 90.0  # same block, another platform
    assert history.source(job("other")) == "default" and history.estimate(job("other")) == DEFAULT_SECONDS


def test_the_builders_samples_are_never_saved_and_survive_recording(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    history = History().with_builders({"app|linux/amd64": (10.0,)}).record(job("lib"), 3.0)
    assert history.estimate(job("app")) == 10.0
    save(history, path)
    assert "app|" not in path.read_text()
    assert load(path) == History().record(job("lib"), 3.0)


# ---------------------------------------------------------------- planned versus actual


def test_the_error_is_the_median_per_job_and_the_signed_mean_makespan() -> None:
    from bakeplan.history import EstimateError, RunAccuracy, estimate_error

    runs = [RunAccuracy({"a": (100.0, 110.0), "b": (50.0, 40.0)}, makespan=(200.0, 250.0)),
            RunAccuracy({"a": (100.0, 130.0)}, makespan=(200.0, 300.0))]
    assert estimate_error(runs) == EstimateError(runs=2, per_job=0.2, makespan=0.375)  # errors .1, .2, .3; +.25, +.5


def test_an_early_makespan_is_a_negative_error_and_a_run_without_one_still_counts_its_jobs() -> None:
    from bakeplan.history import EstimateError, RunAccuracy, estimate_error

    runs = [RunAccuracy({"a": (10.0, 5.0)}), RunAccuracy(makespan=(100.0, 75.0))]
    assert estimate_error(runs) == EstimateError(runs=2, per_job=0.5, makespan=-0.25)


def test_there_is_no_error_without_a_comparable_pair() -> None:
    from bakeplan.history import RunAccuracy, estimate_error

    assert estimate_error([]) is None
    assert estimate_error([RunAccuracy({"a": (0.0, 12.0)}, makespan=(0.0, 12.0))]) is None  # nothing was planned


def test_only_the_last_runs_are_kept_and_empty_ones_not_at_all() -> None:
    from bakeplan.history import RUNS, RunAccuracy

    history = History().record_run(RunAccuracy())
    assert history.runs == ()
    for i in range(RUNS + 2):
        history = history.record_run(RunAccuracy({"a": (10.0, float(i))}))
    assert [run.jobs["a"][1] for run in history.runs] == [float(i) for i in range(2, RUNS + 2)]


def test_planned_versus_actual_survives_save_and_load(tmp_path: Path) -> None:
    from bakeplan.history import RunAccuracy

    path = tmp_path / "history.json"
    history = History().record(job("app"), 12.5).record_run(
        RunAccuracy({"app@linux/amd64": (10.0, 12.5)}, makespan=(10.0, 13.0))).record_run(
        RunAccuracy({"app@linux/amd64": (12.5, 11.0)}))
    save(history, path)
    assert load(path) == history
    assert json.loads(path.read_text())["runs"] == [
        {"jobs": {"app@linux/amd64": [10.0, 12.5]}, "makespan": [10.0, 13.0]},
        {"jobs": {"app@linux/amd64": [12.5, 11.0]}}]


def test_a_file_from_before_planned_versus_actual_loads_and_is_written_as_before(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    old = {"version": 1, "samples": {"app|linux/amd64": [12.5]}}
    path.write_text(json.dumps(old))
    history = load(path)
    assert (history.samples, history.runs) == ({"app|linux/amd64": (12.5,)}, ())
    save(history, path)
    assert json.loads(path.read_text()) == old


def test_stored_runs_of_the_wrong_shape_are_left_out(tmp_path: Path) -> None:
    from bakeplan.history import RunAccuracy

    path = tmp_path / "history.json"
    path.write_text(json.dumps({"version": 1, "samples": {}, "runs": [
        "junk", {"jobs": {"a": [1]}}, {"jobs": {"a": [10, 12], "b": "x"}, "makespan": [1, 2, 3]}]}))
    assert load(path).runs == (RunAccuracy({"a": (10.0, 12.0)}),)
    path.write_text(json.dumps({"version": 1, "samples": {}, "runs": {"not": "a list"}}))
    assert load(path).runs == ()


@pytest.mark.parametrize(("error", "line"), [
    (EstimateError(3, 0.12, 0.08), "estimates on the last 3 runs: jobs off by a median of 12%, makespan 8% late on average\n"),
    (EstimateError(1, 0.3, -0.05), "estimates on the last run: jobs off by a median of 30%, makespan 5% early on average\n"),
    (EstimateError(2, 0.25, None), "estimates on the last 2 runs: jobs off by a median of 25%\n"),
])
def test_the_error_line_says_how_far_off_and_which_way(error: EstimateError, line: str) -> None:
    from bakeplan.cli.plan import error_line

    assert error_line(error) == line


HCL = """
target "app" { platforms = ["linux/amd64"] }
"""
NODE = ["--node", "name=amd,builder=b-amd,platforms=linux/amd64,slots=2"]


def plan_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history: History, *args: str) -> str:
    import typer
    from typer.testing import CliRunner

    from bakeplan.cli import plan as plan_cli

    app = typer.Typer()
    plan_cli.register(app)
    (tmp_path / "docker-bake.hcl").write_text(HCL)
    save(history, tmp_path / "history.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEPLAN_CACHE_DIR", str(tmp_path / "cache"))
    out = CliRunner().invoke(app, ["plan", "app", *NODE, "--history", str(tmp_path / "history.json"), *args])
    assert out.exit_code == 0, out.output
    return out.output


def test_plan_shows_the_expected_error_of_its_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeplan.history import RunAccuracy

    history = History().record_run(RunAccuracy({"app@linux/amd64": (50.0, 60.0)}, makespan=(50.0, 60.0)))
    table = plan_output(tmp_path, monkeypatch, history)
    assert table.endswith("estimates on the last run: jobs off by a median of 20%, makespan 20% late on average\n")
    assert "estimates on" not in plan_output(tmp_path, monkeypatch, history, "--format", "json")


def test_plan_says_nothing_of_errors_before_any_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "estimates on" not in plan_output(tmp_path, monkeypatch, History())
