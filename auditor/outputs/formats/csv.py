"""CSV: one table for spreadsheets, one row per finding, then one row per Google Ads campaign.

The `record` column says what a row is: `finding` (a finding, or one resolved since the previous run), `client`
(a client without findings: its row carries its score and errors, so every score is in the file) or `campaign`.
Filter on it; the columns before it are the finding columns they always were, in the same order. A campaign row
fills the client columns, `resources` (the campaign's resource) and `subjects` (its name), then the campaign
columns; a finding row about a campaign names it in `campaign` too. Every cell goes through `csv_cell` (no formula
injection, no control characters)."""

from __future__ import annotations

import csv
from typing import Any

from auditor.outputs.base import Format
from auditor.outputs.escape import csv_cell
from auditor.result import ClientResult, Header
from auditor.text import MAX_MESSAGE, MAX_NAME, clip

FINDING_COLUMNS = ["client", "profile", "score", "grade", "coverage", "rule", "severity", "category", "message",
                   "resources", "subjects", "remediation", "help_url", "actionable", "suppressed", "fingerprint",
                   "change"]
CAMPAIGN_COLUMNS = ["record", "campaign", "campaign_status", "channel", "bidding", "goals", "conversions_30d",
                    "volume_threshold", "volume"]


class CsvFormat(Format):
    name = "csv"
    COLUMNS = FINDING_COLUMNS + CAMPAIGN_COLUMNS

    def begin(self, header: Header) -> None:
        super().begin(header)
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.writer.writerow(self.COLUMNS)

    def _row(self, cells: list[Any]) -> None:
        self.writer.writerow([csv_cell(x) for x in cells])

    def client(self, r: ClientResult) -> None:
        from auditor.diff import change_of

        # cut once here, not in every row: a 20 MB name repeated per row was gigabytes (the JSON keeps it whole)
        grade = f"{r.grade} (partial)" if r.partial else r.grade or ""  # scored on some rules only
        base = [clip(r.name, MAX_NAME), r.profile or "", r.score, grade, r.coverage]
        blank = [""] * (len(CAMPAIGN_COLUMNS) - 2)  # a finding row's campaign details
        change = change_of(r.changes)  # new | persisting since the previous run (agency runs)
        if not r.findings:
            self._row(base + ["", "", "", "; ".join(r.errors), "", "", "", "", "", "", "", "", "client", "", *blank])
        for f in r.findings:
            campaigns = "; ".join(s.name for s in f.subjects if s.kind == "campaign" and s.name)
            self._row(base + [
                f.rule, f.severity, f.category, clip(f.message, MAX_MESSAGE), " ".join(f.resources),
                "; ".join(s.name for s in f.subjects if s.name), f.remediation, f.help_url,
                str(f.actionable).lower(), str(f.suppressed).lower(), f.fingerprint, change.get(f.fingerprint, ""),
                "finding", campaigns, *blank,
            ])
        for f in r.changes.resolved if r.changes else ():  # gone since the previous run: one row each
            self._row(base + [f.rule, f.severity, "", f.message, " ".join(f.resources), "", "", "", "", "",
                              f.fingerprint, "resolved", "finding", "", *blank])
        if r.campaigns:
            from auditor.campaigns import bidding_label, goals_label

            currency = r.sources.ads.currency if r.sources.ads else None
            for c in r.campaigns:
                self._row(base + ["", "", "", "", c.resource, c.name, "", "", "", "", "", "",
                                  "campaign", c.name, c.status, c.channel, bidding_label(c, currency),
                                  goals_label(c), c.conversions, c.threshold, c.volume or ""])
