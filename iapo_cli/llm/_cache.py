"""A completion cache on diskcache whose keys keep repeated samples apart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import diskcache

_KEY_VERSION = "iapo-completion-v1"


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


class CompletionCache:
    """Completions by slot key, as JSON text, in a directory shared safely by processes
    (diskcache is SQLite underneath; each ``put`` is committed before it returns)."""

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
        raw = self._cache.get(key)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, record: dict) -> None:
        self._cache.set(key, json.dumps(record, sort_keys=True))

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
