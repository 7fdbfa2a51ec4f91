"""The transport seam: what the client needs from whatever answers chat requests, and the
registry that picks a transport by the model string's provider prefix.

LiteLLM (``_litellm.py``) is the default transport; other packages register their own for a
prefix (the simulator registers ``iapo-sim`` in ``iapo_cli.sim``). The client above a
transport owns the slot cache, batching, concurrency, retries, interruption and accounting,
so a transport only sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._client import ClientSettings


@dataclass(frozen=True)
class Reply:
    """One request's answer: 1..k completion texts (k asked for), the tokens the provider
    billed for the whole request, the wall seconds the request took, and per text the
    provider's finish reason when it gave one ("stop", "length": cut at max_tokens, ...;
    None: unknown)."""

    texts: list[str]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    finish_reasons: list[str | None] | None = None


class TransportError(Exception):
    """A request failed, classified once where the provider's error is known.

    ``retryable``: the same request may succeed later (rate limit, timeout, lost connection,
    5xx, a 200 answer without completions); ``status``: the HTTP status when there is one;
    ``retry_after``: seconds the provider asked to wait, when it said; ``maybe_billed``: the
    provider may have served (and billed) the request though no answer arrived (a timeout,
    an unreadable 200), as opposed to an error the provider answered with. The message
    (``str``) names the failure for a human, one line, and is already scrubbed of secrets.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, maybe_billed: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.maybe_billed = maybe_billed


class Transport(Protocol):
    """Sends chat requests to one model (the one in the ``ClientSettings`` it was made from).

    Contract:

    * ``send`` sends ONE request for ``n`` i.i.d. completions of ``messages`` under
      ``decoding`` (provider parameters such as temperature), whose first sample is slot
      ``first_slot`` (the next ones are ``first_slot + 1, ...``). A transport whose samples
      are random ignores the slot; a deterministic one (the simulator) seeds with it, so
      slot i always gives the same text. It returns 1..n texts in slot order (fewer than n
      when the provider served fewer; the client asks again for the rest) with the
      request's usage. It never retries on its own and raises ``TransportError`` for every
      failure of the request (anything else is a bug and propagates as it is).
      It may take as long as it likes: a provider Batch API transport would queue the
      request into a batch and return once the batch has its answer (the client awaits
      up to ``concurrency`` requests at once, so such a transport wants a large one).
    * ``supports_n``: whether one request can ask for n > 1 completions (else the client
      sends n requests of one).
    * ``prices``: USD per prompt token and per completion token, or None when unknown
      (then costs are reported as unknown and a money cost measure is refused).
    * optionally ``missing_environment()``: the names of environment variables the
      transport needs (an API key) and does not find, so a run can refuse to start (exit 2)
      instead of failing on its first request. A transport without it needs none.
    """

    async def send(self, messages: list[dict], decoding: dict, n: int,
                   first_slot: int) -> Reply: ...

    def supports_n(self) -> bool: ...

    def prices(self) -> tuple[float, float] | None: ...


TransportFactory = Callable[["ClientSettings"], Transport]

_factories: dict[str, TransportFactory] = {}


def provider_of(model: str) -> str:
    """The provider prefix of a model string ('' when there is none)."""
    return model.split("/", 1)[0] if "/" in model else ""


def register_transport(provider: str, factory: TransportFactory) -> None:
    """Serve model strings ``<provider>/...`` with ``factory(settings)`` from now on (a later
    registration of the same prefix replaces the earlier one)."""
    _factories[provider] = factory


def make_transport(settings: ClientSettings) -> Transport:
    """The transport registered for the model's provider prefix; else iapo's own HTTP
    client when the settings ask for it (``transport: http``), LiteLLM otherwise."""
    factory = _factories.get(provider_of(settings.model))
    if factory is None and settings.transport == "http":
        from ._http import HTTPTransport

        factory = HTTPTransport
    if factory is None:
        from ._litellm import LiteLLMTransport  # imported here: it imports this module

        factory = LiteLLMTransport
    return factory(settings)
