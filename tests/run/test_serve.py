"""``iapo serve``'s app against the two-model loopback server, called as users call it: the
official ``openai`` client and LiteLLM (issue 12's service bars)."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

import httpx
import pytest

from iapo_cli.run import Policy, create_app
from tests.run.money_project import trained_money_run

if TYPE_CHECKING:  # imported in the tests that call it: collecting the suite need not
    import openai


class AppServer:
    """``create_app(run_dir)`` on uvicorn in a thread, on a free port."""

    def __init__(self, run_dir, **kwargs):
        import uvicorn

        self.app = create_app(run_dir, **kwargs)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive()
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with trained_money_run(tmp_path_factory.mktemp("serve"), seed=7) as (upstream, run):
        with AppServer(run) as app:
            yield app, upstream, run


def _client(app: AppServer) -> openai.OpenAI:
    import openai

    return openai.OpenAI(base_url=f"{app.url}/v1", api_key="anything", max_retries=0)


def test_the_openai_client_gets_the_majority_answer_and_summed_usage(served):
    app, upstream, run = served
    arm = Policy.load(run).arm("frugal")
    before = upstream.completions
    reply = _client(app).chat.completions.create(
        model="iapo/frugal", messages=[{"role": "system", "content": "ignored"},
                                       {"role": "user", "content": "What is 31 + 11?"}])
    assert upstream.completions == before + arm.n
    info = reply.model_extra["iapo"]
    assert (info["arm"], info["n"], info["strategy"]) == (arm.arm, arm.n, "majority_vote")
    assert info["samples"] == arm.samples > 0
    # the same N samples, from the cache: their majority is the reply
    answer = arm.answer({"question": "What is 31 + 11?"})
    assert upstream.completions == before + arm.n and answer.cached == arm.n
    assert reply.choices[0].message.content == answer.answer
    assert reply.choices[0].message.role == "assistant"
    assert info["vote_share"] == answer.vote_share and info["tied"] == answer.tied
    assert reply.usage.prompt_tokens == answer.prompt_tokens
    assert reply.usage.completion_tokens == answer.completion_tokens
    assert reply.usage.total_tokens == answer.prompt_tokens + answer.completion_tokens
    votes = Counter(arm._backend.answers(
        [type("C", (), {"text": t})() for t in answer.completions]))
    assert votes[answer.answer] == max(votes.values())
    models = _client(app).models.list()
    assert [m.id for m in models.data] == ["iapo/accuracy-first", "iapo/frugal",
                                           "iapo/capped"]


def test_litellm_as_the_client(served):
    from iapo_cli.llm import load_litellm

    app, upstream, run = served
    litellm = load_litellm()
    reply = litellm.completion(model="openai/iapo/accuracy-first", api_base=f"{app.url}/v1",
                               api_key="anything", num_retries=0,
                               messages=[{"role": "user", "content": "What is 5 + 8?"}])
    arm = Policy.load(run).arm("accuracy-first")
    answer = arm.answer({"question": "What is 5 + 8?"})
    assert reply.choices[0].message.content == answer.answer
    assert reply.usage.total_tokens == answer.prompt_tokens + answer.completion_tokens
    weighted = litellm.completion(model="openai/iapo/weights:correct=1,cost=0.5",
                                  api_base=f"{app.url}/v1", api_key="anything",
                                  num_retries=0,
                                  messages=[{"role": "user", "content": "What is 5 + 8?"}])
    assert weighted.choices[0].message.content


@pytest.mark.parametrize(("call", "status", "message"), [
    ({"model": "iapo/nope"}, 404, "unknown model 'iapo/nope': this server answers "
                                  "iapo/accuracy-first, iapo/frugal, iapo/capped or "
                                  "iapo/weights:<objective>=<weight>,..."),
    ({"model": "iapo/weights:kindness=1"}, 404,
     "unknown model 'iapo/weights:kindness=1': unknown objective 'kindness' (objectives: "
     "correct, cost)"),
    ({"model": "iapo/frugal", "messages": []}, 400, "'messages' must be a non-empty list"),
    ({"model": "iapo/frugal", "messages": [{"role": "system", "content": "x"}]}, 400,
     "no user message to answer"),
    ({"model": "iapo/frugal", "stream": True}, 400, "streaming is not supported"),
])
def test_errors_are_openai_error_bodies_with_their_status(served, call, status, message):
    app, upstream, _ = served
    body = {"messages": [{"role": "user", "content": "What is 1 + 1?"}], **call}
    requests = upstream.requests
    reply = httpx.post(f"{app.url}/v1/chat/completions", json=body, timeout=30)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["message"] == message and error["type"] == "invalid_request_error"
    assert upstream.requests == requests
    if status == 404:  # the official client raises its typed error
        import openai

        with pytest.raises(openai.NotFoundError):
            _client(app).chat.completions.create(model=call["model"],
                                                 messages=body["messages"])


def test_a_body_that_is_not_json_is_400(served):
    app, _, _ = served
    reply = httpx.post(f"{app.url}/v1/chat/completions", content=b"{nope", timeout=30)
    assert reply.status_code == 400 and reply.json()["error"]["message"] == \
        "the body is not JSON"
    assert httpx.get(f"{app.url}/health").json()["status"] == "ok"


def test_a_provider_failure_is_502_without_the_upstream_url_or_key(served):
    app, upstream, _ = served
    upstream.fail_always = "500"
    try:
        reply = httpx.post(f"{app.url}/v1/chat/completions", timeout=60, json={
            "model": "iapo/frugal",
            "messages": [{"role": "user", "content": "What is 400 + 1?"}]})
    finally:
        upstream.fail_always = None
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["type"] == "upstream_error"
    assert error["message"].startswith("the model provider failed")
    text = reply.text
    assert upstream.url not in text and "127.0.0.1" not in text and "sk-test" not in text
    # the server keeps serving
    ok = httpx.post(f"{app.url}/v1/chat/completions", timeout=60, json={
        "model": "iapo/frugal", "messages": [{"role": "user", "content": "What is 400 + 1?"}]})
    assert ok.status_code == 200


def test_50_concurrent_requests_are_all_answered(served):
    app, upstream, _ = served
    client = _client(app)

    def ask(i: int) -> str:
        reply = client.chat.completions.create(
            model="iapo/frugal" if i % 2 else "iapo/accuracy-first",
            messages=[{"role": "user", "content": f"What is {i} + 100?"}])
        return reply.choices[0].message.content

    upstream.latency = 0.02
    try:
        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(ask, range(50)))
    finally:
        upstream.latency = 0.0
    assert len(answers) == 50 and all(isinstance(a, str) for a in answers)
