"""PSST: Prompt Scaling via Sequential Trimming (per-context sequential halving over
(prompt, N) arms with cross-context, nested and stockpiled reuse), and its Top-K variant."""

from __future__ import annotations

import math

import numpy as np

from ..strategies._pooled import pools_votes
from ._budget import (
    KEEP_SCHEDULES,
    check_rounds,
    keep_best,
    keep_counts,
    round_room,
    split_budget,
    times_affordable,
)
from ._contract import Algorithm, AlgorithmParameterError
from ._problem import Problem
from ._results import Policy
from ._trainer import Trainer


def largest_active_scale(problem: Problem, active: np.ndarray) -> np.ndarray:
    """(P,) the largest scale of each prompt active in any context, 0 if none."""
    any_ctx = active.any(axis=0)  # (P, S)
    top = np.where(any_ctx, problem.scales[None, :], 0)
    return top.max(axis=1)


def sweep_price(trainer: Trainer, top: np.ndarray) -> float:
    """The price (``trainer.price``, the budget's unit) of one query of every prompt with
    ``top[p]`` > 0 at scale ``top[p]``: what one paired query of a round costs."""
    prompts = np.nonzero(top)[0]
    return trainer.price[prompts, top[prompts] - 1].sum()


def trim_rounds(trainer: Trainer, active: np.ndarray, budget: float, rounds: int | None,
                schedule: str = "geometric", notify_offset: int = 0) -> np.ndarray:
    """Run the trimming rounds of PSST on ``active`` (C, P, S) with ``budget`` (in the
    trainer's unit: completions, or tokens/USD/cost for a metered budget).

    Returns the surviving mask (one arm per context). Each round pulls every prompt that is
    active anywhere at its largest active scale, all on one batch of train queries, as many
    times as the round's share pays for at the prompts' prices (``trainer.price``: N
    completions, or what the prompt-model costs at N, so a round pays for every survivor
    with money when arms differ in price); then each context keeps the best
    ``ceil(n ** ((R-r-1)/(R-r)))`` of its n arms (halving when R = log2 n). What a round
    cannot spend carries over; the last round spends the rest on the closest races.
    A context's caps (``Trainer.allowed``) remove the arms they rule out before each
    round's cut, as long as some arm of the context remains.
    """
    problem = trainer.problem
    active = _within_caps(trainer, active)
    n_arms = int(active.sum(axis=(1, 2)).max())
    if rounds is None:
        wanted = max(1, math.ceil(math.log2(max(n_arms, 2))))
        sweep = sweep_price(trainer, largest_active_scale(problem, active))
        affordable = max(1, times_affordable(budget, sweep) if sweep > 0 else int(budget))
        rounds = min(wanted, affordable)
    shares = split_budget(budget, rounds)
    stop_at = trainer.spent + budget
    total = notify_offset + rounds  # rounds already reported (screening) plus these
    for r in range(rounds):
        top = largest_active_scale(problem, active)
        prompts = np.nonzero(top)[0]
        room = round_room(shares, r, stop_at - trainer.spent)
        per = times_affordable(room, sweep_price(trainer, top))
        before = trainer.spent
        if per > 0:
            trainer.pull_paired([(p, top[p]) for p in prompts], per)
        if trainer.spent == before:  # metered: a paired query can exceed, at its worst
            _rotate(trainer, top, room)  # case, all that is left; some prompts still fit
        last = r == rounds - 1
        # a round that could not reach every prompt only accumulates: trimming arms that
        # have no data yet would be a blind cut
        unseen = (trainer.estimates.pulls_at(prompts, top[prompts]) == 0).any()
        if last:
            _spend_on_closest(trainer, active, top, stop_at)
        active = _within_caps(trainer, active)
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


