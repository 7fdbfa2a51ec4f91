"""estimates.csv's trimmed_in_round and policy.csv's inference-agnostic columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from iapo_cli.artifacts import agnostic_choice, trimmed_rounds
from iapo_cli.evaluation import AGNOSTIC
from iapo_cli.run import evaluate, optimize
from tests.conftest import SMALL_SYNTHETIC, write_config


def _run(tmp, extra: str = ""):
    config = write_config(tmp / "c.yaml", SMALL_SYNTHETIC + extra)
    run = optimize(config, tmp / "run").run_dir
    return (run, pd.read_csv(run / "estimates.csv"), pd.read_csv(run / "trimming_log.csv"),
            pd.read_csv(run / "policy.csv"))


@pytest.fixture(scope="module")
def psst_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("psst"))


def test_every_arm_but_the_chosen_one_says_when_it_was_cut(psst_run):
    _, estimates, log, policy = psst_run
    assert "trimmed_in_round" in estimates.columns
    for row in policy.itertuples():
        part = estimates[estimates.context == row.context]
        survivors = part[part.trimmed_in_round.isna()]
        assert list(zip(survivors.prompt, survivors.n, strict=True)) == [(row.prompt, row.n)]
    cut = estimates.dropna(subset=["trimmed_in_round"])
    assert (cut.trimmed_in_round == cut.trimmed_in_round.round()).all()  # whole rounds
    for arm in cut.itertuples():
        rows = log[(log.context == arm.context) & (log.prompt == arm.prompt) &
                   (log.n == arm.n)]
        # in the race in every earlier round, cut in that one, never considered after
        assert rows["round"].max() == arm.trimmed_in_round
        assert not rows[rows["round"] == arm.trimmed_in_round].kept.iloc[0]
        assert rows[rows["round"] < arm.trimmed_in_round].kept.all()


def test_screening_cuts_every_n_of_a_screened_out_prompt(tmp_path):
    # screening looks at the smallest N only: the log lists N=1 alone for a prompt it drops
    _, estimates, log, _ = _run(tmp_path, "algorithm: {name: psst_topk, params: {k: 2}}\n")
    screen = log[log["round"] == 0]
    assert (screen.n == 1).all()
    for row in screen[~screen.kept].itertuples():
        arms = estimates[(estimates.context == row.context) & (estimates.prompt == row.prompt)]
        # only N=1 has samples: the N it never pulled have no row (issue 14: no empty rows)
        assert arms.n.tolist() == [1] and (arms.trimmed_in_round == 0).all()
    survivors = screen[screen.kept]
    assert len(survivors) == 2 * 2  # k prompts per context
    for row in survivors.itertuples():
        arms = estimates[(estimates.context == row.context) & (estimates.prompt == row.prompt)]
        assert (arms.trimmed_in_round.isna() | (arms.trimmed_in_round > 0)).all()


def test_an_algorithm_that_cuts_nothing_leaves_the_column_empty(tmp_path):
    _, estimates, _, _ = _run(tmp_path, "algorithm: {name: uniform}\n")
    assert estimates.trimmed_in_round.isna().all()
    assert np.isnan(trimmed_rounds(estimates, pd.DataFrame(
        columns=["round", "context", "prompt", "n", "kept"]))).all()


def test_agnostic_utility_is_the_agnostic_choice_in_the_policys_units(psst_run):
    run, estimates, _, policy = psst_run
    assert list(policy.columns[:9]) == [
        "context", "prompt", "n", "estimated_utility", "samples", "agnostic_prompt",
        "agnostic_n", "agnostic_utility", "task_utility_n1"]
    agnostic = evaluate(run).score(AGNOSTIC).choice
    ids = [f"p{i}" for i in range(6)]
    assert [ids[p] for p in agnostic.prompt] == list(policy.agnostic_prompt)
    assert (policy.agnostic_n == 1).all()
    cost_weight = {"free": 0.0, "costly": 2.0}
    for row in policy.itertuples():
        arm = estimates[(estimates.context == row.context) &
                        (estimates.prompt == row.agnostic_prompt) & (estimates.n == 1)].iloc[0]
        # cost included, as in estimated_utility: utility = task - weight x cost
        assert np.isclose(row.agnostic_utility, arm.utility)
        assert np.isclose(row.agnostic_utility,
                          arm.task_utility - cost_weight[row.context] * arm.cost)
        assert row.estimated_utility >= row.agnostic_utility - 1e-12  # PSST may pick it
        # the old value, kept under a name saying what it is: task only, one completion
        chosen = estimates[(estimates.context == row.context) &
                           (estimates.prompt == row.prompt) & (estimates.n == 1)].iloc[0]
        assert np.isclose(row.task_utility_n1, chosen.task_utility)
    costly = policy.set_index("context").loc["costly"]
    assert costly.agnostic_utility < costly.task_utility_n1 or \
        costly.agnostic_prompt != costly.prompt


def test_agnostic_choice_never_picks_a_prompt_without_an_estimate():
    estimates = pd.DataFrame({"context": ["a"] * 4 + ["b"] * 2,
                              "prompt": ["x", "y", "x", "y", "x", "y"],
                              "n": [1, 1, 2, 2, 1, 1],
                              "utility": [np.nan, 0.2, 0.9, 0.1, np.nan, np.nan]})
    choice = agnostic_choice(estimates)
    assert choice.loc["a"].tolist() == ["y", 1, 0.2]
    assert pd.isna(choice.loc["b"].agnostic_prompt)
    assert np.isnan(choice.loc["b"].agnostic_utility)


def test_choices_from_estimates_rank_by_the_unbiased_utility():
    # reported utilities are clipped to the objective's range: two arms above it tie at the
    # bound, and the first listed would win; the unbiased column keeps them apart
    import pandas as pd

    from iapo_cli.artifacts import agnostic_choice

    frame = pd.DataFrame({
        "context": ["c", "c", "c", "c"], "prompt": ["a", "b", "a", "b"], "n": [1, 1, 3, 3],
        "utility": [1.0, 1.0, 0.9, 0.8], "unbiased_utility": [1.05, 1.2, 0.9, 0.8]})
    choice = agnostic_choice(frame).loc["c"]
    assert choice.agnostic_prompt == "b" and choice.agnostic_utility == 1.0
    old_run = frame.drop(columns="unbiased_utility")  # written before clipping existed
    assert agnostic_choice(old_run).loc["c"].agnostic_prompt == "a"
