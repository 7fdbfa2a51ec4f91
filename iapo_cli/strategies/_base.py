"""Inference strategies: what a pull returns and how it turns into per-context utilities.

Conventions shared by every module: contexts are rows of ``task_weights`` (C, K), one weight
per task objective, and ``cost_weights`` (C,), the utility lost per unit of cost
(``O_cost = -cost``, so a weight of 0.2 charges 0.2 per unit). Scales are 1-based: an array
"over k" has entry k-1 for scale k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import _best_of_n, _votes


@dataclass(frozen=True)
class VotePull:
    """n completions on each of B queries, reduced to vote counts (order is irrelevant)."""

    counts: np.ndarray  # (B, A) votes per answer column; answers that are never gold included
    gold: np.ndarray  # (B,) column of the gold answer, -1 when no answer is gold
    cost: np.ndarray  # (B,) summed cost of the n completions
    n: int


@dataclass(frozen=True)
class ScorePull:
    """n completions on each of B queries, each scored on K task objectives."""

    scores: np.ndarray  # (B, n, K)
    cost: np.ndarray  # (B, n)
    n: int


@dataclass(frozen=True)
class PullEstimate:
    """Unbiased per-pull estimates for every context and every scale k = 1..n."""

    task: np.ndarray  # (B, C, n): expected task utility at scale k
    cost_per_completion: np.ndarray  # (B,): mean cost of one completion
    agnostic: np.ndarray  # (B, C): mean weighted score of one completion (IA baseline)


class MajorityVote:
    """Majority voting; the single task objective is ``correct`` (credit, ties 1/t)."""

    name: ClassVar[str] = "majority_vote"
    objectives: ClassVar[tuple[str, ...]] = ("correct",)

    def __init__(self, table: tuple[int, int] | None = None):
        # (n_max, n_wrong): use a precomputed credit table where answers are few
        self.table = table

    def subset_credit(self, pull: VotePull) -> np.ndarray:
        if self.table is not None:
            credit = _votes.credit_table(*self.table).lookup(pull.counts, pull.gold)
            if credit is not None:
                return credit
        return _votes.subset_credit(pull.counts, pull.gold)

    def estimate(self, pull: VotePull, task_weights: np.ndarray) -> PullEstimate:
        credit = self.subset_credit(pull)  # (B, n)
        task = credit[:, None, :] * task_weights[None, :, 0, None]
        return PullEstimate(task, pull.cost / pull.n, task[:, :, 0])


class BestOfN:
    """Best-of-N: keep the completion with the highest weighted task score."""

    name: ClassVar[str] = "best_of_n"

    def __init__(self, objectives: tuple[str, ...]):
        self.objectives = tuple(objectives)

    def estimate(self, pull: ScorePull, task_weights: np.ndarray) -> PullEstimate:
        weighted = np.einsum("bnk,ck->bcn", pull.scores, task_weights)
        task = _best_of_n.subset_max(weighted)
        return PullEstimate(task, pull.cost.mean(axis=1), weighted.mean(axis=2))


Strategy = MajorityVote | BestOfN


def combine(task: np.ndarray, cost_per_completion: np.ndarray, cost_weights: np.ndarray
            ) -> np.ndarray:
    """Utility over k from task utility (..., C, n) and mean cost of one completion
    (..., n) or (..., 1): ``task - w_cost * k * cost``."""
    n = task.shape[-1]
    k = np.arange(1, n + 1, dtype=float)
    penalty = cost_weights[:, None] * k[None, :]  # (C, n)
    return task - np.asarray(cost_per_completion)[..., None, :] * penalty
