"""Cache keys: what changes a completion is in the key, secrets and endpoints are not."""

from __future__ import annotations

import multiprocessing

from iapo_cli.llm import CompletionCache, redact, request_fingerprint, slot_key
from tests.conftest import SECRET

MESSAGES = [{"role": "user", "content": "hi"}]


def test_key_depends_on_model_messages_decoding_and_slot():
    base = request_fingerprint("m", MESSAGES, {"temperature": 1})
    assert base != request_fingerprint("m2", MESSAGES, {"temperature": 1})
    assert base != request_fingerprint("m", [{"role": "user", "content": "hi!"}],
                                       {"temperature": 1})
    assert base != request_fingerprint("m", MESSAGES, {"temperature": 0.5})
    assert base == request_fingerprint("m", MESSAGES, {"temperature": 1})
    assert slot_key(base, 0) != slot_key(base, 1)
    assert SECRET not in slot_key(base, 0) and "http" not in slot_key(base, 0)


def _writer(directory: str, worker: int) -> None:
    cache = CompletionCache(directory)
    for i in range(200):
        cache.put(f"k{worker}-{i}", {"text": str(i)})


def test_concurrent_processes_share_a_cache(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    cache = CompletionCache(tmp_path)
    assert len(cache) == 600
    assert cache.get("k2-199") == {"text": "199"}


def test_redact_removes_environment_secrets_and_key_shapes(monkeypatch):
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "zzzzzzzzzzzz-secret")
    text = redact("key zzzzzzzzzzzz-secret, Bearer abc.def, sk-proj-ABCDEFGHIJKLMNOP")
    assert "zzzzzzzzzzzz-secret" not in text and "abc.def" not in text
    assert "ABCDEFGHIJKLMNOP" not in text
