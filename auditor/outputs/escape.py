"""Untrusted text (API names, folder names, config values, messages built from them) made safe per medium.

Every format neutralises every string on the way out: the table through `printable`, Markdown through
`md_escape`, CSV through `csv_safe`, JSON by escaping (`auditor.text.json_text`), HTML by autoescaping plus
`printable` (auditor/outputs/html_env.py). No output carries a control character, a bidirectional override or a
lone surrogate.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.text import printable


def printable_lines(text: Any) -> str:
    """Text of several lines: each line through `printable`, the line breaks kept. The last guard of the text
    renderers, applied to everything they write; data never carries a line break this far (each value went
    through `printable` or `md_escape` first)."""
    s = str(text)
    if s.replace("\n", " ").isprintable():  # the usual case, checked at C speed
        return s
    return "\n".join(printable(line) for line in s.split("\n"))



# -- Markdown ----------------------------------------------------------------------------------------------------
#
# Untrusted text is escaped just enough that it cannot make markup, and no more, so that ordinary names read as
# they are when the Markdown is pasted into a ticket (add_to_cart, (GA4), 12.5%, -3, #1):
#   - control characters, line breaks, bidirectional overrides, lone surrogates: "?" (`printable`);
#   - `&`, `<`, `>`: HTML entities (no raw HTML, no entity tricks, no autolink <...>, no blockquote);
#   - `|`, `` ` ``, `[`, `]`: backslash (no table break, no code span, no link, image, footnote or reference);
#   - a backslash before ASCII punctuation or at the end: doubled (it would otherwise escape what follows);
#   - `*`, `_`, `~` (emphasis, strikethrough): escaped unless they cannot open or close a run: `_` between two
#     letters or digits (CommonMark never emphasises inside a word with `_`), any of them between two spaces;
#   - `://` and `www.`: the colon or the dot (GFM would turn a bare URL into a link: https\://x, www\.x);
#   - at the start of a line (line_start=True: headings, paragraphs, list items): a heading `#`, a list marker
#     (`-`, `+`, `1.`, `1)` followed by a space), a setext or thematic-break line (`=`, `-`), and a closing `#`
#     sequence (a heading would drop it). Inside table cells block syntax does not apply.
# Not escaped: parentheses, `!`, `#` inside text, `.`, `%`, `{}`, leading spaces (four make an indented code
# block: still literal text). An e-mail address may still be shown as a mailto: link by GFM (no escape stops
# that without showing); it shows exactly its target and cannot run a script.

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_BACKSLASH = frozenset("|`[]")
_MD_FLANKING = frozenset("*_~")
_MD_SAFE = re.compile(r"[^&<>|`\[\]\\*_~]*")
_MD_ORDERED = re.compile(r"(\d{1,9})([.)])(?= |$)")
_MD_CLOSING_HASHES = re.compile(r"( )(#+ *)$")
_MD_CODE = re.compile(r"[A-Za-z0-9_.:/-]+")


def md_escape(text: Any, line_start: bool = False) -> str:
    """API-sourced text as Markdown that renders as exactly that text: no markup, link, image or raw HTML can be
    injected, and nothing that needs no escaping is escaped. `line_start`: the text begins a line (a heading, a
    paragraph, a list item), so block syntax at its start is escaped too."""
    s = printable(text)
    if _MD_SAFE.fullmatch(s) and "://" not in s and "www." not in s.lower():
        out = s
    else:
        parts = []
        for i, ch in enumerate(s):
            if ch in _MD_ENTITY:
                parts.append(_MD_ENTITY[ch])
            elif ch in _MD_BACKSLASH:
                parts.append("\\" + ch)
            elif ch == "\\":
                nxt = s[i + 1:i + 2]
                parts.append("\\\\" if not nxt or nxt in _ASCII_PUNCT else "\\")
            elif (ch == ":" and s[i + 1:i + 3] == "//") or (ch == "." and s[max(0, i - 3):i].lower() == "www"):
                parts.append("\\" + ch)  # https://x, www.x: GFM would make a link of it (autolink extension)
            elif ch in _MD_FLANKING:
                prev, nxt = s[i - 1:i] if i else "", s[i + 1:i + 2]
                inert = (prev == " " and nxt == " ") or (ch == "_" and prev.isalnum() and nxt.isalnum())
                parts.append(ch if inert else "\\" + ch)
            else:
                parts.append(ch)
        out = "".join(parts)
    if line_start and out:
        out = _md_block_start(out)
    return out


def _md_block_start(s: str) -> str:
    """Escape what would start a block at the beginning of a line (after up to three spaces of indent)."""
    body = s.lstrip(" ")
    indent = s[:len(s) - len(body)]
    first, nxt = body[:1], body[1:2]
    if first == "#":
        hashes = len(body) - len(body.lstrip("#"))
        if hashes <= 6 and body[hashes:hashes + 1] in ("", " "):
            body = "\\" + body
    elif first in ("-", "+", "=") and not nxt.isalnum():
        body = "\\" + body  # list item, thematic break, setext underline (-5% or +3 stay as they are)
    elif first.isdigit():
        body = _MD_ORDERED.sub(r"\1\\\2", body, count=1) if _MD_ORDERED.match(body) else body
    body = _MD_CLOSING_HASHES.sub(r"\1\\\2", body)  # "## name #": the closing sequence would be dropped
    return indent + body


def md_code(text: Any) -> str:
    """An identifier (a rule id) as a code span when it is plain, else as escaped text."""
    s = printable(text)
    return f"`{s}`" if _MD_CODE.fullmatch(s) else md_escape(s)



# -- CSV ---------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: Any) -> str:
    """A CSV cell from untrusted text: `printable` (no control character, line break, bidirectional override or
    lone surrogate), then a leading quote when a spreadsheet would read a formula (=, +, -, @, tab, CR first,
    after any spaces)."""
    s = text if isinstance(text, str) and text.isprintable() else printable(text)
    return "'" + s if s.lstrip(" ")[:1] in _FORMULA_START else s


def csv_cell(value: Any) -> Any:
    """Any CSV cell: numbers stay numbers, None is empty, everything else goes through `csv_safe`."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return csv_safe(value)
