"""The LLM client against the loopback server, through each transport that speaks HTTP:
LiteLLM and iapo's own (``transport: http``) behave the same to the client."""

from __future__ import annotations

import time

import pytest

from iapo_cli.llm import ChatRequest, ClientSettings, CompletionCache, LLMClient, LLMError
from tests.conftest import SECRET


@pytest.fixture(params=["litellm", "http"])
def transport(request) -> str:
    return request.param


def make_client(server, tmp_path, transport, **settings) -> LLMClient:
    options = {"model": "openai/loopback", "api_base": server.url, "timeout": 5,
               "retry_base_delay": 0.01, "max_retries": 3, "transport": transport,
               **settings}
    return LLMClient(ClientSettings(**options), CompletionCache(tmp_path / "cache"))


def ask(a: int, b: int, slots, system: str = "be brief") -> ChatRequest:
    return ChatRequest([{"role": "system", "content": system},
                        {"role": "user", "content": f"What is {a} + {b}?"}], {}, slots)


def test_n_batching_sends_one_request_per_pull(loopback, tmp_path, api_key, transport):
    client = make_client(loopback, tmp_path, transport)
    out = client.complete([ask(2, 3, range(8))])
    assert len(out[0]) == 8 and all("Answer:" in c.text for c in out[0])
    assert (loopback.requests, loopback.completions, loopback.n_values) == (1, 8, [8])
    usage = client.usage["completion"]
    assert (usage.requests, usage.fresh, usage.cached) == (1, 8, 0)


def test_without_n_each_slot_is_its_own_request(loopback, tmp_path, api_key, transport):
    client = make_client(loopback, tmp_path, transport, supports_n=False)
    client.complete([ask(2, 3, range(5))])
    assert loopback.requests == 5 and loopback.n_values == [1] * 5


def test_rerun_is_served_from_cache_with_zero_requests(loopback, tmp_path, api_key, transport):
    first = make_client(loopback, tmp_path, transport).complete([ask(2, 3, range(6)),
                                                                 ask(4, 4, range(2))])
    before = loopback.requests
    again = make_client(loopback, tmp_path, transport)
    second = again.complete([ask(2, 3, range(6)), ask(4, 4, range(2))])
    assert loopback.requests == before
    assert [[c.text for c in r] for r in first] == [[c.text for c in r] for r in second]
    usage = again.usage["completion"]
    assert (usage.cached, usage.fresh, usage.requests, usage.cost) == (8, 0, 0, None)
    assert all(c.cached for c in second[0])


def test_only_missing_slots_are_requested(loopback, tmp_path, api_key, transport):
    client = make_client(loopback, tmp_path, transport)
    client.complete([ask(2, 3, range(4))])
    client.complete([ask(2, 3, range(10))])
    assert loopback.n_values == [4, 6]


def test_slots_are_distinct_samples(loopback, tmp_path, api_key, transport):
    client = make_client(loopback, tmp_path, transport)
    texts = [c.text for c in client.complete([ask(7, 9, range(12))])[0]]
    assert len(set(texts)) > 1  # the server's answers vary by sample; slots keep them apart


def test_retries_rate_limits_5xx_timeouts_and_malformed_bodies(loopback, tmp_path, api_key,
                                                               transport):
    loopback.hang = 1.0
    loopback.fail("429", "500", "malformed", "timeout")
    client = make_client(loopback, tmp_path, transport, timeout=0.4, max_retries=4)
    out = client.complete([ask(1, 1, range(3))])
    assert len(out[0]) == 3
    usage = client.usage["completion"]
    assert (usage.requests, usage.failed_requests, usage.fresh) == (5, 4, 3)


def test_retry_after_is_honoured(loopback, tmp_path, api_key, transport):
    loopback.retry_after = "1"
    loopback.fail("429")
    client = make_client(loopback, tmp_path, transport, retry_base_delay=0.0)
    start = time.perf_counter()
    client.complete([ask(1, 2, range(1))])
    assert time.perf_counter() - start >= 0.95


def test_exhausted_retries_fail_cleanly_and_keep_what_was_served(loopback, tmp_path, api_key,
                                                                 transport):
    loopback.fail(None, "500", "500", "500")  # the first request succeeds, the second never
    client = make_client(loopback, tmp_path, transport, max_retries=2, concurrency=1)
    with pytest.raises(LLMError, match=r"after 3 attempts: InternalServerError 500"):
        client.complete([ask(1, 2, range(2)), ask(3, 4, range(2))])
    assert loopback.requests == 4
    cached = make_client(loopback, tmp_path, transport).complete([ask(1, 2, range(2))])
    assert all(c.cached for c in cached[0])


