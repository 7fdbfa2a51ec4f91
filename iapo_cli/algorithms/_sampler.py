"""The sampler: draws train queries, serves pulls in bounded batches, charges the meter and
feeds the estimates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..backends import PullUsage
from ._estimates import Estimates
from ._meter import BudgetMeter
from ._problem import NoTrainingQueries, Problem

# Completions served in one batch at most: a pull of more is split into consecutive
# batches, and queries are drawn per batch, so memory does not grow with the budget. No
# batch of the benchmarks (T <= 20000) is that large, so they run unsplit, as before.
MAX_BATCH = 1 << 13

Recorder = Callable[[int, int, object, PullUsage | None, np.ndarray], None]
"""Told ``(round, prompt, pull, usage, queries)`` of every pull served."""


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
        """(count,) the next query indices; callers keep ``count`` bounded (the sampler
        draws per batch)."""
        out = []
        while count > 0:
            if self._pos == len(self._order):
                self._order, self._pos = self._rng.permutation(self._queries), 0
            take = min(count, len(self._order) - self._pos)
            out.append(self._order[self._pos : self._pos + take])
            self._pos, count = self._pos + take, count - take
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class Sampler:
    """Serves pulls ``(prompt, queries, n)``: n completions of a prompt on each query.

    Every completion of a run goes through ``pull_many``, ``pull_fresh`` or
    ``pull_paired``. With a budget in completions each refuses a request that would exceed
    it before serving any of it (``BudgetMeter.check``); with a metered budget it sends the
    prefix whose worst case fits and stops when not one more query does. Pulls are served
    in batches of at most ``MAX_BATCH`` completions, queries drawn per batch, so memory
    does not grow with the budget. Each served pull is charged to ``meter``, added to
    ``estimates`` and told to ``recorder`` (with ``round``, which the trainer advances).
    """

    def __init__(self, problem: Problem, rng: np.random.Generator, meter: BudgetMeter,
                 estimates: Estimates):
        self.problem, self.rng = problem, rng
        self.meter, self.estimates = meter, estimates
        self.queries = QueryStream(problem.train, rng)
        self.recorder: Recorder | None = None
        self.round = 0  # the round pulls are served in (told to the recorder)
        self.completions = 0  # completions served, whatever the budget's unit
        self.pulls = 0  # queries served

    def pull_many(self, pulls) -> None:
        """Several pulls ``(prompt, queries, n)`` at once; a backend with ``sample_many``
        (live) serves them together, others one after the other in the given order. More
        than ``MAX_BATCH`` completions are served in consecutive batches (a pull split by
        its queries), which bounds what a backend holds at once."""
        pulls = [(int(p), q, int(n)) for p, q, n in pulls if len(q) * int(n) > 0]
        if self.meter.metered:
            self._pull_metered(pulls)
            return
        cost = sum(len(q) * n for _, q, n in pulls)
        self.meter.check(cost)
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
            fitted = self.meter.fit(batch)
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
        meter = self.meter
        if meter.metered:  # drawn per batch; served while some query fits at worst case
            pending = list(pulls)
            while pending:
                before = meter.spent
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
                if meter.spent == before or meter.cheapest_worst() > meter.remaining:
                    return  # not one more query fits at worst case
            return
        meter.check(sum(k * n for _, k, n in pulls))
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
        step = max(1, MAX_BATCH // width)
        meter = self.meter
        if meter.metered:  # as many paired queries as fit at worst case, batch by batch
            pending = np.zeros(0, dtype=np.int64)
            while count > 0 or pending.size:
                if pending.size == 0:
                    pending = self.queries.draw(min(step, count))
                    count -= len(pending)
                worst = sum(meter.worst(p, pending, n) for p, n in arms)  # (B,) per query
                take = int(np.searchsorted(np.cumsum(worst), meter.remaining * (1 + 1e-12),
                                           side="right"))
                if take == 0:
                    return  # not one more paired query fits at worst case
                self._serve([(p, pending[:take], n) for p, n in arms])
                pending = pending[take:]
            return
        meter.check(count * width)
        while count > 0:
            queries = self.queries.draw(min(step, count))
            self._serve([(p, queries, n) for p, n in arms])
            count -= len(queries)

    def _serve_fresh(self, batch) -> None:
        """Draw the queries of ``(prompt, count, n)`` pulls in order, then serve them."""
        self._serve([(p, self.queries.draw(k), n) for p, k, n in batch])

    def _serve(self, pulls) -> None:
        """Sample ``(prompt, queries, n)`` pulls already checked against the budget, then
        add them to the estimates, record and charge them."""
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
        self.estimates.add(pulls, samples, usages)
        for (prompt, queries, n), sample, usage in zip(pulls, samples, usages, strict=True):
            if self.recorder is not None:
                self.recorder(self.round, prompt, sample, usage, queries)
            completions = len(queries) * n
            self.meter.charge(prompt, completions, usage, sample)
            self.completions += completions
            self.pulls += len(queries)
