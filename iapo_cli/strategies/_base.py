"""Inference strategies: what a pull returns and how it turns into per-context utilities.

Conventions shared by every module: contexts are rows of ``task_weights`` (C, K), one weight
per task objective, and ``cost_weights`` (C,), the utility lost per unit of cost
(``O_cost = -cost``, so a weight of 0.2 charges 0.2 per unit). Scales are 1-based: an array
"over k" has entry k-1 for scale k.

A strategy owns everything strategy-specific (see ``Strategy``). Two kinds of pull exist,
and every backend delivers one of them: ``votes`` (answers reduced to vote counts, for
strategies that aggregate answers) and ``scores`` (per-completion objective scores, for
strategies that select a completion). A backend serves any registered strategy of its kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

VOTES = "votes"
SCORES = "scores"


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
    """Unbiased per-pull estimates for every context and every scale k = 1..n.

    ``scale_cost`` is the expected cost of deploying the strategy at scale k (B, n); a
    strategy that always draws k completions leaves it None, meaning
    ``k * cost_per_completion``. An adaptive strategy, which may stop early, sets it.
    """

    task: np.ndarray  # (B, C, n): expected task utility at scale k
    cost_per_completion: np.ndarray  # (B,): mean cost of one completion
    agnostic: np.ndarray  # (B, C): mean weighted score of one completion (IA baseline)
    scale_cost: np.ndarray | None = None  # (B, n): expected cost at scale k

    @property
    def cost(self) -> np.ndarray:
        """(B, n) expected cost of the strategy at scale k = 1..n."""
        if self.scale_cost is not None:
            return self.scale_cost
        k = np.arange(1, self.task.shape[-1] + 1, dtype=float)
        return np.asarray(self.cost_per_completion)[:, None] * k[None, :]


class CompletionSource(Protocol):
    """What a backend with real completions (live) offers a strategy to build pulls and
    replay columns from. ``block[b][i]`` is the i-th completion on ``queries[b]``."""

    def answers(self, completions: Sequence[Any]) -> list[str | None]:
        """Extracted, normalised answers (None: no answer)."""
        ...

    def gold(self, query: int) -> str | None:
        """The normalised gold answer of a query (None: no target)."""
        ...

    def target(self, query: int) -> str | None:
        """The raw target field of a query."""
        ...

    def scores(self, prompt: int, queries: np.ndarray, block: Sequence[Sequence[Any]]
               ) -> np.ndarray:
        """(B, n, K) objective scores in [0, 1]."""
        ...


@runtime_checkable
class Strategy(Protocol):
    """An inference strategy: how N completions become one answer, and everything that
    follows from it.

    * ``name`` (registry key), ``pull_kind`` (``votes`` or ``scores``: what a backend must
      deliver) and ``objectives`` (task objective names, the columns of task weights);
    * ``estimate(pull, task_weights) -> PullEstimate``: unbiased per-scale task utility,
      expected cost and inference-agnostic utility from one pull;
    * ``from_completions(source, prompt, queries, block, cost, n)``: a pull from a live
      backend's completions (``cost`` (B, n) per completion);
    * ``replay_columns(source, queries, completions, shape)``: the strategy-specific columns
      of a replay file for ``completions`` laid out as ``shape`` (P, X, M), flattened;
    * ``like(other)`` (classmethod): this strategy with the settings of ``other``, a
      strategy of the same pull kind (objectives, precomputed tables);
    * exact values, by kind: a ``votes`` strategy has ``exact_credit(probs, gold, n_max)``
      and ``expected_draws(probs, gold, n_max)`` (see ``MajorityVote``), a ``scores``
      strategy ``exact_task(probs, values, task_weights, n_max)`` and
      ``expected_draws(probs, n_max)`` (see ``BestOfN``); exact backends call them.
    """

    name: ClassVar[str]
    pull_kind: ClassVar[str]
    objectives: tuple[str, ...]

    def estimate(self, pull: Any, task_weights: np.ndarray) -> PullEstimate: ...


def utility(task: np.ndarray, cost: np.ndarray, cost_weights: np.ndarray) -> np.ndarray:
    """Utility over k from task utility (..., C, n) and the expected cost at each scale
    (..., n): ``task - w_cost * cost``."""
    return task - cost_weights[:, None] * np.asarray(cost)[..., None, :]


def combine(task: np.ndarray, cost_per_completion: np.ndarray, cost_weights: np.ndarray
            ) -> np.ndarray:
    """Utility over k for a strategy that draws exactly k completions, from task utility
    (..., C, n) and the mean cost of one completion (..., n) or (..., 1):
    ``task - w_cost * k * cost``."""
    k = np.arange(1, task.shape[-1] + 1, dtype=float)
    return utility(task, np.asarray(cost_per_completion) * k, cost_weights)
