"""What the e-mail and summary templates share: their Jinja environments and the labelled trend cells.

HTML goes through the reports' environment (auditor/outputs/html_env.py: autoescaping, every printed value made
printable). Plain text is not HTML: no autoescaping there; every printed string goes through `printable`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader

from auditor.result import TrendPoint
from auditor.text import printable

if TYPE_CHECKING:
    from auditor.config import EmailSettings

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not the locale's
MINUS = "\u2212"  # a real minus sign: "−7" reads as a drop, "-7" as a hyphen


def _text_finalize(value: Any) -> Any:
    """What the plain-text templates print: strings through `printable` (numbers and None as they are)."""
    return printable(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=1)
def text_env() -> Environment:
    env = Environment(loader=PackageLoader("auditor.outputs", "templates"), autoescape=False, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, finalize=_text_finalize)
    env.filters["plain"] = printable
    env.filters["or_dash"] = lambda v: "-" if v is None else v  # a missing number; 0 stays 0
    from auditor.outputs.wording import client_fix, client_message

    env.filters["client_message"] = client_message  # a finding in the client's words (auditor.outputs.wording)
    env.filters["client_fix"] = client_fix
    return env


def html_env() -> Environment:
    from auditor.outputs.html_env import environment

    return environment()


def signed(delta: int) -> str:
    """+5, −7, ±0."""
    return f"+{delta}" if delta > 0 else f"{MINUS}{-delta}" if delta < 0 else "\u00b10"


def gist(text: str, limit: int = 160) -> str:
    """The first sentence of a remediation, for a summary line (the findings below say the rest)."""
    text = " ".join(str(text).split())
    end = text.find(". ")
    first = text[:end + 1] if end != -1 else text
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(")  # at a word, never inside one
    return cut + "\u2026"


def grade_of(score: int | None, grades: Mapping[str, int]) -> str | None:
    """The grade of a score under the run's scale (the header's {grade: lowest score})."""
    if score is None:
        return None
    return next((g for g, floor in sorted(grades.items(), key=lambda x: -x[1]) if score >= floor), None)


@dataclass(frozen=True, slots=True)
class TrendCell:
    label: str  # "6 Jan", "30 Dec 2024" (the year when it is not the latest run's)
    date: str  # 2025-01-06, for a title attribute
    score: int | None
    grade: str | None


def _day(stamp: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(stamp or "")[:10])
    except ValueError:
        return None


def trend_cells(points: Sequence[TrendPoint]) -> list[TrendCell]:
    """The score of each of the last runs, oldest first, labelled with its date."""
    days = [_day(p.generated_at) for p in points]
    year = next((d.year for d in reversed(days) if d), None)
    out = []
    for p, d in zip(points, days, strict=True):
        if d is None:
            label = str(p.generated_at or "?")[:10]
        else:
            label = f"{d.day} {_MONTHS[d.month - 1]}" + (f" {d.year}" if d.year != year else "")
        out.append(TrendCell(label, str(p.generated_at or "")[:10], p.score, p.grade))
    return out


def trend_text(points: Sequence[TrendPoint]) -> str:
    """'80 (30 Dec 2024) → 70 (6 Jan) → 55 (13 Jan)': every score with its date, readable in any font."""
    return " \u2192 ".join(f"{'-' if c.score is None else c.score} ({c.label})" for c in trend_cells(points))


def subject(settings: EmailSettings | None, text: str) -> str:
    """A Subject: the config's prefix, then the text, made printable (a CR or LF would forge a header)."""
    prefix = settings.subject_prefix.strip() + " " if settings and settings.subject_prefix.strip() else ""
    return printable(prefix + text)[:200]
