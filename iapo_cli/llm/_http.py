"""A direct HTTP transport for OpenAI-compatible servers (``transport: http``).

LiteLLM spends milliseconds of CPU on every request (building and validating its own
objects around the provider's), which caps a run's request rate on one core well below
what a fast server at high concurrency allows. For an ``api_base`` that speaks the OpenAI
chat-completions protocol (vLLM, SGLang, Ollama, LM Studio, a proxy, OpenAI itself) this
transport posts the request with one pooled ``httpx`` client and reads the answer, and
nothing more. Errors are classified here the way ``classify_error`` classifies LiteLLM's.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from typing import TYPE_CHECKING

from ._cache import TRANSPORT_PARAMS
from ._litellm import PLACEHOLDER_KEY, bundled_prices  # neither imports LiteLLM
from ._secrets import redact
from ._transport import Reply, TransportError, provider_of

if TYPE_CHECKING:
    from ._client import ClientSettings

HEADER_PARAMS = {"organization": "OpenAI-Organization", "project": "OpenAI-Project"}
"""Transport params that travel as headers."""

NOT_SENT = (TRANSPORT_PARAMS - {"user"}) | {"extra_body"}
"""``params`` that are not fields of the request body: the transport-only ones (but
``user``, an OpenAI body field), of which ``organization``/``project`` and
``headers``/``extra_headers`` go into the headers, and ``extra_body``, merged into the
body."""


class HTTPTransport:
    """POST ``{api_base}/chat/completions`` with the model name after its provider prefix
    (``openai/my-model`` sends ``my-model``), ``settings.params`` and the request's decoding
    in the body, and the key of ``api_key_env`` (else ``OPENAI_API_KEY``, else a
    placeholder) as the bearer token. See ``Transport`` for the contract; the HTTP client
    is made per event loop (an ``httpx.AsyncClient`` is bound to the loop it runs on)."""

    def __init__(self, settings: ClientSettings):
        if not settings.api_base:
            raise ValueError("the http transport needs an api_base")
        self.settings = settings
        self.url = settings.api_base.rstrip("/") + "/chat/completions"
        model = settings.model
        self.model_name = model.split("/", 1)[1] if provider_of(model) else model
        # event loop -> its httpx.AsyncClient (a client's connections belong to one loop);
        # the clients of closed loops are dropped when a new one is made
        self._clients: dict = {}

    def missing_environment(self) -> list[str]:
        """``api_key_env`` when the settings name one and it is not set; else none (an
        ``api_base`` server without a key gets the placeholder)."""
        name = self.settings.api_key_env
        return [name] if name and not os.environ.get(name) else []

    def _api_key(self) -> str:
        name = self.settings.api_key_env or "OPENAI_API_KEY"
        return os.environ.get(name) or PLACEHOLDER_KEY

    def _client(self):
        import httpx

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            concurrency = max(1, int(self.settings.concurrency))
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout), verify=_tls_context(),
                limits=httpx.Limits(max_connections=concurrency,
                                    max_keepalive_connections=concurrency))
            self._clients = {other: kept for other, kept in self._clients.items()
                             if not other.is_closed()}
            self._clients[loop] = client
        return client

    def _request(self, messages: list[dict], decoding: dict, n: int) -> tuple[dict, dict]:
        params = {**self.settings.params, **decoding}
        body = {"model": self.model_name, "messages": messages,
                **{k: v for k, v in params.items() if k not in NOT_SENT}}
        body.update(params.get("extra_body") or {})
        if n > 1:
            body["n"] = n
        headers = {"Authorization": f"Bearer {self._api_key()}"}
        for param, header in HEADER_PARAMS.items():
            if params.get(param):
                headers[header] = str(params[param])
        for extra in ("headers", "extra_headers"):
            headers.update({str(k): str(v) for k, v in (params.get(extra) or {}).items()})
        return body, headers

    async def send(self, messages: list[dict], decoding: dict, n: int,
                   first_slot: int) -> Reply:
        import httpx

        body, headers = self._request(messages, decoding, n)
        secrets = (headers["Authorization"].removeprefix("Bearer "),)
        start = time.perf_counter()
        try:
            response = await self._client().post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _error(f"Timeout: {type(exc).__name__}", secrets, retryable=True,
                         maybe_billed=True) from None
        except httpx.HTTPError as exc:  # connection refused, reset, protocol errors
            raise _error(f"APIConnectionError: {type(exc).__name__}: {exc}", secrets,
                         retryable=True) from None
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise _status_error(response, secrets)
        try:
            payload = response.json()
            choices = payload["choices"]
            texts = [(c.get("message") or {}).get("content") or "" for c in choices[:n]]
            reasons = [_reason(c.get("finish_reason")) for c in choices[:n]]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TransportError("MalformedResponse: the response is not a chat completion",
                                 retryable=True, maybe_billed=True) from None
        if not texts:
            raise TransportError("MalformedResponse: the response has no choices",
                                 retryable=True)
        usage = payload.get("usage") or {}
        return Reply(texts, int(usage.get("prompt_tokens") or 0),
                     int(usage.get("completion_tokens") or 0), seconds, reasons)

    def supports_n(self) -> bool:
        """OpenAI-compatible servers take ``n`` (one that ignores it is noticed by the
        client, which asks again for the rest)."""
        return True

    def prices(self) -> tuple[float, float] | None:
        """The model's prices in LiteLLM's bundled cost map (read without importing
        LiteLLM; a config's ``price`` replaces them), None when it has none."""
        return bundled_prices(self.settings.model)


def _error(message: str, secrets: tuple[str, ...], **kwargs) -> TransportError:
    for secret in secrets:
        if secret and secret != PLACEHOLDER_KEY:
            message = message.replace(secret, "[redacted]")
    return TransportError(redact(message.splitlines()[0][:300] if message else ""), **kwargs)


def _status_error(response, secrets: tuple[str, ...]) -> TransportError:
    """A non-200 answer as a ``TransportError``: 408, 429 and 5xx are retryable (with the
    ``Retry-After`` the server gave), 401/403 and every other 4xx are not."""
    status = response.status_code
    try:
        detail = response.json().get("error") or {}
        detail = detail.get("message") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        detail = response.text[:200]
    try:
        retry_after = float(response.headers.get("retry-after"))
    except (TypeError, ValueError):
        retry_after = None
    retryable = status in (408, 429) or status >= 500
    names = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
             404: "NotFoundError", 408: "Timeout", 429: "RateLimitError"}
    name = names.get(status, "InternalServerError" if status >= 500 else "APIError")
    return _error(f"{name} {status}: {detail or ''}", secrets,
                  retryable=retryable, status=status, retry_after=retry_after)


def _reason(value: object) -> str | None:
    """A choice's ``finish_reason`` as a short string (None when absent or not a string)."""
    return value[:32] if isinstance(value, str) else None


@functools.cache
def _tls_context():
    """One TLS context for every client of the process: loading the trust store takes
    ~30 ms, which each new client (one per event loop, per model) paid again."""
    import ssl

    return ssl.create_default_context()
