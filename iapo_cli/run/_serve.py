"""``iapo serve``: a trained run's policy behind an OpenAI-compatible endpoint.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``.

* ``model`` names the context: ``iapo/<context>`` (a trained one; ``/v1/models`` lists
  them) or ``iapo/weights:<name>=<w>,...`` (weights of a context that was not trained,
  chosen from the run's pulls, e.g. ``iapo/weights:correct=1,cost=0.2``); the ``iapo/``
  prefix may be left out.
* The template's input: the last user message fills the template's one field; a template
  with several fields takes them from ``fields`` in the body (an object of strings; with
  the official client, ``extra_body={"fields": {...}}``), which also overrides the message.
* The reply: one assistant message holding the strategy's answer (majority voting's
  answer, Best-of-N's chosen completion); ``usage`` sums the N completions (cached ones
  as first billed); ``iapo`` (and the ``x-iapo-arm`` header) say which arm answered, with
  N, the vote share or score, the tie flag, cached completions and USD.
* Errors are OpenAI-style bodies ``{"error": {"message", "type", "param", "code"}}``: an
  unknown context 404, a bad body 400, a choice the run's data cannot support 422, a
  provider failure 502 (its message never names the upstream URL or a key).

Requests are answered through the run's cached client (deployment sample slots: asking
the same question again is served from the cache). One dispatcher thread sends every
request waiting at the time together (each model within its configured concurrency);
at most ``max_concurrency`` requests are handled at once, the others wait their turn.
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import errors
from ..errors import ConfigError
from ..llm import LLMError, complete_together
from ._deploy import DEPLOYABLE, Answer, DeployedArm, Policy
from ._reweigh import UnsupportedWeights

MODEL_PREFIX = "iapo/"
WEIGHTS_PREFIX = "weights:"


class ServeStopped(errors.Interrupted):
    """The server was stopped by SIGTERM or Ctrl-C (exit 130) after finishing the requests
    in flight."""

    def __init__(self, answered: int):
        super().__init__(f"stopped after answering {answered} requests (the requests in "
                         f"flight were finished)")


class RequestError(Exception):
    """A request the server answers with an OpenAI-style error body."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = (
            status, message, kind, param, code)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


@dataclass
class _Job:
    arm: DeployedArm
    row: dict
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


