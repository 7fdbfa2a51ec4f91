"""Majority voting: exact credit (ties 1/t) under multinomial and hypergeometric sampling.

Both laws reduce to one dynamic program over the wrong answers. For a gold count g, the
generating polynomial of wrong answers that do not beat gold is
``prod_j ( sum_{m<g} a_j[m] x^m + y a_j[g] x^g )``; the coefficient of ``x^t y^J`` weighs the
ways the other answers take t votes with J of them tied with gold. Gold then earns
``1 / (1 + J)``. With ``a_j[m] = C(n_j, m)`` it counts size-k subsets of observed votes
(the all-subsets estimator); with ``a_j[m] = p_j^m / m!`` it is the multinomial EGF.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

# Rows of one dynamic program at most: its state is (rows, votes, ties), so memory is
# bounded whatever the number of queries and prompts (exact values of a big environment).
MAX_PROGRAM_ELEMENTS = 1 << 24
# Subset programs over at most this many rows add an answer by one banded matrix product
# (few Python steps: the lazily filled credit tables run many small programs); larger
# ones step through the answer's vote counts, cheaper per row. With integer coefficients
# both add up exactly; exact values (real coefficients) always step.
BANDED_MAX_ROWS = 256


def gammaln(x: np.ndarray) -> np.ndarray:
    """log |Gamma(x)|, from scipy, imported on first use (it is slow to import and the
    command line needs it only when estimating)."""
    from scipy.special import gammaln as scipy_gammaln

    return scipy_gammaln(x)


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def gold_win_weights(gold_coef: np.ndarray, wrong_coef: np.ndarray, max_total: int,
                     banded: bool = False, vote_counts: np.ndarray | None = None
                     ) -> np.ndarray:
    """Tie-credited weight of gold winning, for every total size 0..max_total.

    gold_coef: (B, G+1), coefficient of gold count g (index g; g=0 never wins).
    wrong_coef: (B, A, max_total+1), coefficient of m votes for wrong answer j.
    Returns (B, max_total+1): ``W[b, k] = sum_g gold[b,g] sum_J F_g[k-g, J] / (1+J)``.
    ``banded``: small programs may add an answer by one banded product
    (``BANDED_MAX_ROWS``); the subset programs allow it (their integer coefficients add
    up exactly either way), exact values do not (their rounding would then depend on
    the chunk a row falls in).
    ``vote_counts``: (B, A) the wrong answers' votes when ``wrong_coef`` holds their
    binomial coefficients (subset programs). For gold count g, answers with fewer than g
    votes can neither beat nor tie gold, so they act as one answer with their summed
    votes and coefficients ``C(sum, m)`` (Vandermonde), which start the program (a row
    whose wrong answers are all such takes that closed form alone): with many distinct
    answers most have few votes, and the program steps only through the rest (the
    integer coefficients are the same, so the result is too).
    """
    gold_coef = np.asarray(gold_coef, dtype=float)
    wrong_coef = np.asarray(wrong_coef, dtype=float)
    n_rows = gold_coef.shape[0]
    chunk = max(1, MAX_PROGRAM_ELEMENTS // ((max_total + 1) ** 2))
    if n_rows > chunk:  # bounded memory: the rows are independent
        return np.concatenate([gold_win_weights(
            gold_coef[lo : lo + chunk], wrong_coef[lo : lo + chunk], max_total, banded,
            None if vote_counts is None else vote_counts[lo : lo + chunk])
            for lo in range(0, n_rows, chunk)])
    g_max = min(gold_coef.shape[1] - 1, max_total)
    out = np.zeros((n_rows, max_total + 1))
    if vote_counts is not None:
        top_votes, wrong_votes = vote_counts.max(axis=1, initial=0), vote_counts.sum(axis=1)
    for g in range(1, g_max + 1):
        rows = np.nonzero(gold_coef[:, g])[0]
        if rows.size == 0:
            continue
        t_top = max_total - g  # votes left for the wrong answers
        if vote_counts is None:
            j_top = t_top // g  # at most this many wrong answers can tie with gold
            # F[b, t, J]: wrong answers so far take t votes, none above g, J equal to g
            state = np.zeros((rows.size, t_top + 1, j_top + 1))
            coef = wrong_coef[rows, :, : t_top + 1]
            # answers absent from every row of this slice are the identity factor
            coef = coef[:, np.nonzero(coef[:, :, 1:].any(axis=(0, 2)))[0]]
            tops = [int(np.nonzero(coef[:, j].any(axis=0))[0][-1])
                    for j in range(coef.shape[1])]
            state[:, 0, 0] = 1.0
        else:
            # rows whose every wrong answer is pooled: no tie, C(wrong votes, t) ways
            pooled = rows[top_votes[rows] < g]
            out[pooled, g:] += (gold_coef[pooled, g, None]
                                * _pascal(max_total)[wrong_votes[pooled], : t_top + 1])
            rows = rows[top_votes[rows] >= g]
            if rows.size == 0:
                continue
            counts = vote_counts[rows]
            low = counts < g  # (b, A): pooled
            present = np.nonzero(~low.all(axis=0))[0]
            tops = counts[:, present].max(axis=0, initial=0)
            # smaller programs, same integers: the wrong answers hold at most this many
            # votes, and at most len(present) of them can tie
            t_top = min(t_top, int(wrong_votes[rows].max()))
            j_top = min(t_top // g, len(present))
            coef = wrong_coef[rows[:, None], present[None, :], : t_top + 1]
            coef[low[:, present]] = _unit(t_top + 1)  # pooled: the identity factor here
            state = np.zeros((rows.size, t_top + 1, j_top + 1))
            # the pooled answers start the program: they take t votes in C(sum, t) ways
            state[:, :, 0] = _pascal(max_total)[(counts * low).sum(axis=1), : t_top + 1]
        for j, top in enumerate(tops):  # the answers present (coef's columns)
            a = coef[:, j, :]  # (b, t_top+1)
            m_top = min(int(top), g - 1, t_top)
            if banded and rows.size <= BANDED_MAX_ROWS and m_top > 1:
                new = _banded(a, m_top) @ state
            elif m_top == 0 and vote_counts is not None:
                new = state.copy()  # C(c, 0) = 1
            else:
                new = a[:, 0, None, None] * state
                for m in range(1, m_top + 1):
                    new[:, m:, :] += a[:, m, None, None] * state[:, : t_top + 1 - m, :]
            if g <= t_top and j_top > 0:
                new[:, g:, 1:] += a[:, g, None, None] * state[:, : t_top + 1 - g, :-1]
            state = new
        credit = state @ (1.0 / (1.0 + np.arange(j_top + 1)))  # (b, t_top+1)
        out[rows, g : g + t_top + 1] += gold_coef[rows, g, None] * credit
    return out


@functools.lru_cache(maxsize=64)
def _pascal(size: int) -> np.ndarray:
    """(size+1, size+1) ``C(n, m)`` by Pascal's rule (exact while below 2**53)."""
    table = np.zeros((size + 1, size + 1))
    table[:, 0] = 1.0
    for n in range(1, size + 1):
        table[n, 1:] = table[n - 1, 1:] + table[n - 1, :-1]
    return table