def _within_caps(trainer: Trainer, active: np.ndarray) -> np.ndarray:
    """``active`` (C, P, S) without the arms each context's caps rule out (``max_n``; a USD
    cap once the arm's price is known), unless that would leave a context with none."""
    contexts = trainer.problem.contexts
    if contexts.max_n is None and contexts.max_usd is None:
        return active
    capped = active & trainer.allowed()
    keeps_some = capped.any(axis=(1, 2))
    return np.where(keeps_some[:, None, None], capped, active)


def _rotate(trainer: Trainer, top: np.ndarray, room: float) -> None:
    """A share too small for one pull of every prompt: pull the least-sampled prompts that
    fit, one query each, so that successive rounds rotate through the prompts."""
    prompts = np.nonzero(top)[0]
    samples = trainer.estimates.pulls_at(prompts, top[prompts])
    order = prompts[np.argsort(samples, kind="stable")]
    fits = order[np.cumsum(trainer.price[order, top[order] - 1]) <= room]
    if fits.size:
        queries = trainer.queries.draw(1)
        trainer.pull_many([(p, queries, top[p]) for p in fits])


def _spend_on_closest(trainer: Trainer, active: np.ndarray, top: np.ndarray,
                      stop_at: float) -> None:
    """Spend what is left before ``stop_at`` (the trainer's ``spent``) on the prompts in
    the tightest races: per context the best two arms, contexts ordered by their gap; pull
    those prompts one query at a time at their largest active scale (the largest smaller
    one whose price still fits if that is all that is left). Stops once no candidate's
    pull fits, or a pull spent nothing (a metered pull refused at its worst case)."""
    if stop_at - trainer.spent <= 0:
        return
    util = np.where(active, trainer.grid_utility(active.any(axis=(0, 2))), -np.inf)
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
    # metered, to the end of the budget (as PSST.run calls it): in equal shares sent
    # together (``spend_rest``), not one query per batch
    if trainer.metered and stop_at >= trainer.budget:
        at_top = np.zeros((1, *active.shape[1:]), bool)
        for p in candidates:
            at_top[0, p, np.searchsorted(trainer.problem.scales, top[p])] = True
        trainer.spend_rest(at_top)
        return
    i, idle = 0, 0
    while candidates and idle < len(candidates):
        left = stop_at - trainer.spent
        if left <= 0:
            return
        p = candidates[i % len(candidates)]
        i += 1
        fits = np.nonzero(trainer.price[p, : top[p]] <= left)[0]
        before = trainer.spent
        if fits.size:
            trainer.pull(p, trainer.queries.draw(1), int(fits[-1]) + 1)
        idle = idle + 1 if trainer.spent == before else 0


POOLED_PULL = 2
"""Votes per (prompt, query) in a pooled round: two votes on twice the queries beat more
votes on fewer (the pooled estimate lends each row the query's other votes)."""

def pooled_schedule(problem: Problem, rounds: int | None, votes: int) -> tuple[int, int]:
    """(rounds, completions per prompt and query) of ``pooled_rounds``: ``rounds`` or
    ``ceil(log2 |prompts|) - 1`` (at least 1), and ``votes`` capped at N_max."""
    if rounds is None:
        rounds = max(1, math.ceil(math.log2(max(problem.n_prompts, 2))) - 1)
    return int(rounds), min(int(votes), int(problem.backend.n_max))


