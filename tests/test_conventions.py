"""Conventions users bring from ruff and Lighthouse: rule selection, config discovery, a documentation link and
the names of what each finding is about, and one definition of formats, fail levels and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.audit import audit_folder
from auditor.conventions import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, FAIL_LEVELS, FORMAT_EXTENSIONS, FORMATS
from auditor.outputs import CHANNEL_CLASSES, FORMAT_CLASSES
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def audit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def rules_of(doc: dict) -> dict[str, set[str]]:
    return {c["name"]: {r["id"] for r in c["rules"]} for c in doc["clients"]}


def test_select_by_id_and_category_ignore_wins():
    p = audit("--offline", str(FIXTURES), "--format", "json", "--select", "bidding,duplicate-conversion-action",
              "--ignore", "low-bidding-volume")
    assert p.returncode in (EXIT_OK, EXIT_FINDINGS), p.stderr
    doc = json.loads(p.stdout)
    rs = Ruleset.load()
    bidding = {rid for rid, r in rs.rules.items() if r.category == "bidding"}
    expected = (bidding | {"duplicate-conversion-action"}) - {"low-bidding-volume"}
    assert "low-bidding-volume" in bidding and len(expected) >= 3
    for name, ids in rules_of(doc).items():
        assert ids <= expected, name
        assert ids, name
    assert all(f["rule"] in expected for c in doc["clients"] for f in c["findings"])


def test_select_changes_the_score_it_reports():
    full = json.loads(audit("--offline", str(FIXTURES / "brightcart-home"), "--format", "json").stdout)
    naming = json.loads(audit("--offline", str(FIXTURES / "brightcart-home"), "--format", "json",
                              "--select", "naming").stdout)
    assert naming["clients"][0]["score"] > full["clients"][0]["score"]
    assert {d["rule"] for d in naming["clients"][0]["deductions"]} <= {
        r.id for r in Ruleset.load().rules.values() if r.category == "naming"}


def test_unknown_selection_is_a_usage_error_with_a_suggestion():
    p = audit("--offline", str(FIXTURES), "--select", "micro-primary-goals")
    assert p.returncode == EXIT_USAGE
    assert p.stderr.strip().splitlines() == [
        "audit: error: --select: unknown rule or category 'micro-primary-goals' (did you mean 'micro-primary-goal'?)"]


def test_dot_auditor_yaml_is_discovered_in_the_working_directory(tmp_path: Path):
    (tmp_path / ".auditor.yaml").write_text("rules:\n  overflagged-key-events:\n    enabled: false\n")
    doc = json.loads(audit("--offline", str(FIXTURES), "--format", "json", cwd=tmp_path).stdout)
    assert all("overflagged-key-events" not in ids for ids in rules_of(doc).values())
    # --config wins over the discovered file
    other = tmp_path / "other.yaml"
    other.write_text("profile: ecommerce\n")
    doc = json.loads(audit("--offline", str(FIXTURES), "--format", "json", "--config", str(other),
                           cwd=tmp_path).stdout)
    assert all("overflagged-key-events" in ids for ids in rules_of(doc).values())


def test_pyproject_tool_auditor_is_discovered(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.auditor]\nprofile = "saas"\n\n'
                                            '[tool.auditor.rules.overflagged-key-events]\nseverity = "low"\n')
    doc = json.loads(audit("--offline", str(FIXTURES / "lumen-analytics"), "--format", "json",
                           cwd=tmp_path).stdout)
    (client,) = doc["clients"]  # lumen-analytics has no client.yaml: the discovered config's profile applies
    assert client["profile"] == "saas" and client["profile_source"] == "config"
    assert {f["severity"] for f in client["findings"] if f["rule"] == "overflagged-key-events"} == {"low"}


def test_a_pyproject_without_the_table_is_not_a_config(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert audit("--offline", str(FIXTURES / "northwind-outfitters"), cwd=tmp_path).returncode == EXIT_OK


def test_a_bad_discovered_config_names_the_file(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.auditor]\nprofil = "lead-gen"\n')
    p = audit("--offline", str(FIXTURES), cwd=tmp_path)
    assert p.returncode == EXIT_USAGE
    assert "pyproject.toml" in p.stderr and "profil" in p.stderr and "did you mean 'profile'" in p.stderr
    assert "Traceback" not in p.stderr


def test_every_finding_links_to_its_rule_and_names_its_subjects():
    r = audit_folder(FIXTURES / "brightcart-home", Ruleset.load())
    headings = {line[3:].strip() for line in (ROOT / "docs/rules.md").read_text().splitlines()
                if line.startswith("## ")}
    assert r.findings
    for f in r.findings:
        # no docs_url configured: the anchor of the rule's entry in the report's own appendix (a file that travels)
        assert f.help_url == f"#rule-{f.rule}" and f.rule in headings
        assert len(f.subjects) == len(f.resources)
        for s, res in zip(f.subjects, f.resources, strict=True):
            assert s.resource == res
    names = {s.name for f in r.findings for s in f.subjects if s.kind == "conversion_action"}
    assert {"Purchase", "purchase (GA4)"} <= names
    ads = [s for f in r.findings for s in f.subjects if s.kind == "conversion_action"]
    assert all(s.url == "https://ads.google.com/aw/conversions?__e=7356021984" for s in ads)
    ga4 = [s for f in r.findings for s in f.subjects if s.kind == "key_event"]
    assert ga4 and all(s.url.startswith("https://analytics.google.com/analytics/web/#/p352190847/") for s in ga4)


def test_docs_url_from_the_config(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("report:\n  docs_url: https://wiki.agency.example/auditor/rules\n")
    doc = json.loads(audit("--offline", str(FIXTURES / "brightcart-home"), "--format", "json",
                           "--config", str(cfg)).stdout)
    urls = {f["help_url"] for f in doc["clients"][0]["findings"]}
    assert urls and all(u.startswith("https://wiki.agency.example/auditor/rules#") for u in urls)


def test_one_definition_of_formats_levels_and_channels():
    assert set(FORMAT_CLASSES) == set(FORMATS) == set(FORMAT_EXTENSIONS)
    assert FAIL_LEVELS[-1] == "never" and set(CHANNEL_CLASSES) == {"email", "webhook"}
    # nothing else in the package spells out the list of formats or fail levels
    spelled = []
    for path in (ROOT / "auditor").rglob("*.py"):
        text = path.read_text()
        if path.name != "conventions.py" and ('"table", "markdown", "json"' in text or
                                              '"critical", "high", "medium", "low", "info", "never"' in text):
            spelled.append(path.name)
    assert spelled == []


@pytest.mark.parametrize("flag", ["-q", "--quiet", "-v", "--verbose"])
def test_quiet_and_verbose_on_the_audit_command(flag: str):
    p = audit(flag, "--offline", str(FIXTURES), "--format", "json")
    assert p.returncode in (EXIT_FINDINGS,), p.stderr
    if flag in ("-q", "--quiet"):
        assert "warning" not in p.stderr
    else:
        assert "northwind-outfitters" in p.stderr  # each client as it is done
