"""The one client that talks to models: a transport (LiteLLM, the simulator, ...) behind
an own slot-keyed cache, with n batching, concurrency, retries, interruption and accounting.
Library code: it raises ``LLMError`` and never prints."""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import ClassVar

from ._cache import CompletionCache, output_params, request_fingerprint
from ._call import ClientCall, slot_batches
from ._claims import SlotClaims
from ._completion import ChatRequest, Completion, split_reply
from ._sender import LLMError, RequestSender, StopSignal, retry_delay
from ._transport import Transport, make_transport

__all__ = ["ChatRequest", "ClientSettings", "Completion", "LLMClient", "LLMError",
           "LiveSettings", "Usage", "complete_together", "retry_delay", "slot_batches",
           "split_reply"]


@dataclass(frozen=True)
class ClientSettings:
    """How to reach a model. ``params`` pass through to the transport (for LiteLLM: provider
    settings such as ``api_version``, ``extra_headers`` or ``max_tokens``); those that can
    change a completion (all but ``TRANSPORT_PARAMS``) are part of cache keys.

    ``retry_after_max``, ``api_key_env`` and ``price`` are None here; ``LiveSettings``
    sets them."""

    model: str
    api_base: str | None = None
    timeout: float = 120.0
    concurrency: int = 8
    max_retries: int = 5
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    supports_n: bool | None = None  # None: ask the transport
    max_n: int = 64
    params: dict = field(default_factory=dict)
    transport: str = "litellm"  # or "http" (an OpenAI-compatible api_base, see _http.py)
    retry_after_max: ClassVar[float | None] = None
    api_key_env: ClassVar[str | None] = None
    price: ClassVar[tuple[float, float] | None] = None


@dataclass(frozen=True)
class LiveSettings(ClientSettings):
    """``ClientSettings`` plus two a live config gives: ``retry_after_max``, the longest
    wait a provider's ``Retry-After`` may impose (None: the cap of every other wait,
    ``retry_max_delay``), and ``api_key_env``, the name of the environment variable holding
    the key (None: the provider's usual one; its value is read when a request is sent and
    never stored). ``price`` (USD per prompt token, per completion token), when given,
    replaces the transport's ``prices()`` in every cost the client reports (completions,
    usage, ledger; a config's ``price``)."""

    retry_after_max: float | None = None
    api_key_env: str | None = None
    price: tuple[float, float] | None = None


@dataclass
class Usage:
    """What a client did for one kind of call (completions or judge ratings)."""

    completions: int = 0  # completions handed to callers
    cached: int = 0  # of which served from the cache (free)
    fresh: int = 0  # of which served by the provider
    requests: int = 0  # HTTP requests sent, failures included
    failed_requests: int = 0
    prompt_tokens: int = 0  # billed by the provider (fresh requests only)
    completion_tokens: int = 0
    cost: float | None = 0.0  # USD of fresh requests; None when the price is unknown
    seconds: float = 0.0  # wall time spent waiting for this kind of call

    def add(self, other: Usage) -> None:
        """Add ``other``'s counters to these (an unknown cost stays unknown)."""
        for key, value in vars(other).items():
            if key == "cost":
                self.cost = None if value is None or self.cost is None else self.cost + value
            else:
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["cost"] = None if self.cost is None else round(self.cost, 8)
        out["seconds"] = round(self.seconds, 3)
        return out


Watch = Callable[[int, int, "Completion"], "BaseException | None"]
"""Told ``(call, request, completion)`` of every completion a ``complete_together`` call
makes available; an exception it returns stops the call (see there)."""

Ledger = Callable[[str, dict], None]
"""Told ``(kind, usage)`` of every fresh response: ``completions``, ``prompt_tokens``,
``completion_tokens``, ``cost``, ``seconds`` and ``request`` (the request's id). A ledger
that also has a method ``request(kind, event)`` is told of every request before it is sent
(``{"event": "sent", "request": id, "asked": n}``) and of its failure (``{"event":
"failed", "request": id, "maybe_billed": bool}``), so that a request sent and never
answered (the process killed, the answer abandoned on a timeout) stays on record as possibly
billed."""


