"""Run history in an embedded SQLite database: every run, and each client's JSON result of that run.

Results are stored as their canonical JSON (`ClientResult.to_json()`, without the derived `changes`) and read
back as typed `ClientResult`s through `ClientResult.from_json`, which also reads the results older versions stored.

One row per client per run, written as the client is audited, so a run of any size keeps memory flat and a
crash keeps what was audited before it. WAL mode lets `audit diff` read while a run writes; keep the file on a
local disk (SQLite locking is unreliable on network file systems).

A run is `running` until everything it promised (each client's reports, the summary or shard file) is on disk;
then it is `complete`. A run that stopped on an error of its own (an unwritable output folder, a full disk, the
database itself) is `failed`; one that was killed or interrupted is `aborted` (found `running` by the next run of
the same shard). Only complete runs are baselines: `previous`, `trend`, `earlier` and `latest_run` never use the
others, and `prune` keeps the newest complete runs and deletes the unfinished ones first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, ConfigError
from auditor.result import ClientResult, TrendPoint
from auditor.text import json_text

SCHEMA_VERSION = 2  # 2: runs.status
TREND_POINTS = 8  # scores shown in the trend chart, the current run included
EARLIER_RUNS = 8  # earlier results a client is audited with (the trend rules' baseline)
RUNNING, COMPLETE, FAILED, ABORTED = "running", "complete", "failed", "aborted"
UNFINISHED = (FAILED, ABORTED)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        shard TEXT,
        tool_version TEXT,
        clients INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'running'
    )""",
    """CREATE TABLE IF NOT EXISTS results (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        client TEXT NOT NULL,
        generated_at TEXT NOT NULL,
        status TEXT NOT NULL,
        score INTEGER,
        grade TEXT,
        result TEXT NOT NULL,
        PRIMARY KEY (run_id, client)
    )""",
    "CREATE INDEX IF NOT EXISTS results_by_client ON results (client, run_id)",
]


class HistoryError(AuditorError):
    """The history database cannot be read or written."""


