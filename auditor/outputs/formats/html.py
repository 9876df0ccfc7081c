"""HTML: a self-contained page for a client or an agency; Jinja templates in auditor/outputs/templates.

The page is responsive (no horizontal scroll on a phone, findings as cards, tables stacked) and prints to A4
(`@media print`): the PDF format prints this same page.

A document of several clients opens with its contents and the summary of every client, worst first (the page an
agency lead reads first), then each client, then the appendix "About these checks" (what each rule with a finding
checks for, why it matters, how to fix it: every rule link of the document points there) and the scoring formula.
The summary needs every client, so a document of several clients holds their sections in memory until `end`; one
client's report streams as it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.engine import SEVERITIES
from auditor.outputs.base import Format
from auditor.outputs.wording import with_short_name
from auditor.result import ClientResult, Header, Summary, SummaryRow


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """A client's line in the summary that opens a document of several clients."""

    name: str
    score: int | None
    grade: str | None
    status: str
    counts: dict[str, int]
    fix: str  # the fix that recovers the most points: "Title (+15 points)", or ""

    @property
    def findings(self) -> str:
        """'1 critical, 2 high' (the severities with findings), 'none', or '' for a client not audited."""
        if self.score is None:
            return ""
        return ", ".join(f"{n} {s}" for s, n in self.counts.items() if n) or "none"


def overview_row(r: ClientResult) -> OverviewRow:
    from auditor.outputs.digest import fix_first, title_of

    fixes = fix_first(r, 1)
    fix = f"{title_of(r, fixes[0].finding.rule)} ({fixes[0].gain})" if fixes else ""
    row = SummaryRow.of(r)
    grade = f"{row.grade} (partial)" if row.partial and row.grade else row.grade  # scored on some rules only
    return OverviewRow(row.name, row.score, grade, row.status, {s: row.counts.get(s, 0) for s in SEVERITIES}, fix)


class HtmlFormat(Format):
    """A self-contained page; every API-sourced string is escaped by Jinja's autoescaping and made printable by
    the environment's finalize hook (auditor/outputs/html_env.py)."""

    name = "html"
    expand = False  # <details> (the passed checks) open: paper cannot be clicked (set by the PDF format)

    def begin(self, header: Header) -> None:
        super().begin(header)
        from auditor.outputs.appendix import RuleNotes
        from auditor.outputs.html_env import environment

        self.env = environment()
        self.notes = RuleNotes()
        self.held: list[str] = []  # the client sections of a document of several clients, until `end`
        self.overview: list[OverviewRow] = []
        self.out.write(self.env.get_template("head.html.j2").render(header=header, branding=self.options.branding))

    def client(self, r: ClientResult) -> None:
        r = with_short_name(r)  # cut before layout; messages are cut by client_text
        html = self.env.get_template("client.html.j2").render(c=r, severities=SEVERITIES, expand=self.expand)
        row = overview_row(r)
        # nothing above changed this format: a client that fails to render leaves no trace (see Format.state)
        self.notes.add(r)
        if self.options.single:
            self.out.write(html)
        else:
            self.held.append(html)
            self.overview.append(row)

    def end(self, summary: Summary) -> None:
        from auditor.outputs.appendix import APPENDIX_ID, APPENDIX_TITLE

        if not self.options.single:
            ranked = sorted(self.overview, key=lambda x: (x.score is not None, x.score or 0, x.name))
            self.out.write(self.env.get_template("overview.html.j2").render(
                summary=summary, ranked=ranked, clients=[x.name for x in self.overview],
                appendix_id=APPENDIX_ID, appendix_title=APPENDIX_TITLE))
            self.out.writelines(self.held)
            self.held = []
        self.out.write(self.env.get_template("foot.html.j2").render(
            summary=summary, header=self.header, notes=self.notes.notes(), appendix_id=APPENDIX_ID,
            appendix_title=APPENDIX_TITLE))
