"""The LLM client: transports (LiteLLM by default) behind an own completion cache, with
retries and accounting."""

from ._cache import TRANSPORT_PARAMS, CompletionCache, request_fingerprint, slot_key
from ._client import (
    ChatRequest,
    ClientSettings,
    Completion,
    LiveSettings,
    LLMClient,
    LLMError,
    Usage,
    complete_together,
    retry_delay,
)
from ._litellm import LiteLLMTransport, classify_error, load_litellm, preload_litellm
from ._secrets import redact
from ._transport import (
    Reply,
    Transport,
    TransportError,
    make_transport,
    provider_of,
    register_transport,
)

__all__ = [
    "TRANSPORT_PARAMS",
    "ChatRequest",
    "ClientSettings",
    "Completion",
    "CompletionCache",
    "LLMClient",
    "LLMError",
    "LiteLLMTransport",
    "LiveSettings",
    "Reply",
    "Transport",
    "TransportError",
    "Usage",
    "classify_error",
    "complete_together",
    "load_litellm",
    "preload_litellm",
    "make_transport",
    "provider_of",
    "redact",
    "register_transport",
    "request_fingerprint",
    "retry_delay",
    "slot_key",
]
