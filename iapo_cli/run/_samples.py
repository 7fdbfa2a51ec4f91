"""``samples``: what the model said. A live run's completions, read from its cache (never
sent), with their extracted answer, the gold and the verdict.

Every (arm, query) of the run is looked up slot by slot (slot 0, 1, ... until the first
that is not cached), so the completions a run paid for are found whether or not its
training got to record them (a run stopped by the early check included), together with
those another run of the same config paid for (the cache is shared).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..artifacts import RunDir
from ..backends._health import OUTCOMES, outcome_of
from ..errors import ConfigError
from ..llm import Completion, slot_key
from ._evaluate import ArmMap, reopen_run

VERDICTS = ("correct", "wrong", "no answer", "scored")
"""A completion's verdict: its answer matches the gold, it does not, it has none; or, for
a strategy that scores rather than extracts (Best-of-N), ``scored``."""

MAX_SLOTS = 1 << 16
"""Slots looked up per (arm, query) at most (a run draws at most budget slots per row)."""


@dataclass(frozen=True)
class SampleRecord:
    """One cached completion of a run: its arm (``prompt``, and ``model`` with several
    models), the query (dataset ``query`` id, ``split``), its sample ``slot``, the
    ``text``, the ``answer`` extracted (None: none found, or no extraction), the ``gold``,
    the ``verdict`` (``VERDICTS``), the ``outcome`` (``OUTCOMES``) and its
    ``finish_reason`` (None: unknown)."""

    prompt: str
    model: str | None
    query: str
    split: str
    slot: int
    text: str
    answer: str | None
    gold: str | None
    verdict: str
    outcome: str
    finish_reason: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SampleFilter:
    """Which completions to show: ``arms`` (arm indices; None: all), ``queries`` (query
    indices; None: all), ``unparsed`` (outcome other than answered), ``wrong`` (an answer
    that is not the gold), ``split`` ('train', 'test' or None for both)."""

    arms: frozenset[int] | None = None
    queries: frozenset[int] | None = None
    unparsed: bool = False
    wrong: bool = False
    split: str | None = None

    def keeps(self, record: SampleRecord) -> bool:
        if self.unparsed and self.wrong:  # either
            return record.outcome != OUTCOMES[0] or record.verdict == "wrong"
        if self.unparsed:
            return record.outcome != OUTCOMES[0]
        if self.wrong:
            return record.verdict == "wrong"
        return True


class RunSamples:
    """A live run's cached completions: ``select`` yields them (``SampleRecord``) under a
    filter, sending nothing. Raises ConfigError (bad input) for a run that is not live."""

    def __init__(self, run_dir: str | Path):
        files = RunDir(run_dir, flag="RUN_DIR")
        resolved, split, policy = reopen_run(files, require_keys=False)
        backend = resolved.problem.backend
        if not hasattr(backend, "health"):
            raise ConfigError("has no completions to show: its backend is "
                              f"'{resolved.config.backend.kind}', not a live model",
                              source=str(files.path))
        self.files, self.resolved, self.backend, self.policy = files, resolved, backend, policy
        self.arms = ArmMap.of(backend)
        self.train = [int(x) for x in split.get("train", [])]
        self.test = [int(x) for x in split.get("test", [])]
        self.extracts = backend.extractor is not None

    def arm_of(self, name: str) -> int:
        """The arm index of ``name``: an arm id (``prompt``, or ``prompt@model``), or a
        prompt id when it names one arm; ConfigError otherwise."""
        ids = list(self.arms.ids)
        if name in ids:
            return ids.index(name)
        matches = [p for p, prompt in enumerate(self.arms.prompts) if prompt == name]
        if len(matches) == 1:
            return matches[0]
        what = "names several arms (give prompt@model)" if matches else "is not an arm"
        raise ConfigError(f"'{name}' {what} of this run (arms: {', '.join(ids)})",
                          field="--arm")

    def context_arm(self, name: str) -> int:
        """The arm the run's policy deploys for context ``name``."""
        rows = {r.get("context"): r for r in self.policy.get("contexts", [])}
        if name not in rows:
            raise ConfigError(f"'{name}' is not a context of this run (contexts: "
                              f"{', '.join(str(c) for c in rows)})", field="--context")
        row = rows[name]
        arm = int(self.arms.index([row.get("prompt")], [row.get("model")])[0])
        if arm < 0:
            raise ConfigError(f"the policy's arm for '{name}' is not an arm of this run",
                              field="--context")
        return arm

    def query_of(self, name: str) -> int:
        """The query index of a dataset row id (``dataset.id_field``, else its row
        number)."""
        ids = list(self.backend.dataset.ids)
        if name in ids:
            return ids.index(name)
        raise ConfigError(f"'{name}' is not a query id of the run's dataset", field="--query")

    def select(self, keep: SampleFilter, limit: int | None = None) -> Iterator[SampleRecord]:
        """Cached completions under ``keep``, query by query (train split, then test), each
        query's arms in order and each arm's slots ascending; at most ``limit``."""
        shown = 0
        splits = [("train", self.train), ("test", self.test)]
        for split, queries in splits:
            if keep.split is not None and keep.split != split:
                continue
            for query in queries:
                if keep.queries is not None and query not in keep.queries:
                    continue
                for arm in range(len(self.arms.ids)):
                    if keep.arms is not None and arm not in keep.arms:
                        continue
                    for record in self._arm_query(arm, query, split):
                        if keep.keeps(record):
                            yield record
                            shown += 1
                            if limit is not None and shown >= limit:
                                return

    def _arm_query(self, arm: int, query: int, split: str) -> Iterator[SampleRecord]:
        """Every cached completion of (arm, query), slot by slot until the first gap."""
        backend = self.backend
        client = backend.arm_clients[arm]
        fingerprint = client.fingerprint(backend.request(arm, query, ()))
        gold = backend.gold(query) if self.extracts else backend.target(query)
        for slot in range(MAX_SLOTS):
            record = client.cache.get(slot_key(fingerprint, slot))
            if record is None:
                return
            yield self._record(arm, query, split, slot, Completion.from_record(record), gold)

    def _record(self, arm: int, query: int, split: str, slot: int, completion: Completion,
                gold: str | None) -> SampleRecord:
        answer = self.backend.extractor.extract(completion.text) if self.extracts else None
        outcome = OUTCOMES[outcome_of(completion.text, completion.finish_reason, answer,
                                      self.extracts)]
        if not self.extracts:
            verdict = "scored"
        elif answer is None:
            verdict = "no answer"
        else:
            verdict = "correct" if gold is not None and answer == gold else "wrong"
        label = self.arms.label(arm)
        return SampleRecord(label["prompt"], label.get("model"),
                            str(self.backend.dataset.ids[query]), split, slot,
                            completion.text, answer, gold, verdict, outcome,
                            completion.finish_reason)

    def per_arm(self, count: int, keep: SampleFilter | None = None) -> list[SampleRecord]:
        """Up to ``count`` completions of every arm under ``keep`` (for a report: each arm
        shown, not only the first)."""
        out: list[SampleRecord] = []
        base = keep or SampleFilter()
        for arm in range(len(self.arms.ids)):
            only = SampleFilter(frozenset({arm}), base.queries, base.unparsed, base.wrong,
                                base.split)
            out.extend(self.select(only, count))
        return out


