"""Keep secrets out of messages: every error text from a provider passes through
``redact``. (Config values are checked by ``config``'s ``find_secret`` before anything is
written.)"""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_KEY_SHAPE = re.compile(r"\b(sk|pk|rk|xai|gsk|hf)[-_][A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def redact(text: str) -> str:
    """``text`` with secret-looking environment values, bearer tokens and key-shaped strings
    replaced by ``[redacted]``."""
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, "[redacted]")
    text = _BEARER.sub(r"\1[redacted]", text)
    return _KEY_SHAPE.sub("[redacted]", text)
