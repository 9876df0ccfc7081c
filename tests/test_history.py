"""History (SQLite) and diffs: baselines, trends, pruning; new/resolved/persisting by fingerprint; `audit diff`."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from builders import add_weak_key_event

from auditor.diff import change_lines, compute_changes
from auditor.errors import ConfigError
from auditor.history import History

ROOT = Path(__file__).resolve().parent.parent


def finding(rule: str, res: str, sev: str = "high", msg: str = "m", suppressed: bool = False) -> dict:
    from auditor.audit import fingerprint

    return {"rule": rule, "severity": sev, "category": "c", "message": msg, "resources": [res], "remediation": "r",
            "actionable": True, "fingerprint": fingerprint(rule, "acme", [res]), "suppressed": suppressed}


def result(findings: list[dict], score: int | None = 70, status: str = "ok",
           ran: tuple[str, ...] = ("a", "b", "c")) -> dict:
    return {"name": "acme", "profile": "ecommerce", "status": status, "score": score,
            "grade": None if score is None else "C", "coverage": 100, "categories": {},
            "counts": {}, "errors": [], "warnings": [], "findings": findings,
            "rules": [{"id": r, "category": "c", "status": "fail", "reason": ""} for r in ran]
            + [{"id": "d", "category": "c", "status": "not_run", "reason": "not collected"}]}


def test_new_resolved_persisting_by_fingerprint_not_message():
    old = result([finding("a", "x/1", msg="12 events"), finding("b", "x/2"), finding("d", "x/4")], score=70)
    new = result([finding("a", "x/1", msg="15 events"), finding("c", "x/3", sev="critical")], score=55)
    ch = compute_changes(new, old, [], "2025-01-13T07:00:00Z")
    assert [f["rule"] for f in ch["new"]] == ["c"]
    assert [f["rule"] for f in ch["resolved"]] == ["b"]
    assert [f["rule"] for f in ch["persisting"]] == ["a"]  # reworded message: the same finding
    assert ch["not_checked"] == 1  # rule d did not run this time: not "resolved"
    assert ch["score_delta"] == -15 and ch["changed"] is True
    assert change_lines(ch)[0].endswith("score -15 (70 -> 55); 1 new, 1 resolved, 1 persisting, 1 not checked")


def test_suppression_changes_are_not_findings_changes():
    old = result([finding("a", "x/1", suppressed=True), finding("b", "x/2")])
    new = result([finding("a", "x/1"), finding("b", "x/2", suppressed=True)])
    ch = compute_changes(new, old)
    assert [f["rule"] for f in ch["new"]] == ["a"]  # its suppression expired: new to the owner
    assert ch["resolved"] == [] and ch["persisting"] == []  # newly suppressed b: acknowledged, not resolved


def test_first_run_and_unchanged_and_errored():
    r = result([finding("a", "x/1")])
    first = compute_changes(r, None)
    assert first["previous"] is None and first["new"] == [] and first["changed"] is True
    same = compute_changes(copy.deepcopy(r), r)
    assert same["changed"] is False and same["score_delta"] == 0 and len(same["persisting"]) == 1
    errored = compute_changes(result([], score=None, status="error"), r)
    assert errored["changed"] is True and errored["not_checked"] == 1 and errored["score_delta"] is None


def test_history_baseline_trend_and_pruning(tmp_path):
    db = tmp_path / "h" / "history.sqlite"
    with History.open(db) as h:
        ids = []
        for i, (score, status) in enumerate([(80, "ok"), (70, "ok"), (None, "error"), (60, "ok")]):
            rid = h.begin_run(f"2025-01-0{i + 1}T07:00:00Z", None, "t")
            h.record(rid, {**result([finding("a", f"x/{i}")], score=score, status=status), "changes": {"x": 1}},
                     f"2025-01-0{i + 1}T07:00:00Z")
            h.finish_run(rid, "now", 1)
            ids.append(rid)
        prev = h.previous("acme", ids[3])
        assert prev["score"] == 70 and prev["generated_at"] == "2025-01-02T07:00:00Z"  # the errored run skipped
        assert "changes" not in prev  # derived data is not stored
        assert [p["score"] for p in h.trend("acme", ids[3])] == [80, 70, None]
        assert h.previous("acme", ids[0]) is None and h.previous("other", None) is None
        assert h.latest_run() == ids[3]
        assert [r["name"] for r in h.results(ids[3])] == ["acme"]
        assert h.prune(2) == 2
        assert [r["id"] for r in h.runs()] == ids[:1:-1]
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
    p = _audit("diff", str(tmp_path / "old.json"))
    assert p.returncode == 2 and "give two JSON results" in p.stderr
