"""What training has learnt about every arm: statistics of a fixed size, and the estimates
every reader takes from them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..backends import PullUsage
from ..strategies._pooled import pools_votes
from ._pooled import VoteProfiles
from ._problem import Problem
from ._statistics import ArmStatistics


class Estimates:
    """Per (context, prompt, scale) estimates of task utility and expected cost.

    Two estimators behind one interface (``task_and_cost``): ``ArmStatistics``' unbiased
    telescoping sums, or, after ``pool_votes``, the pooled plug-in of majority-vote credit
    from per (prompt, train query) vote profiles (``VoteProfiles``). It only holds
    statistics: served pulls are added (``add``, by the sampler) and estimates are read
    (by algorithms, the policy's assembly and the run's tables). Its memory is fixed by
    contexts x prompts x N_max (and prompts x train queries when pooled), whatever the
    budget.
    """

    def __init__(self, problem: Problem):
        backend = problem.backend
        self.problem = problem
        self.stats = ArmStatistics(len(problem.contexts), problem.n_prompts, backend.n_max)
        if getattr(backend, "requests_per_scale", None) is not None:
            self.stats.requests = np.asarray(backend.requests_per_scale, dtype=float)
        # set by ``pool_votes``: estimates from vote profiles instead of ``stats``' sums
        self.profiles: VoteProfiles | None = None
        self.pool_alpha = 0.0
        self._added = 0  # batches added: a pooled estimate is recomputed after new data
        # (batches added, prompts computed or None for all, task, cost) of the last one
        self._pooled_at: tuple | None = None

    @property
    def pooled(self) -> bool:
        """Whether estimates come from pooled vote profiles (``pool_votes``)."""
        return self.profiles is not None

    def add(self, pulls: Sequence[tuple[int, np.ndarray, int]], samples: Sequence,
            usages: Sequence[PullUsage | None]) -> None:
        """Add served pulls ``(prompt, queries, n)`` with their samples (the strategy's
        pulls) and usages (None offline), in order."""
        strategy = self.problem.backend.strategy
        prepare = getattr(strategy, "prepare", None)
        if prepare is not None:  # e.g. fill a credit table for every pull at once
            prepare(samples)
        weights = self.problem.contexts.task_weights
        for (prompt, queries, _), sample, usage in zip(pulls, samples, usages, strict=True):
            self.stats.add(prompt, strategy.estimate(sample, weights))
            if self.profiles is not None:
                self.profiles.add(prompt, queries, sample.counts, sample.gold)
            if usage is not None:
                self.stats.add_requests(prompt, usage)
        self._added += 1

    def pool_votes(self, alpha: float) -> None:
        """From now on, estimate with the pooled plug-in (``strategies._pooled``): keep
        every pull's vote profiles and estimate each prompt at every scale from them, with
        ``alpha`` pooled votes per (prompt, query). Only for a strategy with
        ``pooled_votes`` (majority voting). Pulls added before the first call are not in
        the profiles (``Algorithm.prepare`` calls it before a metered run's price probe);
        a second call only sets ``alpha``."""
        if not pools_votes(self.problem.backend.strategy):
            raise ValueError("pooled estimates need a majority-vote strategy")
        self.pool_alpha, self._pooled_at = float(alpha), None
        if self.profiles is not None:
            return
        self.profiles = VoteProfiles(self.problem.n_prompts, self.problem.train,
                                     self.problem.backend.n_queries)

    def task_and_cost(self, prompts: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(C, P, n_max) estimated task utility and (P, n_max) expected cost at each scale,
        NaN without data: the unbiased sums, or with ``pool_votes`` the pooled estimate
        (known at every scale for a prompt pulled at any). ``prompts`` (P,) bool: only
        those are needed (pooled: the others may be NaN; the estimate is computed once per
        new data and kept)."""
        if self.profiles is None:
            return self.stats.task_and_cost()
        want = None if prompts is None else np.asarray(prompts, bool)
        cached = self._pooled_at
        fresh = cached is not None and cached[0] == self._added and (
            cached[1] is None or (want is not None and not (want & ~cached[1]).any()))
        if not fresh:  # new votes since, or prompts the last estimate left out
            credit, _ = self.profiles.credit(self.pool_alpha, self.problem.backend.n_max,
                                             want)
            weights = self.problem.contexts.task_weights[:, 0]  # majority voting: correct
            self._pooled_at = (self._added, want, weights[:, None, None] * credit[None],
                               self.stats.linear_cost())
        return self._pooled_at[2], self._pooled_at[3]

    def grid_utility(self, prompts: np.ndarray | None = None) -> np.ndarray:
        """(C, P, S) estimated utility on the scale grid (NaN without data; see
        ``task_and_cost`` for ``prompts``)."""
        task, cost = self.task_and_cost(prompts)
        return self._on_grid(task, cost)

    def grid_samples(self) -> np.ndarray:
        """(P, S) pulls behind each estimate on the grid (pooled: every pull of the
        prompt, at any scale)."""
        if self.profiles is not None:
            return np.repeat(self.stats.pulls[:, :1], len(self.problem.scales), axis=1)
        return self.stats.pulls[:, self.problem.scales - 1]

    def pulls_at(self, prompts: np.ndarray, n: np.ndarray | int) -> np.ndarray:
        """(len(prompts),) pulls of each of ``prompts`` that reached scale ``n`` (per
        prompt or one for all)."""
        return self.stats.pulls[prompts, np.asarray(n) - 1]

    def reported_task_and_cost(self, prompts: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """``task_and_cost`` as reported to users: the (C, P, n_max) task utility clipped
        to the range it can take, ``[sum of negative weights, sum of positive weights]``
        per context (every objective scores in [0, 1]).

        The telescoping estimate is unbiased, so it can leave that range (1.5009 for a
        context whose utility lies in [0, 1.5]); algorithms rank by the unclipped values
        (``grid_utility``), which clipping would tie at the bound."""
        task, cost = self.task_and_cost(prompts)
        weights = self.problem.contexts.task_weights  # (C, K)
        low = np.minimum(weights, 0.0).sum(axis=1)[:, None, None]
        high = np.maximum(weights, 0.0).sum(axis=1)[:, None, None]
        return np.clip(task, low, high), cost  # NaN (no data) stays NaN

    def reported_utility(self, prompts: np.ndarray | None = None) -> np.ndarray:
        """(C, P, S) estimated utility on the scale grid as reported in the run's files:
        the clipped task part (``reported_task_and_cost``) minus the cost part."""
        return self._on_grid(*self.reported_task_and_cost(prompts))

    def agnostic(self) -> np.ndarray:
        """(C, P) task utility at N=1 (no cost): the mean score of one completion, or with
        ``pool_votes`` the pooled estimate at N=1 (what the estimates table says)."""
        if self.profiles is None:
            return self.stats.agnostic()
        return self.task_and_cost()[0][:, :, 0]

    def _on_grid(self, task: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """(C, P, S) utility ``task - cost weight * cost`` on the scale grid, from (C, P,
        n_max) task and (P, n_max) cost."""
        util = task - self.problem.contexts.cost_weights[:, None, None] * cost[None]
        return util[:, :, self.problem.scales - 1]
