"""E-mail reports: message structure, escaping, and delivery to a real SMTP server (aiosmtpd) on loopback,
plain, STARTTLS with a private CA (trustme) and login, and implicit TLS."""

from __future__ import annotations

import contextlib
import copy
import email
import json
import socket
import ssl
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
from auditor.config import EmailSettings
from auditor.diff import compute_changes
from auditor.errors import ConfigError
from auditor.outputs.channels.email import (
    DeliveryError,
    Mailer,
    build_message,
    redact,
    result_attachments,
    smtp_password,
)
from auditor.outputs.formats.email_owner import owner_subject, render_owner
from auditor.outputs.formats.email_summary import email_view, render_summary
from auditor.outputs.formats.summary_base import SummaryView
from auditor.result import ClientResult, Finding, Header, RuleResult, TrendPoint

XSS = "<script>alert(1)</script>"


# -- a real SMTP server on loopback -----------------------------------------------------------------------------

class SmtpSink:
    """aiosmtpd handler keeping every message: (envelope sender, recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server(handler: Any = None, **kwargs: Any) -> Iterator[tuple[Controller, Any]]:
    handler = handler or SmtpSink()
    ctl = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    ctl.start()
    try:
        yield ctl, handler
    finally:
        ctl.stop()


def settings(port: int, **kw: Any) -> EmailSettings:
    base = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "robot@agency.example",
            "summary_to": ["lead@agency.example"], "timeout": 5}
    return EmailSettings(**{**base, **kw})


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return ca, pem, server_ctx


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = auth_data.login == b"robot" and auth_data.password == b"s3cret-pass"
    if ok:
        server.event_handler.logins.append(auth_data.login.decode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


# -- results to render ------------------------------------------------------------------------------------------

def finding(message: str = "key event 'x' is a weak micro", rule: str = "overflagged-key-events",
            severity: str = "high", resource: str = "properties/1/keyEvents/2", fix: str = "Unmark it.") -> Finding:
    return Finding(rule=rule, severity=severity, category="key-events", message=message, resources=(resource,),
                   remediation=fix, fingerprint=f"{rule}|{resource}"[-16:].rjust(16, "0"))


def result(name: str = "acme-shop", score: int = 55, message: str = "key event 'x' is a weak micro",
           findings: list[Finding] | None = None) -> ClientResult:
    from auditor.scoring import score_client

    found = [finding(message)] if findings is None else findings
    rules = [RuleResult(r, "key-events", "fail") for r in sorted({f.rule for f in found})]
    r = ClientResult(name=name, status="ok", profile="ecommerce", rules=rules, findings=found)
    r.rescore(score_client(rules, found))
    r.score, r.grade = score, "F" if score < 60 else "A"
    return r


HEADER = Header(version="test", generated_at="2025-01-13T07:00:00Z", formula="f", deductions={}, grades={})
TREND = [TrendPoint("2024-12-30", 80, "B"), TrendPoint("2025-01-06", 70, "C")]


def with_changes(r: ClientResult, previous: list[Finding] | None = None, score: int = 70) -> ClientResult:
    prev = copy.deepcopy(r)
    prev.findings = [] if previous is None else previous
    prev.score, prev.grade = score, "C"
    prev.generated_at = "2025-01-06T07:00:00Z"
    r.changes = compute_changes(r, prev, list(TREND), HEADER.generated_at)
    return r


def parts(msg: EmailMessage) -> dict[str, Any]:
    body = {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()
            and p.get_content_disposition() != "attachment"}
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    return {"text": body.get("text/plain"), "html": body.get("text/html"), "files": files}


def visible(html: str) -> str:
    """The text of an HTML body as a reader sees it (tags gone, entities decoded, spaces collapsed)."""
    import html as htmlmod
    import re

    return " ".join(htmlmod.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def summary_doc(rows: list[AgencyRow], history: bool = True) -> SummaryDocument:
    header = Header(version="test", generated_at="2025-01-13T07:00:00Z", formula="f", deductions={},
                    grades={"A": 90, "B": 80, "C": 70, "D": 60, "F": 0})
    return SummaryDocument(header, RunInfo(None, history, ["json"]), rows)


def row(name: str, score: int | None = 55, **kw: Any) -> AgencyRow:
    counts = {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}
    base = {"previous_score": None, "delta": None, "new": 0, "resolved": 0, "persisting": 0, "changed": True,
            "trend": [score], "suppressed": 0, "json": f"clients/{name}.json", "html": None}
    return AgencyRow(name, "ok" if score is not None else "error", score, None if score is None else "F", 100,
                     counts, 0, **{**base, **kw})


# -- rendering ---------------------------------------------------------------------------------------------------

def test_owner_message_has_both_parts_and_the_attachments():
    r = with_changes(result())
    text, html = render_owner([r], HEADER)
    msg = build_message("robot@agency.example", ["owner@client.example"], owner_subject(None, [r]), text, html,
                        result_attachments([r], HEADER, pdf=False))
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in parsed.iter_parts()][0] == "multipart/alternative"
    p = parts(parsed)
    # three lines first: the score, what got worse, what to fix first
    lines = p["text"].split("\n\n")[1].splitlines()
    assert lines == ["acme-shop: score 55/100 (F), \u221215 since 2025-01-06.",
                     "Got worse: score \u221215 (70 \u2192 55) and 1 new finding (1 high).",
                     "Fix first: overflagged-key-events (+15 points): Unmark it."]
    assert "Score 55/100" in p["text"]
    assert "What got worse since 2025-01-06:" in p["text"] and "What got worse since 2025-01-06" in p["html"]
    # the trend: every score of the last runs with its date, oldest first
    assert "Score trend, oldest first: 80 (30 Dec 2024) \u2192 70 (6 Jan) \u2192 55 (13 Jan)" in p["text"]
    assert "30 Dec 2024 6 Jan 13 Jan 80 70 55" in visible(p["html"])
    assert list(p["files"]) == ["acme-shop.html", "acme-shop.json", "acme-shop.csv"]  # what is forwarded first
    assert p["files"]["acme-shop.html"].startswith("<!DOCTYPE html>") and "acme-shop" in p["files"]["acme-shop.html"]
    assert b'"name": "acme-shop"' in p["files"]["acme-shop.json"]
    assert "client,profile,score" in p["files"]["acme-shop.csv"]
    assert parsed["Subject"] == "acme-shop: 55/100 (F), 1 new finding(s)"
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_each_finding_is_listed_once():
    old = finding("an old problem", rule="dead-key-event", severity="medium", resource="properties/1/keyEvents/9",
                  fix="Remove it.")
    new = finding("a new problem")
    r = with_changes(result(findings=[new, old]), previous=[old])
    text, html = render_owner([r], HEADER)
    for body in (text, visible(html)):
        assert body.count("a new problem") == 1 and body.count("an old problem") == 1
        assert body.count("Fix: Unmark it.") == 1 and body.count("Fix: Remove it.") == 1
    worse, still = text.split("What got worse")[1].split("Still open: 1")
    assert "a new problem" in worse and "an old problem" in still
    assert "Still open: 1" in visible(html)


def test_nothing_got_worse_means_no_worse_section():
    old = finding()
    r = with_changes(result(findings=[old]), previous=[old], score=55)
    text, html = render_owner([r], HEADER)
    assert "worse:" not in text.lower().replace("nothing got worse", "")
    assert "What got worse" not in text and "What got worse" not in html and '#b42318">What' not in html
    assert text.split("\n\n")[1].splitlines()[1] == "Nothing got worse since 2025-01-06."
    assert "Open findings: 1" in text and "key event 'x' is a weak micro" in text
    # a first audit: nothing to compare with, and no "worse" section either
    first = result()
    first.changes = compute_changes(first, None, [], HEADER.generated_at)
    text, html = render_owner([first], HEADER)
    assert "First audit: nothing to compare with yet." in text and "What got worse" not in text + html


def test_an_owner_of_several_clients_gets_one_attachment_pair_per_client():
    a = with_changes(result("acme-shop", 40))
    b = with_changes(result("Beta.Store", 70, "another problem"))
    c = result("beta.store", 90)  # differs from the one before only in case: still its own files
    files = dict(result_attachments([a, b, c], HEADER, pdf=False))
    assert list(files)[:6] == ["acme-shop.html", "acme-shop.json", "acme-shop.csv", "Beta.Store.html",
                               "Beta.Store.json", "Beta.Store.csv"]
    assert len(files) == 9 and len({n.casefold() for n in files}) == 9
    assert not any(n.startswith("audit-") for n in files)
    for name in ("acme-shop", "Beta.Store"):
        doc = json.loads(files[f"{name}.json"])
        assert [x["name"] for x in doc["clients"]] == [name]
    text, _ = render_owner([a, b], HEADER)
    head = text.split("\n\n")[1].splitlines()
    assert head[0] == ("2 clients: acme-shop 40/100 (F), \u221230 since 2025-01-06; Beta.Store 70/100 (A), "
                       "unchanged since 2025-01-06.")
    assert head[1].startswith("Got worse: acme-shop: score \u221230 (70 \u2192 40) and 1 new finding (1 high); "
                              "Beta.Store: 1 new finding (1 high).")
    assert head[2].startswith("Fix first: acme-shop: overflagged-key-events (+15 points)")


def test_html_is_mail_safe_no_scripts_no_style_blocks_table_charts():
    r = with_changes(result())
    _, html = render_owner([r], HEADER)
    low = html.lower()
    assert "<script" not in low and "<style" not in low and "<svg" not in low and "<img" not in low
    assert "bgcolor=" in low  # the trend cells are table cells (Outlook reads bgcolor)
    assert low.count('title="2024-12-30: 80"') == 1  # one cell per run
    assert "\u2581" not in html and "\u2588" not in html  # no block-character sparkline


def test_every_api_string_is_escaped():
    r = result(name="acme-shop", message=f"key event '{XSS}' \x1b[31mred")
    r.findings[0].resources = (f"properties/1/keyEvents/{XSS}",)
    r.findings[0].remediation = f"Rename {XSS}"
    r.errors = [f"ga4: {XSS}"]
    r.profile = XSS
    r = with_changes(r)
    text, html = render_owner([r], HEADER)
    s_text, s_html = render_summary(SummaryView(summary_doc([row(XSS)])))  # an offline folder name
    for h in (html, s_html):
        assert "<script" not in h.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "\x1b" not in text and XSS in text  # plain text: shown as is, control characters dropped
    assert "\x1b" not in s_text


def test_summary_email_three_lines_and_columns_that_say_what_they_mean():
    rows = [row("down", 40, previous_score=47, delta=-7, new=2, trend=[60, 47, 40], changed=True),
            row("up", 75, previous_score=70, delta=5, resolved=1, trend=[70, 75]),
            row("fresh", 88)]
    view = SummaryView(summary_doc(rows), top_fix="down: dead-key-event (+7 points): Remove it.")
    text, html = render_summary(email_view(view))
    head = text.split("\n\n")[1].splitlines()
    assert head == ["3 clients, average score 67.7.",
                    "Got worse: down (score \u22127, 2 new findings); 2 new finding(s) in all.",
                    "Fix first: down: dead-key-event (+7 points): Remove it."]
    seen = visible(html)
    assert all(line in seen for line in head)
    assert "Score change" in seen and "New findings" in seen and "Resolved" in seen
    assert ">Change<" not in html and "Change " not in seen.replace("Score change", "")
    # the score change as a reader says it: −7, +5, first run (and no "new" in a change column)
    cells = {r.name: view.score_change(r) for r in rows}
    assert cells == {"down": "\u22127", "up": "+5", "fresh": "first run"}
    assert "\u22127" in seen and "+5" in seen and "first run" in seen
    # the last scores as labelled cells, not block characters
    assert "60 47 40" in seen and 'title="run 1 of 3: 60"' in html and 'title="latest run: 40"' in html
    down = next(x for x in text.splitlines() if x.strip().startswith("1  down"))
    assert "\u22127" in down and down.rstrip().endswith("60 47 40")
    # nothing worse: said so, never a red "worse" heading
    calm = SummaryView(summary_doc([row("up", 75, previous_score=70, delta=5, resolved=1, trend=[70, 75])]))
    text, html = render_summary(email_view(calm))
    assert text.split("\n\n")[1].splitlines()[1] == ("Nothing got worse since the last run; 1 client(s) better, "
                                                     "1 finding(s) resolved.")
    assert "Got worse" not in text + html


def test_summary_email_body_is_capped_and_says_so():
    rows = [row(f"c{i:04d}", i * 100 // 250, previous_score=50, delta=-1, new=1, trend=[None, 50, 49])
            for i in reversed(range(250))]  # ranked worst first whatever the order given
    text, html = render_summary(email_view(SummaryView(summary_doc(rows))))
    assert "Showing the 100 worst of 250 clients" in html and "Showing the 100 worst of 250 clients" in text
    assert "c0099" in html and "c0100" not in html


# -- the e-mail channel, through a real SMTP server ----------------------------------------------------------------

def test_email_channel_delivers_what_people_read(tmp_path, monkeypatch):
    """EmailChannel.deliver to aiosmtpd: the lead's summary and one e-mail per owner, as received (on a host
    without Chromium: no PDF attached, and the e-mail does not promise one)."""
    monkeypatch.setenv("AUDITOR_CHROMIUM", "no-such-chromium-binary")
    from auditor.agency.reports import write_summary
    from auditor.agency.summary import AgencyRow
    from auditor.outputs.channels import FinishedRun
    from auditor.outputs.channels.email import EmailChannel

    old = finding("an old problem", rule="dead-key-event", severity="medium", resource="properties/1/keyEvents/9",
                  fix="Remove it.")
    worse = with_changes(result("acme-shop", findings=[finding("a new problem"), old]), previous=[old])
    calm = with_changes(result("beta-shop", 55, findings=[copy.deepcopy(old)]), previous=[old], score=55)
    fresh = result("gamma-shop", 90)
    fresh.changes = compute_changes(fresh, None, [], HEADER.generated_at)
    results = {r.name: r for r in (worse, calm, fresh)}
    doc = summary_doc([AgencyRow.of(r, tmp_path, {}) for r in results.values()])
    write_summary(tmp_path, doc, ["json", "csv"])
    owners = {"acme@client.example": ["acme-shop"], "multi@agency.example": ["gamma-shop", "beta-shop"]}

    def deliver(when: str) -> tuple[Any, SmtpSink]:
        with smtp_server() as (ctl, sink):
            run = FinishedRun(doc, tmp_path, owners, lambda row: results[row.name],
                              top_fix="acme-shop: overflagged-key-events (+15 points): Unmark it.")
            done = EmailChannel(settings(ctl.port), None, when).deliver(run)
        return done, sink

    done, sink = deliver("always")
    assert (done.sent, done.failed, done.said) == (3, 0, "sent 1 summary and 2 owner report(s)")
    got = {to[0]: parts(msg) for _, to, msg in sink.messages}
    lead = got["lead@agency.example"]
    assert lead["text"].replace("\r\n", "\n").split("\n\n")[1].splitlines() == [
        "3 clients, average score 66.7.",
        "Got worse: acme-shop (score \u221215, 1 new finding); 1 new finding(s) in all.",
        "Fix first: acme-shop: overflagged-key-events (+15 points): Unmark it."]
    assert set(lead["files"]) == {"summary.json", "summary.csv"}
    acme = got["acme@client.example"]
    text = acme["text"].replace("\r\n", "\n")
    assert text.split("\n\n")[1].splitlines()[1] == ("Got worse: score \u221215 (70 \u2192 55) and 1 new finding "
                                                   "(1 high).")
    assert text.count("a new problem") == 1 and text.count("an old problem") == 1  # each finding once
    assert visible(acme["html"]).count("a new problem") == 1
    assert "What got worse since 2025-01-06" in text and "Still open: 1" in text
    assert 'title="2024-12-30: 80"' in acme["html"] and "30 Dec 2024 6 Jan 13 Jan 80 70 55" in visible(acme["html"])
    assert set(acme["files"]) == {"acme-shop.html", "acme-shop.json", "acme-shop.csv"}
    assert "its report as HTML (to forward)" in text
    multi = got["multi@agency.example"]
    text = multi["text"].replace("\r\n", "\n")
    assert set(multi["files"]) == {"beta-shop.html", "beta-shop.json", "beta-shop.csv", "gamma-shop.html",
                                   "gamma-shop.json", "gamma-shop.csv"}
    assert text.index("== beta-shop") < text.index("== gamma-shop")  # worst first
    assert "What got worse" not in text and "What got worse" not in multi["html"]  # nothing did
    assert text.split("\n\n")[1].splitlines()[1] == "Nothing got worse since the last run."
    assert json.loads(multi["files"]["beta-shop.json"])["clients"][0]["name"] == "beta-shop"
    # --email-on change: the unchanged client is left out of its owner's e-mail
    done, sink = deliver("change")
    got = {to[0]: parts(msg) for _, to, msg in sink.messages}
    assert done.sent == 3 and "beta-shop" not in got["multi@agency.example"]["text"]
    assert set(got["multi@agency.example"]["files"]) == {"gamma-shop.html", "gamma-shop.json", "gamma-shop.csv"}


@pytest.mark.skipif(__import__("auditor.outputs.formats.pdf", fromlist=["find_engine"]).find_engine() is None,
                    reason="Chromium is not installed")
def test_owner_attachments_hold_the_html_and_the_pdf_an_account_manager_forwards():
    r = with_changes(result())
    files = dict(result_attachments([r], HEADER))  # the engine is there: the PDF is printed and attached
    assert list(files) == ["acme-shop.html", "acme-shop.pdf", "acme-shop.json", "acme-shop.csv"]
    assert files["acme-shop.pdf"].startswith(b"%PDF")
    msg = build_message("robot@agency.example", ["owner@client.example"], "s", "t", "<p>h</p>", files.items())
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    types = {p.get_filename(): p.get_content_type() for p in parsed.iter_attachments()}
    assert types == {"acme-shop.html": "text/html", "acme-shop.pdf": "application/pdf",
                     "acme-shop.json": "application/json", "acme-shop.csv": "text/csv"}
    text, _ = render_owner([r], HEADER)
    assert "its report as HTML and PDF (to forward)" in text


def test_owner_email_lists_findings_under_their_rule_titles_worst_rule_first():
    found = [finding("low one", rule="dead-key-event", severity="low", resource="properties/1/keyEvents/7"),
             finding("weak micro a", resource="properties/1/keyEvents/2"),
             finding("dup", rule="duplicate-conversion-action", severity="critical", resource="customers/1/c/1"),
             finding("weak micro b", resource="properties/1/keyEvents/3")]
    r = result(findings=found)
    titles = {"overflagged-key-events": "Too many or weak key events", "dead-key-event": "Dead key events",
              "duplicate-conversion-action": "One business event counted twice"}
    for x in r.rules:
        x.title = titles[x.id]
    text, html = render_owner([r], HEADER)
    body = text.split("Open findings: 4")[1]
    heads = [line.strip() for line in body.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    assert heads == ["One business event counted twice (duplicate-conversion-action): 1 finding",
                     "Too many or weak key events (overflagged-key-events): 2 findings",
                     "Dead key events (dead-key-event): 1 finding"]
    assert body.index("weak micro a") < body.index("weak micro b") < body.index("low one")
    seen = visible(html)
    assert seen.index("One business event counted twice") < seen.index("Too many or weak key events") < seen.index(
        "Dead key events")


# -- delivery ----------------------------------------------------------------------------------------------------

def _msg(to: str = "owner@client.example") -> EmailMessage:
    return build_message("robot@agency.example", [to], "hello", "text", "<p>html</p>")


def test_plain_smtp_delivers():
    with smtp_server() as (ctl, sink), Mailer(settings(ctl.port), None) as m:
        m.send(_msg(), ["owner@client.example"])
        m.send(_msg("second@client.example"), ["second@client.example"])
    assert [(f, to) for f, to, _ in sink.messages] == [("robot@agency.example", ["owner@client.example"]),
                                                         ("robot@agency.example", ["second@client.example"])]


def test_starttls_with_private_ca_and_login(ca):
    _, pem, server_ctx = ca
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=authenticator,
                     auth_required=True, auth_require_tls=True) as (ctl, sink):
        s = settings(ctl.port, security="starttls", ca_file=str(pem), username="robot", password_env="SMTP_PW")
        with Mailer(s, "s3cret-pass") as m:
            m.send(_msg(), ["owner@client.example"])
    assert len(sink.messages) == 1 and sink.logins == ["robot"]


def test_implicit_tls(ca):
    _, pem, server_ctx = ca
    with smtp_server(ssl_context=server_ctx) as (ctl, sink):
        with Mailer(settings(ctl.port, security="ssl", ca_file=str(pem)), None) as m:
            m.send(_msg(), ["owner@client.example"])
    assert len(sink.messages) == 1


def test_untrusted_certificate_is_one_line(ca):
    _, _, server_ctx = ca
    with smtp_server(tls_context=server_ctx) as (ctl, _), Mailer(settings(ctl.port, security="starttls"), None) as m:
        with pytest.raises(DeliveryError) as e:
            m.send(_msg(), ["owner@client.example"])
    assert "not trusted" in str(e.value) and "\n" not in str(e.value)


def test_wrong_password_never_shows_the_password_or_addresses(ca):
    _, pem, server_ctx = ca
    with smtp_server(tls_context=server_ctx, authenticator=authenticator, auth_required=True) as (ctl, sink):
        s = settings(ctl.port, security="starttls", ca_file=str(pem), username="robot", password_env="SMTP_PW")
        with Mailer(s, "wrong-pass") as m, pytest.raises(DeliveryError) as e:
            m.send(_msg(), ["owner@client.example"])
    assert "login refused" in str(e.value)
    assert "wrong-pass" not in str(e.value) and "@" not in str(e.value)
    assert not sink.messages


def test_starttls_required_but_not_offered():
    with smtp_server() as (ctl, _), Mailer(settings(ctl.port, security="starttls"), None) as m:
        with pytest.raises(DeliveryError, match="does not support STARTTLS"):
            m.send(_msg(), ["owner@client.example"])


def test_connection_refused_is_one_line():
    with Mailer(settings(free_port()), None) as m, pytest.raises(DeliveryError) as e:
        m.send(_msg(), ["owner@client.example"])
    assert str(e.value).startswith("cannot connect to 127.0.0.1:")


def test_refused_recipient_is_reported_without_the_address():
    class Picky(SmtpSink):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody"):
                return "550 5.1.1 <nobody@client.example>: mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    with smtp_server(Picky()) as (ctl, sink), Mailer(settings(ctl.port), None) as m:
        with pytest.raises(DeliveryError) as e:
            m.send(_msg("nobody@client.example"), ["nobody@client.example"])
        m.send(_msg(), ["owner@client.example"])  # the session is still usable
    assert "recipient(s) refused" in str(e.value) and "nobody" not in str(e.value)
    assert len(sink.messages) == 1


def test_password_comes_from_the_named_environment_variable(monkeypatch):
    s = settings(25, username="robot", password_env="AUDITOR_TEST_SMTP_PW")
    monkeypatch.delenv("AUDITOR_TEST_SMTP_PW", raising=False)
    with pytest.raises(ConfigError, match="AUDITOR_TEST_SMTP_PW is not set"):
        smtp_password(s)
    monkeypatch.setenv("AUDITOR_TEST_SMTP_PW", "pw-from-env")
    assert smtp_password(s) == "pw-from-env"
    assert smtp_password(settings(25)) is None  # no username: no login
    with pytest.raises(ConfigError, match="password_env: required"):
        smtp_password(settings(25, username="robot"))


def test_redact_removes_addresses_sent_values_and_newlines():
    assert redact("550 <bob@x.example> refused\nfor alice@y.example") == "550 <<address>> refused for <address>"
    # a value the AUTH exchange sent is masked where it stands whole, never inside another word
    assert redact("auth failed for AHJvYm90AHg=", ["AHJvYm90AHg="]) == "auth failed for ***"
    assert redact("eA==x eA== xeA==", ["eA=="]) == "eA==x *** xeA=="


@pytest.mark.parametrize("password", ["x", "or", "e", "s"])
def test_a_short_password_never_garbles_a_message_nor_tells_its_letters(password):
    """A server without SMTP AUTH: smtplib says 'SMTP AUTH extension not supported by server', whose letters hold
    'x', 'or', 'e', 's'. The message stays whole: no search-and-replace of the password's text."""
    with smtp_server() as (ctl, _):
        s = settings(ctl.port, username="robot", password_env="SMTP_PW")
        with Mailer(s, password) as m, pytest.raises(DeliveryError) as e:
            m.send(_msg(), ["owner@client.example"])
    assert str(e.value) == (f"127.0.0.1:{ctl.port} does not support login (SMTP AUTH): SMTP AUTH extension not "
                            "supported by server.")
    assert "***" not in str(e.value)


