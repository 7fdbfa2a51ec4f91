"""The trainer's parts, each held to its own contract: the meter prices and charges but
serves nothing, the estimates only hold statistics, the sampler serves pulls and charges
the meter, the policy's assembly only reads; and their imports point one way."""

import ast
from pathlib import Path

import numpy as np
import pytest

from iapo_cli.algorithms import (
    BudgetMeter,
    Estimates,
    PolicyAssembly,
    Problem,
    Sampler,
    Trainer,
)
from iapo_cli.backends import Contexts
from iapo_cli.errors import BudgetError

from .test_metered import problem_of, two_models, votes

CONTEXTS = Contexts(("accurate", "frugal"), np.ones((2, 1)), np.array([0.0, 0.05]),
                    np.array([0.5, 0.5]))


def vote_problem(n_max: int = 8) -> Problem:
    backend = votes(n_max=n_max)
    return Problem(backend, np.arange(backend.n_queries), np.arange(1, n_max + 1), CONTEXTS)


def no_sampling(*args, **kwargs):
    """A backend's ``sample`` for parts that must not serve anything."""
    raise AssertionError("served a pull")


def test_the_meter_prices_and_charges_without_serving():
    backend = two_models()
    problem = problem_of(backend)
    meter = BudgetMeter(problem, 0.05, "usd")
    worst = meter.worst_prices()
    assert worst.shape == (4, backend.n_max)
    assert (meter.price == worst).all()  # no usage yet: the worst case plans
    queries = np.arange(3)
    fitted = meter.fit([(0, queries, 4), (3, queries, 8)])
    assert [len(q) for _, q, _ in fitted][0] == 3  # a cheap pull fits whole
    assert backend.meter["completions"] == 0  # pricing served nothing
    pull = backend.sample(0, queries, 4, np.random.default_rng(0))
    usage = backend.pop_usage()[0]
    meter.charge(0, 12, usage, pull)
    assert meter.spent == pytest.approx(float(usage.usd.sum()))
    assert meter.price[0, 3] < worst[0, 3]  # prompt 0 now plans with what it used
    assert (meter.price[1:] == worst[1:]).all()
    assert np.isfinite(meter.usd_per_query()[0]).all() and np.isnan(meter.usd_per_query()[1]).all()


def test_a_counted_meter_refuses_before_anything_is_served():
    meter = BudgetMeter(vote_problem(), 100)
    meter.check(100)
    with pytest.raises(BudgetError):
        meter.check(101)
    meter.charge(0, 60, None, None)
    assert meter.spent == 60 and meter.remaining == 40
    with pytest.raises(BudgetError):
        meter.check(41)


def test_estimates_only_hold_statistics_and_recompute_a_pooled_estimate_after_new_data():
    problem = vote_problem()
    estimates = Estimates(problem)
    assert np.isnan(estimates.grid_utility()).all()
    estimates.pool_votes(2.0)
    rng = np.random.default_rng(0)
    queries = np.arange(10)
    pulls = [(p, queries, 2) for p in range(2)]
    estimates.add(pulls, [problem.backend.sample(p, q, n, rng) for p, q, n in pulls],
                  [None, None])
    first = estimates.grid_utility()
    assert np.isfinite(first[:, :2]).all() and np.isnan(first[:, 2:]).all()
    assert estimates.grid_utility() is not first and \
        np.array_equal(estimates.grid_utility(), first, equal_nan=True)  # kept, not redone
    more = [(0, np.arange(10, 30), 2)]
    estimates.add(more, [problem.backend.sample(0, more[0][1], 2, rng)], [None])
    assert not np.array_equal(estimates.grid_utility()[:, 0], first[:, 0])
    assert (estimates.grid_samples()[0] == 30).all()  # pooled: every pull, at every N


def test_the_sampler_serves_charges_and_feeds_in_one_step():
    problem = vote_problem()
    meter = BudgetMeter(problem, 1000)
    estimates = Estimates(problem)
    sampler = Sampler(problem, np.random.default_rng(0), meter, estimates)
    told = []
    sampler.recorder = lambda round_, prompt, pull, usage, queries: told.append(
        (round_, prompt, len(queries)))
    sampler.pull_paired([(0, 4), (1, 8)], 5)
    assert meter.spent == 5 * 12 and sampler.completions == 60 and sampler.pulls == 10
    assert estimates.stats.pulls[0, 3] == 5 and estimates.stats.pulls[1, 7] == 5
    assert told == [(0, 0, 5), (0, 1, 5)]
    with pytest.raises(BudgetError):
        sampler.pull_fresh([(2, 200, 8)])
    assert meter.spent == 60  # refused whole, before serving


def test_the_assembly_reads_and_pulls_nothing():
    problem = vote_problem()
    trainer = Trainer(problem, 400, np.random.default_rng(0))
    trainer.pull_paired([(p, 8) for p in range(4)], 10)
    spent, stats = trainer.spent, trainer.stats.pulls.copy()
    problem.backend.sample = no_sampling
    assembly = PolicyAssembly(problem, trainer.estimates, trainer.meter)
    policy = assembly.policy()
    table = assembly.arm_estimates()
    assert trainer.spent == spent and (trainer.stats.pulls == stats).all()
    assert len(table) == 2 * 4 * 8 and (policy.samples == 10).all()
    assert policy.prompt.tolist() == trainer.policy().prompt.tolist()


PARTS = {  # module -> the trainer's parts it may import
    "_statistics": set(),
    "_meter": set(),
    "_estimates": {"_statistics"},
    "_sampler": {"_meter", "_estimates"},
    "_assembly": {"_meter", "_estimates", "_results"},
    "_trainer": {"_meter", "_estimates", "_sampler", "_assembly", "_results"},
}


@pytest.mark.parametrize("module", sorted(PARTS))
def test_the_parts_import_one_way(module):
    """No circle: each part imports only the parts before it (``PARTS``)."""
    import iapo_cli.algorithms as package

    path = Path(package.__file__).parent / f"{module}.py"
    imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert imported & (set(PARTS) | {"_results"}) <= PARTS[module]
