"""Best-of-N: all-subsets estimator from observed scores, exact value over discrete outcomes."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def max_of_k_weights(n: int) -> np.ndarray:
    """(n, n) matrix M with ``M[k-1, i-1] = C(i-1, k-1) / C(n, k)`` for i >= k, else 0.

    Applied to ascending-sorted scores it gives the exact mean, over all size-k subsets,
    of the subset's maximum (the pass@k-style estimator).
    """
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
