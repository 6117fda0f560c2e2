from __future__ import annotations

import json
from pathlib import Path

from bakeplan.history import DEFAULT_SECONDS, KEEP, History, default_path, load, record_all, save
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
