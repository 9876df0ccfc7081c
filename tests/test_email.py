"""E-mail reports: message structure, escaping, and delivery to a real SMTP server (aiosmtpd) on loopback,
plain, STARTTLS with a private CA (trustme) and login, and implicit TLS."""

from __future__ import annotations

import contextlib
import copy
import email
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

from auditor.config import EmailSettings
from auditor.diff import compute_changes
from auditor.errors import ConfigError
from auditor.notify import (
    DeliveryError,
    Mailer,
    build_message,
    owner_subject,
    redact,
    render_owner,
    render_summary,
    result_attachments,
    smtp_password,
    sparkline,
)

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

def result(name: str = "acme-shop", score: int = 55, message: str = "key event 'x' is a weak micro") -> dict:
    finding = {"rule": "overflagged-key-events", "severity": "high", "category": "key-events", "message": message,
               "resources": ["properties/1/keyEvents/2"], "remediation": "Unmark it.", "actionable": True,
               "fingerprint": "f1" * 8, "suppressed": False}
    return {"name": name, "profile": "ecommerce", "status": "ok", "sources": {"ga4": None, "ads": None},
            "score": score, "grade": "F" if score < 60 else "A", "coverage": 100, "categories": {},
            "counts": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}, "errors": [], "warnings": [],
            "rules": [{"id": "overflagged-key-events", "category": "key-events", "status": "fail", "reason": ""}],
            "findings": [finding]}


HEADER = {"tool": {"name": "auditor", "version": "test"}, "generated_at": "2025-01-13T07:00:00Z",
          "scoring": {"formula": "f", "deductions": {}, "grades": {}}}


def with_changes(r: dict) -> dict:
    prev = copy.deepcopy(r)
    prev["findings"] = []
    prev["score"], prev["grade"] = 70, "C"
    prev["generated_at"] = "2025-01-06T07:00:00Z"
    r["changes"] = compute_changes(r, prev, [{"generated_at": "2024-12-30", "score": 80, "grade": "B"},
                                             {"generated_at": "2025-01-06", "score": 70, "grade": "C"}],
                                   HEADER["generated_at"])
    return r


def parts(msg: EmailMessage) -> dict[str, Any]:
    body = {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()
            and p.get_content_disposition() != "attachment"}
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    return {"text": body.get("text/plain"), "html": body.get("text/html"), "files": files}


# -- rendering ---------------------------------------------------------------------------------------------------

def test_owner_message_has_both_parts_and_the_attachments():
    r = with_changes(result())
    text, html = render_owner([r], HEADER)
    msg = build_message("robot@agency.example", ["owner@client.example"], owner_subject(None, [r]), text, html,
                        result_attachments([r], HEADER, r["name"]))
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in parsed.iter_parts()][0] == "multipart/alternative"
    p = parts(parsed)
    assert "What got worse: 1 new finding(s)" in p["text"] and "Score 55/100" in p["text"]
    assert "80 -> 70 -> 55" in p["text"]  # the trend, oldest first
    assert "What got worse: 1 new finding(s)" in p["html"]
    assert set(p["files"]) == {"acme-shop.json", "acme-shop.csv"}
    assert b'"name": "acme-shop"' in p["files"]["acme-shop.json"]
    assert "client,profile,score" in p["files"]["acme-shop.csv"]
    assert parsed["Subject"] == "acme-shop: 55/100 (F), 1 new finding(s)"
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_html_is_mail_safe_no_scripts_no_style_blocks_table_charts():
    r = with_changes(result())
    _, html = render_owner([r], HEADER)
    low = html.lower()
    assert "<script" not in low and "<style" not in low and "<svg" not in low and "<img" not in low
    assert "bgcolor=" in low  # the trend bars are table cells (Outlook reads bgcolor)
    assert low.count('title="2024-12-30: 80"') == 1  # one bar per run


def test_every_api_string_is_escaped():
    r = result(name="acme-shop", message=f"key event '{XSS}' \x1b[31mred")
    r["findings"][0]["resources"] = [f"properties/1/keyEvents/{XSS}"]
    r["findings"][0]["remediation"] = f"Rename {XSS}"
    r["errors"] = [f"ga4: {XSS}"]
    r["profile"] = XSS
    r = with_changes(r)
    text, html = render_owner([r], HEADER)
    rows = [{"name": "x", "status": "ok", "score": 55, "grade": "F", "coverage": 100, "errors": 0,
             "counts": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}, "previous_score": None,
             "delta": None, "new": 0, "resolved": 0, "persisting": 0, "changed": True, "trend": [55],
             "suppressed": 0, "json": "clients/x.json", "html": None}]
    rows[0]["name"] = XSS  # an offline folder name reaches the summary too
    s_text, s_html = render_summary(rows, {"clients": 1, "average_score": 55, "worse": 0, "better": 0, "new": 0,
                                           "resolved": 0, "errored": 0}, HEADER)
    for h in (html, s_html):
        assert "<script" not in h.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "\x1b" not in text and XSS in text  # plain text: shown as is, control characters dropped
    assert "\x1b" not in s_text


def test_summary_email_body_is_capped_and_says_so():
    rows = [{"name": f"c{i:04d}", "status": "ok", "score": i % 100, "grade": "F", "coverage": 100, "errors": 0,
             "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0}, "previous_score": 50,
             "delta": -1, "new": 1, "resolved": 0, "persisting": 0, "changed": True, "trend": [None, 50, 49],
             "suppressed": 0, "json": "x", "html": None} for i in range(250)]
    summary = {"clients": 250, "average_score": 49.5, "worse": 250, "better": 0, "new": 250, "resolved": 0,
               "errored": 0}
    text, html = render_summary(rows, summary, HEADER)
    assert "Showing the 100 worst of 250 clients" in html and "Showing the 100 worst of 250 clients" in text
    assert "c0099" in html and "c0100" not in html
    assert sparkline([None, 0, 50, 100]) == "·▁▅█"


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


def test_redact_removes_addresses_secrets_and_newlines():
    assert redact("550 <bob@x.example> refused\nfor alice@y.example", "pw") == "550 <<address>> refused for <address>"
    assert redact("auth failed for pw123", "pw123") == "auth failed for ***"
