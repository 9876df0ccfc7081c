"""The summary as a Slack incoming-webhook message: `{"text": ..., "blocks": [...]}` with a header, the three-line
summary, the worst clients (score, grade, score change) and every client whose score dropped.

Client names and messages are untrusted: each goes through `mrkdwn`, which makes it printable and escapes the
three characters Slack's mrkdwn gives meaning to (& < >: no mention, no link, no channel ping can be injected).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auditor.outputs.formats.summary_base import SummaryView
from auditor.text import printable

if TYPE_CHECKING:
    from auditor.agency.summary import AgencyRow

WORST = 5  # clients listed as the worst
DROPS = 10  # at most this many more clients whose score dropped
SECTION_MAX = 2900  # Slack refuses a section text over 3000 characters
HEADER_MAX = 150  # and a header over 150


def mrkdwn(text: Any) -> str:
    """Untrusted text for a mrkdwn field: printable, with &, < and > escaped as Slack asks."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _client_line(view: SummaryView, r: AgencyRow) -> str:
    score = "not audited" if r.score is None else f"{r.score}/100 ({mrkdwn(r.grade)})"
    line = f"\u2022 *{mrkdwn(r.name)}*: {score}, score change {mrkdwn(view.score_change(r))}"
    if r.new and view.compared(r):
        line += f", {r.new} new finding{'s' if r.new != 1 else ''}"
    return line


def slack_payload(view: SummaryView) -> dict[str, Any]:
    doc = view.document
    lines = view.lines()
    title = _clip(printable(f"Conversion audit: {doc.summary.clients} client(s), {doc.generated_at[:10]}"),
                  HEADER_MAX)
    rows = doc.clients
    worst = rows[:WORST]
    drops = [r for r in rows[WORST:] if (r.delta or 0) < 0][:DROPS]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(
            (f"*{mrkdwn(x)}*" if i == 0 else mrkdwn(x)) for i, x in enumerate(lines)), SECTION_MAX)}},
    ]
    if worst:
        text = "*Worst clients*\n" + "\n".join(_client_line(view, r) for r in worst)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_MAX)}})
    if drops:
        text = "*Score dropped*\n" + "\n".join(_client_line(view, r) for r in drops)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_MAX)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(
        f"auditor {doc.header.version} \u00b7 {sum(1 for r in rows if r.got_worse)} client(s) got worse \u00b7 "
        "full reports in the run's output folder")}]})
    # `text`: what notifications and clients without blocks show
    return {"text": mrkdwn(f"{title}. " + " ".join(lines[:2])), "blocks": blocks}
