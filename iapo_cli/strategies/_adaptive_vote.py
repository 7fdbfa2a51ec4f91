"""Adaptive majority voting: draw completions one at a time and stop as soon as the vote
is decided.

At scale N the strategy draws at most N completions and stops after m of them once the
leading answer's lead over the runner-up exceeds the N - m draws left: no continuation
could then overtake or tie it. So its answer is always the majority vote of N completions
(the task utility equals majority voting's at N, exactly) while it pays, in expectation,
for fewer completions: the cost at scale N is ``E[stopping time] x cost per completion``.
That makes large N cheap on easy queries, where the first answers agree.

Training stays fixed-N: a pull draws n i.i.d. completions. The first m of a uniformly random
ordering of them are m i.i.d. completions, so running the stopping rule along random
orderings gives unbiased estimates of the expected stopping time at every N <= n. Exact
values under a known answer distribution use majority voting's exact credit and a Monte
Carlo stopping time over ``EXACT_SEQUENCES`` seeded draws per distribution.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._base import PullEstimate, VotePull
from ._majority_vote import MajorityVote

ORDERINGS = 256  # random orderings of a pull's completions behind each estimate
EXACT_SEQUENCES = 512  # seeded draws per answer distribution for exact stopping times
_CHUNK_ELEMENTS = 4_000_000  # rows x orderings x draws x answers processed at once


def stopping_times(labels: np.ndarray, n_answers: int) -> np.ndarray:
    """Draws the rule takes at every cap N = 1..n along each sequence of answer labels.

    labels: (R, n) answer ids in 0..n_answers-1, in drawing order.
    Returns (R, n) int: entry N-1 is the stopping time with at most N draws.

    With ``h(m) = m + lead(m)`` after m draws (lead: top count minus the second), the rule
    stops at the first m with ``h(m) > N``, capped at N. ``h`` never decreases (a draw adds
    one to m and takes at most one from the lead), so the draws before stopping are the m
    with ``h(m) <= N``: a count, no loop over time.
    """
    rows, n = labels.shape
    onehot = labels[:, :, None] == np.arange(n_answers)[None, None, :]
    running = np.cumsum(onehot, axis=1, dtype=np.int32)  # (R, n, A)
    if n_answers > 1:
        top2 = np.partition(running, n_answers - 2, axis=2)[:, :, -2:]
        lead = top2[:, :, 1] - top2[:, :, 0]
    else:
        lead = running[:, :, 0]
    h = np.arange(1, n + 1)[None, :] + lead  # (R, n), non-decreasing along draws
    caps = np.arange(1, n + 1)
    before = (h[:, None, :] <= caps[None, :, None]).sum(axis=2)  # (R, N)
    return np.minimum(before + 1, caps[None, :])


def _mean_stopping_times(draw_labels, n_rows: int, sequences: int, n: int, n_answers: int
                         ) -> np.ndarray:
    """(n_rows, n) mean stopping time per row over ``sequences`` label sequences made by
    ``draw_labels(lo, hi) -> (hi - lo, sequences, n)``, in chunks that bound memory."""
    out = np.zeros((n_rows, n))
    per_row = sequences * n * max(n_answers, 1)
    step = max(1, _CHUNK_ELEMENTS // per_row)
    for lo in range(0, n_rows, step):
        hi = min(lo + step, n_rows)
        labels = draw_labels(lo, hi).reshape(-1, n)
        times = stopping_times(labels, n_answers).reshape(hi - lo, sequences, n)
        out[lo:hi] = times.mean(axis=1)
    return out


class AdaptiveVote(MajorityVote):
    """Adaptive majority voting (adaptive-consistency): at scale N, stop drawing once the
    vote is decided; the answer is majority voting's at N, the cost what was drawn.

    Objective ``correct``, like majority voting; see the module docstring for the rule and
    the estimators.
    """

    name: ClassVar[str] = "adaptive_vote"
    pooled_votes: ClassVar[bool] = False  # scale k costs what was drawn, not k completions

    def expected_stops(self, pull: VotePull, rng: np.random.Generator | None = None
                       ) -> np.ndarray:
        """(B, n) unbiased estimate of the expected draws at every N <= n, averaged over
        ``ORDERINGS`` random orderings of each row's votes (counts carry no order, and
        every ordering of i.i.d. draws is equally likely)."""
        counts = np.asarray(pull.counts, dtype=np.int64)
        n_rows, n_answers = counts.shape
        rng = rng or np.random.default_rng(0)

        def draw_labels(lo: int, hi: int) -> np.ndarray:
            block = counts[lo:hi]
            labels = np.repeat(np.tile(np.arange(n_answers), hi - lo), block.ravel())
            labels = labels.reshape(hi - lo, 1, pull.n)
            order = np.argsort(rng.random((hi - lo, ORDERINGS, pull.n)), axis=2)
            return np.take_along_axis(np.broadcast_to(labels, order.shape), order, axis=2)

        return _mean_stopping_times(draw_labels, n_rows, ORDERINGS, pull.n, n_answers)

    def estimate(self, pull: VotePull, task_weights: np.ndarray) -> PullEstimate:
        majority = super().estimate(pull, task_weights)
        per_completion = majority.cost_per_completion
        scale_cost = self.expected_stops(pull) * per_completion[:, None]
        return PullEstimate(majority.task, per_completion, majority.agnostic, scale_cost)

    def expected_draws(self, probs: np.ndarray, gold: np.ndarray, n_max: int) -> np.ndarray:
        """(B, n_max) expected draws at N = 1..n_max under answer distributions ``probs``
        (B, A): Monte Carlo over ``EXACT_SEQUENCES`` seeded sequences per row."""
        probs = np.asarray(probs, dtype=float)
        n_rows, n_answers = probs.shape
        cdf = np.cumsum(probs, axis=1)
        cdf /= np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
        rng = np.random.default_rng(0)

        def draw_labels(lo: int, hi: int) -> np.ndarray:
            u = rng.random((hi - lo, EXACT_SEQUENCES * n_max))
            ids = (u[:, :, None] >= cdf[lo:hi, None, :]).sum(axis=2)
            return np.minimum(ids, n_answers - 1).reshape(hi - lo, EXACT_SEQUENCES, n_max)

        return _mean_stopping_times(draw_labels, n_rows, EXACT_SEQUENCES, n_max, n_answers)
