"""A policy side by side with the usual recipes, on the same test queries and samples.

Inputs are per-query test utilities ``(C, P, X, S)`` (exact expectations, or sampled
estimates; NaN where an arm was not evaluated) and the run's training estimates
``(C, P, S)``. Every comparison is chosen from the training estimates only, as a user
without test data would choose it; only the oracle looks at the test values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICY = "inference-aware policy"
AGNOSTIC = "inference-agnostic choice"
AGNOSTIC_BEST_N = "same prompts, best fixed N"
SINGLE_ARM = "best single arm"
ORACLE = "oracle"

DESCRIPTIONS = {
    POLICY: "the run's (prompt, N) per context",
    AGNOSTIC: "per context the prompt with the best estimated utility at the smallest N of "
              "the grid (N=1), deployed there: prompt optimization without inference-awareness",
    AGNOSTIC_BEST_N: "the inference-agnostic prompts, all contexts at the one N with the best "
                     "estimated average return",
    SINGLE_ARM: "one (prompt, N) for every context: the best estimated average return",
    ORACLE: "per context the best arm on these test queries (an upper bound)",
}


@dataclass(frozen=True)
class Choice:
    """One way to deploy: an arm per context (prompt index, N)."""

    name: str
    prompt: np.ndarray  # (C,)
    scale: np.ndarray  # (C,) N


def _best(values: np.ndarray) -> np.ndarray:
    """argmax over the last axis, NaN never best."""
    return np.where(np.isnan(values), -np.inf, values).argmax(axis=-1)


def comparison_choices(train: np.ndarray, scales: np.ndarray, probabilities: np.ndarray,
                       policy: Choice) -> list[Choice]:
    """The policy and the recipes it is compared with, chosen from training estimates
    ``train`` (C, P, S) over the grid ``scales``."""
    n_ctx, n_prompts, n_scales = train.shape
    ctx = np.arange(n_ctx)
    agnostic = _best(train[:, :, 0])  # (C,)
    at_n1 = Choice(AGNOSTIC, agnostic, np.full(n_ctx, scales[0]))
    per_scale = np.einsum("c,cs->s", probabilities, np.nan_to_num(
        train[ctx, agnostic, :], nan=-np.inf))
    fixed = Choice(AGNOSTIC_BEST_N, agnostic, np.full(n_ctx, scales[_best(per_scale)]))
    average = np.einsum("c,cps->ps", probabilities, np.nan_to_num(train, nan=-np.inf))
    p, s = divmod(int(_best(average.ravel())), n_scales)
    single = Choice(SINGLE_ARM, np.full(n_ctx, p), np.full(n_ctx, scales[s]))
    return [policy, at_n1, fixed, single]


def oracle_choice(test: np.ndarray, scales: np.ndarray) -> Choice:
    """Per context the arm with the best mean test utility (C, P, X, S); NaN arms excluded."""
    with np.errstate(invalid="ignore"):
        mean = test.mean(axis=2)  # (C, P, S)
    flat = _best(mean.reshape(mean.shape[0], -1))
    p, s = np.divmod(flat, mean.shape[2])
    return Choice(ORACLE, p, scales[s])


@dataclass(frozen=True)
class ChoiceScore:
    choice: Choice
    value: np.ndarray  # (C,) mean test utility
    sem: np.ndarray  # (C,) its standard error over test queries
    acr: float
    acr_sem: float


def score_choice(test: np.ndarray, scales: np.ndarray, probabilities: np.ndarray,
                 choice: Choice) -> ChoiceScore:
    """Mean test utility per context and the ACR, each with its standard error over the
    test queries (the ACR's from per-query returns ``sum_c p_c u(c, x)``)."""
    index = np.searchsorted(scales, choice.scale)
    ctx = np.arange(test.shape[0])
    per_query = test[ctx, choice.prompt, :, index]  # (C, X)
    x = per_query.shape[1]
    ddof = 1 if x > 1 else 0
    value = per_query.mean(axis=1)
    sem = per_query.std(axis=1, ddof=ddof) / np.sqrt(x)
    returns = probabilities @ per_query
    return ChoiceScore(choice, value, sem, float(returns.mean()),
                       float(returns.std(ddof=ddof) / np.sqrt(x)))


def gain_captured(score: float, agnostic: float, oracle: float) -> float:
    """The share of the oracle's gain over the inference-agnostic choice that ``score``
    achieves (1 = all of it; NaN when the oracle gains nothing)."""
    gap = oracle - agnostic
    return (score - agnostic) / gap if gap > 1e-12 else float("nan")
