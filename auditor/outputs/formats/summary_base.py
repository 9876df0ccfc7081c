"""The agency summary as people read it: the summary files (summary.json, .csv, .html, .md, .txt), the lead's
e-mail and the chat message all say it the same way, from one `SummaryView`.

A summary format writes the whole summary at once (`SummaryFormat.write`): unlike a report, it holds one small
row per client, already in memory. Summary formats are registered here by the format names of
auditor.conventions (a format without a summary, such as pdf, writes none).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from auditor.outputs.formats.email_env import gist, signed

if TYPE_CHECKING:
    from auditor.agency.summary import AgencyRow, SummaryDocument
    from auditor.result import ClientResult

SUMMARY_EMAIL_ROWS = 100  # rows in the summary e-mail body (the attachments hold all): big mails get clipped
NAMED = 3  # clients named in the "got worse" line

# format name -> the class writing summary.<ext> in it
SUMMARY_FORMATS: dict[str, str] = {
    "json": "auditor.outputs.formats.summary_json:SummaryJson",
    "csv": "auditor.outputs.formats.summary_csv:SummaryCsv",
    "html": "auditor.outputs.formats.summary_html:SummaryHtml",
    "markdown": "auditor.outputs.formats.summary_markdown:SummaryMarkdown",
    "table": "auditor.outputs.formats.summary_table:SummaryTable",
}


@dataclass(slots=True)
class SummaryView:
    """A summary document as shown: all rows or the worst `limit`, with links to the reports or not, and the
    run's "fix first" line (found in the worst clients' reports) when there is one."""

    document: SummaryDocument
    top_fix: str | None = None
    limit: int | None = None
    links: bool = False

    @property
    def rows(self) -> list[AgencyRow]:
        rows = self.document.clients
        return rows if self.limit is None else rows[:self.limit]

    @property
    def hidden(self) -> int:
        return len(self.document.clients) - len(self.rows)

    @property
    def history(self) -> bool:
        """Whether the run compared with a history (a merge of shards does not know: assumed so)."""
        return self.document.run.history is not False

    def compared(self, row: AgencyRow) -> bool:
        """The row says what changed since an earlier run (else its "new" and "resolved" mean nothing)."""
        return self.history and not row.first_run

    def score_change(self, row: AgencyRow) -> str:
        """The "Score change" cell: +5, −7, ±0, "first run", "not audited" (no score this time), or "–" (no
        history)."""
        if row.delta is not None:
            return signed(row.delta)
        if not self.history:
            return "\u2013"
        if row.previous_score is None:
            return "first run"
        return "not audited"

    def lines(self) -> list[str]:
        return headline(self.document, self.top_fix)


def _worse_part(r: AgencyRow) -> str:
    parts = [f"score {signed(r.delta)}"] if (r.delta or 0) < 0 else []
    if r.new:
        parts.append(f"{r.new} new finding{'s' if r.new != 1 else ''}")
    return f"{r.name} ({', '.join(parts)})"


def headline(doc: SummaryDocument, top_fix: str | None = None) -> list[str]:
    """Three lines first: the clients and their score, what got worse, what to fix first; led by the clients
    with a funnel drop (a step or conversion that fell since their earlier runs) when there are any."""
    s, rows = doc.summary, doc.clients
    first = f"{s.clients} client{'s' if s.clients != 1 else ''}"
    first += f", average score {s.average_score:g}" if s.average_score is not None else ", none scored"
    trouble = [f"{s.errored} not audited"] if s.errored else []
    trouble += [f"{s.incomplete} only partly audited"] if s.incomplete else []
    lines = [first + (f"; {', '.join(trouble)}" if trouble else "") + "."]
    partial = [r for r in rows if r.partial]
    if partial:  # scores on some rules only are said first: they are not those of a full audit
        kinds = list(dict.fromkeys(r.partial for r in partial))
        which = kinds[0] if len(kinds) == 1 else "rules were left out"
        who = "every client" if len(partial) == len(rows) else ", ".join(r.name for r in partial[:NAMED]) + (
            f" and {len(partial) - NAMED} more" if len(partial) > NAMED else "")
        lines[0] = lines[0][:-1] + f"; {which[:1].upper()}{which[1:]} for {who}: not the scores of a full audit."
    got_worse = [r for r in rows if r.got_worse]
    if doc.run.history is False:
        lines.append("No history kept: nothing to compare with.")
    elif got_worse:
        named = ", ".join(_worse_part(r) for r in got_worse[:NAMED])
        more = f" and {len(got_worse) - NAMED} more" if len(got_worse) > NAMED else ""
        lines.append(f"Got worse: {named}{more}; {s.new} new finding(s) in all.")
    elif rows and all(r.first_run for r in rows):
        lines.append("First run: nothing to compare with yet.")
    else:
        better = [f"{s.better} client(s) better"] if s.better else []
        better += [f"{s.resolved} finding(s) resolved"] if s.resolved else []
        lines.append("Nothing got worse since the last run" + (f"; {', '.join(better)}" if better else "") + ".")
    if top_fix:
        lines.append(f"Fix first: {top_fix}")
    budget = doc.run.ads_budget
    if budget is not None and budget.deferred:
        named = ", ".join(budget.deferred[:NAMED])
        more = f" and {len(budget.deferred) - NAMED} more" if len(budget.deferred) > NAMED else ""
        lines.append(f"Deferred to the next run, where they come first: {named}{more} ({len(budget.deferred)} "
                     f"client(s) beyond the Google Ads budget of {budget.daily_operations:,} operations a day).")
    dropped = [r for r in rows if r.funnel_drops]
    if dropped:
        named = ", ".join(f"{r.name} ({r.funnel_drops})" for r in dropped[:NAMED])
        more = f" and {len(dropped) - NAMED} more" if len(dropped) > NAMED else ""
        lines.insert(0, f"Funnel drop since earlier runs: {named}{more}; their owners' e-mails open with it.")
    return lines


def top_fix(rows: list[AgencyRow], load: Callable[[AgencyRow], ClientResult], tries: int = 3) -> str | None:
    """"harbor-dental: duplicate-conversion-action (+30 points): Keep one action..." from the worst clients'
    reports: the biggest fix of the worst client that has one. Reads at most `tries` reports; a report that
    cannot be read is skipped (this line is a pointer, the reports say it all)."""
    from auditor.outputs.digest import fix_first
    from auditor.outputs.wording import client_text

    for row in [r for r in rows if r.score is not None and r.json][:tries]:
        try:
            fixes = fix_first(load(row), 1)
        except Exception:  # a vanished or damaged report: the summary goes out without this line
            continue
        if fixes:
            fx = fixes[0]
            fix = client_text(fx.finding.remediation, fx.finding.subjects)  # names, not resource paths
            return f"{row.name}: {fx.finding.rule} ({fx.gain}): {gist(fix)}"
    return None


class SummaryFormat:
    """Writes the summary in one format; `file_name` is summary.<extension of the format>."""

    name: ClassVar[str] = ""

    @property
    def file_name(self) -> str:
        from auditor.conventions import FORMAT_EXTENSIONS

        return f"summary.{FORMAT_EXTENSIONS[self.name]}"

    def write(self, out: TextIO, view: SummaryView) -> None:
        raise NotImplementedError


def summary_format(name: str) -> SummaryFormat | None:
    """The summary format of a report format name; None when that format has no summary (pdf)."""
    spec = SUMMARY_FORMATS.get(name)
    if spec is None:
        return None
    module, attr = spec.split(":")
    cls: Any = getattr(importlib.import_module(module), attr)
    return cls()
