"""The transport seam: errors classified once at the LiteLLM boundary, the registry, and the
client's cache, batching and retries over a transport written here."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from iapo_cli.llm import (
    ChatRequest,
    ClientSettings,
    CompletionCache,
    LiteLLMTransport,
    LiveSettings,
    LLMClient,
    LLMError,
    Reply,
    TransportError,
    classify_error,
    make_transport,
    register_transport,
    retry_delay,
)
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parents[2]


# -- classification at the LiteLLM boundary ----------------------------------------------


class ProviderFailure(Exception):
    """Looks like a LiteLLM error (status code, response headers) under a name that no
    classification by class name would know."""

    def __init__(self, message: str, status: int | None, headers: dict | None = None):
        super().__init__(message)
        self.status_code = status
        self.litellm_response_headers = headers


def test_429_with_retry_after_is_retryable_and_says_how_long():
    error = classify_error(ProviderFailure("slow down\nmore detail", 429,
                                           {"retry-after": "2.5"}))
    assert isinstance(error, TransportError)
    assert (error.retryable, error.status, error.retry_after) == (True, 429, 2.5)
    assert str(error) == "ProviderFailure 429: slow down"


@pytest.mark.parametrize("status", [500, 502, 503, 529, 408])
def test_server_errors_and_request_timeouts_are_retryable(status):
    error = classify_error(ProviderFailure("oops", status))
    assert error.retryable and error.status == status and error.retry_after is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retryable(status):
    assert not classify_error(ProviderFailure("bad", status, {"retry-after": "1"})).retryable


def test_the_class_name_plays_no_part():
    named_like_a_rate_limit = type("RateLimitError", (ProviderFailure,), {})
    assert not classify_error(named_like_a_rate_limit("bad request", 400)).retryable
    assert classify_error(TimeoutError("read timed out")).retryable
    assert classify_error(ConnectionResetError("peer went away")).retryable
    assert not classify_error(ValueError("no status at all")).retryable


def test_litellm_timeouts_and_connection_errors_are_retryable():
    from iapo_cli.llm import load_litellm

    litellm = load_litellm()
    timeout = litellm.Timeout("took too long", model="m", llm_provider="openai")
    connection = litellm.APIConnectionError("refused", llm_provider="openai", model="m")
    assert classify_error(timeout).retryable and classify_error(timeout).status == 408
    assert classify_error(connection).retryable


def test_unreadable_retry_after_is_ignored_and_secrets_are_scrubbed(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    error = classify_error(ProviderFailure(f"key {SECRET} refused", 429, {"retry-after": "soon"}))
    assert error.retry_after is None
    assert SECRET not in str(error) and "[redacted]" in str(error)


def test_retry_delay_honours_retry_after_up_to_the_cap():
    settings = ClientSettings("m", retry_base_delay=1.0, retry_max_delay=10.0)
    assert retry_delay(1, 3.0, settings) == 3.0
    assert retry_delay(1, 99.0, settings) == 10.0
    assert retry_delay(1, -1.0, settings) == 0.0
    assert 2.0 <= retry_delay(3, None, settings) <= 4.0  # base 1 s doubled twice, jittered
    assert retry_delay(20, None, settings) == 10.0


# -- registry -----------------------------------------------------------------------------


def test_models_without_a_registered_prefix_go_through_litellm():
    assert isinstance(make_transport(ClientSettings("openai/gpt-4o-mini")), LiteLLMTransport)
    assert isinstance(make_transport(ClientSettings("no-prefix")), LiteLLMTransport)


def test_a_registered_prefix_gets_its_own_transport(tmp_path):
    register_transport("test-scripted", lambda settings: ScriptedTransport(tag=settings.model))
    client = LLMClient(ClientSettings("test-scripted/x"), CompletionCache(tmp_path / "c"))
    assert isinstance(client.transport, ScriptedTransport)
    assert client.transport.tag == "test-scripted/x"
    assert client.complete([ask("hi", range(2))])[0][1].text == "hi#1"


# -- the client over a transport written here ---------------------------------------------


class ScriptedTransport:
    """Answers "<last message>#<slot>" per slot; ``failures`` are raised first, one per
    request; ``short`` caps how many texts one request returns."""

    def __init__(self, n: bool = True, prices=None, failures=(), short: int | None = None,
                 tag: str = ""):
        self.n, self._prices, self.failures = n, prices, list(failures)
        self.short, self.tag = short, tag
        self.calls: list[tuple[int, int]] = []  # (n, first slot) per request sent

    async def send(self, messages, decoding, n, first_slot) -> Reply:
        self.calls.append((n, first_slot))
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        count = min(n, self.short or n)
        texts = [f"{messages[-1]['content']}#{first_slot + i}" for i in range(count)]
        return Reply(texts, prompt_tokens=10, completion_tokens=3 * count, seconds=0.01)

    def supports_n(self) -> bool:
        return self.n

    def prices(self):
        return self._prices


def ask(text: str, slots) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], {"temperature": 0.5}, slots)


def client_over(transport, tmp_path, **settings) -> LLMClient:
    options = {"model": "test/scripted", "max_retries": 2, "retry_base_delay": 0.0,
               **settings}
    return LLMClient(ClientSettings(**options), CompletionCache(tmp_path / "cache"),
                     transport=transport)


def test_batches_of_max_n_then_cache_hits(tmp_path):
    transport = ScriptedTransport()
    client = client_over(transport, tmp_path, max_n=4)
    out = client.complete([ask("q", range(10))])
    assert [c.text for c in out[0]] == [f"q#{s}" for s in range(10)]
    assert sorted(transport.calls) == [(2, 8), (4, 0), (4, 4)]
    again = client_over(ScriptedTransport(), tmp_path, max_n=4)
    second = again.complete([ask("q", range(12))])
    assert [c.text for c in second[0]] == [f"q#{s}" for s in range(12)]
    assert again.transport.calls == [(2, 10)]  # only the two missing slots were sent
    assert [c.cached for c in second[0]] == [True] * 10 + [False] * 2
    usage = again.usage["completion"]
    assert (usage.cached, usage.fresh, usage.requests) == (10, 2, 1)


def test_without_n_one_request_per_slot_and_short_replies_are_topped_up(tmp_path):
    single = ScriptedTransport(n=False)
    client_over(single, tmp_path / "a").complete([ask("q", [3, 7])])
    assert sorted(single.calls) == [(1, 3), (1, 7)]
    short = ScriptedTransport(short=2)
    out = client_over(short, tmp_path / "b").complete([ask("q", range(5))])
    assert short.calls == [(5, 0), (3, 2), (1, 4)]
    assert [c.text for c in out[0]] == [f"q#{s}" for s in range(5)]


def test_settings_override_the_transports_n_support(tmp_path):
    transport = ScriptedTransport(n=True)
    client = client_over(transport, tmp_path, supports_n=False)
    assert not client.supports_n()
    client.complete([ask("q", range(3))])
    assert len(transport.calls) == 3


def test_retryable_transport_errors_are_retried_and_counted(tmp_path):
    failures = [TransportError("busy", retryable=True, status=503),
                TransportError("throttled", retryable=True, status=429, retry_after=0.3)]
    transport = ScriptedTransport(failures=failures)
    client = client_over(transport, tmp_path)
    start = time.perf_counter()
    out = client.complete([ask("q", range(3))])
    assert time.perf_counter() - start >= 0.3  # the provider's retry-after was honoured
    assert [c.text for c in out[0]] == ["q#0", "q#1", "q#2"]
    usage = client.usage["completion"]
    assert (usage.requests, usage.failed_requests, usage.fresh) == (3, 2, 3)
    assert transport.calls == [(3, 0)] * 3  # the same request each time


def test_retry_after_is_capped_by_retry_max_delay(tmp_path):
    failures = [TransportError("throttled", retryable=True, status=429, retry_after=60.0)]
    client = client_over(ScriptedTransport(failures=failures), tmp_path, retry_max_delay=0.05)
    start = time.perf_counter()
    client.complete([ask("q", range(1))])
    assert time.perf_counter() - start < 5


def test_not_retryable_and_exhausted_errors_stop_with_the_pinned_texts(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    refused = ScriptedTransport(failures=[TransportError(f"Denied 401: {SECRET}",
                                                         retryable=False, status=401)])
    with pytest.raises(LLMError) as info:
        client_over(refused, tmp_path / "a").complete([ask("q", range(1))])
    assert str(info.value).startswith("test/scripted: request failed (not retryable): Denied 401")
    assert SECRET not in str(info.value)
    assert len(refused.calls) == 1
    busy = ScriptedTransport(failures=[TransportError("Busy 503: later", retryable=True,
                                                      status=503)] * 3)
    with pytest.raises(LLMError, match=r"request failed after 3 attempts: Busy 503: later$"):
        client_over(busy, tmp_path / "b").complete([ask("q", range(1))])
    assert len(busy.calls) == 3


def test_an_empty_reply_is_retried_like_a_malformed_body(tmp_path):
    class Empty(ScriptedTransport):
        async def send(self, messages, decoding, n, first_slot):
            self.calls.append((n, first_slot))
            if len(self.calls) == 1:
                return Reply([], 0, 0, 0.0)
            return await super().send(messages, decoding, n, first_slot)

    transport = Empty()
    client = client_over(transport, tmp_path)
    assert [c.text for c in client.complete([ask("q", range(2))])[0]] == ["q#0", "q#1"]
    assert client.usage["completion"].failed_requests == 1


def test_prices_and_the_ledger_come_from_the_replies(tmp_path):
    seen = []
    priced = client_over(ScriptedTransport(prices=(1e-3, 2e-3)), tmp_path / "a")
    priced.ledger = lambda kind, usage: seen.append(usage)
    out = priced.complete([ask("q", range(2))])
    assert priced.price_known()
    assert priced.usage["completion"].cost == pytest.approx(10 * 1e-3 + 6 * 2e-3)
    assert sum(c.cost for c in out[0]) == pytest.approx(10 * 1e-3 + 6 * 2e-3)
    assert [s["completions"] for s in seen] == [2] and seen[0]["prompt_tokens"] == 10
    unpriced = client_over(ScriptedTransport(), tmp_path / "b")
    unpriced.complete([ask("q", range(2))])
    assert not unpriced.price_known() and unpriced.usage["completion"].cost is None


# -- import direction ---------------------------------------------------------------------


def test_llm_never_imports_the_simulator():
    """Every import statement of the llm package, function-level ones included (a runtime
    check in a fresh interpreter would cost a LiteLLM import, ~3 s, for the same answer)."""
    import ast

    for path in (ROOT / "iapo_cli" / "llm").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
                names += [f"{names[0]}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("..sim", "iapo_cli.sim")) and name != "...sim", \
                    f"{path.name} imports {name}"


def test_litellm_is_imported_only_by_its_transport():
    importers = sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / "iapo_cli").rglob("*.py")
        if any(line.strip().startswith(("import litellm", "from litellm"))
               for line in path.read_text(encoding="utf-8").splitlines()))
    assert importers == ["iapo_cli/llm/_litellm.py"]


# -- two clients on one cache (issue 10, item 4) --------------------------------------------


class SlowTransport(ScriptedTransport):
    """Takes ``delay`` seconds per request and tags each text with its own name, so a
    test sees whose sample a client was handed."""

    def __init__(self, name: str, delay: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.name, self.delay = name, delay

    async def send(self, messages, decoding, n, first_slot) -> Reply:
        await asyncio.sleep(self.delay)
        reply = await super().send(messages, decoding, n, first_slot)
        return Reply([f"{t}@{self.name}" for t in reply.texts], reply.prompt_tokens,
                     reply.completion_tokens, reply.seconds)


def test_two_clients_sharing_a_cache_pay_once_per_slot_and_see_the_same_samples(tmp_path):
    import threading

    requests = [ask(f"q{i}", range(6)) for i in range(12)]
    transports = [SlowTransport("a"), SlowTransport("b")]
    clients = [client_over(t, tmp_path, max_n=4, concurrency=3) for t in transports]
    results: dict[int, list] = {}

    def work(k: int) -> None:
        results[k] = clients[k].complete(requests)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    paid = sum(n for t in transports for n, _ in t.calls)
    assert paid == 12 * 6  # every slot paid for exactly once, by one client or the other
    texts = [[[c.text for c in row] for row in results[k]] for k in (0, 1)]
    assert texts[0] == texts[1]  # the waiting client was handed the paying one's samples
    fresh = [c.usage["completion"].fresh for c in clients]
    cached = [c.usage["completion"].cached for c in clients]
    assert sum(fresh) == 72 and [f + c for f, c in zip(fresh, cached, strict=True)] == [72, 72]
    assert len(CompletionCache(tmp_path / "cache")) == 72  # every claim released


def test_a_waiting_client_takes_over_a_slot_whose_owner_died(tmp_path):
    import socket

    from iapo_cli.llm._cache import MINE

    transport = ScriptedTransport()
    client = client_over(transport, tmp_path)
    request = ask("q", range(3))
    keys = [f"{client.fingerprint(request)}:{s}" for s in range(3)]
    ghost = f"{socket.gethostname()}:999999999:dead"  # no such process
    assert CompletionCache(tmp_path / "cache").reserve(keys, ghost, 300) == [MINE] * 3
    start = time.perf_counter()
    out = client.complete([request])
    assert time.perf_counter() - start < 2  # not the claim's 300 s expiry
    assert [c.text for c in out[0]] == ["q#0", "q#1", "q#2"] and transport.calls == [(3, 0)]


def test_a_slot_claimed_by_a_live_owner_is_awaited_not_paid(tmp_path):
    import threading

    from iapo_cli.llm._cache import MINE, new_owner

    transport = ScriptedTransport()
    client = client_over(transport, tmp_path)
    request = ask("q", range(2))
    keys = [f"{client.fingerprint(request)}:{s}" for s in range(2)]
    other, owner = CompletionCache(tmp_path / "cache"), new_owner()  # this process: alive
    assert other.reserve(keys, owner, 300) == [MINE, MINE]

    def answer_later() -> None:
        time.sleep(0.3)
        for i, key in enumerate(keys):
            other.put(key, {"text": f"theirs{i}", "prompt_tokens": 1.0,
                            "completion_tokens": 1.0, "cost": None, "latency": 0.1})
        other.release(keys, owner)

    thread = threading.Thread(target=answer_later)
    thread.start()
    out = client.complete([request])
    thread.join()
    assert [c.text for c in out[0]] == ["theirs0", "theirs1"] and transport.calls == []
    assert client.usage["completion"].cached == 2


# -- a server that ignores n (item 17) ------------------------------------------------------


class CountingTransport(ScriptedTransport):
    """Records the largest number of requests in flight."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.in_flight = self.max_in_flight = 0

    async def send(self, messages, decoding, n, first_slot) -> Reply:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.02)
            return await super().send(messages, decoding, n, first_slot)
        finally:
            self.in_flight -= 1


