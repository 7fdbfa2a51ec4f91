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


# --- run directories with several models and USD estimates (issue 11) ---------------------

ARM_IDS = ["a@small", "b@small", "a@large", "b@large"]  # accuracy 0.3, 0.5, 0.7, 0.9
USD_PER_COMPLETION = {"small": 0.0002, "large": 0.003}


def _multi_model_run(tmp_path, priced: bool = True):
    """A replay run whose arm ids are "prompt@model" (as a multi-model backend's), its
    policy.json and estimates.csv rewritten as the engine writes them on such a backend:
    ``prompt`` the prompt id, a ``model`` column, and ``usd_per_query`` (NaN unpriced).
    Returns (run, the run's original single-id estimates)."""
    import pandas as pd

    from tests.conftest import write_replay_votes

    write_replay_votes(tmp_path / "r.npz", prompts=4, queries=40, samples=8,
                       prompt_ids=ARM_IDS)
    config = write_config(tmp_path / "c.yaml", """\
name: models
backend: {kind: replay, path: r.npz, n_max: 8}
scales: [1, 2, 4, 8]
contexts:
  - {name: free, weights: {correct: 1.0, cost: 0.0}}
  - {name: frugal, weights: {correct: 1.0, cost: 0.05}}
budget: 600
""")
    run = optimize(config, tmp_path / "run").run_dir
    original = pd.read_csv(run / "estimates.csv")
    split = original.prompt.str.rpartition("@")
    estimates = original.copy()
    estimates["prompt"] = split[0]
    estimates.insert(2, "model", split[2])
    estimates["usd_per_query"] = (estimates.model.map(USD_PER_COMPLETION) * estimates.n
                                  if priced else np.nan)
    estimates.to_csv(run / "estimates.csv", index=False)
    policy = json.loads((run / "policy.json").read_text())
    for row in policy["contexts"]:
        row["prompt"], _, row["model"] = row["prompt"].rpartition("@")
    (run / "policy.json").write_text(json.dumps(policy))
    return run, original


