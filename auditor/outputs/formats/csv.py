"""CSV: one row per finding, for spreadsheets. A client without findings still gets a row, so every score is in
the file. Every cell goes through `csv_cell` (no formula injection, no control characters)."""

from __future__ import annotations

import csv
from typing import Any

from auditor.outputs.base import Format
from auditor.outputs.escape import csv_cell
from auditor.result import ClientResult, Header


class CsvFormat(Format):
    name = "csv"
    COLUMNS = ["client", "profile", "score", "grade", "coverage", "rule", "severity", "category", "message",
               "resources", "subjects", "remediation", "help_url", "actionable", "suppressed", "fingerprint",
               "change"]

    def begin(self, header: Header) -> None:
        super().begin(header)
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.writer.writerow(self.COLUMNS)

    def _row(self, cells: list[Any]) -> None:
        self.writer.writerow([csv_cell(x) for x in cells])

    def client(self, r: ClientResult) -> None:
        from auditor.diff import change_of

        base = [r.name, r.profile or "", r.score, r.grade or "", r.coverage]
        change = change_of(r.changes)  # new | persisting since the previous run (agency runs)
        if not r.findings:
            self._row(base + ["", "", "", "; ".join(r.errors), "", "", "", "", "", "", "", ""])
        for f in r.findings:
            self._row(base + [
                f.rule, f.severity, f.category, f.message, " ".join(f.resources),
                "; ".join(s.name for s in f.subjects if s.name), f.remediation, f.help_url,
                str(f.actionable).lower(), str(f.suppressed).lower(), f.fingerprint, change.get(f.fingerprint, ""),
            ])
        for f in r.changes.resolved if r.changes else ():  # gone since the previous run: one row each
            self._row(base + [f.rule, f.severity, "", f.message, " ".join(f.resources), "", "", "", "", "",
                              f.fingerprint, "resolved"])
