"""Issue 10, item 13: estimated utilities reported to users lie in the range the utility can
take; algorithms keep ranking by the unbiased (unclipped) estimates."""

import numpy as np

from iapo_cli.algorithms import Problem, Trainer
from iapo_cli.backends import CategoricalVotes, Contexts


def overshooting_trainer() -> Trainer:
    """One prompt; query 0 is always right, query 1 right 60% of the time. Many N=1 pulls
    on query 0 and four N=3 pulls on query 1: the telescoping estimate at N=3 (the level at
    N=1 plus the increments seen on query 1) leaves the range (seed 0: 1.588 for a context
    worth at most 1.5, -1.059 for one worth at least -1)."""
    probs = np.array([[[1.0, 0.0], [0.6, 0.4]]])
    backend = CategoricalVotes(probs, np.zeros(2, dtype=int), np.zeros(1), 3)
    contexts = Contexts(("bonus", "penalty"), np.array([[1.5], [-1.0]]), np.zeros(2),
                        np.full(2, 0.5))
    problem = Problem(backend, np.arange(2), np.array([1, 3]), contexts)
    trainer = Trainer(problem, 1000, np.random.default_rng(0))
    trainer.pull_many([(0, np.zeros(50, dtype=int), 1), (0, np.ones(4, dtype=int), 3)])
    return trainer


def test_reported_estimates_are_clipped_to_the_utility_range():
    trainer = overshooting_trainer()
    unbiased = trainer.grid_utility()[:, 0, 1]
    assert unbiased[0] > 1.5 and unbiased[1] < -1.0  # the issue reproduces
    reported = trainer.reported_utility()[:, 0, 1]
    assert reported.tolist() == [1.5, -1.0]
    inside = trainer.grid_utility()[:, 0, 0]  # N=1: a plain mean, already in range
    assert trainer.reported_utility()[:, 0, 0].tolist() == inside.tolist()
    estimates = trainer.arm_estimates()
    assert estimates["utility"].between(-1.0, 1.5).all()
    assert estimates["task_utility"].between(-1.0, 1.5).all()
    policy = trainer.policy()
    assert policy.estimate.tolist() == [1.5, trainer.reported_utility()[1].max()]
    trainer.end_round(np.ones((2, 1, 2), bool), np.ones((2, 1, 2), bool))
    assert trainer.log.frame()["estimate"].between(-1.0, 1.5).all()


def test_the_pick_uses_the_unbiased_estimates():
    """Two prompts whose estimates at N=3 both overshoot (1.588 and 1.704 at seed 10):
    clipped they would tie at 1.5 and the first prompt win by index; the pick is made on
    the unbiased values, so the second wins, and the reported estimate is 1.5."""
    probs = np.array([[[1.0, 0.0], [0.6, 0.4]]] * 2)
    backend = CategoricalVotes(probs, np.zeros(2, dtype=int), np.zeros(2), 3)
    contexts = Contexts(("bonus",), np.array([[1.5]]), np.zeros(1), np.ones(1))
    problem = Problem(backend, np.arange(2), np.array([1, 3]), contexts)
    trainer = Trainer(problem, 1000, np.random.default_rng(10))
    trainer.pull_many([(p, np.zeros(50, dtype=int), 1) for p in (0, 1)]
                      + [(p, np.ones(4, dtype=int), 3) for p in (0, 1)])
    unbiased = trainer.grid_utility()[0, :, 1]
    assert 1.5 < unbiased[0] < unbiased[1]
    policy = trainer.policy()
    assert (policy.prompt.tolist(), policy.scale.tolist()) == ([1], [3])
    assert policy.estimate.tolist() == [1.5]
