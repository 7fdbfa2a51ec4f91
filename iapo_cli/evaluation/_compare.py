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
BEST_MODEL_N1 = "best single model at N=1"
CHEAPEST_NEAR_BEST = "cheapest arm within 1 point of the best"
POINT = 0.01
"""One point of task utility (utilities are in [0, 1] per objective)."""

DESCRIPTIONS = {
    POLICY: "the run's (prompt, N) per context",
    AGNOSTIC: "per context the prompt with the best estimated utility at the smallest N of "
              "the grid (N=1), deployed there: prompt optimization without inference-awareness",
    AGNOSTIC_BEST_N: "the inference-agnostic prompts, all contexts at the one N with the best "
                     "estimated average return",
    SINGLE_ARM: "one (prompt, N) for every context: the best estimated average return",
    BEST_MODEL_N1: "one model for every context (the best estimated average return at N=1), "
                   "per context its prompt with the best estimated utility at N=1",
    CHEAPEST_NEAR_BEST: "per context the arm with the lowest expected cost per query (USD "
                        "when priced) among those whose estimated task utility is within "
                        "1 point (0.01) of the context's best",
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


def best_model_choice(train: np.ndarray, scales: np.ndarray, probabilities: np.ndarray,
                      arm_models: tuple[str, ...]) -> Choice:
    """"The best single model at N=1" from training estimates ``train`` (C, P, S): for each
    model (``arm_models[p]``, the model of arm p) its best arm at the grid's smallest N per
    context, and of those models the one with the best estimated average return
    (probability-weighted over contexts; ties: the model listed first; NaN never best)."""
    n_ctx = train.shape[0]
    at_n1 = np.nan_to_num(train[:, :, 0], nan=-np.inf)  # (C, P)
    models = list(dict.fromkeys(arm_models))
    owner = np.array([models.index(m) for m in arm_models])  # (P,)
    best_value, best_pick = -np.inf, None
    for m in range(len(models)):
        masked = np.where(owner[None, :] == m, at_n1, -np.inf)  # (C, P)
        pick = masked.argmax(axis=1)  # (C,)
        chosen = masked[np.arange(n_ctx), pick]
        value = float(probabilities @ np.where(np.isfinite(chosen), chosen, 0.0)) \
            if np.isfinite(chosen).all() else -np.inf
        if best_pick is None or value > best_value:
            best_value, best_pick = value, pick
    return Choice(BEST_MODEL_N1, best_pick, np.full(n_ctx, scales[0]))


def cheapest_near_best(task: np.ndarray, price: np.ndarray, scales: np.ndarray,
                       point: float = POINT) -> Choice:
    """"The cheapest arm within 1 point of the best", per context: among the arms whose
    estimated task utility ``task`` (C, P, S) is at least the context's best minus
    ``point``, the one with the lowest expected cost per query ``price`` (C, P, S, any
    unit; NaN arms never chosen); ties go to the higher task utility, then the first arm
    (prompt-major, N ascending). A context without any priced estimate takes its best."""
    n_ctx, n_prompts, n_scales = task.shape
    flat_task = task.reshape(n_ctx, -1)
    flat_price = price.reshape(n_ctx, -1)
    best = np.where(np.isnan(flat_task), -np.inf, flat_task).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        near = (flat_task >= best - point - 1e-12) & ~np.isnan(flat_price)
    picks = np.empty(n_ctx, dtype=np.int64)
    for c in range(n_ctx):
        candidates = np.flatnonzero(near[c])
        if not len(candidates):
            picks[c] = _best(flat_task[c])
            continue
        order = np.lexsort((-flat_task[c, candidates], flat_price[c, candidates]))
        picks[c] = candidates[order[0]]
    p, s = np.divmod(picks, n_scales)
    return Choice(CHEAPEST_NEAR_BEST, p, scales[s])


class PerQueryValues:
    """Per-query test utilities of every arm, (C, P, X, S), handed out one context at a
    time: ``per_context(c)`` gives context c's (P, X, S). An array holds them whole
    (``PerQueryValues.of``); an exact table of hundreds of prompts and contexts computes each
    context's when asked, so memory holds one context's at a time. ``allowed`` (C, P, S):
    arms outside it read NaN (never chosen by the oracle)."""

    def __init__(self, n_contexts: int, per_context, allowed: np.ndarray | None = None,
                 per_arm=None):
        """``per_arm(c, p, s)``, optional: (X,) of one arm, ``per_context(c)[p, :, s]``
        without the rest of the context's (a score needs one arm per context)."""
        self.n_contexts = n_contexts
        self._per_context = per_context
        self._per_arm = per_arm
        self.allowed = allowed

    @classmethod
    def of(cls, values: np.ndarray) -> PerQueryValues:
        return cls(values.shape[0], values.__getitem__)

    def masked(self, allowed: np.ndarray | None) -> PerQueryValues:
        """The same values with the arms outside ``allowed`` (C, P, S) NaN."""
        return self if allowed is None else PerQueryValues(self.n_contexts, self._per_context,
                                                       allowed, self._per_arm)

    def context(self, c: int) -> np.ndarray:
        """(P, X, S) of context ``c``."""
        values = self._per_context(c)
        if self.allowed is not None:
            values = np.where(self.allowed[c][:, None, :], values, np.nan)
        return values

    def mean(self) -> np.ndarray:
        """(C, P, S) mean over the test queries (NaN where an arm has none)."""
        with np.errstate(invalid="ignore"):
            return np.stack([self.context(c).mean(axis=1) for c in range(self.n_contexts)])

    def chosen(self, prompt: np.ndarray, index: np.ndarray) -> np.ndarray:
        """(C, X) per-query values of arm (prompt[c], scale index[c]) in each context."""
        if self._per_arm is None:
            return np.stack([self.context(c)[prompt[c], :, index[c]]
                             for c in range(self.n_contexts)])
        rows = [self._per_arm(c, prompt[c], index[c]) for c in range(self.n_contexts)]
        if self.allowed is not None:
            rows = [row if self.allowed[c, prompt[c], index[c]] else np.full_like(row, np.nan)
                    for c, row in enumerate(rows)]
        return np.stack(rows)


def _as_test_values(test: np.ndarray | PerQueryValues) -> PerQueryValues:
    return test if isinstance(test, PerQueryValues) else PerQueryValues.of(np.asarray(test))


def oracle_choice(test: np.ndarray | PerQueryValues, scales: np.ndarray) -> Choice:
    """Per context the arm with the best mean test utility (C, P, X, S); NaN arms excluded."""
    mean = _as_test_values(test).mean()  # (C, P, S)
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


def score_choice(test: np.ndarray | PerQueryValues, scales: np.ndarray,
                 probabilities: np.ndarray, choice: Choice) -> ChoiceScore:
    """Mean test utility per context and the ACR, each with its standard error over the
    test queries (the ACR's from per-query returns ``sum_c p_c u(c, x)``)."""
    index = np.searchsorted(scales, choice.scale)
    per_query = _as_test_values(test).chosen(choice.prompt, index)  # (C, X)
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
