"""Adaptive majority voting: the stopping rule, its estimators and exact values, and the
strategy end to end (optimize, evaluate, record/replay) through the registry alone."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from iapo_cli.backends import load_replay
from iapo_cli.run import evaluate, optimize, record
from iapo_cli.strategies import STRATEGIES, AdaptiveVote, MajorityVote, VotePull
from iapo_cli.strategies._adaptive_vote import stopping_times
from tests.conftest import SMALL_SYNTHETIC, live_config, write_config, write_sums


def brute_force_draws(probs: np.ndarray, n_max: int) -> np.ndarray:
    """Expected stopping time at every cap by enumerating every answer sequence."""
    out = np.zeros(n_max)
    for seq in itertools.product(range(len(probs)), repeat=n_max):
        weight = np.prod(probs[list(seq)])
        out += weight * stopping_times(np.array([seq]), len(probs))[0]
    return out


def test_the_rule_stops_once_the_vote_is_decided():
    times = stopping_times(np.array([[0, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 1]]), 2)
    # all agree: at cap 5 the third vote decides (lead 3 > 2 left)
    assert times[0].tolist() == [1, 2, 2, 3, 3]
    # alternating answers never lead by more than one: every cap is drawn in full
    assert times[1].tolist() == [1, 2, 3, 4, 5]
    # two agreeing votes decide cap 3 (lead 2 > 1 left), not cap 4 or 5
    assert times[2].tolist() == [1, 2, 2, 4, 5]


def test_exact_draws_match_enumeration():
    probs = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    exact = AdaptiveVote().expected_draws(probs, np.array([0, 0]), 6)
    for row in range(2):
        truth = brute_force_draws(probs[row], 6)
        # Monte Carlo over 512 sequences; the stopping time at cap 6 has sd < 1.6, so 0.25
        # is about 4 standard errors
        assert np.all(np.abs(exact[row] - truth) < 0.25)
        np.testing.assert_allclose(truth[:2], [1, 2])  # caps 1 and 2 always draw in full
        np.testing.assert_allclose(exact[row, :2], [1, 2])


def test_expected_stops_are_unbiased_for_every_smaller_cap():
    rng = np.random.default_rng(1)
    probs = np.array([0.6, 0.3, 0.1])
    counts = rng.multinomial(8, probs, size=4000)
    pull = VotePull(counts, np.zeros(4000, dtype=np.int64), np.full(4000, 8.0), 8)
    estimate = AdaptiveVote().expected_stops(pull).mean(axis=0)
    truth = brute_force_draws(probs, 8)
    assert np.all(np.abs(estimate - truth) < 0.05)


def test_task_utility_is_majority_votings_and_cost_is_what_is_drawn():
    counts = np.array([[5, 0], [3, 2], [0, 5]])
    pull = VotePull(counts, np.array([0, 0, 0]), np.full(3, 10.0), 5)  # 2 per completion
    weights = np.array([[1.0]])
    adaptive = AdaptiveVote().estimate(pull, weights)
    majority = MajorityVote().estimate(pull, weights)
    np.testing.assert_allclose(adaptive.task, majority.task)
    k = np.arange(1, 6)
    assert np.all(adaptive.cost <= 2.0 * k + 1e-12)
    np.testing.assert_allclose(adaptive.cost[:, :2], majority.cost[:, :2])  # N <= 2: full
    # unanimous rows stop as early as the rule allows: cap 5 after 3 draws
    np.testing.assert_allclose(adaptive.cost[0], 2.0 * np.array([1, 2, 2, 3, 3]))
    assert adaptive.cost[1, 4] > adaptive.cost[0, 4]


def test_optimize_and_evaluate_exactly_on_a_synthetic_backend(tmp_path):
    assert STRATEGIES["adaptive_vote"] is AdaptiveVote
    config = write_config(tmp_path / "c.yaml", SMALL_SYNTHETIC + "strategy: adaptive_vote\n")
    outcome = optimize(config, tmp_path / "run")
    assert outcome.resolved.problem.backend.strategy.name == "adaptive_vote"
    policy = json.loads((tmp_path / "run" / "policy.json").read_text())
    assert policy["strategy"] == "adaptive_vote"
    # arm costs are what the rule draws: below N completions' worth at N = 8
    frame = pd.read_csv(tmp_path / "run" / "estimates.csv")
    seen = frame[(frame.context == "free") & (frame.samples > 0)]
    one = seen[seen.n == 1].set_index("prompt").cost
    eight = seen[seen.n == 8].set_index("prompt").cost
    shared = eight.index.intersection(one.index)
    assert len(shared) and (eight[shared] < 8 * one[shared]).all()
    result = evaluate(tmp_path / "run")
    assert result.method == "exact" and 0 < result.policy.acr <= 1
    assert result.as_dict()["strategy"] == "adaptive_vote"
    # the exact cost at N is what the rule draws, so the same arm is cheaper than voting
    env = outcome.resolved.env
    draws = env.backend.exact_draws()
    assert draws.shape == (6, 60, 8) and (draws[:, :, 7] < 8).all()


def test_record_replay_and_live_evaluate(tmp_path, loopback, api_key):
    data = write_sums(tmp_path / "sums.jsonl", count=30)
    config = live_config(tmp_path / "live.yaml", loopback.url, data, prompts=3, budget=240)
    text = config.read_text().replace("strategy: majority_vote", "strategy: adaptive_vote")
    config.write_text(text)
    outcome = record(config, 6, tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as f:
        meta = json.loads(str(f["meta"]))
        assert meta["strategy"] == "adaptive_vote" and f["answer"].shape == (outcome.completions,)
    assert load_replay(tmp_path / "r.npz").backend.strategy.name == "adaptive_vote"
    replay = write_config(tmp_path / "replay.yaml", """\
name: replayed
backend: {kind: replay, path: r.npz, n_max: 6}
contexts:
  - {name: costly, weights: {correct: 1.0, cost: 0.05}}
budget: 300
""")
    before = loopback.requests
    run = optimize(replay, out=tmp_path / "replay-run")
    assert run.result.spent == 300 and loopback.requests == before
    assert json.loads((tmp_path / "replay-run" / "policy.json").read_text())[
        "strategy"] == "adaptive_vote"
    assert evaluate(tmp_path / "replay-run").method == "exact"
    live = optimize(config, out=tmp_path / "live-run")
    assert live.result.spent == 240
    sampled = evaluate(tmp_path / "live-run")
    assert sampled.method == "sampled" and 0 <= sampled.policy.acr <= 1


def test_a_score_backend_refuses_it(tmp_path):
    from iapo_cli.errors import ConfigError
    from iapo_cli.run import validate

    config = write_config(tmp_path / "c.yaml", """\
name: bon
backend: {kind: synthetic, family: bon-grid, prompts: 4, queries: 30, n_max: 4}
strategy: adaptive_vote
budget: 200
""")
    with pytest.raises(ConfigError, match="the synthetic backend uses 'best_of_n', not "
                                          "'adaptive_vote'"):
        validate(config)
