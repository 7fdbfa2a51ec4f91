"""``Policy.load(run_dir)``: a trained run's choice per context, ready to deploy.

The first piece of putting a policy to work (issue 12): what each context deploys — the
arm (prompt, model), its decoding, N, the strategy that turns N completions into one
answer, and what training expects of it (utility, USD per query, the pulls behind it) —
and the messages its template renders for a new row. Loading reads the run directory and
rebuilds its backend offline: it sends nothing and needs no API key.
"""

from __future__ import annotations

import asyncio
import math
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts import RunDir
from ..errors import ConfigError
from ..llm import ChatRequest, slot_key
from ._evaluate import ArmMap, _train_estimates, reopen_run
from ._resolve import context_weights
from ._reweigh import PullHistory

INFERENCE_GROUP = 1 << 40
"""The sample group of deployment requests: their cache keys differ from every training
and test request's (whose groups count repeated dataset rows, far below this), so an
answer never reuses a training or test sample, even for a row of the dataset; asking
again for the same row is served from the cache."""


DEPLOYABLE = ("majority_vote", "best_of_n")
"""Strategies ``DeployedArm.answer`` carries out (an adaptive strategy's sequential draws
are not deployed yet)."""


@dataclass(frozen=True)
class Answer:
    """What ``DeployedArm.answer`` returns for one row.

    ``answer``: majority voting's most frequent extracted answer (None when no completion
    had one), or Best-of-N's chosen completion text; ``vote_share``: the answer's share of
    the N votes (majority voting; None for Best-of-N); ``tied``: the top vote count (or
    the best score) was shared, and the first in sampling order was taken; ``score``:
    Best-of-N's weighted score of the chosen completion (None for majority voting), from
    ``scores`` (N, K) per completion and objective; ``completions``: the N texts;
    ``cached``: how many came from the cache; tokens billed and ``usd`` (None: unpriced)
    of the N completions (cached ones included, as first billed)."""

    answer: str | None
    vote_share: float | None
    tied: bool
    completions: tuple[str, ...]
    cached: int
    prompt_tokens: float
    completion_tokens: float
    usd: float | None
    score: float | None = None
    scores: tuple[tuple[float, ...], ...] | None = None

    def as_dict(self) -> dict:
        """The answer as plain JSON-ready data (``completions`` and ``scores`` included)."""
        return {"answer": self.answer, "vote_share": self.vote_share, "tied": self.tied,
                "score": self.score, "completions": list(self.completions),
                "scores": None if self.scores is None else [list(s) for s in self.scores],
                "cached": self.cached, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "usd": self.usd}


