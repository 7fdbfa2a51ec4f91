"""The one client that talks to models: a transport (LiteLLM, the simulator, ...) behind
an own slot-keyed cache, with n batching, concurrency, retries, interruption and accounting.
Library code: it raises ``LLMError`` and never prints."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from ..errors import IapoError
from ._cache import CompletionCache, request_fingerprint, slot_key
from ._secrets import redact
from ._transport import Reply, Transport, TransportError, make_transport


class LLMError(IapoError):
    """A request failed for good (after its retries); the run stops, the cache keeps what
    was already served."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach a model. ``params`` pass through to the transport (for LiteLLM: provider
    settings such as ``api_version`` or ``extra_headers``); they are not part of cache keys."""

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

    @property
    def total_tokens(self) -> float:
        return self.prompt_tokens + self.completion_tokens


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


Ledger = Callable[[str, dict], None]  # (kind, one fresh response's usage)


def retry_delay(attempt: int, retry_after: float | None, settings: ClientSettings) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the provider's ``retry_after`` when it
    gave one, else exponential backoff with jitter from ``retry_base_delay``; never more
    than ``retry_max_delay``."""
    cap = settings.retry_max_delay
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    delay = settings.retry_base_delay * 2 ** (attempt - 1)
    return min(delay * random.uniform(0.5, 1.0), cap)


def split_reply(reply: Reply, texts: list[str], prices: tuple[float, float] | None
                ) -> list[Completion]:
    """One reply's usage shared among its ``texts``: prompt tokens evenly (billed once per
    request), completion tokens in proportion to each text's length."""
    prompt, completion = float(reply.prompt_tokens), float(reply.completion_tokens)
    weights = [len(t) + 1 for t in texts]
    total = sum(weights)
    out = []
    for text, weight in zip(texts, weights, strict=True):
        p, c = prompt / len(texts), completion * weight / total
        cost = None if prices is None else p * prices[0] + c * prices[1]
        out.append(Completion(text, p, c, cost, reply.seconds))
    return out


_loop: asyncio.AbstractEventLoop | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop per process: LiteLLM keeps async HTTP clients bound to the loop they
    were made on, so every client reuses this one."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


