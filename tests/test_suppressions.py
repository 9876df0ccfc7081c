"""Suppressions: validation with file/line/key errors, anchored globs, expiry, unused warnings, re-scoring, and
their effect on the score and the exit code of a real `audit run`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.errors import ConfigError
from auditor.result import ClientResult, Finding, RuleResult, Suppression
from auditor.suppressions import glob_re, load_suppressions

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 1, 13)
RULES = ["duplicate-conversion-action", "micro-primary-goal", "overflagged-key-events"]


def client(name: str = "harbor-dental") -> ClientResult:
    def f(rule: str, sev: str, res: list[str]) -> Finding:
        return Finding(rule=rule, severity=sev, category="c", message="m", resources=tuple(res), remediation="r",
                       actionable=True, fingerprint=rule[:4] + "".join(res)[-6:], suppressed=False)

    findings = [f("duplicate-conversion-action", "critical", ["customers/1/conversionActions/10",
                                                             "customers/1/conversionActions/11"]),
                f("micro-primary-goal", "high", ["customers/1/conversionActions/12"]),
                f("micro-primary-goal", "info", ["customers/1/conversionActions/123"])]
    rules = [RuleResult(id=r, category="c", status="fail", reason="") for r in RULES[:2]]
    return ClientResult(name=name, score=55, grade="F", coverage=100, categories={}, status="ok",
                        counts={"critical": 1, "high": 1, "medium": 0, "low": 0, "info": 1}, rules=rules,
                        findings=findings, errors=[], warnings=[])


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suppressions.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_suppressed_findings_stay_marked_and_leave_the_score(tmp_path):
    p = write(tmp_path, """suppressions:
  - rule: micro-primary-goal
    client: "harbor-*"
    resource: "customers/1/conversionActions/12"
    reason: Managed by Google, cannot be changed.
    owner: jane.doe@agency.example
""")
    sups = load_suppressions(p, RULES, today=TODAY)
    r = client()
    assert sups.apply(r) == 1
    high = [f for f in r.findings if f.rule == "micro-primary-goal"]
    assert high[0].suppressed is True and high[0].suppression == Suppression(
        "Managed by Google, cannot be changed.", None)
    assert high[0].to_json()["suppression"] == {"reason": "Managed by Google, cannot be changed.", "expires": None}
    assert high[1].suppressed is False  # .../123: the glob is anchored, /12 does not match /123
    assert r.score == 70 and r.counts["high"] == 0 and r.counts["info"] == 1  # re-scored
    assert "jane.doe" not in json.dumps(r.to_json())  # the owner stays in the suppressions file
    assert sups.warnings() == []


def test_globs_are_anchored_and_span_slashes():
    assert glob_re("customers/*/conversionActions/12").match("customers/1/conversionActions/12")
    assert not glob_re("conversionActions/12").match("customers/1/conversionActions/12")
    assert not glob_re("customers/1/conversionActions/12").match("customers/1/conversionActions/123")
    assert glob_re("*").match("properties/1/keyEvents/2")
    assert glob_re("harbor-?ental").match("harbor-dental")


def test_any_resource_of_a_finding_may_match(tmp_path):
    p = write(tmp_path, """suppressions:
  - {rule: duplicate-conversion-action, client: harbor-dental, resource: "*/conversionActions/11", reason: known}
""")
    r = client()
    assert load_suppressions(p, RULES, today=TODAY).apply(r) == 1
    assert r.findings[0].suppressed and r.counts["critical"] == 0


def test_expired_suppression_brings_its_finding_back_and_is_warned(tmp_path):
    p = write(tmp_path, """suppressions:
  - rule: micro-primary-goal
    client: harbor-dental
    resource: "*"
    reason: Until the March release.
    expires: 2025-01-12
  - rule: micro-primary-goal
    client: harbor-dental
    resource: "*"
    reason: Valid through today.
    expires: 2025-01-13
