import numpy as np
import pytest

from iapo_cli.strategies._pooled import (
    DUEL_STEPS,
    duel_table,
    profile_credit,
    vote_profiles,
)
from iapo_cli.strategies._votes import exact_majority_vote


def test_the_duel_table_is_exact_for_gold_against_one_answer():
    """Two answers only (nothing scattered): the random walk is the exact credit."""
    shares = np.array([[0.5, 0.5], [0.7, 0.3], [0.3, 0.7], [1.0, 0.0], [0.0, 1.0]])
    steps = np.rint(shares * DUEL_STEPS).astype(int)
    table = duel_table(9)[steps[:, 0], steps[:, 1]]
    assert np.allclose(table, exact_majority_vote(shares, np.zeros(5, int), 9))


def test_the_duel_table_at_n1_is_the_gold_share_and_scattered_votes_never_tie():
    table = duel_table(5)
    i = np.arange(DUEL_STEPS + 1)
    assert np.allclose(table[i, 0, 0], i / DUEL_STEPS)
    # gold 0.2 against scattered answers only: gold wins with one vote or more
    assert np.allclose(table[20, 0], 1 - 0.8 ** np.arange(1, 6))
    assert np.isnan(table[60, 60]).all()  # outside the simplex


def test_profile_credit_is_close_to_the_exact_credit_of_several_answers():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=300)
    exact = exact_majority_vote(probs, np.zeros(300, int), 16)
    shares = np.column_stack([probs[:, 0], -np.sort(-probs[:, 1:], axis=1)])
    approx = profile_credit(shares, 16)
    assert approx.shape == (300, 16)
    assert np.allclose(approx[:, 0], probs[:, 0], atol=0.006)  # N=1: the gold share
    # answers drawn flat over the simplex are often close races of three or four, where
    # multiplying duels counts gold's wins a little short
    assert np.sqrt(((approx - exact) ** 2).mean()) < 0.05
    assert -0.03 < (approx - exact).mean() < 0


def test_vote_profiles_rank_the_wrong_answers_and_count_every_vote():
    counts = np.array([[2, 1, 0, 5, 1, 1, 1], [0, 3, 0, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0]])
    gold = np.array([0, -1, 0])
    profiles = vote_profiles(counts, gold, width=3)
    assert profiles.tolist() == [[2, 5, 1, 1, 11], [0, 3, 0, 0, 3], [4, 0, 0, 0, 4]]


@pytest.mark.parametrize("n_max", [1, 2, 33])
def test_duel_tables_of_any_size(n_max):
    assert duel_table(n_max).shape == (DUEL_STEPS + 1, DUEL_STEPS + 1, n_max)