def pooled_rounds(trainer: Trainer, rounds: int | None,
                  votes: int = POOLED_PULL) -> np.ndarray:
    """PSST's rounds on pooled estimates (after ``Trainer.pool_votes``): every round pulls each
    prompt still active in some context at ``votes`` completions per query (or N_max if
    smaller), all on one batch of fresh train queries (paired), as often as the round's
    share of the budget pays; then each context keeps the better half of its prompts, by
    each prompt's best pooled utility over the N its caps allow (every N of a prompt is
    known from its votes at any). The last round spends what is left on the closest races
    and keeps each context's best arm.

    Returns the (C, P, S) survivors: one arm per context.
    """
    problem = trainer.problem
    n_ctx, n_prompts, n_scales = len(problem.contexts), problem.n_prompts, len(problem.scales)
    rounds, size = pooled_schedule(problem, rounds, votes)
    active = _within_caps(trainer, np.ones((n_ctx, n_prompts, n_scales), bool))
    budget = trainer.remaining
    shares = split_budget(budget, rounds)
    stop_at = trainer.spent + budget
    for r in range(rounds):
        alive = active.any(axis=(0, 2))  # (P,) active in some context
        top = np.where(alive, size, 0)
        room = round_room(shares, r, stop_at - trainer.spent)
        per = times_affordable(room, sweep_price(trainer, top))
        before = trainer.spent
        if per > 0:
            trainer.pull_paired([(p, size) for p in np.nonzero(alive)[0]], per)
        if trainer.spent == before:
            _rotate(trainer, top, room)
        last = r == rounds - 1
        if last:
            _spend_on_closest(trainer, active, top, stop_at)
        active = _within_caps(trainer, active)
        util = trainer.grid_utility(active.any(axis=(0, 2)))
        if last:  # the final pick: each context's best arm with data
            kept = keep_best(np.where(np.isnan(util), -np.inf, util), active,
                             np.ones(n_ctx, dtype=int))
        else:
            # a prompt's best active arm; NaN (ranked first by keep_best) if never pulled
            score = np.where(active, util, -np.inf).max(axis=2)  # (C, P)
            count = active.any(axis=2).sum(axis=1)
            unseen = (trainer.estimates.pulls_at(alive, 1) == 0).any()
            keep = count if unseen else np.ceil(count / 2).astype(int)
            prompt_active = active.any(axis=2)
            kept_prompts = keep_best(score[:, :, None], prompt_active[:, :, None],
                                     np.maximum(keep, 1))[:, :, 0]
            kept = active & kept_prompts[:, :, None]
        trainer.end_round(active, kept)
        active = kept
        trainer.notify(r + 1, rounds)
    return active


ESTIMATORS = ("auto", "pooled", "unbiased")
SCREEN_MODES = ("auto", "always", "never")


