"""Majority-vote credit at every N from a few votes: the pooled plug-in estimate.

A pull of n completions estimates majority voting at N <= n without bias, but the
all-subsets estimate at N = 32 from 32 votes is nearly an indicator (per query, a paired
difference of two prompts has a standard deviation of about 0.25 on the MATH env). The
plug-in estimate here trades a little bias for far less variance: per (prompt, query) it
lends the prompt's votes ``alpha`` more, split as gold's share of every prompt's votes on
that query (the query's difficulty, shared by the prompts) and otherwise scattered, and
takes the majority-vote credit of the resulting answer shares at every N
(``algorithms._pooled.VoteProfiles.credit``). Two votes per prompt and query then rank prompts at
N = 32 better than 32 votes do (issue 13's ablation in ``benchmarks/pooled_ablation.py``).

Answers are known by rank, not identity (a live pull labels answers per row): a vote
*profile* is the gold answer's votes followed by the other answers' votes in decreasing
order, ``PROFILE_WRONG`` of them; the votes of answers further down count as cast but
scattered (they never win). Credit under shares (gold ``g``, wrong ``w_1 >= w_2 ...``)
is approximated by duels: ``D(g, 0) * prod_j D(g, w_j) / D(g, 0)``, where ``D(g, w)``
is gold's exact credit against one wrong answer of share ``w`` with everything else
scattered (a random walk on the vote margin, tabulated once per ``n_max``). Against the
exact credit of the MATH env's answer distributions this is within 0.015 (RMS) at N = 3
and 0.017 at N = 32 for shares shrunk halfway to the pool.
"""

from __future__ import annotations

import functools

import numpy as np

PROFILE_WRONG = 4
"""Wrong answers a vote profile keeps (by votes, decreasing); the rest are scattered."""

DUEL_STEPS = 100
"""Grid of the duel table: shares in steps of 1/DUEL_STEPS, read at the nearest point."""


@functools.lru_cache(maxsize=8)
def duel_table(n_max: int) -> np.ndarray:
    """(DUEL_STEPS+1, DUEL_STEPS+1, n_max) gold's expected credit (ties 1/2) at N = 1..n_max
    when one draw goes to gold with probability ``i / DUEL_STEPS``, to one wrong answer
    with probability ``j / DUEL_STEPS``, and otherwise to answers too scattered to win or
    tie; NaN where i + j > DUEL_STEPS. A random walk on ``gold votes - wrong votes``: gold
    wins when the margin is positive and ties at zero unless no vote went to either."""
    steps = DUEL_STEPS
    gi, wj = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1), indexing="ij")
    inside = gi + wj <= steps
    p_gold, p_wrong = gi[inside] / steps, wj[inside] / steps
    p_rest = np.clip(1.0 - p_gold - p_wrong, 0.0, 1.0)
    margin = np.zeros((p_gold.size, 2 * n_max + 1))  # column n_max: margin 0
    margin[:, n_max] = 1.0
    credit = np.zeros((p_gold.size, n_max))
    for n in range(1, n_max + 1):
        step = p_rest[:, None] * margin
        step[:, 1:] += p_gold[:, None] * margin[:, :-1]
        step[:, :-1] += p_wrong[:, None] * margin[:, 1:]
        margin = step
        # a zero margin with no vote for either is no tie: gold got nothing
        credit[:, n - 1] = margin[:, n_max + 1 :].sum(axis=1) + 0.5 * (
            margin[:, n_max] - p_rest ** n)
    table = np.full((steps + 1, steps + 1, n_max), np.nan)
    table[inside] = credit
    table.setflags(write=False)
    return table


def profile_credit(shares: np.ndarray, n_max: int) -> np.ndarray:
    """(R, n_max) approximate majority-vote credit at N = 1..n_max under answer shares
    ``shares`` (R, 1 + W): gold's share, then W wrong answers' (any order), the rest
    scattered. Duels multiplied (see the module docstring), each read from
    ``duel_table`` at the nearest grid point."""
    table = duel_table(int(n_max))
    steps = table.shape[0] - 1
    grid = np.rint(np.clip(shares, 0.0, 1.0) * steps).astype(np.int64)
    gold = grid[:, 0]
    alone = table[gold, 0]  # gold against scattered answers only
    credit = alone.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(1, shares.shape[1]):
            # shares sum to at most 1, so rounding can pass the simplex by one step
            wrong = np.minimum(grid[:, j], steps - gold)
            credit *= np.where(alone > 0, table[gold, wrong] / alone, 0.0)
    return np.clip(credit, 0.0, 1.0)


def pools_votes(strategy) -> bool:
    """Whether the pooled estimate applies to ``strategy`` (its ``pooled_votes``: majority
    voting, where scale k costs k completions)."""
    return bool(getattr(strategy, "pooled_votes", False))


def vote_profiles(counts: np.ndarray, gold: np.ndarray, width: int = PROFILE_WRONG
                  ) -> np.ndarray:
    """(B, 2 + width) per row of a vote pull (``counts`` (B, A), ``gold`` (B,) column or
    -1): gold's votes, the ``width`` largest other answers' votes (decreasing, zero-padded)
    and the votes cast in all."""
    counts = np.asarray(counts, dtype=float)
    rows = np.arange(counts.shape[0])
    has_gold = gold >= 0
    gold_votes = np.where(has_gold, counts[rows, np.where(has_gold, gold, 0)], 0.0)
    others = counts.copy()
    others[rows[has_gold], gold[has_gold]] = 0.0
    ranked = -np.sort(-others, axis=1)[:, :width]
    if ranked.shape[1] < width:
        ranked = np.pad(ranked, ((0, 0), (0, width - ranked.shape[1])))
    return np.column_stack([gold_votes, ranked, counts.sum(axis=1)])
