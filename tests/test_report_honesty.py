"""Reports a client can trust: a partial run says so wherever its score shows, a fix's gain is the score's real
change, `audit diff` shows the deductions beside the score, every count of an action is the one its label names,
0 is printed as 0, and the commands agree (config discovery, select/ignore, -o to a folder, render's exit codes)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.audit import iter_offline
from auditor.connectors.offline import client_dirs, load_client
from auditor.diff import changes_line, compute_changes
from auditor.discovery import discover_config
from auditor.mapping import map_client
from auditor.outputs.digest import fix_first
from auditor.result import ClientResult, Deduction, Finding, RuleResult
from auditor.result_schema import validate
from auditor.ruleset import Ruleset
from auditor.scoring import score_client

ROOT = Path(__file__).resolve().parent.parent
WORST = "fixtures/brightcart-home"  # the sample's worst account: deductions far above 100


def audit(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600", "PYTHONPATH": str(ROOT),
                               **(env or {})}, timeout=180)


def one(p: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(p.stdout)["clients"][0]


@pytest.fixture(scope="module")
def samples() -> list[ClientResult]:
    return list(iter_offline(ROOT / "fixtures", Ruleset.load()))


# -- 1. a partial score says so, everywhere ----------------------------------------------------------------------

def test_a_selection_makes_a_partial_score_in_every_format():
    full = one(audit("--offline", WORST, "--format", "json"))
    assert "selection" not in full  # a full audit: the member is absent, old readers see nothing new
    p = audit("--offline", WORST, "--select", "naming", "--format", "json")
    doc = json.loads(p.stdout)
    c = doc["clients"][0]
    ran = len(c["rules"])
    assert c["selection"]["rules"] == ran and c["selection"]["of"] == len(full["rules"])
    assert c["selection"]["select"] == ["naming"] and "duplicate-conversion-action" in c["selection"]["left_out"]
    assert doc["summary"]["ranking"][0]["partial"] is True
    assert validate(doc) == []
    said = f"partial score: {ran} of {len(full['rules'])} rules (selected: naming)"
    table = audit("--offline", WORST, "--select", "naming").stdout
    assert "(grade A, partial)" in " ".join(table.split()) and said in " ".join(table.split())
    assert said in audit("--offline", WORST, "--select", "naming", "--format", "markdown").stdout
    html = audit("--offline", WORST, "--select", "naming", "--format", "html").stdout
    assert f"Partial score: {ran} of {len(full['rules'])} rules</strong> (selected: naming)" in html
    assert '<strong class="partial">(partial)</strong>' in html
    rows = list(csv.DictReader(io.StringIO(audit("--offline", WORST, "--select", "naming", "--format", "csv").stdout)))
    assert {r["grade"] for r in rows} == {"A (partial)"}


def test_select_all_and_config_select_ignore_and_disabled_rules(tmp_path: Path):
    assert "selection" not in one(audit("--offline", WORST, "--select", "ALL", "--format", "json"))
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text("select: [naming]\nignore: [invalid-event-name]\n", encoding="utf-8")
    c = one(audit("--offline", WORST, "--config", str(cfg), "--format", "json"))
    assert [r["id"] for r in c["rules"]] == ["split-event-naming"]
    assert c["selection"]["select"] == ["naming"] and c["selection"]["ignore"] == ["invalid-event-name"]
    # --select on the command line replaces the config's; its ignore: still applies
    c = one(audit("--offline", WORST, "--config", str(cfg), "--select", "bidding", "--format", "json"))
    assert {r["category"] for r in c["rules"]} == {"bidding"}
    cfg.write_text("rules:\n  split-event-naming:\n    enabled: false\n", encoding="utf-8")
    c = one(audit("--offline", WORST, "--config", str(cfg), "--format", "json"))
    assert c["selection"]["disabled"] == ["split-event-naming"] and c["selection"]["left_out"] == ["split-event-naming"]
    cfg.write_text("select: [namin]\n", encoding="utf-8")
    p = audit("--offline", WORST, "--config", str(cfg))
    assert p.returncode == 2 and p.stderr == (f"audit: error: {cfg}: line 1, column 10: select[0]: unknown rule or "
                                              "category 'namin' (did you mean 'naming'?)\n")


def test_a_partial_score_is_said_in_the_summary_and_the_owner_email():
    from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
    from auditor.audit import result_header
    from auditor.outputs.formats.email_owner import render_owner
    from auditor.outputs.formats.summary_base import headline

    rs = Ruleset.load()
    rs.choose(("naming",))
    r = next(iter_offline(ROOT / WORST, rs))
    assert r.partial and r.selection is not None
    text, html = render_owner([r], result_header())
    said = f"{r.selection.label.capitalize()} (selected: naming)"
    assert f"Score 93/100, grade A (partial), coverage 100%\n{said}" in text
    assert "(A, partial score:" in text.split("\n\n")[1]
    row = AgencyRow.of(r, ROOT, {})
    doc = SummaryDocument(result_header(), RunInfo(None, False, ["json"]), [row])
    assert headline(doc)[0].endswith(f"; Partial score: {r.selection.rules} of {r.selection.of} rules (selected: "
                                     "naming) for every client: not the scores of a full audit.")
    assert AgencyRow.from_json(row.to_json()).partial == row.partial


# -- 1. a fix's gain is the score's real change ------------------------------------------------------------------

def test_every_fix_gain_is_the_rescored_change(samples: list[ClientResult]):
    checked = 0
    for r in samples:
        for fx in fix_first(r, 99):
            rest = [f for f in r.findings if f.rule != fx.finding.rule or f.suppressed]
            assert fx.points == (score_client(r.rules, rest).score or 0) - (r.score or 0), (r.name, fx.finding.rule)
            checked += 1
    assert checked > 10


def test_under_the_floor_no_fix_promises_points():
    p = audit("--offline", WORST, "--format", "markdown")
    fixes = p.stdout.split("Fix these first")[1].split("\n\n")[1]
    assert "+30 points" not in fixes and "+15 points" not in fixes
    assert re.search(r"no points yet: deductions (\d+) → (\d+), the score stays 0 until they are below 100", fixes)
    html = audit("--offline", WORST, "--format", "html").stdout
    assert 'class="gain">no points yet: deductions' in html and 'class="gain">+30 points' not in html


def test_a_gain_that_needs_every_finding_fixed_says_so():
    def f(i: int, rule: str, sev: str) -> Finding:
        return Finding(rule=rule, severity=sev, category="c", message=f"m{i}", resources=(f"r{i}",),
                       remediation="fix", fingerprint=f"{i:016d}")

    found = [f(1, "a", "high"), f(2, "a", "high"), f(3, "b", "medium")]
    rules = [RuleResult("a", "c", "fail"), RuleResult("b", "c", "fail")]
    r = ClientResult(name="x", status="ok", rules=rules, findings=found)
    r.rescore(score_client(rules, found))
    assert r.score == 78
    (a, b) = fix_first(r)
    assert (a.gain, b.gain) == ("+15 points once its 2 findings are fixed", "+7 points")


# -- 1. audit diff: the deductions beside the score ---------------------------------------------------------------

def _scored(points: list[int]) -> ClientResult:
    r = ClientResult(name="x", status="ok", generated_at="2026-01-05T07:00:00Z")
    r.deductions = [Deduction(f"rule-{i}", "critical", p) for i, p in enumerate(points)]
    r.score = max(0, 100 - sum(points))
    r.grade = "F"
    return r


def test_diff_says_what_a_fix_under_the_floor_changed(tmp_path: Path):
    before, after = _scored([30, 30, 30, 30, 15, 18]), _scored([30, 30, 30, 15, 18])
    ch = compute_changes(after, before, [], "2026-01-12T07:00:00Z")
    assert changes_line(ch) == ("since 2026-01-05: deductions 153 -> 123, score unchanged (0 -> 0, floored at 0); "
                                "0 new, 0 resolved, 0 persisting")
    assert ch.to_json()["deductions"] == {"previous": 153, "current": 123} and ch.changed
    # through the command, between two saved results
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert audit("--offline", WORST, "--format", "json", "-o", str(old)).returncode == 1
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text("rules:\n  split-event-naming:\n    enabled: false\n", encoding="utf-8")
    audit("--offline", WORST, "--format", "json", "-o", str(new), "--config", str(cfg))
    p = audit("diff", str(old), str(new))
    assert re.search(r"brightcart-home: 0/100 F, since \S+: deductions (\d+) -> (\d+), score unchanged \(0 -> 0, "
                     r"floored at 0\)", p.stdout), p.stdout


# -- 3. one number per thing --------------------------------------------------------------------------------------

_COUNT = r"(\d[\d,]*(?:\.\d+)?)"
# 'Name' (… 431 conv.…) or 'Name' (… 446 all conv.…): a count inside the parenthesis that follows an action's name
_NAMED = re.compile(r"'([^'\n]+)' \(([^()]*)\)")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def count_mismatches() -> tuple[int, list[str]]:
    """(counts checked, every count printed beside an action's name in a finding over the samples that is not what
    its label says): 'N conv.' must be the action's conversions, 'N all conv.' its all conversions (30 days)."""
    rs = Ruleset.load()
    out = []
    checked = 0
    for folder, r in zip(client_dirs(ROOT / "fixtures"), iter_offline(ROOT / "fixtures", rs), strict=True):
        raw = load_client(folder)
        raw.name = r.name
        client = map_client(raw, r.profile or "ecommerce")
        if client.ads is None:
            continue
        by_name: dict[str, list] = {}
        for a in client.ads.actions:
            by_name.setdefault(a.name, []).append(a)
        for f in r.findings:
            for m in _NAMED.finditer(f.message):
                actions = by_name.get(m.group(1))
                if not actions or len(actions) > 1:
                    continue  # not an action's name (a campaign, a goal), or two actions share it
                stats = actions[0].stats
                for n in re.finditer(_COUNT + r" (all )?conv\.", m.group(2)):
                    checked += 1
                    want = stats.all_conversions if n.group(2) else stats.conversions
                    if abs(_number(n.group(1)) - want) > 0.05 + 0.0005 * want:
                        label = "all conv." if n.group(2) else "conv."
                        out.append(f"{r.name}: {f.rule}: '{m.group(1)}' {n.group(1)} {label} but its "
                                   f"{'all conversions' if n.group(2) else 'conversions'} are {want:g}")
    return checked, out


