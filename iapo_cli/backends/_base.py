"""What every backend offers: sampled pulls, and exact values where the backend knows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..strategies import ScorePull, Strategy, VotePull


@dataclass(frozen=True)
class Contexts:
    """User contexts: a weight per task objective, a cost weight, a probability each."""

    names: tuple[str, ...]
    task_weights: np.ndarray  # (C, K)
    cost_weights: np.ndarray  # (C,) utility lost per unit of cost
    probabilities: np.ndarray  # (C,), sums to 1
    max_usd: np.ndarray | None = None  # (C,) cap on expected USD per query; NaN: no cap
    max_n: np.ndarray | None = None  # (C,) int, the largest N a context accepts; 0: no cap

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class PullUsage:
    """What the completions of one pull used, per query of the pull: every field is a (B,)
    float64 array. A backend that reports usage (live) gives one per pull; as an upper
    bound before sending (``worst_usage``) the same fields hold worst cases.

    ``usd`` is NaN when the model has no price. ``usd_prompt`` is the part of ``usd`` billed
    for prompt tokens (once per request), and ``request_cost`` the part of the pull's cost,
    in cost-measure units (scale applied), charged once per request and therefore NOT in the
    per-completion cost the strategy got (0 when the measure counts completions only): the
    expected cost at scale k is then ``k * per-completion cost + requests(k) * request_cost
    / requests``."""

    completions: np.ndarray  # (B,) completions drawn
    requests: np.ndarray  # (B,) requests sent (or, for a worst case, at most sent)
    prompt_tokens: np.ndarray  # (B,) prompt tokens billed, summed over the requests
    completion_tokens: np.ndarray  # (B,)
    usd: np.ndarray  # (B,) NaN when unpriced
    usd_prompt: np.ndarray  # (B,) the prompt-token part of usd
    request_cost: np.ndarray  # (B,) cost-measure units billed per request, summed


@runtime_checkable
class Backend(Protocol):
    """Source of completions. ``sample`` pulls one prompt at one scale on many queries.

    A backend delivers one kind of pull (``strategy.pull_kind``: votes or scores) and serves
    any registered strategy of that kind; ``strategy`` may be replaced by one of the same
    kind (``strategies.strategy_like``) before training starts.
    """

    strategy: Strategy
    prompt_ids: tuple[str, ...]
    n_queries: int
    n_max: int

    def sample(self, prompt: int, queries: np.ndarray, n: int, rng: np.random.Generator
               ) -> VotePull | ScorePull: ...


@runtime_checkable
class ExactBackend(Backend, Protocol):
    """A backend whose expected utilities are known exactly (categorical, synthetic)."""

    def exact_task(self, task_weights: np.ndarray) -> np.ndarray:
        """(C, P, X, n_max): expected task utility of prompt p at scale N on query x."""
        ...

    def exact_cost(self) -> np.ndarray:
        """(P, X): expected cost of one completion."""
        ...

    def exact_draws(self) -> np.ndarray:
        """(P, X, n_max): expected completions the strategy draws at scale N (N itself for
        fixed-N strategies); times ``exact_cost`` it is the expected cost at N."""
        ...

    # Optionally ``exact_task_per_objective(queries=None) -> (K, P, X, n_max)`` when the
    # task utility is linear in the context's task weights (majority voting: one
    # objective, the credit): ``exact_task(w)[c] == sum_k w[c, k] * per_objective[k]``;
    # with ``queries`` only theirs, computed for them only. Exact values then take memory
    # for the objectives rather than for every context, and evaluating a run computes
    # its test queries only (``ExactTable``).


@dataclass
class Environment:
    """A backend with the contexts it ships with (npz meta, synthetic family)."""

    name: str
    backend: Backend
    contexts: Contexts
    info: dict = field(default_factory=dict)
