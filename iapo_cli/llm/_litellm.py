"""The LiteLLM transport, and the one place litellm is imported: lazily, offline, quiet.

Provider errors are classified here, once, into ``TransportError`` (status, retry-after,
retryable); nothing above this module looks at litellm's exception types.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from ._secrets import redact
from ._transport import Reply, TransportError, provider_of

if TYPE_CHECKING:
    from ._client import ClientSettings


PLACEHOLDER_KEY = "iapo-no-key"
"""Sent as the API key to an ``api_base`` server when no key variable is set: LiteLLM's
OpenAI client refuses to send a request without one, a local server ignores it."""

KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",), "anthropic": ("ANTHROPIC_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",), "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",), "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",), "hosted_vllm": (), "lm_studio": (), "llamafile": (),
}
"""The environment variables LiteLLM's ``validate_environment`` requires for these
provider prefixes (a test pins the agreement), known here so that a missing key is reported
without importing LiteLLM (~3 s); other providers are asked of LiteLLM itself."""

_AUTH_FAILURE = re.compile(r"missing credentials|api_key client option must be set|"
                           r"no api key|invalid api key|incorrect api key", re.IGNORECASE)


@cache
def load_litellm():
    """Import litellm with its bundled cost map (no network) and debug chatter off. Later
    calls return the same module."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


_PRELOAD: list[threading.Thread] = []


