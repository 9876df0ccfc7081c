"""Text for a terminal: wrapping to its width, simple column tables, severity colours.

Everything here takes text that may come from the data and makes it `printable` first (`safe`); colour codes
are added afterwards, only by `paint`, only from the fixed table of styles below, so no escape sequence of the
data reaches the screen. Widths are counted in characters (`len`), the ANSI codes `paint` adds excluded.
Plain string slicing rather than `textwrap` and `tabulate`: a report of many clients stays well under a
millisecond per client.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from auditor.text import printable

MIN_WIDTH = 20  # below this nothing is readable; widths smaller are treated as this
SEP = "  "  # between table columns

# SGR parameters: severities as their urgency reads at a glance; the rest for structure
STYLES = {
    "critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2",
    "error": "1;31", "heading": "1", "fix": "32",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SOFT_BREAKS = "_-/.:,;)"  # where an unbreakable name is cut, when one of them is past the line's first quarter


def safe(text: object) -> str:
    """`printable`, with a fast path for the usual text that is printable already."""
    s = text if isinstance(text, str) else str(text)
    return s if s.isprintable() else printable(s)


def paint(text: str, style: str | None, color: bool) -> str:
    """`text` (already safe) in the SGR style named `style`; unchanged without colour or for an unknown style."""
    code = STYLES.get(style or "") if color else None
    return f"\x1b[{code}m{text}\x1b[0m" if code and text else text


def visible_len(line: str) -> int:
    """Characters a line takes on screen: its length without the colour codes."""
    return len(_ANSI.sub("", line)) if "\x1b" in line else len(line)


def _cut(text: str, width: int) -> int:
    """Where to end a line of at most `width` characters of `text` (longer than `width`): the last space,
    unless the word after it could not fit on a line of its own either (then the line is filled); else a soft
    break (after `_` `-` `/`...) past its first quarter; else exactly at `width`."""
    cut = text.rfind(" ", 0, width + 1)
    if cut > 0:
        end = text.find(" ", cut + 1)
        if (end if end >= 0 else len(text)) - cut - 1 <= width:
            return cut
    head = text[:width]
    soft = max(head.rfind(ch) for ch in _SOFT_BREAKS) + 1
    return soft if soft > width // 4 else width


def chunks(text: str, width: int, first: int | None = None) -> list[str]:
    """`text` (already safe) cut into lines of at most `width` characters (the first line: `first`), at spaces
    where it can; a word longer than a line is cut. Spaces at a cut are dropped, the others kept."""
    width = max(1, width)
    room = max(1, width if first is None else first)
    text = text.strip(" ")
    out: list[str] = []
    while len(text) > room:
        cut = _cut(text, room)
        out.append(text[:cut].rstrip(" "))
        text = text[cut:].lstrip(" ")
        room = width
    out.append(text)
    return out


def wrap(text: object, width: int, indent: str = "", hang: str | None = None) -> list[str]:
    """`text` as lines of at most `width` characters: the first after `indent`, the others after `hang`
    (default: as many spaces as `indent`)."""
    width = max(width, MIN_WIDTH)
    hang = " " * len(indent) if hang is None else hang
    lines = chunks(safe(text), width - len(hang), width - len(indent))
    return [indent + lines[0], *(hang + x for x in lines[1:])]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: Sequence[str], width: int,
          indent: str = "", keep: Collection[int] = ()) -> list[str]:
    """A table with a header and a dashed rule under it (tabulate's "simple" look), its columns `align`ed
    ("left" / "right"), no line wider than `width`. Text columns wrap when the table is too wide; numbers
    ("right" columns) and the columns in `keep` (identifiers) never do. When even that cannot fit, each row
    becomes a small block of "header value" lines (`records`)."""
    width = max(width, MIN_WIDTH)
    head = [safe(h) for h in headers]
    body = [[safe(c) for c in row] for row in rows]
    natural = [max([len(head[i]), *(len(r[i]) for r in body)]) for i in range(len(head))]
    room = width - len(indent) - len(SEP) * (len(head) - 1)
    if sum(natural) <= room:  # the usual case: every cell on one line
        return [indent + _row(head, natural, align), indent + SEP.join("-" * w for w in natural),
                *(indent + _row(r, natural, align) for r in body)]
    widths = _fit(head, body, align, room, keep)
    if widths is None:
        return records(head, body, width, indent)
    out = _wrapped_row(head, widths, align, indent)
    out.append(indent + SEP.join("-" * w for w in widths))
    for r in body:
        out += _wrapped_row(r, widths, align, indent)
    return out


def _row(cells: Sequence[str], widths: Sequence[int], align: Sequence[str]) -> str:
    return SEP.join(c.rjust(w) if a == "right" else c.ljust(w)
                    for c, w, a in zip(cells, widths, align, strict=True)).rstrip(" ")


def _fit(head: list[str], body: list[list[str]], align: Sequence[str], room: int,
         keep: Collection[int] = ()) -> list[int] | None:
    """Column widths summing to at most `room`, None when no layout fits.

    First the number columns ("right") give up what only their header needs ("from previous" over two lines),
    never narrower than their longest value; then the text columns share what is left, the widest giving way
    first (a common cap), none under 8 characters unless its content is shorter."""
    natural = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(head)]
    widths = list(natural)
    excess = sum(widths) - room
    for i in sorted(range(len(head)), key=lambda j: natural[j], reverse=True):
        if excess <= 0:
            return widths
        if align[i] == "right" and i not in keep:
            floor = max(max((len(r[i]) for r in body), default=1), min(len(head[i]), 8))
            give = min(excess, widths[i] - floor)
            if give > 0:
                widths[i] -= give
                excess -= give
    if excess <= 0:
        return widths
    text = [i for i in range(len(head)) if align[i] != "right" and i not in keep]
    capped = _level([natural[i] for i in text], [min(natural[i], 8) for i in text],
                    room - sum(w for i, w in enumerate(widths) if i not in text))
    if capped is None:
        return None
    for i, w in zip(text, capped, strict=True):
        widths[i] = w
    return widths


def _level(natural: list[int], floor: list[int], room: int) -> list[int] | None:
    """Widths under the largest common cap that fits `room` (no width above its natural one or below its
    floor); what the cap leaves over goes to the capped columns, one character each."""
    def total(cap: int) -> int:
        return sum(max(f, min(n, cap)) for n, f in zip(natural, floor, strict=True))

    if total(0) > room:
        return None
    lo, hi = 0, max(natural, default=0)
    while lo < hi:  # the largest cap with total(cap) <= room
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if total(mid) <= room else (lo, mid - 1)
    widths = [max(f, min(n, lo)) for n, f in zip(natural, floor, strict=True)]
    spare = room - sum(widths)
    for i, n in enumerate(natural):
        if spare > 0 and n > widths[i]:
            widths[i] += 1
            spare -= 1
    return widths


def _wrapped_row(cells: Sequence[str], widths: Sequence[int], align: Sequence[str], indent: str) -> list[str]:
    parts = [[c] if len(c) <= w else _cell(c, w, a) for c, w, a in zip(cells, widths, align, strict=True)]
    height = max(len(p) for p in parts)
    return [indent + _row([p[k] if k < len(p) else "" for p in parts], widths, align) for k in range(height)]


def _cell(text: str, width: int, align: str) -> list[str]:
    """A cell's lines; a text cell's continuation lines indented, so they do not read as a row of their own."""
    if align == "right" or width < 10:
        return chunks(text, width)
    first, *rest = chunks(text, width - 2, first=width)
    return [first, *("  " + x for x in rest)]


def records(head: Sequence[str], body: Sequence[Sequence[str]], width: int, indent: str = "") -> list[str]:
    """Rows as blocks, for a terminal too narrow for the table: the first cell, then the others as
    "header value" pairs below it."""
    out = []
    for r in body:
        out += wrap(r[0], width, indent)
        rest = "; ".join(f"{h} {c}" for h, c in zip(head[1:], r[1:], strict=True) if c)
        if rest:
            out += wrap(rest, width, indent + "    ")
    return out
