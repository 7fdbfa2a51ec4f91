"""Training algorithms. Each has ``fit(problem, budget, rng) -> TrainingResult`` and never
spends more than the budget. They import neither litellm nor typer."""

from __future__ import annotations

from ..errors import ConfigError
from ._bandits import UCB, EpsilonGreedy, SequentialHalving, Softmax
from ._base import (
    ArmStatistics,
    Observer,
    Policy,
    Problem,
    QueryStream,
    Trainer,
    TrainingResult,
    TrimmingLog,
    keep_best,
)
from ._baselines import TripleN1, TripleRandomN, Uniform
from ._psst import PSST, PSSTTopK, split_budget

ALGORITHMS = {cls.name: cls for cls in (PSST, PSSTTopK, Uniform, TripleN1, TripleRandomN,
                                        EpsilonGreedy, Softmax, UCB, SequentialHalving)}


def make_algorithm(name: str, **params):
    """An algorithm by registry name with its parameters (unknown ones are a ConfigError)."""
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r} (known: {', '.join(ALGORITHMS)})")
    try:
        return ALGORITHMS[name](**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for {name}: {exc}") from None


__all__ = [
    "ALGORITHMS",
    "PSST",
    "UCB",
    "ArmStatistics",
    "EpsilonGreedy",
    "Observer",
    "PSSTTopK",
    "Policy",
    "Problem",
    "QueryStream",
    "SequentialHalving",
    "Softmax",
    "Trainer",
    "TrainingResult",
    "TrimmingLog",
    "TripleN1",
    "TripleRandomN",
    "Uniform",
    "keep_best",
    "make_algorithm",
    "split_budget",
]