def test_a_server_ignoring_n_is_noticed_once_and_the_rest_goes_out_concurrently(tmp_path):
    transport = CountingTransport(short=1)
    client = client_over(transport, tmp_path, concurrency=8)
    out = client.complete([ask("q", range(6))])
    assert [c.text for c in out[0]] == [f"q#{s}" for s in range(6)]
    assert transport.calls[0] == (6, 0)
    assert sorted(transport.calls[1:]) == [(1, s) for s in range(1, 6)]
    assert transport.max_in_flight == 5  # the five missing slots at once, not one by one
    assert len(client.notes) == 1 and "ignores n" in client.notes[0]
    assert not client.supports_n()
    client.complete([ask("r", range(3))])  # from now on: single requests from the start
    assert sorted(transport.calls[6:]) == [(1, 0), (1, 1), (1, 2)]
    assert len(client.notes) == 1


# -- Retry-After beyond retry_max_delay (item 13) -------------------------------------------


def test_retry_after_is_honoured_up_to_retry_after_max():
    settings = LiveSettings("m", retry_max_delay=60.0, retry_after_max=600.0)
    assert retry_delay(1, 120.0, settings) == 120.0
    assert retry_delay(1, 3600.0, settings) == 600.0
    assert retry_delay(30, None, settings) == 60.0  # backoff keeps its own cap