@cache
def _bundled_cost_map() -> dict:
    """LiteLLM's bundled cost map (the JSON file ``LITELLM_LOCAL_MODEL_COST_MAP`` makes it
    use), read without importing LiteLLM; empty when the file is not where it was."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations)),
                "model_prices_and_context_window_backup.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def bundled_prices(model: str) -> tuple[float, float] | None:
    """USD per prompt token and per completion token of ``model`` (``provider/name`` or
    ``name``) in LiteLLM's bundled cost map, in milliseconds and without importing LiteLLM
    (seconds); None when the map has no such entry."""
    entries = _bundled_cost_map()
    for key in (model, model.split("/", 1)[-1]):
        entry = entries.get(key)
        if isinstance(entry, dict):
            prompt, completion = (entry.get("input_cost_per_token"),
                                  entry.get("output_cost_per_token"))
            if isinstance(prompt, int | float) and isinstance(completion, int | float):
                return float(prompt), float(completion)
    return None


def preload_litellm() -> None:
    """Start importing LiteLLM in a background thread (once per process), so that its
    seconds of import overlap with the checks a live run makes before its first request;
    ``load_litellm`` in another thread then waits for it (the import lock)."""
    if _PRELOAD or "litellm" in sys.modules:
        return
    thread = threading.Thread(target=load_litellm, name="iapo-import-litellm", daemon=True)
    _PRELOAD.append(thread)
    thread.start()


OFFLINE_ENCODINGS = ("cl100k_base", "o200k_base", "p50k_base")
"""The tiktoken encodings LiteLLM bundles (its ``litellm_core_utils/tokenizers``, where it
points ``TIKTOKEN_CACHE_DIR``): counting with them needs no download."""

_DOWNLOADED_TOKENIZERS = ("cohere", "llama2", "llama3")
"""LiteLLM's HuggingFace tokenizer kinds that it downloads from the Hub on first use (25 s
of retries and then tiktoken when offline): counted with ``cl100k_base`` instead."""


def count_prompt_tokens(model: str, messages: list[dict]) -> tuple[int, str]:
    """Prompt tokens of ``messages`` for ``model`` by LiteLLM's ``token_counter``, and the
    name of the tokenizer used. Never downloads: a model whose tokenizer LiteLLM would
    fetch from the Hub (llama, cohere) or whose tiktoken encoding it does not bundle is
    counted with ``cl100k_base`` and the name says ``approximate``. Raises whatever LiteLLM
    raises (the caller falls back)."""
    litellm = load_litellm()
    from litellm.litellm_core_utils import token_counter as counting

    if provider_of(model) == "openai":  # LiteLLM's tables know OpenAI models by bare name
        model = model.split("/", 1)[1]
    kind = litellm.utils.huggingface_tokenizer_kind(model)
    if kind == "anthropic":
        return litellm.token_counter(model=model, messages=messages), "anthropic (LiteLLM)"
    if kind is None:
        encoding = counting.openai_tokenizer_encoding_name(model)
        if encoding in OFFLINE_ENCODINGS:
            return litellm.token_counter(model=model, messages=messages), f"tiktoken {encoding}"
    # model="" selects the default encoding (cl100k_base) with the chat message overhead
    return (litellm.token_counter(model="", messages=messages),
            "tiktoken cl100k_base (approximate)")


class LiteLLMTransport:
    """Any provider LiteLLM knows (``openai/...``, ``anthropic/...``, ``hosted_vllm/...``):
    ``settings.params`` and the request's decoding pass through to ``litellm.acompletion``,
    with the settings' ``api_base`` and ``timeout`` and LiteLLM's own retries off (the
    client retries). See ``Transport`` for the contract."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings
        self._provider_missing: list[str] | None = None  # looked up once

    def _missing_for_provider(self) -> list[str]:
        """The provider's variables that are not set, as LiteLLM's ``validate_environment``
        says (from ``KEY_VARIABLES`` when the prefix is there)."""
        if self._provider_missing is None:
            model, api_base = self.settings.model, self.settings.api_base
            known = KEY_VARIABLES.get(provider_of(model))
            if known is not None:
                self._provider_missing = [v for v in known if not os.environ.get(v)]
            else:
                litellm = load_litellm()
                try:
                    found = litellm.validate_environment(model=model, api_base=api_base)
                except Exception:  # a model LiteLLM cannot place: its request will say
                    found = {}
                self._provider_missing = list(found.get("missing_keys") or [])
        return self._provider_missing

    def missing_environment(self) -> list[str]:
        """Names of the variables a request needs and does not find: ``api_key_env`` when
        the settings name one, else the provider's (LiteLLM's ``validate_environment``),
        except the key of an ``api_base`` server, which gets ``PLACEHOLDER_KEY`` instead."""
        name = self.settings.api_key_env
        if name:
            return [] if os.environ.get(name) else [name]
        missing = self._missing_for_provider()
        if self.settings.api_base:
            missing = [v for v in missing if not v.endswith("_API_KEY")]
        return missing

    def _api_key(self) -> str | None:
        """The key to pass explicitly: ``api_key_env``'s value, the placeholder for an
        ``api_base`` server whose provider key is not set, else None (LiteLLM finds it)."""
        settings = self.settings
        if settings.api_key_env:
            return os.environ.get(settings.api_key_env) or None
        if settings.api_base and any(v.endswith("_API_KEY")
                                     for v in self._missing_for_provider()):
            return PLACEHOLDER_KEY
        return None

    async def send(self, messages: list[dict], decoding: dict, n: int,
                   first_slot: int) -> Reply:
        settings = self.settings
        litellm = load_litellm()
        kwargs = {**settings.params, **decoding}
        if n > 1:
            kwargs["n"] = n
        if settings.api_base:
            kwargs["api_base"] = settings.api_base
        key = self._api_key()
        if key is not None:
            kwargs["api_key"] = key
        start = time.perf_counter()
        try:
            response = await litellm.acompletion(
                model=settings.model, messages=messages, timeout=settings.timeout,
                max_retries=0, **kwargs)
        except Exception as exc:  # every provider failure leaves here classified
            raise classify_error(exc, secrets=(key,) if key else ()) from None
        seconds = time.perf_counter() - start
        choices = getattr(response, "choices", None)
        if not choices:
            raise TransportError("MalformedResponse: the response has no choices",
                                 retryable=True)
        usage = getattr(response, "usage", None)
        reasons = [getattr(c, "finish_reason", None) for c in choices[:n]]
        return Reply([(c.message.content or "") for c in choices[:n]],
                     int(getattr(usage, "prompt_tokens", 0) or 0),
                     int(getattr(usage, "completion_tokens", 0) or 0), seconds,
                     [r[:32] if isinstance(r, str) else None for r in reasons])

    def supports_n(self) -> bool:
        """Whether LiteLLM lists ``n`` among the model's parameters (no for unknown models)."""
        litellm = load_litellm()
        try:
            params = litellm.get_supported_openai_params(model=self.settings.model) or []
        except Exception:  # unknown providers: be conservative
            params = []
        return "n" in params

    def prompt_tokens_bound(self, messages: list[dict]) -> int:
        """An upper bound on the prompt tokens a provider bills for one request of
        ``messages``: LiteLLM's ``token_counter`` (the model's tokenizer when LiteLLM
        bundles it, else its bundled tiktoken encoding; no network) times
        ``TOKEN_MARGIN`` plus ``TOKEN_SLACK``, for another tokenizer's or a chat template's
        extra tokens. When the counter fails, the UTF-8 bytes of the contents plus 8 per
        message (a byte-level BPE token holds at least one byte)."""
        return prompt_tokens_bound(self.settings.model, messages)

    def prices(self) -> tuple[float, float] | None:
        """USD per prompt token and per completion token, from LiteLLM's local cost map."""
        litellm = load_litellm()
        try:
            return litellm.cost_per_token(model=self.settings.model, prompt_tokens=1,
                                          completion_tokens=1)
        except Exception:  # not in the cost map: report tokens only
            return None


