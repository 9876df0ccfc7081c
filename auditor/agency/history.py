"""The run's side of the history database: opening it, each client compared with its previous complete run, its
result recorded, and the run marked complete (a baseline from then on) or not."""

from __future__ import annotations

from auditor.diff import compute_changes
from auditor.history import ABORTED, FAILED, History
from auditor.result import Changes, ClientResult


def compare(history: History, result: ClientResult, run_id: int | None, generated_at: str) -> Changes:
    """What changed for this client since its latest scored result of a complete run before this one."""
    name = result.name
    return compute_changes(result, history.previous(name, run_id), history.trend(name, run_id), generated_at)


def end_unfinished(history: History, run_id: int, failure: BaseException | None, clients: int) -> None:
    """A run that stopped before it was complete: `failed` when its own error stopped it, else `aborted`."""
    from auditor.errors import AuditorError

    status = FAILED if isinstance(failure, AuditorError) else ABORTED
    try:
        history.end_unfinished(run_id, status, clients)
    except Exception:  # the database may be what failed; the run stays `running`, i.e. aborted
        pass
