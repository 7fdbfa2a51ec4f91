"""Majority voting: exact credit (ties 1/t) under multinomial and hypergeometric sampling.

Both laws reduce to one dynamic program over the wrong answers. For a gold count g, the
generating polynomial of wrong answers that do not beat gold is
``prod_j ( sum_{m<g} a_j[m] x^m + y a_j[g] x^g )``; the coefficient of ``x^t y^J`` weighs the
ways the other answers take t votes with J of them tied with gold. Gold then earns
``1 / (1 + J)``. With ``a_j[m] = C(n_j, m)`` it counts size-k subsets of observed votes
(the all-subsets estimator); with ``a_j[m] = p_j^m / m!`` it is the multinomial EGF.
"""

from __future__ import annotations

import numpy as np

# Above this many distinct wrong answers in a batch, the subset estimator averages random
# subsets instead of running the exact program (whose cost grows with that number).
EXACT_MAX_WRONG_ANSWERS = 12
MC_SUBSETS = 512


def gammaln(x: np.ndarray) -> np.ndarray:
    """log |Gamma(x)|, from scipy, imported on first use (it is slow to import and the
    command line needs it only when estimating)."""
    from scipy.special import gammaln as scipy_gammaln

    return scipy_gammaln(x)


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def binomial_table(n: np.ndarray, m_max: int) -> np.ndarray:
    """``C(n, m)`` for m = 0..m_max, shape ``n.shape + (m_max + 1,)``; 0 where m > n."""
    n = np.asarray(n, dtype=float)[..., None]
    m = np.arange(m_max + 1, dtype=float)
    valid = m <= n
    out = np.exp(_log_comb(np.where(valid, n, m), m))
    return np.where(valid, np.rint(out), 0.0)


def gold_win_weights(gold_coef: np.ndarray, wrong_coef: np.ndarray, max_total: int) -> np.ndarray:
    """Tie-credited weight of gold winning, for every total size 0..max_total.

    gold_coef: (B, G+1), coefficient of gold count g (index g; g=0 never wins).
    wrong_coef: (B, A, max_total+1), coefficient of m votes for wrong answer j.
    Returns (B, max_total+1): ``W[b, k] = sum_g gold[b,g] sum_J F_g[k-g, J] / (1+J)``.
    """
    gold_coef = np.asarray(gold_coef, dtype=float)
    wrong_coef = np.asarray(wrong_coef, dtype=float)
    n_rows, g_max = gold_coef.shape[0], min(gold_coef.shape[1] - 1, max_total)
    out = np.zeros((n_rows, max_total + 1))
    for g in range(1, g_max + 1):
        rows = np.nonzero(gold_coef[:, g])[0]
        if rows.size == 0:
            continue
        t_top = max_total - g  # votes left for the wrong answers
        j_top = t_top // g  # at most this many wrong answers can tie with gold
        coef = wrong_coef[rows, :, : t_top + 1]
        # answers absent from every row of this slice are the identity factor: skip them
        present = np.nonzero(coef[:, :, 1:].any(axis=(0, 2)))[0]
        # F[b, t, J]: wrong answers so far take t votes, none above g, J of them equal to g
        state = np.zeros((rows.size, t_top + 1, j_top + 1))
        state[:, 0, 0] = 1.0
        for j in present:
            a = coef[:, j, :]  # (b, t_top+1)
            nonzero = np.nonzero(a.any(axis=0))[0]
            m_top = min(int(nonzero[-1]), g - 1)
            new = a[:, 0, None, None] * state
            for m in range(1, m_top + 1):
                new[:, m:, :] += a[:, m, None, None] * state[:, : t_top + 1 - m, :]
            if g <= t_top and j_top > 0:
                new[:, g:, 1:] += a[:, g, None, None] * state[:, : t_top + 1 - g, :-1]
            state = new
        credit = state @ (1.0 / (1.0 + np.arange(j_top + 1)))  # (b, t_top+1)
        out[rows, g:] += gold_coef[rows, g, None] * credit
    return out


