"""Majority voting (self-consistency): the most frequent extracted answer wins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import _votes
from ._base import VOTES, CompletionSource, PullEstimate, VotePull


class MajorityVote:
    """Majority voting; the single task objective is ``correct`` (credit, ties 1/t).

    The base of every ``votes`` strategy: it turns completions into vote counts (a
    completion without an extractable answer votes for "none", which never matches gold),
    writes the vote columns of replay files and gives exact credit under known answer
    distributions. Subclasses change how votes become an answer and what that costs.

    table: ``(n_max, n_wrong)`` of a precomputed subset-credit table to use where answers
        are few (categorical envs), or None.
    """

    name: ClassVar[str] = "majority_vote"
    pull_kind: ClassVar[str] = VOTES
    objectives: tuple[str, ...] = ("correct",)
    # the pooled plug-in estimate (``_pooled``) applies: credit is majority voting's and
    # scale k costs k completions
    pooled_votes: ClassVar[bool] = True

    def __init__(self, table: tuple[int, int] | None = None):
        self.table = table
        self._ready: dict[int, np.ndarray] = {}  # credits of prepared pulls, by id

    @classmethod
    def like(cls, other: Any) -> MajorityVote:
        return cls(table=getattr(other, "table", None))

    # -- estimation ---------------------------------------------------------------------

    def subset_credit(self, pull: VotePull) -> np.ndarray:
        """(B, n): exact mean majority-vote credit over all size-k subsets of each row."""
        ready = self._ready.pop(id(pull), None) if self._ready else None
        if ready is not None:
            return ready
        if self.table is not None:
            credit = _votes.credit_table(*self.table).lookup(pull.counts, pull.gold)
            if credit is not None:
                return credit
        return _votes.subset_credit(pull.counts, pull.gold)

    def prepare(self, pulls: Sequence[VotePull]) -> None:
        """Before ``estimate`` is called on each of ``pulls``: their subset credits from the
        credit table at once (new vote vectors in fewer, larger programs), kept until each
        pull's ``estimate`` takes its own. Optional for a strategy; the trainer calls it
        when present."""
        if self.table is not None:
            credits = _votes.credit_table(*self.table).lookup_many(
                [(p.counts, p.gold) for p in pulls])
            self._ready = {id(p): c for p, c in zip(pulls, credits, strict=True)
                           if c is not None}

    def estimate(self, pull: VotePull, task_weights: np.ndarray) -> PullEstimate:
        credit = self.subset_credit(pull)  # (B, n)
        task = credit[:, None, :] * task_weights[None, :, 0, None]
        return PullEstimate(task, pull.cost / pull.n, task[:, :, 0])

    # -- exact values -------------------------------------------------------------------

    def exact_credit(self, probs: np.ndarray, gold: np.ndarray, n_max: int) -> np.ndarray:
        """(B, n_max) exact expected credit at N = 1..n_max under answer distributions
        ``probs`` (B, A) with gold column ``gold`` (B,) (-1: none)."""
        return _votes.exact_majority_vote(probs, gold, n_max)

    def expected_draws(self, probs: np.ndarray, gold: np.ndarray, n_max: int) -> np.ndarray:
        """(B, n_max) expected number of completions drawn at N = 1..n_max: exactly N."""
        return np.broadcast_to(np.arange(1, n_max + 1, dtype=float), (len(probs), n_max))

    # -- completions (live backends) ----------------------------------------------------

    def from_completions(self, source: CompletionSource, prompt: int, queries: np.ndarray,
                         block: Sequence[Sequence[Any]], cost: np.ndarray, n: int) -> VotePull:
        counts = np.zeros((len(queries), n), dtype=np.int64)
        gold = np.full(len(queries), -1, dtype=np.int64)
        for row, (x, completions) in enumerate(zip(queries, block, strict=True)):
            labels: dict[str | None, int] = {}
            for answer in source.answers(completions):
                # "none" is one more answer: it can win the vote but is never gold
                labels.setdefault(answer, len(labels))
                counts[row, labels[answer]] += 1
            want = source.gold(int(x))
            if want is not None and want in labels:
                gold[row] = labels[want]
        return VotePull(counts, gold, cost.sum(axis=1), n)

    def replay_columns(self, source: CompletionSource, queries: np.ndarray,
                       completions: Sequence[Any], shape: tuple[int, int, int]
                       ) -> dict[str, np.ndarray]:
        """``answer``, ``has_answer``, ``target`` (normalised gold) and ``scores`` (correct)."""
        answers = source.answers(completions)
        gold = [source.gold(int(q)) for q in queries]
        query_of = np.indices(shape)[1].ravel()
        return {
            "answer": np.array([a or "" for a in answers], dtype=str),
            "has_answer": np.array([a is not None for a in answers]),
            "target": np.array([g or "" for g in gold], dtype=str),
            "scores": np.array([[float(a is not None and a == gold[xi])]
                                for a, xi in zip(answers, query_of, strict=True)]),
        }
