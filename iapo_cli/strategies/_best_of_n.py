"""Best-of-N: all-subsets estimator from observed scores, exact value over discrete outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ._base import SCORES, CompletionSource, PullEstimate, ScorePull


def max_of_k_weights(n: int) -> np.ndarray:
    """(n, n) matrix M with ``M[k-1, i-1] = C(i-1, k-1) / C(n, k)`` for i >= k, else 0.

    Applied to ascending-sorted scores it gives the exact mean, over all size-k subsets,
    of the subset's maximum (the pass@k-style estimator).
    """
    from scipy.special import gammaln  # scipy is slow to import: only when estimating

    k = np.arange(1, n + 1, dtype=float)[:, None]
    i = np.arange(1, n + 1, dtype=float)[None, :]
    valid = i >= k
    safe_i = np.where(valid, i, k)
    log_w = (
        gammaln(safe_i) - gammaln(k) - gammaln(safe_i - k + 1)
        - (gammaln(n + 1.0) - gammaln(k + 1) - gammaln(n - k + 1))
    )
    return np.where(valid, np.exp(log_w), 0.0)


def subset_max(scores: np.ndarray) -> np.ndarray:
    """Mean over all size-k subsets of the maximum, for k = 1..n along the last axis.

    scores: (..., n). Returns (..., n), entry k-1 for size k.
    """
    n = scores.shape[-1]
    return np.sort(scores, axis=-1) @ max_of_k_weights(n).T


def exact_best_of_n(probs: np.ndarray, values: np.ndarray, n_max: int) -> np.ndarray:
    """Exact ``E[max of N draws]`` over a discrete outcome set, N = 1..n_max.

    probs: (..., A) outcome probabilities; values: (..., A) scalarized outcome scores.
    Returns (..., n_max): ``sum_i s_(i) (F_i^N - F_(i-1)^N)`` with ascending s.
    """
    order = np.argsort(values, axis=-1)
    s = np.take_along_axis(values, order, axis=-1)
    cdf = np.cumsum(np.take_along_axis(probs, order, axis=-1), axis=-1)
    cdf = np.clip(cdf / cdf[..., -1:], 0.0, 1.0)  # guard rounding: the last F is exactly 1
    prev = np.concatenate([np.zeros_like(cdf[..., :1]), cdf[..., :-1]], axis=-1)
    n = np.arange(1, n_max + 1, dtype=float)
    mass = cdf[..., None, :] ** n[:, None] - prev[..., None, :] ** n[:, None]  # (..., N, A)
    return np.einsum("...na,...a->...n", mass, s)


class BestOfN:
    """Best-of-N: keep the completion with the highest weighted task score.

    The ``scores`` strategy: completions are scored on the objectives by the backend;
    exact values over discrete outcomes come from ``exact_best_of_n``.
    """

    name: ClassVar[str] = "best_of_n"
    pull_kind: ClassVar[str] = SCORES

    def __init__(self, objectives: tuple[str, ...]):
        self.objectives = tuple(objectives)

    @classmethod
    def like(cls, other: Any) -> BestOfN:
        return cls(tuple(other.objectives))

    def estimate(self, pull: ScorePull, task_weights: np.ndarray) -> PullEstimate:
        weighted = np.einsum("bnk,ck->bcn", pull.scores, task_weights)
        task = subset_max(weighted)
        return PullEstimate(task, pull.cost.mean(axis=1), weighted.mean(axis=2))

    def exact_task(self, probs: np.ndarray, values: np.ndarray, task_weights: np.ndarray,
                   n_max: int) -> np.ndarray:
        """(C, ..., n_max) exact expected task utility at N = 1..n_max over discrete
        outcomes: ``probs`` (..., A), objective ``values`` (..., A, K)."""
        weighted = np.einsum("...ak,ck->c...a", values, task_weights)
        return exact_best_of_n(probs[None], weighted, n_max)

    def expected_draws(self, probs: np.ndarray, n_max: int) -> np.ndarray:
        """(..., n_max) expected completions drawn at N: exactly N."""
        return np.broadcast_to(np.arange(1, n_max + 1, dtype=float),
                               (*probs.shape[:-1], n_max))

    def from_completions(self, source: CompletionSource, prompt: int, queries: np.ndarray,
                         block: Sequence[Sequence[Any]], cost: np.ndarray, n: int
                         ) -> ScorePull:
        return ScorePull(source.scores(prompt, queries, block), cost, n)

    def replay_columns(self, source: CompletionSource, queries: np.ndarray,
                       completions: Sequence[Any], shape: tuple[int, int, int]
                       ) -> dict[str, np.ndarray]:
        """``target`` (raw) and ``scores`` (R, K)."""
        n_prompts, n_queries, samples = shape
        per_prompt = n_queries * samples
        scores = []
        for p in range(n_prompts):
            flat = completions[p * per_prompt : (p + 1) * per_prompt]
            block = [flat[i * samples : (i + 1) * samples] for i in range(n_queries)]
            scores.append(source.scores(p, queries, block).reshape(-1, len(self.objectives)))
        return {"target": np.array([source.target(int(q)) or "" for q in queries], dtype=str),
                "scores": np.concatenate(scores)}
