"""Remove personal data and secrets from a response body before it is written to disk (`audit record`).

Generic over GA4 and Google Ads bodies: the rules look at key names and string values, not at a schema, so a
field an API adds tomorrow is covered too. Two layers, each enough on its own for the cases it knows:

- keys: a key is compared after folding case, separators (`_ - . ` and camelCase) and plurals, so
  `apikey`, `API-Key`, `refreshTokens` and `client.secret` all name a secret; its value is dropped whole,
  whatever its type (a numeric PIN or password too), save a flag, a null, or a number under a key that
  measures secrets rather than holds one (`tokenCount`, `secretRatio`);
- values: every string (and every key) is scanned for secrets in any context: bearer tokens, Google token
  shapes, `name: value` and `name=value` pairs whose name holds a secret, sensitive URL query parameters, bare
  22-character developer tokens (except in `...Id` fields: Google Ads request ids have that shape) and e-mail
  addresses with any host (`root@localhost` too), plain, URL-encoded or internationalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"

# -- keys ------------------------------------------------------------------------------------------------------

# Whole words (after singularising) that name a secret or personal value. Not "key" (keyEvents, "key": "value"
# pairs) nor "session" (session counts): they are sensitive only in the pairs below.
_WORDS = frozenset({"token", "secret", "password", "passwd", "pwd", "passphrase", "credential", "apikey",
                    "privatekey", "accesskey", "secretkey", "authorization", "auth", "oauth", "bearer", "cookie",
                    "signature", "email", "sessionid", "sessionkey", "jwt", "pin", "passcode", "otp"})
_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("session", "id"),
                    ("session", "key"), ("e", "mail"), ("pass", "word"), ("pass", "phrase")})
# Compounds written as one word ("accesstoken", "clientsecret", "useremailaddress"): English puts the head noun
# last, so a word *ending* in a sensitive stem names that thing ("tokenizer" and "secretary" do not).
_ENDS = re.compile(r"(?:token|secret|password|passwd|passphrase|passcode|credential|apikey|privatekey|accesskey"
                   r"|secretkey|authorization|cookie|bearer|email|emailaddress|sessionid|sessionkey)$")
# A "key" after another word names a key (licenseKey, signing_key, encryptionKeys), unless it is a data key.
_DATA_KEYS = frozenset({"sort", "partition", "primary", "foreign", "cache", "group", "dimension", "metric", "map",
                        "lookup", "row", "hash", "idempotency", "dedup", "dedupe", "join", "index", "event"})
# The last word of a key that measures secrets rather than holds one: a number under it is kept.
_MEASURES = frozenset({"count", "ratio", "rate", "length", "len", "size", "limit", "num", "number", "total", "ttl",
                       "age", "expiry", "expire", "expires", "expiration", "in", "max", "min", "version", "day",
                       "hour", "minute", "second", "used", "remaining", "attempt"})
# ...and a few stems that are never a harmless prefix ("passwordhash", "apikeyid", "credentialsfile").
_STARTS = re.compile(r"(?:password|passwd|credential|apikey|privatekey|accesstoken|refreshtoken|clientsecret)")
# In a URL query, short names carry secrets too: Google's `key=` (API key), OAuth's `code=` (authorization code)
# and signed-URL `sig=`; as JSON keys these words are too common to drop.
_QUERY_ONLY = frozenset({"key", "code", "sig", "pass", "pw", "otp"})


def _words(key: str) -> list[str]:
    """`refreshTokens` -> ["refresh", "token"]; `API_KEY` -> ["api", "key"]; `apikey` -> ["apikey"]."""
    raw = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^\W\d_]+", key)
    return [_singular(w.lower()) for w in raw]


def _singular(word: str) -> str:
    if word.endswith(("sses", "shes", "ches", "xes")):  # addresses, hashes
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 2:
        return word[:-1]  # tokens, secrets, cookies, ids ("properties" -> "propertie" is harmless)
    return word


def _is_cursor(words: list[str]) -> bool:
    # pagination cursors (pageToken, next_page_token) are opaque but neither personal nor secret; keeping them
    # keeps the body's shape, and their values are still scanned like any string
    return "".join(words).endswith("pagetoken")


def sensitive_key(key: str) -> bool:
    """Whether a key names a secret or personal value (see the module doc for the folding)."""
    words = _words(key)
    if not words or _is_cursor(words):
        return False
    for i, word in enumerate(words):
        # "tokensPerDay", "tokensPerHour": GA4's quota units, counts not credentials
        if word.endswith("token") and words[i + 1:i + 2] == ["per"]:
            continue
        if word in _WORDS or _ENDS.search(word) or _STARTS.match(word):
            return True
    if any(pair in _PAIRS for pair in zip(words, words[1:], strict=False)):
        return True
    if len(words) > 1 and words[-1] == "key" and words[-2] not in _DATA_KEYS:
        return True
    # a compound the case folding split oddly ("APIkey" -> "ap", "ikey"): its joined form
    return _ENDS.search("".join(words)) is not None


@lru_cache(maxsize=4096)
def _holds_secret(key: str) -> bool:
    """A sensitive key whose head (its last word) is the secret itself: `developer_token`, `client.secret`,
    `PIN`, not `DEVELOPER_TOKEN_NOT_APPROVED` (an error code) nor `tokenCount`."""
    words = _words(key)
    return bool(words) and words[-1] not in _MEASURES and sensitive_key(key) and (
        sensitive_key(words[-1]) or sensitive_key("".join(words[-2:])) or _ENDS.search("".join(words)) is not None)


def sensitive_param(name: str) -> bool:
    """Whether a URL query (or `name=value`) parameter carries a secret: `access_token`, `key`, `code` ..."""
    name = unquote(name)
    return sensitive_key(name) or "".join(_words(name)) in _QUERY_ONLY


# -- values ----------------------------------------------------------------------------------------------------

# Letters of an internationalised address (RFC 6531): any non-ASCII character but spaces and punctuation that
# ends a phrase ("。" is a dot below; quotes, colons and brackets of CJK and Latin-1 text are not address letters).
_INTL = r"[^\x00-\x7f\s\u00a0-\u00bf\u2000-\u206f\u3000-\u303f\ufe30-\ufe4f\uff00-\uff0f\uff1a-\uff20" \
        r"\uff3b-\uff40\uff5b-\uff65]"
_PCT = r"%[0-9A-Fa-f]{2}"
# the "at" of an address: plain, URL-encoded (once or twice), HTML entity, JSON escape, fullwidth
_AT = re.compile(r"@|%40|%2540|&#0*64;|&#x0*40;|\\u0040|\uff20", re.IGNORECASE)
_DOT = r"(?:\.|%2[Ee]|\u3002|\uff0e|\uff61)"
_LABEL = rf"(?:[A-Za-z0-9]|{_INTL}|{_PCT})(?:[A-Za-z0-9-]|{_INTL}|{_PCT})*"
# nothing follows it, so the greedy match never backtracks; whether it has a dot is checked after
_DOMAIN = re.compile(rf"{_LABEL}(?:{_DOT}{_LABEL})*")
_HAS_DOT = re.compile(_DOT)
_LOCAL_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+'%-")
_LOCAL_INTL = re.compile(_INTL)
# RFC 5321 caps a local part at 64 octets and a domain at 255: room for them URL-encoded, and a bound on the scan
_MAX_LOCAL, _MAX_DOMAIN = 256, 1024

_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL)
# header lines quoted in messages: everything after the name, to the end of the line
_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-goog-api-key|x-api-key|developer-token)"
                     r"(\s*:\s*)[^\r\n]+")
_TOKEN_CHARS = r"[A-Za-z0-9\-._~+/]+=*"
_BEARER = re.compile(rf"(?i)\b(bearer)(\s+|%20|\+)({_TOKEN_CHARS})")
# Google credential shapes, wherever they appear: OAuth access tokens (ya29.), refresh tokens (1//, also
# URL-encoded), authorization codes (4/0A), API keys (AIza), OAuth client secrets (GOCSPX-) and JWTs (id tokens,
# signed assertions: three base64url parts, the first two JSON objects, so "eyJ").
_SHAPES = re.compile(r"(?i:ya29\.[A-Za-z0-9\-._~+/]+=*)"
                     r"|(?<![A-Za-z0-9/%])(?:1//|1%2F%2F)[A-Za-z0-9\-._~+/%]{8,}"
                     r"|(?<![A-Za-z0-9/])4/0A[A-Za-z0-9\-_]{20,}"
                     r"|AIza[0-9A-Za-z\-_]{30,}"
                     r"|GOCSPX-[0-9A-Za-z\-_]{10,}"
                     r"|eyJ[A-Za-z0-9\-_]{4,}\.eyJ[A-Za-z0-9\-_]{4,}\.[A-Za-z0-9\-_]*")
# name=value in a URL query, a form body or a cookie; the value ends where the next parameter, fragment, quote,
# space or markup begins
_PARAM = re.compile(r"(?<![A-Za-z0-9_.~%-])([A-Za-z0-9_.~%-]+)(=)([^&#\s\"'<>;]*)")
# the same URL-encoded (a redirect target inside another URL: ...%3Faccess_token%3D...%26...), found anywhere
_PARAM_ENCODED = re.compile(r"(?:(?<=%3[Ff])|(?<=%26)|(?<=%23)|(?<![A-Za-z0-9_.~%-]))([A-Za-z0-9_.~-]+)(%3[Dd])"
                            r"((?:(?!%26|%23)[^&#\s\"'<>;])*)")
# "name": "value" (or 'name': 'value') inside a string: a JSON or repr text quoted in a message
_QUOTED = re.compile(r"([\"'])([^\"'\r\n]{1,80})\1(\s*[:=]\s*)([\"'])((?:\\.|(?!\4)[^\\])*)\4")
# name: value, name = value, "name": 123 in prose, logs and config dumps; the value runs to a space or a
# separator. Only a name whose head is the secret counts, so an error code such as DEVELOPER_TOKEN_NOT_APPROVED:
# does not take the next word with it.
# Names are found on their own (finditer), so "error: token: X" finds "token" though it follows another name.
_LABEL_NAME = re.compile(r"(?<![A-Za-z0-9_.~%-])([\"']?)([A-Za-z][A-Za-z0-9_.\-]{0,79})\1(\s*[:=]\s*)")
_LABEL_VALUE = re.compile(r"(?![\"'\[])[^\s,;\"'<>&#}\])]*[^\s,;\"'<>&#}\]).!?:]")  # a full stop ends the sentence
# A Google Ads developer token: 22 letters and digits, alone. Letters and digits both, so a 22-letter word
# ("funnelStepAbandonments") is not one.
_BARE_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{22}(?![A-Za-z0-9_\-])")


def scrub(text: str, keep: Callable[[str], bool] | None = None, replacement: str = REDACTED,
          bare_tokens: bool = True) -> str:
    """`text` with every secret and e-mail address found in it replaced by "[redacted]". `keep` spares the
    addresses it accepts (a service account an error message must name); `replacement` replaces addresses;
    `bare_tokens=False` keeps 22-character ids (the value of a requestId)."""
    text = _PEM.sub(REDACTED, text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(_bearer, text)
    text = _SHAPES.sub(REDACTED, text)
    text = _PARAM.sub(_param, text)
    text = _PARAM_ENCODED.sub(_param, text)
    text = _QUOTED.sub(_quoted, text)
    text = _labelled(text)
    if bare_tokens:
        text = _BARE_TOKEN.sub(REDACTED, text)
    return _addresses(text, keep, replacement)


def _addresses(text: str, keep: Callable[[str], bool] | None = None, replacement: str = REDACTED) -> str:
    """E-mail addresses out of `text`: from each "at", the local part is scanned back and the domain forward.
    (A single regex backtracks cubically on strings like "%40%40%40...": an "at" is also a local character.)"""
    pieces: list[str] = []
    done = 0  # text before this is copied or redacted
    for at in _AT.finditer(text):
        if at.start() < done:
            continue  # inside the address just redacted
        start = at.start()
        floor = max(done, start - _MAX_LOCAL)
        while start > floor and (text[start - 1] in _LOCAL_ASCII or _LOCAL_INTL.match(text[start - 1])):
            start -= 1
        domain = _DOMAIN.match(text, at.end(), min(len(text), at.end() + _MAX_DOMAIN))
        if start == at.start() or domain is None or not (
                _HAS_DOT.search(domain.group(0), 1) or not domain.group(0).isdigit()):
            continue  # no local part ("@mention") or no host ("pkg@1"); "root@localhost" is an address
        if keep is not None and keep(text[start:domain.end()]):
            continue
        pieces += [text[done:start], replacement]
        done = domain.end()
    return "".join(pieces) + text[done:] if pieces else text


def _bearer(m: re.Match[str]) -> str:
    # prose ("bearer tokens", "Bearer authentication") is one plain word; a token has digits, symbols or mixed case
    if len(m.group(3)) < 8 or re.fullmatch(r"[A-Z]?[a-z]+", m.group(3)):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{REDACTED}"


def _param(m: re.Match[str]) -> str:
    name, sep, value = m.groups()
    if not value or value.startswith(REDACTED) or not sensitive_param(name) or _is_cursor(_words(unquote(name))):
        return m.group(0)
    return f"{name}{sep}{REDACTED}"


def _labelled(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for m in _LABEL_NAME.finditer(text):
        if m.start() < done or not _holds_secret(m.group(2)):
            continue
        value = _LABEL_VALUE.match(text, m.end())
        if value is None:
            continue  # quoted (_QUOTED's), already redacted, or nothing
        pieces += [text[done:m.end()], REDACTED]
        done = value.end()
    return "".join(pieces) + text[done:] if pieces else text


def _quoted(m: re.Match[str]) -> str:
    q, name, sep, vq, value = m.groups()
    if not value or value == REDACTED or not sensitive_key(name):
        return m.group(0)
    return f"{q}{name}{q}{sep}{vq}{REDACTED}{vq}"


# -- bodies ----------------------------------------------------------------------------------------------------


def redact(file_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `body` with secrets and personal data replaced by "[redacted]".

    Replaced: the value of any key that names an e-mail, token, secret, password, credential, cookie or
    authorization (``creatorEmailAddress``, ``refresh_token``, ``apikey``, ``clientSecrets`` ...) unless it is a
    flag or a number (``"emailOptIn": true``), and every secret or e-mail address found inside any other string.
    A key that itself holds one becomes "[redacted]" ("[redacted-2]" ... when several would collide), so the
    body stays valid JSON. Pagination cursors (``nextPageToken``) and quota counts (``tokensPerDay``) are kept.
    `file_key` names the fixture file, for messages and future per-file rules; the rules today are the same for
    every file.
    """
    del file_key
    return _walk(body)


