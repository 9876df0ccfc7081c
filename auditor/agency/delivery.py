"""After every report and the summary are on disk: the run handed to each configured channel (e-mail,
webhooks...). A channel that fails never stops the others; any failure makes the run exit 4."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from auditor.agency.documents import read_client
from auditor.agency.log import Log
from auditor.agency.settings import Settings
from auditor.agency.summary import AgencyRow, SummaryDocument
from auditor.conventions import EXIT_DELIVERY
from auditor.outputs.channels import Delivered, FinishedRun
from auditor.result import ClientResult


def client_loader(out_dir: Path, unwritten: dict[str, ClientResult] | None = None
                  ) -> Callable[[AgencyRow], ClientResult]:
    """A client's full result: from its JSON report; an errored client whose report could not be written from
    `unwritten` (or, in a merge, told as not reported)."""
    def load(row: AgencyRow) -> ClientResult:
        if row.json:
            return read_client(out_dir / row.json)
        if unwritten and row.name in unwritten:
            return unwritten[row.name]
        from auditor.audit import error_result

        return error_result(row.name, ["its report could not be written; the run's log says why"])
    return load


def deliver(st: Settings, doc: SummaryDocument, owners: dict[str, list[str]], log: Log,
            load: Callable[[AgencyRow], ClientResult], top_fix: str | None = None) -> bool:
    """Every channel, in the registry's order. Returns False when any message was not delivered."""
    run = FinishedRun(doc, st.out_dir, owners, load, st.fail_on, st.min_score, top_fix, st.branding)
    ok = True
    for channel in st.channels:
        try:
            done = channel.deliver(run)
        except Exception as e:  # a channel's bug: its failure, never the other channels'
            if os.environ.get("AUDITOR_DEBUG"):
                raise
            done = Delivered()
            done.fail(f"internal error: {type(e).__name__} (set AUDITOR_DEBUG=1 for the traceback)")
        if done.said:
            log.info(f"{channel.label}: {done.said}")
        if done.failed:
            ok = False
            log.error(f"{channel.label}: {done.first_error}; {done.failed} of {done.failed + done.sent} message(s) "
                      f"not sent; every report is on disk in {st.out_dir} (exit {EXIT_DELIVERY})")
    return ok
