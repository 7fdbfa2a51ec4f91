"""``evaluate`` on exact and live run directories."""

import json

import numpy as np
import pytest

from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError
from iapo_cli.evaluation import AGNOSTIC, ORACLE, ExactTable
from iapo_cli.run import evaluate, optimize, write_evaluation
from tests.conftest import SMALL_SYNTHETIC, live_config, write_config, write_sums


def test_exact_evaluation_matches_the_exact_table(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    run = optimize(config, tmp_path / "run").run_dir
    result = evaluate(run)
    assert result.method == "exact" and result.spent == 0
    env = synthetic("bernoulli-mv", prompts=6, queries=60, n_max=8, seed=3)
    split = json.loads((run / "split.json").read_text())
    policy = json.loads((run / "policy.json").read_text())["contexts"]
    contexts = result.contexts
    weights = {"free": 0.0, "costly": 2.0}
    from iapo_cli.backends import Contexts

    ctx = Contexts(contexts, np.ones((2, 1)), np.array([weights[c] for c in contexts]),
                   np.full(2, 0.5))
    q = ExactTable(env.backend, ctx).q(np.array(split["test"]))
    ids = env.backend.prompt_ids
    expected = [q[c, ids.index(row["prompt"]), row["n"] - 1] for c, row in enumerate(policy)]
    assert np.allclose(result.policy.value, expected)
    oracle = result.score(ORACLE)
    for score in result.scores:
        assert (score.value <= oracle.value + 1e-12).all()
    data = write_evaluation(result, min_acr=0.0)
    assert data["meets_min_acr"] is True
    assert (run / "evaluation.csv").read_text().startswith("comparison,context,prompt,n,")


def test_not_a_run_directory(tmp_path):
    with pytest.raises(ConfigError, match="is not a run directory"):
        evaluate(tmp_path)


def test_a_run_without_estimates_says_to_rerun_optimize(tmp_path):
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    run = optimize(config, tmp_path / "run").run_dir
    (run / "estimates.csv").unlink()  # as runs before estimates.csv existed
    with pytest.raises(ConfigError) as err:
        evaluate(run)
    assert str(err.value) == (f"RUN_DIR: {run} has no estimates.csv (written by iapo optimize "
                              "since version 0.3); rerun optimize")


@pytest.fixture
def live_run(tmp_path, loopback, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=30)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=3, budget=300)
    run = optimize(config, tmp_path / "run").run_dir
    return run, loopback


def test_live_evaluation_samples_test_queries_through_the_cache(live_run):
    run, server = live_run
    before = server.completions
    result = evaluate(run)
    assert result.method == "sampled"
    assert server.completions - before == result.spent > 0
    assert result.spent <= result.budget
    assert result.score(AGNOSTIC) is not None
    again = server.completions
    assert evaluate(run).spent == result.spent
    assert server.completions == again  # the rerun is served from the cache


def test_live_budget_too_small_and_oracle_when_affordable(live_run):
    run, _ = live_run
    with pytest.raises(ConfigError, match="cannot sample the policy once per test query"):
        evaluate(run, budget=1)
    full = evaluate(run, budget=10_000)
    assert full.score(ORACLE) is not None and not full.skipped
    assert full.spent == 3 * 8 * full.test_queries  # every prompt at N_max


def test_an_interrupted_run_is_evaluated_as_partial(tmp_path):
    from iapo_cli.run import Interrupted

    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)

    def stop(round_, rounds, spent, budget):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        optimize(config, tmp_path / "run", observer=stop)
    result = evaluate(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert result.partial and result.run_status == "interrupted"
    assert (result.run_spent, result.run_budget) == (summary["spent"], 600)
    assert result.min_acr_failure(None) is None
    assert result.min_acr_failure(-1.0).endswith("unless --allow-partial is given")
    assert result.min_acr_failure(-1.0, allow_partial=True) is None
    data = write_evaluation(result, min_acr=-1.0)
    assert data["meets_min_acr"] is False and data["partial"] is True
    complete = evaluate(optimize(config, tmp_path / "full").run_dir)
    assert not complete.partial and complete.min_acr_failure(-1.0) is None