@functools.lru_cache(maxsize=512)
def _unit(size: int) -> np.ndarray:
    """(size,) the identity factor's coefficients: 1 for no votes, 0 otherwise."""
    unit = np.zeros(size)
    unit[0] = 1.0
    return unit


def _banded(a: np.ndarray, m_top: int) -> np.ndarray:
    """(b, T, T) lower-banded matrices ``M[b, t, t'] = a[b, t - t']`` for 0 <= t - t' <=
    m_top, else 0, from ``a`` (b, T): multiplying the state by it adds one answer taking
    0..m_top votes, in one product instead of a step per vote count."""
    inside, index = _band_index(a.shape[1], m_top)
    return np.where(inside, a[:, index], 0.0)


@functools.lru_cache(maxsize=4096)
def _band_index(size: int, m_top: int) -> tuple[np.ndarray, np.ndarray]:
    """The band's mask (T, T) and the index of ``a`` each cell reads (T, T)."""
    diff = np.subtract.outer(np.arange(size), np.arange(size))
    inside = (diff >= 0) & (diff <= m_top)
    return inside, np.where(inside, diff, 0)


def _split_gold(counts: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gold votes (B,) and every other answer's votes (B, A'), answers absent everywhere dropped."""
    rows = np.arange(counts.shape[0])
    has_gold = gold >= 0
    gold_col = np.where(has_gold, gold, 0)
    n_gold = np.where(has_gold, counts[rows, gold_col], 0)
    others = counts.copy()
    others[rows[has_gold], gold_col[has_gold]] = 0
    return n_gold, others[:, others.any(axis=0)]


def subset_credit(counts: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """All-subsets estimate of majority-vote credit at every size k = 1..N.

    counts: (B, A) votes per answer in N completions (every row sums to the same N);
    gold: (B,) column of the gold answer, or -1 when no answer is gold.
    Returns (B, N): entry k-1 is the exact mean credit over all size-k subsets (ties 1/t),
    for any number of distinct answers (the program's cost grows linearly with them).
    """
    counts = np.asarray(counts, dtype=np.int64)
    gold = np.asarray(gold, dtype=np.int64)
    total = int(counts.sum(axis=1).max()) if counts.size else 0
    if counts.shape[0] == 0 or total == 0:
        return np.zeros((counts.shape[0], total))
    n_gold, others = _split_gold(counts, gold)
    return _subset_credit_dp(n_gold, others, total)


def _subset_credit_dp(n_gold: np.ndarray, others: np.ndarray, total: int) -> np.ndarray:
    """Exact subset credits (B, total) from gold votes (B,) and other votes (B, A'). Rows
    may sum to different totals (one program serves them all: the weights of size-k
    subsets do not depend on the program's largest total); a row summing to n has its
    credits in columns 0..n-1 and zeros after."""
    g_max = int(n_gold.max())
    pascal = _pascal(total)  # C(n, m), exact integers while below 2**53
    gold_coef = pascal[n_gold, : g_max + 1]
    wrong_coef = pascal[others]
    weights = gold_win_weights(gold_coef, wrong_coef, total, banded=True,
                               vote_counts=others)[:, 1:]
    # C(n_row, k) for k = 1..n_row, through log-gamma as it always was (the figures of a
    # given seed stay the same to the last bit)
    n_row = (n_gold + others.sum(axis=1)).astype(float)[:, None]
    k = np.arange(1, total + 1, dtype=float)[None, :]
    inside = k <= n_row
    subsets = np.exp(_log_comb(np.where(inside, n_row, k), k))
    return np.where(inside, weights / subsets, 0.0)


def exact_majority_vote(probs: np.ndarray, gold: np.ndarray, n_max: int) -> np.ndarray:
    """Exact expected credit of majority voting over N i.i.d. draws, N = 1..n_max.

    probs: (B, A) answer distributions; gold: (B,) gold column or -1.
    Returns (B, n_max). One dynamic program serves every N at once; rows go through it in
    chunks, so memory stays bounded for any B.
    """
    probs = np.asarray(probs, dtype=float)
    gold = np.asarray(gold, dtype=np.int64)
    chunk = max(1, MAX_PROGRAM_ELEMENTS // ((n_max + 1) ** 2))
    if probs.shape[0] > chunk:
        return np.concatenate([exact_majority_vote(probs[lo : lo + chunk],
                                                   gold[lo : lo + chunk], n_max)
                               for lo in range(0, probs.shape[0], chunk)])
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


def key_count(n_max: int, n_wrong: int) -> int:
    """How many canonical keys (gold votes g, other votes sorted, n_wrong of them) have a
    total of at most n_max: per total t of the others, the partitions of t into at most
    n_wrong parts, times the n_max - t + 1 values g can take."""
    # ways[t]: partitions of t into parts of size <= n_wrong (= into at most n_wrong parts)
    ways = [1] + [0] * n_max
    for part in range(1, n_wrong + 1):
        for t in range(part, n_max + 1):
            ways[t] += ways[t - part]
    return sum(w * (n_max - t + 1) for t, w in enumerate(ways))


SHARED_PROGRAM_KEYS = 512
"""Keys of one vote total below this many are computed in one program with the other
totals' (see ``VoteCreditTable._store``)."""

PREBUILD_KEYS = 60_000
"""A table with at most this many keys is computed whole when made (a few large dynamic
programs beat many small ones); a larger one fills the keys pulls touch, as they come."""


class VoteCreditTable:
    """Subset credits of the canonical vote vectors (gold votes, other votes sorted) that
    occur, computed on first sight and kept.

    The exact all-subsets credit of a row depends only on its gold votes and the multiset
    of the other answers' votes, so rows with the same canonical key share one dynamic
    program, run once per process. Keys are filled lazily, in batches (one program per
    vote total), so the table holds what pulls touch (a fraction of every possible vote
    vector, whose number grows like n_max^(n_wrong+1)), any number of answers is exact,
    and memory stays bounded by the keys seen; a small table (``PREBUILD_KEYS``) is
    computed whole at once instead. ``n_wrong`` is the widest key (the other answers of
    the environment); ``n_max`` the largest vote total.
    """

    def __init__(self, n_max: int, n_wrong: int, map_parts: Callable = map):
        # map_parts: how a prebuild runs its programs (a process pool's ``map`` spreads
        # them over cores; the values are the same)
        self.n_max, self.n_wrong = int(n_max), int(n_wrong)
        bits = (self.n_wrong + 1) * math.log2(self.n_max + 1)
        # keys that fit one int64 get an exact code; wider ones a 64-bit hash, each match
        # checked against the stored key (a collision, never seen, turns the table to
        # look-ups by the keys' bytes)
        self._packed = bits < 62
        self._hash = np.random.default_rng(0x1A90).integers(
            1, 2**63, size=self.n_wrong + 1, dtype=np.uint64) | np.uint64(1)
        self._by_bytes: dict[bytes, int] | None = None  # after a collision
        self._codes = np.zeros(0, dtype=np.int64)  # sorted codes of the keys seen
        self._slots = np.zeros(0, dtype=np.int64)  # their rows in _credit
        self._credit = np.zeros((64, self.n_max))
        self._keys = np.zeros((64, self.n_wrong + 1), dtype=np.int64)  # key of each row
        self.size = 0  # keys computed so far
        if self._packed and key_count(self.n_max, self.n_wrong) <= PREBUILD_KEYS:
            self._prebuild(map_parts)

    def _prebuild(self, map_parts: Callable) -> None:
        """Every key, computed in a few large batches (small tables: see PREBUILD_KEYS)."""
        others = _sorted_partitions(self.n_max, self.n_wrong)
        room = self.n_max - others.sum(axis=1)
        parent = np.repeat(np.arange(others.shape[0]), room + 1)
        n_gold = np.arange((room + 1).sum()) - np.repeat(np.cumsum(room + 1) - room - 1,
                                                         room + 1)
        keys = np.column_stack([n_gold, others[parent]])
        codes = self._encode(keys)
        order = np.argsort(codes)
        self._codes = codes[order]
        self._slots = self._store(keys[order], map_parts)

    def __len__(self) -> int:
        return self.size

    def _encode(self, keys: np.ndarray) -> np.ndarray:
        if not self._packed:  # wraps modulo 2**64, by design
            return (keys.astype(np.uint64) * self._hash).sum(axis=1).view(np.int64)
        base = self.n_max + 1
        return keys @ (base ** np.arange(keys.shape[1], dtype=np.int64))

    def _canonical(self, counts: np.ndarray, gold: np.ndarray) -> np.ndarray | None:
        """(B, 1 + n_wrong) keys (gold votes, sorted other votes), or None if not covered."""
        n_gold, others = _split_gold(counts, gold)
        others = np.where(n_gold[:, None] > 0, others, 0)  # no gold: key (0, 0, ...), credit 0
        if counts.sum(axis=1).max() > self.n_max or (others > 0).sum(axis=1).max(
                initial=0) > self.n_wrong:
            return None
        keys = np.zeros((len(counts), self.n_wrong + 1), dtype=np.int64)
        keys[:, 0] = n_gold
        width = min(others.shape[1], self.n_wrong)
        keys[:, 1 : 1 + width] = -np.sort(-others, axis=1)[:, :width]
        return keys

    def covers(self, counts: np.ndarray, gold: np.ndarray) -> bool:
        return self._canonical(counts, gold) is not None

    def _store(self, keys: np.ndarray, map_parts: Callable = map) -> np.ndarray:
        """Compute the credits of new ``keys`` (K, 1 + n_wrong) and return their rows."""
        rows = np.arange(self.size, self.size + len(keys))
        need = self.size + len(keys)
        if need > len(self._credit):
            size = max(need, 2 * len(self._credit))
            grown = np.zeros((size, self.n_max))
            grown[: self.size] = self._credit[: self.size]
            self._credit = grown
            keys_grown = np.zeros((size, self.n_wrong + 1), dtype=np.int64)
            keys_grown[: self.size] = self._keys[: self.size]
            self._keys = keys_grown
        self._keys[rows] = keys
        total = keys.sum(axis=1)
        # Totals with many keys (a prebuild) get a program each, the smallest that serves
        # them; the few keys of a lazy fill share one (fewer Python steps), sorted by total
        parts, mixed = [], []
        for n in np.unique(total[total > 0]):
            sel = np.nonzero(total == n)[0]
            (parts if len(sel) >= SHARED_PROGRAM_KEYS else mixed).append(sel)
        if mixed:
            parts.append(np.concatenate(mixed))
        parts = [part[lo : lo + 8192] for part in parts  # bounded memory per program
                 for lo in range(0, len(part), 8192)]
        credits = map_parts(_subset_credit_part, [(keys[part], int(total[part].max()))
                                                  for part in parts])
        for part, credit in zip(parts, credits, strict=True):
            self._credit[rows[part], : credit.shape[1]] = credit
        self.size = need
        return rows

    def _rows(self, keys: np.ndarray) -> np.ndarray:
        """(B,) the rows of ``keys`` (B, 1 + n_wrong) in the table, computing new ones."""
        if self._by_bytes is not None:
            return self._rows_by_bytes(keys)
        codes = self._encode(keys)
        at = np.searchsorted(self._codes, codes)
        known = at < len(self._codes)
        known[known] = self._codes[at[known]] == codes[known]
        if not known.all():
            new, first = np.unique(codes[~known], return_index=True)
            slots = self._store(keys[~known][first])
            where = np.searchsorted(self._codes, new)
            self._codes = np.insert(self._codes, where, new)
            self._slots = np.insert(self._slots, where, slots)
        rows = self._slots[np.searchsorted(self._codes, codes)]
        if not self._packed and (self._keys[rows] != keys).any():  # a hash collision
            self._by_bytes = {self._keys[r].tobytes(): r for r in range(self.size)}
            return self._rows_by_bytes(keys)
        return rows

    def _rows_by_bytes(self, keys: np.ndarray) -> np.ndarray:
        found = np.array([self._by_bytes.get(row.tobytes(), -1) for row in keys])
        missing = np.nonzero(found < 0)[0]
        if missing.size:
            unique, inverse = np.unique(keys[missing], axis=0, return_inverse=True)
            slots = self._store(unique)
            for row, slot in zip(unique, slots, strict=True):
                self._by_bytes[row.tobytes()] = int(slot)
            found[missing] = slots[np.ravel(inverse)]
        return found

    def lookup_many(self, pulls) -> list[np.ndarray | None]:
        """``lookup`` for every ``(counts, gold)`` of ``pulls``, new keys computed together
        (one program per vote total instead of one per pull)."""
        keys = [self._canonical(c, g) for c, g in pulls]
        covered = [k for k in keys if k is not None]
        rows = iter(np.split(self._rows(np.concatenate(covered)),
                             np.cumsum([len(k) for k in covered])[:-1])
                    if covered else [])
        return [None if k is None else
                self._credit[next(rows), : int(c.sum(axis=1).max())]
                for k, (c, _) in zip(keys, pulls, strict=True)]

    def lookup(self, counts: np.ndarray, gold: np.ndarray) -> np.ndarray | None:
        """Same contract as ``subset_credit``; None where the table does not cover a row."""
        keys = self._canonical(counts, gold)
        if keys is None:
            return None
        rows = self._rows(keys)  # first: it may grow (replace) the credit array
        return self._credit[rows, : int(counts.sum(axis=1).max())]


def _subset_credit_part(task: tuple[np.ndarray, int]) -> np.ndarray:
    """(K, n) credits of canonical keys (K, 1 + n_wrong) totalling at most ``n`` votes."""
    keys, n = task
    return _subset_credit_dp(keys[:, 0], keys[:, 1:], n)


_TABLES: dict[tuple[int, int], VoteCreditTable] = {}


def adopt_credit_tables(tables: dict[tuple[int, int], VoteCreditTable]) -> None:
    """Use tables built in another process (keys ``(n_max, n_wrong)``) instead of rebuilding."""
    _TABLES.update(tables)


def credit_table(n_max: int, n_wrong: int, map_parts: Callable = map) -> VoteCreditTable:
    """The process-wide table for (n_max, n_wrong), built on first use (``map_parts``:
    see ``VoteCreditTable``)."""
    key = (n_max, n_wrong)
    if key not in _TABLES:
        _TABLES[key] = VoteCreditTable(n_max, n_wrong, map_parts)
    return _TABLES[key]
