"""Agency runs end to end with real parts: the `audit` CLI in a subprocess, a real SMTP server (aiosmtpd) on
loopback, SQLite history, file locks, shards and merge, and the HTML report rendered by headless Chromium."""

from __future__ import annotations

import asyncio
import csv
import html as htmlmod
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from builders import add_weak_key_event, run_on_terminal

from auditor.agency.log import Log
from auditor.agency.run import run as agency_run
from auditor.agency.settings import load_settings, parse_shard
from auditor.agency.targets import Target, iter_results, shard_index
from auditor.errors import ConfigError
from tests.test_email import SmtpSink, free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sum(1 for p in (ROOT / "fixtures").iterdir() if p.is_dir())  # the bundled sample clients
CLIENTS = ["brightcart-home", "fieldnotes-media", "harbor-dental", "keystone-legal", "northwind-outfitters"]
OWNERS = {  # client -> recipients; legal@ owns two clients, harbor-dental has two owners
    "northwind-outfitters": ["nw-owner@client.example"],
    "brightcart-home": ["retail@agency.example"],
    "fieldnotes-media": ["retail@agency.example"],
    "keystone-legal": ["legal@agency.example"],
    "harbor-dental": ["legal@agency.example", "dental@client.example"],
}
LEAD = "lead@agency.example"
XSS = "<script>alert(1)</script>"


def audit(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout)


def fixtures_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "fx"
    shutil.copytree(ROOT / "fixtures", dst, ignore=shutil.ignore_patterns("README.md"))
    return dst


def write_config(tmp_path: Path, port: int | None, *, clients: dict[str, list[str]] | None = None,
                 extra: str = "", email: str = "") -> Path:
    clients = OWNERS if clients is None else clients
    lines = ["clients:"] + [f"  - name: {n}\n    recipients: [{', '.join(r)}]" for n, r in clients.items()]
    text = "\n".join(lines) + "\noutput:\n  dir: out\n  formats: [json, html, csv]\n" + extra
    if port is not None:
        text += (f"email:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  sender: robot@agency.example\n"
                 f"  summary_to: [{LEAD}]\n  timeout: 5\n" + email)
    p = tmp_path / "agency.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def by_recipient(sink: SmtpSink) -> dict[str, Any]:
    return {",".join(to): msg for _, to, msg in sink.messages}


def body(msg: Any, subtype: str) -> str:
    return msg.get_body(preferencelist=(subtype,)).get_content().replace("\r\n", "\n")


def attachments(msg: Any) -> dict[str, Any]:
    return {p.get_filename(): p.get_content() for p in msg.iter_attachments()}


# -- end to end --------------------------------------------------------------------------------------------------

def test_five_clients_one_summary_email_and_one_email_per_owner(tmp_path):
    fx = fixtures_copy(tmp_path)
    with smtp_server() as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port)
        p = audit("run", "--config", str(cfg), "--offline", str(fx), cwd=tmp_path)
    assert p.returncode == 1, p.stderr  # the fixtures have findings at or above the default --fail-on low
    assert "Traceback" not in p.stderr
    out = tmp_path / "out"
    # output folder: per-client renderings, the summary, the history; no temporary files left
    for name in CLIENTS:
        for ext in ("json", "html", "csv"):
            assert (out / "clients" / f"{name}.{ext}").is_file()
    assert {f.name for f in out.iterdir() if not f.name.startswith("history.sqlite-")} == {
        "clients", "summary.json", "summary.csv", "summary.html", "history.sqlite", ".audit-run.lock"}
    assert not [f for f in out.rglob("*.tmp")]
    # the summary ranks clients worst first, with counts by severity
    summary = json.loads((out / "summary.json").read_text())
    scores = [(c["score"], c["name"]) for c in summary["clients"]]
    assert scores == sorted(scores) and {c["name"] for c in summary["clients"]} == set(CLIENTS)
    assert set(summary["clients"][0]["counts"]) == {"critical", "high", "medium", "low", "info"}
    assert summary["summary"]["clients"] == 5
    # recipient addresses live in the config and the SMTP envelope only, never in a report
    for f in out.rglob("*"):
        if f.is_file() and not f.name.startswith((".", "history")):
            text = f.read_text(encoding="utf-8")
            assert "@agency.example" not in text and "@client.example" not in text, f
    # one summary to the lead and one message per owner address (each owner's clients together)
    mails = by_recipient(sink)
    owners = sorted({a for r in OWNERS.values() for a in r})
    assert sorted(mails) == sorted([LEAD, *owners])
    for msg in mails.values():
        assert msg.get_content_type() == "multipart/mixed"
        assert body(msg, "plain") and "<html" in body(msg, "html")
    lead = mails[LEAD]
    assert set(attachments(lead)) == {"summary.json", "summary.csv"}
    assert lead["Subject"].startswith("[auditor] Agency summary: 5 client(s)")
    assert all(n in body(lead, "plain") for n in CLIENTS)
    lead_text = body(lead, "plain").split("\n\n")[1].splitlines()  # three lines first
    assert lead_text[0] == f"5 clients, average score {summary['summary']['average_score']:g}."
    assert lead_text[1] == "First run: nothing to compare with yet."
    assert lead_text[2].startswith(f"Fix first: {summary['clients'][0]['name']}: ")
    # each owner, per client and named after it: the HTML report (and its PDF where Chromium is), JSON and CSV
    from auditor.outputs.formats.pdf import find_engine

    kinds = ("html", "pdf", "json", "csv") if find_engine() else ("html", "json", "csv")
    for addr in owners:
        mine = [c for c, to in OWNERS.items() if addr in to]
        assert set(attachments(mails[addr])) == {f"{c}.{ext}" for c in mine for ext in kinds}, addr
    legal = attachments(mails["legal@agency.example"])
    for name in ("harbor-dental", "keystone-legal"):
        assert [c["name"] for c in json.loads(legal[f"{name}.json"])["clients"]] == [name]
        assert legal[f"{name}.csv"].splitlines()[1].startswith(f"{name},")
    legal_text = body(mails["legal@agency.example"], "plain")
    worst, better = sorted(("harbor-dental", "keystone-legal"), key=lambda n: [c["name"] for c in summary["clients"]]
                           .index(n))
    assert legal_text.index(f"== {worst}") < legal_text.index(f"== {better}")  # worst first, as the summary ranks
    assert "keystone-legal" not in body(mails["dental@client.example"], "plain")
    # a first run has nothing to compare with
    assert "first audit" in body(mails["nw-owner@client.example"], "plain").lower()


