"""summary.txt: the plain-text part of the lead's summary e-mail, every client."""

from __future__ import annotations

from typing import TextIO

from auditor.outputs.formats.summary_base import SummaryFormat, SummaryView


class SummaryTable(SummaryFormat):
    name = "table"

    def write(self, out: TextIO, view: SummaryView) -> None:
        from auditor.outputs.formats.email_summary import stream_summary

        out.writelines(stream_summary("text", SummaryView(view.document, view.top_fix, None)))
