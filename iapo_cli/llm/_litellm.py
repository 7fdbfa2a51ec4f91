"""The LiteLLM transport, and the one place litellm is imported: lazily, offline, quiet.

Provider errors are classified here, once, into ``TransportError`` (status, retry-after,
retryable); nothing above this module looks at litellm's exception types.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING

from ._secrets import redact
from ._transport import Reply, TransportError

if TYPE_CHECKING:
    from ._client import ClientSettings


@cache
def load_litellm():
    """Import litellm with its bundled cost map (no network) and debug chatter off. Later
    calls return the same module."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


class LiteLLMTransport:
    """Any provider LiteLLM knows (``openai/...``, ``anthropic/...``, ``hosted_vllm/...``):
    ``settings.params`` and the request's decoding pass through to ``litellm.acompletion``,
    with the settings' ``api_base`` and ``timeout`` and LiteLLM's own retries off (the
    client retries). See ``Transport`` for the contract."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings

    async def send(self, messages: list[dict], decoding: dict, n: int,
                   first_slot: int) -> Reply:
        settings = self.settings
        litellm = load_litellm()
        kwargs = {**settings.params, **decoding}
        if n > 1:
            kwargs["n"] = n
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
        start = time.perf_counter()
        try:
            response = await litellm.acompletion(
                model=settings.model, messages=messages, timeout=settings.timeout,
                max_retries=0, **kwargs)
        except Exception as exc:  # every provider failure leaves here classified
            raise classify_error(exc) from None
        seconds = time.perf_counter() - start
        choices = getattr(response, "choices", None)
        if not choices:
            raise TransportError("MalformedResponse: the response has no choices",
                                 retryable=True)
        usage = getattr(response, "usage", None)
        return Reply([(c.message.content or "") for c in choices[:n]],
                     int(getattr(usage, "prompt_tokens", 0) or 0),
                     int(getattr(usage, "completion_tokens", 0) or 0), seconds)

    def supports_n(self) -> bool:
        """Whether LiteLLM lists ``n`` among the model's parameters (no for unknown models)."""
        litellm = load_litellm()
        try:
            params = litellm.get_supported_openai_params(model=self.settings.model) or []
        except Exception:  # unknown providers: be conservative
            params = []
        return "n" in params

    def prices(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token, from LiteLLM's local cost map."""
        litellm = load_litellm()
        try:
            return litellm.cost_per_token(model=self.settings.model, prompt_tokens=1,
                                          completion_tokens=1)
        except Exception:  # not in the cost map: report tokens only
            return None


def classify_error(error: Exception) -> TransportError:
    """``error`` (raised by LiteLLM or the HTTP stack under it) as a ``TransportError``.

    Retryable: status 429 (rate limit), 408 and timeouts, connection errors, status >= 500.
    Everything else (400, 401, 404, unknown errors) is not. ``retry_after`` comes from the
    response's ``retry-after`` header, which LiteLLM keeps on ``litellm_response_headers``.
    The message keeps the error's type name and status for the reader, never a secret.
    """
    litellm = load_litellm()
    raw_status = getattr(error, "status_code", None)
    status = raw_status if isinstance(raw_status, int) else None
    retryable = (status is not None and (status in (408, 429) or status >= 500)
                 or isinstance(error, (litellm.Timeout, litellm.APIConnectionError,
                                       TimeoutError, ConnectionError)))
    message = (f"{type(error).__name__}{f' {raw_status}' if raw_status else ''}: "
               f"{_first_line(error)}")
    return TransportError(redact(message), retryable=retryable, status=status,
                          retry_after=_retry_after(error))


def _retry_after(error: Exception) -> float | None:
    headers = getattr(error, "litellm_response_headers", None)
    if headers is None:
        return None
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
