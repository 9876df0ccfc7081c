"""The agency lead's summary e-mail (plain text and HTML), whose templates also write summary.txt and
summary.html: three lines first (the clients and their score, what got worse, what to fix first), then every
client worst first with its score, score change, last scores, findings by severity, new and resolved findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from auditor.outputs.formats.email_env import MINUS, grade_of, html_env, subject, text_env
from auditor.outputs.formats.summary_base import SUMMARY_EMAIL_ROWS, SummaryView
from auditor.result import SEVERITIES

if TYPE_CHECKING:
    from auditor.agency.summary import AgencySummary
    from auditor.config import EmailSettings

TEMPLATES = {"text": "email_summary.txt.j2", "html": "email_summary.html.j2"}


def summary_context(view: SummaryView) -> dict[str, Any]:
    doc = view.document
    title = f"Agency summary: {doc.summary.clients} client(s), worst first"
    grades = doc.header.grades
    return {"title": title, "view": view, "rows": view.rows, "hidden": view.hidden, "summary": doc.summary,
            "header": doc.header, "lines": view.lines(), "severities": SEVERITIES, "links": view.links,
            "score_change": view.score_change, "grade_of": lambda s: grade_of(s, grades), "MINUS": MINUS,
            "compared": view.compared}


def render_summary(view: SummaryView) -> tuple[str, str]:
    """(plain text, HTML) of the summary e-mail (the e-mail shows `email_view`'s worst SUMMARY_EMAIL_ROWS)."""
    ctx = summary_context(view)
    return (text_env().get_template(TEMPLATES["text"]).render(ctx),
            html_env().get_template(TEMPLATES["html"]).render(ctx))


def email_view(view: SummaryView) -> SummaryView:
    """The view an e-mail body shows: the worst SUMMARY_EMAIL_ROWS clients (the attachments hold them all)."""
    return SummaryView(view.document, view.top_fix, SUMMARY_EMAIL_ROWS, links=False)


def stream_summary(kind: str, view: SummaryView) -> Iterator[str]:
    """The summary ("html" or "text") in chunks, for a file: memory stays flat however many clients."""
    env = html_env() if kind == "html" else text_env()
    return env.get_template(TEMPLATES[kind]).generate(summary_context(view))


def summary_subject(settings: EmailSettings | None, summary: AgencySummary) -> str:
    avg = f", average {summary.average_score:g}" if summary.average_score is not None else ""
    worse = f", {summary.worse} worse" if summary.worse else ""
    errored = f", {summary.errored} not audited" if summary.errored else ""
    return subject(settings, f"Agency summary: {summary.clients} client(s){avg}{worse}{errored}")