@dataclass(frozen=True)
class DeployedArm:
    """What one context deploys.

    ``arm``: the backend's arm id (``prompt`` or ``prompt@model``); ``model``: the model
    id of a multi-model run, else the backend's model string (None offline); ``decoding``:
    the request parameters the arm's completions were drawn with (its model's ``params``
    under the prompt's ``decoding``); ``expected_utility``: training's estimate at ``n``
    in the context's units; ``usd_per_query``: the expected USD of one query at ``n``
    (None: unpriced); ``samples``: the training pulls behind the estimate; ``weights``,
    ``max_usd`` and ``max_n``: the context's weights and caps (None: no cap)."""

    context: str
    arm: str
    prompt: str
    model: str | None
    n: int
    strategy: str
    decoding: dict
    expected_utility: float
    usd_per_query: float | None
    samples: int
    weights: dict = field(default_factory=dict)
    max_usd: float | None = None
    max_n: int | None = None
    _backend: object = field(default=None, repr=False, compare=False)
    _index: int = field(default=-1, repr=False, compare=False)

    def messages(self, row: dict) -> list[dict]:
        """The chat messages the arm sends for ``row`` (the dataset's fields by name), as
        training rendered them. A missing field is a ConfigError; an offline run has no
        templates (ConfigError)."""
        prompts = getattr(self._backend, "prompts", None)
        if prompts is None:
            raise ConfigError(f"the run's backend is offline: arm '{self.arm}' has no "
                              f"template to render")
        arm = prompts[self._index]
        try:
            user = arm.template.render(row)
        except KeyError as exc:
            raise ConfigError(f"cannot render the template of '{self.arm}' for this row: "
                              f"it has no field {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"cannot render the template of '{self.arm}' for this row: "
                              f"{exc}") from None
        system = [{"role": "system", "content": arm.system}] if arm.system else []
        return [*system, {"role": "user", "content": user}]

    @property
    def input_fields(self) -> tuple[str, ...]:
        """The row fields the arm's template fills, in order (offline runs: none)."""
        prompts = getattr(self._backend, "prompts", None)
        return () if prompts is None else tuple(prompts[self._index].template.fields)

    @property
    def client(self):
        """The run's cached client for this arm's model (``LLMClient``)."""
        return self._backend.arm_clients[self._index]

    def request(self, row: dict) -> ChatRequest:
        """The request for ``row``'s N completions: the arm's messages and decoding, slots
        0..N-1 of the deployment sample group (``INFERENCE_GROUP``). A strategy that cannot
        be deployed, an offline run or a row the template cannot render is a
        ConfigError."""
        if self.strategy not in DEPLOYABLE:
            raise ConfigError(f"answering supports {' and '.join(DEPLOYABLE)} runs, not "
                              f"{self.strategy}", field="strategy")
        messages = self.messages(row)  # an offline run fails here
        decoding = dict(self._backend.prompts[self._index].decoding or {})
        return ChatRequest(messages, decoding, range(self.n), INFERENCE_GROUP)

    def cached(self, row: dict) -> int:
        """How many of ``row``'s N completions the cache already holds (free to ask)."""
        request = self.request(row)
        client = self.client
        fingerprint = client.fingerprint(request)
        return sum(client.cache.get(slot_key(fingerprint, slot)) is not None
                   for slot in request.slots)

    def aggregate(self, row: dict, completions) -> Answer:
        """The strategy's answer from ``row``'s N completions (``Completion``): the
        majority vote of their extracted answers, or the completion with the highest score
        under the context's weights (its objectives scored as in training)."""
        backend = self._backend
        costs = [c.cost for c in completions]
        common = dict(
            completions=tuple(c.text for c in completions),
            cached=sum(bool(c.cached) for c in completions),
            prompt_tokens=float(sum(c.prompt_tokens for c in completions)),
            completion_tokens=float(sum(c.completion_tokens for c in completions)),
            usd=None if any(c is None for c in costs) else float(sum(costs)))
        if self.strategy == "best_of_n":
            user = self.messages(row)[-1]["content"]
            scores = backend.score_row(row, user, completions)  # (N, K)
            weights = np.array([self.weights.get(o, 0.0)
                                for o in backend.strategy.objectives])
            weighted = scores @ weights
            best = int(np.argmax(weighted))  # the first of equal scores
            return Answer(answer=completions[best].text, vote_share=None,
                          tied=int((weighted == weighted[best]).sum()) > 1,
                          score=float(weighted[best]),
                          scores=tuple(tuple(float(v) for v in r) for r in scores), **common)
        answers = backend.answers(completions)
        counts = Counter(a for a in answers if a is not None)
        top = max(counts.values(), default=0)
        leaders = [a for a in dict.fromkeys(answers) if a is not None and counts[a] == top]
        return Answer(answer=leaders[0] if leaders else None, vote_share=top / self.n,
                      tied=len(leaders) > 1, **common)

    def answer(self, row: dict) -> Answer:
        """Sample the arm's N completions for ``row`` through the run's cached client (the
        run's cache, a deployment sample group: never a training or test sample; asking
        again is served from the cache) and aggregate them with the strategy
        (``aggregate``). A provider failure is an ``LLMError``."""
        return self.answer_many([row])[0]

    def answer_many(self, rows: Sequence[dict],
                    progress: Callable[[int], None] | None = None) -> list[Answer]:
        """``answer`` for every row, all requests sent together within the client's
        concurrency; ``progress(k)`` as k more completions arrive. Ctrl-C sends nothing
        new, lets requests in flight finish into the cache and raises KeyboardInterrupt
        (in the main thread). Not for concurrent use from several threads: use
        ``answer_many_async`` from async code."""
        requests = [self.request(row) for row in rows]
        replies = self.client.complete(requests, progress=progress) if requests else []
        return [self.aggregate(row, completions)
                for row, completions in zip(rows, replies, strict=True)]

    async def answer_many_async(self, rows: Sequence[dict]) -> list[Answer]:
        """``answer_many`` from async code: run in a worker thread, one batch of this run's
        at a time (the client keeps per-call state), so concurrent callers queue."""
        lock = _client_lock(self.client)

        def run() -> list[Answer]:
            with lock:
                return self.answer_many(rows)
        return await asyncio.to_thread(run)


