"""The cache slots one client has claimed: taken before paying, renewed while it works,
released once settled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ._cache import MINE, CompletionCache, new_owner


class SlotClaims:
    """The claims of one client (one ``owner``) on slots of ``cache``.

    A client claims the slots it is about to pay for (``reserve``: atomic, so another
    process sharing the cache waits for that answer instead of paying for it), renews its
    claims while it works (``heartbeat``: a retry may wait minutes), and releases them once
    the completions are stored or given up (``release``). A claim not renewed lapses after
    ``ttl`` seconds (a crashed owner's; on this host a dead owner's at once)."""

    def __init__(self, cache: CompletionCache, ttl: float):
        self.cache, self.ttl = cache, ttl
        self.owner = new_owner()
        self.held: set[str] = set()  # slot keys claimed and not settled

    def reserve(self, keys: Sequence[str]) -> list[dict | object]:
        """Per key: the stored record (another process stored it), ``MINE`` (claimed now),
        or another owner's live claim (``CompletionCache.reserve``)."""
        states = self.cache.reserve(list(keys), self.owner, self.ttl)
        self.held.update(k for k, state in zip(keys, states, strict=True) if state is MINE)
        return states

    def release(self, keys: Sequence[str]) -> None:
        self.cache.release(list(keys), self.owner)
        self.held.difference_update(keys)

    def settle(self, records: dict[str, dict]) -> dict[str, dict | None]:
        """Store the completions of claimed slots and release those claims at once
        (``CompletionCache.settle``): per key None when stored now, else the record another
        process stored first."""
        stored = self.cache.settle(records, self.owner)
        self.held.difference_update(records)
        return stored

    def release_all(self) -> None:
        self.release(list(self.held))

    async def heartbeat(self) -> None:
        """Renew the claims held, every quarter of ``ttl``, until cancelled."""
        while True:
            await asyncio.sleep(self.ttl / 4)
            if self.held:
                self.cache.renew(list(self.held), self.owner, self.ttl)
