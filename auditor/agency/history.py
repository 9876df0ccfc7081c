"""The run's side of the history database: opening it, each client audited with its earlier complete runs and
compared with its previous one, its result recorded, and the run marked complete (a baseline from then on) or
not."""

from __future__ import annotations

from dataclasses import replace

from auditor.diff import compute_changes
from auditor.history import ABORTED, EARLIER_RUNS, FAILED, History
from auditor.model import ClientHistory
from auditor.result import Changes, ClientResult


def client_history(history: History, name: str, run_id: int | None = None, runs: int = EARLIER_RUNS) -> ClientHistory:
    """The vitals of the client's last `runs` audited results of complete runs before this one, oldest first (no
    runs on a first audit; a result saved before vitals were measured is left out), for the rules that watch
    trends (funnel-step-drop...)."""
    from auditor import vitals

    out = []
    skipped: list[str] = []  # a damaged row is data, not a failure of the run: the rules get fewer earlier runs
    for generated_at, stored in history.earlier_vitals(name, run_id, runs, warn=skipped.append):
        v = vitals.from_json(stored)  # earlier_vitals has checked that it reads
        out.append(v if v.generated_at else replace(v, generated_at=generated_at))
    return ClientHistory(runs=tuple(out), warnings=tuple(skipped))


def compare(history: History, result: ClientResult, run_id: int | None, generated_at: str) -> Changes:
    """What changed for this client since its latest scored result of a complete run before this one (a stored
    result that cannot be read is skipped, with a warning in the client's result unless it already has one)."""
    name = result.name

    def warn(line: str) -> None:
        head = line.split(" cannot be read")[0]  # the same run, told once (by the vitals read before the audit)
        if not any(w.startswith(head) for w in result.warnings):
            result.warnings.append(line)

    return compute_changes(result, history.previous(name, run_id, warn=warn), history.trend(name, run_id),
                           generated_at)


def end_unfinished(history: History, run_id: int, failure: BaseException | None, clients: int) -> None:
    """A run that stopped before it was complete: `failed` when its own error stopped it, else `aborted`."""
    from auditor.errors import AuditorError

    status = FAILED if isinstance(failure, AuditorError) else ABORTED
    try:
        history.end_unfinished(run_id, status, clients)
    except Exception:  # the database may be what failed; the run stays `running`, i.e. aborted
        pass