def samples(run_dir: str | Path, *, context: str | None = None, arm: str | None = None,
            query: str | None = None, unparsed: bool = False, wrong: bool = False,
            split: str | None = None, limit: int | None = 20) -> list[SampleRecord]:
    """The cached completions of the live run in ``run_dir`` (``RunSamples.select``),
    filtered by the arm the policy deploys for ``context``, by ``arm`` (an arm or prompt
    id), by ``query`` (a dataset row id), by outcome (``unparsed``: no answer, empty or cut
    at max_tokens; ``wrong``: an answer other than the gold; both: either) and by
    ``split``; at most ``limit`` (None: all). Sends nothing. Bad filters are ConfigErrors
    naming the flag."""
    if limit is not None and limit < 1:
        raise ConfigError(f"must be at least 1, got {limit}", field="--limit")
    if split not in (None, "train", "test"):
        raise ConfigError(f"must be train or test, got {split!r}", field="--split")
    run = RunSamples(run_dir)
    arms = set(range(len(run.arms.ids)))
    if context is not None:
        arms &= {run.context_arm(context)}
    if arm is not None:
        arms &= {run.arm_of(arm)}
    queries = None if query is None else frozenset({run.query_of(query)})
    keep = SampleFilter(frozenset(arms), queries, unparsed, wrong, split)
    return list(run.select(keep, limit))
