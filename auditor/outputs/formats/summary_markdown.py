"""summary.md: the summary to paste into a ticket or a wiki. Untrusted text goes through `md_escape`."""

from __future__ import annotations

from typing import TextIO

from auditor.outputs.escape import md_escape, printable_lines
from auditor.outputs.formats.summary_base import SummaryFormat, SummaryView
from auditor.result import SEVERITIES


class SummaryMarkdown(SummaryFormat):
    name = "markdown"

    def write(self, out: TextIO, view: SummaryView) -> None:
        doc = view.document
        w = out.write
        w(printable_lines(f"# Agency summary\n\nGenerated {md_escape(doc.generated_at)}.\n\n"))
        for line in view.lines():
            w(printable_lines(f"{md_escape(line, line_start=True)}  \n"))
        w("\nClients, worst first.\n\n| # | client | score | grade | score change | new findings | resolved | "
          + " | ".join(SEVERITIES) + " |\n|" + " --- |" * (7 + len(SEVERITIES)) + "\n")
        for i, r in enumerate(view.rows, 1):
            first = not view.compared(r)
            cells = [str(i), md_escape(r.name), "-" if r.score is None else str(r.score), md_escape(r.grade or "error"),
                     md_escape(view.score_change(r)), "\u2013" if first else str(r.new),
                     "\u2013" if first else str(r.resolved), *(str(r.counts.get(s, 0)) for s in SEVERITIES)]
            w(printable_lines("| " + " | ".join(cells) + " |\n"))