def test_multi_model_rows_map_back_to_their_arms(tmp_path):
    run, _ = _multi_model_run(tmp_path)
    result = evaluate(run)
    policy = json.loads((run / "policy.json").read_text())["contexts"]
    ids = list(result.prompt_ids)
    assert ids == ARM_IDS
    assert [ids[p] for p in result.policy.choice.prompt] == [
        f"{r['prompt']}@{r['model']}" for r in policy]
    data = write_evaluation(result)
    for item in data["comparisons"]:
        for ctx, p in zip(item["contexts"], item_arms(result, item["name"]), strict=True):
            assert f"{ctx['prompt']}@{ctx['model']}" == ids[p]
    header = (run / "evaluation.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["comparison", "context", "prompt", "model", "n"]
    assert "usd_per_1k_queries" in header


def item_arms(result, name):
    return list(result.score(name).choice.prompt)


def test_best_single_model_at_n1_and_cheapest_within_a_point(tmp_path):
    from iapo_cli.evaluation import BEST_MODEL_N1, CHEAPEST_NEAR_BEST

    run, original = _multi_model_run(tmp_path)
    result = evaluate(run)
    names = [s.choice.name for s in result.scores]
    assert names[-3:] == [BEST_MODEL_N1, CHEAPEST_NEAR_BEST, ORACLE]
    contexts = list(result.contexts)
    probs = dict(zip(contexts, result.probabilities, strict=True))
    # best single model at N=1, recomputed from estimates.csv by hand
    ones = original[original.n == 1].copy()
    ones["model"] = ones.prompt.str.rpartition("@")[2]
    best = ones.loc[ones.groupby(["model", "context"]).unbiased_utility.idxmax()]
    value = best.assign(w=best.context.map(probs) * best.unbiased_utility
                        ).groupby("model").w.sum()
    model = value.idxmax()
    expected = best[best.model == model].set_index("context").prompt
    chosen = result.score(BEST_MODEL_N1).choice
    assert [ARM_IDS[p] for p in chosen.prompt] == [expected[c] for c in contexts]
    assert (chosen.scale == 1).all()
    # cheapest within one point (0.01) of the best task utility, in USD
    priced = original.assign(usd=original.prompt.str.rpartition("@")[2].map(
        USD_PER_COMPLETION) * original.n)
    cheap = result.score(CHEAPEST_NEAR_BEST).choice
    for c, name in enumerate(contexts):
        rows = priced[(priced.context == name)].dropna(subset=["task_utility"])
        near = rows[rows.task_utility >= rows.task_utility.max() - 0.01]
        pick = near.sort_values(["usd", "task_utility"], ascending=[True, False]).iloc[0]
        assert (ARM_IDS[cheap.prompt[c]], cheap.scale[c]) == (pick.prompt, pick.n)
    # dollars per 1000 queries of every comparison, from the arm's USD estimate
    data = write_evaluation(result)
    for item in data["comparisons"]:
        usd = [ctx["usd_per_1k_queries"] for ctx in item["contexts"]]
        arms = [(ctx["model"], ctx["n"]) for ctx in item["contexts"]]
        assert usd == pytest.approx([1000 * USD_PER_COMPLETION[m] * n for m, n in arms])
        assert item["usd_per_1k_queries"] == pytest.approx(
            sum(p * u for p, u in zip(result.probabilities, usd, strict=True)))


def test_unpriced_models_rank_by_cost_units_and_show_no_dollars(tmp_path):
    from iapo_cli.evaluation import CHEAPEST_NEAR_BEST

    run, original = _multi_model_run(tmp_path, priced=False)
    result = evaluate(run)
    cheap = result.score(CHEAPEST_NEAR_BEST).choice
    for c, name in enumerate(result.contexts):
        rows = original[original.context == name].dropna(subset=["task_utility"])
        near = rows[rows.task_utility >= rows.task_utility.max() - 0.01]
        pick = near.sort_values(["cost", "task_utility"], ascending=[True, False]).iloc[0]
        assert (ARM_IDS[cheap.prompt[c]], cheap.scale[c]) == (pick.prompt, pick.n)
    data = write_evaluation(result)
    assert "usd_per_1k_queries" not in json.dumps(data)


def test_models_priced_at_zero_rank_by_cost_units(tmp_path):
    """A self-hosted model priced {input: 0, output: 0} makes every arm free in USD: the
    cheapest arm near the best is then the cheapest in cost units, not the largest N
    (found on a real small model: the frugal context's 'cheapest' arm was its dearest)."""
    import pandas as pd

    from iapo_cli.evaluation import CHEAPEST_NEAR_BEST

    run, original = _multi_model_run(tmp_path)
    estimates = pd.read_csv(run / "estimates.csv")
    estimates["usd_per_query"] = 0.0
    # every arm within half a point of the best, the dearer the better: what a free model
    # with more samples looks like
    estimates["task_utility"] = 0.9 + 0.005 * estimates["cost"] / estimates["cost"].max()
    estimates.to_csv(run / "estimates.csv", index=False)
    result = evaluate(run)
    cheap = result.score(CHEAPEST_NEAR_BEST).choice
    for c, name in enumerate(result.contexts):
        rows = estimates[estimates.context == name]
        pick = rows.sort_values(["cost", "task_utility"], ascending=[True, False]).iloc[0]
        assert (f"{pick.prompt}@{pick.model}", pick.n) == (ARM_IDS[cheap.prompt[c]],
                                                            cheap.scale[c])
        assert pick.cost < rows.cost.max()


def test_a_run_without_models_or_prices_evaluates_as_before(tmp_path):
    from iapo_cli.evaluation import AGNOSTIC_BEST_N, POLICY, SINGLE_ARM

    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC)
    run = optimize(config, tmp_path / "run").run_dir
    data = write_evaluation(evaluate(run))
    assert [c["name"] for c in data["comparisons"]] == [POLICY, AGNOSTIC, AGNOSTIC_BEST_N,
                                                        SINGLE_ARM, ORACLE]
    assert list(data["comparisons"][0]) == ["name", "description", "acr", "acr_sem",
                                            "regret", "gain_captured", "contexts"]
    assert list(data["comparisons"][0]["contexts"][0]) == [
        "context", "probability", "prompt", "n", "value", "sem"]
    assert (run / "evaluation.csv").read_text().splitlines()[0] == (
        "comparison,context,prompt,n,value,sem,regret,gain_captured")


