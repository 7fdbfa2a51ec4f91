"""Exact values without an array per context (issue 14): the same numbers as the dense
product, for the test queries alone."""

from __future__ import annotations

import numpy as np

from iapo_cli.backends import CategoricalVotes, Contexts
from iapo_cli.evaluation import ExactTable, PerQueryValues, oracle_choice, score_choice
from iapo_cli.evaluation._compare import Choice
from iapo_cli.strategies import MajorityVote


def _backend_and_contexts(prompts=4, queries=30, answers=5, n_max=8, contexts=6):
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(answers), size=(prompts, queries))
    gold = rng.integers(0, answers, queries)
    backend = CategoricalVotes(probs, gold, rng.uniform(0.1, 1, prompts), n_max,
                               tuple(f"p{i}" for i in range(prompts)))
    backend.strategy = MajorityVote()
    weights = rng.uniform(0.2, 1, (contexts, 1))
    ctx = Contexts(tuple(f"c{i}" for i in range(contexts)), weights,
                   rng.uniform(0, 0.05, contexts), np.full(contexts, 1 / contexts))
    return backend, ctx


def test_per_objective_table_gives_the_dense_numbers():
    backend, contexts = _backend_and_contexts()
    table = ExactTable(backend, contexts)
    task = backend.exact_task(contexts.task_weights)  # (C, P, X, n): the dense way
    cost = table.cost
    queries = np.array([3, 7, 8, 20, 29])
    dense_q = task[:, :, queries].mean(axis=2) - contexts.cost_weights[:, None, None] * \
        cost[:, queries].mean(axis=1)[None]
    np.testing.assert_array_equal(table.q(queries), dense_q)
    dense = task[:, :, queries] - contexts.cost_weights[:, None, None, None] * \
        cost[None, :, queries]
    every = np.stack([table.context_values(c, queries) for c in range(len(contexts))])
    np.testing.assert_array_equal(every, dense)
    np.testing.assert_array_equal(table.arm_values(2, 1, 5, queries), dense[2, 1, :, 5])


def test_a_table_of_the_test_queries_alone_computes_only_them(monkeypatch):
    backend, contexts = _backend_and_contexts()
    whole = ExactTable(backend.__class__(backend.probs, backend.gold, backend.cost,
                                         backend.n_max, backend.prompt_ids), contexts)
    test = np.array([1, 4, 9, 16, 25])
    rows = []
    original = backend.strategy.exact_credit
    monkeypatch.setattr(backend.strategy, "exact_credit",
                        lambda probs, gold, n: rows.append(len(probs)) or original(probs,
                                                                                   gold, n))
    alone = ExactTable(backend, contexts, queries=test)
    assert rows == [4 * len(test)]  # prompts x test queries, not every query
    positions = np.arange(len(test))
    for c in range(len(contexts)):
        np.testing.assert_array_equal(alone.context_values(c, positions),
                                      whole.context_values(c, test))


def test_test_values_one_arm_at_a_time_score_like_the_array():
    backend, contexts = _backend_and_contexts()
    table = ExactTable(backend, contexts)
    test = np.arange(10, 30)
    scales = np.array([1, 3, 5, 8])
    dense = np.stack([table.context_values(c, test)
                      for c in range(len(contexts))])[..., scales - 1]
    lazy = PerQueryValues(len(contexts), lambda c: table.context_values(c, test)[..., scales - 1],
                      per_arm=lambda c, p, s: table.arm_values(c, p, scales[s] - 1, test))
    choice = Choice("x", np.array([0, 1, 2, 3, 0, 1]), np.array([1, 3, 5, 8, 8, 5]))
    probabilities = contexts.probabilities
    a, b = (score_choice(v, scales, probabilities, choice) for v in (dense, lazy))
    np.testing.assert_array_equal(a.value, b.value)
    assert a.acr == b.acr
    allowed = np.ones(dense.shape[:2] + dense.shape[3:], dtype=bool)
    allowed[:, 0] = False  # prompt 0 out of reach everywhere
    masked = np.where(allowed[:, :, None, :], dense, np.nan)
    assert (oracle_choice(masked, scales).prompt
            == oracle_choice(lazy.masked(allowed), scales).prompt).all()
    assert np.isnan(lazy.masked(allowed).chosen(choice.prompt, np.zeros(6, int))[0]).all()