""")
    sups = load_suppressions(p, RULES, today=TODAY)
    r = client()
    sups.apply(r)
    assert all(f.suppression.reason == "Valid through today." for f in r.findings if f.suppressed)
    (w,) = sups.warnings()
    assert "line 2: suppressions[0]: expired on 2025-01-12" in w and "count again" in w
    sups = load_suppressions(p, RULES, today=dt.date(2025, 2, 1))
    r = client()
    assert sups.apply(r) == 0 and r.score == 55
    assert len(sups.warnings()) == 2


def test_unused_suppression_is_warned_only_for_clients_audited(tmp_path):
    p = write(tmp_path, """suppressions:
  - {rule: overflagged-key-events, client: harbor-dental, resource: "*", reason: no longer needed}
  - {rule: overflagged-key-events, client: other-shard-client, resource: "*", reason: not audited in this run}
""")
    sups = load_suppressions(p, RULES, today=TODAY)
    sups.apply(client())
    (w,) = sups.warnings()
    assert "line 2: suppressions[0]: matched no finding" in w and "harbor-dental" in w


@pytest.mark.parametrize("text, expected", [
    ("suppressions:\n  - rule: micro-primary-goal\n    client: a\n    resource: '*'\n",
     "line 2, column 5: suppressions[0].reason: required key is missing"),
    ("suppressions:\n  - rule: micro-primary-goal\n    client: a\n    resource: '*'\n    reason: x y\n"
     "    expiry: 2025-01-01\n", "line 6, column 5: suppressions[0].expiry: unknown key (did you mean 'expires'?)"),
    ("suppressions:\n  - rule: micro-primary-goal\n    client: a\n    resource: '*'\n    reason: x y\n"
     "    expires: next week\n", "line 6, column 5: suppressions[0].expires: Input should be a valid date"),
    ("suppressions:\n  - rule: micro-primary-goals\n    client: a\n    resource: '*'\n    reason: because\n",
     "line 2: suppressions[0].rule: unknown rule id 'micro-primary-goals' (did you mean 'micro-primary-goal'?)"),
    ("- rule: x\n", "expected a mapping with a 'suppressions:' list"),
    ("suppressions: [\n", "invalid YAML"),
])
def test_errors_name_file_line_and_key(tmp_path, text, expected):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_suppressions(p, RULES, today=TODAY)
    assert str(e.value).startswith(str(p)) and expected in str(e.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="suppressions file not found"):
        load_suppressions(tmp_path / "nope.yaml", RULES)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", "run", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def test_suppressed_findings_count_neither_in_score_nor_exit_code(tmp_path):
    folder = ROOT / "fixtures" / "fieldnotes-media"
    p = _run("--offline", str(folder), "-o", str(tmp_path / "a"), "--no-history", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    before = json.loads((tmp_path / "a/clients/fieldnotes-media.json").read_text())["clients"][0]
    assert before["findings"]
    rules = sorted({f["rule"] for f in before["findings"]})
    entries = "".join(f"  - {{rule: {r}, client: fieldnotes-media, resource: '*', reason: accepted risk}}\n"
                      for r in rules)
    entries += "  - {rule: micro-primary-goal, client: fieldnotes-media, resource: '*', reason: never matches}\n"
    sup = write(tmp_path, "suppressions:\n" + entries)
    p = _run("--offline", str(folder), "-o", str(tmp_path / "b"), "--no-history", "--suppressions", str(sup),
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    after = json.loads((tmp_path / "b/clients/fieldnotes-media.json").read_text())["clients"][0]
    assert after["score"] == 100 and sum(after["counts"].values()) == 0
    assert len(after["findings"]) == len(before["findings"]) and all(f["suppressed"] for f in after["findings"])
    assert f"line {len(rules) + 2}: suppressions[{len(rules)}]: matched no finding" in p.stderr
    summary = json.loads((tmp_path / "b/summary.json").read_text())
    assert summary["clients"][0]["suppressed"] == len(before["findings"])
