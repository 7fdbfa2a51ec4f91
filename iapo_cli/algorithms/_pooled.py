"""Per (prompt, train query) vote profiles and the pooled estimate built from them.

``ArmStatistics`` keeps sums of unbiased per-pull estimates; this store keeps, for a
majority-vote strategy, what the pooled plug-in estimate (``strategies._pooled``) needs:
each prompt's vote profile on each train query it was pulled on. Its memory is fixed by
prompts x train queries, whatever the budget.
"""

from __future__ import annotations

import numpy as np

from ..strategies._pooled import PROFILE_WRONG, profile_credit, vote_profiles

CREDIT_ELEMENTS = 1 << 21
"""Rows x scales of pooled credit computed at once (a few arrays of this many floats)."""


class VoteProfiles:
    """Summed vote profiles per (prompt, train query): gold's votes, the other answers'
    votes by rank (``PROFILE_WRONG``, decreasing within each pull) and the votes cast.

    Answers are known by rank only, so two pulls of one (prompt, query) add rank by rank
    (the most-voted wrong answer of each is taken to be the same answer).
    """

    def __init__(self, n_prompts: int, train: np.ndarray, n_queries: int):
        self.row = np.full(n_queries, -1, dtype=np.int64)  # query index -> row, -1 if not train
        self.row[np.asarray(train, dtype=np.int64)] = np.arange(len(train))
        self.votes = np.zeros((n_prompts, len(train), PROFILE_WRONG + 2), dtype=np.float32)

    def add(self, prompt: int, queries: np.ndarray, counts: np.ndarray, gold: np.ndarray
            ) -> None:
        """Add a vote pull of ``prompt`` on ``queries`` (B,): ``counts`` (B, A), ``gold``
        (B,) column or -1."""
        rows = self.row[np.asarray(queries, dtype=np.int64)]
        np.add.at(self.votes[prompt], rows, vote_profiles(counts, gold))

    def credit(self, alpha: float, n_max: int, prompts: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(P, n_max) pooled estimate of each prompt's majority-vote credit at N = 1..n_max
        (NaN for a prompt never pulled, and for those ``prompts`` (P,) bool leaves out:
        only the prompts a decision needs are computed) and (P,) the train queries behind
        each.

        Per query the pool is gold's share of every prompt's votes on it; a prompt's
        shares there are its votes plus ``alpha`` lent votes, of which the pool's share go
        to gold and the rest are scattered (never win), over its votes cast plus
        ``alpha``: gold ``(g + alpha * pool) / (m + alpha)``, each other answer
        ``w / (m + alpha)``. Its estimate is the mean over the queries it was pulled on of
        the credit under those shares. Only gold is pooled: answers are known by rank, and
        one prompt's most-voted wrong answer need not be another's (pooling them by rank
        would make scattered wrong answers one strong rival)."""
        votes = self.votes
        cast = votes[:, :, -1]  # (P, X)
        seen = cast > 0
        if prompts is not None:
            seen = seen & np.asarray(prompts, bool)[:, None]
        # (X,) gold's share of every prompt's votes on each query, wanted or not
        pool_gold = votes[:, :, 0].sum(axis=0) / np.maximum(cast.sum(axis=0), 1.0)
        prompts, rows = np.nonzero(seen)  # sorted by prompt
        total = np.zeros((votes.shape[0], n_max))
        step = max(1, CREDIT_ELEMENTS // n_max)  # bounded memory for any prompts x queries
        for lo in range(0, prompts.size, step):
            p, x = prompts[lo : lo + step], rows[lo : lo + step]
            shares = votes[p, x, :-1].astype(float)
            shares[:, 0] += alpha * pool_gold[x]  # the other lent votes scatter
            shares /= cast[p, x, None] + alpha
            credit = profile_credit(shares, n_max)  # (r, n_max)
            first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
            total[p[first]] += np.add.reduceat(credit, first, axis=0)
        queries = (cast > 0).sum(axis=1)
        computed = seen.any(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(computed[:, None], total / queries[:, None], np.nan), queries
