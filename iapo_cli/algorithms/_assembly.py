"""The policy's assembly: from estimates and prices to the arm each context deploys, and the
table of every arm's estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backends import Contexts
from ._estimates import Estimates
from ._meter import BudgetMeter
from ._problem import Problem, add_model_column, arm_names, pandas
from ._results import Policy

if TYPE_CHECKING:
    import pandas as pd

USD_CAP_BOUND = 2.0
"""Standard errors added to the mean USD per completion when checking ``max_usd`` caps."""


class PolicyAssembly:
    """Reads ``estimates`` and the ``meter``'s prices; changes neither and pulls nothing.

    ``allowed`` says which arms each context's caps allow, ``policy`` picks each context's
    arm, ``arm_estimates`` is the table of every arm's estimate (estimates.csv).
    """

    def __init__(self, problem: Problem, estimates: Estimates, meter: BudgetMeter):
        self.problem, self.estimates, self.meter = problem, estimates, meter

    def allowed(self, final: bool = False) -> np.ndarray:
        """(C, P, S) arms each context's caps allow (``cap_mask``). ``Contexts.max_usd`` is
        checked against an upper confidence bound on USD per query (mean + 2 standard
        errors of the per-completion part, ``BudgetMeter.usd_per_query``); an arm without
        priced data is allowed while trimming (nothing is known against it) but not in the
        ``final`` choice (it might cost anything)."""
        problem = self.problem
        contexts, scales = problem.contexts, problem.scales
        usd = None if contexts.max_usd is None else \
            self.meter.usd_per_query(bound=USD_CAP_BOUND)[:, scales - 1]
        return cap_mask(contexts, scales, (len(contexts), problem.n_prompts, len(scales)),
                        usd, unknown_allowed=not final)

    def policy(self, candidates: np.ndarray | None = None) -> Policy:
        """Per context, the best estimated arm among ``candidates`` (C, P, S) (default all)
        that the context's caps allow (``allowed(final=True)``).

        A policy never rests on an arm without data: a context whose candidates have no
        estimate takes its best estimated arm of the whole grid (within its caps) instead,
        and says so in ``Policy.fallback``. Only a run stopped before its first pull has
        no estimate at all (its estimates are NaN; the budget checks before training rule
        it out for a finished run). When no arm with data meets a context's caps, it takes
        the cheapest (lowest expected USD per query, else the smallest N) among those with
        data and within ``max_n`` if any, and ``Policy.over_cap`` marks it. The pick is by
        the unbiased estimates; ``Policy.estimate`` is the reported (clipped) one."""
        problem, estimates = self.problem, self.estimates
        full = estimates.grid_utility()
        capped = problem.contexts.max_n is not None or problem.contexts.max_usd is not None
        allowed = self.allowed(final=True) if capped else np.ones(full.shape, bool)
        has_data = ~np.isnan(full)
        n_ctx = full.shape[0]
        over_cap = ~(allowed & has_data).reshape(n_ctx, -1).any(axis=1)
        if over_cap.any():
            self._cheapest_with_data(allowed, has_data, over_cap, capped)
        util = full if candidates is None else np.where(candidates, full, np.nan)
        util = np.where(allowed, util, np.nan)
        fallback = np.isnan(util).reshape(n_ctx, -1).all(axis=1)
        util = np.where(fallback[:, None, None], np.where(allowed, full, np.nan), util)
        score = np.where(np.isnan(util), -np.inf, util)
        best = score.reshape(n_ctx, -1).argmax(axis=1)
        prompt, scale_idx = np.divmod(best, full.shape[2])
        ctx = np.arange(n_ctx)
        backend = problem.backend
        return Policy(
            contexts=problem.contexts.names,
            prompt_ids=backend.prompt_ids,
            prompt=prompt,
            scale=problem.scales[scale_idx],
            estimate=estimates.reported_utility()[ctx, prompt, scale_idx],
            samples=estimates.grid_samples()[prompt, scale_idx],
            agnostic=estimates.agnostic()[ctx, prompt],
            fallback=fallback,
            usd_per_query=self.meter.usd_per_query()[prompt, problem.scales[scale_idx] - 1],
            over_cap=over_cap if capped else None,
            arm_models=getattr(backend, "arm_models", None),
            arm_prompts=getattr(backend, "arm_prompts", None),
        )

    def _cheapest_with_data(self, allowed: np.ndarray, has_data: np.ndarray,
                            over_cap: np.ndarray, capped: bool) -> None:
        """For each context of ``over_cap`` (C,), where no arm with data meets the caps:
        ``allowed`` (C, P, S, changed in place) becomes its cheapest arms with data
        (lowest USD per query, else smallest N), within ``max_n`` if any is."""
        scales = self.problem.scales
        usd = self.meter.usd_per_query()[:, scales - 1]  # (P, S)
        price = np.where(np.isnan(usd), np.inf, usd)
        if np.isinf(price).all():
            price = np.broadcast_to(scales[None, :].astype(float), price.shape)
        within_n = self.allowed(final=False) if capped else np.ones(allowed.shape, bool)
        for c in np.nonzero(over_cap)[0]:
            pool = has_data[c] & within_n[c]
            pool = pool if pool.any() else has_data[c]
            if not pool.any():
                continue
            cost = np.where(pool, price, np.inf)
            allowed[c] = pool & (cost == cost.min())

    def arm_estimates(self) -> pd.DataFrame:
        """Final estimates for every (context, prompt, N of the grid): utility, its task
        part (both as reported: ``Estimates.reported_task_and_cost``), the expected cost of
        deploying the arm (cost units), the pulls behind, ``unbiased_utility`` (the utility
        before clipping, which choices made from this table, ``evaluate``'s comparisons and
        the agnostic choice, rank by, as the algorithms do) and the USD per query."""
        problem, estimates = self.problem, self.estimates
        task, cost = estimates.reported_task_and_cost()
        s = problem.scales - 1
        n_ctx, n_prompts = len(problem.contexts), problem.n_prompts
        c, p, k = np.meshgrid(np.arange(n_ctx), np.arange(n_prompts), np.arange(len(s)),
                              indexing="ij")
        frame = pandas().DataFrame({
            "context": np.asarray(problem.contexts.names, dtype=object)[c.ravel()],
            "prompt": arm_names(problem.backend)[p.ravel()],
            "n": problem.scales[k.ravel()],
            "utility": estimates.reported_utility().ravel(),
            "task_utility": task[:, :, s].ravel(),
            "cost": cost[:, s][p.ravel(), k.ravel()],
            "samples": estimates.grid_samples()[p.ravel(), k.ravel()],
            "unbiased_utility": estimates.grid_utility().ravel(),
            "usd_per_query": self.meter.usd_per_query()[:, s][p.ravel(), k.ravel()],
        })
        add_model_column(frame, problem.backend, p.ravel())
        return frame


def cap_mask(contexts: Contexts, scales: np.ndarray, shape: tuple[int, int, int],
             usd: np.ndarray | None = None, unknown_allowed: bool = False) -> np.ndarray:
    """(C, P, S) = ``shape``: the arms each context's caps allow. ``Contexts.max_n``: no arm
    above it; ``Contexts.max_usd``: no arm whose USD per query ``usd`` ((P, S) or
    (C, P, S); None: all unknown) exceeds it, and an arm with unknown (NaN) USD only when
    ``unknown_allowed``. Contexts without caps allow every arm."""
    ok = np.ones(shape, bool)
    if contexts.max_n is not None:
        cap = np.asarray(contexts.max_n)
        ok &= ((cap[:, None] == 0) | (scales[None, :] <= cap[:, None]))[:, None, :]
    if contexts.max_usd is not None:
        cap = np.asarray(contexts.max_usd, dtype=float)[:, None, None]
        price = np.broadcast_to(np.nan if usd is None else usd, shape)
        with np.errstate(invalid="ignore"):
            ok &= np.isnan(cap) | (price <= cap) | (np.isnan(price) & unknown_allowed)
    return ok
