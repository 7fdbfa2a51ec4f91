"""Issue 10, item 1's bar: at every budget from ``P x N_min`` upward no algorithm returns a
policy that rests on an arm without data, on both synthetic families, for grids that start
at N=1 or above it. (benchmarks/data_free.py runs the same check on the MATH env.)"""

import numpy as np
import pytest

from iapo_cli.algorithms import ALGORITHMS, Problem, TripleN1, make_algorithm
from iapo_cli.backends import synthetic

GRIDS = (np.arange(1, 9), np.array([2, 4, 8]), np.array([3, 5]))


def data_free(result) -> bool:
    """The policy of ``result`` rests on an arm without a pull for some context, or had to
    fall back from its own pick."""
    policy = result.policy
    return bool((policy.samples == 0).any() or not np.isfinite(policy.estimate).all()
                or (policy.fallback is not None and policy.fallback.any()))


@pytest.mark.parametrize("family", ["bernoulli-mv", "bon-grid"])
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_no_algorithm_returns_an_arm_without_data_at_any_budget(name, family):
    """5 prompts, budgets P x N_min .. + 40 and 300, 2 seeds, 3 grids: 60 runs per
    algorithm and family. Before: triple_n1 deployed N_min > 1 without a pull there
    (every run on such grids), triple_random_n fell back at the smallest budgets."""
    env = synthetic(family, prompts=5, queries=30, n_max=8, seed=1)
    failures = []
    for grid in GRIDS:
        problem = Problem(env.backend, np.arange(24), grid, env.contexts)
        smallest = problem.n_prompts * int(grid[0])
        for budget in [*range(smallest, smallest + 41, 5), 300]:
            for seed in range(2):
                result = make_algorithm(name).fit(problem, budget, np.random.default_rng(seed))
                assert result.spent <= budget
                if data_free(result):
                    failures.append((grid.tolist(), budget, seed))
    assert not failures


def test_triple_n1_pulls_and_deploys_the_grids_smallest_scale():
    env = synthetic("bernoulli-mv", prompts=4, queries=30, n_max=8, seed=1)
    problem = Problem(env.backend, np.arange(24), np.array([2, 4, 8]), env.contexts)
    result = TripleN1().fit(problem, 200, np.random.default_rng(0))
    assert (result.policy.scale == 2).all() and (result.policy.samples > 0).all()
    assert result.spent == 200