_loops = threading.local()


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop per thread: LiteLLM keeps async HTTP clients bound to the loop they
    were made on, so every client of a thread reuses this one (clients in other threads
    get their own)."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


class LLMClient:
    """Completions for chat requests, cache first, through a ``Transport``.

    A request's missing slots go out as batches using the provider's ``n`` when the model
    supports it (else one request per slot), at most ``concurrency`` requests at a time,
    retried with backoff when the transport says the failure is retryable (rate limits,
    timeouts, 5xx, malformed bodies). Every served completion is in the cache before the
    call returns or fails. ``transport`` defaults to the one registered for the model's
    provider prefix (``make_transport``), LiteLLM otherwise.

    Processes (or clients) sharing a cache never pay twice for a slot: a client claims the
    slots it is about to pay for (``CompletionCache.reserve``), renews its claims while it
    works, and waits for (polls) the answer of a slot another live client claimed, taking
    over the claim when its owner died or let it expire. A stored completion is never
    overwritten. ``notes`` collects what a run should tell its user (e.g. that the server
    ignores ``n``), each once.
    """

    claim_ttl = 30.0
    """Seconds a claim lives without renewal (a crashed owner on another host blocks its
    slots this long; on this host a dead owner's claims are taken over at once)."""

    def __init__(self, settings: ClientSettings, cache: CompletionCache,
                 ledger: Ledger | None = None, transport: Transport | None = None):
        self.settings = settings
        self.cache = cache
        self.ledger = ledger
        self.transport = transport if transport is not None else make_transport(settings)
        self.usage: dict[str, Usage] = {}
        self.notes: list[str] = []
        self._supports_n = settings.supports_n
        self._output_params = output_params(settings.params)
        self._prices: tuple[float, float] | None | bool = False  # False: not looked up
        self.claims = SlotClaims(cache, self.claim_ttl)
        self.sender = RequestSender(self)
        self.stop = StopSignal()
        # set by complete_together for a call: stops every client of the call with an
        # error (a watch's)
        self.halt: Callable[[BaseException], None] | None = None

    # -- public -------------------------------------------------------------------------

    def complete(self, requests: Sequence[ChatRequest], kind: str = "completion",
                 progress: Callable[[int], None] | None = None,
                 watch: Watch | None = None) -> list[list[Completion]]:
        """Completions for every slot of every request, in order. ``progress(k)`` is called
        as k more completions become available. A slot asked for twice (equal requests,
        e.g. a judge rating two equal texts) is one sample, paid for once. ``watch``: see
        ``complete_together`` (its call index is 0 here)."""
        return complete_together([(self, requests)], kind, progress, watch)[0]

    def price_known(self) -> bool:
        return self._price() is not None

    def prices(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token: the settings' ``price`` when
        given, else the transport's (None: unknown)."""
        return self._price()

    def prompt_tokens_bound(self, messages: list[dict]) -> int:
        """An upper bound on the prompt tokens one request of ``messages`` is billed: the
        transport's ``prompt_tokens_bound`` when it has one, else the UTF-8 bytes of the
        contents plus 8 per message (a byte-level BPE token holds at least one byte; the 8
        cover a chat template's per-message tokens)."""
        bound = getattr(self.transport, "prompt_tokens_bound", None)
        if bound is not None:
            return int(bound(messages))
        return sum(len(str(m.get("content") or "").encode()) + 8 for m in messages)

    def supports_n(self) -> bool:
        """The settings' ``supports_n`` when set, else the transport's answer; False from
        the moment a server answered one completion to a request for several."""
        if self._supports_n is None:
            self._supports_n = bool(self.transport.supports_n())
        return self._supports_n

    def missing_environment(self) -> list[str]:
        """The environment variables the transport needs and does not find (names only),
        when the transport can tell (``missing_environment``); else none."""
        check = getattr(self.transport, "missing_environment", None)
        return [] if check is None else list(check())

    def fingerprint(self, request: ChatRequest) -> str:
        """The request's cache fingerprint: model, messages, and the decoding settings over
        the output-shaping ``params`` (so empty or transport-only params leave it as it was
        before params counted)."""
        return request_fingerprint(self.settings.model, request.messages,
                                   {**self._output_params, **request.decoding},
                                   group=request.group)

    # -- internals ----------------------------------------------------------------------

    @property
    def ignores_n(self) -> bool:
        """Whether the server is known to answer one completion to a request for several."""
        return self._supports_n is False

    def noticed_ignored_n(self, asked: int) -> None:
        """A request for ``asked`` completions got one: from now on every completion is
        its own request (said once in ``notes``)."""
        if self._supports_n is not False:
            self._supports_n = False
            self.notes.append(f"{self.settings.model}: the server answered 1 completion to a "
                              f"request for {asked} (it ignores n); from now on every "
                              f"completion is its own request, sent concurrently")

    def _price(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token (asked of the transport once)."""
        if self._prices is False:
            given = self.settings.price
            self._prices = tuple(given) if given is not None else self.transport.prices()
        return self._prices


def complete_together(calls: Sequence[tuple[LLMClient, Sequence[ChatRequest]]],
                      kind: str = "completion",
                      progress: Callable[[int], None] | None = None,
                      watch: Watch | None = None) -> list[list[list[Completion]]]:
    """``client.complete(requests)`` for every (client, requests) of ``calls``, all at once
    on one event loop (each client within its own concurrency), so that several models
    answer concurrently; the completions per call, in order. A signal stops every client
    (nothing new is sent, requests in flight finish into the cache); a failure of one
    call is raised once every call has ended (what the others served is cached).

    ``watch(call, request, completion)`` is told of every completion as it becomes
    available (from the cache first, then as requests are answered), once each. When it
    returns an exception, every client stops as on a signal and that exception is raised
    once the requests in flight have finished (into the cache)."""
    clients = [client for client, _ in calls]
    start = time.perf_counter()
    loop = _event_loop()
    signals: list[int] = []
    halted: list[BaseException] = []

    def halt(error: BaseException) -> None:
        if halted:
            return
        halted.append(error)
        for client in clients:
            client.stop.request()

    for client in clients:
        client.usage.setdefault(kind, Usage())
        client.stop.reset()
        client.halt = halt
    runs = [ClientCall(client, requests, kind, progress,
                       None if watch is None else functools.partial(watch, k))
            for k, (client, requests) in enumerate(calls)]

    def on_signal(sig: int) -> None:
        signals.append(sig)
        if len(signals) > 1:
            raise KeyboardInterrupt
        for client in clients:
            client.stop.request()

    async def together():
        outcomes = await asyncio.gather(*(run.run() for run in runs),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return outcomes

    for client in clients:  # the price (a LiteLLM import on first use) before the loop
        client._price()
    restore = _trap_signals(loop, on_signal)
    result = None
    try:
        result = loop.run_until_complete(together())
    except asyncio.CancelledError:
        if not signals and not halted:
            raise
    except KeyboardInterrupt:  # a second signal: stop at once
        for run in runs:
            for task in run.fetches:
                task.cancel()
        raise
    finally:
        restore()
        seconds = time.perf_counter() - start
        for client in clients:
            client.claims.release_all()
            client.usage[kind].seconds += seconds
            client.halt = None
    if signals:
        raise KeyboardInterrupt
    if halted:
        raise halted[0]
    return result


def _trap_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]
                  ) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to ``handler`` inside ``loop`` (instead of an exception
    that could kill a request mid-flight); returns the function restoring the previous
    handlers. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        loop.add_signal_handler(sig, handler, sig)

    def restore() -> None:
        for sig, old in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, old)

    return restore