_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _client_lock(client) -> threading.Lock:
    """One lock per client object: its ``complete`` calls must not overlap."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(client)
        if lock is None:
            lock = _LOCKS[client] = threading.Lock()
        return lock


class Policy:
    """A trained run's policy (``Policy.load(run_dir)``): ``contexts``, ``arm(context)``,
    and ``arm(weights=...)`` for contexts training did not have."""

    def __init__(self, run_dir: Path, arms: dict[str, DeployedArm], status: str,
                 history: Callable[[], PullHistory] | None = None):
        self.run_dir, self._arms, self.status = run_dir, arms, status
        self._make_history = history
        self._history: PullHistory | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> Policy:
        """Read ``run_dir`` (written by ``optimize``): its config, split and policy.json.
        A missing or unreadable file, or a policy row naming an arm the config does not
        have, is a ConfigError; nothing is sent and no key is needed."""
        files = RunDir(run_dir, flag="RUN_DIR")
        resolved, _, policy = reopen_run(files, require_keys=False)
        backend = resolved.problem.backend
        rows = policy.get("contexts", [])
        arm_map = ArmMap.of(backend, any("model" in row for row in rows))
        strategy = str(policy.get("strategy") or backend.strategy.name)
        contexts = resolved.problem.contexts
        caps = {name: (None if contexts.max_usd is None or np.isnan(contexts.max_usd[c])
                       else float(contexts.max_usd[c]),
                       None if contexts.max_n is None or not contexts.max_n[c]
                       else int(contexts.max_n[c]))
                for c, name in enumerate(contexts.names)}
        arms: dict[str, DeployedArm] = {}
        for row in rows:
            name = str(row.get("context"))
            index = int(arm_map.index([row.get("prompt")], [row.get("model")])[0])
            if index < 0:
                raise ConfigError(f"context '{name}' deploys an arm the run's config does "
                                  f"not have ({row.get('prompt')!r}"
                                  + (f" on {row.get('model')!r})" if row.get("model") else ")"),
                                  source=str(files.file(RunDir.POLICY)))
            usd = row.get("usd_per_query")
            arms[name] = _deployed(
                backend, arm_map, index, int(row["n"]), strategy, context=name,
                expected_utility=float(row.get("estimated_utility", math.nan)),
                usd_per_query=None if usd is None or (isinstance(usd, float)
                                                      and math.isnan(usd)) else float(usd),
                samples=int(row.get("samples", 0)), weights=dict(row.get("weights") or {}),
                caps=caps.get(name, (None, None)))

        def history() -> PullHistory:
            usd = _train_estimates(resolved, arm_map, files).usd
            samples = np.array([arm.samples for arm in arms.values()])
            return PullHistory(resolved, files, arm_map.index,
                               None if usd is None else usd[0], samples)

        self = cls(Path(run_dir), arms, str(policy.get("status", "unknown")), history)
        self._resolved, self._arm_map, self._strategy = resolved, arm_map, strategy
        return self

    @property
    def contexts(self) -> tuple[str, ...]:
        """The trained contexts, in the config's order."""
        return tuple(self._arms)

    def arm(self, context: str | None = None, *, weights: dict[str, float] | None = None,
            max_usd: float | None = None, max_n: int | None = None) -> DeployedArm:
        """What ``context`` (a trained context's name) deploys; or, with ``weights``
        (objective name or 'cost' -> weight, as in a config's contexts) and optional caps
        (``max_usd`` per query, ``max_n``), what a context training did not have deploys,
        chosen from the pulls training observed (see ``run/_reweigh.py``; ``samples``
        says how many stand behind it). An unknown context, bad weights or caps are a
        ConfigError; a choice the data cannot support is ``UnsupportedWeights``; a run
        written before pulls were recorded is a ConfigError saying to rerun optimize."""
        if (context is None) == (weights is None):
            raise ConfigError("give a context name or weights, not both or neither",
                              field="context")
        if context is not None:
            try:
                return self._arms[context]
            except KeyError:
                raise ConfigError(f"unknown context '{context}' (the run has: "
                                  f"{', '.join(self._arms)})", field="context") from None
        return self._for_weights(weights, max_usd, max_n)

    def _for_weights(self, weights: dict[str, float], max_usd: float | None,
                     max_n: int | None) -> DeployedArm:
        if not isinstance(weights, dict) or not weights or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in weights.values()):
            raise ConfigError("weights must map objective names (or 'cost') to finite "
                              "numbers", field="weights")
        if max_usd is not None and not (isinstance(max_usd, int | float) and max_usd > 0):
            raise ConfigError(f"must be a positive number of USD, got {max_usd!r}",
                              field="max_usd")
        if max_n is not None and not (isinstance(max_n, int) and max_n >= 1):
            raise ConfigError(f"must be an integer >= 1, got {max_n!r}", field="max_n")
        backend = self._resolved.problem.backend
        task, cost = context_weights(weights, tuple(backend.strategy.objectives), "weights")
        if max_usd is not None and not getattr(backend, "usd_known", False):
            raise ConfigError("a cap in USD needs a run whose models all have prices",
                              field="max_usd")
        if self._history is None:
            self._history = self._make_history()
        choice = self._history.choose(np.array(task), cost, max_usd, max_n)
        label = ",".join(f"{k}={v:g}" for k, v in weights.items())
        usd = self._history.usd
        at = int(np.searchsorted(self._resolved.problem.scales, choice.n))
        usd_value = None if usd is None or np.isnan(usd[choice.prompt, at]) else \
            float(usd[choice.prompt, at])
        return _deployed(backend, self._arm_map, choice.prompt, choice.n, self._strategy,
                         context=label, expected_utility=choice.expected_utility,
                         usd_per_query=usd_value, samples=choice.samples,
                         weights={**weights}, caps=(max_usd, max_n))


def _deployed(backend, arm_map: ArmMap, index: int, n: int, strategy: str, *, context: str,
              expected_utility: float, usd_per_query: float | None, samples: int,
              weights: dict, caps: tuple[float | None, int | None]) -> DeployedArm:
    """The ``DeployedArm`` of arm ``index`` at ``n`` (decoding and model from the run's
    clients when it is live)."""
    decoding, model = {}, None
    clients = getattr(backend, "arm_clients", None)
    if clients is not None:
        client = clients[index]
        decoding = {**client.settings.params, **(backend.prompts[index].decoding or {})}
        model = client.settings.model
    if arm_map.models is not None:
        model = arm_map.models[index]
    return DeployedArm(context=context, arm=arm_map.ids[index], prompt=arm_map.prompts[index],
                       model=model, n=n, strategy=strategy, decoding=decoding,
                       expected_utility=expected_utility, usd_per_query=usd_per_query,
                       samples=samples, weights=weights, max_usd=caps[0], max_n=caps[1],
                       _backend=backend, _index=index)
