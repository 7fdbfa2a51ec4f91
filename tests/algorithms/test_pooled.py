import numpy as np
import pytest

from iapo_cli.algorithms import PSST, Problem, PSSTTopK, Trainer, VoteProfiles, train
from iapo_cli.backends import CategoricalVotes, Contexts
from iapo_cli.errors import ConfigError
from iapo_cli.strategies._pooled import profile_credit
from tests.algorithms.test_psst import clear_env


def test_profiles_pool_the_prompts_votes_per_query():
    profiles = VoteProfiles(2, np.array([3, 5]), n_queries=6)
    # prompt 0 on query 3: 2 gold votes of 2; prompt 1 on queries 3 and 5
    profiles.add(0, np.array([3]), np.array([[2, 0]]), np.array([0]))
    profiles.add(1, np.array([3, 5]), np.array([[0, 2], [1, 1]]), np.array([0, 1]))
    credit, queries = profiles.credit(alpha=2.0, n_max=3)
    assert queries.tolist() == [1, 2]
    # query 3: gold has 2 of the 4 votes; prompt 0 there: gold (2 + 2 * .5) / 4, the
    # lent wrong votes scattered
    want0 = profile_credit(np.array([[0.75, 0, 0, 0, 0]]), 3)[0]
    assert np.allclose(credit[0], want0)
    # prompt 1: query 3 gold (0 + 1) / 4, its wrong answer 2 / 4; query 5 (its own votes
    # alone in the pool, gold 1 of 2) gold (1 + 1) / 4, wrong 1 / 4
    want1 = profile_credit(np.array([[0.25, 0.5, 0, 0, 0], [0.5, 0.25, 0, 0, 0]]), 3)
    assert np.allclose(credit[1], want1.mean(axis=0))


def test_a_prompt_never_pulled_has_no_estimate():
    profiles = VoteProfiles(2, np.arange(4), n_queries=4)
    profiles.add(0, np.array([1]), np.array([[1, 1]]), np.array([0]))
    credit, queries = profiles.credit(alpha=2.0, n_max=4)
    assert np.isnan(credit[1]).all() and queries[1] == 0
    assert not np.isnan(credit[0]).any()


def test_pooled_psst_spends_the_budget_halves_prompts_and_keeps_one_arm():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    for seed in range(5):
        trainer = Trainer(problem, 3000, np.random.default_rng(seed))
        result = train(PSST(), trainer)
        assert result.spent == 3000 and result.extra["estimator"] == "pooled"
        assert not result.extra["screened"]
        assert (result.policy.prompt == 2).all()  # the best prompt, in both contexts
        assert result.policy.scale[0] == 16 and result.policy.scale[1] < 16
        log = result.log.frame()  # 4 prompts: ceil(log2 4) - 1 = 1 round, all considered
        assert result.rounds == 1 and (log.groupby("context").prompt.nunique() == 4).all()
        assert (log.groupby("context")["kept"].sum() == 1).all()
        # every pull was two votes: the pooled estimate covers N = 3..16 from them
        assert trainer.stats.pulls[:, 2:].sum() == 0
        assert (result.policy.samples > 0).all()


def test_rounds_halve_the_prompts_each_context_keeps():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    result = PSST(rounds=3).fit(problem, 3000, np.random.default_rng(0))
    log = result.log.frame()
    prompts = log.groupby(["round", "context"]).prompt.nunique().unstack()
    assert prompts.values.tolist() == [[4, 4], [2, 2], [1, 1]]
    last = log[log["round"] == 2]
    assert (last.groupby("context")["kept"].sum() == 1).all()


def test_pooled_estimates_need_majority_voting():
    from iapo_cli.backends import CategoricalScores

    probs = np.full((2, 10, 2), 0.5)
    values = np.broadcast_to(np.array([0.0, 1.0])[None, None, :, None], (2, 10, 2, 1))
    backend = CategoricalScores(probs, values, np.full((2, 10, 2), 0.01), 4, ("score",))
    contexts = Contexts(("c",), np.ones((1, 1)), np.zeros(1), np.ones(1))
    problem = Problem(backend, np.arange(10), np.arange(1, 5), contexts)
    result = PSST().fit(problem, 200, np.random.default_rng(0))  # auto: unbiased
    assert result.extra.get("estimator") is None and result.spent == 200
    with pytest.raises(ConfigError, match="majority voting"):
        PSST(estimator="pooled").fit(problem, 200, np.random.default_rng(0))


def test_psst_topk_stays_the_papers_variant():
    assert PSSTTopK().estimator == "unbiased" and PSST().estimator == "auto"
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    result = PSSTTopK().fit(problem, 2000, np.random.default_rng(0))
    assert result.extra["screened"] and "estimator" not in result.extra


def test_pooled_profiles_do_not_grow_with_the_budget():
    backend, contexts = clear_env()
    problem = Problem(backend, np.arange(60), np.arange(1, 17), contexts)
    sizes = []
    for budget in (500, 20_000):
        trainer = Trainer(problem, budget, np.random.default_rng(0))
        train(PSST(), trainer)
        sizes.append(trainer.profiles.votes.nbytes)
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize("bad, message", [({"estimator": "fancy"}, "estimator must be"),
                                          ({"alpha": 0.0}, "alpha must be positive"),
                                          ({"votes": 0}, "votes must be at least 1")])
def test_pooled_parameters_are_checked(bad, message):
    from iapo_cli.algorithms import AlgorithmParameterError

    with pytest.raises(AlgorithmParameterError, match=message):
        PSST(**bad).check_params()


def test_an_environment_with_n_max_1_pulls_single_votes():
    probs = np.tile(np.array([[0.6, 0.4], [0.4, 0.6]])[:, None, :], (1, 30, 1))
    backend = CategoricalVotes(probs, np.zeros(30, dtype=int), np.full(2, 0.01), 1)
    contexts = Contexts(("c",), np.ones((1, 1)), np.zeros(1), np.ones(1))
    problem = Problem(backend, np.arange(30), np.arange(1, 2), contexts)
    result = PSST().fit(problem, 300, np.random.default_rng(0))
    assert result.spent == 300 and result.policy.prompt[0] == 0
