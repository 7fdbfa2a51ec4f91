"""PSST: Prompt Scaling via Sequential Trimming (per-context sequential halving over
(prompt, N) arms with cross-context, nested and stockpiled reuse), and its Top-K variant."""

from __future__ import annotations

import math

import numpy as np

from ._base import Policy, Problem, Trainer, keep_best
from ._budget import KEEP_SCHEDULES, check_rounds, keep_counts, round_room, split_budget
from ._contract import Algorithm


def largest_active_scale(problem: Problem, active: np.ndarray) -> np.ndarray:
    """(P,) the largest scale of each prompt active in any context, 0 if none."""
    any_ctx = active.any(axis=0)  # (P, S)
    top = np.where(any_ctx, problem.scales[None, :], 0)
    return top.max(axis=1)


def trim_rounds(trainer: Trainer, active: np.ndarray, budget: int, rounds: int | None,
                schedule: str = "geometric", notify_offset: int = 0) -> np.ndarray:
    """Run the trimming rounds of PSST on ``active`` (C, P, S) with ``budget`` completions.

    Returns the surviving mask (one arm per context). Each round pulls every prompt that is
    active anywhere at its largest active scale, all on one batch of train queries, as many
    times as the round's share pays for; then each context keeps the best
    ``ceil(n ** ((R-r-1)/(R-r)))`` of its n arms (halving when R = log2 n). What a round
    cannot spend carries over; the last round spends the rest on the closest races.
    """
    problem = trainer.problem
    sweep = int(largest_active_scale(problem, active).sum())
    n_arms = int(active.sum(axis=(1, 2)).max())
    if rounds is None:
        wanted = max(1, math.ceil(math.log2(max(n_arms, 2))))
        affordable = max(1, budget // max(sweep, 1))
        rounds = min(wanted, affordable)
    shares = split_budget(budget, rounds)
    stop_at = trainer.spent + budget
    total = notify_offset + rounds  # rounds already reported (screening) plus these
    for r in range(rounds):
        top = largest_active_scale(problem, active)
        prompts = np.nonzero(top)[0]
        room = round_room(shares, r, stop_at - trainer.spent)
        per = room // int(top.sum())
        if per > 0:
            trainer.pull_paired([(p, top[p]) for p in prompts], per)
        else:
            _rotate(trainer, top, room)
        last = r == rounds - 1
        # a round that could not reach every prompt only accumulates: trimming arms that
        # have no data yet would be a blind cut
        unseen = (trainer.stats.pulls[prompts, top[prompts] - 1] == 0).any()
        if last:
            _spend_on_closest(trainer, active, top, stop_at - trainer.spent)
        count = active.sum(axis=(1, 2))
        keep = keep_counts(count, rounds - r, schedule)
        if unseen and not last:
            keep = count
        util = trainer.grid_utility()
        if last:  # the final pick is among arms with data
            util = np.where(np.isnan(util), -np.inf, util)
        kept = keep_best(util, active, np.maximum(keep, 1))
        trainer.end_round(active, kept)
        active = kept
        trainer.notify(notify_offset + r + 1, total)
    return active


def _rotate(trainer: Trainer, top: np.ndarray, room: int) -> None:
    """A share too small for one pull of every prompt: pull the least-sampled prompts that
    fit, one query each, so that successive rounds rotate through the prompts."""
    prompts = np.nonzero(top)[0]
    samples = trainer.stats.pulls[prompts, top[prompts] - 1]
    order = prompts[np.argsort(samples, kind="stable")]
    fits = order[np.cumsum(top[order]) <= room]
    if fits.size:
        queries = trainer.queries.draw(1)
        trainer.pull_many([(p, queries, top[p]) for p in fits])


def _spend_on_closest(trainer: Trainer, active: np.ndarray, top: np.ndarray, left: int) -> None:
    """Spend what is left on the prompts in the tightest races: per context the best two
    arms, contexts ordered by their gap; pull those prompts one query at a time at their
    largest active scale (smaller if that is all that is left)."""
    if left <= 0:
        return
    util = np.where(active, trainer.grid_utility(), -np.inf)
    flat = util.reshape(util.shape[0], -1)
    best2 = np.argsort(-flat, axis=1)[:, :2]
    top2 = np.take_along_axis(flat, best2, axis=1)
    gap = np.full(len(flat), np.inf)
    if top2.shape[1] > 1:  # contexts with a single finite survivor have no race
        both = np.isfinite(top2).all(axis=1)
        gap[both] = top2[both, 0] - top2[both, 1]
    order = np.argsort(gap, kind="stable")
    candidates = []
    n_scales = active.shape[2]
    for c in order:
        for arm in best2[c]:
            p = int(arm // n_scales)
            if top[p] > 0 and p not in candidates:
                candidates.append(p)
    if not candidates:
        candidates = [int(p) for p in np.nonzero(top)[0]]
    i = 0
    while left > 0 and candidates:
        p = candidates[i % len(candidates)]
        n = int(min(top[p], left))
        trainer.pull(p, trainer.queries.draw(1), n)
        left -= n
        i += 1


SCREEN_MODES = ("auto", "always", "never")


class PSST(Algorithm):
    """Prompt Scaling via Sequential Trimming.

    rounds: trimming rounds; default ``ceil(log2 |arms|)``, capped so that a round's share
        pays at least one pull of every prompt at its largest active scale.
    schedule: ``geometric`` (keep ``ceil(n ** ((R-r-1)/(R-r)))``, halving when R = log2 n)
        or ``halving`` (keep ``ceil(n/2)``, the last round keeps one).
    screen: ``auto`` screens only when the budget cannot pay one full sweep (every prompt at
        N_max) per round of ``ceil(log2 |arms|)`` rounds; ``always``; ``never``.
        Screening spends ``rho`` of the budget at the grid's smallest scale, spread evenly
        over prompts on shared queries, and each context keeps its ``k`` best prompts.
        (On the MATH env at T=2000 it halves regret against fewer, larger rounds; see
        benchmarks/.) It can discard a prompt that only shines at large N.
    """

    name = "psst"
    default_screen = "auto"

    def __init__(self, rounds: int | None = None, schedule: str = "geometric",
                 screen: str | None = None, rho: float = 0.2, k: int = 5):
        # None means the class's own default (psst: auto, psst_topk: always)
        self.rounds, self.schedule, self.screen, self.rho, self.k = (
            rounds, schedule, screen or self.default_screen, rho, k)

    def _check(self) -> None:
        if self.screen not in SCREEN_MODES:
            raise ValueError(f"screen must be one of {SCREEN_MODES}, got {self.screen!r}")
        if self.schedule not in KEEP_SCHEDULES:
            raise ValueError(f"schedule must be 'geometric' or 'halving', got "
                             f"{self.schedule!r}")
        if not 0 < self.rho < 1:
            raise ValueError(f"rho must lie in (0, 1), got {self.rho}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        check_rounds(self.rounds)

    def wants_screen(self, problem: Problem, budget: int) -> bool:
        if self.screen != "auto":
            return self.screen == "always"
        n_arms = problem.n_prompts * len(problem.scales)
        canonical = max(1, math.ceil(math.log2(max(n_arms, 2))))
        sweep = problem.n_prompts * int(problem.scales[-1])
        return budget // canonical < sweep

    def run(self, trainer: Trainer) -> Policy:
        problem, budget = trainer.problem, trainer.budget
        active = np.ones((len(problem.contexts), problem.n_prompts, len(problem.scales)), bool)
        screened = self.wants_screen(problem, budget)
        trainer.notes["screened"] = screened
        if screened:
            active = self._screen(trainer, active, budget)
        final = trim_rounds(trainer, active, trainer.remaining, self.rounds, self.schedule,
                            notify_offset=int(screened))
        return trainer.policy(final)

    def _screen(self, trainer: Trainer, active: np.ndarray, budget: int) -> np.ndarray:
        problem = trainer.problem
        n_ctx, n_prompts, n_scales = active.shape
        first = int(problem.scales[0])
        per = int(self.rho * budget) // (n_prompts * first)
        if per == 0 and n_prompts * first <= trainer.remaining:
            per = 1  # never cut prompts blind: each is sampled once before any is dropped
        if per > 0:
            trainer.pull_paired([(p, first) for p in range(n_prompts)], per)
        considered = np.zeros_like(active)
        considered[:, :, 0] = True
        keep = np.full(n_ctx, min(self.k, n_prompts))
        kept = keep_best(trainer.grid_utility(), considered, keep)
        trainer.end_round(considered, kept)
        trainer.notify(1, 1)
        return np.repeat(kept[:, :, :1], n_scales, axis=2)


class PSSTTopK(PSST):
    """PSST that always starts with Top-K screening (see ``PSST``)."""

    name = "psst_topk"
    default_screen = "always"
