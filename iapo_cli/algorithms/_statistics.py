"""Stockpiled sums of unbiased per-pull estimates (the statistics ``Estimates`` keeps)."""

from __future__ import annotations

import numpy as np


class ArmStatistics:
    """Stockpiled sums of per-pull estimates for every (context, prompt, scale 1..n_max).

    A pull at scale n feeds every scale k <= n (all-subsets estimators) and every context.
    The estimate at scale k telescopes: the mean utility at scale 1 over every pull, plus
    for each j = 2..k the mean increment ``u_j - u_(j-1)`` over the pulls that reached j.
    Each term is unbiased; with pulls at one scale only it is the plain mean. When smaller
    scales have more pulls (screening, trimmed prompts), larger scales borrow them: an
    increment varies far less across queries than a level (query difficulty cancels).
    """

    def __init__(self, n_contexts: int, n_prompts: int, n_max: int):
        self.task_sum = np.zeros((n_contexts, n_prompts, n_max))  # sums of increments
        self.pulls = np.zeros((n_prompts, n_max), dtype=np.int64)
        self.cost_sum = np.zeros((n_prompts, n_max))  # sums of expected cost at scale k
        self.agnostic_sum = np.zeros((n_contexts, n_prompts))
        # cost billed once per request (prompt part, ``PullUsage.request_cost``) and the
        # requests behind it; ``requests`` (P, n_max) of a deployment, set by the trainer
        self.request_cost_sum = np.zeros(n_prompts)
        self.request_count = np.zeros(n_prompts)
        self.requests: np.ndarray | None = None

    def add_requests(self, prompt: int, usage) -> None:
        """Record the per-request part of a pull's cost (``PullUsage``)."""
        self.request_cost_sum[prompt] += float(np.sum(usage.request_cost))
        self.request_count[prompt] += float(np.sum(usage.requests))

    def add(self, prompt: int, estimate) -> None:
        task = estimate.task  # (B, C, n)
        n = task.shape[-1]
        self.task_sum[:, prompt, :n] += np.diff(task, axis=2, prepend=0.0).sum(axis=0)
        self.pulls[prompt, :n] += task.shape[0]
        self.cost_sum[prompt, :n] += estimate.cost.sum(axis=0)
        self.agnostic_sum[:, prompt] += estimate.agnostic.sum(axis=0)

    def task_and_cost(self) -> tuple[np.ndarray, np.ndarray]:
        """(C, P, n_max) estimated task utility and (P, n_max) expected cost of the
        strategy at each scale; NaN where no pull reached that scale."""
        with np.errstate(invalid="ignore", divide="ignore"):
            task = np.cumsum(self.task_sum / self.pulls[None], axis=2)
            cost = self.cost_sum / self.pulls
            if self.requests is not None and self.request_count.any():
                per_request = np.where(self.request_count > 0,
                                       self.request_cost_sum / self.request_count, 0.0)
                cost = cost + per_request[:, None] * self.requests
        return task, cost

    def linear_cost(self) -> np.ndarray:
        """(P, n_max) expected cost at scale k of a strategy that draws k completions:
        k times the mean cost of a completion, plus the per-request part; NaN for a
        prompt never pulled. Known at every scale from pulls at any."""
        with np.errstate(invalid="ignore", divide="ignore"):
            per_completion = self.cost_sum[:, 0] / self.pulls[:, 0]
        k = np.arange(1, self.task_sum.shape[2] + 1, dtype=float)
        cost = per_completion[:, None] * k[None, :]
        if self.requests is not None and self.request_count.any():
            with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 where never pulled
                per_request = np.where(self.request_count > 0,
                                       self.request_cost_sum / self.request_count, 0.0)
            cost = cost + per_request[:, None] * self.requests
        return cost

    def utility(self, cost_weights: np.ndarray) -> np.ndarray:
        """(C, P, n_max) mean estimated utility; NaN where no pull reached that scale."""
        task, cost = self.task_and_cost()
        return task - cost_weights[:, None, None] * cost[None]  # (C, P, n_max)

    def agnostic(self) -> np.ndarray:
        """(C, P) inference-agnostic utility: mean weighted task score of one completion."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.agnostic_sum / self.pulls[None, :, 0]  # every pull reaches scale 1