def test_the_client_waits_a_retry_after_longer_than_retry_max_delay(tmp_path):
    failures = [TransportError("throttled", retryable=True, status=429, retry_after=0.3)]
    settings = LiveSettings("test/scripted", retry_base_delay=0.0, retry_max_delay=0.01,
                            retry_after_max=5.0)
    client = LLMClient(settings, CompletionCache(tmp_path / "cache"),
                       transport=ScriptedTransport(failures=failures))
    start = time.perf_counter()
    client.complete([ask("q", range(1))])
    assert time.perf_counter() - start >= 0.3


# -- requests on record before they are sent (item 6) ---------------------------------------


class RecordingLedger:
    def __init__(self):
        self.entries: list[dict] = []

    def __call__(self, kind, usage):
        self.entries.append({"kind": kind, **usage})

    def request(self, kind, event):
        self.entries.append({"kind": kind, **event})


def test_requests_are_on_record_before_they_are_sent(tmp_path):
    from iapo_cli.artifacts import ledger_totals, unreceived_totals

    ledger = RecordingLedger()

    class Watching(ScriptedTransport):
        async def send(self, messages, decoding, n, first_slot):
            assert ledger.entries[-1]["event"] == "sent"  # written before this call
            return await super().send(messages, decoding, n, first_slot)

    failures = [TransportError("Timeout: read timed out", retryable=True, maybe_billed=True),
                TransportError("Busy 503", retryable=True, status=503)]
    client = client_over(Watching(failures=failures), tmp_path, max_n=2)
    client.ledger = ledger
    client.complete([ask("q", range(3))])
    events = [e.get("event", "paid") for e in ledger.entries]
    assert events.count("sent") == 4 and events.count("failed") == 2
    assert events.count("paid") == 2
    totals = ledger_totals(ledger.entries)
    assert totals["completion"]["completions"] == 3 and totals["completion"]["requests"] == 2
    # the timed-out request may have been served; the 503 was answered, so it was not
    assert unreceived_totals(ledger.entries) == {"completion": {"requests": 1,
                                                                "completions": 2}}


