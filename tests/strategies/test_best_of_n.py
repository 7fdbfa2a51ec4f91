import itertools

import numpy as np

from iapo_cli.strategies import (
    BestOfN,
    ScorePull,
    combine,
    exact_best_of_n,
    subset_max,
)


def test_subset_max_equals_brute_force():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 8):
        scores = rng.normal(size=n)
        scores[0] = scores[-1]  # ties must not matter
        got = subset_max(scores[None])[0]
        want = [np.mean([max(s) for s in itertools.combinations(scores, k)])
                for k in range(1, n + 1)]
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_exact_best_of_n_matches_monte_carlo():
    rng = np.random.default_rng(1)
    probs = np.array([0.5, 0.3, 0.2])
    values = np.array([0.1, 0.9, 0.4])
    exact = exact_best_of_n(probs, values, 6)
    draws = rng.choice(3, p=probs, size=(200_000, 6))
    for n in (1, 3, 6):
        mc = values[draws[:, :n]].max(axis=1)
        assert abs(mc.mean() - exact[n - 1]) < 4 * mc.std() / np.sqrt(len(mc))


def test_subset_max_is_unbiased():
    rng = np.random.default_rng(2)
    probs = np.array([0.2, 0.5, 0.3])
    values = np.array([1.0, 0.0, 0.6])
    draws = values[rng.choice(3, p=probs, size=(50_000, 7))]
    est = subset_max(draws)
    exact = exact_best_of_n(probs, values, 7)
    sem = est.std(axis=0) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) < 4 * sem + 1e-12)


def test_best_of_n_estimate_weights_objectives_per_context():
    scores = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # one query, two completions, two objectives
    pull = ScorePull(scores, np.array([[2.0, 4.0]]), 2)
    weights = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    est = BestOfN(("a", "b")).estimate(pull, weights)
    np.testing.assert_allclose(est.task[0, :, 1], [1.0, 1.0, 0.5])  # max of both
    np.testing.assert_allclose(est.task[0, :, 0], [0.5, 0.5, 0.5])  # mean of one
    assert est.cost_per_completion[0] == 3.0
    util = combine(est.task, est.cost_per_completion[:, None], np.array([0.0, 0.1, 1.0]))
    np.testing.assert_allclose(util[0, :, 1], [1.0, 1.0 - 0.6, 0.5 - 6.0])
