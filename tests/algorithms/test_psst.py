import numpy as np

from iapo_cli.algorithms import PSST, Problem, keep_best
from iapo_cli.backends import CategoricalVotes, Contexts
from iapo_cli.evaluation import ExactTable, score_policy


def clear_env(queries=60):
    """Prompt 2 is best everywhere; cost makes N matter for the second context."""
    acc = np.array([0.55, 0.6, 0.8, 0.5])
    p = np.repeat(acc[:, None], queries, axis=1)
    probs = np.stack([p, (1 - p) * 0.6, (1 - p) * 0.4], axis=2)
    backend = CategoricalVotes(probs, np.zeros(queries, dtype=int), np.full(4, 0.01), 16)
    contexts = Contexts(("free", "costly"), np.ones((2, 1)), np.array([0.0, 3.0]),
                        np.array([0.5, 0.5]))
    return backend, contexts


def test_psst_finds_the_best_arms_with_enough_budget():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    q = ExactTable(backend, contexts).q(np.arange(60))
    regrets = []
    for seed in range(10):
        result = PSST().fit(problem, 8000, np.random.default_rng(seed))
        assert result.spent == 8000
        assert (result.policy.prompt == 2).all()
        regrets.append(score_policy(q, result.policy, problem.scales,
                                    contexts.probabilities).regret)
    assert np.mean(regrets) < 0.01


def test_each_round_trims_and_one_arm_survives_per_context():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    result = PSST(screen="never").fit(problem, 8000, np.random.default_rng(0))
    log = result.log.frame()
    rounds = sorted(log["round"].unique())
    assert rounds == list(range(result.rounds))
    considered = log.groupby(["round", "context"]).size().unstack()
    assert (considered.diff().dropna() < 0).all().all()  # strictly fewer arms each round
    last = log[log["round"] == rounds[-1]]
    assert (last.groupby("context")["kept"].sum() == 1).all()


def test_screening_kicks_in_only_for_small_budgets():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    algo = PSST(estimator="unbiased")  # pooled rounds never screen
    assert algo.wants_screen(problem, 300)  # 300 // 6 rounds < 4 prompts x 16
    assert not algo.wants_screen(problem, 100_000)
    assert not PSST(screen="never").wants_screen(problem, 300)
    result = algo.fit(problem, 300, np.random.default_rng(0))
    assert result.extra["screened"] and result.spent == 300


def test_queries_are_paired_across_prompts():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    seen = {}
    original = backend.sample

    def spy(prompt, queries, n, rng):
        seen.setdefault(prompt, []).append(tuple(queries))
        return original(prompt, queries, n, rng)

    backend.sample = spy
    PSST(screen="never", rounds=2).fit(problem, 2000, np.random.default_rng(0))
    first = [calls[0] for calls in seen.values()]
    assert len(set(first)) == 1  # every prompt pulled on the same queries in round one


def test_keep_best_prefers_higher_estimates_and_unsampled_arms():
    util = np.array([[[0.1, np.nan], [0.5, 0.3]]])
    active = np.ones_like(util, dtype=bool)
    kept = keep_best(util, active, np.array([2]))
    assert kept.tolist() == [[[False, True], [True, False]]]


def test_small_budgets_never_give_a_data_free_policy():
    """Issue 10: at budgets too small for screening's share (rho * T < prompts), PSST cut
    prompts blind and deployed arms without a single pull (estimate NaN, p0 at N=1)."""
    from iapo_cli.backends import synthetic

    env = synthetic("bernoulli-mv", prompts=8, queries=60, n_max=8, seed=2)
    problem = Problem(env.backend, np.arange(48), np.arange(1, 9), env.contexts)
    for budget in range(16, 41, 4):
        for seed in range(6):
            for algorithm in (PSST(), PSST(screen="always")):
                result = algorithm.fit(problem, budget, np.random.default_rng(seed))
                policy = result.policy
                assert np.isfinite(policy.estimate).all(), (budget, seed)
                assert (policy.samples > 0).all(), (budget, seed)
                assert result.spent <= budget


def test_a_pick_without_data_falls_back_to_the_best_estimated_arm():
    from iapo_cli.algorithms import Trainer
    from iapo_cli.backends import synthetic

    env = synthetic("bernoulli-mv", prompts=4, queries=30, n_max=4, seed=1)
    problem = Problem(env.backend, np.arange(24), np.arange(1, 5), env.contexts)
    trainer = Trainer(problem, 100, np.random.default_rng(0))
    trainer.pull_many([(p, np.arange(5), 2) for p in range(4)])  # data at N <= 2 only
    only_n4 = np.zeros((len(env.contexts), 4, 4), bool)
    only_n4[:, 0, 3] = True  # the algorithm's pick: prompt 0 at N=4, never pulled
    policy = trainer.policy(only_n4)
    assert policy.fallback.all() and (policy.scale <= 2).all()
    assert np.isfinite(policy.estimate).all() and (policy.samples == 5).all()
    assert policy.frame()["fallback"].all()
    assert "fallback" not in trainer.policy().frame()  # files unchanged when not needed