def test_a_request_that_never_came_back_stays_possibly_billed():
    from iapo_cli.artifacts import unreceived_totals

    entries = [{"kind": "completion", "event": "sent", "request": "a", "asked": 8},
               {"kind": "completion", "completions": 8, "request": "a"},
               {"kind": "judge", "event": "sent", "request": "b", "asked": 1},
               {"kind": "completion", "event": "sent", "request": "c", "asked": 4}]
    assert unreceived_totals(entries) == {"judge": {"requests": 1, "completions": 1},
                                          "completion": {"requests": 1, "completions": 4}}


# -- keys (items 7 and 16) ------------------------------------------------------------------


@pytest.mark.parametrize("error", [
    ProviderFailure("Missing credentials. Please pass an `api_key`", 500),
    ProviderFailure("forbidden", 403),
    ProviderFailure("Incorrect API key provided", 400),
])
def test_authentication_failures_are_never_retried(error):
    assert not classify_error(error).retryable


def test_litellm_authentication_errors_are_never_retried_and_timeouts_may_be_billed():
    from iapo_cli.llm import load_litellm

    litellm = load_litellm()
    auth = litellm.AuthenticationError("no key", llm_provider="openai", model="m")
    assert not classify_error(auth).retryable
    timeout = litellm.Timeout("took too long", model="m", llm_provider="openai")
    assert classify_error(timeout).maybe_billed
    assert not classify_error(ProviderFailure("busy", 503)).maybe_billed


