"""A completion cache on diskcache whose keys keep repeated samples apart, and whose slots
processes sharing it claim before they pay for them."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Sequence
from pathlib import Path

import diskcache

_KEY_VERSION = "iapo-completion-v1"

TRANSPORT_PARAMS = frozenset({
    "timeout", "request_timeout", "stream_timeout", "max_retries", "num_retries",
    "api_base", "base_url", "api_version", "organization", "project", "headers",
    "extra_headers", "drop_params", "metadata", "user", "caching", "no-log", "aws_region_name",
    "vertex_project", "vertex_location", "region_name",
})
"""``backend.params`` keys that only say how a request travels (endpoint, version, headers,
timeouts, retries, bookkeeping): they never change what the model writes, so they stay out
of cache keys. Every other key in ``params`` may shape the text (``max_tokens``, ``stop``,
``top_k``, ``extra_body``, ...) and is part of the request's fingerprint."""


def output_params(params: dict) -> dict:
    """The part of ``backend.params`` that can change a completion (everything but
    ``TRANSPORT_PARAMS``); empty for empty or transport-only params."""
    return {k: v for k, v in params.items() if k not in TRANSPORT_PARAMS}


def request_fingerprint(model: str, messages: list[dict], decoding: dict, *,
                        group: int = 0) -> str:
    """Hash of everything that changes a completion: model, messages, decoding settings,
    and the request's sample ``group`` when it is not 0 (so keys of group 0 are those of
    requests made before groups existed).

    The endpoint URL, API keys and transport settings (timeouts, headers) are not part of it:
    they do not change what the model writes, and keys must never reach the disk.
    """
    key = {"v": _KEY_VERSION, "model": model, "messages": messages, "decoding": decoding}
    if group:
        key["group"] = int(group)
    blob = json.dumps(key, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def slot_key(fingerprint: str, slot: int) -> str:
    """Slot i of a request is cached apart from slot j: they are distinct i.i.d. samples."""
    return f"{fingerprint}:{int(slot)}"


def _claim_key(key: str) -> str:
    return f"claim:{key}"


def new_owner() -> str:
    """A claim owner's name: host, process id and a random part (one per client)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str) -> bool:
    """Whether ``owner``'s process is known to be dead: only decidable on this host (a
    claim from elsewhere lives until its expiry)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


MINE, THEIRS = True, False
"""What ``CompletionCache.reserve`` says of a slot nobody stored yet: claimed now by the
caller, or held by another live owner."""


class CompletionCache:
    """Completions by slot key, as JSON text, in a directory shared safely by processes
    (diskcache is SQLite underneath; each write is committed before it returns).

    A stored completion is never overwritten (the first one stays, so every process sees the
    same sample in a slot). Before paying for a slot a client claims it (``reserve``): a claim
    names its owner and expires ``ttl`` seconds after it was made or last renewed; a claim
    whose owner's process died (same host) or whose expiry passed may be taken over.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._store: diskcache.Cache | None = None  # opened on first use

    @property
    def _cache(self) -> diskcache.Cache:
        if self._store is None:
            self._store = diskcache.Cache(str(self.directory), eviction_policy="none",
                                          size_limit=2**40)
        return self._store

    def get(self, key: str) -> dict | None:
        raw = self._cache.get(key, retry=True)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, record: dict) -> bool:
        """Store ``record`` unless the slot already holds one (never overwrites); True when
        this call stored it."""
        return self._cache.add(key, json.dumps(record, sort_keys=True), retry=True)

    def reserve(self, keys: Sequence[str], owner: str, ttl: float) -> list[dict | bool]:
        """Per key, atomically across processes: the stored record when there is one, else
        ``MINE`` when the slot is now claimed by ``owner`` (it was free, already ``owner``'s,
        or its claim was stale), else ``THEIRS`` (another live owner holds it)."""
        out: list[dict | bool] = []
        cache = self._cache
        with cache.transact(retry=True):
            for key in keys:
                raw = cache.get(key)
                if raw is not None:
                    out.append(json.loads(raw))
                    continue
                holder = cache.get(_claim_key(key))
                if holder is None or holder == owner or _owner_gone(holder):
                    cache.set(_claim_key(key), owner, expire=ttl)
                    out.append(MINE)
                else:
                    out.append(THEIRS)
        return out

    def settle(self, records: dict[str, dict], owner: str) -> dict[str, dict | None]:
        """Store each of ``records`` (slot key -> record) unless the slot already holds one,
        and drop ``owner``'s claims on those slots, in one transaction (one commit for a
        request's completions instead of one each, and one for the claims). Per key: None
        when this call stored it, else the record stored first (everybody's sample)."""
        out: dict[str, dict | None] = {}
        cache = self._cache
        with cache.transact(retry=True):
            for key, record in records.items():
                if cache.add(key, json.dumps(record, sort_keys=True)):
                    out[key] = None
                else:
                    raw = cache.get(key)
                    out[key] = None if raw is None else json.loads(raw)
                if cache.get(_claim_key(key)) == owner:
                    cache.delete(_claim_key(key))
        return out

    def claim_is_live(self, key: str) -> bool:
        """Whether a claim on ``key`` still stands (not expired, owner not known dead),
        whoever holds it (the caller's own claims included). A cheap read: no lock is
        taken."""
        holder = self._cache.get(_claim_key(key), retry=True)
        return holder is not None and not _owner_gone(holder)

    def renew(self, keys: Sequence[str], owner: str, ttl: float) -> None:
        """Push the expiry of ``owner``'s claims on ``keys`` ``ttl`` seconds ahead."""
        cache = self._cache
        with cache.transact(retry=True):
            for key in keys:
                if cache.get(_claim_key(key)) == owner:
                    cache.touch(_claim_key(key), expire=ttl)

    def release(self, keys: Sequence[str], owner: str) -> None:
        """Drop ``owner``'s claims on ``keys`` (another owner's are left alone)."""
        if not keys:
            return
        cache = self._cache
        with cache.transact(retry=True):
            for key in keys:
                if cache.get(_claim_key(key)) == owner:
                    cache.delete(_claim_key(key))

    def __len__(self) -> int:
        """Entries stored, claims in progress included."""
        return len(self._cache)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
