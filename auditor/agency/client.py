"""One client of an agency run, as one unit: its suppressions, the comparison with its history, its reports and
its history row. Whatever that unit raises makes the client errored (its reports and history row say why) while
the run goes on; only a HistoryError or a full or read-only disk stop the run (RunFailed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor import __version__
from auditor.agency.failures import ClientFileError, RunFailed, stops_run
from auditor.agency.history import client_history, compare
from auditor.agency.reports import CLIENTS_DIR, write_client
from auditor.agency.settings import Settings
from auditor.agency.summary import AgencyRow
from auditor.agency.targets import Target
from auditor.errors import describe
from auditor.files import file_stem
from auditor.history import History, HistoryError
from auditor.model import ClientHistory
from auditor.result import ClientResult, Header


@dataclass
class ClientUnits:
    """What the per-client units of one run share."""

    st: Settings
    header: Header
    history: History | None
    shard: str | None
    run_id: int | None = None  # begun with the first result: a run that fails to start leaves no trace
    taken: set[str] = field(default_factory=set)  # file stems of this run (case-folded)
    unwritten: dict[str, ClientResult] = field(default_factory=dict)  # errored, no JSON on disk

    @property
    def generated_at(self) -> str:
        return self.header.generated_at

    def earlier(self, name: str) -> ClientHistory | None:
        """The client's earlier complete runs, read before it is audited; None when the run keeps no history."""
        if self.history is None:
            return None
        return client_history(self.history, name, self.run_id)

    def begin(self) -> None:
        if self.history is not None and self.run_id is None:
            self.run_id = self.history.begin_run(self.generated_at, self.shard, __version__)

    def one(self, t: Target, result: ClientResult) -> tuple[AgencyRow, ClientResult]:
        """Suppressions, history comparison, rendering and writing of one client: (summary row, result as
        reported)."""
        st, history = self.st, self.history
        name = result.name or t.name
        stem = file_stem(name, self.taken)
        where, what = str(st.suppressions.path or "suppressions"), "cannot apply the suppressions"
        cause: BaseException | None
        try:
            st.suppressions.apply(result)
            if history is not None:
                where, what = str(history.path), "cannot compare with the history"
                result.changes = compare(history, result, self.run_id, self.generated_at)
            where, what = str(st.out_dir / CLIENTS_DIR / stem), "cannot write the report"
            paths = write_client(st.out_dir, result, self.header, st.formats, stem, st.render_options)
            if history is not None:
                where, what = str(history.path), "cannot record the result in the history"
                assert self.run_id is not None
                history.record(self.run_id, result, self.generated_at)
            return AgencyRow.of(result, st.out_dir, paths), result
        except HistoryError:
            raise
        except ClientFileError as e:
            where, cause, reason = str(e.path), e.cause, e.describe()
        except Exception as e:
            cause, reason = e, describe(e)
        if stops_run(cause):
            raise RunFailed(f"{where}: {what} of client {name}: {reason}") from None
        return self.errored(t, result, name, stem, f"{where}: {what}: {reason}")

    def errored(self, t: Target, result: ClientResult, name: str, stem: str,
                message: str) -> tuple[AgencyRow, ClientResult]:
        """The client as errored: its reports (whichever can be written) and history row say why."""
        from auditor.audit import error_result

        st, history = self.st, self.history
        err = error_result(name, [*result.errors, message], result.profile or t.profile, list(result.warnings),
                           result.sources)
        if history is not None:
            try:
                err.changes = compare(history, err, self.run_id, self.generated_at)
            except HistoryError:
                raise
            except Exception:  # the comparison is what failed: report without it
                err.changes = None
        paths = write_client(st.out_dir, err, self.header, st.formats, stem, st.render_options, strict=False)
        if history is not None:
            assert self.run_id is not None
            history.record(self.run_id, err, self.generated_at)
        if "json" not in paths:
            self.unwritten[name] = err  # owners' e-mails take it from memory
        return AgencyRow.of(err, st.out_dir, paths), err
