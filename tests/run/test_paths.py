"""Issue 10, item 2: the cache, run directories and record's default replay file are
relative to the config file, and --resume finds the run's own cache, from any working
directory."""

from __future__ import annotations

import json
import shutil

import yaml

from iapo_cli.run import evaluate, optimize, record
from tests.run.sim_project import sim_project


def _fresh(outcome) -> int:
    return outcome.usage["this_attempt"]["completion"]["fresh"]


def test_cache_and_runs_follow_the_config_file_not_the_working_directory(tmp_path,
                                                                         monkeypatch):
    project = tmp_path / "project"
    config = sim_project(project)
    for cwd in ("a", "b"):
        (tmp_path / cwd).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = optimize(config)
    assert _fresh(first) == 600
    assert first.run_dir.resolve().parent == project / "runs"
    assert (project / ".iapo-cache").is_dir()
    assert list((tmp_path / "a").iterdir()) == []  # nothing in the working directory
    summary = json.loads((first.run_dir / "summary.json").read_text())
    assert summary["cache_dir"] == str((project / ".iapo-cache").resolve())

    monkeypatch.chdir(tmp_path / "b")  # the same config from elsewhere, by a relative path
    again = optimize("../project/quickstart.yaml")
    assert _fresh(again) == 0  # before: 600 paid again
    assert again.usage["this_attempt"]["completion"]["cached"] == 600
    assert again.run_dir.resolve().parent == project / "runs"
    assert again.result.policy.frame().equals(first.result.policy.frame())
    assert list((tmp_path / "b").iterdir()) == []


def test_resume_finds_the_runs_own_cache_from_anywhere(tmp_path, monkeypatch):
    project = tmp_path / "project"
    config = sim_project(project)
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(project)
    optimize(config, out=tmp_path / "run")
    monkeypatch.chdir(tmp_path / "a")
    resumed = optimize(config, resume=tmp_path / "run")
    assert resumed.usage["attempt"] == 2 and _fresh(resumed) == 0

    # the project copied to another directory still finds the run's cache (not the
    # copy's own, empty one): the run recorded it in summary.json
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project / "data", elsewhere / "data")
    data = yaml.safe_load(config.read_text())
    (elsewhere / "copy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    resumed = optimize(elsewhere / "copy.yaml", resume=tmp_path / "run")
    assert _fresh(resumed) == 0
    assert not (elsewhere / ".iapo-cache").exists()

    # a cache_dir changed on purpose is used (here: a new, empty cache)
    data["backend"]["cache_dir"] = "new-cache"
    (elsewhere / "copy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    resumed = optimize(elsewhere / "copy.yaml", resume=tmp_path / "run")
    assert _fresh(resumed) == 600 and (elsewhere / "new-cache").is_dir()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["cache_dir"] == str((elsewhere / "new-cache").resolve())


def test_record_default_output_is_next_to_the_config(tmp_path, monkeypatch):
    project = tmp_path / "project"
    config = sim_project(project, rows=20)
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    outcome = record(config, 1)
    assert outcome.path.resolve() == project / "runs" / "quickstart.replay.npz"
    assert outcome.path.is_file() and list((tmp_path / "a").iterdir()) == []
    shutil.rmtree(project / "runs")
    monkeypatch.chdir(tmp_path)
    again = record(config, 1)  # from another directory: all from the same cache
    assert again.usage["completion"]["fresh"] == 0


def test_evaluate_uses_the_cache_the_run_recorded(tmp_path, monkeypatch):
    # a run resumed from a copy of its config records that copy as its config_path; its
    # evaluation must still use the cache the run paid into (summary.json: cache_dir), not
    # an empty one next to the copy
    project = tmp_path / "project"
    config = sim_project(project)
    monkeypatch.chdir(project)
    optimize(config, out=tmp_path / "run")
    first = evaluate(tmp_path / "run")
    assert first.usage["completion"]["fresh"] > 0

    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project / "data", elsewhere / "data")
    shutil.copy(config, elsewhere / "copy.yaml")
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    optimize(elsewhere / "copy.yaml", resume=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config_path"] == str((elsewhere / "copy.yaml").resolve())
    again = evaluate(tmp_path / "run")
    assert again.usage["completion"]["fresh"] == 0  # before: every test sample paid again
    assert again.usage["completion"]["cached"] == first.usage["completion"]["completions"]
    assert not (elsewhere / ".iapo-cache").exists()
