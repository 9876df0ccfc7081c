"""`audit run`: audit every client of the config, write each client's reports, the history and the summary, then
deliver through every configured channel.

The run streams: a client is audited (with its earlier complete runs from the history, for the rules that watch
trends), suppressions applied, compared with its previous result in the history, its files written (atomically)
and its history row committed before the next client starts. Only a small summary row per client stays in
memory; owners' e-mails re-read each client's JSON from disk.

A run is complete once every client's reports and the summary (or shard file) are on disk; only complete runs
are baselines of later runs. A failure of the run itself (`RunFailed`, `HistoryError`) stops it with one line
naming the path and the cause, exit 3, never marked complete, nothing delivered.
"""

from __future__ import annotations

import time

from auditor.agency.budget import within_budget
from auditor.agency.client import ClientUnits
from auditor.agency.delivery import client_loader, deliver
from auditor.agency.failures import RunFailed
from auditor.agency.history import end_unfinished
from auditor.agency.lock import prepare_output, with_lock
from auditor.agency.log import Log
from auditor.agency.reports import CLIENTS_DIR, write_shard_file, write_summary
from auditor.agency.settings import Settings
from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
from auditor.agency.targets import iter_results, recipients_of, targets_of
from auditor.conventions import EXIT_DELIVERY, exit_code
from auditor.errors import AuditorError, ConfigError
from auditor.outputs.formats.summary_base import top_fix
from auditor.progress import Progress
from auditor.text import printable


def run(st: Settings, log: Log) -> int:
    """The run under the output folder's lock; returns the exit code (auditor.conventions)."""
    return with_lock(st.out_dir, st.shard, log, lambda: _run(st, log))


def client_line(i: int, n: int, row: AgencyRow) -> str:
    """'[2/5] harbor-dental: 40/100 F, -7 since last run, 1 new, 0 resolved': a client done, for logs."""
    score = "not audited" if row.score is None else f"{row.score}/100 {row.grade}"
    change = "" if row.delta is None else f", {row.delta:+d} since last run"
    news = f", {row.new} new, {row.resolved} resolved" if row.previous_score is not None else ""
    status = "" if row.status == "ok" else f" ({row.status})"
    return f"[{i}/{n}] {printable(row.name)}: {score}{change}{news}{status}"


def shard_file_name(shard: tuple[int, int]) -> str:
    return f"shard-{shard[0]}-of-{shard[1]}.json"


def _run(st: Settings, log: Log) -> int:
    from auditor.audit import result_header
    from auditor.history import History, HistoryError
    from auditor.notices import WarningTally

    started = time.monotonic()
    header = result_header()
    prepare_output([st.out_dir, st.out_dir / CLIENTS_DIR], log)
    targets = targets_of(st, log)
    shard = f"{st.shard[0]}/{st.shard[1]}" if st.shard else None
    history = History.open(st.history_path) if st.history_path else None
    units = ClientUnits(st, header, history, shard)
    rows: list[AgencyRow] = []
    owners: dict[str, list[str]] = {}
    load = client_loader(st.out_dir, units.unwritten)
    fix: str | None = None
    complete = summarised = False
    failure: BaseException | None = None
    try:
        if history is not None:
            stale = history.abort_stale(shard)  # under this shard's lock: their runs were killed
            if stale:
                log.warn(f"{history.path}: {stale} earlier run(s){f' of shard {shard}' if shard else ''} did not "
                         "finish (killed or interrupted); marked aborted, never a baseline")
        targets, ads_budget = within_budget(st, targets, history, log)  # the rest: deferred, first next time
        results = iter_results(st, targets, units.earlier)  # each client with its earlier runs
        tally = WarningTally()
        try:
            with Progress(len(targets), enabled=log.bar) as bar:  # a terminal: a bar; cron: a line per client
                log.progress = bar if bar.enabled else None
                for i, (t, result, extra) in enumerate(results, 1):
                    units.begin()
                    row, result = units.one(t, result)
                    rows.append(row)
                    for w in result.warnings:
                        tally.add(t.name, w)
                    for e in result.errors:
                        log.error(f"client {t.name}: {e}")
                    for addr in recipients_of(t, extra, log):
                        owners.setdefault(addr, []).append(t.name)
                    if bar.enabled:
                        bar.advance(t.name)
                    else:
                        log.info(client_line(i, len(targets), row))
        finally:
            log.progress = None
            results.close()  # a live session stops fetching when the run stops early
        for line in tally.lines():  # once per file and field, with a count: not a line per action per client
            log.warn(line)
        for w in st.suppressions.warnings():
            log.warn(w)
        doc = SummaryDocument(header, RunInfo(shard, history is not None, st.formats, ads_budget=ads_budget), rows)
        if st.live is not None and "ads" in st.live.calls():
            log.detail(f"Google Ads: {st.live.calls()['ads']:,} operations spent")
        if st.shard:
            write_shard_file(st.out_dir / shard_file_name(st.shard), doc)
        else:
            fix = top_fix(doc.clients, load)
            write_summary(st.out_dir, doc, st.formats, fix)
        summarised = True
        if history is not None and units.run_id is not None:  # every promised file is on disk: complete
            history.finish_run(units.run_id, result_header().generated_at, len(rows))
        complete = True
        if history is not None and st.keep_runs:
            try:
                history.prune(st.keep_runs)
            except AuditorError as e:  # housekeeping: the run is complete all the same
                log.warn(f"{e}; old runs not pruned")
    except BaseException as e:
        failure = e
        if not isinstance(e, (RunFailed, HistoryError)) or isinstance(e, ConfigError):
            raise
        what = "shard file" if st.shard else "summary"
        if summarised:
            state = f"every report and the {what} are on disk, but"
        else:
            done = sum(1 for r in rows if r.json)
            state = (f"the run stopped after {len(rows)} of {len(targets)} client(s) ({done} report(s) on disk), "
                     f"no {what},")
        raise RunFailed(f"{e}; {state} nothing sent, not marked complete in the history") \
            from None
    finally:
        if history is not None:
            if units.run_id is not None and not complete:
                end_unfinished(history, units.run_id, failure, len(rows))
            history.close()
    took = f"{time.monotonic() - started:.1f} s"
    code = exit_code(doc.clients, st.fail_on, st.min_score)
    if st.shard:
        log.info(f"shard {shard}: {len(rows)} client(s) audited in {took}; wrote "
                 f"{st.out_dir / shard_file_name(st.shard)}; `audit merge` writes the summary and delivers it")
        return code
    log.info(f"{len(rows)} client(s) audited in {took}; reports in {st.out_dir}")
    return code if deliver(st, doc, owners, log, load, fix) else EXIT_DELIVERY
