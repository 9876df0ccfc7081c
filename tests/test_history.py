"""History (SQLite) and diffs: baselines, trends, pruning; new/resolved/persisting by fingerprint; `audit diff`."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import add_weak_key_event

from auditor.diff import change_lines, compute_changes
from auditor.errors import ConfigError
from auditor.history import History
from auditor.result import Changes, ClientResult, Finding, RuleResult, TrendPoint

ROOT = Path(__file__).resolve().parent.parent


def finding(rule: str, res: str, sev: str = "high", msg: str = "m", suppressed: bool = False) -> Finding:
    from auditor.audit import fingerprint

    return Finding(rule=rule, severity=sev, category="c", message=msg, resources=(res,), remediation="r",
                   fingerprint=fingerprint(rule, "acme", [res]), suppressed=suppressed)


def result(findings: list[Finding], score: int | None = 70, status: str = "ok",
           ran: tuple[str, ...] = ("a", "b", "c")) -> ClientResult:
    return ClientResult(name="acme", status=status, profile="ecommerce", score=score,
                        grade=None if score is None else "C", coverage=100, findings=findings,
                        rules=[RuleResult(r, "c", "fail") for r in ran] + [RuleResult("d", "c", "not_run",
                                                                                      "not collected")])


def rules_of(found: list) -> list[str]:
    return [f.rule for f in found]


def test_new_resolved_persisting_by_fingerprint_not_message():
    old = result([finding("a", "x/1", msg="12 events"), finding("b", "x/2"), finding("d", "x/4")], score=70)
    new = result([finding("a", "x/1", msg="15 events"), finding("c", "x/3", sev="critical")], score=55)
    ch = compute_changes(new, old, [], "2025-01-13T07:00:00Z")
    assert rules_of(ch.new) == ["c"]
    assert rules_of(ch.resolved) == ["b"]
    assert rules_of(ch.persisting) == ["a"]  # reworded message: the same finding
    assert ch.not_checked == 1  # rule d did not run this time: not "resolved"
    assert ch.score_delta == -15 and ch.changed is True
    assert change_lines(ch)[0].endswith("score -15 (70 -> 55); 1 new, 1 resolved, 1 persisting, 1 not checked")


def test_suppression_changes_are_not_findings_changes():
    old = result([finding("a", "x/1", suppressed=True), finding("b", "x/2")])
    new = result([finding("a", "x/1"), finding("b", "x/2", suppressed=True)])
    ch = compute_changes(new, old)
    assert rules_of(ch.new) == ["a"]  # its suppression expired: new to the owner
    assert ch.resolved == [] and ch.persisting == []  # newly suppressed b: acknowledged, not resolved


def test_first_run_and_unchanged_and_errored():
    r = result([finding("a", "x/1")])
    first = compute_changes(r, None)
    assert first.previous is None and first.new == [] and first.changed is True
    same = compute_changes(copy.deepcopy(r), r)
    assert same.changed is False and same.score_delta == 0 and len(same.persisting) == 1
    errored = compute_changes(result([], score=None, status="error"), r)
    assert errored.changed is True and errored.not_checked == 1 and errored.score_delta is None


def test_history_baseline_trend_and_pruning(tmp_path):
    db = tmp_path / "h" / "history.sqlite"
    with History.open(db) as h:
        ids = []
        for i, (score, status) in enumerate([(80, "ok"), (70, "ok"), (None, "error"), (60, "ok")]):
            rid = h.begin_run(f"2025-01-0{i + 1}T07:00:00Z", None, "t")
            r = result([finding("a", f"x/{i}")], score=score, status=status)
            r.changes = Changes()
            h.record(rid, r, f"2025-01-0{i + 1}T07:00:00Z")
            h.finish_run(rid, "now", 1)
            ids.append(rid)
        prev = h.previous("acme", ids[3])
        assert isinstance(prev, ClientResult)
        assert prev.score == 70 and prev.generated_at == "2025-01-02T07:00:00Z"  # the errored run skipped
        assert prev.changes is None  # derived data is not stored
        assert prev.findings == [finding("a", "x/1")]  # read back as it was written
        stored = json.loads(h.conn.execute("SELECT result FROM results WHERE run_id = ?", (ids[1],)).fetchone()[0])
        assert "changes" not in stored and stored["name"] == "acme"
        trend = h.trend("acme", ids[3])
        assert trend == [TrendPoint("2025-01-01T07:00:00Z", 80, "C"), TrendPoint("2025-01-02T07:00:00Z", 70, "C"),
                         TrendPoint("2025-01-03T07:00:00Z", None, None)]
        assert h.previous("acme", ids[0]) is None and h.previous("other", None) is None
        assert h.latest_run() == ids[3]
        assert [r.name for r in h.results(ids[3])] == ["acme"]
        assert h.prune(2) == 2
        assert [r.id for r in h.runs()] == ids[:1:-1]
        assert h.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2


def test_unreadable_or_newer_history_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open the history database"):
        History.open(bad)
    newer = tmp_path / "newer.sqlite"
    sqlite3.connect(newer).execute("PRAGMA user_version=99").connection.close()
    with pytest.raises(ConfigError, match="newer auditor"):
        History.open(newer)


def _audit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def test_audit_diff_of_two_saved_results(tmp_path):
    import shutil

    shutil.copytree(ROOT / "fixtures", tmp_path / "fx")
    old = _audit("--offline", str(tmp_path / "fx"), "--format", "json", "-o", str(tmp_path / "old.json"))
    assert old.returncode == 1, old.stderr
    add_weak_key_event(tmp_path / "fx" / "northwind-outfitters")
    _audit("--offline", str(tmp_path / "fx"), "--format", "json", "-o", str(tmp_path / "new.json"))
    p = _audit("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    assert p.returncode == 0, p.stderr
    added = [line for line in p.stdout.splitlines() if line.strip().startswith("+ new")]
    assert len(added) == 1 and "overflagged-key-events" in added[0] and "scroll" in added[0]
    assert "northwind-outfitters: " in p.stdout and "1 new, 0 resolved" in p.stdout
    p = _audit("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--format", "json",
               "--client", "northwind-outfitters", "--fail-on-new")
    assert p.returncode == 1
    (c,) = json.loads(p.stdout)["clients"]
    assert c["name"] == "northwind-outfitters" and len(c["changes"]["new"]) == 1
    assert c["changes"]["previous"]["generated_at"] == json.loads((tmp_path / "old.json").read_text())["generated_at"]
    p = _audit("diff", str(tmp_path / "old.json"))
    assert p.returncode == 2 and "give two JSON results" in p.stderr


# -- runs that did not finish ------------------------------------------------------------------------------------

def _runs(h: History, plan: list[tuple[int | None, str]]) -> list[int]:
    """One client result per run; status `complete`, `aborted`, `failed` or `running`."""
    from auditor.history import ABORTED, FAILED

    ids = []
    for i, (score, status) in enumerate(plan):
        stamp = f"2025-02-{i + 1:02d}T07:00:00Z"
        rid = h.begin_run(stamp, None, "t")
        h.record(rid, result([finding("a", f"x/{i}")], score=score, status="ok" if score is not None else "error"),
                 stamp)
        if status == "complete":
            h.finish_run(rid, stamp, 1)
        elif status in (ABORTED, FAILED):
            h.end_unfinished(rid, status, 1)
        ids.append(rid)
    return ids


def test_unfinished_runs_are_never_a_baseline(tmp_path):
    with History.open(tmp_path / "h.sqlite") as h:
        ids = _runs(h, [(80, "complete"), (10, "aborted"), (20, "failed"), (70, "complete"), (30, "running")])
        now = h.begin_run("2025-03-01T07:00:00Z", None, "t")
        assert h.previous("acme", now).score == 70
        assert [p.score for p in h.trend("acme", now)] == [80, 70]  # 10, 20 and 30 never reported in full
        assert h.previous("acme", ids[3]).score == 80  # the aborted and failed runs between: skipped
        assert h.latest_run() == ids[3] and h.latest_run(complete=False) == ids[4]
        assert [h.run_status(i) for i in ids] == ["complete", "aborted", "failed", "complete", "running"]
        assert h.run_status(999) is None


def test_a_killed_run_is_marked_aborted_by_the_next_run_of_its_shard(tmp_path):
    with History.open(tmp_path / "h.sqlite") as h:
        mine = h.begin_run("2025-02-01T07:00:00Z", None, "t")  # then kill -9: it stays `running`
        other = h.begin_run("2025-02-01T07:00:00Z", "2/4", "t")  # another shard, still running
        assert h.abort_stale(None) == 1
        assert h.run_status(mine) == "aborted" and h.run_status(other) == "running"
        assert [r.status for r in h.runs()] == ["running", "aborted"]
        h.finish_run(other, "2025-02-01T08:00:00Z", 3)
        assert h.run_status(other) == "complete"
        h.end_unfinished(other, "aborted", 3)  # only a running run can end unfinished
        assert h.run_status(other) == "complete"


def test_keep_runs_counts_complete_runs_and_prunes_unfinished_ones_first(tmp_path):
    with History.open(tmp_path / "h.sqlite") as h:
        ids = _runs(h, [(80, "complete"), (10, "aborted"), (70, "complete"), (20, "failed"), (60, "complete"),
                        (None, "running")])
        assert h.prune(2) == 3  # the oldest complete run, the aborted and the failed one
        assert [(r.id, r.status) for r in h.runs()] == [(ids[5], "running"), (ids[4], "complete"),
                                                        (ids[2], "complete")]
        assert h.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3
        assert h.prune(2) == 0


# a client result as auditor 0.1 stored it in a schema-1 history: plain dicts, no deductions, no subjects
SCHEMA_1_RESULT = {
    "name": "acme", "profile": "ecommerce", "status": "ok", "score": 80, "grade": "B", "coverage": 100,
    "categories": {}, "counts": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}, "errors": [],
    "warnings": [], "rules": [{"id": "a", "category": "c", "status": "fail", "reason": ""}],
    "findings": [{"rule": "a", "severity": "high", "category": "c", "message": "m", "resources": ["x/1"],
                  "remediation": "r", "actionable": True, "fingerprint": "0123456789abcdef", "suppressed": False}],
}


def test_a_schema_1_history_is_migrated_in_place(tmp_path):
    db = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
                           shard TEXT, tool_version TEXT, clients INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE results (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, client TEXT NOT NULL,
                              generated_at TEXT NOT NULL, status TEXT NOT NULL, score INTEGER, grade TEXT,
                              result TEXT NOT NULL, PRIMARY KEY (run_id, client));
        CREATE INDEX results_by_client ON results (client, run_id);
        PRAGMA user_version=1;
    """)
    for rid, finished, score in ((1, "2025-01-06T07:01:00Z", 80), (2, None, 10), (3, "2025-01-20T07:01:00Z", 70)):
        conn.execute("INSERT INTO runs (id, started_at, finished_at, clients) VALUES (?, ?, ?, 1)",
                     (rid, f"2025-01-0{rid}T07:00:00Z", finished))
        conn.execute("INSERT INTO results VALUES (?, 'acme', ?, 'ok', ?, 'C', ?)",
                     (rid, f"2025-01-0{rid}T07:00:00Z", score, json.dumps(SCHEMA_1_RESULT | {"score": score})))
    conn.commit()
    conn.close()
    with History.open(db) as h:
        assert h.conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert [r.status for r in h.runs()] == ["complete", "aborted", "complete"]
        assert [p.score for p in h.trend("acme")] == [80, 70]
        prev = h.previous("acme", 3)
        assert prev.score == 80 and prev.findings[0].rule == "a"  # a result as an older auditor stored it
        assert [d.rule for d in prev.deductions] == ["a"]  # schema 1 had no deductions: recomputed
        rid = h.begin_run("2025-01-27T07:00:00Z", None, "t")
        assert rid == 4 and h.run_status(rid) == "running"
    with History.open(db) as h:  # opening again changes nothing
        assert [r.status for r in h.runs()] == ["running", "complete", "aborted", "complete"]


