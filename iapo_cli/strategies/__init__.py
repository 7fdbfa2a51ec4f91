"""Inference strategies: utilities, all-subsets estimators and exact values.

Adding a strategy: one module with a class following ``Strategy`` (usually a subclass of
``MajorityVote`` for answer-aggregating strategies or of ``BestOfN`` for selecting ones),
plus its class in the ``STRATEGIES`` registry below. Backends, configs, ``optimize``,
``evaluate`` and ``record`` then accept it by name.
"""

from __future__ import annotations

from ._adaptive_vote import AdaptiveVote
from ._base import (
    SCORES,
    VOTES,
    CompletionSource,
    PullEstimate,
    ScorePull,
    Strategy,
    VotePull,
    combine,
    utility,
)
from ._best_of_n import BestOfN, exact_best_of_n, max_of_k_weights, subset_max
from ._majority_vote import MajorityVote
from ._votes import adopt_credit_tables, credit_table, exact_majority_vote, subset_credit

STRATEGIES: dict[str, type] = {
    cls.name: cls for cls in (MajorityVote, BestOfN, AdaptiveVote)}


def strategy_like(name: str, current: Strategy) -> Strategy:
    """The registered strategy ``name`` with the settings of ``current`` (same pull kind:
    objectives, credit tables). KeyError for an unknown name, ValueError for another kind."""
    cls = STRATEGIES[name]
    if cls.pull_kind != current.pull_kind:
        raise ValueError(f"{name} needs {cls.pull_kind} pulls, not {current.pull_kind}")
    return cls.like(current)


__all__ = [
    "SCORES",
    "STRATEGIES",
    "VOTES",
    "BestOfN",
    "CompletionSource",
    "MajorityVote",
    "PullEstimate",
    "ScorePull",
    "Strategy",
    "VotePull",
    "adopt_credit_tables",
    "combine",
    "credit_table",
    "exact_best_of_n",
    "exact_majority_vote",
    "max_of_k_weights",
    "strategy_like",
    "subset_credit",
    "subset_max",
    "utility",
]
