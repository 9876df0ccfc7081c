"""The `audit` command as a user runs it: in a subprocess, checking output, files and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def audit(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600", **(env or {})}, timeout=120)


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


def test_offline_fixtures_exactly_as_written_in_readme():
    p = audit("--offline", "fixtures/")
    no_traceback(p)
    assert p.returncode == 1  # the sample clients have findings at low or above
    for name in ("northwind-outfitters", "brightcart-home", "keystone-legal", "harbor-dental"):
        assert name in p.stdout
    assert "Clients, worst first" in p.stdout


def test_json_contract():
    p = audit("--offline", "fixtures", "--format", "json")
    data = json.loads(p.stdout)
    assert data["generated_at"] == "2026-01-01T00:00:00Z" and "formula" in data["scoring"]
    names = [c["name"] for c in data["clients"]]
    assert names == sorted(names)
    for c in data["clients"]:
        assert {"name", "score", "grade", "coverage", "errors", "findings"} <= set(c)
        assert 0 <= c["score"] <= 100 and c["grade"] in "ABCDF"
        for f in c["findings"]:
            assert {"rule", "severity", "message", "resources", "remediation"} <= set(f)
    healthy = next(c for c in data["clients"] if c["name"] == "northwind-outfitters")
    assert not [f for f in healthy["findings"] if f["severity"] in ("critical", "high", "medium")]
    assert data["summary"]["clients"] == len(names)


@pytest.mark.parametrize("args, code", [
    (("--offline", "fixtures/northwind-outfitters", "--fail-on", "medium"), 0),
    (("--offline", "fixtures/brightcart-home", "--fail-on", "never"), 0),
    (("--offline", "fixtures/brightcart-home", "--fail-on", "critical"), 1),
    (("--offline", "fixtures/northwind-outfitters", "--fail-on", "never", "--min-score", "90"), 0),
    (("--offline", "fixtures/brightcart-home", "--fail-on", "never", "--min-score", "50"), 1),
])
def test_fail_on_and_min_score(args, code):
    p = audit(*args)
    no_traceback(p)
    assert p.returncode == code, p.stderr


def test_missing_path_is_exit_2_with_one_line():
    p = audit("--offline", "no/such/dir")
    no_traceback(p)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no/such/dir" in p.stderr and p.stdout == ""


def test_errored_client_exit_3_others_still_reported(tmp_path: Path):
    root = tmp_path / "clients"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("README.md"))
    (root / "keystone-legal/ga4/events.json").write_text('{"rows": [', encoding="utf-8")
    out = tmp_path / "out/report.json"
    p = audit("--offline", str(root), "--format", "json", "--output", str(out))
    no_traceback(p)
    assert p.returncode == 3
    assert "keystone-legal" in p.stderr and "events.json" in p.stderr and "invalid JSON" in p.stderr
    data = json.loads(out.read_text())
    by_name = {c["name"]: c for c in data["clients"]}
    assert by_name["keystone-legal"]["status"] == "error" and by_name["keystone-legal"]["score"] is None
    assert by_name["northwind-outfitters"]["score"] == 100
    assert data["summary"]["errored"] == 1
    assert not list(out.parent.glob(".*tmp"))  # atomic write left no temporary file


@pytest.mark.parametrize("fmt, marker", [
    ("table", "Clients, worst first"), ("markdown", "# Conversion audit"), ("html", "<!DOCTYPE html>"),
    ("csv", "client,profile,score"), ("json", '"clients"'),
])
def test_every_format_renders(fmt, marker):
    p = audit("--offline", "fixtures", "--format", fmt, "--fail-on", "never")
    assert p.returncode == 0, p.stderr
    assert marker in p.stdout


def test_render_re_renders_a_saved_result(tmp_path: Path):
    saved = tmp_path / "r.json"
    audit("--offline", "fixtures", "--format", "json", "-o", str(saved))
    p = audit("render", str(saved), "--format", "markdown")
    assert p.returncode == 1 and "## brightcart-home" in p.stdout  # findings at or above low: exit 1, as `audit`
    assert audit("render", str(saved), "--format", "markdown", "--fail-on", "never").returncode == 0


def test_bad_config_is_exit_2_naming_file_line_and_key(tmp_path: Path):
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text("rules:\n  overflagged-key-event:\n    enabled: false\n", encoding="utf-8")
    p = audit("--offline", "fixtures", "--config", str(cfg))
    no_traceback(p)
    assert p.returncode == 2
    assert "rules.overflagged-key-event: unknown rule id (did you mean 'overflagged-key-events'?)" in p.stderr
    cfg.write_text("rules:\n  overflagged-key-events:\n    severity: urgent\n", encoding="utf-8")
    p = audit("--offline", "fixtures", "--config", str(cfg))
    assert p.returncode == 2 and "line 3" in p.stderr and "rules.overflagged-key-events.severity" in p.stderr
    cfg.write_text("rules:\n  overflagged-key-events:\n    params: {max_key_event: 3}\n", encoding="utf-8")
    p = audit("--offline", "fixtures", "--config", str(cfg))
    assert p.returncode == 2 and "unknown parameter" in p.stderr and "max_key_events" in p.stderr
    cfg.write_text("colour: blue\n", encoding="utf-8")
    p = audit("--offline", "fixtures", "--config", str(cfg))
    assert p.returncode == 2 and "line 1, column 1: colour: unknown key" in p.stderr


def test_config_overrides_thresholds_and_disables_rules(tmp_path: Path):
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text("rules:\n  overflagged-key-events:\n    params: {max_key_events: 20}\n"
                   "  duplicate-conversion-action: {enabled: false}\n", encoding="utf-8")
    p = audit("--offline", "fixtures/brightcart-home", "--config", str(cfg), "--format", "json")
    rules = {f["rule"] for f in json.loads(p.stdout)["clients"][0]["findings"]}
    msgs = [f["message"] for f in json.loads(p.stdout)["clients"][0]["findings"]]
    assert "duplicate-conversion-action" not in rules
    assert not any("threshold" in m for m in msgs)


def test_profile_flag_is_the_default_and_client_yaml_wins(tmp_path: Path):
    shutil.copytree(FIXTURES / "brightcart-home", tmp_path / "a")
    shutil.copytree(FIXTURES / "brightcart-home", tmp_path / "b")
    (tmp_path / "a/client.yaml").unlink()
    (tmp_path / "b/client.yaml").write_text("profile: lead-gen\n", encoding="utf-8")
    p = audit("--offline", str(tmp_path), "--profile", "saas", "--format", "json")
    assert [c["profile"] for c in json.loads(p.stdout)["clients"]] == ["saas", "lead-gen"]


def test_unknown_profile_is_a_usage_error():
    p = audit("--offline", "fixtures", "--profile", "retail")
    assert p.returncode == 2 and "unknown profile 'retail'" in p.stderr


def test_rules_and_explain():
    p = audit("rules")
    assert p.returncode == 0
    for rid in ("overflagged-key-events", "micro-primary-goal", "split-event-naming", "missing-conversion-value",
                "duplicate-conversion-action"):
        assert rid in p.stdout
    p = audit("explain", "split-event-naming")
    assert p.returncode == 0
    for part in ("What it checks:", "Why it matters:", "How to fix:", "Parameters:", "min_variants"):
        assert part in p.stdout
    p = audit("explain", "split-naming")
    assert p.returncode == 2 and "unknown rule" in p.stderr


def test_help_and_usage_errors():
    p = audit("--help")
    assert p.returncode == 0 and "--offline" in p.stdout and "--fail-on" in p.stdout
    p = audit("--offline", "fixtures", "--format", "nope")
    assert p.returncode == 2 and "nope" in p.stderr
    p = audit("--offline", "fixtures", "--format", "pdf", env={"AUDITOR_CHROMIUM": "/nowhere/chromium"})
    assert p.returncode == 2 and "pdf" in p.stderr and "chromium" in p.stderr.lower() and p.stdout == ""
    no_traceback(p)


def test_offline_path_imports_no_google_library():
    code = ("import sys\nfrom auditor.cli import main\n"
            "try:\n    main(['--offline', 'fixtures', '--format', 'html', '-o', sys.argv[1]])\n"
            "except SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('google', 'grpc', 'proto'))\n"
            "print(','.join(bad))\n")
    p = subprocess.run([sys.executable, "-c", code, os.devnull], capture_output=True, text=True, cwd=ROOT)
    assert p.stdout.strip() == "", p.stdout


def test_config_suppressions_apply_to_plain_audit(tmp_path: Path):
    (tmp_path / "s.yaml").write_text(
        "suppressions:\n  - rule: duplicate-conversion-action\n    client: harbor-*\n    resource: '*'\n"
        "    reason: the agency keeps the copy until the site release\n"
        "  - rule: split-event-naming\n    client: harbor-dental\n    resource: '*'\n    reason: stale\n",
        encoding="utf-8")
    (tmp_path / "c.yaml").write_text("suppressions: s.yaml\n", encoding="utf-8")
    before = json.loads(audit("--offline", "fixtures/harbor-dental", "--format", "json").stdout)["clients"][0]
    p = audit("--offline", "fixtures/harbor-dental", "--format", "json", "--config", str(tmp_path / "c.yaml"))
    after = json.loads(p.stdout)["clients"][0]
    dup = [f for f in after["findings"] if f["rule"] == "duplicate-conversion-action"]
    assert dup and all(f["suppressed"] for f in dup)
    assert after["score"] == before["score"] + 30
    assert "matched no finding" in p.stderr and "s.yaml" in p.stderr


def test_placeholder_values_are_one_taxonomy_setting_for_both_value_rules(tmp_path: Path):
    def value_findings(*extra: str) -> dict[str, list[str]]:
        p = audit("--offline", "fixtures/brightcart-home", "--format", "json", *extra)
        out: dict[str, list[str]] = {}
        for f in json.loads(p.stdout)["clients"][0]["findings"]:
            if f["rule"] in ("missing-conversion-value", "constant-conversion-value") and "'Purchase'" in f["message"]:
                out.setdefault(f["rule"], []).append(f["message"])
        return out

    assert list(value_findings()) == ["missing-conversion-value"]  # default value 1 is a placeholder
    cfg = tmp_path / "c.yaml"
    cfg.write_text("taxonomy:\n  placeholder_values: [0]\n", encoding="utf-8")
    assert list(value_findings("--config", str(cfg))) == ["constant-conversion-value"]  # now a plain constant
