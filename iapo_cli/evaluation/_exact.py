"""Exact policy values on a set of queries, for backends that know their distributions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..algorithms import Policy
from ..backends import Contexts, ExactBackend


class ExactTable:
    """Per-query exact task utility (C, P, X, n_max) and expected cost at every scale
    (P, X, n_max) of the backend's strategy, computed once."""

    def __init__(self, backend: ExactBackend, contexts: Contexts):
        self.contexts = contexts
        self.task = backend.exact_task(contexts.task_weights)
        per_completion = np.asarray(backend.exact_cost())  # (P, X)
        self.cost = per_completion[:, :, None] * np.asarray(backend.exact_draws())

    def q(self, queries: np.ndarray) -> np.ndarray:
        """(C, P, n_max) expected utility of every arm, averaged over ``queries``."""
        task = self.task[:, :, queries, :].mean(axis=2)  # (C, P, n_max)
        cost = self.cost[:, queries, :].mean(axis=1)  # (P, n_max)
        return task - self.contexts.cost_weights[:, None, None] * cost[None]

    def per_query(self, queries: np.ndarray) -> np.ndarray:
        """(C, P, X, n_max) expected utility of every arm on each of ``queries``."""
        weights = self.contexts.cost_weights[:, None, None, None]
        return self.task[:, :, queries, :] - weights * self.cost[None, :, queries, :]


@dataclass(frozen=True)
class Score:
    """A policy scored on test queries against the oracle over the same arm grid."""

    per_context: np.ndarray  # (C,) Q_test(c, pi(c))
    oracle_per_context: np.ndarray  # (C,)
    acr: float
    oracle: float

    @property
    def regret(self) -> float:
        return self.oracle - self.acr


def score_policy(q: np.ndarray, policy: Policy, scales: np.ndarray, probabilities: np.ndarray
                 ) -> Score:
    """Average contextual return of ``policy`` under exact values ``q`` (C, P, n_max)."""
    ctx = np.arange(q.shape[0])
    value = q[ctx, policy.prompt, policy.scale - 1]
    best = q[:, :, scales - 1].reshape(q.shape[0], -1).max(axis=1)
    return Score(value, best, float(probabilities @ value), float(probabilities @ best))