class BadRow(ValueError):
    """One stored result that is not a valid result (damaged, foreign, hand-edited): that row is skipped with a
    warning, never trusted and never a reason to stop a run."""


Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the history lists it."""

    id: int
    started_at: str
    finished_at: str | None
    shard: str | None
    clients: int
    status: str  # running | complete | failed | aborted


def _key(client: str) -> str:
    """A client name as stored: lone surrogates (undecodable bytes of a folder name) cannot be UTF-8 in SQLite,
    so they are spelled out; every other name is itself."""
    try:
        client.encode("utf-8")
        return client
    except UnicodeEncodeError:
        return client.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")




def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database of schema `version` to SCHEMA_VERSION, in place, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")  # two runs opening an old database at once: one migrates, one waits
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # again, under the write lock
        if version < SCHEMA_VERSION:
            had_runs = bool(conn.execute("PRAGMA table_info(runs)").fetchall())
            columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
            for stmt in _SCHEMA:
                conn.execute(stmt)
            if had_runs and "status" not in columns:  # schema 1: a finished_at meant complete
                conn.execute("ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'running'")
                conn.execute("UPDATE runs SET status = CASE WHEN finished_at IS NULL THEN ? ELSE ? END",
                             (ABORTED, COMPLETE))
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class History:
    """Open with `History.open(path)`; every method raises HistoryError (one line) on a database problem."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.skipped: list[str] = []  # warnings about unreadable rows when the caller passed no `warn`

    def _skip(self, warn: Warn | None, run_id: int, client: str, why: str) -> None:
        from auditor.text import printable

        message = printable(f"{self.path}: history run {run_id}: the stored result of client {client} cannot be "
                            f"read ({why}); that run is skipped")
        (warn or self.skipped.append)(message)

    @classmethod
    def open(cls, path: str | Path) -> History:
        p = Path(path)
        conn = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, timeout=30, isolation_level=None)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(f"{p}: history written by a newer auditor (schema {version}); upgrade auditor")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash, fast
            conn.execute("PRAGMA foreign_keys=ON")
            if version < SCHEMA_VERSION:
                _migrate(conn, version)
            conn.isolation_level = ""  # from here on: implicit transactions, committed by `with conn`
        except sqlite3.DatabaseError as e:
            if conn is not None:
                conn.close()
            raise ConfigError(f"{p}: cannot open the history database: {e}") from None
        except OSError as e:
            if conn is not None:
                conn.close()
            raise ConfigError(f"{p}: cannot create the history database: {e.strerror or e}") from None
        except ConfigError:
            if conn is not None:
                conn.close()
            raise
        return cls(p, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, e: sqlite3.Error) -> HistoryError:
        return HistoryError(f"{self.path}: history database: {e}")

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.Error as e:
            raise self._error(e) from None

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One transaction; a failed commit (a full disk, a lost lock) is a HistoryError too."""
        try:
            with self.conn:
                yield
        except sqlite3.Error as e:
            raise self._error(e) from None

    def begin_run(self, started_at: str, shard: str | None, tool_version: str) -> int:
        with self._tx():
            cur = self._run("INSERT INTO runs (started_at, shard, tool_version, status) VALUES (?, ?, ?, ?)",
                            (started_at, shard, tool_version, RUNNING))
        return int(cur.lastrowid or 0)

    def abort_stale(self, shard: str | None) -> int:
        """Mark `running` runs of this shard aborted: called by a run holding the shard's lock, so no other run of
        that shard is alive; theirs was killed. Returns how many."""
        with self._tx():
            cur = self._run("UPDATE runs SET status = ? WHERE status = ? AND shard IS ?", (ABORTED, RUNNING, shard))
        return cur.rowcount

    def finish_run(self, run_id: int, finished_at: str, clients: int) -> None:
        """The run kept every promise (reports and summary on disk): complete, a baseline from now on."""
        with self._tx():
            self._run("UPDATE runs SET finished_at = ?, clients = ?, status = ? WHERE id = ?",
                      (finished_at, clients, COMPLETE, run_id))

    def end_unfinished(self, run_id: int, status: str, clients: int) -> None:
        """A run that stopped before it was complete: `failed` (its own error) or `aborted` (interrupted)."""
        assert status in UNFINISHED
        with self._tx():
            self._run("UPDATE runs SET status = ?, clients = ? WHERE id = ? AND status = ?",
                      (status, clients, run_id, RUNNING))

    def record(self, run_id: int, result: ClientResult, generated_at: str) -> None:
        """Store one client's result as its canonical JSON, without the derived `changes`, committed at once."""
        body = result.to_json()
        body.pop("changes", None)
        text = json_text(body, separators=(",", ":"))  # compact; escapes keep any lone surrogate
        with self._tx():
            self._run("INSERT OR REPLACE INTO results (run_id, client, generated_at, status, score, grade, result) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, _key(result.name), generated_at, result.status, result.score, result.grade, text))

    def _result(self, text: str, generated_at: str) -> ClientResult:
        """A stored result (of this version or an older one), with the time of its run; BadRow when it is not
        strict JSON, does not match the result schema, or its vitals do not read."""
        from auditor import vitals
        from auditor.result_schema import strict_loads, validate_client

        try:
            doc = strict_loads(text)
            errors = validate_client(doc)
            if errors:
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                raise BadRow(f"{errors[0]}{more}")
            if doc.get("vitals") is not None:
                vitals.from_json(doc["vitals"])
            result = ClientResult.from_json(doc)
        except BadRow:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            raise BadRow(" ".join(str(e).split())[:200] or type(e).__name__) from None
        result.generated_at = generated_at
        return result

    def _results(self, rows: list[Any], client: str, warn: Warn | None) -> list[ClientResult]:
        """(run id, text, generated_at) rows as results, each unreadable one skipped with a warning."""
        out = []
        for run_id, text, generated_at in rows:
            try:
                out.append(self._result(text, generated_at))
            except BadRow as e:
                self._skip(warn, run_id, client, str(e))
        return out

    def previous(self, client: str, before_run: int | None = None, warn: Warn | None = None) -> ClientResult | None:
        """The client's latest scored result of a complete run before `before_run`: the baseline of "what
        changed".

        Errored results are skipped: a client that could not be read has no findings to compare with. So are
        runs that did not finish: what they hold was never reported in full. So is a stored result that cannot be
        read (with a warning through `warn`): the one before it is the baseline.
        """
        cur = self._run(
            "SELECT r.run_id, r.result, r.generated_at FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? AND u.status = ? "
            "ORDER BY r.run_id DESC",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE))
        try:
            for row in cur:
                found = self._results([row], client, warn)
                if found:
                    return found[0]
        except sqlite3.Error as e:
            raise self._error(e) from None
        finally:
            cur.close()
        return None

    def earlier(self, client: str, before_run: int | None = None, limit: int = EARLIER_RUNS,
                warn: Warn | None = None) -> list[ClientResult]:
        """The client's last `limit` audited results of complete runs before `before_run`, oldest first: what the
        rules that watch trends compare this run with (each result's `vitals`). Errored results are skipped (they
        measured nothing), and so are runs that did not finish and results that cannot be read (a warning each
        through `warn`: the trend rules then have fewer earlier runs)."""
        rows = self._run(
            "SELECT r.run_id, r.result, r.generated_at FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? AND u.status = ? "
            "ORDER BY r.run_id DESC LIMIT ?",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE, limit)).fetchall()
        return self._results(list(reversed(rows)), client, warn)

    def earlier_vitals(self, client: str, before_run: int | None = None, limit: int = EARLIER_RUNS,
                       warn: Warn | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(time of the run, vitals) of the same results as `earlier`, oldest first, those without vitals (saved
        before they were measured) left out. Reads only the `vitals` member (SQLite's json_extract), not whole
        results: an agency run asks this before every client. A row whose result is not a JSON object, or whose
        vitals do not read as `vitals.to_json` writes them, is skipped with a warning through `warn`."""
        from auditor import vitals as vitals_module
        from auditor.result_schema import strict_loads

        args = (_key(client), before_run if before_run is not None else 2**62, COMPLETE, limit)
        try:
            # json_extract raises on malformed JSON, which would fail the whole query: guard each row, and
            # json_quote keeps a string or number member as JSON text (json_extract alone returns it bare)
            rows = self.conn.execute(
                "SELECT r.run_id, json_valid(r.result), CASE WHEN json_valid(r.result) THEN json_type(r.result) "
                "END, CASE WHEN json_valid(r.result) AND json_type(r.result) = 'object' THEN "
                "json_quote(json_extract(r.result, '$.vitals')) END, r.generated_at FROM results r "
                "JOIN runs u ON u.id = r.run_id WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? "
                "AND u.status = ? ORDER BY r.run_id DESC LIMIT ?", args).fetchall()
        except sqlite3.OperationalError as e:
            if "json_" not in str(e):  # an SQLite without its JSON functions: read the whole results
                raise self._error(e) from None
            return [(r.generated_at or "", r.vitals) for r in self.earlier(client, before_run, limit, warn)
                    if r.vitals]
        except sqlite3.Error as e:
            raise self._error(e) from None
        out = []
        for run_id, valid, kind, text, generated_at in reversed(rows):
            if not valid:
                self._skip(warn, run_id, client, "not valid JSON")
                continue
            if kind != "object":
                self._skip(warn, run_id, client, f"a JSON {kind}, not an object")
                continue
            if text is None or text == "null":
                continue  # saved before vitals were measured
            try:
                stored = strict_loads(text)
                vitals_module.from_json(stored)
            except (ValueError, RecursionError) as e:
                self._skip(warn, run_id, client, " ".join(str(e).split())[:200])
                continue
            out.append((generated_at, stored))
        return out

    def trend(self, client: str, before_run: int | None = None, points: int = TREND_POINTS - 1) -> list[TrendPoint]:
        """The client's last `points` scores of complete runs before `before_run`, oldest first (None where it
        errored)."""
        rows = self._run(
            "SELECT r.generated_at, r.score, r.grade FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.run_id < ? AND u.status = ? ORDER BY r.run_id DESC LIMIT ?",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE, points)).fetchall()
        return [TrendPoint(g, s, gr) for g, s, gr in reversed(rows)]

    def last_audited(self, clients: list[str]) -> dict[str, int]:
        """Each of `clients` that was ever audited -> the latest run that audited it (a scored result, in any
        run): which clients went longest unaudited. A client only ever errored or deferred is left out."""
        rows = self._run("SELECT client, MAX(run_id) FROM results WHERE score IS NOT NULL GROUP BY client").fetchall()
        latest = dict(rows)
        return {c: latest[_key(c)] for c in clients if _key(c) in latest}

    def prune(self, keep_runs: int) -> int:
        """Keep the newest `keep_runs` complete runs; delete older complete runs and every failed or aborted
        run (never a baseline). Runs still `running` (another shard's, now) are left. Returns how many runs were
        deleted."""
        with self._tx():
            old = [r[0] for r in self._run(
                "SELECT id FROM runs WHERE status IN (?, ?) UNION "
                "SELECT id FROM (SELECT id FROM runs WHERE status = ? ORDER BY id DESC LIMIT -1 OFFSET ?)",
                (*UNFINISHED, COMPLETE, keep_runs)).fetchall()]
            for rid in old:
                self._run("DELETE FROM results WHERE run_id = ?", (rid,))
                self._run("DELETE FROM runs WHERE id = ?", (rid,))
        return len(old)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest `limit` runs, newest first."""
        rows = self._run("SELECT id, started_at, finished_at, shard, clients, status FROM runs ORDER BY id DESC "
                         "LIMIT ?", (limit,)).fetchall()
        return [RunRecord(*r) for r in rows]

    def run_status(self, run_id: int) -> str | None:
        """`running`, `complete`, `failed` or `aborted`; None for an unknown run."""
        row = self._run("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def latest_run(self, complete: bool = True) -> int | None:
        """The newest run holding results: complete runs only, unless `complete=False`."""
        sql = "SELECT MAX(r.run_id) FROM results r JOIN runs u ON u.id = r.run_id"
        row = self._run(sql + " WHERE u.status = ?", (COMPLETE,)).fetchone() if complete else self._run(sql).fetchone()
        return row[0] if row and row[0] is not None else None

    def results(self, run_id: int, clients: list[str] | None = None) -> Iterator[ClientResult]:
        """Every client result of one run, one at a time (sorted by client); one that cannot be read is that
        client errored, saying why, never the end of the listing."""
        rows = self._run("SELECT client FROM results WHERE run_id = ? ORDER BY client", (run_id,)).fetchall()
        wanted = {_key(c) for c in clients} if clients else None
        for (name,) in rows:
            if wanted is not None and name not in wanted:
                continue
            row = self._run("SELECT result, generated_at FROM results WHERE run_id = ? AND client = ?",
                            (run_id, name)).fetchone()
            if row:
                try:
                    yield self._result(row[0], row[1])
                except BadRow as e:
                    from auditor.audit import error_result

                    messages: list[str] = []
                    self._skip(messages.append, run_id, name, str(e))
                    yield error_result(name, messages)
