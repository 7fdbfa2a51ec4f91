"""Choosing the comparisons from training estimates, and scoring them on test queries."""

import numpy as np

from iapo_cli.evaluation import (
    AGNOSTIC,
    AGNOSTIC_BEST_N,
    POLICY,
    SINGLE_ARM,
    Choice,
    comparison_choices,
    gain_captured,
    oracle_choice,
    score_choice,
)

SCALES = np.array([1, 2, 4])
PROBS = np.array([0.5, 0.5])


def test_comparisons_come_from_training_estimates():
    train = np.full((2, 3, 3), 0.1)
    train[0, 1, 0], train[1, 2, 0] = 0.6, 0.5  # best at N=1: prompt 1 (ctx 0), 2 (ctx 1)
    train[0, 1, 2], train[1, 2, 2] = 0.9, 0.8  # both best at N=4
    train[:, 0, 1] = 0.7  # prompt 0 at N=2: the best arm on average
    train[1, 1, 1] = np.nan  # no estimate: never chosen
    policy = Choice(POLICY, np.array([1, 2]), np.array([4, 4]))
    choices = {c.name: c for c in comparison_choices(train, SCALES, PROBS, policy)}
    assert choices[AGNOSTIC].prompt.tolist() == [1, 2]
    assert choices[AGNOSTIC].scale.tolist() == [1, 1]
    assert choices[AGNOSTIC_BEST_N].scale.tolist() == [4, 4]
    assert choices[SINGLE_ARM].prompt.tolist() == [0, 0]  # 0.7 > (0.9 + 0.1) / 2
    assert choices[SINGLE_ARM].scale.tolist() == [2, 2]


def test_scores_and_standard_errors_over_test_queries():
    test = np.zeros((2, 2, 4, 3))  # (C, P, X, S)
    test[0, 1, :, 2] = [1.0, 0.0, 1.0, 0.0]
    test[1, 0, :, 0] = [0.5, 0.5, 0.5, 0.5]
    score = score_choice(test, SCALES, PROBS, Choice("x", np.array([1, 0]), np.array([4, 1])))
    assert np.allclose(score.value, [0.5, 0.5])
    assert np.isclose(score.sem[0], np.std([1, 0, 1, 0], ddof=1) / 2)
    assert score.sem[1] == 0
    assert np.isclose(score.acr, 0.5)
    returns = 0.5 * np.array([1, 0, 1, 0]) + 0.25
    assert np.isclose(score.acr_sem, returns.std(ddof=1) / 2)


def test_oracle_takes_the_best_test_arm_and_skips_missing_ones():
    test = np.zeros((1, 2, 3, 3))
    test[0, 0, :, 1] = 0.4
    test[0, 1, :, 2] = np.nan  # not sampled
    oracle = oracle_choice(test, SCALES)
    assert (oracle.prompt.tolist(), oracle.scale.tolist()) == ([0], [2])


def test_gain_captured():
    assert np.isclose(gain_captured(0.8, 0.6, 1.0), 0.5)
    assert np.isnan(gain_captured(0.8, 0.6, 0.6))