def test_known_key_variables_agree_with_litellm(monkeypatch):
    from iapo_cli.llm import load_litellm
    from iapo_cli.llm._litellm import KEY_VARIABLES

    litellm = load_litellm()
    for variables in KEY_VARIABLES.values():
        for name in variables:
            monkeypatch.delenv(name, raising=False)
    for provider, variables in KEY_VARIABLES.items():
        found = litellm.validate_environment(model=f"{provider}/some-model")
        assert found["missing_keys"] == list(variables), provider


def test_the_missing_key_is_named_and_an_api_base_server_gets_a_placeholder(monkeypatch):
    from iapo_cli.llm._litellm import PLACEHOLDER_KEY

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_LOCAL_KEY", raising=False)
    remote = LiteLLMTransport(ClientSettings("openai/gpt-4o-mini"))
    assert remote.missing_environment() == ["OPENAI_API_KEY"] and remote._api_key() is None
    local = LiteLLMTransport(ClientSettings("openai/x", api_base="http://127.0.0.1:1/v1"))
    assert local.missing_environment() == [] and local._api_key() == PLACEHOLDER_KEY
    named = LiteLLMTransport(LiveSettings("openai/x", api_base="http://127.0.0.1:1/v1",
                                          api_key_env="MY_LOCAL_KEY"))
    assert named.missing_environment() == ["MY_LOCAL_KEY"]
    monkeypatch.setenv("MY_LOCAL_KEY", SECRET)
    assert named.missing_environment() == [] and named._api_key() == SECRET
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert LiteLLMTransport(ClientSettings("openai/x", api_base="http://h/v1"))._api_key() \
        is None  # the configured key is used, not the placeholder


