"""The live backend: completions from a model through the cached LLM client."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..llm import ChatRequest, Completion, LLMClient
from ..strategies import ScorePull, Strategy, VotePull
from ..tasks import AnswerExtractor, Dataset, Sample, Scorer, Template, normalise


@dataclass(frozen=True)
class PromptArm:
    id: str
    template: Template
    system: str | None = None
    decoding: dict | None = None


COST_MEASURES = ("completion_tokens", "total_tokens", "money", "latency")


def completion_cost(completion: Completion, measure: str) -> float:
    if measure == "completion_tokens":
        return completion.completion_tokens
    if measure == "total_tokens":
        return completion.total_tokens
    if measure == "money":
        return completion.cost or 0.0
    return completion.latency


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
                 judges: Sequence[LLMClient] = ()):
        self.client, self.dataset, self.prompts = client, dataset, tuple(prompts)
        self.prompt_ids = tuple(p.id for p in prompts)
        self.n_queries, self.n_max = len(dataset), int(n_max)
        self.target_field = target_field
        self.cost_measure, self.cost_scale = cost_measure, float(cost_scale)
        self.extractor, self.scorers = extractor, tuple(scorers or ())
        self.strategy = strategy
        self.clients = (client, *judges)  # every client whose usage the run accounts for
        self.next_slot = np.zeros((len(prompts), len(dataset)), dtype=np.int64)
        self._groups: dict[int, np.ndarray] = {}  # per prompt, made on first use
        self.progress: Callable[[int], None] | None = None

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

    def sample_many(self, pulls, rng: np.random.Generator) -> list[VotePull | ScorePull]:
        """All pulls' requests go out together (concurrently), then split per pull."""
        pulls = [(int(p), np.asarray(q), int(n)) for p, q, n in pulls]
        replies = self.client.complete(self.requests(pulls), progress=self.progress)
        out, at = [], 0
        for p, queries, n in pulls:
            block = replies[at : at + len(queries)]
            at += len(queries)
            cost = np.array([[completion_cost(c, self.cost_measure) for c in row]
                             for row in block]) * self.cost_scale
            out.append(self.strategy.from_completions(self, p, queries, block, cost, n))
        return out

    def answers(self, completions: Sequence[Completion]) -> list[str | None]:
        """Extracted, normalised answers (None: no answer)."""
        return [self.extractor.extract(c.text) for c in completions]

    def gold(self, query: int) -> str | None:
        return self.extractor.normalize(self.target(query))

    def scores(self, prompt: int, queries, block) -> np.ndarray:
        """(B, n, K) objective scores in [0, 1] of completions ``block[b][i]``."""
        samples = [Sample(c.text, self.dataset.rows[int(x)], self.target(int(x)),
                          self.messages(prompt, int(x))[-1]["content"], c.completion_tokens)
                   for x, row in zip(queries, block, strict=True) for c in row]
        scores = np.stack([normalise(scorer.score(samples), scorer.range)
                           for _, scorer in self.scorers], axis=1)
        return scores.reshape(len(queries), -1, len(self.scorers))

    def record(self, queries: np.ndarray, samples: int) -> list[list[list[Completion]]]:
        """``samples`` completions (slots 0..M-1) for every prompt on every query:
        [prompt][query] -> completions."""
        requests = [self.request(p, int(x), range(samples))
                    for p in range(len(self.prompts)) for x in queries]
        replies = self.client.complete(requests, progress=self.progress)
        width = len(queries)
        return [replies[p * width : (p + 1) * width] for p in range(len(self.prompts))]