TOKEN_MARGIN = 1.25
"""Prompt tokens counted by LiteLLM are multiplied by this for a worst case (tokenizers of
one family differ by a few percent; a model LiteLLM does not know is counted with a
tiktoken encoding that may be another model's)."""

TOKEN_SLACK = 16
"""Tokens added to a worst-case prompt count (a chat template's role and separator tokens)."""


def prompt_tokens_bound(model: str, messages: list[dict]) -> int:
    """See ``LiteLLMTransport.prompt_tokens_bound``."""
    import math

    litellm = load_litellm()
    try:
        counted = int(litellm.token_counter(model=model, messages=messages))
    except Exception:  # no tokenizer available offline: the byte bound
        return sum(len(str(m.get("content") or "").encode()) + 8 for m in messages)
    return math.ceil(counted * TOKEN_MARGIN) + TOKEN_SLACK


def classify_error(error: Exception, secrets: Sequence[str] = ()) -> TransportError:
    """``error`` (raised by LiteLLM or the HTTP stack under it) as a ``TransportError``.

    Retryable: status 429 (rate limit), 408 and timeouts, connection errors, status >= 500.
    Everything else (400, 401, 404, unknown errors) is not, and neither is an
    authentication failure whatever its status (401, 403, LiteLLM's AuthenticationError,
    OpenAI's "Missing credentials" that arrives as a 500): the same key fails again.
    ``retry_after`` comes from the response's ``retry-after`` header, which LiteLLM keeps on
    ``litellm_response_headers``. A timeout may have been served and billed
    (``maybe_billed``). The message keeps the error's type name and status for the reader,
    never a secret (nor any of ``secrets``).
    """
    litellm = load_litellm()
    raw_status = getattr(error, "status_code", None)
    status = raw_status if isinstance(raw_status, int) else None
    authentication = (status in (401, 403) or _AUTH_FAILURE.search(str(error)) is not None
                      or isinstance(error, (litellm.AuthenticationError,
                                            litellm.PermissionDeniedError)))
    timeout = isinstance(error, (litellm.Timeout, TimeoutError))
    retryable = not authentication and (
        status is not None and (status in (408, 429) or status >= 500)
        or timeout or isinstance(error, (litellm.APIConnectionError, ConnectionError)))
    message = (f"{type(error).__name__}{f' {raw_status}' if raw_status else ''}: "
               f"{_first_line(error)}")
    for secret in secrets:
        message = message.replace(secret, "[redacted]")
    return TransportError(redact(message), retryable=retryable, status=status,
                          retry_after=_retry_after(error), maybe_billed=timeout)


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
