"""Funnel monitoring across agency runs: each result stores the vitals it measured, the history hands a client's
earlier complete runs to its next audit (offline and live), the rule funnel-step-drop compares them, and the owner
e-mail and the summary open with the drop."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditor.agency.history import client_history
from auditor.agency.log import Log
from auditor.agency.settings import load_settings
from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
from auditor.agency.targets import Target, iter_results
from auditor.audit import audit_client_folder, audit_folder, audit_raw, error_result
from auditor.connectors.offline import load_client
from auditor.history import History
from auditor.model import ClientHistory, EarlierRun
from auditor.outputs.formats.email_owner import owner_subject, render_owner
from auditor.outputs.formats.summary_base import headline
from auditor.result import ClientResult, Finding, Header
from auditor.ruleset import Ruleset
from auditor.vitals import from_json
from tests.test_email import smtp_server

ROOT = Path(__file__).resolve().parent.parent
CLIENT = "northwind-outfitters"
OWNER = "nw-owner@client.example"
STEP = "add_to_cart"  # the funnel step whose users run 3 loses half of (still above the next step: on the ladder)
BEFORE = "view_item"  # the step before it


def audit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=180)


def halve_event(folder: Path, event: str) -> None:
    """Edit a copied fixture folder: `event` loses half its events and users in the 28-day report."""
    path = folder / "ga4" / "events.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    hit = False
    for page in body if isinstance(body, list) else [body]:
        dims = [d["name"] for d in page["dimensionHeaders"]]
        mets = [m["name"] for m in page["metricHeaders"]]
        for row in page.get("rows") or ():
            if row["dimensionValues"][dims.index("eventName")]["value"] != event:
                continue
            for name in ("eventCount", "totalUsers"):
                cell = row["metricValues"][mets.index(name)]
                cell["value"] = str(int(float(cell["value"])) // 2)
            hit = True
    assert hit, event
    path.write_text(json.dumps(body), encoding="utf-8")


def config(tmp_path: Path, port: int) -> Path:
    p = tmp_path / "agency.yaml"
    p.write_text(f"clients:\n  - name: {CLIENT}\n    recipients: [{OWNER}]\noutput:\n  dir: out\n  formats: [json]\n"
                 f"email:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  sender: robot@agency.example\n"
                 "  summary_to: [lead@agency.example]\n  timeout: 5\n", encoding="utf-8")
    return p


def rule_status(result: dict[str, Any], rule: str = "funnel-step-drop") -> tuple[str, str]:
    (r,) = [x for x in result["rules"] if x["id"] == rule]
    return r["status"], r["reason"]


def body(msg: Any, subtype: str) -> str:
    return msg.get_body(preferencelist=(subtype,)).get_content().replace("\r\n", "\n")


# -- what a result stores and what the history gives back -------------------------------------------------------

def test_every_audit_stores_its_vitals_and_a_plain_audit_has_no_history():
    r = audit_folder(ROOT / "fixtures" / CLIENT, Ruleset.load())
    assert r.vitals is not None
    v = from_json(r.vitals)
    assert v.generated_at and v.step_rates and dict(v.daily)
    assert (BEFORE, STEP) in {(a, b) for a, b, _ in v.step_rates}
    assert ClientResult.from_json(json.loads(json.dumps(r.to_json()))).vitals == r.vitals
    status, reason = rule_status(r.to_json())
    assert status == "not_applicable" and "no earlier runs" in reason  # plain `audit`: the rule does not apply


def _result(name: str, score: int | None, vitals: dict[str, Any] | None) -> ClientResult:
    r = ClientResult(name=name, status="ok" if score is not None else "error", score=score,
                     grade=None if score is None else "B", vitals=vitals)
    return r


def _vitals(day: str, rate: float) -> dict[str, Any]:
    return {"generated_at": f"{day}T06:00:00Z", "step_rates": [[BEFORE, STEP, rate]], "daily": {STEP: 10.0},
            "key_events": [STEP], "primary_actions": []}


def test_history_gives_the_last_complete_audited_results_oldest_first(tmp_path):
    with History.open(tmp_path / "h.sqlite") as h:
        plan = [("2025-01-06", "complete", 80, 0.6), ("2025-01-13", "failed", 80, 0.1),
                ("2025-01-20", "complete", None, None), ("2025-01-27", "complete", 80, 0.5),
                ("2025-02-03", "complete", 70, None), ("2025-02-10", "complete", 75, 0.55)]
        ids = []
        for day, status, score, rate in plan:
            rid = h.begin_run(f"{day}T06:00:00Z", None, "t")
            h.record(rid, _result(CLIENT, score, None if rate is None else _vitals(day, rate)), f"{day}T06:00:00Z")
            h.record(rid, _result("someone-else", 90, _vitals(day, 0.9)), f"{day}T06:00:00Z")
            if status == "complete":
                h.finish_run(rid, f"{day}T06:05:00Z", 2)
            else:
                h.end_unfinished(rid, status, 2)
            ids.append(rid)
        got = h.earlier(CLIENT)
        # the failed run and the errored result are no baselines; the one saved without vitals is a result still
        assert [r.generated_at[:10] for r in got] == ["2025-01-06", "2025-01-27", "2025-02-03", "2025-02-10"]
        assert [r.generated_at[:10] for r in h.earlier(CLIENT, limit=2)] == ["2025-02-03", "2025-02-10"]
        assert [r.generated_at[:10] for r in h.earlier(CLIENT, before_run=ids[3])] == ["2025-01-06"]
        assert h.earlier("nobody") == []
        fast = h.earlier_vitals(CLIENT)
        assert fast == [(r.generated_at, r.vitals) for r in got if r.vitals]  # only the vitals member read
        real = h.conn

        class NoJson:  # an SQLite built without its JSON functions
            def execute(self, sql: str, *args: Any) -> Any:
                if "json_extract" in sql:
                    raise sqlite3.OperationalError("no such function: json_extract")
                return real.execute(sql, *args)

        h.conn = NoJson()  # type: ignore[assignment]
        try:
            assert h.earlier_vitals(CLIENT) == fast
        finally:
            h.conn = real
        hist = client_history(h, CLIENT)
        assert isinstance(hist, ClientHistory)
        assert [(r.generated_at[:10], r.step_rates) for r in hist.runs] == [
            ("2025-01-06", ((BEFORE, STEP, 0.6),)), ("2025-01-27", ((BEFORE, STEP, 0.5),)),
            ("2025-02-10", ((BEFORE, STEP, 0.55),))]
        assert client_history(h, "nobody") == ClientHistory(runs=())


# -- the history reaches the audit ------------------------------------------------------------------------------

EARLIER = ClientHistory(runs=(EarlierRun("2025-01-06T06:00:00Z"), EarlierRun("2025-01-13T06:00:00Z")))


def test_audit_raw_and_audit_client_folder_take_the_history(tmp_path):
    raw = load_client(ROOT / "fixtures" / CLIENT)
    r = audit_raw(raw, Ruleset.load(), history=EARLIER)
    assert raw.history is EARLIER and r.status == "ok"
    seen: list[Any] = []
    import auditor.audit as audit_module

    real = audit_module.audit_raw

    def spy(raw, ruleset, funnel=None, history=None):
        out = real(raw, ruleset, funnel, history)
        seen.append(raw.history)
        return out

    audit_module.audit_raw = spy
    try:
        audit_client_folder(ROOT / "fixtures" / CLIENT, Ruleset.load(), history=EARLIER)
        audit_client_folder(ROOT / "fixtures" / CLIENT, Ruleset.load())
    finally:
        audit_module.audit_raw = real
    assert seen == [EARLIER, None]


class StubSession:
    planner = None
    closed = False

    def prepare(self, specs: list[Any]) -> None:
        self.prepared = list(specs)

    def close(self) -> None:
        self.closed = True


def test_a_live_agency_run_audits_each_client_with_its_history(monkeypatch):
    from auditor import live

    raws = {}

    def fetched(specs, jobs, session):
        for s in specs:
            if s.name == "broken":
                yield live.Fetched(s, s.name, None, ["GA4 property 1: permission denied"])
                continue
            raw = load_client(ROOT / "fixtures" / CLIENT)
            raw.name = s.name
            raws[s.name] = raw
            yield live.Fetched(s, s.name, raw)

    monkeypatch.setattr(live, "iter_fetched", fetched)
    st = load_settings(None, output="unused", no_history=True)
    st.live = StubSession()
    asked: list[str] = []

    def earlier(name: str) -> ClientHistory:
        asked.append(name)
        return EARLIER if name == "a" else ClientHistory()

    targets = [Target(n, spec=live.Target(n, property="1")) for n in ("a", "broken", "b")]
    got = [(t.name, r) for t, r, _ in iter_results(st, targets, earlier)]
    assert [n for n, _ in got] == ["a", "broken", "b"] and st.live.closed and st.live.planner is not None
    assert asked == ["a", "b"]  # read just before each audit; a client that could not be read needs none
    assert raws["a"].history is EARLIER and raws["b"].history == ClientHistory()
    assert got[1][1].errors == ["GA4 property 1: permission denied"]
    assert rule_status(got[0][1].to_json())[0] == "pass"  # two earlier runs that measured nothing comparable
    assert rule_status(got[2][1].to_json()) == ("not_applicable", "0 earlier run(s) of this client: at least 2 "
                                                                  "are needed to compare")


# -- three agency runs: the third one's funnel step lost half its users -------------------------------------------

def test_three_offline_runs_find_the_funnel_drop_and_the_owner_email_leads_with_it(tmp_path):
    fx = tmp_path / "fx"
    shutil.copytree(ROOT / "fixtures" / CLIENT, fx / CLIENT)
    out = tmp_path / "out"
    results = []
    with smtp_server() as (ctl, sink):
        cfg = config(tmp_path, ctl.port)
        for run in (1, 2, 3):
            if run == 3:
                halve_event(fx / CLIENT, STEP)
            sent = len(sink.messages)
            p = audit("run", "--config", str(cfg), "--offline", str(fx), "-q", cwd=tmp_path)
            assert p.returncode in (0, 1), p.stderr
            assert "Traceback" not in p.stderr
            results.append(json.loads((out / "clients" / f"{CLIENT}.json").read_text())["clients"][0])
            mails = {",".join(to): m for _, to, m in sink.messages[sent:]}
    # every stored result carries its vitals; runs 1 and 2 have too few earlier runs to compare with
    assert all(r["vitals"] and r["vitals"]["step_rates"] for r in results)
    assert rule_status(results[0]) == ("not_applicable", "0 earlier run(s) of this client: at least 2 are needed "
                                                         "to compare")
    assert rule_status(results[1])[0] == "not_applicable" and rule_status(results[1])[1].startswith("1 earlier")
    # run 3: the history handed the two earlier runs to the audit, and the step's rate halved
    assert rule_status(results[2])[0] == "fail"
    drops = [f for f in results[2]["findings"] if f["rule"] == "funnel-step-drop"]
    step = [f for f in drops if f["message"].startswith(f"funnel step {BEFORE} \u2192 {STEP}: ")]
    assert step, [(f["resources"], f["message"]) for f in drops]
    message = step[0]["message"]
    assert f"{BEFORE} \u2192 {STEP}" in message and "over 2 earlier runs" in message and "down 5" in message
    assert {f["fingerprint"] for f in drops} <= {f["fingerprint"] for f in results[2]["changes"]["new"]}
    # the owner's e-mail opens with the drop: the line above the three, the block above the client
    msg = mails[OWNER]
    # (strip: Python folds a Subject with parentheses over 78 columns onto the next line, leaving a space)
    assert msg["Subject"].strip().startswith(f"[auditor] {CLIENT}: funnel drop; ")
    text = body(msg, "plain")
    head = text.split("\n\n")[1].splitlines()
    assert head[0].startswith(f"Funnel drop: funnel step {BEFORE} \u2192 {STEP}: ") and "down 5" in head[0]
    assert head[1].startswith(f"{CLIENT}: score ") and head[2].startswith("Got worse: ")
    block = text.split("\n\n", 2)[2]
    assert block.startswith("Funnel drop")
    assert block.index(message) < block.index(f"== {CLIENT}")
    assert text.count(message) == 2  # the line above the three, and the block with its fix; not again below
    html = body(msg, "html")
    assert html.index("Funnel drop") < html.index(f">{CLIENT} <")
    # the agency summary names the client first
    lead = body(mails["lead@agency.example"], "plain").split("\n\n")[1].splitlines()
    assert lead[0] == (f"Funnel drop since earlier runs: {CLIENT} ({len(drops)}); their owners' e-mails open "
                       "with it.")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["clients"][0]["funnel_drops"] == len(drops)


# -- the e-mail and summary wording, without a run ---------------------------------------------------------------

HEADER = Header(version="test", generated_at="2025-01-13T07:00:00Z", formula="f", deductions={}, grades={})


def _finding(rule: str, message: str, resources: tuple[str, ...], severity: str = "high") -> Finding:
    return Finding(rule=rule, severity=severity, category="monitoring", message=message, resources=resources,
                   remediation=f"Repair {message[:10]}.", fingerprint=(rule + "|".join(resources))[-16:].rjust(16, "0"))


def _dropped(name: str) -> ClientResult:
    from auditor.scoring import score_client

    found = [_finding("funnel-step-drop", "GA4 event purchase: 3.0 users a day now, down 60%", ("purchase",)),
             _finding("funnel-step-drop", "funnel step a \u2192 b: 10.0% now against 40.0%, down 75%",
                      ("funnel:a>b",)),
             _finding("dead-key-event", "key event x is dead", ("properties/1/keyEvents/1",), "medium")]
    r = ClientResult(name=name, status="ok", profile="ecommerce", findings=found)
    r.rescore(score_client([], found))
    r.score, r.grade = 60, "D"
    return r


def test_owner_email_opens_with_the_step_drop_then_lists_each_drop_once():
    r = _dropped("acme")
    text, html = render_owner([r], HEADER)
    head = text.split("\n\n")[1].splitlines()
    assert head[0] == "Funnel drop: funnel step a \u2192 b: 10.0% now against 40.0%, down 75% (and 1 more below)."
    assert head[1:] == ["acme: score 60/100 (D).",
                        "Fix first: funnel-step-drop (+15 points once its 2 findings are fixed): Repair GA4 event ."]
    block = text.split("\n\n", 2)[2]
    assert block.startswith("Funnel drops since earlier runs:\n  [HIGH] funnel step a")
    assert block.index("GA4 event purchase") < block.index("== acme") < block.index("key event x is dead")
    assert text.count("GA4 event purchase") == 1 and text.count("Fix: Repair GA4 event") == 1
    assert owner_subject(None, [r]) == "acme: funnel drop; 60/100 (D)"
    two = render_owner([r, _dropped("beta")], HEADER)[0].split("\n\n")[1].splitlines()
    assert two[0].startswith("Funnel drop: acme: funnel step a") and two[0].endswith("(and 3 more below).")
    assert "beta: funnel step a" in render_owner([r, _dropped("beta")], HEADER)[0]
    assert "Funnel drops since earlier runs" in html


def test_no_drop_no_line_and_a_suppressed_drop_does_not_lead():
    r = _dropped("acme")
    for f in r.findings:
        if f.rule == "funnel-step-drop":
            f.suppressed = True
    text, _ = render_owner([r], HEADER)
    assert "Funnel drop" not in text and owner_subject(None, [r]) == "acme: 60/100 (D)"


def test_summary_lines_open_with_the_clients_with_a_drop(tmp_path):
    rows = [AgencyRow.of(_dropped("acme"), tmp_path, {}),
            AgencyRow.of(error_result("broken", ["x"]), tmp_path, {})]
    assert rows[0].funnel_drops == 2 and rows[1].funnel_drops == 0
    assert AgencyRow.from_json(rows[0].to_json()) == rows[0]
    assert AgencyRow.from_json({**rows[0].to_json(), "funnel_drops": None}).funnel_drops == 0
    doc = SummaryDocument(HEADER, RunInfo(None, True, ["json"]), rows)
    lines = headline(doc)
    assert lines[0] == "Funnel drop since earlier runs: acme (2); their owners' e-mails open with it."
    assert lines[1].startswith("2 clients")


@pytest.mark.parametrize("history", [True, False])
def test_agency_run_in_process_passes_history_only_when_kept(tmp_path, monkeypatch, history):
    """`audit run` with history hands every client an (empty on a first run) ClientHistory; --no-history none."""
    import auditor.agency.targets as targets

    seen: list[Any] = []
    real = targets._audit_offline

    def spy(t, ruleset, missing, history=None):
        seen.append(history)
        return real(t, ruleset, missing, history)

    monkeypatch.setattr(targets, "_audit_offline", spy)
    fx = tmp_path / "fx"
    shutil.copytree(ROOT / "fixtures" / CLIENT, fx / CLIENT)
    cfg = tmp_path / "agency.yaml"
    cfg.write_text(f"clients:\n  - name: {CLIENT}\noutput:\n  dir: out\n  formats: [json]\n", encoding="utf-8")
    from auditor.agency.run import run

    st = load_settings(str(cfg), offline=fx, no_history=not history)
    assert run(st, Log(quiet=True)) in (0, 1)
    assert seen == [ClientHistory(runs=())] if history else seen == [None]