def _split_gold(counts: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gold votes (B,) and every other answer's votes (B, A'), answers absent everywhere dropped."""
    rows = np.arange(counts.shape[0])
    has_gold = gold >= 0
    gold_col = np.where(has_gold, gold, 0)
    n_gold = np.where(has_gold, counts[rows, gold_col], 0)
    others = counts.copy()
    others[rows[has_gold], gold_col[has_gold]] = 0
    return n_gold, others[:, others.any(axis=0)]


def subset_credit(counts: np.ndarray, gold: np.ndarray, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """All-subsets estimate of majority-vote credit at every size k = 1..N.

    counts: (B, A) votes per answer in N completions (every row sums to the same N);
    gold: (B,) column of the gold answer, or -1 when no answer is gold.
    Returns (B, N): entry k-1 is the exact mean credit over all size-k subsets (ties 1/t).
    With more than ``EXACT_MAX_WRONG_ANSWERS`` distinct wrong answers it averages
    ``MC_SUBSETS`` random nested subsets instead (unbiased, not exact).
    """
    counts = np.asarray(counts, dtype=np.int64)
    gold = np.asarray(gold, dtype=np.int64)
    total = int(counts.sum(axis=1).max()) if counts.size else 0
    if counts.shape[0] == 0 or total == 0:
        return np.zeros((counts.shape[0], total))
    n_gold, others = _split_gold(counts, gold)
    if others.shape[1] > EXACT_MAX_WRONG_ANSWERS:
        return _subset_credit_mc(counts, gold, rng or np.random.default_rng(0))
    return _subset_credit_dp(n_gold, others, total)


def _subset_credit_dp(n_gold: np.ndarray, others: np.ndarray, total: int) -> np.ndarray:
    """Exact subset credits from gold votes (B,) and other votes (B, A'), rows summing to
    ``total``."""
    g_max = int(n_gold.max())
    gold_coef = binomial_table(n_gold, g_max)
    wrong_coef = binomial_table(others, total)
    weights = gold_win_weights(gold_coef, wrong_coef, total)[:, 1:]
    k = np.arange(1, total + 1)
    return weights / np.exp(_log_comb(np.full(total, float(total)), k.astype(float)))[None, :]


def _subset_credit_mc(counts: np.ndarray, gold: np.ndarray, rng: np.random.Generator
                      ) -> np.ndarray:
    """Mean credit over random nested subsets: prefixes of random orderings of the votes."""
    n_rows, n_ans = counts.shape
    total = int(counts.sum(axis=1)[0])
    labels = np.repeat(np.tile(np.arange(n_ans), n_rows), counts.ravel()).reshape(n_rows, total)
    keys = rng.random((n_rows, MC_SUBSETS, total))
    order = np.argsort(keys, axis=2)
    seq = labels[np.arange(n_rows)[:, None, None], order]  # (B, S, N)
    onehot = seq[..., None] == np.arange(n_ans)  # (B, S, N, A)
    running = np.cumsum(onehot, axis=2)  # votes after each prefix
    top = running.max(axis=3)
    ties = (running == top[..., None]).sum(axis=3)
    gold_idx = np.where(gold >= 0, gold, 0)
    gold_votes = np.take_along_axis(running, gold_idx[:, None, None, None], axis=3)[..., 0]
    credit = np.where((gold >= 0)[:, None, None] & (gold_votes == top), 1.0 / ties, 0.0)
    return credit.mean(axis=1)


def exact_majority_vote(probs: np.ndarray, gold: np.ndarray, n_max: int) -> np.ndarray:
    """Exact expected credit of majority voting over N i.i.d. draws, N = 1..n_max.

    probs: (B, A) answer distributions; gold: (B,) gold column or -1.
    Returns (B, n_max). One dynamic program serves every N at once.
    """
    probs = np.asarray(probs, dtype=float)
    gold = np.asarray(gold, dtype=np.int64)
    n_rows = probs.shape[0]
    rows = np.arange(n_rows)
    has_gold = gold >= 0
    p_gold = np.where(has_gold, probs[rows, np.where(has_gold, gold, 0)], 0.0)
    others = probs.copy()
    others[rows[has_gold], gold[has_gold]] = 0.0
    others = others[:, others.any(axis=0)] if n_rows else others
    m = np.arange(n_max + 1)
    log_fact = gammaln(m + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gold_coef = np.exp(m * np.log(p_gold)[:, None] - log_fact)
        wrong_coef = np.exp(m * np.log(others)[..., None] - log_fact)
    gold_coef[:, 0] = 1.0
    wrong_coef[..., 0] = 1.0
    weights = gold_win_weights(gold_coef, wrong_coef, n_max)[:, 1:]
    return np.clip(weights * np.exp(log_fact[1:])[None, :], 0.0, 1.0)


def _sorted_partitions(total_max: int, parts: int) -> np.ndarray:
    """Every non-increasing vector of ``parts`` non-negative ints with sum <= total_max."""
    rows = np.zeros((1, 0), dtype=np.int64)
    cap = np.array([total_max])  # largest value the next part may take
    left = np.array([total_max])
    for _ in range(parts):
        width = np.minimum(cap, left) + 1
        parent = np.repeat(np.arange(rows.shape[0]), width)
        value = np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
        rows = np.column_stack([rows[parent], value])
        cap, left = value, left[parent] - value
    return rows


class VoteCreditTable:
    """Subset credits of every canonical vote vector (gold votes, sorted other votes).

    Built once per (n_max, n_wrong); afterwards a batch of pulls is estimated by a sorted
    look-up instead of a dynamic program. Used where answers are few (categorical envs).
    """

    def __init__(self, n_max: int, n_wrong: int):
        self.n_max, self.n_wrong = n_max, n_wrong
        others = _sorted_partitions(n_max, n_wrong)
        room = n_max - others.sum(axis=1)
        parent = np.repeat(np.arange(others.shape[0]), room + 1)
        n_gold = np.arange((room + 1).sum()) - np.repeat(np.cumsum(room + 1) - room - 1, room + 1)
        keys = np.column_stack([n_gold, others[parent]])
        codes = self._encode(keys)
        order = np.argsort(codes)
        self._codes = codes[order]
        self._credit = np.zeros((keys.shape[0], n_max))
        chunk = 8192
        for lo in range(0, keys.shape[0], chunk):
            part = keys[order[lo : lo + chunk]]
            total = part.sum(axis=1)
            for n in np.unique(total[total > 0]):  # the estimator wants one N per call
                sel = np.nonzero(total == n)[0]
                rows = part[sel]
                self._credit[lo + sel, :n] = _subset_credit_dp(rows[:, 0], rows[:, 1:], int(n))

    def _encode(self, keys: np.ndarray) -> np.ndarray:
        base = self.n_max + 1
        return keys @ (base ** np.arange(keys.shape[1], dtype=np.int64))

    def _canonical(self, counts: np.ndarray, gold: np.ndarray) -> np.ndarray | None:
        """(B, 1 + n_wrong) keys (gold votes, sorted other votes), or None if not covered."""
        n_gold, others = _split_gold(counts, gold)
        others = np.where(n_gold[:, None] > 0, others, 0)  # no gold: key (0, 0, ...), credit 0
        if counts.sum(axis=1).max() > self.n_max or (others > 0).sum(axis=1).max(
                initial=0) > self.n_wrong:
            return None
        others = -np.sort(-others, axis=1)[:, : self.n_wrong]
        pad = self.n_wrong - others.shape[1]
        if pad > 0:
            others = np.pad(others, ((0, 0), (0, pad)))
        return np.column_stack([n_gold, others]).astype(np.int64)

    def covers(self, counts: np.ndarray, gold: np.ndarray) -> bool:
        return self._canonical(counts, gold) is not None

    def lookup(self, counts: np.ndarray, gold: np.ndarray) -> np.ndarray | None:
        """Same contract as ``subset_credit``; None where the table does not cover a row."""
        keys = self._canonical(counts, gold)
        if keys is None:
            return None
        rows = np.searchsorted(self._codes, self._encode(keys))
        return self._credit[rows, : int(counts.sum(axis=1).max())]


_TABLES: dict[tuple[int, int], VoteCreditTable] = {}


def adopt_credit_tables(tables: dict[tuple[int, int], VoteCreditTable]) -> None:
    """Use tables built in another process (keys ``(n_max, n_wrong)``) instead of rebuilding."""
    _TABLES.update(tables)


def credit_table(n_max: int, n_wrong: int) -> VoteCreditTable:
    """The process-wide table for (n_max, n_wrong), built on first use."""
    key = (n_max, n_wrong)
    if key not in _TABLES:
        _TABLES[key] = VoteCreditTable(n_max, n_wrong)
    return _TABLES[key]