def _walk(value: Any, key: str | None = None) -> Any:
    if key is not None and value is not None and not isinstance(value, bool) and sensitive_key(key):
        # flags under such keys ("emailOptIn": true) and counts about secrets ("tokenCount": 3) are not secrets;
        # anything else is dropped whole, a number too ("password": 123456, "pin": 4321)
        if not (isinstance(value, (int, float)) and not _holds_secret(key)):
            return REDACTED
    if isinstance(value, dict):
        return _walk_dict(value)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, str):
        return scrub(value, bare_tokens=key is None or _words(key)[-1:] != ["id"])
    return value


@lru_cache(maxsize=4096)
def _clean_key(key: str) -> bool:
    return scrub(key) == key  # cached: a report repeats the same few keys on every row


def _walk_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    keys = {k: _clean_key(k) if isinstance(k, str) else True for k in value}
    taken = {k for k, clean in keys.items() if clean}
    out: dict[Any, Any] = {}
    n = 1
    for k, v in value.items():
        name = k
        if not keys[k]:
            # the key holds an address or a secret: replace it whole, by a name no other key of this object has
            name = REDACTED
            while name in taken:
                n += 1
                name = f"[redacted-{n}]"
            taken.add(name)
        out[name] = _walk(v, k if keys[k] else None)
    return out
