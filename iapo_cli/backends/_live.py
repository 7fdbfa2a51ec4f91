"""The live backend: completions from a model through the cached LLM client."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..llm import ChatRequest, Completion, LLMClient, complete_together
from ..strategies import ScorePull, Strategy, VotePull
from ..tasks import AnswerExtractor, Dataset, Sample, Scorer, ScoringError, Template, normalise
from ._arm_usage import (
    COST_MEASURES,
    PER_REQUEST_MEASURES,
    ArmUsage,
    completion_cost,
    max_completion_tokens,
)
from ._base import PullUsage
from ._health import AnswerHealth, EarlyCheck, outcome_of

__all__ = ["COST_MEASURES", "PER_REQUEST_MEASURES", "LiveBackend", "PromptArm",
           "completion_cost", "max_completion_tokens"]


@dataclass(frozen=True)
class PromptArm:
    id: str
    template: Template
    system: str | None = None
    decoding: dict | None = None


class LiveBackend:
    """Pulls (prompt, queries, N) become chat requests; sample slots are handed out per
    (prompt, query) in pull order, so a rerun with the same seed asks for the same slots
    and is served from the cache. Rows whose messages are equal (the same question) get
    distinct sample groups (``group``), so every query's samples are its own. The strategy
    turns the completions into a pull (``CompletionSource``: this backend extracts answers
    with ``extractor`` and scores with the objectives' ``scorers``).
    """

    def __init__(self, client: LLMClient, dataset: Dataset, prompts: Sequence[PromptArm],
                 n_max: int, target_field: str | None, cost_measure: str, cost_scale: float,
                 strategy: Strategy, extractor: AnswerExtractor | None = None,
                 scorers: Sequence[tuple[str, Scorer]] | None = None,
                 judges: Sequence[LLMClient] = (), *,
                 arm_clients: Sequence[LLMClient] | None = None,
                 arm_models: Sequence[str] | None = None,
                 arm_prompts: Sequence[str] | None = None):
        """``prompts`` holds one ``PromptArm`` per arm. One model: ``client`` serves every
        arm and arm ids are prompt ids. Several models: ``arm_clients`` (per arm, the
        client of its model), ``arm_models`` (per arm, the model id) and ``arm_prompts``
        (per arm, the prompt id; arm ids are then 'prompt@model')."""
        self.client, self.dataset, self.prompts = client, dataset, tuple(prompts)
        self.prompt_ids = tuple(p.id for p in prompts)
        self.n_queries, self.n_max = len(dataset), int(n_max)
        self.target_field = target_field
        self.cost_measure, self.cost_scale = cost_measure, float(cost_scale)
        self.extractor, self.scorers = extractor, tuple(scorers or ())
        self.strategy = strategy
        self.arm_clients = tuple(arm_clients) if arm_clients is not None else (
            (client,) * len(self.prompts))
        self.arm_models = tuple(arm_models) if arm_models is not None else None
        self.arm_prompts = tuple(arm_prompts) if arm_prompts is not None else self.prompt_ids
        models = list(dict.fromkeys(self.arm_clients))  # each model's client once, in order
        # every client whose usage the run accounts for
        self.clients = (*models, *judges) if arm_clients is not None else (client, *judges)
        self.arm_usage = ArmUsage(self.prompts, self.arm_clients, cost_measure, cost_scale,
                                  self.messages)
        self.next_slot = np.zeros((len(prompts), len(dataset)), dtype=np.int64)
        self._groups: dict[int, np.ndarray] = {}  # per prompt, made on first use
        self._usage: list[PullUsage] = []  # per pull of the last sample_many
        self.progress: Callable[[int], None] | None = None
        # what became of every completion served, per arm (``AnswerHealth``), and the
        # check that stops a run whose first completions give nothing to score (set by
        # the run layer; None: no check)
        self.health = AnswerHealth(len(self.prompts))
        self.early: EarlyCheck | None = None
        # id(completion) -> (completion, answer) of the last call (the object is kept, so
        # an id is never mistaken for another object's)
        self._extracted: dict[int, tuple[Completion, str | None]] = {}

    @property
    def arm_model_labels(self) -> tuple[str, ...]:
        """Per arm, the model it runs on: its model id, or the one model's string."""
        if self.arm_models is not None:
            return self.arm_models
        return (self.client.settings.model,) * len(self.prompts)

    def messages(self, prompt: int, query: int) -> list[dict]:
        arm = self.prompts[prompt]
        user = arm.template.render(self.dataset.rows[query])
        system = [{"role": "system", "content": arm.system}] if arm.system else []
        return [*system, {"role": "user", "content": user}]

    def group(self, prompt: int, query: int) -> int:
        """The sample group of ``query`` under ``prompt``: k when k earlier rows (in dataset
        order) render to the same messages, else 0 (0 adds nothing to cache keys)."""
        groups = self._groups.get(prompt)
        if groups is None:
            seen: dict[str, int] = {}
            groups = np.zeros(self.n_queries, dtype=np.int64)
            for x in range(self.n_queries):
                text = json.dumps(self.messages(prompt, x), sort_keys=True)
                groups[x] = seen.get(text, 0)
                seen[text] = int(groups[x]) + 1
            self._groups[prompt] = groups
        return int(groups[query])

    def request(self, prompt: int, query: int, slots: Sequence[int]) -> ChatRequest:
        """The chat request for ``slots`` of ``query`` under ``prompt``."""
        return ChatRequest(self.messages(prompt, query),
                           dict(self.prompts[prompt].decoding or {}), slots,
                           self.group(prompt, query))

    def target(self, query: int) -> str | None:
        return self.dataset.rows[query].get(self.target_field) if self.target_field else None

    def take_slots(self, prompt: int, query: int, n: int) -> range:
        start = int(self.next_slot[prompt, query])
        self.next_slot[prompt, query] = start + n
        return range(start, start + n)

    def requests(self, pulls) -> list[ChatRequest]:
        return [self.request(p, int(x), self.take_slots(p, int(x), n))
                for p, queries, n in pulls for x in queries]

    def sample(self, prompt: int, queries: np.ndarray, n: int, rng: np.random.Generator
               ) -> VotePull | ScorePull:
        return self.sample_many([(prompt, queries, n)], rng)[0]

    def _complete(self, arms: Sequence[int], requests: list[ChatRequest]
                  ) -> list[list[Completion]]:
        """Completions of ``requests[i]`` (for arm ``arms[i]``), every model's requests at
        once (``complete_together``), in order. Each completion's outcome is counted in
        ``health`` as it arrives, and ``early`` may stop the call (its error is raised
        once the requests in flight have finished into the cache)."""
        by_client: dict[LLMClient, list[int]] = {}
        for i, arm in enumerate(arms):
            by_client.setdefault(self.arm_clients[arm], []).append(i)
        calls = [(client, [requests[i] for i in idx]) for client, idx in by_client.items()]
        groups = list(by_client.values())
        self._extracted = {}

        def watch(call: int, request: int, completion: Completion):
            return self._observe(arms[groups[call][request]], completion)

        if len(calls) == 1:  # one model: exactly the one-client call
            return calls[0][0].complete(calls[0][1], progress=self.progress, watch=watch)
        replies = complete_together(calls, progress=self.progress, watch=watch)
        out: list[list[Completion]] = [[] for _ in requests]
        for idx, rows in zip(by_client.values(), replies, strict=True):
            for i, row in zip(idx, rows, strict=True):
                out[i] = row
        return out

    def sample_many(self, pulls, rng: np.random.Generator) -> list[VotePull | ScorePull]:
        """All pulls' requests go out together (concurrently, across models too), then
        split per pull; ``pop_usage`` then gives each pull's usage."""
        pulls = [(int(p), np.asarray(q), int(n)) for p, q, n in pulls]
        arms = [p for p, queries, _ in pulls for _ in queries]
        replies = self._complete(arms, self.requests(pulls)) if arms else []
        out, at = [], 0
        self._usage = []
        for p, queries, n in pulls:
            block = replies[at : at + len(queries)]
            at += len(queries)
            prices = self.arm_clients[p].prices() if self.cost_measure == "money" else None
            cost = np.array([[completion_cost(c, self.cost_measure, prices) for c in row]
                             for row in block]) * self.cost_scale
            self._usage.append(self.arm_usage.pull_usage(p, block, n))
            out.append(self.strategy.from_completions(self, p, queries, block, cost, n))
        return out

    # -- usage: what pulls used (after) and may use at most (before), ``ArmUsage`` --------

    def requests_for(self, arm: int, n: int) -> int:
        return self.arm_usage.requests_for(arm, n)

    @property
    def requests_per_scale(self) -> np.ndarray:
        return self.arm_usage.requests_per_scale(self.n_max)

    @property
    def usd_known(self) -> bool:
        return self.arm_usage.usd_known

    def max_tokens(self, arm: int) -> int | None:
        return self.arm_usage.max_tokens(arm)

    def worst_usage(self, prompt: int, queries: np.ndarray, n: int) -> PullUsage:
        return self.arm_usage.worst_usage(prompt, queries, n)

    def pop_usage(self) -> list[PullUsage]:
        """One ``PullUsage`` per pull of the last ``sample_many``/``sample`` (same order),
        then forgotten."""
        out, self._usage = self._usage, []
        return out

    def _observe(self, arm: int, completion: Completion):
        """Count ``completion``'s outcome for ``arm``; the early check's error, or None."""
        extracts = self.extractor is not None
        answer = None
        if extracts:  # kept for ``answers``: a completion's answer is extracted once
            answer = self.extractor.extract(completion.text)
            self._extracted[id(completion)] = (completion, answer)
        outcome = outcome_of(completion.text, completion.finish_reason, answer, extracts)
        self.health.add(arm, outcome)
        return None if self.early is None else self.early.observe(arm, outcome,
                                                                  completion.text)

    def answers(self, completions: Sequence[Completion]) -> list[str | None]:
        """Extracted, normalised answers (None: no answer)."""
        out = []
        for c in completions:
            seen = self._extracted.get(id(c))
            out.append(seen[1] if seen is not None and seen[0] is c
                       else self.extractor.extract(c.text))
        return out

    def gold(self, query: int) -> str | None:
        return self.extractor.normalize(self.target(query))

    def scores(self, prompt: int, queries, block) -> np.ndarray:
        """(B, n, K) objective scores in [0, 1] of completions ``block[b][i]``."""
        samples = [Sample(c.text, self.dataset.rows[int(x)], self.target(int(x)),
                          self.messages(prompt, int(x))[-1]["content"], c.completion_tokens)
                   for x, row in zip(queries, block, strict=True) for c in row]
        try:
            scores = self._score(samples)
        except ScoringError:
            self.health.fail(prompt)
            raise
        return scores.reshape(len(queries), -1, len(self.scorers))

    def score_row(self, row: dict, user_message: str, completions) -> np.ndarray:
        """(n, K) objective scores in [0, 1] of completions for a row outside the dataset
        (deployment): the row's target field, when it has one, is the target."""
        target = row.get(self.target_field) if self.target_field else None
        return self._score([Sample(c.text, row, target, user_message, c.completion_tokens)
                            for c in completions])

    def _score(self, samples: list[Sample]) -> np.ndarray:
        return np.stack([normalise(scorer.score(samples), scorer.range)
                         for _, scorer in self.scorers], axis=1)

    def record(self, queries: np.ndarray, samples: int) -> list[list[list[Completion]]]:
        """``samples`` completions (slots 0..M-1) for every prompt on every query:
        [prompt][query] -> completions."""
        requests = [self.request(p, int(x), range(samples))
                    for p in range(len(self.prompts)) for x in queries]
        arms = [p for p in range(len(self.prompts)) for _ in queries]
        replies = self._complete(arms, requests)
        width = len(queries)
        return [replies[p * width : (p + 1) * width] for p in range(len(self.prompts))]