class LLMClient:
    """Completions for chat requests, cache first, through a ``Transport``.

    A request's missing slots go out as batches using the provider's ``n`` when the model
    supports it (else one request per slot), at most ``concurrency`` requests at a time,
    retried with backoff when the transport says the failure is retryable (rate limits,
    timeouts, 5xx, malformed bodies). Every served completion is in the cache before the
    call returns or fails. ``transport`` defaults to the one registered for the model's
    provider prefix (``make_transport``), LiteLLM otherwise.
    """

    def __init__(self, settings: ClientSettings, cache: CompletionCache,
                 ledger: Ledger | None = None, transport: Transport | None = None):
        self.settings = settings
        self.cache = cache
        self.ledger = ledger
        self.transport = transport if transport is not None else make_transport(settings)
        self.usage: dict[str, Usage] = {}
        self._supports_n = settings.supports_n
        self._prices: tuple[float, float] | None | bool = False  # False: not looked up
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._fetches: list[asyncio.Task] = []

    # -- public -------------------------------------------------------------------------

    def complete(self, requests: Sequence[ChatRequest], kind: str = "completion",
                 progress: Callable[[int], None] | None = None) -> list[list[Completion]]:
        """Completions for every slot of every request, in order. ``progress(k)`` is called
        as k more completions become available."""
        usage = self.usage.setdefault(kind, Usage())
        start = time.perf_counter()
        loop = _event_loop()
        self._stopping = False
        self._fetches: list[asyncio.Task] = []
        signals: list[int] = []
        restore = _trap_signals(loop, lambda sig: self._on_signal(sig, signals))
        try:
            result = loop.run_until_complete(self._complete(requests, kind, progress))
        except asyncio.CancelledError:
            if not signals:
                raise
        except KeyboardInterrupt:  # a second signal: stop at once
            for task in self._fetches:
                task.cancel()
            raise
        finally:
            restore()
            usage.seconds += time.perf_counter() - start
        if signals:
            raise KeyboardInterrupt
        return result

    def _on_signal(self, sig: int, seen: list[int]) -> None:
        """Ctrl-C or ``kill`` while requests run: send nothing new, let the requests in
        flight finish and be cached (nothing served is lost); a second signal stops at once."""
        seen.append(sig)
        if len(seen) > 1:
            raise KeyboardInterrupt
        self._stopping = True
        if self._stop is not None:
            self._stop.set()

    def price_known(self) -> bool:
        return self._price() is not None

    def supports_n(self) -> bool:
        """The settings' ``supports_n`` when set, else the transport's answer."""
        if self._supports_n is None:
            self._supports_n = bool(self.transport.supports_n())
        return self._supports_n

    # -- internals ----------------------------------------------------------------------

    def _price(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token (asked of the transport once)."""
        if self._prices is False:
            self._prices = self.transport.prices()
        return self._prices

    async def _complete(self, requests, kind, progress) -> list[list[Completion]]:
        usage = self.usage[kind]
        if self._price() is None:
            usage.cost = None  # unknown, even when everything comes from the cache
        results: list[list[Completion | None]] = [[None] * len(r.slots) for r in requests]
        jobs = []
        batch = self.settings.max_n if self.supports_n() else 1
        hits = 0
        for i, request in enumerate(requests):
            fingerprint = request_fingerprint(self.settings.model, request.messages,
                                              request.decoding, group=request.group)
            missing = []
            for j, slot in enumerate(request.slots):
                record = self.cache.get(slot_key(fingerprint, slot))
                if record is None:
                    missing.append(j)
                else:
                    results[i][j] = Completion(**record, cached=True)
                    hits += 1
            for start in range(0, len(missing), batch):
                jobs.append((i, fingerprint, missing[start : start + batch]))
        usage.completions += hits
        usage.cached += hits
        if progress is not None and hits:
            progress(hits)
        gate = asyncio.Semaphore(self.settings.concurrency)
        self._stop = asyncio.Event()
        self._fetches = [asyncio.ensure_future(
            self._fetch(gate, requests[i], fp, [requests[i].slots[j] for j in idx], kind,
                        progress)) for i, fp, idx in jobs]
        outcomes = await asyncio.gather(*self._fetches, return_exceptions=True)
        failure = None
        for (i, _, idx), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failure = failure or outcome
                continue
            for j, completion in zip(idx, outcome, strict=True):
                results[i][j] = completion
        if failure is not None:  # raised only now: every other request was served and cached
            raise failure
        return results  # type: ignore[return-value]

    async def _fetch(self, gate, request: ChatRequest, fingerprint: str, slots: list[int],
                     kind: str, progress) -> list[Completion]:
        out: list[Completion] = []
        while len(out) < len(slots):
            want = len(slots) - len(out)
            reply = await self._send(gate, request, want, slots[len(out)], kind)
            texts = reply.texts[:want]
            self._account(kind, reply, len(texts))
            for completion in split_reply(reply, texts, self._price()):
                self.cache.put(slot_key(fingerprint, slots[len(out)]),
                               {k: v for k, v in asdict(completion).items() if k != "cached"})
                out.append(completion)
            if progress is not None:
                progress(len(texts))
        return out

    async def _send(self, gate, request: ChatRequest, n: int, first_slot: int,
                    kind: str) -> Reply:
        """One request through the transport, retried while its failure is retryable, the
        attempts last and the run is not being stopped."""
        settings = self.settings
        usage = self.usage[kind]
        attempt = 0
        while True:
            attempt += 1
            async with gate:
                if self._stopping:
                    raise asyncio.CancelledError  # interrupted: send nothing new
                usage.requests += 1
                try:
                    reply = await self.transport.send(request.messages, request.decoding, n,
                                                      first_slot)
                    if not reply.texts:  # the contract says 1..n; retried like a bad body
                        raise TransportError("MalformedResponse: the reply has no completions",
                                             retryable=True)
                    error = None
                except TransportError as exc:
                    error = exc
            if error is None:
                return reply
            usage.failed_requests += 1
            if not error.retryable or attempt > settings.max_retries or self._stopping:
                tries = f"after {attempt} attempts" if error.retryable else "(not retryable)"
                raise LLMError(redact(f"{settings.model}: request failed {tries}: {error}")
                               ) from None
            try:  # back off, unless the run is being stopped
                await asyncio.wait_for(self._stop.wait(),
                                       retry_delay(attempt, error.retry_after, settings))
            except TimeoutError:
                pass

    def _account(self, kind: str, reply: Reply, n: int) -> None:
        """Count one fresh reply (``n`` completions used) and tell the ledger."""
        usage = self.usage[kind]
        prompt, completion = reply.prompt_tokens, reply.completion_tokens
        prices = self._price()
        cost = None if prices is None else prompt * prices[0] + completion * prices[1]
        usage.completions += n
        usage.fresh += n
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.cost = None if usage.cost is None or cost is None else usage.cost + cost
        if self.ledger is not None:
            self.ledger(kind, {"completions": n, "prompt_tokens": prompt,
                               "completion_tokens": completion, "cost": cost,
                               "seconds": round(reply.seconds, 4)})


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

