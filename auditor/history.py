"""Run history in an embedded SQLite database: every run, and each client's JSON result of that run.

One row per client per run, written as the client is audited, so a run of any size keeps memory flat and a
crash keeps what was audited before it. WAL mode lets `audit diff` read while a run writes; keep the file on a
local disk (SQLite locking is unreliable on network file systems).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError, ConfigError

SCHEMA_VERSION = 1
TREND_POINTS = 8  # scores shown in the trend chart, the current run included

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    shard TEXT,
    tool_version TEXT,
    clients INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS results (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    score INTEGER,
    grade TEXT,
    result TEXT NOT NULL,
    PRIMARY KEY (run_id, client)
);
CREATE INDEX IF NOT EXISTS results_by_client ON results (client, run_id);
"""


class HistoryError(AuditorError):
    """The history database cannot be read or written."""


class History:
    """Open with `History.open(path)`; every method raises HistoryError (one line) on a database problem."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    @classmethod
    def open(cls, path: str | Path) -> History:
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, timeout=30)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(f"{p}: history written by a newer auditor (schema {version}); upgrade auditor")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash, fast
            conn.execute("PRAGMA foreign_keys=ON")
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{p}: cannot open the history database: {e}") from None
        except OSError as e:
            raise ConfigError(f"{p}: cannot create the history database: {e.strerror or e}") from None
        return cls(p, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.Error as e:
            raise HistoryError(f"{self.path}: history: {e}") from None

    def begin_run(self, started_at: str, shard: str | None, tool_version: str) -> int:
        with self.conn:
            cur = self._run("INSERT INTO runs (started_at, shard, tool_version) VALUES (?, ?, ?)",
                            (started_at, shard, tool_version))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, finished_at: str, clients: int) -> None:
        with self.conn:
            self._run("UPDATE runs SET finished_at = ?, clients = ? WHERE id = ?", (finished_at, clients, run_id))

    def record(self, run_id: int, result: dict[str, Any], generated_at: str) -> None:
        """Store one client's result (without its derived `changes`), committed at once."""
        body = {k: v for k, v in result.items() if k != "changes"}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        with self.conn:
            self._run("INSERT OR REPLACE INTO results (run_id, client, generated_at, status, score, grade, result) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, result["name"], generated_at, result["status"], result["score"], result["grade"],
                       text))

    def previous(self, client: str, before_run: int | None = None) -> dict[str, Any] | None:
        """The client's latest scored result before `before_run`: the baseline of "what changed".

        Errored results are skipped: a client that could not be read has no findings to compare with.
        """
        row = self._run(
            "SELECT result, generated_at FROM results WHERE client = ? AND score IS NOT NULL AND run_id < ? "
            "ORDER BY run_id DESC LIMIT 1", (client, before_run if before_run is not None else 2**62)).fetchone()
        if row is None:
            return None
        result = json.loads(row[0])
        result["generated_at"] = row[1]
        return result

    def trend(self, client: str, before_run: int | None = None, points: int = TREND_POINTS - 1) -> list[dict[str, Any]]:
        """The client's last `points` scores before `before_run`, oldest first (None where it errored)."""
        rows = self._run(
            "SELECT generated_at, score, grade FROM results WHERE client = ? AND run_id < ? "
            "ORDER BY run_id DESC LIMIT ?", (client, before_run if before_run is not None else 2**62, points)
        ).fetchall()
        return [{"generated_at": g, "score": s, "grade": gr} for g, s, gr in reversed(rows)]

    def prune(self, keep_runs: int) -> int:
        """Delete all but the newest `keep_runs` runs. Returns how many runs were deleted."""
        with self.conn:
            old = [r[0] for r in self._run("SELECT id FROM runs ORDER BY id DESC LIMIT -1 OFFSET ?",
                                           (keep_runs,)).fetchall()]
            for rid in old:
                self._run("DELETE FROM results WHERE run_id = ?", (rid,))
                self._run("DELETE FROM runs WHERE id = ?", (rid,))
        return len(old)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._run("SELECT id, started_at, finished_at, shard, clients FROM runs ORDER BY id DESC LIMIT ?",
                         (limit,)).fetchall()
        return [dict(zip(("id", "started_at", "finished_at", "shard", "clients"), r, strict=True)) for r in rows]

    def latest_run(self) -> int | None:
        row = self._run("SELECT MAX(run_id) FROM results").fetchone()
        return row[0] if row and row[0] is not None else None

    def results(self, run_id: int, clients: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every client result of one run, one at a time (sorted by client)."""
        rows = self._run("SELECT client FROM results WHERE run_id = ? ORDER BY client", (run_id,)).fetchall()
        for (name,) in rows:
            if clients and name not in clients:
                continue
            row = self._run("SELECT result, generated_at FROM results WHERE run_id = ? AND client = ?",
                            (run_id, name)).fetchone()
            if row:
                result = json.loads(row[0])
                result["generated_at"] = row[1]
                yield result
