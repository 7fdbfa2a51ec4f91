"""Budget discipline and determinism of every algorithm."""

import numpy as np
import pytest

from iapo_cli.algorithms import ALGORITHMS, Problem, make_algorithm
from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError


@pytest.fixture(scope="module")
def env():
    return synthetic("bernoulli-mv", prompts=7, queries=50, n_max=12, seed=4)


def problem(env, scales=None):
    scales = np.arange(1, 13) if scales is None else np.asarray(scales)
    return Problem(env.backend, np.arange(40), scales, env.contexts)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_never_exceeds_budget(env, name):
    # 6 seeds x 6 budgets x 2 grids; test_data_free adds every budget from P x N_min to
    # +40 on both families and 3 grids, asserting the same ceiling. The largest budget is
    # odd and holds every bandit's 40 batches of several pulls (6000 took twice as long
    # for the same checks)
    for seed in range(6):
        for budget in (7, 23, 101, 500, 1999, 3001):
            for scales in (None, [1, 3, 12]):
                result = make_algorithm(name).fit(problem(env, scales), budget,
                                                  np.random.default_rng(seed))
                assert result.spent <= budget, (name, seed, budget)
                assert result.policy.scale.min() >= 1


@pytest.mark.parametrize("name", ["psst", "psst_topk", "uniform", "epsilon_greedy", "softmax",
                                  "ucb", "sequential_halving"])
def test_spends_almost_all(env, name):
    for seed in range(8):
        for budget in (101, 777, 4000):
            result = make_algorithm(name).fit(problem(env), budget, np.random.default_rng(seed))
            assert result.spent >= 0.98 * budget, (name, seed, budget, result.spent)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_deterministic_by_seed(env, name):
    runs = [make_algorithm(name).fit(problem(env), 900, np.random.default_rng(11))
            for _ in range(2)]
    a, b = (r.policy.frame() for r in runs)
    assert a.equals(b)
    assert runs[0].log.frame().equals(runs[1].log.frame())
    other = make_algorithm(name).fit(problem(env), 900, np.random.default_rng(12))
    assert not runs[0].log.frame().equals(other.log.frame())


def test_unknown_algorithm_and_parameters():
    with pytest.raises(ConfigError, match="unknown algorithm 'nope'"):
        make_algorithm("nope")
    with pytest.raises(ConfigError, match="bad parameters for psst"):
        make_algorithm("psst", colour="red")
    with pytest.raises(ValueError, match="rho must lie in"):
        make_algorithm("psst", rho=1.5)
