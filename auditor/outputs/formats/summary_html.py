"""summary.html: the lead's summary e-mail as a page, every client (not only the worst 100), each name linking
to the client's HTML report."""

from __future__ import annotations

from typing import TextIO

from auditor.outputs.formats.summary_base import SummaryFormat, SummaryView


class SummaryHtml(SummaryFormat):
    name = "html"

    def write(self, out: TextIO, view: SummaryView) -> None:
        from auditor.outputs.formats.email_summary import stream_summary

        out.writelines(stream_summary("html", SummaryView(view.document, view.top_fix, None, links=True)))
