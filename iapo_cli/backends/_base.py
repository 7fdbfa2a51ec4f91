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

    def __len__(self) -> int:
        return len(self.names)


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


@dataclass
class Environment:
    """A backend with the contexts it ships with (npz meta, synthetic family)."""

    name: str
    backend: Backend
    contexts: Contexts
    info: dict = field(default_factory=dict)
