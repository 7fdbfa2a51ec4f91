"""Baselines: uniform allocation and TRIPLE-style sequential halving over prompts.

They share data across contexts and scales the simple way (the same statistics as PSST) but
have no trimming over (prompt, N) arms.
"""

from __future__ import annotations

import math

import numpy as np

from ._budget import (
    keep_best,
    keep_counts,
    round_room,
    spend_leftover,
    split_budget,
    times_affordable,
)
from ._contract import Algorithm
from ._problem import Problem
from ._results import Policy
from ._sampler import MAX_BATCH
from ._trainer import Trainer


class Uniform(Algorithm):
    """Spread the budget evenly over every (prompt, N) arm; per context pick the best."""

    name = "uniform"

    def run(self, trainer: Trainer) -> Policy:
        problem, budget, rng = trainer.problem, trainer.budget, trainer.rng
        n_prompts, scales = problem.n_prompts, problem.scales
        arm_prompt = np.repeat(np.arange(n_prompts), len(scales))
        arm_scale = np.tile(scales, n_prompts)
        arm_price = trainer.price[arm_prompt, arm_scale - 1]  # N each with completions
        cycle = arm_price.sum()
        cycles = times_affordable(budget, cycle)
        rest = budget - cycles * cycle
        pulls = np.full(arm_prompt.size, cycles)
        order = rng.permutation(arm_prompt.size)  # the partial cycle: random arms that fit
        fits = np.cumsum(arm_price[order]) <= rest
        pulls[order[fits]] += 1
        rest -= arm_price[order[fits]].sum()
        for a in np.nonzero(pulls)[0]:
            trainer.pull_fresh([(arm_prompt[a], pulls[a], arm_scale[a])])
        spend_leftover(trainer, rest)  # the last of the budget: one pull that still fits
        active = np.ones((len(problem.contexts), n_prompts, len(scales)), bool)
        trainer.end_round(active, active)
        trainer.notify(1, 1)
        return trainer.final_policy()


class _PromptHalving(Algorithm):
    """Sequential halving over prompts, per context; subclasses choose N per pull."""

    def run(self, trainer: Trainer) -> Policy:
        problem, budget = trainer.problem, trainer.budget
        n_ctx, n_prompts = len(problem.contexts), problem.n_prompts
        active = np.ones((n_ctx, n_prompts), bool)
        rounds = max(1, math.ceil(math.log2(max(n_prompts, 2))))
        shares = split_budget(budget, rounds)
        for r in range(rounds):
            room = round_room(shares, r, trainer.remaining)
            prompts = np.nonzero(active.any(axis=0))[0]
            self._spend(trainer, prompts, room)
            util = self._prompt_utility(trainer)  # (C, P)
            if r == rounds - 1:  # the final pick is among prompts with data
                util = np.where(np.isnan(util), -np.inf, util)
            keep = keep_counts(active.sum(axis=1), rounds - r)
            kept = keep_best(util[:, :, None], active[:, :, None], np.maximum(keep, 1))[..., 0]
            grid = self._grid_mask(problem, active)
            trainer.end_round(grid, grid & kept[:, :, None])
            active = kept
            trainer.notify(r + 1, rounds)
        return trainer.final_policy(self._grid_mask(problem, active))


class TripleN1(_PromptHalving):
    """TRIPLE-style sequential halving over prompts, every pull at the grid's smallest N
    (N=1 when the grid has it), which it deploys."""

    name = "triple_n1"

    def _spend(self, trainer: Trainer, prompts: np.ndarray, room: int) -> None:
        n = int(trainer.problem.scales[0])
        price = trainer.price[prompts, n - 1]  # (len(prompts),) one query at N=n
        per = times_affordable(room, price.sum())
        trainer.pull_paired([(p, n) for p in prompts], per)
        # what is left pays one more query of some prompts (< len(prompts)): at the mean
        # price, exactly (room - spent) // n with completions
        rest = min(times_affordable(room - per * price.sum(), price.mean()), len(prompts) - 1)
        if rest > 0:  # random prompts: the lowest indices must not be favoured
            queries = trainer.queries.draw(1)
            chosen = np.sort(trainer.rng.choice(prompts, rest, replace=False))
            trainer.pull_many([(p, queries, n) for p in chosen])

    def _prompt_utility(self, trainer: Trainer) -> np.ndarray:
        return trainer.grid_utility()[:, :, 0]

    def _grid_mask(self, problem: Problem, active: np.ndarray) -> np.ndarray:
        mask = np.zeros((*active.shape, len(problem.scales)), bool)
        mask[:, :, 0] = active  # N=1 only (the grid's smallest scale)
        return mask


class TripleRandomN(_PromptHalving):
    """Sequential halving over prompts, each pull at a random N of the grid; a prompt is
    ranked by its best scale, and the survivor is deployed at its best estimated N."""

    name = "triple_random_n"

    def _spend(self, trainer: Trainer, prompts: np.ndarray, room: int) -> None:
        """Random N for pull after pull while they fit in ``room``, the prompts taking
        turns in a random order, then one last pull that fits. The N are drawn in chunks
        of ``MAX_BATCH`` (the same random stream as one draw) and only counted, so memory
        does not grow with ``room``."""
        scales, rng = trainer.problem.scales, trainer.rng
        # the price of one query at each N of the grid, averaged over the prompts (N
        # exactly with completions): which prompt takes which turn is drawn afterwards
        price = trainer.price[prompts][:, scales - 1].mean(axis=0)  # (S,)
        draws = max(1, int(2 * room / float(price.mean())) + len(scales))
        turn_counts = np.zeros((len(prompts), len(scales)), dtype=np.int64)  # turn, N
        used, full = 0, False
        for start in range(0, draws, MAX_BATCH):
            n = rng.choice(scales, size=min(MAX_BATCH, draws - start))
            if full:
                continue  # drawn all the same: what follows sees the same stream
            index = np.searchsorted(scales, n)
            total = used + np.cumsum(price[index])
            fits = int((total <= room).sum())  # a prefix: every price is positive
            turn = (start + np.arange(fits)) % len(prompts)
            np.add.at(turn_counts, (turn, index[:fits]), 1)
            used = total[fits - 1] if fits else used
            full = fits < len(n)
        order = rng.permutation(prompts)  # turn i belongs to prompt order[i]
        counts = np.zeros_like(turn_counts)  # (prompt position, N)
        counts[np.searchsorted(prompts, order)] = turn_counts
        small = np.flatnonzero(price <= room - used)
        if small.size:  # use up the share with one last pull that fits
            counts[np.searchsorted(prompts, rng.choice(prompts)), small[-1]] += 1
        for i, p in enumerate(prompts):
            for s in np.flatnonzero(counts[i]):
                trainer.pull_fresh([(p, counts[i, s], scales[s])])

    def _prompt_utility(self, trainer: Trainer) -> np.ndarray:
        util = trainer.grid_utility()
        best = np.where(np.isnan(util), -np.inf, util).max(axis=2)
        return np.where(np.isfinite(best), best, np.nan)

    def _grid_mask(self, problem: Problem, active: np.ndarray) -> np.ndarray:
        return np.repeat(active[:, :, None], len(problem.scales), axis=2)