class Dispatcher:
    """Answers rows on one worker thread (the clients keep per-call state): every job
    waiting when the thread is free goes out in one ``complete_together`` call."""

    def __init__(self):
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="iapo-dispatcher",
                                        daemon=True)
        self.answered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish the jobs queued so far, then end the thread."""
        self._jobs.put(None)
        self._thread.join()

    async def answer(self, arm: DeployedArm, row: dict) -> Answer:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put(_Job(arm, row, loop, future))
        return await future

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            batch = [first]
            while True:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            jobs = [job for job in batch if job is not None]
            if jobs:
                self._serve(jobs)
            if None in batch:
                return

    def _serve(self, jobs: list[_Job]) -> None:
        by_client: dict[int, tuple[object, list[tuple[_Job, object]]]] = {}
        for job in jobs:
            try:
                request = job.arm.request(job.row)
            except ConfigError as exc:
                _settle(job, error=RequestError(400, exc.detail, param="messages"))
                continue
            client = job.arm.client
            by_client.setdefault(id(client), (client, []))[1].append((job, request))
        groups = list(by_client.values())
        if not groups:
            return
        try:
            replies = complete_together([(client, [r for _, r in items])
                                         for client, items in groups])
        except LLMError:
            # one request failed: what the others received is cached, so asking each job
            # on its own now costs nothing more and isolates the failure
            for client, items in groups:
                for job, request in items:
                    self._one(job, client, request)
            return
        for (_, items), completions in zip(groups, replies, strict=True):
            for (job, _), answer_completions in zip(items, completions, strict=True):
                self._aggregate(job, answer_completions)

    def _one(self, job: _Job, client, request) -> None:
        try:
            completions = client.complete([request])[0]
        except LLMError as exc:
            _settle(job, error=_upstream(exc))
            return
        self._aggregate(job, completions)

    def _aggregate(self, job: _Job, completions) -> None:
        try:
            answer = job.arm.aggregate(job.row, completions)
        except LLMError as exc:  # a judge's rating failed
            _settle(job, error=_upstream(exc))
            return
        except ConfigError as exc:
            _settle(job, error=RequestError(400, exc.detail))
            return
        self.answered += 1
        _settle(job, result=answer)


def _upstream(exc: LLMError) -> RequestError:
    """A provider failure as a 502 that names neither the upstream URL nor a key: only
    the kind of failure."""
    found = re.search(r"request failed (after \d+ attempts|\(not retryable\)): (\w+)",
                      str(exc))
    what = f" {found.group(1).strip('()')}: {found.group(2)}" if found else ""
    return RequestError(502, f"the model provider failed{what}", kind="upstream_error",
                        code="upstream_error")


def _settle(job: _Job, result: Answer | None = None, error: Exception | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # the client went away
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    job.loop.call_soon_threadsafe(settle)


class PolicyService:
    """What the HTTP routes call: context look-up, the row a request fills, answers."""

    def __init__(self, policy: Policy, max_concurrency: int = 64):
        self.policy = policy
        self.dispatcher = Dispatcher()
        self.max_concurrency = max_concurrency
        self._gate: asyncio.Semaphore | None = None
        self._weights_lock = threading.Lock()
        self._weights: dict[str, DeployedArm] = {}

    def models(self) -> list[str]:
        return [MODEL_PREFIX + name for name in self.policy.contexts]

    def arm(self, model: str) -> DeployedArm:
        """The arm ``model`` names (see the module docstring); RequestError otherwise."""
        name = model[len(MODEL_PREFIX):] if model.startswith(MODEL_PREFIX) else model
        if name.startswith(WEIGHTS_PREFIX):
            return self._weighted(name[len(WEIGHTS_PREFIX):], model)
        if name not in self.policy.contexts:
            raise RequestError(404, f"unknown model '{model}': this server answers "
                               f"{', '.join(self.models())} or "
                               f"{MODEL_PREFIX}{WEIGHTS_PREFIX}<objective>=<weight>,...",
                               param="model", code="model_not_found")
        return self.policy.arm(name)

    def _weighted(self, spec: str, model: str) -> DeployedArm:
        with self._weights_lock:  # the run's pulls are read once, by one thread
            arm = self._weights.get(spec)
            if arm is not None:
                return arm
            weights: dict[str, float] = {}
            for item in spec.split(","):
                key, _, value = item.partition("=")
                try:
                    weights[key.strip()] = float(value)
                except ValueError:
                    raise RequestError(404, f"unknown model '{model}': weights are "
                                       f"<objective>=<number>,...", param="model",
                                       code="model_not_found") from None
            try:
                arm = self.policy.arm(weights=weights)
            except UnsupportedWeights as exc:
                raise RequestError(422, exc.detail, param="model") from None
            except ConfigError as exc:
                raise RequestError(404, f"unknown model '{model}': {exc.detail}",
                                   param="model", code="model_not_found") from None
            self._weights[spec] = arm
            return arm

    @staticmethod
    def row(arm: DeployedArm, body: dict) -> dict:
        """The template's fields from the request body (see the module docstring)."""
        fields = body.get("fields")
        if fields is not None:
            if not isinstance(fields, dict) or not all(isinstance(v, str | int | float)
                                                       for v in fields.values()):
                raise RequestError(400, "'fields' must be an object of strings",
                                   param="fields")
            return {str(k): str(v) for k, v in fields.items()}
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError(400, "'messages' must be a non-empty list", param="messages")
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if not users:
            raise RequestError(400, "no user message to answer", param="messages")
        content = users[-1].get("content")
        if isinstance(content, list):  # content parts: their text joined
            content = "".join(part.get("text", "") for part in content
                              if isinstance(part, dict) and part.get("type") == "text")
        if not isinstance(content, str):
            raise RequestError(400, "the last user message has no text", param="messages")
        inputs = arm.input_fields
        if len(inputs) != 1:
            raise RequestError(400, f"the prompt's template takes the fields "
                               f"{', '.join(inputs) or '(none)'}: send them as 'fields' in "
                               f"the body", param="fields")
        return {inputs[0]: content}

    async def complete(self, body: dict) -> tuple[dict, DeployedArm]:
        """The chat.completion body answering ``body`` (a parsed request)."""
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError(400, "'model' must name a context, e.g. "
                               f"{self.models()[0] if self.models() else 'iapo/<context>'}",
                               param="model")
        if body.get("stream"):
            raise RequestError(400, "streaming is not supported", param="stream")
        arm = await asyncio.to_thread(self.arm, model)
        row = self.row(arm, body)
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.max_concurrency)
        async with self._gate:
            answer = await self.dispatcher.answer(arm, row)
        prompt, completion = int(answer.prompt_tokens), int(answer.completion_tokens)
        reply = {
            "id": f"chatcmpl-iapo-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.answer or ""}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
            "iapo": {"context": arm.context, "arm": arm.arm, "prompt": arm.prompt,
                     "model": arm.model, "n": arm.n, "strategy": arm.strategy,
                     "expected_utility": arm.expected_utility, "samples": arm.samples,
                     "vote_share": answer.vote_share, "score": answer.score,
                     "tied": answer.tied, "cached": answer.cached, "usd": answer.usd},
        }
        return reply, arm


def create_app(run_dir: str | Path, max_concurrency: int = 64,
               on_ready: Callable[[PolicyService], None] | None = None):
    """The ASGI app serving ``run_dir``'s policy (FastAPI). Loading the run happens here,
    before any socket is bound: a bad run directory is a ConfigError."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    if max_concurrency < 1:
        raise ConfigError(f"must be at least 1, got {max_concurrency}",
                          field="--max-concurrency")
    policy = Policy.load(run_dir)
    for name in policy.contexts:
        arm = policy.arm(name)
        if getattr(arm._backend, "prompts", None) is None:
            raise ConfigError(f"the run's backend is offline ({name} deploys {arm.arm}): "
                              f"there is no model to serve", field="RUN_DIR")
        if arm.strategy not in DEPLOYABLE:
            raise ConfigError(f"serving supports {' and '.join(DEPLOYABLE)} runs, not "
                              f"{arm.strategy}", field="RUN_DIR")
    service = PolicyService(policy, max_concurrency)

    @asynccontextmanager
    async def lifespan(app):
        service.dispatcher.start()
        if on_ready is not None:
            on_ready(service)
        yield
        await asyncio.to_thread(service.dispatcher.stop)

    app = FastAPI(title="iapo", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service = service

    def error(exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.get("/health")
    async def health():
        return {"status": "ok", "run": str(policy.run_dir), "contexts": list(policy.contexts),
                "answered": service.dispatcher.answered}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                            "owned_by": "iapo"} for m in service.models()]}

    async def chat(request):
        try:
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                raise RequestError(400, "the body is not JSON") from None
            reply, arm = await service.complete(body)
        except RequestError as exc:
            return error(exc)
        return JSONResponse(reply, headers={"x-iapo-arm": f"{arm.arm}@{arm.n}"})

    # FastAPI reads the annotation to pass the request; this module's annotations are
    # strings (FastAPI is imported here, on first use, not at module level)
    chat.__annotations__ = {"request": Request}
    app.post("/v1/chat/completions")(chat)
    return app