def test_second_run_after_a_fixture_changed_reports_exactly_the_new_finding(tmp_path):
    fx = fixtures_copy(tmp_path)
    with smtp_server() as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port)
        assert audit("run", "--config", str(cfg), "--offline", str(fx), "-q", cwd=tmp_path).returncode == 1
        first = len(sink.messages)
        add_weak_key_event(fx / "northwind-outfitters")
        p = audit("run", "--config", str(cfg), "--offline", str(fx), "--email-on", "change", cwd=tmp_path)
        assert p.returncode == 1, p.stderr
        second = sink.messages[first:]
    out = tmp_path / "out"
    rows = {c["name"]: c for c in json.loads((out / "summary.json").read_text())["clients"]}
    assert {n: (r["new"], r["resolved"]) for n, r in rows.items()} == {
        n: (1 if n == "northwind-outfitters" else 0, 0) for n in CLIENTS}
    nw = rows["northwind-outfitters"]
    assert nw["delta"] < 0 and nw["trend"][-1] == nw["score"] and len(nw["trend"]) == 2
    changes = json.loads((out / "clients/northwind-outfitters.json").read_text())["clients"][0]["changes"]
    (new,) = changes["new"]
    assert new["rule"] == "overflagged-key-events" and "scroll" in new["message"]
    assert changes["resolved"] == [] and changes["previous"]["score"] == 100
    assert "audit: [1/5] northwind-outfitters: " in p.stderr and ", 1 new, 0 resolved" in p.stderr
    # every rendering shows the change
    assert "1 new, 0 resolved" in (out / "clients/northwind-outfitters.html").read_text()
    csv_rows = list(csv.DictReader(io.StringIO((out / "clients/northwind-outfitters.csv").read_text())))
    assert sum(1 for r in csv_rows if r["change"] == "new" and r["record"] == "finding") == 1
    # --email-on change: the summary and only the owner of the changed client
    mails = {",".join(to): m for _, to, m in second}
    assert sorted(mails) == sorted([LEAD, "nw-owner@client.example"])
    text = body(mails["nw-owner@client.example"], "plain")
    head = text.split("\n\n")[1].splitlines()  # three lines first
    assert head[0].startswith(f"northwind-outfitters: score {nw['score']}/100") and "since " in head[0]
    assert head[1] == f"Got worse: score \u2212{-nw['delta']} (100 \u2192 {nw['score']}) and 1 new finding (1 high)."
    assert head[2].startswith("Fix first: overflagged-key-events (+")
    assert "What got worse since " in text and text.count(new["message"]) == 1  # listed once
    assert "Score trend, oldest first: 100 (" in text and f"\u2192 {nw['score']} (" in text  # the trend, dated
    html = body(mails["nw-owner@client.example"], "html")
    assert "What got worse since" in html and html.count(htmlmod.escape(new["message"], quote=False)) == 1
    assert "1 new finding(s)" in mails["nw-owner@client.example"]["Subject"]
    lead = body(mails[LEAD], "plain").split("\n\n")[1].splitlines()
    assert lead[1] == (f"Got worse: northwind-outfitters (score \u2212{-nw['delta']}, 1 new finding); "
                       "1 new finding(s) in all.")
    # audit diff reads the same from the history
    d = audit("diff", "--config", str(tmp_path / "agency.yaml"), cwd=tmp_path)
    assert d.returncode == 0, d.stderr
    added = [x for x in d.stdout.splitlines() if x.strip().startswith("+ new")]
    assert len(added) == 1 and "overflagged-key-events" in added[0]
    # a third, unchanged run with --email-on change sends nothing
    with smtp_server() as (ctl2, sink2):
        write_config(tmp_path, ctl2.port)
        p = audit("run", "--config", str(cfg), "--offline", str(fx), "--email-on", "change", cwd=tmp_path)
    assert p.returncode == 1 and sink2.messages == [] and "nothing to send" in p.stderr


