"""Shared pieces of every training algorithm: the problem, spending, statistics, results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..backends import Backend, Contexts, PullUsage
from ..errors import BudgetError, ConfigError
from ..strategies._pooled import pools_votes
from ._pooled import VoteProfiles

if TYPE_CHECKING:
    import pandas as pd


def _pandas():
    """pandas, imported on first use: tables are only built when a run is written."""
    import pandas

    return pandas


# Completions served in one batch at most: a pull of more is split into consecutive
# batches, and queries are drawn per batch, so memory does not grow with the budget. No
# batch of the benchmarks (T <= 20000) is that large, so they run unsplit, as before.
MAX_BATCH = 1 << 13

USD_CAP_BOUND = 2.0
"""Standard errors added to the mean USD per completion when checking ``max_usd`` caps."""

PRICE_FLOOR = 1e-3
"""The least planning price of an arm with a metered budget, as a fraction of its worst
case (``Trainer.price``)."""

METER_UNITS = ("completions", "tokens", "usd", "cost")
"""Units a ``Trainer`` keeps its budget in: completions (charge n per query, counted before
serving), tokens (prompt + completion tokens), usd, cost (the backend's cost measure)."""


class NoTrainingQueries(ConfigError):
    """The problem has no train queries to draw from: training could never spend a
    completion (bad input, exit 2; the config checks report it with its file and field
    before a run starts)."""


@dataclass(frozen=True)
class Problem:
    """What to learn: arms ``prompts x scales`` of a backend, on given train queries."""

    backend: Backend
    train: np.ndarray  # query indices the learner may draw
    scales: np.ndarray  # sorted grid of N, each in 1..backend.n_max
    contexts: Contexts

    @property
    def n_prompts(self) -> int:
        return len(self.backend.prompt_ids)


class ArmStatistics:
    """Stockpiled sums of per-pull estimates for every (context, prompt, scale 1..n_max).

    A pull at scale n feeds every scale k <= n (all-subsets estimators) and every context.
    The estimate at scale k telescopes: the mean utility at scale 1 over every pull, plus
    for each j = 2..k the mean increment ``u_j - u_(j-1)`` over the pulls that reached j.
    Each term is unbiased; with pulls at one scale only it is the plain mean. When smaller
    scales have more pulls (screening, trimmed prompts), larger scales borrow them: an
    increment varies far less across queries than a level (query difficulty cancels).
    """

    def __init__(self, n_contexts: int, n_prompts: int, n_max: int):
        self.task_sum = np.zeros((n_contexts, n_prompts, n_max))  # sums of increments
        self.pulls = np.zeros((n_prompts, n_max), dtype=np.int64)
        self.cost_sum = np.zeros((n_prompts, n_max))  # sums of expected cost at scale k
        self.agnostic_sum = np.zeros((n_contexts, n_prompts))
        # cost billed once per request (prompt part, ``PullUsage.request_cost``) and the
        # requests behind it; ``requests`` (P, n_max) of a deployment, set by the trainer
        self.request_cost_sum = np.zeros(n_prompts)
        self.request_count = np.zeros(n_prompts)
        self.requests: np.ndarray | None = None

    def add_requests(self, prompt: int, usage) -> None:
        """Record the per-request part of a pull's cost (``PullUsage``)."""
        self.request_cost_sum[prompt] += float(np.sum(usage.request_cost))
        self.request_count[prompt] += float(np.sum(usage.requests))

    def add(self, prompt: int, estimate) -> None:
        task = estimate.task  # (B, C, n)
        n = task.shape[-1]
        self.task_sum[:, prompt, :n] += np.diff(task, axis=2, prepend=0.0).sum(axis=0)
        self.pulls[prompt, :n] += task.shape[0]
        self.cost_sum[prompt, :n] += estimate.cost.sum(axis=0)
        self.agnostic_sum[:, prompt] += estimate.agnostic.sum(axis=0)

    def task_and_cost(self) -> tuple[np.ndarray, np.ndarray]:
        """(C, P, n_max) estimated task utility and (P, n_max) expected cost of the
        strategy at each scale; NaN where no pull reached that scale."""
        with np.errstate(invalid="ignore", divide="ignore"):
            task = np.cumsum(self.task_sum / self.pulls[None], axis=2)
            cost = self.cost_sum / self.pulls
            if self.requests is not None and self.request_count.any():
                per_request = np.where(self.request_count > 0,
                                       self.request_cost_sum / self.request_count, 0.0)
                cost = cost + per_request[:, None] * self.requests
        return task, cost

    def linear_cost(self) -> np.ndarray:
        """(P, n_max) expected cost at scale k of a strategy that draws k completions:
        k times the mean cost of a completion, plus the per-request part; NaN for a
        prompt never pulled. Known at every scale from pulls at any."""
        with np.errstate(invalid="ignore", divide="ignore"):
            per_completion = self.cost_sum[:, 0] / self.pulls[:, 0]
        k = np.arange(1, self.task_sum.shape[2] + 1, dtype=float)
        cost = per_completion[:, None] * k[None, :]
        if self.requests is not None and self.request_count.any():
            per_request = np.where(self.request_count > 0,
                                   self.request_cost_sum / self.request_count, 0.0)
            cost = cost + per_request[:, None] * self.requests
        return cost

    def utility(self, cost_weights: np.ndarray) -> np.ndarray:
        """(C, P, n_max) mean estimated utility; NaN where no pull reached that scale."""
        task, cost = self.task_and_cost()
        return task - cost_weights[:, None, None] * cost[None]  # (C, P, n_max)

    def agnostic(self) -> np.ndarray:
        """(C, P) inference-agnostic utility: mean weighted task score of one completion."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.agnostic_sum / self.pulls[None, :, 0]  # every pull reaches scale 1


class QueryStream:
    """Train queries without replacement, reshuffled each time the set runs out. Needs at
    least one query (``NoTrainingQueries`` otherwise: drawing from nothing never ends)."""

    def __init__(self, queries: np.ndarray, rng: np.random.Generator):
        self._queries = np.asarray(queries)
        if self._queries.size == 0:
            raise NoTrainingQueries("the training split has no queries to draw from")
        self._rng = rng
        self._order = rng.permutation(self._queries)
        self._pos = 0

    def draw(self, count: int) -> np.ndarray:
        """(count,) the next query indices; callers keep ``count`` bounded (the trainer's
        ``pull_fresh``/``pull_paired`` draw per batch)."""
        out = []
        while count > 0:
            if self._pos == len(self._order):
                self._order, self._pos = self._rng.permutation(self._queries), 0
            take = min(count, len(self._order) - self._pos)
            out.append(self._order[self._pos : self._pos + take])
            self._pos, count = self._pos + take, count - take
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _arm_names(backend) -> np.ndarray:
    """(P,) object array: the prompt id of each arm (``arm_prompts`` of a multi-model
    backend, else its ``prompt_ids``)."""
    models = getattr(backend, "arm_models", None)
    names = backend.arm_prompts if models is not None else backend.prompt_ids
    return np.asarray(names, dtype=object)


def _add_models(frame, backend, arms: np.ndarray) -> None:
    """A ``model`` column after ``prompt`` (arm_models[p]) on a multi-model backend."""
    models = getattr(backend, "arm_models", None)
    if models is not None:
        frame.insert(int(frame.columns.get_loc("prompt")) + 1, "model",
                     np.asarray(models, dtype=object)[arms])


class TrimmingLog:
    """Per round, context and arm considered: the estimate and whether it survived."""

    columns = ("round", "context", "prompt", "n", "estimate", "samples", "kept")

    def __init__(self):
        self._parts: list[pd.DataFrame] = []  # one frame per round

    def record(self, round_: int, problem: Problem, considered: np.ndarray, kept: np.ndarray,
               estimate: np.ndarray, samples: np.ndarray) -> None:
        """considered/kept: (C, P, S) masks over the scale grid; estimate (C, P, S);
        samples (P, S) pulls behind each estimate."""
        c, p, s = np.nonzero(considered)
        part = _pandas().DataFrame({
            "round": round_,
            "context": np.asarray(problem.contexts.names, dtype=object)[c],
            "prompt": _arm_names(problem.backend)[p],
            "n": problem.scales[s],
            "estimate": estimate[c, p, s],
            "samples": samples[p, s],
            "kept": kept[c, p, s],
        })
        _add_models(part, problem.backend, p)
        self._parts.append(part)

    def frame(self) -> pd.DataFrame:
        pd = _pandas()
        if not self._parts:
            return pd.DataFrame(columns=list(self.columns))
        return pd.concat(self._parts, ignore_index=True)


@dataclass
class Policy:
    """Per context: the chosen arm, its estimated utility and the pulls behind it."""

    contexts: tuple[str, ...]
    prompt_ids: tuple[str, ...]
    prompt: np.ndarray  # (C,) prompt index
    scale: np.ndarray  # (C,) N
    estimate: np.ndarray  # (C,) as reported: task part clipped to its range (Trainer)
    samples: np.ndarray  # (C,)
    agnostic: np.ndarray | None = None  # (C,) the chosen prompt's task utility at N=1 (no cost)
    fallback: np.ndarray | None = None  # (C,) the algorithm's pick had no data: best estimated
    usd_per_query: np.ndarray | None = None  # (C,) expected USD per query; NaN unpriced
    over_cap: np.ndarray | None = None  # (C,) no arm met the context's caps: cheapest taken
    arm_models: tuple[str, ...] | None = None  # per arm: model id (multi-model backends)
    arm_prompts: tuple[str, ...] | None = None  # per arm: prompt id (with arm_models)

    def frame(self) -> pd.DataFrame:
        """One row per context. With ``arm_models``, ``prompt`` is the arm's prompt id and
        ``model`` its model id; ``usd_per_query`` only when some chosen arm is priced."""
        names = self.arm_prompts if self.arm_models is not None else self.prompt_ids
        out = _pandas().DataFrame({
            "context": list(self.contexts),
            "prompt": [names[p] for p in self.prompt],
            "n": self.scale.astype(int),
            "estimated_utility": self.estimate,
            "samples": self.samples.astype(int),
        })
        if self.arm_models is not None:
            out.insert(2, "model", [self.arm_models[p] for p in self.prompt])
        if self.usd_per_query is not None and not np.isnan(self.usd_per_query).all():
            out["usd_per_query"] = self.usd_per_query
        if self.over_cap is not None and self.over_cap.any():
            out["over_cap"] = self.over_cap.astype(bool)
        if self.agnostic is not None:
            out["task_utility_n1"] = self.agnostic  # not comparable: cost left out
        if self.fallback is not None and self.fallback.any():  # only then: files unchanged
            out["fallback"] = self.fallback.astype(bool)
        return out


@dataclass
class TrainingResult:
    policy: Policy
    log: TrimmingLog
    budget: int
    spent: int
    pulls: int
    rounds: int
    extra: dict = field(default_factory=dict)
    completions: int = 0  # completions served, whatever the budget's unit


Observer = Callable[[int, int, int, int], None]  # (round, rounds, spent, budget)


class Trainer:
    """Learned state of one run: the budget ledger, statistics, query stream and log.

    Every completion goes through ``pull_many``, ``pull_fresh`` or ``pull_paired``, each of
    which refuses a request that would exceed the budget before serving any of it. Its
    memory does not depend on the budget: statistics are sums, and a pull of many queries
    is drawn and served in batches of at most ``MAX_BATCH`` completions (``pull_fresh``,
    ``pull_paired``). A problem without train queries is refused (``NoTrainingQueries``).
    """

    def __init__(self, problem: Problem, budget: float, rng: np.random.Generator,
                 observer: Observer | None = None, unit: str = "completions"):
        if unit not in METER_UNITS:
            raise ValueError(f"unit must be one of {', '.join(METER_UNITS)}, got {unit!r}")
        self.unit = unit
        # completions are counted before serving (exact); every other unit is metered:
        # a worst case is charged before sending, reconciled with what was used after
        self.metered = unit != "completions"
        self.problem, self.rng = problem, rng
        self.budget = float(budget) if self.metered else int(budget)
        backend = problem.backend
        if unit in ("tokens", "usd") and not hasattr(backend, "worst_usage"):
            raise ValueError(f"a budget in {unit} needs a backend that reports usage")
        if unit == "usd" and not getattr(backend, "usd_known", True):
            raise ValueError("a budget in usd needs a price for every model")
        if unit == "cost" and not hasattr(backend, "worst_cost"):
            raise ValueError("a budget in cost needs a backend with per-completion costs")
        self.stats = ArmStatistics(len(problem.contexts), problem.n_prompts, backend.n_max)
        if getattr(backend, "requests_per_scale", None) is not None:
            self.stats.requests = np.asarray(backend.requests_per_scale, dtype=float)
        self.log = TrimmingLog()
        self.queries = QueryStream(problem.train, rng)
        self.spent = 0.0 if self.metered else 0
        self.completions = 0  # completions served, whatever the unit
        self.pulls = 0
        self.rounds = 0
        self.observer = observer
        # called as recorder(round, prompt, pull, usage, queries) for every pull served
        # (the run layer keeps them in the run directory, for contexts not trained)
        self.recorder: Callable[[int, int, object, PullUsage | None, np.ndarray], None] \
            | None = None
        self.notes: dict = {}  # facts an algorithm reports about its run (e.g. screened)
        # set by ``pool_votes``: estimates from vote profiles instead of ``stats``' sums
        self.profiles: VoteProfiles | None = None
        self.pool_alpha = 0.0
        # (stamp, prompts computed or None for all, task, cost) of the last pooled estimate
        self._pooled_at: tuple | None = None
        n_prompts = problem.n_prompts
        # per prompt: charge (in the unit) of the completion and request parts, and the
        # completions and requests behind them (planning price once a prompt has data)
        self._charge_completion = np.zeros(n_prompts)
        self._charge_request = np.zeros(n_prompts)
        self._served_completions = np.zeros(n_prompts)
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
        backend = self.problem.backend
        n_prompts, n_max = self.problem.n_prompts, backend.n_max
        if not self.metered:
            return np.broadcast_to(np.arange(1, n_max + 1), (n_prompts, n_max))
        worst = self.worst_prices()
        seen = self._served_completions > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_completion = self._charge_completion / self._served_completions
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

    def probe_prices(self) -> None:
        """Metered units: one query of every prompt at the grid's smallest scale (the same
        query for all, as far as the budget allows at worst case), so that ``price`` rests
        on usage from the start; the pulls feed the statistics like any other. Completions
        (priced exactly) and prompts that already have data: nothing."""
        if not self.metered:
            return
        unseen = np.nonzero(self._served_completions == 0)[0]
        if unseen.size == 0:
            return
        queries = self.queries.draw(1)
        n = int(self.problem.scales[0])
        self.pull_many([(p, queries, n) for p in unseen])

    def _worst_prices_min(self) -> float:
        """The cheapest worst case of one query of any prompt at any scale of the grid."""
        return float(self.worst_prices()[:, self.problem.scales - 1].min())

    def worst_prices(self) -> np.ndarray:
        """(P, n_max) the worst-case charge of one query at each scale (asked once, on the
        first train query)."""
        if self._worst_price is None:
            query = np.asarray(self.problem.train[:1])
            n_prompts, n_max = self.problem.n_prompts, self.problem.backend.n_max
            self._worst_price = np.array([[float(self._worst(p, query, k)[0])
                                           for k in range(1, n_max + 1)]
                                          for p in range(n_prompts)])
        return self._worst_price

    def _worst(self, prompt: int, queries: np.ndarray, n: int) -> np.ndarray:
        """(B,) the most a pull may charge per query, in the unit, before sending."""
        backend = self.problem.backend
        if not self.metered:
            return np.full(len(queries), float(n))
        if self.unit == "cost":
            return np.asarray(backend.worst_cost(prompt, queries, n), dtype=float)
        usage = backend.worst_usage(prompt, queries, n)
        return _charge(self.unit, usage, None)

    def _fit(self, pulls) -> list:
        """The prefix of ``(prompt, queries, n)`` pulls whose worst case fits in what is
        left (metered units): whole pulls, then the first queries of the pull that no
        longer fits whole; nothing after it."""
        left = self.remaining * (1 + 1e-12)  # float sums must not refuse an exact fit
        out = []
        for p, q, n in pulls:
            if len(q) == 0:
                continue
            total = np.cumsum(self._worst(p, q, n))
            take = int(np.searchsorted(total, left, side="right"))
            if take:
                out.append((p, q[:take], n))
                left -= float(total[take - 1])
            if take < len(q):
                break
        return out

    def pull(self, prompt: int, queries: np.ndarray, n: int) -> None:
        self.pull_many([(prompt, queries, n)])

    def pull_many(self, pulls) -> None:
        """Several pulls ``(prompt, queries, n)`` at once; a backend with ``sample_many``
        (live) serves them together, others one after the other in the given order. More
        than ``MAX_BATCH`` completions are served in consecutive batches (a pull split by
        its queries), which bounds what a backend holds at once."""
        pulls = [(int(p), q, int(n)) for p, q, n in pulls if len(q) * int(n) > 0]
        if self.metered:
            self._pull_metered(pulls)
            return
        cost = sum(len(q) * n for _, q, n in pulls)
        if cost > self.remaining:
            raise BudgetError(f"pulls of {cost} completions exceed the {self.remaining} left")
        if cost <= MAX_BATCH:
            self._serve(pulls)
            return
        batch, size = [], 0
        for p, q, n in pulls:
            start = 0
            while start < len(q):
                if size + n > MAX_BATCH and batch:  # not one more query fits
                    self._serve(batch)
                    batch, size = [], 0
                part = q[start : start + max(1, (MAX_BATCH - size) // n)]
                batch.append((p, part, n))
                size, start = size + len(part) * n, start + len(part)
        self._serve(batch)

    def _pull_metered(self, pulls) -> None:
        """Metered units: serve ``(prompt, queries, n)`` pulls in order, in batches of the
        longest prefix whose worst case fits in what is left (at most ``MAX_BATCH``
        completions); after each batch the charge is reconciled with the usage, so the
        next batch sees what really remains. Ends when all is served or not one more
        query fits at worst case (what is left is then not sent)."""
        while pulls:
            batch, size = [], 0
            for p, q, n in pulls:  # at most MAX_BATCH completions (one query at least)
                if batch and size + n > MAX_BATCH:
                    break
                take = min(len(q), max(1, (MAX_BATCH - size) // n))
                batch.append((p, q[:take], n))
                size += take * n
                if take < len(q):
                    break
            fitted = self._fit(batch)
            if not fitted:
                return
            self._serve(fitted)
            served = {i: len(part[1]) for i, part in enumerate(fitted)}
            rest = []
            for i, (p, q, n) in enumerate(pulls):
                done = served.get(i, 0)
                if done < len(q):
                    rest.append((p, q[done:], n))
            pulls = rest

    def pull_fresh(self, pulls) -> None:
        """Pulls ``(prompt, count, n)``, each on ``count`` fresh train queries of its own,
        drawn in order. Up to ``MAX_BATCH`` completions in all they are drawn and served
        together (as ``pull_many``); beyond, in consecutive batches of at most that,
        queries drawn per batch, so neither the queries nor the samples of a huge count
        are ever held at once."""
        pulls = [(int(p), int(k), int(n)) for p, k, n in pulls if int(k) * int(n) > 0]
        if self.metered:  # drawn per batch; served while some query fits at worst case
            pending = list(pulls)
            while pending:
                before = self.spent
                batch, size = [], 0
                while pending and (not batch or size + pending[0][2] <= MAX_BATCH):
                    p, k, n = pending[0]
                    take = min(k, max(1, (MAX_BATCH - size) // n))
                    batch.append((p, self.queries.draw(take), n))
                    size += take * n
                    pending[0] = (p, k - take, n)
                    if pending[0][1] == 0:
                        pending.pop(0)
                self._pull_metered(batch)
                if self.spent == before or self._worst_prices_min() > self.remaining:
                    return  # not one more query fits at worst case
            return
        cost = sum(k * n for _, k, n in pulls)
        if cost > self.remaining:
            raise BudgetError(f"pulls of {cost} completions exceed the {self.remaining} left")
        batch, size = [], 0
        for p, k, n in pulls:
            while k > 0:
                if size + n > MAX_BATCH and batch:  # not one more query fits
                    self._serve_fresh(batch)
                    batch, size = [], 0
                take = min(k, max(1, (MAX_BATCH - size) // n))
                batch.append((p, take, n))
                size, k = size + take * n, k - take
        self._serve_fresh(batch)

    def pull_paired(self, arms, count: int) -> None:
        """Every arm ``(prompt, n)`` on the same ``count`` fresh train queries (paired
        comparisons), drawn and served in batches of at most ``MAX_BATCH`` completions
        (a single batch, as ``pull_many``, when the whole sweep fits)."""
        arms = [(int(p), int(n)) for p, n in arms if int(n) > 0]
        width = sum(n for _, n in arms)
        count = int(count)
        if count <= 0 or width == 0:
            return
        if self.metered:  # as many paired queries as fit at worst case, batch by batch
            step = max(1, MAX_BATCH // width)
            pending = np.zeros(0, dtype=np.int64)
            while count > 0 or pending.size:
                if pending.size == 0:
                    pending = self.queries.draw(min(step, count))
                    count -= len(pending)
                worst = sum(self._worst(p, pending, n) for p, n in arms)  # (B,) per query
                take = int(np.searchsorted(np.cumsum(worst), self.remaining * (1 + 1e-12),
                                           side="right"))
                if take == 0:
                    return  # not one more paired query fits at worst case
                self._serve([(p, pending[:take], n) for p, n in arms])
                pending = pending[take:]
            return
        if count * width > self.remaining:
            raise BudgetError(f"pulls of {count * width} completions exceed the "
                              f"{self.remaining} left")
        step = max(1, MAX_BATCH // width)
        while count > 0:
            queries = self.queries.draw(min(step, count))
            self._serve([(p, queries, n) for p, n in arms])
            count -= len(queries)

    def _serve_fresh(self, batch) -> None:
        """Draw the queries of ``(prompt, count, n)`` pulls in order, then serve them."""
        self._serve([(p, self.queries.draw(k), n) for p, k, n in batch])

    def _serve(self, pulls) -> None:
        """Sample and record ``(prompt, queries, n)`` pulls already checked against the
        budget."""
        if not pulls:
            return
        backend = self.problem.backend
        sample_many = getattr(backend, "sample_many", None)
        if sample_many is not None:
            samples = sample_many(pulls, self.rng)
        else:
            samples = [backend.sample(p, q, n, self.rng) for p, q, n in pulls]
        pop_usage = getattr(backend, "pop_usage", None)
        usages = pop_usage() if pop_usage is not None else [None] * len(pulls)
        prepare = getattr(backend.strategy, "prepare", None)
        if prepare is not None:  # e.g. fill a credit table for every pull at once
            prepare(samples)
        weights = self.problem.contexts.task_weights
        for (prompt, queries, n), sample, usage in zip(pulls, samples, usages, strict=True):
            self.stats.add(prompt, backend.strategy.estimate(sample, weights))
            if self.profiles is not None:
                self.profiles.add(prompt, queries, sample.counts, sample.gold)
            if self.recorder is not None:
                self.recorder(self.rounds, prompt, sample, usage, queries)
            if usage is not None:
                self.stats.add_requests(prompt, usage)
                self._track_usd(prompt, usage)
            completions = len(queries) * n
            if self.metered:  # reconcile: charge what the pull actually used
                charge = _charge(self.unit, usage, sample)
                per_request = _request_charge(self.unit, usage)
                self._charge_completion[prompt] += float(charge.sum() - per_request.sum())
                self._charge_request[prompt] += float(per_request.sum())
                self._served_requests[prompt] += (float(usage.requests.sum())
                                                  if usage is not None else 0.0)
                self.spent += float(charge.sum())
            else:
                self.spent += completions
            self._served_completions[prompt] += completions
            self.completions += completions
            self.pulls += len(queries)

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

    def pool_votes(self, alpha: float) -> None:
        """From now on, estimate with the pooled plug-in (``strategies._pooled``): keep
        every pull's vote profiles and estimate each prompt at every scale from them, with
        ``alpha`` pooled votes per (prompt, query). Only for a strategy with
        ``pooled_votes`` (majority voting). Pulls served before the first call are not
        in the profiles (``Algorithm.prepare`` calls it before a metered run's price
        probe); a second call only sets ``alpha``."""
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
        NaN without data: ``ArmStatistics``' unbiased sums, or with ``pool_votes`` the
        pooled estimate (known at every scale for a prompt pulled at any). ``prompts``
        (P,) bool: only those are needed (pooled: the others may be NaN; the estimate is
        computed once per new data and kept)."""
        if self.profiles is None:
            return self.stats.task_and_cost()
        stamp = (self.pulls, self.completions)
        want = None if prompts is None else np.asarray(prompts, bool)
        cached = self._pooled_at
        fresh = cached is not None and cached[0] == stamp and (
            cached[1] is None or (want is not None and not (want & ~cached[1]).any()))
        if not fresh:  # new votes since, or prompts the last estimate left out
            credit, _ = self.profiles.credit(self.pool_alpha, self.problem.backend.n_max,
                                             want)
            weights = self.problem.contexts.task_weights[:, 0]  # majority voting: correct
            self._pooled_at = (stamp, want, weights[:, None, None] * credit[None],
                               self.stats.linear_cost())
        return self._pooled_at[2], self._pooled_at[3]

    def grid_utility(self, prompts: np.ndarray | None = None) -> np.ndarray:
        """(C, P, S) estimated utility on the scale grid (NaN without data; see
        ``task_and_cost`` for ``prompts``)."""
        task, cost = self.task_and_cost(prompts)
        util = task - self.problem.contexts.cost_weights[:, None, None] * cost[None]
        return util[:, :, self.problem.scales - 1]

    def grid_samples(self) -> np.ndarray:
        """(P, S) pulls behind each estimate on the grid (pooled: every pull of the
        prompt, at any scale)."""
        if self.profiles is not None:
            return np.repeat(self.stats.pulls[:, :1], len(self.problem.scales), axis=1)
        return self.stats.pulls[:, self.problem.scales - 1]

    def reported_task_and_cost(self, prompts: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """``task_and_cost`` as reported to users: the (C, P, n_max) task
        utility clipped to the range it can take, ``[sum of negative weights, sum of
        positive weights]`` per context (every objective scores in [0, 1]).

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
        task, cost = self.reported_task_and_cost(prompts)
        util = task - self.problem.contexts.cost_weights[:, None, None] * cost[None]
        return util[:, :, self.problem.scales - 1]

    def arm_estimates(self) -> pd.DataFrame:
        """Final estimates for every (context, prompt, N of the grid): utility, its task
        part (both as reported: ``reported_task_and_cost``), the expected cost of deploying
        the arm (cost units), the pulls behind, and ``unbiased_utility``: the utility before
        clipping, which choices made from this table (``evaluate``'s comparisons, the
        agnostic choice) rank by, as the algorithms do."""
        problem = self.problem
        task, cost = self.reported_task_and_cost()
        s = problem.scales - 1
        n_ctx, n_prompts = len(problem.contexts), problem.n_prompts
        c, p, k = np.meshgrid(np.arange(n_ctx), np.arange(n_prompts), np.arange(len(s)),
                              indexing="ij")
        frame = _pandas().DataFrame({
            "context": np.asarray(problem.contexts.names, dtype=object)[c.ravel()],
            "prompt": _arm_names(problem.backend)[p.ravel()],
            "n": problem.scales[k.ravel()],
            "utility": self.reported_utility().ravel(),
            "task_utility": task[:, :, s].ravel(),
            "cost": cost[:, s][p.ravel(), k.ravel()],
            "samples": self.grid_samples()[p.ravel(), k.ravel()],
            "unbiased_utility": self.grid_utility().ravel(),
            "usd_per_query": self.usd_per_query()[:, s][p.ravel(), k.ravel()],
        })
        _add_models(frame, problem.backend, p.ravel())
        return frame

    def end_round(self, considered: np.ndarray, kept: np.ndarray) -> None:
        self.log.record(self.rounds, self.problem, considered, kept,
                        self.reported_utility(considered.any(axis=(0, 2))),
                        self.grid_samples())
        self.rounds += 1

    def notify(self, round_: int, rounds: int) -> None:
        if self.observer is not None:
            self.observer(round_, rounds, self.spent, self.budget)

    def usd_per_query(self, bound: float = 0.0) -> np.ndarray:
        """(P, n_max) expected USD per query of deploying arm p at scale k:
        ``k * USD per completion + requests(k) * USD per request`` (prompt part); NaN
        where the prompt has no priced pull (or an unpriced one). ``bound`` > 0 adds that
        many standard errors to the per-completion mean (an upper confidence bound)."""
        n_max = self.problem.backend.n_max
        known = self._usd_known & ~self._usd_unpriced & (self._usd_queries > 0)
        completions = np.maximum(self._served_completions, 1)
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

    def allowed(self, final: bool = False) -> np.ndarray:
        """(C, P, S) arms each context's caps allow (``cap_mask``). ``Contexts.max_usd`` is
        checked against an upper confidence bound on USD per query (mean + 2 standard
        errors of the per-completion part, ``usd_per_query``); an arm without priced data
        is allowed while trimming (nothing is known against it) but not in the ``final``
        choice (it might cost anything)."""
        problem = self.problem
        contexts, scales = problem.contexts, problem.scales
        usd = None if contexts.max_usd is None else \
            self.usd_per_query(bound=USD_CAP_BOUND)[:, scales - 1]
        return cap_mask(contexts, scales, (len(contexts), problem.n_prompts, len(scales)),
                        usd, unknown_allowed=not final)

    def spend_rest(self, candidates: np.ndarray | None = None) -> None:
        """Metered units: spend what is left on the prompts of ``candidates`` (C, P, S),
        each at its largest candidate scale whose worst case still fits (else the largest
        of the grid that does), in batches sent together: each prompt gets an equal share
        of what is left, counted at its expected price (``price``), and what does not fit
        at worst case waits for the next batch; until no query of any of them fits.
        Exact units: nothing."""
        if not self.metered:
            return
        scales = self.problem.scales
        mask = np.ones((1, self.problem.n_prompts, len(scales)), bool) \
            if candidates is None else candidates
        any_ctx = mask.any(axis=0)  # (P, S)
        prompts = np.nonzero(any_ctx.any(axis=1))[0]
        if prompts.size == 0:
            return
        worst = self.worst_prices()
        while True:
            before = self.spent
            price = self.price
            pulls = []
            for p in prompts:
                fits = [s for s in np.nonzero(any_ctx[p])[0][::-1]
                        if worst[p, scales[s] - 1] <= self.remaining]
                if not fits:
                    fits = [s for s in range(len(scales))[::-1]
                            if worst[p, scales[s] - 1] <= self.remaining]
                if not fits:
                    continue
                n = int(scales[fits[0]])
                count = max(1, int(self.remaining / len(prompts) // price[p, n - 1]))
                pulls.append((p, self.queries.draw(min(count, MAX_BATCH)), n))
            if not pulls:
                return
            self.pull_many(pulls)
            if self.spent <= before:  # nothing fitted any more: progress guard
                return

    def final_policy(self, candidates: np.ndarray | None = None) -> Policy:
        """What an algorithm returns at its end: a metered budget first spends what is
        left on the ``candidates`` (``spend_rest``), then ``policy(candidates)``."""
        self.spend_rest(candidates)
        return self.policy(candidates)

    def policy(self, candidates: np.ndarray | None = None) -> Policy:
        """Per context, the best estimated arm among ``candidates`` (C, P, S) (default all)
        that the context's caps allow (``allowed(final=True)``). Spends nothing (a run
        stopped by Ctrl-C or a failure is written from it; ``final_policy`` spends the
        rest of a metered budget first).

        A policy never rests on an arm without data: a context whose candidates have no
        estimate takes its best estimated arm of the whole grid (within its caps) instead,
        and says so in ``Policy.fallback``. Only a run stopped before its first pull has
        no estimate at all (its estimates are NaN; the budget checks before training rule
        it out for a finished run). When no arm with data meets a context's caps, it takes
        the cheapest (lowest expected USD per query, else the smallest N) among those with
        data and within ``max_n`` if any, and ``Policy.over_cap`` marks it. The pick is by
        the unbiased estimates; ``Policy.estimate`` is the reported (clipped) one."""
        full = self.grid_utility()
        capped = self.problem.contexts.max_n is not None or \
            self.problem.contexts.max_usd is not None
        allowed = self.allowed(final=True) if capped else np.ones(full.shape, bool)
        has_data = ~np.isnan(full)
        n_ctx, n_prompts, n_scales = full.shape
        over_cap = ~(allowed & has_data).reshape(n_ctx, -1).any(axis=1)
        if over_cap.any():  # nothing with data meets the caps: the cheapest arm with data
            usd = self.usd_per_query()[:, self.problem.scales - 1]  # (P, S)
            price = np.where(np.isnan(usd), np.inf, usd)
            if np.isinf(price).all():
                price = np.broadcast_to(self.problem.scales[None, :].astype(float),
                                        price.shape)
            within_n = self.allowed(final=False) if capped else np.ones(full.shape, bool)
            for c in np.nonzero(over_cap)[0]:
                pool = has_data[c] & within_n[c]
                pool = pool if pool.any() else has_data[c]
                if not pool.any():
                    continue
                cost = np.where(pool, price, np.inf)
                cheapest = cost == cost.min()
                allowed[c] = pool & cheapest
        util = full if candidates is None else np.where(candidates, full, np.nan)
        util = np.where(allowed, util, np.nan)
        fallback = np.isnan(util).reshape(n_ctx, -1).all(axis=1)
        util = np.where(fallback[:, None, None], np.where(allowed, full, np.nan), util)
        score = np.where(np.isnan(util), -np.inf, util)
        best = score.reshape(n_ctx, -1).argmax(axis=1)
        prompt, scale_idx = np.divmod(best, n_scales)
        ctx = np.arange(n_ctx)
        backend = self.problem.backend
        return Policy(
            contexts=self.problem.contexts.names,
            prompt_ids=backend.prompt_ids,
            prompt=prompt,
            scale=self.problem.scales[scale_idx],
            estimate=self.reported_utility()[ctx, prompt, scale_idx],
            samples=self.grid_samples()[prompt, scale_idx],
            agnostic=self._agnostic()[ctx, prompt],
            fallback=fallback,
            usd_per_query=self.usd_per_query()[prompt, self.problem.scales[scale_idx] - 1],
            over_cap=over_cap if capped else None,
            arm_models=getattr(backend, "arm_models", None),
            arm_prompts=getattr(backend, "arm_prompts", None),
        )

    def _agnostic(self) -> np.ndarray:
        """(C, P) task utility at N=1 (no cost): the mean score of one completion, or with
        ``pool_votes`` the pooled estimate at N=1 (what the estimates table says)."""
        if self.profiles is None:
            return self.stats.agnostic()
        return self.task_and_cost()[0][:, :, 0]

    def result(self, policy: Policy) -> TrainingResult:
        return TrainingResult(policy, self.log, self.budget, self.spent, self.pulls, self.rounds,
                              dict(self.notes), self.completions)


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


def _charge(unit: str, usage: PullUsage | None, sample) -> np.ndarray:
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


def _request_charge(unit: str, usage: PullUsage | None) -> np.ndarray:
    """(B,) the part of a pull's charge billed once per request (prompt tokens/USD)."""
    if usage is None:
        return np.zeros(1)
    if unit == "tokens":
        return np.asarray(usage.prompt_tokens, dtype=float)
    if unit == "usd":
        return np.asarray(usage.usd_prompt, dtype=float)
    return np.asarray(usage.request_cost, dtype=float)


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