def test_live_cheapest_arm_is_sampled_within_the_evaluate_budget(live_run):
    import pandas as pd

    from iapo_cli.evaluation import CHEAPEST_NEAR_BEST

    run, server = live_run
    estimates = pd.read_csv(run / "estimates.csv")
    estimates["usd_per_query"] = 0.001 * estimates.n  # priced: the comparison appears
    estimates.to_csv(run / "estimates.csv", index=False)
    before = server.completions
    result = evaluate(run)
    assert result.score(CHEAPEST_NEAR_BEST) is not None
    assert server.completions - before == result.spent <= result.budget
    # a budget for the policy alone: the comparison is read only from what that samples
    policy = result.policy.choice
    need = np.zeros(len(result.prompt_ids), dtype=int)
    np.maximum.at(need, policy.prompt, policy.scale)
    least = int(need.sum()) * result.test_queries
    tight = evaluate(run, budget=least)
    assert tight.spent <= least
    cheap = result.score(CHEAPEST_NEAR_BEST).choice
    covered = (cheap.scale <= need[cheap.prompt]).all()
    assert (tight.score(CHEAPEST_NEAR_BEST) is not None) == covered
    assert (CHEAPEST_NEAR_BEST in tight.skipped) == (not covered)


def test_comparisons_and_the_oracle_keep_within_each_contexts_caps(tmp_path):
    """A context capped at N=2 is compared with recipes, and an oracle, it could deploy:
    none above N=2 (uncapped, the oracle of the free context goes above it)."""
    text = SMALL_SYNTHETIC.replace(
        "  - {name: free, weights: {correct: 1.0, cost: 0.0}}\n",
        "  - {name: free, weights: {correct: 1.0, cost: 0.0}}\n"
        "  - {name: small-n, weights: {correct: 1.0, cost: 0.0}, max_n: 2}\n")
    config = write_config(tmp_path / "c.yaml", text)
    optimize(config, out=tmp_path / "run", budget=2000)
    result = evaluate(tmp_path / "run")
    capped = list(result.contexts).index("small-n")
    free = list(result.contexts).index("free")
    names = [score.choice.name for score in result.scores]
    assert ORACLE in names and AGNOSTIC in names
    for score in result.scores:
        assert score.choice.scale[capped] <= 2, score.choice.name
    oracle = result.scores[names.index(ORACLE)].choice
    assert oracle.scale[free] > 2


def test_within_caps_masks_by_n_and_by_estimated_usd():
    from iapo_cli.backends import Contexts
    from iapo_cli.run._evaluate import within_caps

    contexts = Contexts(("a", "b", "c"), np.ones((3, 1)), np.zeros(3), np.full(3, 1 / 3),
                        max_usd=np.array([np.nan, 0.002, 1e-9]), max_n=np.array([2, 0, 0]))
    scales = np.array([1, 2, 4])
    usd = np.broadcast_to(np.array([[0.001, 0.002, 0.004]]), (3, 1, 3))
    ok = within_caps(contexts, scales, usd, (3, 1, 3))
    assert ok[0, 0].tolist() == [True, True, False]  # max_n 2
    assert ok[1, 0].tolist() == [True, True, False]  # $0.002 per query at most
    assert ok[2, 0].tolist() == [True, True, True]  # no arm meets it: all kept
    assert within_caps(Contexts(("a",), np.ones((1, 1)), np.zeros(1), np.ones(1)), scales,
                       None, (1, 1, 3)) is None