def test_smtp_down_leaves_every_report_on_disk_and_exits_4(tmp_path):
    fx = fixtures_copy(tmp_path)
    (fx / "broken-client").mkdir()  # and one client that cannot be audited: 4 still wins over 3
    cfg = write_config(tmp_path, free_port(), clients={**OWNERS, "broken-client": ["x@agency.example"]})
    p = audit("run", "--config", str(cfg), "--offline", str(fx), cwd=tmp_path)
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr
    (err,) = [x for x in p.stderr.splitlines() if "email:" in x]
    assert err.startswith("audit: error: email: cannot connect to 127.0.0.1:") and "not sent" in err
    assert "@" not in p.stderr
    out = tmp_path / "out"
    assert len(list((out / "clients").glob("*.json"))) == 6 and (out / "summary.json").is_file()
    assert (out / "history.sqlite").is_file()
    # without e-mail the same run exits 3 (a client could not be audited)
    assert audit("run", "--config", str(cfg), "--offline", str(fx), "--no-email", cwd=tmp_path).returncode == 3


class SlowSink(SmtpSink):
    """Holds the first message until released: the run holding the lock is provably still running."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_two_runs_at_once_do_not_both_audit(tmp_path):
    fx = fixtures_copy(tmp_path)
    with smtp_server(SlowSink()) as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port, clients={"harbor-dental": ["dental@client.example"]})
        first = subprocess.Popen([sys.executable, "-m", "auditor", "run", "--config", str(cfg), "--offline", str(fx),
                                  "-q"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert sink.entered.wait(60), "the first run never reached the SMTP server"
            t0 = time.monotonic()
            second = audit("run", "--config", str(cfg), "--offline", str(fx), cwd=tmp_path)
            assert second.returncode == 5, second.stderr
            assert "another run holds" in second.stderr and "did nothing" in second.stderr
            assert time.monotonic() - t0 < 30
        finally:
            sink.release.set()
            _, err = first.communicate(timeout=60)
    assert first.returncode == 1, err
    import sqlite3

    with sqlite3.connect(tmp_path / "out/history.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert len(sink.messages) == 2  # the first run's summary and owner e-mail; nothing from the second


def test_shards_split_deterministically_and_merge_sends_one_summary(tmp_path):
    fx = fixtures_copy(tmp_path)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)
    assert [shard_index(n, 2) for n in CLIENTS] == [shard_index(n, 2) for n in CLIENTS]
    with smtp_server() as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port)
        for k in (1, 2):  # separate output folders, as separate machines would have
            p = audit("run", "--config", str(cfg), "--offline", str(fx), "--shard", f"{k}/2", "-o",
                      str(tmp_path / f"shard{k}"), cwd=tmp_path)
            assert p.returncode in (0, 1), p.stderr
            assert f"shard {k}/2" in p.stderr
        assert sink.messages == []  # shards never e-mail
        audited = [{c["name"] for c in json.loads((tmp_path / f"shard{k}/shard-{k}-of-2.json").read_text())["clients"]}
                   for k in (1, 2)]
        assert not (audited[0] & audited[1]) and audited[0] | audited[1] == set(CLIENTS)
        assert audited[0] == {n for n in CLIENTS if shard_index(n, 2) == 1}
        missing = audit("merge", "--config", str(cfg), str(tmp_path / "shard1"), cwd=tmp_path)
        assert missing.returncode == 2 and "shard 2/2 missing" in missing.stderr
        p = audit("merge", "--config", str(cfg), str(tmp_path / "shard1"), str(tmp_path / "shard2"), cwd=tmp_path)
        assert p.returncode == 1, p.stderr
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert [c["name"] for c in summary["clients"]] == [c["name"] for c in sorted(
        summary["clients"], key=lambda c: (c["score"], c["delta"] or 0, c["name"]))]
    assert {c["name"] for c in summary["clients"]} == set(CLIENTS)
    assert all((tmp_path / "out" / c["json"]).is_file() for c in summary["clients"])
    mails = by_recipient(sink)
    assert sorted(mails) == sorted([LEAD, *{a for r in OWNERS.values() for a in r}])
    assert "harbor-dental" in body(mails["legal@agency.example"], "plain")
    # a shard left over from an earlier run (its rerun failed) is never merged silently
    stale = tmp_path / "shard2/shard-2-of-2.json"
    stale.write_text(stale.read_text().replace(summary["generated_at"][:4], "2000", 1))
    p = audit("merge", "--config", str(cfg), str(tmp_path / "shard1"), str(tmp_path / "shard2"), "--no-email",
              cwd=tmp_path)
    assert p.returncode == 2 and "shard 2/2 is from 2000-" in p.stderr and "rerun it" in p.stderr


# -- configuration and edges -------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, expected", [
    ("email:\n  host: h\n  sender: a@b.example\n  security: tls\n",
     "line 10, column 3: email.security: Input should be 'starttls', 'ssl' or 'none'"),
    ("email:\n  host: h\n  sender: a@b.example\n  password: hunter2\n",
     "line 10, column 3: email.password: unknown key (did you mean 'password_env'?)"),
    ("history:\n  keep_runs: 0\n", "line 8, column 3: history.keep_runs: Input should be greater than or equal to 1"),
    ("defaults:\n  fail_on: hgh\n", "line 8, column 3: defaults.fail_on: Input should be"),
])
def test_config_errors_name_file_line_and_key(tmp_path, extra, expected):
    cfg = write_config(tmp_path, None, clients={"a-client": ["o@agency.example"]}, extra=extra)
    p = audit("run", "--config", str(cfg), "--offline", str(ROOT / "fixtures"), cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith(f"audit: error: {cfg}: {expected}"), p.stderr
    assert "hunter2" not in p.stderr and not (tmp_path / "out").exists()


def test_missing_password_variable_fails_before_auditing(tmp_path):
    cfg = write_config(tmp_path, 25, email="  username: robot\n  password_env: AUDITOR_TEST_NO_SUCH_VAR\n")
    p = audit("run", "--config", str(cfg), "--offline", str(ROOT / "fixtures"), cwd=tmp_path)
    assert p.returncode == 2 and "AUDITOR_TEST_NO_SUCH_VAR is not set" in p.stderr
    assert "line 23, column 3: email.password_env" in p.stderr
    assert not (tmp_path / "out").exists()


def test_yaml_on_key_means_when(tmp_path):
    from auditor.config import load_config

    cfg = write_config(tmp_path, 25, email="  on: failure\n")
    assert load_config(cfg)[0].email.when == "failure"


def test_config_clients_map_to_folders_and_unlisted_folders_are_skipped(tmp_path):
    cfg = write_config(tmp_path, None, clients={"harbor-dental": [], "gone-client": []})
    p = audit("run", "--config", str(cfg), "--offline", str(ROOT / "fixtures"), cwd=tmp_path)
    assert p.returncode == 3, p.stderr  # gone-client has no folder: not audited
    assert f"{SAMPLES - 1} client folder(s)" in p.stderr and "skipped" in p.stderr
    rows = {c["name"]: c for c in json.loads((tmp_path / "out/summary.json").read_text())["clients"]}
    assert set(rows) == {"harbor-dental", "gone-client"} and rows["gone-client"]["status"] == "error"
    assert list(rows)[0] == "gone-client"  # not audited ranks first
    # no clients in the config: every folder of DIR, plain log lines when stderr is not a terminal
    p = audit("run", "--offline", str(ROOT / "fixtures"), "-o", str(tmp_path / "all"), "--no-history", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.count("audit: [") == SAMPLES and "\r" not in p.stderr


def test_a_crash_never_leaves_half_a_report(tmp_path, monkeypatch):
    from auditor.outputs.formats.html import HtmlFormat

    fx = fixtures_copy(tmp_path)
    st = load_settings(None, offline=fx, output=str(tmp_path / "out"), no_history=True)
    assert agency_run(st, Log(quiet=True)) == 1
    before = (tmp_path / "out/clients/harbor-dental.html").read_text()
    calls = {"n": 0}
    original = HtmlFormat.client

    def crash_on_third(self, r):
        calls["n"] += 1
        if calls["n"] == 3:
            self.out.write("<section>half")
            raise RuntimeError("disk on fire")
        return original(self, r)

    monkeypatch.setattr(HtmlFormat, "client", crash_on_third)
    # the crash costs the third client only (it used to stop the run): errored, exit 3, the others written
    assert agency_run(st, Log(quiet=True)) == 3
    after = (tmp_path / "out/clients/harbor-dental.html").read_text()
    assert "<section>half" not in after and after != before  # never half a report: the error report instead
    assert "disk on fire" in after and after.rstrip().endswith("</html>")
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_run_takes_the_options_every_auditing_command_shares(tmp_path):
    """Config discovery, --select/--ignore, --fail-on and -q/-v come from auditor.commands.common, as for `audit`."""
    fx = fixtures_copy(tmp_path)
    (tmp_path / ".auditor.yaml").write_text("output:\n  dir: found\n  formats: [json]\nhistory:\n  enabled: false\n",
                                            encoding="utf-8")
    p = audit("run", "--offline", str(fx), "--select", "bidding", "--ignore", "low-bidding-volume", "-v",
              cwd=tmp_path)
    assert p.returncode in (0, 1), p.stderr
    assert p.stderr.startswith(f"audit: config: {tmp_path / '.auditor.yaml'} (found in the working directory)")
    doc = json.loads((tmp_path / "found/clients/harbor-dental.json").read_text())["clients"][0]
    from auditor.ruleset import Ruleset

    rules = Ruleset.load().rules
    ran = {r["id"] for r in doc["rules"]}
    assert ran and all(rules[r].category == "bidding" for r in ran) and "low-bidding-volume" not in ran
    p = audit("--select", "naming", "run", "--offline", str(fx), "--fail-on", "never", "-q", cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == ""  # options given before `run` count too
    doc = json.loads((tmp_path / "found/clients/harbor-dental.json").read_text())["clients"][0]
    assert {rules[r["id"]].category for r in doc["rules"]} == {"naming"}
    p = audit("run", "--offline", str(fx), "-q", "-v", cwd=tmp_path)
    assert p.returncode == 2 and "--quiet and --verbose cannot be combined" in p.stderr
    p = audit("run", "--offline", str(fx), "--select", "no-such-rule", cwd=tmp_path)
    assert p.returncode == 2 and "--select: unknown rule or category 'no-such-rule'" in p.stderr


def test_offline_run_never_imports_google_libraries(tmp_path):
    code = ("import sys\nfrom auditor.cli import main\n"
            f"try:\n    main(['run', '--offline', {str(ROOT / 'fixtures')!r}, '-o', {str(tmp_path / 'o')!r}, '-q'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('google', 'grpc'))))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.stdout.strip() == "[]", p.stdout + p.stderr


# -- the HTML as a browser renders it ------------------------------------------------------------------------------

class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def rendered(dom: str) -> tuple[str, set[str]]:
    t = _Text()
    t.feed(dom)
    return " ".join(" ".join(t.parts).split()), t.tags


def test_reports_render_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    fx = fixtures_copy(tmp_path)
    ke = fx / "northwind-outfitters/ga4/key_events.json"  # an API-sourced event name that is an attack
    data = json.loads(ke.read_text())
    data["keyEvents"].append({"name": "properties/318406725/keyEvents/99", "eventName": XSS,
                              "createTime": "2024-01-01T00:00:00.000Z", "deletable": True, "custom": True,
                              "countingMethod": "ONCE_PER_EVENT"})
    ke.write_text(json.dumps(data))
    with smtp_server() as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port)
        p = audit("run", "--config", str(cfg), "--offline", str(fx), "-q", cwd=tmp_path)
        assert p.returncode == 1, p.stderr
    out = tmp_path / "out"
    owner_html = out / "owner-email.html"
    owner_html.write_text(body(by_recipient(sink)["nw-owner@client.example"], "html"), encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text())
    nw = json.loads((out / "clients/northwind-outfitters.json").read_text())["clients"][0]
    assert any(XSS in f["message"] for f in nw["findings"]), "no rule reported the hostile event name"

    def dump(page: Path) -> str:
        profile = tmp_path / f"chrome-{page.stem}"
        r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
                           capture_output=True, text=True, timeout=90)
        assert r.returncode == 0 and "<body" in r.stdout, r.stderr[-2000:]
        return r.stdout

    from auditor.outputs.wording import client_text
    from auditor.result import Subject

    for page in (out / "clients/northwind-outfitters.html", owner_html, out / "summary.html"):
        text, tags = rendered(dump(page))
        assert "script" not in tags, page  # the event name stayed text
        if page.name != "summary.html":
            assert XSS in text, page
            assert str(nw["score"]) in text
            for f in nw["findings"]:
                if not f["suppressed"]:
                    message = client_text(f["message"], [Subject.from_json(x) for x in f["subjects"]])  # its words
                    assert " ".join(message.split()) in text, (page, message)
        else:
            for row in summary["clients"]:
                assert htmlmod.unescape(row["name"]) in text and str(row["score"]) in text


def test_progress_bar_on_a_terminal(tmp_path):

    code, out = run_on_terminal([sys.executable, "-m", "auditor", "run", "--offline", str(ROOT / "fixtures"), "-o",
                                 str(tmp_path / "o"), "--no-history"], stdout_too=False, cwd=tmp_path,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"})
    assert code == 1
    screen = out.decode("utf-8", "replace")
    assert "auditing" in screen and f"{SAMPLES}/{SAMPLES}" in screen  # the bar, with its position
    assert f"audit: [1/{SAMPLES}]" not in screen  # no per-client lines on a terminal
    assert f"{SAMPLES} client(s) audited" in screen  # the closing line is still printed


def test_offline_run_of_a_partial_recording_reports_it_incomplete(tmp_path):

    root = tmp_path / "rec"
    shutil.copytree(ROOT / "fixtures" / "northwind-outfitters", root / "northwind-outfitters")
    (root / "manifest.json").write_text(json.dumps({"clients": [{"name": "northwind-outfitters", "missing": {
        "ga4/data_retention.json": "permission denied"}}]}), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "auditor", "run", "--offline", str(root), "-o", str(tmp_path / "out"),
                        "--no-history", "--no-email"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 3, p.stderr
    (result,) = json.loads((tmp_path / "out/clients/northwind-outfitters.json").read_text())["clients"]
    assert result["status"] == "incomplete"
    assert any("data_retention.json" in e for e in result["errors"])


# -- nothing one client does stops the run; a run that cannot finish never claims it did ---------------------------

def many_clients(tmp_path: Path, n: int) -> Path:
    fx = tmp_path / "many"
    for i in range(n):
        shutil.copytree(ROOT / "fixtures" / "northwind-outfitters", fx / f"client-{i:03d}")
    return fx


def runs_of(db: Path) -> list[tuple[int, str, str | None]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status, finished_at FROM runs ORDER BY id").fetchall()


def test_a_killed_run_is_cleaned_up_and_never_a_baseline(tmp_path):
    import signal

    n = 30
    fx = many_clients(tmp_path, n)
    cfg = tmp_path / "agency.yaml"
    cfg.write_text("output:\n  dir: out\n  formats: [json, html]\n", encoding="utf-8")
    out, db = tmp_path / "out", tmp_path / "out/history.sqlite"
    p = audit("run", "--config", str(cfg), "--offline", str(fx), "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr  # a healthy shop, 30 times
    # run 2: client-000 gained a finding; the run is killed while it writes client-012's HTML
    add_weak_key_event(fx / "client-000")
    signal_file = tmp_path / "writing"
    hook = (
        "import sys, time\nfrom auditor.outputs.formats.html import HtmlFormat\norig = HtmlFormat.client\n"
        "def slow(self, r):\n"
        "    if r.name == 'client-012':\n"
        "        out = getattr(self.out, 'target', self.out)  # past the document writer's staging: on disk\n"
        "        out.write('<section>half'); out.flush()\n"
        f"        open({str(signal_file)!r}, 'w').close()\n"
        "        time.sleep(120)\n"
        "    return orig(self, r)\n"
        "HtmlFormat.client = slow\n"
        "from auditor.cli import main\n"
        "main(sys.argv[1:])\n")
    victim = subprocess.Popen([sys.executable, "-c", hook, "run", "--config", str(cfg), "--offline", str(fx), "-q"],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not signal_file.exists():
            assert victim.poll() is None and time.monotonic() < deadline, "the run never reached client-012"
            time.sleep(0.05)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    (left,) = [f for f in (out / "clients").iterdir() if f.name.endswith(".tmp")]
    assert left.name.startswith(".client-012.html.audit-") and "<section>half" in left.read_text()
    assert [s for _, s, _ in runs_of(db)] == ["complete", "running"]
    # a week later (a leftover this old is nobody's: the grace period protects a writer on another host)
    old = time.time() - 7 * 24 * 3600
    os.utime(left, (old, old))
    p = audit("run", "--config", str(cfg), "--offline", str(fx), cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert f"removed 1 temporary file(s) that an interrupted run left in {out / 'clients'}" in p.stderr
    assert "1 earlier run(s) did not finish (killed or interrupted); marked aborted" in p.stderr
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))
    assert [(i, s, f is not None) for i, s, f in runs_of(db)] == [(1, "complete", True),
                                                                  (2, "aborted", False), (3, "complete", True)]
    # run 3 compares with run 1, not with the half run 2 (which already saw client-000's new finding)
    rows = {c["name"]: c for c in json.loads((out / "summary.json").read_text())["clients"]}
    assert rows["client-000"]["new"] == 1 and rows["client-000"]["delta"] < 0
    assert all(len(r["trend"]) == 2 for r in rows.values())  # runs 1 and 3: the aborted run is no trend point
    d = audit("diff", "--config", str(cfg), "--client", "client-000", cwd=tmp_path)
    assert d.returncode == 0 and "1 new" in d.stdout and "aborted" not in d.stderr, d.stderr
    d = audit("diff", "--config", str(cfg), "--run", "2", "--client", "client-000", cwd=tmp_path)
    assert d.returncode == 0 and "run 2 is aborted: it did not finish" in d.stderr
    # keep_runs counts complete runs only, and the aborted run goes first
    cfg.write_text("output:\n  dir: out\n  formats: [json, html]\nhistory:\n  keep_runs: 3\n", encoding="utf-8")
    assert audit("run", "--config", str(cfg), "--offline", str(fx), "-q", cwd=tmp_path).returncode == 1
    assert [(i, s) for i, s, _ in runs_of(db)] == [(1, "complete"), (3, "complete"), (4, "complete")]


def _unprivileged() -> list[str]:
    """A prefix that runs a command without root's power to write anywhere: none when not root."""
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if not unshare or subprocess.run([unshare, "--user", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without user namespaces: a read-only folder cannot be made")
    return [unshare, "--user"]


@pytest.mark.parametrize("readonly", ["out", "out/clients"])
def test_a_read_only_output_folder_is_one_line_naming_it(readonly):
    import tempfile

    prefix = _unprivileged()
    base = Path(tempfile.mkdtemp(prefix="auditor-ro-"))
    try:
        base.chmod(0o755)
        shutil.copytree(ROOT / "fixtures" / "harbor-dental", base / "fx" / "harbor-dental")
        (base / "out" / "clients").mkdir(parents=True)
        (base / readonly).chmod(0o555)
        p = subprocess.run([*prefix, sys.executable, "-m", "auditor", "run", "--offline", str(base / "fx"), "-o",
                            str(base / "out")], capture_output=True, text=True, cwd=base, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert p.returncode == 2, p.stderr
        (line,) = p.stderr.splitlines()
        assert line.startswith(f"audit: error: {base / readonly}: cannot write the output folder")
        assert "Permission denied" in line and "nothing was audited" in line and "internal error" not in line
        assert not (base / "out" / "summary.json").exists()
    finally:
        for d in (base / "out", base / "out" / "clients"):
            d.chmod(0o755)
        shutil.rmtree(base)


def test_a_client_name_too_long_for_a_file_name_gets_a_safe_one(tmp_path, monkeypatch, capsys):
    from auditor.agency import client as agency_client
    from auditor.files import file_stem

    fx = tmp_path / "fx"
    long_name = "a-very-long-client-name-" + "x" * 230  # 254 bytes: a fine folder name, too long with ".json"
    for name in ("harbor-dental", long_name, "keystone-legal"):
        shutil.copytree(ROOT / "fixtures" / "harbor-dental", fx / name)
    st = load_settings(None, offline=fx, output=str(tmp_path / "out"), no_history=True)
    assert agency_run(st, Log()) == 1  # all three audited
    rows = {c["name"]: c for c in json.loads((tmp_path / "out/summary.json").read_text())["clients"]}
    stem = file_stem(long_name)
    assert rows[long_name]["json"] == f"clients/{stem}.json" and rows[long_name]["status"] == "ok"
    assert stem.startswith("a-very-long-client-name-xxx") and len(stem.encode()) == 64 + 11
    assert json.loads((tmp_path / "out" / rows[long_name]["json"]).read_text())["clients"][0]["name"] == long_name
    # and were a file name still refused (ENAMETOOLONG), it costs that client only
    monkeypatch.setattr(agency_client, "file_stem", lambda name, taken=None: name)
    capsys.readouterr()
    assert agency_run(st, Log()) == 3
    err = capsys.readouterr().err
    rows = {c["name"]: c for c in json.loads((tmp_path / "out/summary.json").read_text())["clients"]}
    assert rows[long_name]["status"] == "error" and rows[long_name]["json"] is None
    assert rows["harbor-dental"]["status"] == rows["keystone-legal"]["status"] == "ok"
    (line,) = [x for x in err.splitlines() if x.startswith("audit: error:")]
    assert line.startswith(f"audit: error: client {long_name}: {tmp_path / 'out/clients' / long_name}.json: "
                           "cannot write the report: File name too long")
    assert "Traceback" not in err and "internal error" not in err


def test_a_client_whose_rendering_raises_costs_that_client_only(tmp_path, monkeypatch, capsys):
    from auditor.outputs.formats.csv import CsvFormat

    fx = fixtures_copy(tmp_path)
    original = CsvFormat.client

    def crash(self, r):
        if r.name == "harbor-dental" and r.status == "ok":
            raise ZeroDivisionError("renderer bug")
        return original(self, r)

    monkeypatch.setattr(CsvFormat, "client", crash)
    st = load_settings(None, offline=fx, output=str(tmp_path / "out"))
    st.formats = ["json", "csv", "html"]
    assert agency_run(st, Log()) == 3
    err = capsys.readouterr().err
    rows = {c["name"]: c for c in json.loads((tmp_path / "out/summary.json").read_text())["clients"]}
    assert len(rows) == SAMPLES and [n for n, r in rows.items() if r["status"] != "ok"] == ["harbor-dental"]
    assert list(rows)[0] == "harbor-dental"  # errored: ranked first
    (line,) = [x for x in err.splitlines() if x.startswith("audit: error:")]
    assert line == (f"audit: error: client harbor-dental: {tmp_path / 'out/clients/harbor-dental.csv'}: "
                    "cannot write the report: ZeroDivisionError: renderer bug")
    saved = json.loads((tmp_path / "out/clients/harbor-dental.json").read_text())["clients"][0]
    assert saved["status"] == "error" and "renderer bug" in saved["errors"][-1]
    assert "renderer bug" in (tmp_path / "out/clients/harbor-dental.csv").read_text()  # the error report
    from auditor.history import History

    with History.open(tmp_path / "out/history.sqlite") as h:
        (run,) = h.runs()
        assert run.status == "complete"
        (stored,) = h.results(run.id, ["harbor-dental"])
        assert stored.status == "error"  # as reported, so next week's diff compares with what owners saw


def test_control_characters_in_a_client_name_stay_on_one_log_line(tmp_path):
    fx = tmp_path / "fx"
    evil = "evil\r\naudit: [9 of 9] forged-client: 100 of 100 A\x1b[2J\x1b]0;pwned\x07\u202e"
    shutil.copytree(ROOT / "fixtures" / "harbor-dental", fx / evil)
    (fx / f"{evil}-empty").mkdir()  # an errored client: its error line names it too
    shutil.copytree(ROOT / "fixtures" / "keystone-legal", fx / "keystone-legal")
    p = audit("run", "--offline", str(fx), "-o", str(tmp_path / "out"), "--no-history", cwd=tmp_path)
    assert p.returncode == 3, p.stderr
    lines = p.stderr.splitlines()
    assert not any(c in p.stderr for c in "\r\x1b\x07\u202e")
    assert all(x.startswith("audit: ") for x in lines), lines
    assert [x for x in lines if "forged-client" in x and "[9 of 9]" in x and x.startswith("audit: [")] \
        and sum(1 for x in lines if x.startswith("audit: [")) == 3
    assert not any(x.startswith("audit: [9 of 9]") for x in lines)
    assert sum(1 for x in lines if x.startswith("audit: error: client evil??audit: ")) == 1
    names = {c["name"] for c in json.loads((tmp_path / "out/summary.json").read_text())["clients"]}
    assert names == {evil, f"{evil}-empty", "keystone-legal"}  # the reports keep the name as it is
    assert all("\n" not in f.name and "\x1b" not in f.name for f in (tmp_path / "out/clients").iterdir())


class _Agency:
    """The agency run's entry points, as the tests below call them."""

    run = staticmethod(agency_run)
    Log = Log


def _history_run(tmp_path: Path) -> Any:
    fx = fixtures_copy(tmp_path)
    return _Agency, load_settings(None, offline=fx, output=str(tmp_path / "out"))


def test_a_history_that_fails_mid_run_stops_the_run_in_one_line(tmp_path, monkeypatch, capsys):
    from auditor.history import History, HistoryError

    agency, st = _history_run(tmp_path)
    calls = {"n": 0}
    original = History.record

    def full_disk(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise HistoryError(f"{self.path}: history database: database or disk is full")
        return original(self, *a, **kw)

    monkeypatch.setattr(History, "record", full_disk)
    assert agency.run(st, agency.Log(quiet=True)) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"audit: error: {tmp_path / 'out/history.sqlite'}: history database: database or "
                           "disk is full; the run stopped after 2 of ")
    assert "not marked complete in the history" in line and line.endswith("(exit 3)")
    assert not (tmp_path / "out/summary.json").exists()
    assert runs_of(tmp_path / "out/history.sqlite") == [(1, "failed", None)]


def disk_full_at(monkeypatch, file_name: str) -> None:
    """From now on, writing a file named `file_name` fails as on a full disk (ENOSPC)."""
    import errno

    from auditor import files

    original = files.atomic_writer

    def enospc(path, **kw):
        if Path(path).name == file_name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, **kw)

    monkeypatch.setattr(files, "atomic_writer", enospc)


def test_a_full_disk_while_writing_the_summary_stops_the_run_unfinished(tmp_path, monkeypatch, capsys):
    agency, st = _history_run(tmp_path)
    assert agency.run(st, agency.Log(quiet=True)) == 1
    before = (tmp_path / "out/summary.csv").read_text()
    disk_full_at(monkeypatch, "summary.csv")
    assert agency.run(st, agency.Log(quiet=True)) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"audit: error: {tmp_path / 'out/summary.csv'}: cannot write the summary: No space "
                           f"left on device; the run stopped after {SAMPLES} of {SAMPLES} client(s)")
    assert (tmp_path / "out/summary.csv").read_text() == before
    assert [s for _, s, _ in runs_of(tmp_path / "out/history.sqlite")] == ["complete", "failed"]


def test_a_full_disk_while_writing_a_client_stops_the_run(tmp_path, monkeypatch, capsys):
    agency, st = _history_run(tmp_path)
    disk_full_at(monkeypatch, "fieldnotes-media.html")
    assert agency.run(st, agency.Log(quiet=True)) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"audit: error: {tmp_path / 'out/clients/fieldnotes-media.html'}: cannot write the "
                           "report of client fieldnotes-media: No space left on device; the run stopped after 1 of ")
    assert runs_of(tmp_path / "out/history.sqlite") == [(1, "failed", None)]
    assert not (tmp_path / "out/summary.json").exists()


