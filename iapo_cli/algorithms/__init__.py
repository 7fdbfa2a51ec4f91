"""Training algorithms. Each implements the contract of ``Algorithm`` (``run(trainer) ->
Policy`` on a ``Trainer`` the caller owns) and never spends more than the budget. They import
neither litellm, typer nor the LLM client.

Adding an algorithm: one module with an ``Algorithm`` subclass, plus its class in the
``ALGORITHMS`` registry below.
"""

from __future__ import annotations

from ._assembly import PolicyAssembly, cap_mask
from ._bandits import UCB, EpsilonGreedy, SequentialHalving, Softmax
from ._baselines import TripleN1, TripleRandomN, Uniform
from ._budget import keep_best, keep_counts, round_room, spend_leftover, split_budget
from ._contract import Algorithm, AlgorithmParameterError, train
from ._contract import make_algorithm as _make
from ._estimates import Estimates
from ._meter import METER_UNITS, BudgetMeter
from ._pooled import VoteProfiles
from ._problem import NoTrainingQueries, Problem
from ._psst import PSST, PSSTTopK
from ._results import Observer, Policy, TrainingResult, TrimmingLog
from ._sampler import MAX_BATCH, QueryStream, Sampler
from ._statistics import ArmStatistics
from ._trainer import Trainer

ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.name: cls for cls in (PSST, PSSTTopK, Uniform, TripleN1, TripleRandomN, EpsilonGreedy,
                              Softmax, UCB, SequentialHalving)}


def make_algorithm(name: str, /, **params) -> Algorithm:
    """An algorithm by registry name with its parameters, checked: an unknown name or
    parameter is a ConfigError, a value out of range an ``AlgorithmParameterError`` (a
    ConfigError and a ValueError)."""
    return _make(ALGORITHMS, name, params)


__all__ = [
    "ALGORITHMS",
    "MAX_BATCH",
    "NoTrainingQueries",
    "Algorithm",
    "AlgorithmParameterError",
    "keep_counts",
    "round_room",
    "spend_leftover",
    "train",
    "PSST",
    "UCB",
    "ArmStatistics",
    "BudgetMeter",
    "Estimates",
    "METER_UNITS",
    "PolicyAssembly",
    "Sampler",
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
    "VoteProfiles",
    "cap_mask",
    "keep_best",
    "make_algorithm",
    "split_budget",
]
