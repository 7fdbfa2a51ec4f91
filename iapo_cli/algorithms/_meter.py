"""The budget meter: what a run has spent and may still spend, in the budget's unit."""

from __future__ import annotations

import numpy as np

from ..backends import PullUsage
from ..errors import BudgetError
from ._problem import Problem

PRICE_FLOOR = 1e-3
"""The least planning price of an arm with a metered budget, as a fraction of its worst
case (``BudgetMeter.price``)."""

METER_UNITS = ("completions", "tokens", "usd", "cost")
"""Units a budget is kept in: completions (charge n per query, counted before serving),
tokens (prompt + completion tokens), usd, cost (the backend's cost measure)."""


class BudgetMeter:
    """The budget of one run in its unit (``METER_UNITS``): what is spent and left, the
    most a pull may charge before it is sent, what it charged once served, and each arm's
    planning price learnt from those charges. It prices and charges; it serves nothing
    (``Sampler`` serves pulls and charges it).

    Completions are counted exactly: ``check`` refuses a request that does not fit before
    anything is served. Every other unit is metered: what is sent is cut to the prefix
    whose worst case fits (``fit``), then reconciled with the usage reported (``charge``).
    Arrays are per prompt (P,), so its memory does not depend on the budget.
    """

    def __init__(self, problem: Problem, budget: float, unit: str = "completions"):
        if unit not in METER_UNITS:
            raise ValueError(f"unit must be one of {', '.join(METER_UNITS)}, got {unit!r}")
        backend = problem.backend
        if unit in ("tokens", "usd") and not hasattr(backend, "worst_usage"):
            raise ValueError(f"a budget in {unit} needs a backend that reports usage")
        if unit == "usd" and not getattr(backend, "usd_known", True):
            raise ValueError("a budget in usd needs a price for every model")
        if unit == "cost" and not hasattr(backend, "worst_cost"):
            raise ValueError("a budget in cost needs a backend with per-completion costs")
        self.problem, self.unit = problem, unit
        # completions are counted before serving (exact); every other unit is metered
        self.metered = unit != "completions"
        self.budget = float(budget) if self.metered else int(budget)
        self.spent = 0.0 if self.metered else 0
        n_prompts = problem.n_prompts
        # per prompt: charge (in the unit) of the completion and request parts, and the
        # completions and requests behind them (planning price once a prompt has data)
        self._charge_completion = np.zeros(n_prompts)
        self._charge_request = np.zeros(n_prompts)
        self.served_completions = np.zeros(n_prompts)
        self._served_requests = np.zeros(n_prompts)
        # per prompt: USD of the completion part and of the prompt part (per request), with
        # sums of squares per query for a confidence bound (NaN once any pull is unpriced)
        self._usd_completion = np.zeros(n_prompts)
        self._usd_request = np.zeros(n_prompts)
        self._usd_queries = np.zeros(n_prompts)
        self._usd_sq = np.zeros(n_prompts)  # sum over queries of (usd per completion)**2
        self._usd_known = np.zeros(n_prompts, bool)
        self._usd_unpriced = np.zeros(n_prompts, bool)
        self._worst_price: np.ndarray | None = None

    @property
    def remaining(self) -> float:
        return self.budget - self.spent

    def requests_per_scale(self) -> np.ndarray:
        """(P, n_max) requests a deployment of arm p at scale k sends: the backend's
        ``requests_per_scale`` if it has one, else k (one request per completion)."""
        backend = self.problem.backend
        own = getattr(backend, "requests_per_scale", None)
        if own is not None:
            return np.asarray(own, dtype=np.int64)
        return np.broadcast_to(np.arange(1, backend.n_max + 1),
                               (self.problem.n_prompts, backend.n_max))

    @property
    def price(self) -> np.ndarray:
        """(P, n_max) planning price: the expected charge, in the budget's unit, of one pull
        (one query) of prompt p at scale k. Completions: k exactly (int). Metered units:
        ``k * charge per completion + requests(k) * charge per request`` from what the
        prompt has used so far; before its first pull, the backend's worst case."""
        n_prompts, n_max = self.problem.n_prompts, self.problem.backend.n_max
        if not self.metered:
            return np.broadcast_to(np.arange(1, n_max + 1), (n_prompts, n_max))
        worst = self.worst_prices()
        seen = self.served_completions > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_completion = self._charge_completion / self.served_completions
            per_request = np.where(self._served_requests > 0,
                                   self._charge_request / self._served_requests, 0.0)
        scales = np.arange(1, n_max + 1)
        observed = (per_completion[:, None] * scales[None]
                    + per_request[:, None] * self.requests_per_scale())
        # a floor (a thousandth of the worst case): pulls that happened to cost nothing
        # (empty answers of a model free for prompts) must not make an arm free to plan
        # with, or a loop that pays arm after arm out of a room would never end
        observed = np.maximum(observed, PRICE_FLOOR * worst)
        return np.where(seen[:, None], observed, worst)

    def worst_prices(self) -> np.ndarray:
        """(P, n_max) the worst-case charge of one query at each scale (asked once, on the
        first train query)."""
        if self._worst_price is None:
            query = np.asarray(self.problem.train[:1])
            n_prompts, n_max = self.problem.n_prompts, self.problem.backend.n_max
            self._worst_price = np.array([[float(self.worst(p, query, k)[0])
                                           for k in range(1, n_max + 1)]
                                          for p in range(n_prompts)])
        return self._worst_price

    def cheapest_worst(self) -> float:
        """The cheapest worst case of one query of any prompt at any scale of the grid."""
        return float(self.worst_prices()[:, self.problem.scales - 1].min())

    def worst(self, prompt: int, queries: np.ndarray, n: int) -> np.ndarray:
        """(B,) the most a pull may charge per query, in the unit, before sending."""
        backend = self.problem.backend
        if not self.metered:
            return np.full(len(queries), float(n))
        if self.unit == "cost":
            return np.asarray(backend.worst_cost(prompt, queries, n), dtype=float)
        return charge_of(self.unit, backend.worst_usage(prompt, queries, n), None)

    def check(self, completions: int) -> None:
        """Completions: a ``BudgetError`` (a bug guard) when ``completions`` exceed what is
        left, before anything is served."""
        if completions > self.remaining:
            raise BudgetError(f"pulls of {completions} completions exceed the "
                              f"{self.remaining} left")

    def fit(self, pulls) -> list:
        """The prefix of ``(prompt, queries, n)`` pulls whose worst case fits in what is
        left (metered units): whole pulls, then the first queries of the pull that no
        longer fits whole; nothing after it."""
        left = self.remaining * (1 + 1e-12)  # float sums must not refuse an exact fit
        out = []
        for p, q, n in pulls:
            if len(q) == 0:
                continue
            total = np.cumsum(self.worst(p, q, n))
            take = int(np.searchsorted(total, left, side="right"))
            if take:
                out.append((p, q[:take], n))
                left -= float(total[take - 1])
            if take < len(q):
                break
        return out

    def charge(self, prompt: int, completions: int, usage: PullUsage | None, sample) -> None:
        """Charge a served pull of ``prompt``: ``completions`` drawn, ``usage`` as reported
        (None offline), ``sample`` the pull (its costs, for a budget in cost units)."""
        if usage is not None:
            self._track_usd(prompt, usage)
        if self.metered:  # reconcile: charge what the pull actually used
            charge = charge_of(self.unit, usage, sample)
            per_request = request_charge_of(self.unit, usage)
            self._charge_completion[prompt] += float(charge.sum() - per_request.sum())
            self._charge_request[prompt] += float(per_request.sum())
            self._served_requests[prompt] += (float(usage.requests.sum())
                                              if usage is not None else 0.0)
            self.spent += float(charge.sum())
        else:
            self.spent += completions
        self.served_completions[prompt] += completions

    def _track_usd(self, prompt: int, usage: PullUsage) -> None:
        """Sum the pull's USD per prompt: completion part per completion, prompt part per
        request, and squares of the per-completion USD of each query (for a bound)."""
        usd = np.asarray(usage.usd, dtype=float)
        if np.isnan(usd).any():
            self._usd_unpriced[prompt] = True
            return
        completion_part = usd - np.asarray(usage.usd_prompt, dtype=float)
        per = completion_part / np.maximum(np.asarray(usage.completions, dtype=float), 1)
        self._usd_completion[prompt] += float(completion_part.sum())
        self._usd_request[prompt] += float(np.sum(usage.usd_prompt))
        self._usd_queries[prompt] += len(usd)
        self._usd_sq[prompt] += float((per ** 2).sum())
        self._usd_known[prompt] = True

    def usd_per_query(self, bound: float = 0.0) -> np.ndarray:
        """(P, n_max) expected USD per query of deploying arm p at scale k:
        ``k * USD per completion + requests(k) * USD per request`` (prompt part); NaN
        where the prompt has no priced pull (or an unpriced one). ``bound`` > 0 adds that
        many standard errors to the per-completion mean (an upper confidence bound)."""
        n_max = self.problem.backend.n_max
        known = self._usd_known & ~self._usd_unpriced & (self._usd_queries > 0)
        completions = np.maximum(self.served_completions, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_completion = self._usd_completion / completions
            per_request = np.where(self._served_requests > 0,
                                   self._usd_request / self._served_requests, 0.0)
            if bound > 0:
                queries = np.maximum(self._usd_queries, 1)
                mean = self._usd_completion / completions
                var = np.maximum(self._usd_sq / queries - mean ** 2, 0.0)
                per_completion = per_completion + bound * np.sqrt(var / queries)
        scales = np.arange(1, n_max + 1)
        usd = per_completion[:, None] * scales[None] + per_request[:, None] * \
            self.requests_per_scale()
        return np.where(known[:, None], usd, np.nan)


def charge_of(unit: str, usage: PullUsage | None, sample) -> np.ndarray:
    """(B,) what a pull charges per query in ``unit`` (metered units): tokens billed, USD,
    or the cost of its completions (offline: the sample's own costs)."""
    if unit == "tokens":
        return np.asarray(usage.prompt_tokens, float) + np.asarray(usage.completion_tokens,
                                                                     float)
    if unit == "usd":
        return np.asarray(usage.usd, dtype=float)
    if sample is None:  # a worst case of a backend reporting usage: the cost measure
        return np.asarray(usage.request_cost, dtype=float)
    cost = np.asarray(sample.cost, dtype=float)
    total = cost if cost.ndim == 1 else cost.sum(axis=1)
    if usage is not None:
        total = total + np.asarray(usage.request_cost, dtype=float)
    return total


def request_charge_of(unit: str, usage: PullUsage | None) -> np.ndarray:
    """(B,) the part of a pull's charge billed once per request (prompt tokens/USD)."""
    if usage is None:
        return np.zeros(1)
    if unit == "tokens":
        return np.asarray(usage.prompt_tokens, dtype=float)
    if unit == "usd":
        return np.asarray(usage.usd_prompt, dtype=float)
    return np.asarray(usage.request_cost, dtype=float)
