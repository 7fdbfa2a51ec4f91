"""Seeded synthetic environments with known truth, sized like the paper's studies."""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ConfigError
from ._base import Contexts, Environment
from ._categorical import CategoricalScores, CategoricalVotes


def bernoulli_votes(prompts: int = 32, queries: int = 300, n_max: int = 32, seed: int = 0
                    ) -> Environment:
    """Majority voting on right/wrong answers; 3 cost contexts (low, mid, high).

    Each prompt has a skill and a sharpness: sharp prompts are bimodal across queries (near
    sure or near hopeless), flat ones hover around 1/2, which majority voting amplifies or
    punishes. So the best prompt depends on N.
    """
    rng = np.random.default_rng(seed)
    ease = rng.normal(0.0, 1.0, queries)
    skill = rng.normal(0.3, 0.5, prompts)
    sharpness = rng.uniform(0.4, 3.0, prompts)
    logit = sharpness[:, None] * (ease[None, :] + skill[:, None])
    p_correct = 1.0 / (1.0 + np.exp(-logit))
    probs = np.stack([p_correct, 1.0 - p_correct], axis=2)
    cost = rng.uniform(0.5, 1.5, prompts) * 0.01  # ~ thousands of tokens per completion
    contexts = Contexts(
        ("low", "mid", "high"),
        np.ones((3, 1)),
        np.array([0.0, 0.2, 1.0]),
        np.full(3, 1 / 3),
    )
    backend = CategoricalVotes(probs, np.zeros(queries, dtype=np.int64), cost, n_max)
    return Environment("bernoulli-mv", backend, contexts, {"seed": seed})


def scored_grid(prompts: int = 32, queries: int = 300, n_max: int = 32, seed: int = 0,
                outcomes: int = 8) -> Environment:
    """Best-of-N over two objectives (helpfulness, harmlessness in [0, 1]) and token cost,
    with a 3 x 3 x 3 grid of context weights (27 contexts)."""
    rng = np.random.default_rng(seed)
    style = rng.dirichlet(np.ones(2), prompts)  # how a prompt trades the two objectives
    quality = rng.uniform(0.2, 0.8, prompts)
    spread = rng.uniform(0.05, 0.35, prompts)  # diversity of completions: BoN likes spread
    hardness = rng.uniform(-0.2, 0.2, queries)
    base = quality[:, None] - hardness[None, :]  # (P, X)
    noise = rng.normal(0.0, 1.0, (prompts, queries, outcomes, 2))
    centre = base[..., None, None] * (0.5 + style[:, None, None, :])
    values = np.clip(centre + spread[:, None, None, None] * noise, 0.0, 1.0)
    probs = rng.dirichlet(np.full(outcomes, 2.0), (prompts, queries))
    length = rng.uniform(0.05, 0.3, prompts)
    cost = length[:, None, None] * rng.uniform(0.7, 1.3, (prompts, queries, outcomes))
    grid = list(itertools.product((0.2, 0.6, 1.0), (0.2, 0.6, 1.0), (0.0, 0.02, 0.1)))
    names = tuple(f"help={h:g},harm={s:g},cost={c:g}" for h, s, c in grid)
    contexts = Contexts(
        names,
        np.array([[h, s] for h, s, _ in grid]),
        np.array([c for *_, c in grid]),
        np.full(len(grid), 1 / len(grid)),
    )
    backend = CategoricalScores(probs, values, cost, n_max, ("helpfulness", "harmlessness"))
    return Environment("bon-grid", backend, contexts, {"seed": seed})


SYNTHETIC_FAMILIES = {"bernoulli-mv": bernoulli_votes, "bon-grid": scored_grid}


def synthetic(family: str, **params) -> Environment:
    """A synthetic environment by family name (see ``SYNTHETIC_FAMILIES``)."""
    if family not in SYNTHETIC_FAMILIES:
        known = ", ".join(sorted(SYNTHETIC_FAMILIES))
        raise ConfigError(f"unknown synthetic family {family!r} (known: {known})")
    return SYNTHETIC_FAMILIES[family](**params)
