"""The bandit baselines and the telescoping arm estimates they share with PSST."""

import numpy as np
import pytest

from iapo_cli.algorithms import ArmStatistics, Problem, make_algorithm
from iapo_cli.backends import synthetic
from iapo_cli.errors import ConfigError
from iapo_cli.evaluation import ExactTable, score_policy
from iapo_cli.strategies import PullEstimate


def estimate(task: np.ndarray) -> PullEstimate:
    """task: (B, n) for one context."""
    task = np.asarray(task, dtype=float)[:, None, :]
    return PullEstimate(task, np.ones(task.shape[0]), task[:, :, 0])


def test_one_scale_gives_the_plain_mean():
    stats = ArmStatistics(1, 1, 3)
    stats.add(0, estimate([[0.2, 0.5, 0.9], [0.4, 0.1, 0.3]]))
    task, _ = stats.task_and_cost()
    assert np.allclose(task[0, 0], [0.3, 0.3, 0.6])


def test_larger_scales_borrow_the_pulls_of_smaller_ones():
    stats = ArmStatistics(1, 1, 2)
    stats.add(0, estimate([[1.0, 1.0]]))  # one pull at N=2
    stats.add(0, estimate([[0.0], [0.0], [0.0]]))  # three more at N=1
    task, _ = stats.task_and_cost()
    # scale 1: mean over all four pulls; scale 2: that plus the mean increment (0)
    assert np.allclose(task[0, 0], [0.25, 0.25])
    assert stats.pulls[0].tolist() == [4, 1]


@pytest.fixture(scope="module")
def env():
    return synthetic("bernoulli-mv", prompts=6, queries=80, n_max=8, seed=2)


@pytest.mark.parametrize("name", ["epsilon_greedy", "softmax", "ucb", "sequential_halving"])
def test_more_budget_finds_better_arms(env, name):
    train, test = np.arange(64), np.arange(64, 80)
    problem = Problem(env.backend, train, np.arange(1, 9), env.contexts)
    q = ExactTable(env.backend, env.contexts).q(test)
    probs = env.contexts.probabilities

    def regret(budget):
        return np.mean([score_policy(q, make_algorithm(name).fit(
            problem, budget, np.random.default_rng(s)).policy, problem.scales, probs).regret
            for s in range(6)])

    small, large = regret(60), regret(8000)
    assert large < small
    assert large < 0.05


def test_ucb_tries_arms_without_data_first(env):
    problem = Problem(env.backend, np.arange(64), np.arange(1, 9), env.contexts)
    algo = make_algorithm("ucb", batches=1000)
    algo.fit(problem, 72, np.random.default_rng(0))  # warm-up: every prompt once at N=6
    trainer = algo.trainer_
    # the 36 completions left pay four pulls at N = 7 or 8, arms without data; what is
    # left after them (< 7) goes to smaller arms
    assert trainer.stats.pulls[:, 6].sum() == 4
    assert trainer.spent == 72


@pytest.mark.parametrize("name, params, message", [
    ("epsilon_greedy", {"epsilon": 1.5}, "epsilon must lie in [0, 1], got 1.5"),
    ("softmax", {"temperature": 0}, "temperature must be > 0, got 0"),
    ("ucb", {"c": -1}, "c must be >= 0, got -1"),
    ("ucb", {"batches": 0}, "batches must be at least 1, got 0"),
    ("sequential_halving", {"rounds": 0}, "rounds must be at least 1, got 0"),
])
def test_parameters_are_checked(name, params, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_algorithm(name, **params)


def test_unknown_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="bad parameters for ucb"):
        make_algorithm("ucb", epsilon=0.1)
