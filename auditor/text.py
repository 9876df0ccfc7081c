"""Text from outside the auditor (API data, folder names, config values) made safe to print.

Event names, action names and client folder names are untrusted: an escape sequence could clear a terminal or
retitle its window, a CR or LF could forge a line in a cron log, a bidirectional override could reverse what a
reader sees. Every output channel passes such text through `printable` (or a channel-specific escaper built on
it) before writing it; JSON, which must keep the data, goes through `json_text`.
"""

from __future__ import annotations

import json
from typing import Any

REPLACEMENT = "?"


def printable(text: Any) -> str:
    """One line of visible text: every character Unicode calls "other" or "separator" (C0 and C1 controls such as
    ESC, BEL, CR, LF and DEL, bidirectional overrides and isolates, zero-width format characters, line and
    paragraph separators, lone surrogates) becomes "?"; the ASCII space stays."""
    return "".join(ch if ch.isprintable() else REPLACEMENT for ch in str(text))


def _json_escape(ch: str) -> str:
    n = ord(ch)
    if n > 0xFFFF:  # JSON escapes name UTF-16 code units: a surrogate pair
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


def json_text(obj: Any, **dumps: Any) -> str:
    """`json.dumps(obj, ensure_ascii=False, **dumps)` whose text holds no non-printable character: the data is
    kept (json.loads gives it back unchanged), but a control character, a bidirectional override or a lone
    surrogate (which UTF-8 cannot encode) is written as its \\uXXXX escape. Outside strings JSON text has only
    printable characters and the line breaks of `indent`, so only characters inside strings are escaped."""
    data = _fast_dumps(obj, dumps)
    if data is not None:
        text = data.decode("utf-8")
        # orjson escapes every control character below 0x20; what else could be unprintable is DEL or beyond
        # ASCII. Dropping the printable ASCII bytes (never part of a multi-byte sequence) leaves exactly those
        # characters, as UTF-8: usually a few dashes and arrows, checked in a fraction of the whole text's time.
        rest = data.translate(None, _PRINTABLE_ASCII)
        if not rest or rest.decode("utf-8").isprintable():
            return text
    else:
        text = json.dumps(obj, ensure_ascii=False, **dumps)
        if text.replace("\n", " ").isprintable():
            return text
    return "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch) for ch in text)


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"


def _fast_dumps(obj: Any, dumps: dict[str, Any]) -> bytes | None:
    """orjson's UTF-8 for the two shapes the auditor writes (indent=2, or compact), else None. orjson is about ten
    times faster than the standard encoder with an indent (which falls back to pure Python); it refuses what
    JSON cannot carry as such (a lone surrogate, an integer beyond 64 bits), and then the standard encoder writes
    it (and `json_text` escapes the surrogate)."""
    try:
        import orjson
    except ImportError:  # an environment without the wheel: the standard encoder, same document
        return None
    if dumps == {"indent": 2}:
        option = orjson.OPT_INDENT_2
    elif dumps == {"separators": (",", ":")}:
        option = 0
    else:
        return None
    try:
        return orjson.dumps(obj, option=option | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None


# Longest name and message a table, CSV or Markdown report lays out: beyond them layout costs grow with the text
# and nobody reads on; the JSON keeps the full text.
MAX_NAME = 200
MAX_MESSAGE = 4000


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
