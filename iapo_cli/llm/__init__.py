"""The LLM client: LiteLLM behind an own completion cache, with retries and accounting."""

from ._cache import CompletionCache, request_fingerprint, slot_key
from ._client import ChatRequest, ClientSettings, Completion, LLMClient, LLMError, Usage
from ._litellm import SIM_PROVIDER, load_litellm, provider_of
from ._secrets import redact

__all__ = [
    "SIM_PROVIDER",
    "ChatRequest",
    "ClientSettings",
    "Completion",
    "CompletionCache",
    "LLMClient",
    "LLMError",
    "Usage",
    "load_litellm",
    "provider_of",
    "redact",
    "request_fingerprint",
    "slot_key",
]
