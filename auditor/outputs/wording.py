"""Phrases every format shares, so the terminal, Markdown, HTML and e-mail say the same thing the same way."""

from __future__ import annotations

from auditor.result import ClientResult


def score_line(r: ClientResult) -> str:
    if r.score is None:
        return "not audited (error)"
    cats = ", ".join(f"{c} {s}" for c, s in r.categories.items())
    return f"score {r.score}/100 (grade {r.grade}), coverage {r.coverage}%" + (f"; {cats}" if cats else "")


def change_lines(r: ClientResult) -> list[str]:
    """What changed since the previous run, when the result carries it (agency runs with history)."""
    if r.changes is None:
        return []
    from auditor.diff import change_lines as lines

    return lines(r.changes)
