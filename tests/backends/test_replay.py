"""Replay files: written columns, validation, sampling with replacement, exact values."""

from __future__ import annotations

import numpy as np
import pytest

from iapo_cli.backends import compact_votes, load_environment, load_replay, write_replay
from iapo_cli.errors import ConfigError
from iapo_cli.strategies import subset_credit


def votes_file(path, prompts=2, queries=3, samples=4):
    rows = np.array([(p, x, m) for p in range(prompts) for x in range(queries)
                     for m in range(samples)])
    # prompt 0 always says "7"; prompt 1 says "7" or "8" or gives no answer
    answer = np.where(rows[:, 0] == 0, "7", np.where(rows[:, 2] % 2 == 0, "8", "7"))
    has = ~((rows[:, 0] == 1) & (rows[:, 2] == 3))
    columns = {
        "query_ids": np.array([f"q{i}" for i in range(queries)]),
        "target": np.array(["7", "8", ""]),
        "prompt": rows[:, 0], "query": rows[:, 1], "slot": rows[:, 2],
        "text": np.array([f"Answer: {a}" for a in answer]), "answer": answer,
        "has_answer": has, "scores": np.zeros((len(rows), 1)),
        "cost": np.where(rows[:, 0] == 0, 1.0, 3.0),
    }
    meta = {"name": "t", "strategy": "majority_vote", "objectives": ["correct"],
            "prompt_ids": [f"p{i}" for i in range(prompts)], "samples": samples}
    return write_replay(path, meta, columns), columns, meta


def test_exact_values_follow_the_recorded_answers(tmp_path):
    path, _, _ = votes_file(tmp_path / "r.npz")
    env = load_environment(path)
    backend = env.backend
    task = backend.exact_task(np.array([[1.0]]))[0]  # (P, X, n_max)
    assert task.shape == (2, 3, 4)
    assert task[0, 0].tolist() == [1, 1, 1, 1]  # always right on query 0
    assert task[0, 1].tolist() == [0, 0, 0, 0]  # always "7", gold is "8"
    assert task[:, 2].max() == 0  # no gold
    # prompt 1 on query 0: answers 8, 7, 8, none -> P(gold "7") = 1/4 at N=1
    assert task[1, 0, 0] == pytest.approx(0.25)
    assert backend.exact_cost().tolist() == [[1, 1, 1], [3, 3, 3]]


def test_sampling_with_replacement_matches_exact_values(tmp_path):
    path, _, _ = votes_file(tmp_path / "r.npz")
    backend = load_replay(path, n_max=5).backend
    rng = np.random.default_rng(0)
    pull = backend.sample(1, np.zeros(20000, dtype=int), 5, rng)
    assert pull.counts.sum(axis=1).tolist() == [5] * 20000
    assert pull.cost.tolist() == [15.0] * 20000
    credit = subset_credit(pull.counts, pull.gold).mean(axis=0)
    exact = backend.exact_task(np.array([[1.0]]))[0, 1, 0]
    assert np.allclose(credit, exact, atol=0.01)


def test_compact_votes_keeps_gold_and_drops_empty_columns():
    counts = np.array([[0, 2, 0, 1], [3, 0, 0, 0]])
    packed, gold = compact_votes(counts, np.array([3, 2]))
    assert packed.tolist() == [[2, 1], [3, 0]]
    assert gold.tolist() == [1, -1]


def test_incomplete_or_foreign_files_are_config_errors(tmp_path):
    path, columns, meta = votes_file(tmp_path / "r.npz")
    short = {k: (v[:-1] if len(v) == 24 else v) for k, v in columns.items()}
    write_replay(tmp_path / "short.npz", meta, short)
    with pytest.raises(ConfigError, match="needs exactly 4 completions for each of 2 prompts"):
        load_replay(tmp_path / "short.npz")
    dup = {**columns, "slot": np.zeros(24, dtype=int)}
    write_replay(tmp_path / "dup.npz", meta, dup)
    with pytest.raises(ConfigError, match="appears twice"):
        load_replay(tmp_path / "dup.npz")
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "x"}'))
    with pytest.raises(ConfigError, match="not an iapo-replay file"):
        load_replay(tmp_path / "other.npz")
