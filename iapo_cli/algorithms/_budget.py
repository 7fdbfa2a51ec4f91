"""Budget arithmetic every round-based algorithm shares: shares, carry-over, keep schedules
and the last completions. Kept in one place so that algorithms spend the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KEEP_SCHEDULES = ("geometric", "halving")

MAX_ROUNDS = 64
"""The most trimming rounds an algorithm may be given: 64 halvings bring 2**64 arms down to
one, so more rounds cannot trim anything more (and would only allocate and loop)."""


def check_rounds(rounds: int | None) -> None:
    """A ValueError unless ``rounds`` is None (the default) or 1..MAX_ROUNDS."""
    if rounds is not None and not 1 <= rounds <= MAX_ROUNDS:
        bound = "at least 1" if rounds < 1 else f"at most {MAX_ROUNDS} ({MAX_ROUNDS} " \
            f"halvings bring 2**{MAX_ROUNDS} arms down to one)"
        raise ValueError(f"rounds must be {bound}, got {rounds}")


def split_budget(total: int | float, parts: int) -> list:
    """``total`` in ``parts`` shares: integer shares that differ by at most one for an
    integer total (completions), equal float shares for a metered one (tokens, USD, cost)."""
    if isinstance(total, float):
        return [total / parts] * parts
    base, extra = divmod(int(total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def round_room(shares: Sequence[int], r: int, left: int) -> int:
    """What round ``r`` may spend: its share plus whatever earlier rounds left unspent.

    ``left`` is what remains of the phase's budget before round r; the shares of the rounds
    after r stay reserved, so a round can never eat into a later one."""
    carry = max(left - sum(shares[r:]), 0)
    return min(shares[r] + carry, left)


def keep_counts(count: np.ndarray, rounds_left: int, schedule: str = "geometric") -> np.ndarray:
    """How many of ``count`` (C,) arms each context keeps after a round with
    ``rounds_left`` rounds to go (counting this one): the last round keeps one.

    ``geometric`` keeps ``ceil(n ** ((R-r-1)/(R-r)))`` (halving when R = log2 n);
    ``halving`` keeps ``ceil(n / 2)``."""
    count = np.asarray(count)
    if schedule == "halving":
        return np.where(rounds_left == 1, 1, np.ceil(count / 2)).astype(int)
    # the epsilon keeps exact powers from rounding up (8 ** (2/3) is 4.000000000000001)
    return np.ceil(count ** ((rounds_left - 1) / rounds_left) - 1e-9).astype(int)


def times_affordable(room: float, price: float) -> int:
    """How many times something of ``price`` (> 0) fits in ``room``, in whole numbers: the
    floor of the ratio, 0 for an empty room. Integer arithmetic when both are integers
    (completions), so counts are exact there."""
    if price <= 0 or room <= 0:
        return 0
    return int(room // price)


def spend_leftover(trainer, left: float) -> None:
    """The last of the budget that no round could use: one pull of a random prompt at the
    largest scale of the grid whose price (``trainer.price``) fits in ``left`` (nothing if
    none fits for any prompt). With completions the price of scale n is n."""
    scales = trainer.problem.scales
    price = trainer.price[:, scales - 1]  # (P, S)
    if not (price.min(axis=0) <= left).any():
        return
    prompt = int(trainer.rng.integers(trainer.problem.n_prompts))
    fits = scales[price[prompt] <= left]
    if fits.size:
        trainer.pull(prompt, trainer.queries.draw(1), int(fits[-1]))


def keep_best(util: np.ndarray, active: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per context, the ``keep[c]`` active arms with the highest estimates.

    util, active: (C, P, S); keep: (C,). Arms without an estimate rank first (they were not
    sampled yet, so nothing speaks against them). Ties break by a fixed arm order.
    """
    n_ctx = util.shape[0]
    score = np.where(np.isnan(util), np.inf, util)
    score = np.where(active, score, -np.inf).reshape(n_ctx, -1)
    order = np.argsort(-score, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[1])[None, :], axis=1)
    return (rank < keep[:, None]).reshape(active.shape) & active
