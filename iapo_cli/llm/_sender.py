"""Sending one request: retries under the client's policy, a stop that sends nothing new,
and the accounting of every attempt and reply."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import TYPE_CHECKING

from ..errors import IapoError
from ._secrets import redact
from ._transport import Reply, TransportError

if TYPE_CHECKING:
    from ._client import ChatRequest, ClientSettings, LLMClient


class LLMError(IapoError):
    """A request failed for good (after its retries); the run stops, the cache keeps what
    was already served."""


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


class StopSignal:
    """Whether a client's call is being stopped (a signal, an error a watch returned): from
    then on nothing new is sent and waits end early; requests in flight finish."""

    def __init__(self):
        self.requested = False
        self._event: asyncio.Event | None = None

    def reset(self) -> None:
        """A new call starts: not stopped (its event is made in the call's loop, ``arm``)."""
        self.requested, self._event = False, None

    def arm(self) -> None:
        """Inside the call's event loop: the event ``request`` sets."""
        self._event = asyncio.Event()
        if self.requested:
            self._event.set()

    def request(self) -> None:
        self.requested = True
        if self._event is not None:
            self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less once a stop is requested."""
        if self._event is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            pass


class RequestSender:
    """Sends a client's requests through its transport: at most ``concurrency`` at once
    (the call's ``gate``), each retried while its failure is retryable and the attempts
    last, nothing new once the client's ``stop`` is requested. Every attempt is counted in
    the client's ``usage`` and told to its ledger before it is sent (and its failure after),
    every reply's tokens and cost after."""

    def __init__(self, client: LLMClient):
        self.client = client

    def _log_request(self, kind: str, event: dict) -> None:
        log = getattr(self.client.ledger, "request", None)
        if log is not None:
            log(kind, event)

    async def send(self, gate: asyncio.Semaphore, request: ChatRequest, n: int,
                   first_slot: int, kind: str) -> tuple[Reply, str]:
        """One request for ``n`` completions from slot ``first_slot``; the reply and the id
        under which the ledger knows the attempt that succeeded. Once the call is being
        stopped nothing new is sent: a retry that would be needed ends the request as
        interrupted (CancelledError), not failed."""
        client = self.client
        settings, stop = client.settings, client.stop
        usage = client.usage[kind]
        attempt = 0
        while True:
            attempt += 1
            async with gate:
                if stop.requested:
                    raise asyncio.CancelledError  # interrupted: send nothing new
                usage.requests += 1
                request_id = uuid.uuid4().hex[:16]
                self._log_request(kind, {"event": "sent", "request": request_id, "asked": n})
                try:
                    reply = await client.transport.send(request.messages, request.decoding,
                                                        n, first_slot)
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
            if stop.requested:  # interrupted: the retry is not sent (and this is no failure)
                raise asyncio.CancelledError
            await stop.sleep(retry_delay(attempt, error.retry_after, settings))

    def account(self, kind: str, reply: Reply, n: int, request_id: str) -> None:
        """Count one fresh reply (``n`` completions used) and tell the ledger."""
        client = self.client
        usage = client.usage[kind]
        prompt, completion = reply.prompt_tokens, reply.completion_tokens
        prices = client.prices()
        cost = None if prices is None else prompt * prices[0] + completion * prices[1]
        usage.completions += n
        usage.fresh += n
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.cost = None if usage.cost is None or cost is None else usage.cost + cost
        if client.ledger is not None:
            client.ledger(kind, {"completions": n, "prompt_tokens": prompt,
                                 "completion_tokens": completion, "cost": cost,
                                 "seconds": round(reply.seconds, 4), "request": request_id})