def test_errors_never_show_the_api_key(loopback, tmp_path, api_key, transport):
    loopback.fail("401")
    with pytest.raises(LLMError) as info:
        make_client(loopback, tmp_path, transport).complete([ask(1, 2, range(1))])
    assert "not retryable" in str(info.value)
    assert loopback.auth_headers[-1] == f"Bearer {SECRET}"  # the server did get the key
    assert SECRET not in str(info.value)


def test_concurrency_limit_is_respected(loopback, tmp_path, api_key, transport):
    loopback.latency = 0.05
    client = make_client(loopback, tmp_path, transport, supports_n=False, concurrency=3)
    client.complete([ask(i, i, range(2)) for i in range(10)])
    assert loopback.requests == 20
    assert loopback.max_in_flight == 3


def test_money_from_litellm_prices_and_unknown_models_report_tokens(loopback, tmp_path, api_key,
                                                                    transport):
    priced = make_client(loopback, tmp_path, transport, model="openai/gpt-4o-mini")
    out = priced.complete([ask(5, 5, range(4))])
    usage = priced.usage["completion"]
    # gpt-4o-mini in LiteLLM's bundled cost map: $0.15 / 1M prompt, $0.60 / 1M completion
    expected = usage.prompt_tokens * 0.15e-6 + usage.completion_tokens * 0.60e-6
    assert usage.cost == pytest.approx(expected)
    assert sum(c.cost for c in out[0]) == pytest.approx(expected)
    assert sum(c.completion_tokens for c in out[0]) == pytest.approx(usage.completion_tokens)
    unknown = make_client(loopback, tmp_path / "other", transport)
    unknown.complete([ask(5, 5, range(2))])
    assert unknown.usage["completion"].cost is None


def test_ledger_sees_every_paid_response(loopback, tmp_path, api_key, transport):
    seen = []
    client = make_client(loopback, tmp_path, transport)
    client.ledger = lambda kind, usage: seen.append((kind, usage["completions"]))
    client.complete([ask(1, 1, range(3)), ask(2, 2, range(2))])
    client.complete([ask(1, 1, range(3))])
    assert sorted(seen) == [("completion", 2), ("completion", 3)]


def test_the_transports_share_the_cache(loopback, tmp_path, api_key):
    """Switching ``transport`` (allowed on --resume) pays nothing twice: the cache keys do
    not depend on how a request travels."""
    first = make_client(loopback, tmp_path, "litellm").complete([ask(2, 3, range(5))])
    served = loopback.requests
    again = make_client(loopback, tmp_path, "http").complete([ask(2, 3, range(7))])
    assert loopback.requests == served + 1 and loopback.n_values[-1] == 2
    assert [c.text for c in again[0][:5]] == [c.text for c in first[0]]


def test_http_transport_sends_the_model_name_params_and_headers(loopback, tmp_path, api_key):
    client = make_client(loopback, tmp_path, "http", model="openai/my-model",
                         params={"max_tokens": 50, "extra_headers": {"X-Team": "a"},
                                 "organization": "org-1", "extra_body": {"top_k": 3}})
    client.complete([ChatRequest([{"role": "user", "content": "What is 1 + 2?"}],
                                 {"temperature": 0.5}, range(3))])
    body = loopback.bodies[-1]
    assert (body["model"], body["n"], body["max_tokens"], body["temperature"],
            body["top_k"]) == ("my-model", 3, 50, 0.5, 3)
    assert not {"extra_headers", "organization", "extra_body"} & set(body)
    assert loopback.auth_headers[-1] == f"Bearer {SECRET}"
    headers = {k.lower(): v for k, v in loopback.headers[-1].items()}
    assert (headers["x-team"], headers["openai-organization"]) == ("a", "org-1")


def test_http_transport_serves_a_new_event_loop_each_time(loopback, api_key):
    """A user's ``asyncio.run`` per batch: each loop gets a client of its own, and the
    clients of closed loops are let go rather than kept (or reused on a dead loop)."""
    import asyncio

    from iapo_cli.llm import LiveSettings
    from iapo_cli.llm._http import HTTPTransport

    transport = HTTPTransport(LiveSettings(model="openai/x", api_base=loopback.url,
                                           transport="http"))
    for _ in range(3):
        reply = asyncio.run(transport.send([{"role": "user", "content": "What is 1 + 2?"}],
                                           {}, 2, 0))
        assert len(reply.texts) == 2
    assert len(transport._clients) == 1 and loopback.requests == 3