def test_database_failures_are_history_errors_naming_the_file(tmp_path):
    from auditor.history import HistoryError

    h = History.open(tmp_path / "h.sqlite")
    h.conn.close()  # a database gone bad under a running run
    with pytest.raises(HistoryError, match=r"h\.sqlite: history database: "):
        h.begin_run("2025-02-01T07:00:00Z", None, "t")
    with pytest.raises(HistoryError):
        h.finish_run(1, "x", 1)


def test_undecodable_client_names_are_stored_and_found(tmp_path):
    name = "bad\udcff\udcfename"  # a folder name that is not UTF-8, as os.listdir gives it
    with History.open(tmp_path / "h.sqlite") as h:
        rid = h.begin_run("2025-02-01T07:00:00Z", None, "t")
        r = result([finding("a", "x/\udcff")])
        r.name = name
        h.record(rid, r, "2025-02-01T07:00:00Z")
        h.finish_run(rid, "2025-02-01T07:01:00Z", 1)
        assert h.previous(name).findings[0].resources == ("x/\udcff",)
        assert h.previous(name).name == name
        assert len(list(h.results(rid, [name]))) == 1


def test_audit_diff_skips_a_run_that_did_not_finish_and_says_so(tmp_path):
    db = tmp_path / "h.sqlite"
    with History.open(db) as h:
        ids = _runs(h, [(80, "complete"), (70, "complete"), (10, "aborted")])
    p = _audit("diff", "--history", str(db))
    assert p.returncode == 0, p.stderr
    assert "acme: 70/100 C" in p.stdout and "score -10 (80 -> 70)" in p.stdout  # run 2 against run 1
    assert f"run {ids[2]} is aborted, not complete; showing run {ids[1]}" in p.stderr
    p = _audit("diff", "--history", str(db), "--run", str(ids[2]))
    assert p.returncode == 0, p.stderr
    assert f"run {ids[2]} is aborted: it did not finish" in p.stderr
    assert "score -60 (70 -> 10)" in p.stdout  # compared with the latest complete run before it
    p = _audit("diff", "--history", str(db), "--run", "99")
    assert p.returncode == 2 and "no run 99" in p.stderr
    only = tmp_path / "only.sqlite"
    with History.open(only) as h:
        _runs(h, [(50, "aborted")])
    p = _audit("diff", "--history", str(only))
    assert p.returncode == 2 and "no complete run yet" in p.stderr and "--run 1" in p.stderr


