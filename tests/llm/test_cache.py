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


# -- what is in the key --------------------------------------------------------------------


def _client(params: dict, tmp_path):
    from iapo_cli.llm import ChatRequest, ClientSettings, LLMClient

    client = LLMClient(ClientSettings("m", params=params), CompletionCache(tmp_path),
                       transport=object())
    return client, ChatRequest(MESSAGES, {"temperature": 1}, [0])


def test_params_that_shape_the_text_are_in_the_key_transport_ones_are_not(tmp_path):
    plain = request_fingerprint("m", MESSAGES, {"temperature": 1})
    for transport_only in ({}, {"extra_headers": {"X-Trace": "a"}, "api_version": "2024",
                                "timeout": 30, "organization": "org"}):
        client, request = _client(transport_only, tmp_path)
        assert client.fingerprint(request) == plain  # nobody's cache is invalidated
    keys = set()
    for shaping in ({"max_tokens": 64}, {"max_tokens": 65}, {"stop": ["\n"]},
                    {"top_k": 5}, {"extra_body": {"min_p": 0.1}}):
        client, request = _client({**shaping, "extra_headers": {"X": "y"}}, tmp_path)
        keys.add(client.fingerprint(request))
    assert len(keys) == 5 and plain not in keys
    # a setting in params or in the prompt's decoding is the same request
    client, _ = _client({"temperature": 1}, tmp_path)
    from iapo_cli.llm import ChatRequest

    assert client.fingerprint(ChatRequest(MESSAGES, {}, [0])) == plain


# -- claims --------------------------------------------------------------------------------


def test_a_stored_completion_is_never_overwritten(tmp_path):
    cache = CompletionCache(tmp_path)
    assert cache.put("k", {"text": "first"})
    assert not cache.put("k", {"text": "second"})
    assert cache.get("k") == {"text": "first"}


def test_reserve_claims_free_slots_once_and_reports_stored_ones(tmp_path):
    from iapo_cli.llm._cache import MINE, THEIRS

    cache, other = CompletionCache(tmp_path), CompletionCache(tmp_path)
    cache.put("a", {"text": "stored"})
    assert cache.reserve(["a", "b", "c"], "host:1:me", 30) == [{"text": "stored"}, MINE, MINE]
    assert other.reserve(["b", "c"], "host:1:you", 30) == [THEIRS, THEIRS]
    assert cache.reserve(["b"], "host:1:me", 30) == [MINE]  # already mine
    other.release(["b"], "host:1:you")  # not its claim: left alone
    assert other.reserve(["b"], "host:1:you", 30) == [THEIRS]
    cache.release(["b"], "host:1:me")
    assert other.reserve(["b"], "host:1:you", 30) == [MINE]


def test_a_claim_whose_owner_died_or_expired_is_taken_over(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    from iapo_cli.llm._cache import MINE, THEIRS, new_owner

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    cache = CompletionCache(tmp_path)
    ghost = f"{socket.gethostname()}:{dead}:feedbeef"
    assert cache.reserve(["x"], ghost, 30) == [MINE]
    assert not cache.claim_is_live("x")
    assert cache.reserve(["x"], new_owner(), 30) == [MINE]  # at once, no expiry needed
    elsewhere = "another-host:1:cafe"  # liveness unknowable: only the expiry frees it
    assert cache.reserve(["y"], elsewhere, 0.3) == [MINE]
    assert cache.claim_is_live("y") and cache.reserve(["y"], new_owner(), 30) == [THEIRS]
    time.sleep(0.35)
    assert cache.reserve(["y"], new_owner(), 30) == [MINE]