class StubSession:
    """A live session that fetches nothing itself (auditor.live.iter_fetched is replaced)."""

    planner = None
    closed = False

    def prepare(self, specs):
        self.specs = list(specs)

    def close(self):
        self.closed = True


def test_a_live_connector_that_raises_costs_the_clients_it_did_not_deliver(monkeypatch):
    from auditor import live

    def broken(specs, jobs, session):
        yield live.Fetched(live.Target("one"), "one", None, ["GA4 property 1: permission denied"])
        raise RuntimeError("socket exploded")

    monkeypatch.setattr(live, "iter_fetched", broken)
    st = load_settings(None, output="unused", no_history=True)
    st.live = StubSession()
    targets = [Target(n, spec=live.Target(n)) for n in ("one", "two", "three")]
    got = [(t.name, r) for t, r, _ in iter_results(st, targets)]
    assert [n for n, _ in got] == ["one", "two", "three"] and st.live.closed
    assert got[0][1].errors == ["GA4 property 1: permission denied"]
    assert got[1][1].status == "error"
    assert got[1][1].errors == ["cannot audit: live: RuntimeError: socket exploded"]
    assert "stopped at an earlier client" in got[2][1].errors[0]


def test_a_run_that_cannot_mark_itself_complete_says_so_and_sends_nothing(tmp_path, monkeypatch, capsys):
    from auditor.history import History, HistoryError

    fx = fixtures_copy(tmp_path)
    with smtp_server() as (ctl, sink):
        cfg = write_config(tmp_path, ctl.port)

        def broken(self, *a, **kw):
            raise HistoryError(f"{self.path}: history database: disk I/O error")

        monkeypatch.setattr(History, "finish_run", broken)
        st = load_settings(str(cfg), offline=fx)
        assert agency_run(st, Log(quiet=True)) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"audit: error: {tmp_path / 'out/history.sqlite'}: history database: disk I/O error; "
                           "every report and the summary are on disk, but nothing sent, not marked complete")
    assert (tmp_path / "out/summary.json").is_file() and sink.messages == []
    assert runs_of(tmp_path / "out/history.sqlite") == [(1, "failed", None)]