@pytest.mark.parametrize("password", ["x", "or"])
def test_the_password_is_masked_where_the_server_echoes_what_was_sent(password):
    """A real server refusing the login with a text that holds the password's letters and echoes the value the
    client sent (base64 of user and password): that value is masked, every other word is left as the server
    wrote it."""
    import base64

    def echo(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        raw = b"\0robot\0" + auth_data.password if mechanism == "PLAIN" else auth_data.password
        sent = base64.b64encode(raw).decode()
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 box x: your password for {sent} is wrong or expired")

    with smtp_server(authenticator=echo, auth_require_tls=False) as (ctl, _):
        s = settings(ctl.port, username="robot", password_env="SMTP_PW")
        with Mailer(s, password) as m, pytest.raises(DeliveryError) as e:
            m.send(_msg(), ["owner@client.example"])
    text = str(e.value)
    assert text == f"login refused by 127.0.0.1:{ctl.port} (535 5.7.8 box x: your password for *** is wrong or expired)"
    for value in (base64.b64encode(b"\0robot\0" + password.encode()), base64.b64encode(password.encode())):
        assert value.decode() not in text


def test_a_password_that_is_not_ascii_is_never_quoted():
    with smtp_server(authenticator=authenticator, auth_require_tls=False) as (ctl, _):
        s = settings(ctl.port, username="robot", password_env="SMTP_PW")
        with Mailer(s, "p\u00e4ss") as m, pytest.raises(DeliveryError) as e:
            m.send(_msg(), ["owner@client.example"])
    assert "not ASCII" in str(e.value) and "\u00e4" not in str(e.value) and "p\u00e4ss" not in str(e.value)
