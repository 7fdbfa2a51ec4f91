"""The one client that talks to models: a transport (LiteLLM, the simulator, ...) behind
an own slot-keyed cache, with n batching, concurrency, retries, interruption and accounting.
Library code: it raises ``LLMError`` and never prints."""

from __future__ import annotations

import asyncio
import functools
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import ClassVar

from ..errors import IapoError
from ._cache import (
    MINE,
    CompletionCache,
    new_owner,
    output_params,
    request_fingerprint,
    slot_key,
)
from ._secrets import redact
from ._transport import Reply, Transport, TransportError, make_transport


class LLMError(IapoError):
    """A request failed for good (after its retries); the run stops, the cache keeps what
    was already served."""


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

    @classmethod
    def from_record(cls, record: dict, cached: bool = False) -> Completion:
        """A completion from its cache record (the fields but ``cached``); keys this
        version does not know (a newer iapo sharing the cache) are ignored, and fields a
        record lacks (an older one's: ``finish_reason``) take their defaults."""
        known = {k: v for k, v in record.items() if k in _COMPLETION_FIELDS}
        return cls(**known, cached=cached)


_COMPLETION_FIELDS = frozenset(Completion.__dataclass_fields__) - {"cached"}


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


def retry_delay(attempt: int, retry_after: float | None, settings: ClientSettings) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the provider's ``retry_after`` when it
    gave one (at most ``retry_after_max``, or ``retry_max_delay`` when that is None), else
    exponential backoff with jitter from ``retry_base_delay``, at most ``retry_max_delay``."""
    cap = settings.retry_max_delay
    if retry_after is not None:
        if settings.retry_after_max is not None:
            cap = settings.retry_after_max
        return min(max(retry_after, 0.0), cap)
    delay = settings.retry_base_delay * 2 ** (attempt - 1)
    return min(delay * random.uniform(0.5, 1.0), cap)


def slot_batches(slots: Sequence[int], batch: int) -> list[list[int]]:
    """``slots`` (ascending) cut into runs of consecutive slots of at most ``batch`` each:
    one request asks for consecutive samples starting at its first slot."""
    out: list[list[int]] = []
    for slot in slots:
        if out and slot == out[-1][-1] + 1 and len(out[-1]) < batch:
            out[-1].append(slot)
        else:
            out.append([slot])
    return out


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
        self._owner = new_owner()
        self._held: set[str] = set()  # slot keys this client has claimed and not settled
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._fetches: list[asyncio.Task] = []
        # set by complete_together: stops every client of the call with an error (a watch's)
        self._halt: Callable[[BaseException], None] | None = None

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

    def _price(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token (asked of the transport once)."""
        if self._prices is False:
            given = self.settings.price
            self._prices = tuple(given) if given is not None else self.transport.prices()
        return self._prices

    def _hit(self, kind: str, count: int, progress) -> None:
        """Count ``count`` completions served from the cache."""
        if count:
            usage = self.usage[kind]
            usage.completions += count
            usage.cached += count
            if progress is not None:
                progress(count)

    def _reserve(self, keys: list[str]) -> list[dict | bool]:
        states = self.cache.reserve(keys, self._owner, self.claim_ttl)
        self._held.update(k for k, state in zip(keys, states, strict=True) if state is MINE)
        return states

    def _release(self, keys: list[str]) -> None:
        self.cache.release(keys, self._owner)
        self._held.difference_update(keys)

    def _deliver(self, deliver: Callable[[int, Completion], BaseException | None] | None,
                 i: int, completions: Sequence[Completion]) -> None:
        """Hand the completions now available for request ``i`` to ``deliver``; an error
        it returns stops the whole call (nothing new is sent; requests in flight finish
        into the cache) and is raised once the call has ended."""
        if deliver is None:
            return
        for completion in completions:
            error = deliver(i, completion)
            if error is not None and self._halt is not None:
                self._halt(error)
                return

    async def _complete(self, requests, kind, progress, deliver=None
                        ) -> list[list[Completion]]:
        usage = self.usage[kind]
        if self._price() is None:
            usage.cost = None  # unknown, even when everything comes from the cache
        results: list[list[Completion | None]] = [[None] * len(r.slots) for r in requests]
        fingerprints = [self.fingerprint(r) for r in requests]
        missing: list[tuple[int, int]] = []  # (request, index of the slot in the request)
        first: dict[str, tuple[int, int]] = {}  # slot key -> where it first occurs
        copies: list[tuple[int, int, int, int]] = []  # (i, j) repeats the slot at (i0, j0)
        for i, request in enumerate(requests):
            for j, slot in enumerate(request.slots):
                key = slot_key(fingerprints[i], slot)
                if key in first:  # the same slot twice in one call (equal requests): one
                    copies.append((i, j, *first[key]))  # sample, paid for once
                    continue
                first[key] = (i, j)
                record = self.cache.get(key)
                if record is None:
                    missing.append((i, j))
                else:
                    results[i][j] = Completion.from_record(record, cached=True)
        states = self._reserve([slot_key(fingerprints[i], requests[i].slots[j])
                                for i, j in missing]) if missing else []
        mine: dict[int, list[int]] = {}
        theirs: dict[int, list[int]] = {}
        for (i, j), state in zip(missing, states, strict=True):
            if isinstance(state, dict):  # stored by another process since the first look
                results[i][j] = Completion.from_record(state, cached=True)
            else:
                (mine if state is MINE else theirs).setdefault(i, []).append(j)
        self._hit(kind, sum(c is not None for row in results for c in row), progress)
        for i, row in enumerate(results):
            self._deliver(deliver, i, [c for c in row if c is not None])
        batch = self.settings.max_n if self.supports_n() else 1
        jobs = []  # (request, slots to fetch, or to wait for when another client has them)
        for i, idx in sorted(mine.items()):
            slots = sorted(requests[i].slots[j] for j in idx)
            jobs += [(i, part, True) for part in slot_batches(slots, batch)]
        jobs += [(i, [requests[i].slots[j] for j in idx], False)
                 for i, idx in sorted(theirs.items())]
        gate = asyncio.Semaphore(self.settings.concurrency)
        self._stop = asyncio.Event()
        self._fetches = [asyncio.ensure_future(
            (self._fetch if fetch else self._wait_for)(gate, requests[i], fingerprints[i],
                                                      slots, kind, progress))
            for i, slots, fetch in jobs]
        if deliver is not None:  # each job's completions, as soon as it has them
            for (i, _, _), task in zip(jobs, self._fetches, strict=True):
                task.add_done_callback(functools.partial(self._job_done, deliver, i))
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            outcomes = await asyncio.gather(*self._fetches, return_exceptions=True)
        finally:
            heartbeat.cancel()
        failure = None
        for (i, slots, _), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failure = failure or outcome
                continue
            where = {slot: j for j, slot in enumerate(requests[i].slots)}
            for slot, completion in zip(slots, outcome, strict=True):
                results[i][where[slot]] = completion
        if failure is not None:  # raised only now: every other request was served and cached
            raise failure
        for i, j, i0, j0 in copies:
            results[i][j] = replace(results[i0][j0], cached=True)
            self._deliver(deliver, i, [results[i][j]])
        self._hit(kind, len(copies), progress)
        return results  # type: ignore[return-value]

    def _job_done(self, deliver, i: int, task: asyncio.Future) -> None:
        """A fetch job of request ``i`` ended: deliver its completions if it succeeded."""
        if not task.cancelled() and task.exception() is None:
            self._deliver(deliver, i, task.result())

    async def _heartbeat(self) -> None:
        """Renew this client's claims while it works (a retry may wait minutes)."""
        while True:
            await asyncio.sleep(self.claim_ttl / 4)
            if self._held:
                self.cache.renew(list(self._held), self._owner, self.claim_ttl)

    async def _wait_for(self, gate, request: ChatRequest, fingerprint: str, slots: list[int],
                        kind: str, progress) -> list[Completion]:
        """The completions at ``slots``, which another live client claimed: polled from the
        cache until stored; a slot whose claim lapsed (owner gone, expired or released
        without storing) is claimed and fetched here."""
        found: dict[int, Completion] = {}
        pending = list(slots)
        delay = 0.01
        while pending:
            if self._stopping:
                raise asyncio.CancelledError  # interrupted: stop waiting, send nothing
            first = slot_key(fingerprint, pending[0])
            if self.cache.get(first) is None and self.cache.claim_is_live(first):
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(2 * delay, 0.25)
                continue
            states = self._reserve([slot_key(fingerprint, s) for s in pending])
            ours, still = [], []
            for slot, state in zip(pending, states, strict=True):
                if isinstance(state, dict):
                    found[slot] = Completion.from_record(state, cached=True)
                else:
                    (ours if state is MINE else still).append(slot)
            self._hit(kind, len(pending) - len(ours) - len(still), progress)
            batch = self.settings.max_n if self.supports_n() else 1
            parts = slot_batches(ours, batch)
            fetched = await asyncio.gather(*(
                self._fetch(gate, request, fingerprint, part, kind, progress)
                for part in parts), return_exceptions=True)
            for part, completions in zip(parts, fetched, strict=True):
                if isinstance(completions, BaseException):  # the others are cached by now
                    raise completions
                found.update(zip(part, completions, strict=True))
            pending = still
        return [found[slot] for slot in slots]

    async def _fetch(self, gate, request: ChatRequest, fingerprint: str, slots: list[int],
                     kind: str, progress) -> list[Completion]:
        """Completions for consecutive ``slots`` this client claimed: one request (topped up
        when the reply is short); once the server is known to ignore ``n``, the slots still
        missing go out as single requests, concurrently."""
        out: list[Completion] = []
        while len(out) < len(slots):
            rest = slots[len(out):]
            if len(rest) > 1 and self._supports_n is False:
                parts = await asyncio.gather(*(
                    self._fetch_once(gate, request, fingerprint, [slot], kind, progress)
                    for slot in rest), return_exceptions=True)
                for part in parts:  # the others are served and cached by now
                    if isinstance(part, BaseException):
                        raise part
                return out + [c for part in parts for c in part]
            out += await self._fetch_once(gate, request, fingerprint, rest, kind, progress)
        return out

    async def _fetch_once(self, gate, request: ChatRequest, fingerprint: str,
                          slots: list[int], kind: str, progress) -> list[Completion]:
        """One request for consecutive ``slots``; the 1..len(slots) completions it gave,
        stored (a slot another process stored meanwhile keeps that one's sample)."""
        want = len(slots)
        reply, request_id = await self._send(gate, request, want, slots[0], kind)
        texts = reply.texts[:want]
        if want > 1 and len(texts) == 1 and self._supports_n is not False:
            self._supports_n = False
            self.notes.append(f"{self.settings.model}: the server answered 1 completion to a "
                              f"request for {want} (it ignores n); from now on every "
                              f"completion is its own request, sent concurrently")
        self._account(kind, reply, len(texts), request_id)
        out = []
        keys = []
        for slot, completion in zip(slots, split_reply(reply, texts, self._price()),
                                    strict=False):
            key = slot_key(fingerprint, slot)
            record = {k: v for k, v in asdict(completion).items() if k != "cached"}
            if not self.cache.put(key, record):  # the first sample stored is everybody's
                stored = self.cache.get(key)
                completion = Completion.from_record(stored) if stored is not None \
                    else completion
            out.append(completion)
            keys.append(key)
        self._release(keys)
        if progress is not None:
            progress(len(texts))
        return out

    def _log_request(self, kind: str, event: dict) -> None:
        log = getattr(self.ledger, "request", None)
        if log is not None:
            log(kind, event)

    async def _send(self, gate, request: ChatRequest, n: int, first_slot: int,
                    kind: str) -> tuple[Reply, str]:
        """One request through the transport, retried while its failure is retryable and
        the attempts last; the reply and the id under which the ledger knows the attempt
        that succeeded. Once the run is being stopped nothing new is sent: a retry that
        would be needed ends the request as interrupted (CancelledError), not failed."""
        settings = self.settings
        usage = self.usage[kind]
        attempt = 0
        while True:
            attempt += 1
            async with gate:
                if self._stopping:
                    raise asyncio.CancelledError  # interrupted: send nothing new
                usage.requests += 1
                request_id = uuid.uuid4().hex[:16]
                self._log_request(kind, {"event": "sent", "request": request_id, "asked": n})
                try:
                    reply = await self.transport.send(request.messages, request.decoding, n,
                                                      first_slot)
                    if not reply.texts:  # the contract says 1..n; retried like a bad body
                        raise TransportError("MalformedResponse: the reply has no completions",
                                             retryable=True, maybe_billed=True)
                    error = None
                except TransportError as exc:
                    error = exc
            if error is None:
                return reply, request_id
            usage.failed_requests += 1
            self._log_request(kind, {"event": "failed", "request": request_id,
                                     "maybe_billed": bool(error.maybe_billed)})
            if not error.retryable or attempt > settings.max_retries:
                tries = f"after {attempt} attempts" if error.retryable else "(not retryable)"
                raise LLMError(redact(f"{settings.model}: request failed {tries}: {error}")
                               ) from None
            if self._stopping:  # interrupted: the retry is not sent (and this is no failure)
                raise asyncio.CancelledError
            try:  # back off, unless the run is being stopped
                await asyncio.wait_for(self._stop.wait(),
                                       retry_delay(attempt, error.retry_after, settings))
            except TimeoutError:
                pass

    def _account(self, kind: str, reply: Reply, n: int, request_id: str) -> None:
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
                               "seconds": round(reply.seconds, 4), "request": request_id})


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
            client._stopping = True
            if client._stop is not None:
                client._stop.set()

    for client in clients:
        client.usage.setdefault(kind, Usage())
        client._stopping = False
        client._fetches = []
        client._halt = halt

    def on_signal(sig: int) -> None:
        signals.append(sig)
        if len(signals) > 1:
            raise KeyboardInterrupt
        for client in clients:
            client._stopping = True
            if client._stop is not None:
                client._stop.set()

    async def together():
        outcomes = await asyncio.gather(*(
            client._complete(requests, kind, progress,
                             None if watch is None else functools.partial(watch, k))
            for k, (client, requests) in enumerate(calls)), return_exceptions=True)
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
        for client in clients:
            for task in client._fetches:
                task.cancel()
        raise
    finally:
        restore()
        seconds = time.perf_counter() - start
        for client in clients:
            client._release(list(client._held))
            client.usage[kind].seconds += seconds
            client._halt = None
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

