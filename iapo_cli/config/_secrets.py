"""Secrets in config values: ``find_secret`` walks settings before anything is written
(a leaf of ``config``: it imports no other layer)."""

from __future__ import annotations

import math
import re
from collections import Counter

_SECRET_WORDS = frozenset({
    "key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential",
    "credentials", "authorization", "bearer", "cookie", "privatekey",
})
"""Words of a setting's name that say it holds a secret. 'token' counts only in the
singular: 'max_tokens' is a count, 'access_token' a secret."""

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_VALUE = (
    re.compile(r"\b(sk|pk|rk|xai|gsk|hf|ghp|gho|ghs|ghu|glpat)[-_][A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{16,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),  # Google API key
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{8,}"),  # Slack
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?i)^[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@"),  # user:password@host
)
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+=]{32,}")  # no "/": paths are not keys
_MIN_TOKEN_BITS = 3.5  # bits per character: random keys have 4.5+, words and names less


def secret_name(name: str) -> bool:
    """Whether a setting called ``name`` would hold a secret (api_key, X-Api-Key,
    accessToken, client_secret, Authorization; not max_tokens, keywords or top_k)."""
    words = [w.lower() for w in _WORD.findall(str(name))]
    joined = "".join(words)
    return any(w in _SECRET_WORDS for w in words) or joined in _SECRET_WORDS or any(
        joined.endswith(w) for w in ("apikey", "privatekey", "accesstoken", "authtoken"))


def _entropy(text: str) -> float:
    """Shannon entropy of ``text``'s characters, in bits per character."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def secret_value(text: str) -> bool:
    """Whether ``text`` looks like a key: a known key shape (sk-…, hf_…, AKIA…), a
    ``Bearer``/``Basic`` credential, a URL with a password, or a long high-entropy token (32+
    characters of letters, digits and ``_-+=`` mixing upper case, lower case and digits)."""
    if any(p.search(text) for p in _SECRET_VALUE):
        return True
    for run in _TOKEN_RUN.findall(text):
        if (any(c.isupper() for c in run) and any(c.islower() for c in run)
                and any(c.isdigit() for c in run) and _entropy(run) >= _MIN_TOKEN_BITS):
            return True
    return False


def find_secret(value: object, path: str) -> tuple[str, str] | None:
    """The first place in ``value`` (mappings and lists, walked recursively; ``path`` names
    ``value`` itself) that holds a secret, as (dotted path, 'name' or 'value'), else None.
    A key counts by its name (``secret_name``), any text by its shape
    (``secret_value``); the secret itself is never returned."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if secret_name(str(key)) and item not in (None, "", {}, []):
                return where, "name"
            found = find_secret(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_secret(item, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, str) and secret_value(value):
        return path, "value"
    return None
