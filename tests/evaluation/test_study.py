import numpy as np
import pandas as pd

from iapo_cli.backends import synthetic
from iapo_cli.evaluation import AlgorithmSpec, ExactTable, run_study, split_queries, summarize


def test_split_is_deterministic_and_disjoint():
    train, test = split_queries(50, 3, 7)
    again = split_queries(50, 3, 7)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert len(train) == 40 and len(test) == 10 and not set(train) & set(test)
    assert not np.array_equal(test, split_queries(50, 3, 8)[1])


def test_exact_q_includes_cost():
    env = synthetic("bernoulli-mv", prompts=3, queries=20, n_max=5)
    table = ExactTable(env.backend, env.contexts)
    q = table.q(np.arange(20))
    credit = env.backend.exact_credit().mean(axis=1)  # (P, N)
    cost = env.backend.cost
    for c, w in enumerate(env.contexts.cost_weights):
        np.testing.assert_allclose(q[c], credit - w * np.arange(1, 6) * cost[:, None])


def test_study_rows_and_summary():
    env = synthetic("bernoulli-mv", prompts=5, queries=40, n_max=8)
    specs = [AlgorithmSpec("psst"), AlgorithmSpec("uniform")]
    results = run_study(env, specs, [200, 400], runs=6, seed=1, workers=2)
    assert len(results) == 2 * 2 * 6
    assert (results.spent <= results.budget).all()
    assert (results.regret >= -1e-12).all()
    assert np.allclose(results.oracle - results.acr, results.regret)
    again = run_study(env, specs, [200, 400], runs=6, seed=1, workers=1)
    pd.testing.assert_frame_equal(results.drop(columns="seconds"),
                                  again.drop(columns="seconds"))
    summary = summarize(results)
    assert set(summary.algorithm) == {"psst", "uniform"}
    assert summary.loc[summary.algorithm == "psst", "p_vs_psst"].isna().all()
    assert summary.loc[summary.algorithm == "uniform", "p_vs_psst"].between(0, 1).all()


def test_interrupted_study_keeps_finished_runs(monkeypatch):
    import pytest

    from iapo_cli.evaluation import StudyInterrupted, _study

    env = synthetic("bernoulli-mv", prompts=4, queries=30, n_max=4)
    original = _study._run_one

    def stop_at_third(run):
        if run == 2:
            raise KeyboardInterrupt
        return original(run)

    monkeypatch.setattr(_study, "_run_one", stop_at_third)
    with pytest.raises(StudyInterrupted) as err:
        run_study(env, [AlgorithmSpec("psst")], [100], runs=5, workers=1)
    assert sorted(err.value.partial.run.unique()) == [0, 1]
    assert set(err.value.partial.columns) >= {"acr", "regret", "spent"}
