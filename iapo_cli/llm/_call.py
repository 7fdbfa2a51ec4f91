"""One ``complete`` call of one client: its requests' slots from the cache, claimed and
fetched, or awaited from another process."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ._cache import MINE, slot_key
from ._completion import ChatRequest, Completion, split_reply

if TYPE_CHECKING:
    from ._client import LLMClient

Deliver = Callable[[int, Completion], "BaseException | None"]
"""Told ``(request index, completion)`` of every completion the call makes available; an
exception it returns stops the call (``LLMClient``'s ``halt``)."""


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


class ClientCall:
    """Completions for every slot of ``requests`` (``run``), through ``client``.

    Slots in the cache are served from it; the others are claimed (``SlotClaims``) and
    fetched in batches of consecutive slots (the provider's ``n`` when the model supports
    it), or, when another live client claimed them, awaited from the cache (taken over if
    its claim lapses). A slot asked for twice in one call is one sample, paid for once.
    Every completion is handed to ``deliver`` as it becomes available, once; the fetch
    tasks are in ``fetches`` (a second signal cancels them)."""

    def __init__(self, client: LLMClient, requests: Sequence[ChatRequest], kind: str,
                 progress: Callable[[int], None] | None, deliver: Deliver | None = None):
        self.client, self.requests, self.kind = client, list(requests), kind
        self.progress, self.deliver = progress, deliver
        self.fetches: list[asyncio.Task] = []

    def _hit(self, count: int) -> None:
        """Count ``count`` completions served from the cache."""
        if count:
            usage = self.client.usage[self.kind]
            usage.completions += count
            usage.cached += count
            if self.progress is not None:
                self.progress(count)

    def _deliver(self, i: int, completions: Sequence[Completion]) -> None:
        """Hand the completions now available for request ``i`` to ``deliver``; an error
        it returns stops the whole call (nothing new is sent; requests in flight finish
        into the cache) and is raised once the call has ended."""
        if self.deliver is None:
            return
        for completion in completions:
            error = self.deliver(i, completion)
            if error is not None and self.client.halt is not None:
                self.client.halt(error)
                return

    def _job_done(self, i: int, task: asyncio.Future) -> None:
        """A fetch job of request ``i`` ended: deliver its completions if it succeeded."""
        if not task.cancelled() and task.exception() is None:
            self._deliver(i, task.result())

    async def run(self) -> list[list[Completion]]:
        client, requests, kind = self.client, self.requests, self.kind
        usage = client.usage[kind]
        if client.prices() is None:
            usage.cost = None  # unknown, even when everything comes from the cache
        results: list[list[Completion | None]] = [[None] * len(r.slots) for r in requests]
        fingerprints = [client.fingerprint(r) for r in requests]
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
                record = client.cache.get(key)
                if record is None:
                    missing.append((i, j))
                else:
                    results[i][j] = Completion.from_record(record, cached=True)
        states = client.claims.reserve([slot_key(fingerprints[i], requests[i].slots[j])
                                        for i, j in missing]) if missing else []
        mine: dict[int, list[int]] = {}
        theirs: dict[int, list[int]] = {}
        for (i, j), state in zip(missing, states, strict=True):
            if isinstance(state, dict):  # stored by another process since the first look
                results[i][j] = Completion.from_record(state, cached=True)
            else:
                (mine if state is MINE else theirs).setdefault(i, []).append(j)
        self._hit(sum(c is not None for row in results for c in row))
        for i, row in enumerate(results):
            self._deliver(i, [c for c in row if c is not None])
        batch = client.settings.max_n if client.supports_n() else 1
        jobs = []  # (request, slots to fetch, or to wait for when another client has them)
        for i, idx in sorted(mine.items()):
            slots = sorted(requests[i].slots[j] for j in idx)
            jobs += [(i, part, True) for part in slot_batches(slots, batch)]
        jobs += [(i, [requests[i].slots[j] for j in idx], False)
                 for i, idx in sorted(theirs.items())]
        gate = asyncio.Semaphore(client.settings.concurrency)
        client.stop.arm()
        self.fetches = [asyncio.ensure_future(
            (self._fetch if fetch else self._wait_for)(gate, requests[i], fingerprints[i],
                                                      slots))
            for i, slots, fetch in jobs]
        if self.deliver is not None:  # each job's completions, as soon as it has them
            for (i, _, _), task in zip(jobs, self.fetches, strict=True):
                task.add_done_callback(functools.partial(self._job_done, i))
        heartbeat = asyncio.ensure_future(client.claims.heartbeat())
        try:
            outcomes = await asyncio.gather(*self.fetches, return_exceptions=True)
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
            self._deliver(i, [results[i][j]])
        self._hit(len(copies))
        return results  # type: ignore[return-value]

    async def _wait_for(self, gate, request: ChatRequest, fingerprint: str,
                        slots: list[int]) -> list[Completion]:
        """The completions at ``slots``, which another live client claimed: polled from the
        cache until stored; a slot whose claim lapsed (owner gone, expired or released
        without storing) is claimed and fetched here."""
        client = self.client
        found: dict[int, Completion] = {}
        pending = list(slots)
        delay = 0.01
        while pending:
            if client.stop.requested:
                raise asyncio.CancelledError  # interrupted: stop waiting, send nothing
            first = slot_key(fingerprint, pending[0])
            if client.cache.get(first) is None and client.cache.claim_is_live(first):
                await client.stop.sleep(delay)
                delay = min(2 * delay, 0.25)
                continue
            states = client.claims.reserve([slot_key(fingerprint, s) for s in pending])
            ours, still = [], []
            for slot, state in zip(pending, states, strict=True):
                if isinstance(state, dict):
                    found[slot] = Completion.from_record(state, cached=True)
                else:
                    (ours if state is MINE else still).append(slot)
            self._hit(len(pending) - len(ours) - len(still))
            batch = client.settings.max_n if client.supports_n() else 1
            parts = slot_batches(ours, batch)
            fetched = await asyncio.gather(*(self._fetch(gate, request, fingerprint, part)
                                             for part in parts), return_exceptions=True)
            for part, completions in zip(parts, fetched, strict=True):
                if isinstance(completions, BaseException):  # the others are cached by now
                    raise completions
                found.update(zip(part, completions, strict=True))
            pending = still
        return [found[slot] for slot in slots]

    async def _fetch(self, gate, request: ChatRequest, fingerprint: str, slots: list[int]
                     ) -> list[Completion]:
        """Completions for consecutive ``slots`` this client claimed: one request (topped up
        when the reply is short); once the server is known to ignore ``n``, the slots still
        missing go out as single requests, concurrently."""
        out: list[Completion] = []
        while len(out) < len(slots):
            rest = slots[len(out):]
            if len(rest) > 1 and self.client.ignores_n:
                parts = await asyncio.gather(*(
                    self._fetch_once(gate, request, fingerprint, [slot]) for slot in rest),
                    return_exceptions=True)
                for part in parts:  # the others are served and cached by now
                    if isinstance(part, BaseException):
                        raise part
                return out + [c for part in parts for c in part]
            out += await self._fetch_once(gate, request, fingerprint, rest)
        return out

    async def _fetch_once(self, gate, request: ChatRequest, fingerprint: str,
                          slots: list[int]) -> list[Completion]:
        """One request for consecutive ``slots``; the 1..len(slots) completions it gave,
        stored (a slot another process stored meanwhile keeps that one's sample)."""
        client = self.client
        want = len(slots)
        reply, request_id = await client.sender.send(gate, request, want, slots[0],
                                                     self.kind)
        texts = reply.texts[:want]
        if want > 1 and len(texts) == 1:
            client.noticed_ignored_n(want)
        client.sender.account(self.kind, reply, len(texts), request_id)
        completions = split_reply(reply, texts, client.prices())
        keys = [slot_key(fingerprint, slot) for slot in slots[:len(completions)]]
        earlier = client.claims.settle({key: completion.record()
                                        for key, completion in zip(keys, completions,
                                                                   strict=True)})
        # a slot another process stored meanwhile keeps that sample: it is everybody's
        out = [completion if earlier[key] is None else Completion.from_record(earlier[key])
               for key, completion in zip(keys, completions, strict=True)]
        # slots the reply did not fill stay claimed by this call: it asks again for them
        if self.progress is not None:
            self.progress(len(texts))
        return out
