"""Inference strategies (Best-of-N, majority voting): utilities, estimators, exact values."""

from ._base import (
    BestOfN,
    MajorityVote,
    PullEstimate,
    ScorePull,
    Strategy,
    VotePull,
    combine,
)
from ._best_of_n import exact_best_of_n, max_of_k_weights, subset_max
from ._votes import adopt_credit_tables, credit_table, exact_majority_vote, subset_credit

__all__ = [
    "BestOfN",
    "MajorityVote",
    "PullEstimate",
    "ScorePull",
    "Strategy",
    "VotePull",
    "combine",
    "adopt_credit_tables",
    "credit_table",
    "exact_best_of_n",
    "exact_majority_vote",
    "max_of_k_weights",
    "subset_credit",
    "subset_max",
]
