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

import json
import sqlite3
from collections.abc import Iterator
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
        """A stored result (of this version or an older one), with the time of its run."""
        try:
            result = ClientResult.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise HistoryError(f"{self.path}: history database: a stored result cannot be read "
                               f"({type(e).__name__}: {e})") from None
        result.generated_at = generated_at
        return result

    def previous(self, client: str, before_run: int | None = None) -> ClientResult | None:
        """The client's latest scored result of a complete run before `before_run`: the baseline of "what
        changed".

        Errored results are skipped: a client that could not be read has no findings to compare with. So are
        runs that did not finish: what they hold was never reported in full.
        """
        row = self._run(
            "SELECT r.result, r.generated_at FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? AND u.status = ? "
            "ORDER BY r.run_id DESC LIMIT 1",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE)).fetchone()
        return None if row is None else self._result(row[0], row[1])

    def earlier(self, client: str, before_run: int | None = None, limit: int = EARLIER_RUNS) -> list[ClientResult]:
        """The client's last `limit` audited results of complete runs before `before_run`, oldest first: what the
        rules that watch trends compare this run with (each result's `vitals`). Errored results are skipped (they
        measured nothing), and so are runs that did not finish."""
        rows = self._run(
            "SELECT r.result, r.generated_at FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? AND u.status = ? "
            "ORDER BY r.run_id DESC LIMIT ?",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE, limit)).fetchall()
        return [self._result(text, generated_at) for text, generated_at in reversed(rows)]

    def earlier_vitals(self, client: str, before_run: int | None = None,
                       limit: int = EARLIER_RUNS) -> list[tuple[str, dict[str, Any]]]:
        """(time of the run, vitals) of the same results as `earlier`, oldest first, those without vitals (saved
        before they were measured) left out. Reads only the `vitals` member (SQLite's json_extract), not whole
        results: an agency run asks this before every client."""
        args = (_key(client), before_run if before_run is not None else 2**62, COMPLETE, limit)
        try:
            rows = self.conn.execute(
                "SELECT json_extract(r.result, '$.vitals'), r.generated_at FROM results r "
                "JOIN runs u ON u.id = r.run_id WHERE r.client = ? AND r.score IS NOT NULL AND r.run_id < ? "
                "AND u.status = ? ORDER BY r.run_id DESC LIMIT ?", args).fetchall()
        except sqlite3.OperationalError as e:
            if "json_extract" not in str(e):  # an SQLite without its JSON functions: read the whole results
                raise self._error(e) from None
            return [(r.generated_at or "", r.vitals) for r in self.earlier(client, before_run, limit) if r.vitals]
        except sqlite3.Error as e:
            raise self._error(e) from None
        out = []
        for text, generated_at in reversed(rows):
            if not text:
                continue
            try:
                vitals = json.loads(text)
            except ValueError as e:
                raise HistoryError(f"{self.path}: history database: stored vitals cannot be read ({e})") from None
            if isinstance(vitals, dict):
                out.append((generated_at, vitals))
        return out

    def trend(self, client: str, before_run: int | None = None, points: int = TREND_POINTS - 1) -> list[TrendPoint]:
        """The client's last `points` scores of complete runs before `before_run`, oldest first (None where it
        errored)."""
        rows = self._run(
            "SELECT r.generated_at, r.score, r.grade FROM results r JOIN runs u ON u.id = r.run_id "
            "WHERE r.client = ? AND r.run_id < ? AND u.status = ? ORDER BY r.run_id DESC LIMIT ?",
            (_key(client), before_run if before_run is not None else 2**62, COMPLETE, points)).fetchall()
        return [TrendPoint(g, s, gr) for g, s, gr in reversed(rows)]

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
        """Every client result of one run, one at a time (sorted by client)."""
        rows = self._run("SELECT client FROM results WHERE run_id = ? ORDER BY client", (run_id,)).fetchall()
        wanted = {_key(c) for c in clients} if clients else None
        for (name,) in rows:
            if wanted is not None and name not in wanted:
                continue
            row = self._run("SELECT result, generated_at FROM results WHERE run_id = ? AND client = ?",
                            (run_id, name)).fetchone()
            if row:
                yield self._result(row[0], row[1])
