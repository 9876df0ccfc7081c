"""Remove personal data and secrets from a response body before it is written to disk (`audit record`).

Generic over GA4 and Google Ads bodies: the rules look at key names and string values, not at a schema.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# Words of a key (camelCase or snake_case) that mark its value as personal or secret.
_SENSITIVE_WORDS = frozenset({"email", "emails", "password", "passwd", "secret", "token", "credential",
                              "credentials"})
_SENSITIVE_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
# Pagination cursors are opaque but neither personal nor secret; keeping them keeps the body's shape.
_CURSORS = frozenset({"pagetoken", "nextpagetoken", "page_token", "next_page_token"})


def redact(file_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `body` with secrets and personal data replaced by "[redacted]".

    Replaced: the value of any key that names an email, token, secret, password or credential
    (``creatorEmailAddress``, ``refresh_token``, ``developerToken``, ``client_secret`` ...), and every email
    address found inside any other string. `file_key` names the fixture file, for messages and future
    per-file rules; the rules today are the same for every file.
    """
    del file_key
    return _walk(body)


def sensitive_key(key: str) -> bool:
    if key.lower() in _CURSORS:
        return False
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)]
    if _SENSITIVE_WORDS.intersection(words):
        return True
    return any(pair in _SENSITIVE_PAIRS for pair in zip(words, words[1:], strict=False))


def _walk(value: Any, key: str | None = None) -> Any:
    if key is not None and sensitive_key(key) and value is not None and not isinstance(value, (bool, int, float)):
        # flags and counts under such keys ("emailOptIn": true) are not personal; anything else is dropped whole
        return REDACTED
    if isinstance(value, dict):
        return {k: _walk(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, str) and "@" in value:
        return EMAIL.sub(REDACTED, value)
    return value
