"""Categorical backends: per (prompt, query) distributions over a few outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..strategies import BestOfN, MajorityVote, ScorePull, Strategy, VotePull
from ._base import Contexts, Environment

_PROB_TOLERANCE = 1e-6


def _sample_categories(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(B, n) category indices drawn from the rows of a (B, A) cumulative distribution."""
    u = rng.random((cdf.shape[0], n))
    idx = (u[:, :, None] >= cdf[:, None, :]).sum(axis=2)
    return np.minimum(idx, cdf.shape[1] - 1)


class CategoricalVotes:
    """Vote pulls over categorical answers: ``probs`` (P, X, A), gold (X,), cost (P,).
    Serves any ``votes`` strategy (majority voting by default)."""

    def __init__(self, probs: np.ndarray, gold: np.ndarray, cost: np.ndarray, n_max: int,
                 prompt_ids: tuple[str, ...] | None = None, strategy: Strategy | None = None):
        self.probs = np.asarray(probs, dtype=float)
        self.gold = np.asarray(gold, dtype=np.int64)
        self.cost = np.asarray(cost, dtype=float)
        self.n_max = int(n_max)
        n_prompts, self.n_queries, n_answers = self.probs.shape
        self.prompt_ids = prompt_ids or tuple(f"p{i}" for i in range(n_prompts))
        # subset credits by canonical vote vector, computed once each (strategies/_votes.py)
        table = (self.n_max, max(n_answers - 1, 1))
        self.strategy = MajorityVote(table=table) if strategy is None else strategy
        self._exact: dict[tuple[str, str], np.ndarray] = {}  # (quantity, strategy) -> values

    def sample(self, prompt: int, queries: np.ndarray, n: int, rng: np.random.Generator
               ) -> VotePull:
        counts = rng.multinomial(n, self.probs[prompt, queries])
        cost = np.full(len(queries), n * self.cost[prompt])
        return VotePull(counts, self.gold[queries], cost, n)

    def worst_cost(self, prompt: int, queries: np.ndarray, n: int) -> np.ndarray:
        """(B,) the most a pull of ``prompt`` at scale ``n`` can cost on each query (exact
        here: a prompt's completions all cost the same)."""
        return np.full(len(queries), n * self.cost[prompt])

    def _rows(self, queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The (prompt, query) rows a strategy's exact values are computed on: answer
        distributions (P * X', A) and gold columns (P * X',), prompt-major, for every query
        or those of ``queries``."""
        probs = self.probs if queries is None else self.probs[:, queries]
        gold = self.gold if queries is None else self.gold[queries]
        return probs.reshape(-1, probs.shape[2]), np.tile(gold, len(probs))

    def _per_distribution(self, quantity: str) -> np.ndarray:
        """(P, X, n_max) ``exact_credit`` or ``expected_draws`` of the strategy, once each."""
        key = (quantity, self.strategy.name)
        if key not in self._exact:
            flat = getattr(self.strategy, quantity)(*self._rows(), self.n_max)
            self._exact[key] = np.asarray(flat).reshape(*self.probs.shape[:2], self.n_max)
        return self._exact[key]

    def precompute_exact(self, map_rows: Callable) -> None:
        """Compute ``exact_credit`` with ``map_rows`` (a pool's ``map``) over chunks of the
        (prompt, query) rows, in parallel; the values are the same as in one piece (rows
        are independent)."""
        key = ("exact_credit", self.strategy.name)
        if key in self._exact:
            return
        probs, gold = self._rows()
        bounds = np.linspace(0, len(probs), 9, dtype=int)  # a few chunks per worker
        parts = map_rows(_exact_credit_rows, [
            (self.strategy, probs[lo:hi], gold[lo:hi], self.n_max)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo])
        self._exact[key] = np.concatenate(parts).reshape(*self.probs.shape[:2], self.n_max)

    def exact_credit(self, queries: np.ndarray | None = None) -> np.ndarray:
        """(P, X, n_max) exact credit of the strategy, computed once; with ``queries``,
        (P, len(queries), n_max) of those alone (computed for them only, unless the whole
        table is there already: each row's value is the same either way)."""
        if queries is None or ("exact_credit", self.strategy.name) in self._exact:
            whole = self._per_distribution("exact_credit")
            return whole if queries is None else whole[:, queries]
        flat = self.strategy.exact_credit(*self._rows(queries), self.n_max)
        return np.asarray(flat).reshape(len(self.probs), len(queries), self.n_max)

    def exact_task(self, task_weights: np.ndarray) -> np.ndarray:
        return task_weights[:, 0, None, None, None] * self.exact_credit()[None]

    def exact_task_per_objective(self, queries: np.ndarray | None = None) -> np.ndarray:
        """(1, P, X, n_max) (or those of ``queries``): the task is the credit times the
        context's one weight."""
        return self.exact_credit(queries)[None]

    def exact_draws(self) -> np.ndarray:
        return self._per_distribution("expected_draws")

    def exact_cost(self) -> np.ndarray:
        return np.broadcast_to(self.cost[:, None], self.probs.shape[:2])


def _exact_credit_rows(task: tuple) -> np.ndarray:
    """``strategy.exact_credit`` of some rows (a worker's share of ``precompute_exact``)."""
    strategy, probs, gold, n_max = task
    return np.asarray(strategy.exact_credit(probs, gold, n_max))


class CategoricalScores:
    """Score pulls over discrete outcomes: ``probs`` (P, X, A), ``values`` (P, X, A, K),
    ``cost`` (P, X, A) per completion of each outcome. Serves any ``scores`` strategy
    (Best-of-N by default)."""

    def __init__(self, probs: np.ndarray, values: np.ndarray, cost: np.ndarray, n_max: int,
                 objectives: tuple[str, ...], prompt_ids: tuple[str, ...] | None = None,
                 strategy: Strategy | None = None):
        self.probs = np.asarray(probs, dtype=float)
        self.values = np.asarray(values, dtype=float)
        self.cost = np.asarray(cost, dtype=float)
        self.n_max = int(n_max)
        n_prompts, self.n_queries, _ = self.probs.shape
        self.prompt_ids = prompt_ids or tuple(f"p{i}" for i in range(n_prompts))
        self.strategy = BestOfN(objectives) if strategy is None else strategy
        self._cdf = np.cumsum(self.probs, axis=2)

    def sample(self, prompt: int, queries: np.ndarray, n: int, rng: np.random.Generator
               ) -> ScorePull:
        outcome = _sample_categories(self._cdf[prompt, queries], n, rng)
        q = np.asarray(queries)[:, None]
        return ScorePull(self.values[prompt, q, outcome], self.cost[prompt, q, outcome], n)

    def worst_cost(self, prompt: int, queries: np.ndarray, n: int) -> np.ndarray:
        """(B,) the most a pull of ``prompt`` at scale ``n`` can cost on each query: ``n``
        times its dearest outcome."""
        return n * self.cost[prompt, np.asarray(queries)].max(axis=1)

    def exact_task(self, task_weights: np.ndarray) -> np.ndarray:
        return self.strategy.exact_task(self.probs, self.values, task_weights, self.n_max)

    def exact_cost(self) -> np.ndarray:
        return (self.probs * self.cost).sum(axis=2)

    def exact_draws(self) -> np.ndarray:
        return self.strategy.expected_draws(self.probs, self.n_max)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (no pickles); a missing or broken file is a
    ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("file not found", source=str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:  # numpy raises many types for a broken archive
        raise ConfigError(f"not a readable .npz archive ({type(exc).__name__})",
                          source=str(path)) from None


def load_npz(path: str | Path) -> Environment:
    """Load a recorded majority-vote environment (format of ``shared/envs/README.md``).

    Meta cost weights multiply positive cost (``correct·credit + cost·N·cost_p``), so they are
    negated into this tool's convention (the weight of ``O_cost = -cost``).
    """
    path = Path(path)
    src = str(path)
    arrays = read_npz(path)
    for key in ("probs", "answers", "cost", "meta"):
        if key not in arrays:
            raise ConfigError("missing array", source=src, field=key)
    probs, answers, cost = arrays["probs"], arrays["answers"], arrays["cost"]
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError:
        raise ConfigError("is not JSON", source=src, field="meta") from None
    if probs.ndim != 3:
        raise ConfigError(f"must have shape (P, X, C), got {probs.shape}", source=src,
                          field="probs")
    n_prompts, n_queries, n_answers = probs.shape
    if answers.shape != (n_queries,):
        raise ConfigError(f"must have shape ({n_queries},), got {answers.shape}", source=src,
                          field="answers")
    if cost.shape != (n_prompts,):
        raise ConfigError(f"must have shape ({n_prompts},), got {cost.shape}", source=src,
                          field="cost")
    if not np.all(np.isfinite(probs)) or probs.min() < 0:
        raise ConfigError("has negative or non-finite entries", source=src, field="probs")
    row_sums = probs.sum(axis=2)
    worst = np.unravel_index(np.argmax(np.abs(row_sums - 1)), row_sums.shape)
    if abs(row_sums[worst] - 1) > _PROB_TOLERANCE:
        raise ConfigError(
            f"rows must sum to 1 (prompt {worst[0]}, query {worst[1]} sums to "
            f"{row_sums[worst]:.6g})", source=src, field="probs")
    if answers.min() < -1 or answers.max() >= n_answers:
        raise ConfigError(f"gold indices must lie in -1..{n_answers - 1}", source=src,
                          field="answers")
    if not np.all(np.isfinite(cost)) or cost.min() < 0:
        raise ConfigError("must be finite and non-negative", source=src, field="cost")
    if meta.get("strategy", "majority_vote") != "majority_vote":
        raise ConfigError("only 'majority_vote' environments are supported", source=src,
                          field="meta.strategy")
    n_max = int(meta.get("n_max", 32))
    raw = meta.get("contexts") or {"default": {"correct": 1.0, "cost": 0.0}}
    names = tuple(raw)
    task = np.array([[float(raw[c].get("correct", 1.0))] for c in names])
    cost_w = np.array([-float(raw[c].get("cost", 0.0)) for c in names])
    dist = np.asarray(meta.get("context_distribution") or np.full(len(names), 1 / len(names)))
    contexts = Contexts(names, task, cost_w, dist / dist.sum())
    backend = CategoricalVotes(probs / row_sums[..., None], answers, cost, n_max)
    return Environment(meta.get("name", path.stem), backend, contexts,
                       {"source": src, "n_max": n_max})
