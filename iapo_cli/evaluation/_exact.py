"""Exact policy values on a set of queries, for backends that know their distributions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..algorithms import Policy
from ..backends import Contexts, ExactBackend


class ExactTable:
    """Per-query exact task utility and expected cost (P, X, n_max) at every scale of the
    backend's strategy, computed once. The task utility is kept per objective (K, P, X,
    n_max) when it is linear in the context's weights (``exact_task_per_objective``) and
    combined one context at a time, else whole (C, P, X, n_max): hundreds of prompts and
    contexts would not fit in memory as one array per context."""

    def __init__(self, backend: ExactBackend, contexts: Contexts,
                 queries: np.ndarray | None = None):
        """``queries``: hold these queries only (computed for them alone where the backend
        can); the methods' query indexes are then positions in ``queries``."""
        self.contexts = contexts
        per_objective = getattr(backend, "exact_task_per_objective", None)
        self._per_objective = None if per_objective is None else (
            per_objective() if queries is None else per_objective(queries))
        self._task = None
        if self._per_objective is None:
            self._task = backend.exact_task(contexts.task_weights)
            if queries is not None:
                self._task = self._task[:, :, queries]
        per_completion = np.asarray(backend.exact_cost())  # (P, X)
        self.cost = per_completion[:, :, None] * np.asarray(backend.exact_draws())
        if queries is not None:
            self.cost = self.cost[:, queries]

    def _task_at(self, context: int, index: tuple) -> np.ndarray:
        """Exact task utility of ``context`` at ``index`` into (P, X, n_max): the dense
        table's, or the objectives' combined with the context's weights."""
        if self._task is not None:
            return self._task[context][index]
        weights = self.contexts.task_weights[context]
        task = weights[0] * self._per_objective[0][index]
        for k in range(1, len(weights)):
            task += weights[k] * self._per_objective[k][index]
        return task

    def q(self, queries: np.ndarray) -> np.ndarray:
        """(C, P, n_max) expected utility of every arm, averaged over ``queries``."""
        every = (slice(None), queries, slice(None))
        task = np.stack([self._task_at(c, every).mean(axis=1)
                         for c in range(len(self.contexts))])  # (C, P, n_max)
        cost = self.cost[:, queries, :].mean(axis=1)  # (P, n_max)
        return task - self.contexts.cost_weights[:, None, None] * cost[None]

    def context_values(self, context: int, queries: np.ndarray) -> np.ndarray:
        """(P, len(queries), n_max) expected utility of every arm of ``context`` on each
        of ``queries``."""
        every = (slice(None), queries, slice(None))
        return (self._task_at(context, every)
                - self.contexts.cost_weights[context] * self.cost[every])

    def arm_values(self, context: int, prompt: int, n_index: int, queries: np.ndarray
                   ) -> np.ndarray:
        """(len(queries),) ``context_values(context, queries)[prompt, :, n_index]``, alone."""
        index = (prompt, queries, n_index)
        return (self._task_at(context, index)
                - self.contexts.cost_weights[context] * self.cost[index])


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