def _agency_with_history(tmp_path: Path) -> tuple[Any, Path]:
    import shutil

    from auditor.agency.settings import load_settings

    fx = tmp_path / "fx"
    for name in ("harbor-dental", "northwind-outfitters"):
        shutil.copytree(ROOT / "fixtures" / name, fx / name)
    return load_settings(None, offline=fx, output=str(tmp_path / "out")), tmp_path / "out/history.sqlite"


@pytest.mark.parametrize("damage", [
    "json_set(result, '$.vitals.key_events', 5)",  # a number where names belong: was a TypeError, exit 3
    "json_set(result, '$.vitals', 'oops')",  # vitals stored as a string
    "substr(result, 1, 200)",  # a truncated result
    "'[1, 2, 3]'",  # a JSON array, not a result
    "json_set(result, '$.vitals.key_events', 'purchase')",  # a string: was read one character at a time
])
def test_a_damaged_history_row_is_skipped_with_a_warning_and_never_stops_the_run(tmp_path, damage, capsys):
    from auditor.agency.log import Log
    from auditor.agency.run import run as agency_run

    st, db = _agency_with_history(tmp_path)
    first = agency_run(st, Log(quiet=True))
    assert first == 1
    with sqlite3.connect(db) as conn:
        conn.execute(f"UPDATE results SET result = {damage} WHERE client = 'northwind-outfitters'")
    capsys.readouterr()
    assert agency_run(st, Log(quiet=True)) == 1  # findings, as before: not 3, nothing stopped
    assert "internal error" not in capsys.readouterr().err
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert {c["name"]: c["status"] for c in summary["clients"]} == {"harbor-dental": "ok",
                                                                    "northwind-outfitters": "ok"}
    doc = json.loads((tmp_path / "out/clients/northwind-outfitters.json").read_text())
    (warning,) = [w for w in doc["clients"][0]["warnings"] if "history run" in w]
    assert warning.startswith(f"{db}: history run 1: the stored result of client northwind-outfitters cannot be "
                              "read (") and warning.endswith("that run is skipped")
    assert doc["clients"][0]["changes"]["previous"] is None  # the only earlier run was skipped: a first audit
    other = json.loads((tmp_path / "out/clients/harbor-dental.json").read_text())["clients"][0]
    assert not any("history run" in w for w in other["warnings"]) and other["changes"]["previous"] is not None


