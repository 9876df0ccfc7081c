"""Text from outside the auditor (API data, folder names, config values) made safe to print.

Event names, action names and client folder names are untrusted: an escape sequence could clear a terminal or
retitle its window, a CR or LF could forge a line in a cron log, a bidirectional override could reverse what a
reader sees. Every output channel passes such text through `printable` (or a channel-specific escaper built on
it) before writing it.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "?"


def printable(text: Any) -> str:
    """One line of visible text: every character Unicode calls "other" or "separator" (C0 and C1 controls such as
    ESC, BEL, CR, LF and DEL, bidirectional overrides and isolates, zero-width format characters, line and
    paragraph separators, lone surrogates) becomes "?"; the ASCII space stays."""
    return "".join(ch if ch.isprintable() else REPLACEMENT for ch in str(text))