def test_every_count_beside_an_action_is_the_one_its_label_names():
    checked, wrong = count_mismatches()
    assert checked >= 20  # the samples print many: the check is not vacuous
    assert wrong == []


# -- 5. 0 is printed as 0 ------------------------------------------------------------------------------------------

def test_a_score_of_0_is_0_in_the_plain_text_summary_email(tmp_path: Path):
    from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
    from auditor.audit import result_header
    from auditor.outputs.formats.email_summary import email_view, render_summary
    from auditor.outputs.formats.summary_base import SummaryView

    r = _scored([30, 30, 30, 30, 15])
    row = AgencyRow.of(r, tmp_path, {})
    row.trend, row.previous_score, row.delta = [15, None, 0], 15, -15
    text, _ = render_summary(email_view(SummaryView(SummaryDocument(result_header(), RunInfo(None, True, ["json"]),
                                                                    [row]))))
    line = next(x for x in text.splitlines() if x.split()[:2] == ["1", "x"])
    assert line.split()[2] == "0"  # the score column
    assert line.endswith("15 - 0")  # the last runs: a missing score is "-", a 0 stays 0


# -- 8. the commands agree ---------------------------------------------------------------------------------------

def test_audit_and_audit_run_audit_the_same_clients_of_one_config(tmp_path: Path):
    p = audit("--offline", "fixtures/", "--config", "examples/agency.yaml", "--format", "json")
    names = [c["name"] for c in json.loads(p.stdout)["clients"]]
    assert "4 client folder(s) in fixtures are not in the config and were skipped" in p.stderr
    r = audit("run", "--config", "examples/agency.yaml", "--offline", "fixtures/", "--no-email", "--no-history",
              "-o", str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert r.returncode in (0, 1) and sorted(names) == sorted(c["name"] for c in summary["clients"])
    assert len(names) == 5


def test_audit_takes_suppressions_like_audit_run(tmp_path: Path):
    sup = tmp_path / "sup.yaml"
    sup.write_text("suppressions:\n  - rule: split-event-naming\n    client: brightcart-home\n    resource: '*'\n"
                   "    reason: known, fixed next sprint\n", encoding="utf-8")
    c = one(audit("--offline", WORST, "--select", "naming", "--suppressions", str(sup), "--format", "json"))
    assert c["score"] == 100 and all(f["suppressed"] for f in c["findings"] if f["rule"] == "split-event-naming")
    assert "--suppressions" in audit("--help").stdout and "--suppressions" in audit("run", "--help").stdout


def test_render_defaults_to_a_table_and_exits_as_audit_does(tmp_path: Path):
    saved = tmp_path / "r.json"
    first = audit("--offline", WORST, "--format", "json", "-o", str(saved))
    p = audit("render", str(saved))
    assert p.returncode == first.returncode == 1
    assert p.stdout.startswith(audit("--offline", WORST).stdout.split("\n")[0])  # the table, as `audit` prints it
    assert audit("render", str(saved), "--fail-on", "never").returncode == 0
    assert audit("render", str(saved), "--fail-on", "critical").returncode == 1
    assert audit("--fail-on", "never", "render", str(saved)).returncode == 0  # given before the subcommand too


def test_output_to_a_folder_writes_the_default_name_and_a_bad_one_fails_before_auditing(tmp_path: Path):
    p = audit("--offline", WORST, "--format", "html", "-o", str(tmp_path))
    assert (tmp_path / "audit.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert p.stderr.strip().endswith(f"wrote {tmp_path / 'audit.html'} (1 client(s))")
    saved = tmp_path / "acme.json"
    audit("--offline", WORST, "--format", "json", "-o", str(saved))
    audit("render", str(saved), "--format", "markdown", "-o", str(tmp_path))
    assert (tmp_path / "acme.md").is_file()
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    p = audit("--offline", WORST, "-o", str(blocked / "report.txt"), "-v")
    assert p.returncode == 2 and p.stdout == "" and "auditing" not in p.stderr
    assert p.stderr.startswith(f"audit: error: --output {blocked / 'report.txt'}: cannot write to {blocked}")


def test_config_discovery_walks_up_and_verbose_names_the_config_and_rules(tmp_path: Path):
    (tmp_path / ".auditor.yaml").write_text("select: [naming]\n", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert discover_config(deep) == tmp_path / ".auditor.yaml"
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.auditor]\nprofile = 'lead-gen'\n", encoding="utf-8")
    assert discover_config(deep) == tmp_path / "a" / "pyproject.toml"  # the nearest wins
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")  # not ours
    assert discover_config(deep) == tmp_path / ".auditor.yaml"
    p = audit("--offline", str(ROOT / WORST), "-v", "--format", "json", cwd=deep)
    assert f"audit: config: {tmp_path / '.auditor.yaml'} (found in {tmp_path}, a parent of the working directory)" \
        in p.stderr
    assert "audit: rules: 2 of 33 (selected: naming), ruleset " in p.stderr
    assert one(p)["selection"]["select"] == ["naming"]


def test_a_bad_colour_says_what_a_colour_looks_like(tmp_path: Path):
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text("report:\n  accent_color: blue\n", encoding="utf-8")
    p = audit("--offline", WORST, "--config", str(cfg))
    assert p.returncode == 2
    assert p.stderr == (f"audit: error: {cfg}: line 2, column 3: report.accent_color: expected a colour like #1a73e8 "
                        "(# and six hexadecimal digits)\n")
    assert "[0-9" not in p.stderr
