"""What a live arm's pulls use: requests per pull, prices, and the usage reported after a
pull (tokens, USD, cost) or bounded before it is sent (the worst case a budget is charged)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..llm import Completion, LLMClient
from ._base import PullUsage

COST_MEASURES = ("completion_tokens", "total_tokens", "money", "latency")


PER_REQUEST_MEASURES = ("total_tokens", "money")
"""Cost measures with a part billed per request (the prompt's tokens): the per-completion
cost a strategy gets leaves it out, ``PullUsage.request_cost`` carries it."""


def completion_cost(completion: Completion, measure: str,
                    prices: tuple[float, float] | None = None) -> float:
    """One completion's cost in ``measure``, without the part billed per request (prompt
    tokens) for ``PER_REQUEST_MEASURES``: money is its completion tokens times ``prices[1]``
    (USD per completion token; 0 when unpriced)."""
    if measure in ("completion_tokens", "total_tokens"):
        return completion.completion_tokens
    if measure == "money":
        return completion.completion_tokens * prices[1] if prices is not None else 0.0
    return completion.latency


def max_completion_tokens(settings: dict) -> int | None:
    """The cap on one completion's tokens that ``settings`` (decoding over params) give:
    ``max_completion_tokens``, else ``max_tokens``, else None."""
    for name in ("max_completion_tokens", "max_tokens"):
        if settings.get(name) is not None:
            return int(settings[name])
    return None


class ArmUsage:
    """Per arm of a live backend: how many requests a pull sends (n support), its model's
    prices, its completions' token cap, what a served pull used (``pull_usage``) and the
    most one may use before it is sent (``worst_usage``), as ``PullUsage`` per query.

    ``prompts`` and ``arm_clients``: per arm its ``PromptArm`` and its model's client;
    ``messages(arm, query)``: the rendered chat messages; costs in ``cost_measure`` times
    ``cost_scale`` (``COST_MEASURES``)."""

    def __init__(self, prompts: Sequence, arm_clients: Sequence[LLMClient], cost_measure: str,
                 cost_scale: float, messages: Callable[[int, int], list[dict]]):
        self.prompts, self.arm_clients = tuple(prompts), tuple(arm_clients)
        self.cost_measure, self.cost_scale = cost_measure, float(cost_scale)
        self.messages = messages

    def requests_for(self, arm: int, n: int) -> int:
        """Requests a pull of ``n`` completions per query of ``arm`` sends per query: one
        per ``max_n`` completions when the model supports ``n``, else one per completion."""
        client = self.arm_clients[arm]
        if client.supports_n():
            return -(-n // client.settings.max_n)
        return n

    def requests_per_scale(self, n_max: int) -> np.ndarray:
        """(P, n_max) int: requests per query a pull of arm p at scale k+1 sends."""
        return np.array([[self.requests_for(p, k) for k in range(1, n_max + 1)]
                         for p in range(len(self.prompts))], dtype=np.int64)

    @property
    def usd_known(self) -> bool:
        """Whether every arm's model has a price (given or LiteLLM's)."""
        return all(client.price_known() for client in set(self.arm_clients))

    def max_tokens(self, arm: int) -> int | None:
        """The cap on one completion's tokens of ``arm`` (its decoding over its model's
        params), or None when neither sets one."""
        settings = {**self.arm_clients[arm].settings.params,
                    **(self.prompts[arm].decoding or {})}
        return max_completion_tokens(settings)

    def usage_of(self, arm: int, completions, requests, prompt, completion) -> PullUsage:
        """A PullUsage for arrays (B,) of counts: USD from the arm's model's prices."""
        prices = self.arm_clients[arm].prices()
        prompt, completion = np.asarray(prompt, float), np.asarray(completion, float)
        if prices is None:
            usd = usd_prompt = np.full(prompt.shape, np.nan)
        else:
            usd_prompt = prompt * prices[0]
            usd = usd_prompt + completion * prices[1]
        if self.cost_measure == "money":
            request_cost = (usd_prompt if prices is not None else np.zeros(prompt.shape)
                            ) * self.cost_scale
        elif self.cost_measure == "total_tokens":
            request_cost = prompt * self.cost_scale
        else:
            request_cost = np.zeros(prompt.shape)
        return PullUsage(np.asarray(completions, float), np.asarray(requests, float), prompt,
                         completion, usd, usd_prompt, request_cost)

    def pull_usage(self, arm: int, block, n: int) -> PullUsage:
        """What the completions ``block`` (one row of n per query) of a pull of ``arm``
        used, per query: tokens as billed when they were served (a completion's share of
        its request's prompt tokens), whether served now or from the cache, so a rerun
        charges what the first run did; requests as the client sends them
        (``requests_for``)."""
        count = len(block)
        return self.usage_of(
            arm, np.full(count, n), np.full(count, self.requests_for(arm, n)),
            [sum(c.prompt_tokens for c in row) for row in block],
            [sum(c.completion_tokens for c in row) for row in block])

    def worst_usage(self, prompt: int, queries: np.ndarray, n: int) -> PullUsage:
        """An upper bound, per query, on what a pull of arm ``prompt`` at ``n`` on
        ``queries`` uses, before it is sent: prompt tokens by the model's
        ``prompt_tokens_bound`` times the requests, completion tokens ``n * max_tokens``
        (infinite when the arm has no max_tokens). Requests assume the model's n support
        as known now (a server found to ignore n later sends more)."""
        queries = np.asarray(queries)
        client, requests = self.arm_clients[prompt], self.requests_for(prompt, n)
        cap = self.max_tokens(prompt)
        prompt_tokens = [client.prompt_tokens_bound(self.messages(prompt, int(x))) * requests
                         for x in queries]
        completion = np.full(len(queries), np.inf if cap is None else float(n * cap))
        return self.usage_of(prompt, np.full(len(queries), n),
                              np.full(len(queries), requests), prompt_tokens, completion)