def test_vitals_from_json_refuses_what_to_json_never_writes():
    from auditor import vitals

    good = {"generated_at": "t", "step_rates": [["a", "b", 0.5]], "daily": {"a": 1.0}, "key_events": ["a"],
            "primary_actions": []}
    assert vitals.from_json(good).key_events == ("a",)
    assert vitals.from_json({}).key_events == ()  # saved before vitals were measured: empty
    for bad, member in [({**good, "key_events": "purchase"}, "vitals.key_events"),
                        ({**good, "key_events": 5}, "vitals.key_events"),
                        ({**good, "daily": {"a": -1}}, "vitals.daily.a"),
                        ({**good, "daily": []}, "vitals.daily"),
                        ({**good, "step_rates": [["a", "b"]]}, "vitals.step_rates[0]"),
                        ({**good, "step_rates": [["a", "b", True]]}, "vitals.step_rates[0]"),
                        ("oops", "vitals")]:
        with pytest.raises(ValueError, match=member.replace("[", r"\[").replace("]", r"\]")):
            vitals.from_json(bad)


def test_audit_diff_reports_a_damaged_row_as_that_client_errored(tmp_path):
    db = tmp_path / "h.sqlite"
    with History.open(db) as h:
        rid = h.begin_run("2025-01-06T07:00:00Z", None, "t")
        h.record(rid, result([finding("a", "x/1")]), "2025-01-06T07:00:00Z")
        other = result([])
        other.name = "beta"
        h.record(rid, other, "2025-01-06T07:00:00Z")
        h.finish_run(rid, "2025-01-06T07:01:00Z", 2)
        h.conn.execute("UPDATE results SET result = '{\"name\": \"acme\", \"name\": 1}' WHERE client = 'acme'")
        h.conn.commit()
        got = {r.name: r for r in h.results(rid)}
        assert got["beta"].status == "ok"
        assert got["acme"].status == "error" and "duplicate key 'name'" in got["acme"].errors[0]
        assert h.previous("acme") is None and "history run 1" in h.skipped[-1]
