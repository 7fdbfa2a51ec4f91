import json

import numpy as np
import pandas as pd
import pytest
import yaml

from iapo_cli.artifacts import RUN_FILES
from iapo_cli.run import Interrupted, optimize
from tests.conftest import SMALL_SYNTHETIC, write_config


def test_writes_the_run_directory(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    outcome = optimize(config, out=tmp_path / "run", budget=700, seed=5)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert (summary["budget"], summary["seed"]) == (700, 5)
    assert summary["spent"] == 700 == outcome.result.spent
    assert yaml.safe_load((run / "config.yaml").read_text())["budget"] == 700
    log = pd.read_csv(run / "trimming_log.csv")
    assert list(log.columns) == ["round", "context", "prompt", "n", "estimate", "samples", "kept"]
    assert set(log.context) == {"free", "costly"}
    policy = json.loads((run / "policy.json").read_text())
    assert [c["context"] for c in policy["contexts"]] == ["free", "costly"]
    assert policy["contexts"][1]["weights"] == {"correct": 1.0, "cost": 2.0}
    table = pd.read_csv(run / "policy.csv")
    assert table.n.between(1, 8).all() and len(table) == 2
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) == 48 and len(split["test"]) == 12
    assert not set(split["train"]) & set(split["test"])


def test_default_run_directory_is_named_and_stamped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    first = optimize(config).run_dir
    second = optimize(config).run_dir
    assert first.parent.name == "runs" and first.name.startswith("small-")
    assert first != second  # never overwrites an earlier run


def test_same_seed_same_policy(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    a = optimize(config, out=tmp_path / "a").result.policy.frame()
    b = optimize(config, out=tmp_path / "b").result.policy.frame()
    assert a.equals(b)


def test_interrupt_saves_what_was_done(tmp_path, monkeypatch):
    from iapo_cli.backends import _categorical

    calls = {"n": 0}
    original = _categorical.CategoricalVotes.sample

    def flaky(self, prompt, queries, n, rng):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return original(self, prompt, queries, n, rng)

    monkeypatch.setattr(_categorical.CategoricalVotes, "sample", flaky)
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    with pytest.raises(Interrupted) as err:
        optimize(config, out=tmp_path / "run")
    assert err.value.run_dir == tmp_path / "run"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert 0 < summary["spent"] < 600
    assert json.loads((tmp_path / "run" / "policy.json").read_text())["status"] == "interrupted"
    assert np.isfinite(pd.read_csv(tmp_path / "run" / "policy.csv").samples).all()


def test_a_budget_in_cost_units_is_kept_recorded_and_stored(tmp_path):
    """``budget: {cost: X}`` on an offline env with per-completion costs: spent within
    [0.95 X, X], summary.json says the unit and the completions, config.yaml keeps the
    mapping (so a resume reads the same budget)."""
    config = write_config(tmp_path / "c.yaml",
                          SMALL_SYNTHETIC.replace("budget: 600", "budget: {cost: 3.0}"))
    outcome = optimize(config, out=tmp_path / "run", seed=2)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["budget_unit"] == "cost" and summary["budget"] == 3.0
    assert 0.95 * 3.0 <= summary["spent"] == outcome.result.spent <= 3.0
    assert summary["completions"] == outcome.result.completions > 0
    stored = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert stored["budget"] == {"cost": 3.0}
    assert not pd.read_csv(tmp_path / "run" / "policy.csv").estimated_utility.isna().any()


def test_an_interrupted_run_with_a_cost_budget_resumes_to_the_same_result(tmp_path,
                                                                          monkeypatch):
    """The stored ``budget: {cost: X}`` compares equal on resume, and the resumed run ends
    where an uninterrupted one does."""
    text = SMALL_SYNTHETIC.replace("budget: 600", "budget: {cost: 3.0}")
    config = write_config(tmp_path / "c.yaml", text)
    whole = optimize(config, out=tmp_path / "whole", seed=2)
    calls = []

    def stop_in_round_two(round_, rounds, spent, budget):
        calls.append(spent)
        if round_ == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        optimize(config, out=tmp_path / "cut", seed=2, observer=stop_in_round_two)
    # nothing is spent after Ctrl-C (writing the files of a stopped run draws nothing)
    cut = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert cut["status"] == "interrupted" and cut["spent"] == calls[-1] < 3.0
    resumed = optimize(config, seed=2, resume=tmp_path / "cut")
    assert resumed.result.spent == pytest.approx(whole.result.spent)
    assert (resumed.result.policy.prompt == whole.result.policy.prompt).all()


def test_a_bug_during_training_keeps_its_traceback_and_marks_the_run_failed(tmp_path,
                                                                            monkeypatch):
    """A live run's summary said 'running' forever after a bug (found on a real model: a
    crash while announcing the plan); now it says failed, with the error, and the bug
    itself propagates as it is (the command line shows its traceback under --debug)."""
    from iapo_cli.algorithms import PSST

    from .sim_project import sim_project

    config = sim_project(tmp_path / "p", budget=200)

    def broken(self, trainer):
        trainer.pull_paired([(0, 2)], 3)
        raise RuntimeError("a bug")

    monkeypatch.setattr(PSST, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        optimize(config, out=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == "RuntimeError: a bug"
    assert summary["completions"] == 6  # what was served is on record
