"""summary.csv: one row per client, worst first, for spreadsheets (always written: it is an e-mail attachment).
Every cell goes through `csv_cell` (no formula injection, no control characters)."""

from __future__ import annotations

import csv
from typing import TextIO

from auditor.outputs.escape import csv_cell
from auditor.outputs.formats.summary_base import SummaryFormat, SummaryView
from auditor.result import SEVERITIES

# `change` is the score change since the previous complete run (empty on a first run)
COLUMNS = ["rank", "client", "status", "score", "grade", "previous_score", "change", "new", "resolved", "persisting",
           *SEVERITIES, "suppressed", "coverage", "errors", "report"]


class SummaryCsv(SummaryFormat):
    name = "csv"

    def write(self, out: TextIO, view: SummaryView) -> None:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(COLUMNS)
        for i, r in enumerate(view.rows, 1):
            w.writerow([csv_cell(x) for x in (
                i, r.name, r.status, r.score, r.grade, r.previous_score, r.delta, r.new, r.resolved, r.persisting,
                *(r.counts.get(s, 0) for s in SEVERITIES), r.suppressed, r.coverage, r.errors, r.json)])