def test_equal_requests_in_one_call_pay_once_per_slot(tmp_path):
    # e.g. a judge asked to rate two equal completions of one question: one slot each time
    transport = ScriptedTransport()
    client = client_over(transport, tmp_path)
    out = client.complete([ask("q", range(3)), ask("q", range(2)), ask("p", [0])])
    assert sum(n for n, _ in transport.calls) == 4  # q#0..2 and p#0, not q#0..1 again
    assert [c.text for c in out[1]] == ["q#0", "q#1"] == [c.text for c in out[0][:2]]
    usage = client.usage["completion"]
    assert (usage.completions, usage.fresh, usage.cached) == (6, 4, 2)
    assert len(CompletionCache(tmp_path / "cache")) == 4  # no claim left behind


def test_a_retryable_failure_after_ctrl_c_is_an_interruption_not_a_failure(tmp_path):
    """Ctrl-C while a request is in flight: its retryable failure (a 429, a timeout) is not
    retried, and the call ends as interrupted (KeyboardInterrupt: status interrupted, exit
    130), not as a provider failure (LLMError: status failed, exit 1)."""
    import os
    import signal

    class InterruptedThenThrottled(ScriptedTransport):
        async def send(self, messages, decoding, n, first_slot) -> Reply:
            self.calls.append((n, first_slot))
            if len(self.calls) == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C meanwhile
                await asyncio.sleep(0.05)
                raise TransportError("throttled", retryable=True, status=429)
            return await super().send(messages, decoding, n, first_slot)

    transport = InterruptedThenThrottled()
    client = client_over(transport, tmp_path, concurrency=1, max_retries=5)
    with pytest.raises(KeyboardInterrupt):
        client.complete([ask("a", range(2)), ask("b", range(2))])
    assert transport.calls == [(2, 0)]  # no retry and nothing new was sent
    assert len(CompletionCache(tmp_path / "cache")) == 0  # no claim left behind


def test_a_given_price_replaces_the_transports_and_prompt_tokens_are_bounded(tmp_path):
    """Issue 11: a config's price wins over LiteLLM's table in every cost the client
    reports; LiteLLM counts prompt tokens offline, with a margin over a word count."""
    from iapo_cli.llm import CompletionCache, LLMClient

    listed = LLMClient(LiveSettings("openai/gpt-4o-mini"), CompletionCache(tmp_path))
    given = LLMClient(LiveSettings("openai/gpt-4o-mini", price=(1e-6, 3e-6)),
                      CompletionCache(tmp_path))
    assert listed.prices() is not None and listed.prices() != (1e-6, 3e-6)
    assert given.prices() == (1e-6, 3e-6)
    messages = [{"role": "system", "content": "be brief"},
                {"role": "user", "content": "What is 12 + 30? Answer: <n> " * 20}]
    words = sum(len(m["content"].split()) for m in messages)
    assert given.prompt_tokens_bound(messages) >= words
