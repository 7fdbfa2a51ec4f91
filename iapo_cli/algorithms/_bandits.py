"""Bandit baselines over (prompt, N) arms: epsilon-greedy, softmax, UCB, and plain
sequential halving.

They share data across contexts and scales the simple way: every pull feeds the same
stockpiled statistics as PSST (all contexts, every scale up to the pulled one), but they
have none of PSST's structure (no pull at the largest active scale on paired queries).
"""

from __future__ import annotations

import math

import numpy as np

from ._budget import (
    check_rounds,
    keep_best,
    round_room,
    spend_leftover,
    split_budget,
    times_affordable,
)
from ._contract import Algorithm
from ._results import Policy
from ._trainer import Trainer


class _BatchedBandit(Algorithm):
    """A bandit that picks arms for a batch of pulls from the statistics so far, then
    pulls them together (the natural shape for concurrent LLM requests).

    Contexts take turns (round-robin, in proportion to their probabilities over a cycle):
    each pull picks an arm for its context by the rule; the completions it returns feed
    every context. Warm-up: every prompt once at the largest scale of the grid that fits
    in half the budget, so each prompt has estimates at every scale up to it.

    A batch makes at most about ``MAX_DECISIONS`` decisions (plus a short tail): when its
    room holds more pulls, each decision buys several pulls of its arm, so the time spent
    deciding does not grow with the budget (no benchmark batch is that large).
    """

    name = "bandit"

    def __init__(self, batches: int = 40):
        self.batches = batches

    def _check(self) -> None:
        if self.batches < 1:
            raise ValueError(f"batches must be at least 1, got {self.batches}")

    def _score(self, trainer: Trainer, util: np.ndarray, samples: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
        """(C, P, S) preference for each arm; the rule picks per context from it."""
        raise NotImplementedError

    def _pick(self, score: np.ndarray, context: int, allowed: np.ndarray,
              rng: np.random.Generator) -> int:
        """Flat arm index for ``context`` among ``allowed`` (P, S): the best score, ties
        broken at random."""
        row = np.where(allowed, score[context], -np.inf).ravel()
        best = np.flatnonzero(row == row.max())
        return int(rng.choice(best))

    def run(self, trainer: Trainer) -> Policy:
        problem, budget, rng = trainer.problem, trainer.budget, trainer.rng
        scales = problem.scales
        n_ctx, n_prompts, n_scales = len(problem.contexts), problem.n_prompts, len(scales)
        # prices of one query per (prompt, scale of the grid) in the budget's unit: N
        # with completions (exact), estimated from usage so far with a metered budget
        cost = trainer.price[:, scales - 1]  # (P, S)
        # budget // 2 is budget / 2 rounded down: the same comparison for integer sums
        warm = scales[cost.sum(axis=0) <= budget / 2 if trainer.metered else
                      scales * n_prompts <= budget // 2]
        first = int(warm[-1]) if warm.size else int(scales[0])
        queries = trainer.queries.draw(1)
        trainer.pull_many([(p, queries, first) for p in range(n_prompts)])
        turns = _context_turns(problem.contexts.probabilities, rng)
        dearest = cost.max()
        size = max(dearest, trainer.remaining / self.batches) if trainer.metered else \
            max(int(scales[-1]), math.ceil(trainer.remaining / self.batches))
        step = 0
        while trainer.remaining >= cost.min():
            room = min(size, trainer.remaining)
            score = self._score(trainer, trainer.grid_utility(), trainer.grid_samples(), rng)
            chosen: dict[tuple[int, int], int] = {}
            # pulls per decision: 1 unless the room holds more than MAX_DECISIONS pulls at
            # the dearest arm; fewer near the end of the room, so every arm stays affordable
            unit = max(1, times_affordable(room, MAX_DECISIONS * dearest))
            while room >= cost.min():
                context = turns[step % len(turns)]
                step += 1
                take = max(1, min(unit, times_affordable(room, dearest)))
                arm = self._pick(score, context, cost * take <= room, rng)
                p, s = divmod(arm, n_scales)
                chosen[(p, int(scales[s]))] = chosen.get((p, int(scales[s])), 0) + take
                room -= take * cost[p, s]
            before = trainer.spent
            trainer.pull_fresh([(p, count, n) for (p, n), count in sorted(chosen.items())])
            if trainer.spent == before:  # nothing affordable was chosen: stop, never spin
                break
            cost = trainer.price[:, scales - 1]  # metered: prices learnt from the usage
            dearest = cost.max()
        active = np.ones((n_ctx, n_prompts, n_scales), bool)
        trainer.end_round(active, active)
        trainer.notify(1, 1)
        return trainer.final_policy()


MAX_DECISIONS = 1024  # per batch of a batched bandit, about


def _context_turns(probabilities: np.ndarray, rng: np.random.Generator, length: int = 100
                   ) -> np.ndarray:
    """A shuffled cycle of contexts, each as often as its probability says (at least once)."""
    counts = np.maximum(1, np.round(np.asarray(probabilities) * length)).astype(int)
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


class EpsilonGreedy(_BatchedBandit):
    """With probability ``epsilon`` a uniformly random arm, else the arm with the best
    estimate (arms without data count as unknown, not as best).

    epsilon: exploration probability (default 0.15). batches: decisions per run (40).
    """

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.15, batches: int = 40):
        super().__init__(batches)
        self.epsilon = epsilon

    def _check(self) -> None:
        super()._check()
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon must lie in [0, 1], got {self.epsilon}")

    def _score(self, trainer, util, samples, rng):
        return np.where(np.isnan(util), -np.inf, util)

    def _pick(self, score, context, allowed, rng):
        if rng.random() < self.epsilon:
            return int(rng.choice(np.flatnonzero(allowed.ravel())))
        row = np.where(allowed, score[context], -np.inf)
        if not np.isfinite(row).any():  # nothing affordable has data yet
            return int(rng.choice(np.flatnonzero(allowed.ravel())))
        return super()._pick(score, context, allowed & np.isfinite(score[context]), rng)


class Softmax(_BatchedBandit):
    """Boltzmann exploration: arm a with probability proportional to
    ``exp(estimate_a / temperature)``; an arm without data gets its context's best
    estimate (so it is tried as if it were a top arm).

    temperature: utility units (default 0.05; utilities are mostly in [0, 1]).
    batches: decisions per run (40).
    """

    name = "softmax"

    def __init__(self, temperature: float = 0.05, batches: int = 40):
        super().__init__(batches)
        self.temperature = temperature

    def _check(self) -> None:
        super()._check()
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def _score(self, trainer, util, samples, rng):
        best = np.where(np.isnan(util), -np.inf, util).max(axis=(1, 2), keepdims=True)
        return np.where(np.isnan(util), best, util)

    def _pick(self, score, context, allowed, rng):
        row = np.where(allowed, score[context], -np.inf).ravel()
        weights = np.exp((row - row.max()) / self.temperature)
        return int(rng.choice(row.size, p=weights / weights.sum()))


class UCB(_BatchedBandit):
    """Upper confidence bound: ``estimate + c * sqrt(ln t / n_a)`` with t the pulls so far
    and n_a the pulls behind the arm's estimate; arms without data first.

    c: exploration constant (default 0.1). batches: decisions per run (40).
    """

    name = "ucb"

    def __init__(self, c: float = 0.1, batches: int = 40):
        super().__init__(batches)
        self.c = c

    def _check(self) -> None:
        super()._check()
        if self.c < 0:
            raise ValueError(f"c must be >= 0, got {self.c}")

    def _score(self, trainer, util, samples, rng):
        t = max(trainer.pulls, 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.c * np.sqrt(np.log(t) / samples)
        return np.where(samples[None] > 0, util + bonus[None], np.inf)


class SequentialHalving(Algorithm):
    """Plain sequential halving over (prompt, N) arms, per context: ``ceil(log2 |arms|)``
    rounds with equal budget shares; each round pulls every arm still active in some
    context at its own N, equally often, on its own queries; each context then keeps the
    better half of its arms. A share too small to reach every arm pulls the least-sampled
    arms that fit (arms without data are never cut).

    rounds: default ``ceil(log2 |arms|)``.
    """

    name = "sequential_halving"

    def __init__(self, rounds: int | None = None):
        self.rounds = rounds

    def _check(self) -> None:
        check_rounds(self.rounds)

    def run(self, trainer: Trainer) -> Policy:
        problem, budget, rng = trainer.problem, trainer.budget, trainer.rng
        scales = problem.scales
        n_ctx, n_prompts, n_scales = len(problem.contexts), problem.n_prompts, len(scales)
        active = np.ones((n_ctx, n_prompts, n_scales), bool)
        rounds = self.rounds or max(1, math.ceil(math.log2(max(active[0].size, 2))))
        shares = split_budget(budget, rounds)
        own = np.zeros((n_prompts, n_scales), dtype=np.int64)  # pulls made at exactly (p, n)
        for r in range(rounds):
            room = round_room(shares, r, trainer.remaining)
            arms = np.argwhere(active.any(axis=0))  # (A, 2): prompt, scale index
            n = scales[arms[:, 1]]
            price = trainer.price[arms[:, 0], n - 1]  # (A,) N each with completions
            per = times_affordable(room, price.sum())
            if per > 0:
                counts = np.full(len(arms), per)
            else:  # the least-sampled arms that fit, random among equals
                order = np.lexsort((rng.random(len(arms)), own[arms[:, 0], arms[:, 1]]))
                fits = order[np.cumsum(price[order]) <= room]
                counts = np.zeros(len(arms), dtype=np.int64)
                counts[fits] = 1
            trainer.pull_fresh([(p, k, scales[s])
                                for (p, s), k in zip(arms, counts, strict=True) if k > 0])
            for (p, s), k in zip(arms, counts, strict=True):
                own[p, s] += k
            last = r == rounds - 1
            if last:  # leftovers: one pull each for the arms that still fit, cheapest first
                price = trainer.price[arms[:, 0], n - 1]
                for idx in np.argsort(price, kind="stable"):
                    if price[idx] <= trainer.remaining:
                        trainer.pull(int(arms[idx, 0]), trainer.queries.draw(1), int(n[idx]))
                spend_leftover(trainer, trainer.remaining)  # still some left
            count = active.sum(axis=(1, 2))
            keep = np.where(last, 1, np.ceil(count / 2)).astype(int)
            util = trainer.grid_utility()
            if last:  # the final pick is among arms with data
                util = np.where(np.isnan(util), -np.inf, util)
            elif np.isnan(np.where(active, util, 0.0)).any():
                keep = count  # arms without data: cutting now would be blind
            kept = keep_best(util, active, np.maximum(keep, 1))
            trainer.end_round(active, kept)
            active = kept
            trainer.notify(r + 1, rounds)
        return trainer.final_policy(active)
