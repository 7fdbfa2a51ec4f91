"""A loopback HTTP server speaking the OpenAI chat-completions protocol, for tests.

It answers arithmetic questions ("What is 3 + 4?") found in the last user message: right
with a probability that depends on the system prompt, otherwise off by a small amount, as
``Answer: <number>``. It honours ``n``, counts what it serves, records the largest number of
requests in flight, and plays a script of injected failures (one entry per request):
``"429"`` (with ``Retry-After``), ``"500"``, ``"timeout"`` (answers after ``hang`` seconds),
``"malformed"`` (a 200 with a body that is not JSON), ``"401"`` (an error that, like a
careless proxy, echoes the Authorization header) or ``None`` (serve normally). A request
whose system message mentions "grader" gets a judge's reply, ``Rating: <1..10>``. With
``ignore_n`` it answers every request with one choice, whatever ``n`` asked for (as some
servers do).

Several models (``models``: the request's ``model`` -> ``LoopbackModel``): each answers
right with its own probability, writes answers of its own length, and honours ``n`` or not
(``supports_n``: without it one choice per request). Usage is honest: the tokenizer is
whitespace words (a message's prompt tokens are the words of its content, counted once per
request; a completion's the words of its text; ``max_tokens`` cuts a text to that many
words), and ``served[model]`` meters what each model served (requests, completions,
prompt_tokens, completion_tokens), so a test can compute the server side's dollars.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

_QUESTION = re.compile(r"(-?\d+)\s*\+\s*(-?\d+)")


class _Server(ThreadingHTTPServer):
    # the default listen backlog (5) drops connections opened at once by a client at high
    # concurrency, which then reconnects after a delay: latency the server did not ask for
    request_queue_size = 256


@dataclass(frozen=True)
class LoopbackModel:
    """A model the server answers as: right with probability ``accuracy`` (whatever the
    prompt), ``words`` (low, high) reasoning words per answer, ``supports_n``."""

    accuracy: float
    words: tuple[int, int] = (3, 12)
    supports_n: bool = True


class LoopbackServer:
    def __init__(self, seed: int = 0, latency: float = 0.0, hang: float = 2.0,
                 retry_after: str = "0", ignore_n: bool = False,
                 models: dict[str, LoopbackModel] | None = None,
                 seed_by_content: bool = False, inline: bool = False):
        self.seed, self.latency, self.hang, self.retry_after = seed, latency, hang, retry_after
        self.ignore_n = ignore_n
        # answers on one line with the reasoning ("Working: step step. Answer: 7"), as
        # many models write them, instead of an answer line of their own
        self.inline = inline
        # answers seeded by the request's content and how often it came before, instead
        # of its arrival number: a run's answers then do not depend on how its concurrent
        # requests happen to interleave (as long as equal requests are not in flight at once)
        self.seed_by_content = seed_by_content
        self._seen: dict[str, int] = {}
        self.models = dict(models or {})
        self.served: dict[str, dict[str, int]] = {}  # per model: what it served
        self.script: deque = deque()
        self.fail_always: str | None = None
        self._lock = threading.Lock()
        self.requests = 0  # every HTTP request received
        self.served_requests = 0  # requests answered with completions
        self.completions = 0  # completions in those answers
        self.n_values: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_headers: list[str] = []
        self.headers: list[dict] = []  # every request's headers
        self.bodies: list[dict] = []
        self.first_request_at: float | None = None  # time.time() of the first request
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        # a client killed mid-request resets its connection: expected here, not an error
        self._httpd.handle_error = lambda request, address: None
        # shutdown() waits for the serving loop to look up: every 0.5 s by default, which
        # made every test with a server half a second longer
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail(self, *actions: str | None) -> None:
        """Queue failures for the next requests, in order."""
        self.script.extend(actions)

    def _next_action(self) -> str | None:
        with self._lock:
            if self.script:
                return self.script.popleft()
            return self.fail_always

    def answer(self, body: dict, index: int) -> str:
        messages = body.get("messages", [])
        system = " ".join(m["content"] for m in messages if m.get("role") == "system")
        user = [m["content"] for m in messages if m.get("role") == "user"][-1]
        if "grader" in system:
            return f"Looks fine.\nRating: {1 + len(user) % 10}"
        match = _QUESTION.search(user)
        gold = int(match.group(1)) + int(match.group(2)) if match else 0
        model = self.models.get(body.get("model"))
        if model is not None:
            rng = np.random.default_rng([self.seed, index])
            right = rng.random() < model.accuracy
            value = gold if right else gold + int(rng.integers(1, 4))
            words = " ".join(["step"] * int(rng.integers(model.words[0], model.words[1] + 1)))
            return f"Working: {words}.{' ' if self.inline else chr(10)}Answer: {value}"
        skill = int(hashlib.sha256(system.encode()).hexdigest(), 16) % 100 / 100
        rng = np.random.default_rng([self.seed, index])
        value = gold if rng.random() < 0.3 + 0.6 * skill else gold + int(rng.integers(1, 4))
        words = " ".join(["step"] * int(rng.integers(3, 12)))
        return f"Working: {words}.{' ' if self.inline else chr(10)}Answer: {value}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as separate writes: without TCP_NODELAY, Nagle's
            # algorithm holds the second back until the client's delayed ACK (~40 ms)
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    if server.first_request_at is None:
                        server.first_request_at = time.time()
                    server.requests += 1
                    index = server.requests
                    if server.seed_by_content:
                        key = hashlib.sha256(json.dumps(
                            [body.get("model"), body.get("messages"),
                             body.get("temperature")], sort_keys=True).encode()).hexdigest()
                        server._seen[key] = server._seen.get(key, 0) + 1
                        index = int(key[:12], 16) * 1000 + server._seen[key]
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                    server.headers.append(dict(self.headers))
                    server.bodies.append(body)
                try:
                    self._respond(body, index)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, body: dict, index: int) -> None:
                action = server._next_action()
                if server.latency:
                    time.sleep(server.latency)
                if action == "429":
                    error = {"error": {"message": "rate limited", "type": "rate_limit"}}
                    self._send(429, json.dumps(error).encode(),
                               {"Retry-After": server.retry_after})
                    return
                if action == "500":
                    error = {"error": {"message": "boom", "type": "server_error"}}
                    self._send(500, json.dumps(error).encode())
                    return
                if action == "401":
                    echo = self.headers.get("Authorization", "")
                    error = {"error": {"message": f"invalid key in '{echo}'", "type": "auth"}}
                    self._send(401, json.dumps(error).encode())
                    return
                if action == "timeout":
                    time.sleep(server.hang)
                if action == "malformed":
                    self._send(200, b"{not json")
                    return
                model = server.models.get(body.get("model"))
                n = 1 if server.ignore_n or model is not None and not model.supports_n else int(
                    body.get("n") or 1)
                texts = [server.answer(body, index * 1000 + i) for i in range(n)]
                cap = body.get("max_completion_tokens") or body.get("max_tokens")
                reasons = ["stop"] * len(texts)
                if cap is not None:  # a provider stops a completion at max_tokens
                    reasons = ["length" if len(t.split()) > int(cap) else "stop"
                               for t in texts]
                    texts = [" ".join(t.split()[: int(cap)]) if len(t.split()) > int(cap)
                             else t for t in texts]
                prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
                completion_tokens = sum(len(t.split()) for t in texts)
                payload = {
                    "id": f"chatcmpl-{index}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "loopback"),
                    "choices": [{"index": i, "finish_reason": reason,
                                 "message": {"role": "assistant", "content": t}}
                                for i, (t, reason) in enumerate(zip(texts, reasons, strict=True))],
                    "usage": {"prompt_tokens": prompt_tokens,
                              "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                }
                with server._lock:
                    server.served_requests += 1
                    server.completions += n
                    server.n_values.append(n)
                    meter = server.served.setdefault(str(body.get("model")), {
                        "requests": 0, "completions": 0, "prompt_tokens": 0,
                        "completion_tokens": 0})
                    meter["requests"] += 1
                    meter["completions"] += n
                    meter["prompt_tokens"] += prompt_tokens
                    meter["completion_tokens"] += completion_tokens
                self._send(200, json.dumps(payload).encode())

        return Handler
