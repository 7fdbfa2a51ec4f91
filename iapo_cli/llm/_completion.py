"""What a call asks for and gets: chat requests and completions (with their cache
records), and how one reply's usage is shared among its completions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._transport import Reply


@dataclass(frozen=True)
class ChatRequest:
    """One chat request whose samples at ``slots`` are wanted (slot i is the i-th i.i.d.
    sample of this exact request). ``group`` keeps the samples of equal requests apart
    (e.g. two dataset rows with the same question): each group has slots of its own."""

    messages: list[dict]
    decoding: dict
    slots: Sequence[int]
    group: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: float  # this completion's share of the request's prompt tokens
    completion_tokens: float
    cost: float | None  # money in USD, None when the transport has no price for the model
    latency: float  # seconds the request that produced it took
    cached: bool = False
    finish_reason: str | None = None  # the provider's ("length": cut at max_tokens); None unknown

    @property
    def total_tokens(self) -> float:
        return self.prompt_tokens + self.completion_tokens

    def record(self) -> dict:
        """The cache record: every field but ``cached`` (plain values, no deep copy)."""
        return {name: getattr(self, name) for name in _COMPLETION_FIELDS}

    @classmethod
    def from_record(cls, record: dict, cached: bool = False) -> Completion:
        """A completion from its cache record (the fields but ``cached``); keys this
        version does not know (a newer iapo sharing the cache) are ignored, and fields a
        record lacks (an older one's: ``finish_reason``) take their defaults."""
        known = {k: v for k, v in record.items() if k in _COMPLETION_FIELDS}
        return cls(**known, cached=cached)


_COMPLETION_FIELDS = tuple(name for name in Completion.__dataclass_fields__
                           if name != "cached")


def split_reply(reply: Reply, texts: list[str], prices: tuple[float, float] | None
                ) -> list[Completion]:
    """One reply's usage shared among its ``texts``: prompt tokens evenly (billed once per
    request), completion tokens in proportion to each text's length."""
    prompt, completion = float(reply.prompt_tokens), float(reply.completion_tokens)
    weights = [len(t) + 1 for t in texts]
    total = sum(weights)
    reasons = list(reply.finish_reasons or ())
    reasons += [None] * (len(texts) - len(reasons))
    out = []
    for text, weight, reason in zip(texts, weights, reasons, strict=False):
        p, c = prompt / len(texts), completion * weight / total
        cost = None if prices is None else p * prices[0] + c * prices[1]
        out.append(Completion(text, p, c, cost, reply.seconds, finish_reason=reason))
    return out