class PSST(Algorithm):
    """Prompt Scaling via Sequential Trimming.

    rounds: trimming rounds; default ``ceil(log2 |arms|)``, capped so that a round's share
        pays at least one pull of every prompt at its largest active scale.
    schedule: ``geometric`` (keep ``ceil(n ** ((R-r-1)/(R-r)))``, halving when R = log2 n)
        or ``halving`` (keep ``ceil(n/2)``, the last round keeps one).
    estimator: ``auto`` is ``pooled`` for majority voting (a strategy with
        ``pooled_votes``) and ``unbiased`` otherwise. ``pooled``: the rounds of
        ``pooled_rounds``, two votes per prompt and query, prompts halved per context by
        the pooled plug-in estimate at every N (``Trainer.pool_votes``); no screening.
        ``unbiased``: the paper's trimming over (prompt, N) arms on all-subsets estimates,
        pulling each prompt at its largest active N (``trim_rounds``), with screening.
    alpha: pooled votes lent to each (prompt, query) row by the query's pool (pooled only).
    votes: completions per prompt and query in a pooled round (``POOLED_PULL``).
    rounds: trimming rounds; default ``ceil(log2 |arms|)`` (pooled: ``ceil(log2 |prompts|)
        - 1``), capped so that a round's share pays at least one pull of every prompt.
    screen: ``auto`` screens only when the budget cannot pay one full sweep (every prompt at
        N_max) per round of ``ceil(log2 |arms|)`` rounds; ``always``; ``never``.
        Screening spends ``rho`` of the budget at the grid's smallest scale, spread evenly
        over prompts on shared queries, and each context keeps its ``k`` best prompts.
        (On the MATH env at T=2000 it halves regret against fewer, larger rounds; see
        benchmarks/.) It can discard a prompt that only shines at large N.
    """

    name = "psst"
    default_screen = "auto"
    default_estimator = "auto"

    def __init__(self, rounds: int | None = None, schedule: str = "geometric",
                 screen: str | None = None, rho: float = 0.2, k: int = 5,
                 estimator: str | None = None, alpha: float = 2.0,
                 votes: int = POOLED_PULL):
        # None means the class's own default (psst: auto, psst_topk: always / unbiased)
        self.rounds, self.schedule, self.screen, self.rho, self.k = (
            rounds, schedule, screen or self.default_screen, rho, k)
        self.estimator, self.alpha, self.votes = (
            estimator or self.default_estimator, alpha, votes)

    def pooled(self, problem: Problem) -> bool:
        """Whether this run estimates with pooled votes (see ``estimator``)."""
        if self.estimator == "auto":
            return pools_votes(problem.backend.strategy)
        return self.estimator == "pooled"

    def _check(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")
        if self.votes < 1:
            raise ValueError(f"votes must be at least 1, got {self.votes}")
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

    def wants_screen(self, problem: Problem, budget: float,
                     price: np.ndarray | None = None) -> bool:
        """Whether to screen: ``auto`` screens when ``budget`` cannot pay one full sweep
        (every prompt at the grid's largest N, at ``price`` (P, n_max) per query, default
        N completions) per round of ``ceil(log2 |arms|)`` rounds."""
        if self.screen != "auto":
            return self.screen == "always"
        n_arms = problem.n_prompts * len(problem.scales)
        canonical = max(1, math.ceil(math.log2(max(n_arms, 2))))
        top = int(problem.scales[-1])
        sweep = problem.n_prompts * top if price is None else price[:, top - 1].sum()
        # budget / canonical < sweep is budget // canonical < sweep for integer sweeps
        return budget / canonical < sweep

    def check_problem(self, problem: Problem) -> None:
        if self.estimator == "pooled" and not pools_votes(problem.backend.strategy):
            raise AlgorithmParameterError(
                f"estimator 'pooled' needs majority voting, not "
                f"'{problem.backend.strategy.name}' (use auto or unbiased)")

    def prepare(self, trainer: Trainer) -> None:
        problem = trainer.problem
        self.check_problem(problem)
        if self.pooled(problem):
            trainer.pool_votes(self.alpha)  # before a metered run's price probe

    def run(self, trainer: Trainer) -> Policy:
        problem, budget = trainer.problem, trainer.budget
        if self.pooled(problem):
            if not trainer.estimates.pooled:  # run without train(): nothing pulled yet
                self.prepare(trainer)
            trainer.notes["screened"] = False
            trainer.notes["estimator"] = "pooled"
            final = pooled_rounds(trainer, self.rounds, self.votes)
            # a metered budget's last crumbs: the survivors at the grid's smallest N (the
            # pooled estimate takes votes at any N; small pulls fit the most queries)
            smallest = np.zeros((1, *final.shape[1:]), bool)
            smallest[0, final.any(axis=(0, 2)), 0] = True
            trainer.spend_rest(smallest)
            return trainer.policy(final)
        active = np.ones((len(problem.contexts), problem.n_prompts, len(problem.scales)), bool)
        screened = self.wants_screen(problem, budget, trainer.price)
        trainer.notes["screened"] = screened
        if screened:
            active = self._screen(trainer, active, budget)
        final = trim_rounds(trainer, active, trainer.remaining, self.rounds, self.schedule,
                            notify_offset=int(screened))
        return trainer.final_policy(final)

    def _screen(self, trainer: Trainer, active: np.ndarray, budget: float) -> np.ndarray:
        problem = trainer.problem
        n_ctx, n_prompts, n_scales = active.shape
        first = int(problem.scales[0])
        sweep = trainer.price[:, first - 1].sum()  # one query of every prompt at N=first
        share = self.rho * budget if trainer.metered else int(self.rho * budget)
        per = times_affordable(share, sweep)
        if per == 0 and sweep <= trainer.remaining:
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
    """PSST that always starts with Top-K screening, on unbiased estimates (the paper's
    variant; see ``PSST``)."""

    name = "psst_topk"
    default_screen = "always"
    default_estimator = "unbiased"
