"""E-mail reports: render (HTML + plain text + JSON and CSV attachments) and deliver over SMTP.

HTML bodies are Jinja templates with autoescaping (every API-sourced string is escaped), inline CSS on tables,
no scripts, and charts made of table cells (many mail clients block SVG and images). Every value a template
prints, in the HTML and the plain-text body alike, passes through `printable` (auditor/text.py) first, and so do
the Subject and the attachment file names: no control character, bidirectional override or lone surrogate
reaches a message. Delivery uses one SMTP connection per run (STARTTLS, implicit TLS or plain), the password from
the environment variable the config names, and turns every failure into one readable line with addresses
redacted.
"""

from __future__ import annotations

import functools
import io
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader

from auditor.business_model import profile_label
from auditor.config import EmailSettings
from auditor.diff import changes_line
from auditor.engine import SEVERITIES
from auditor.errors import ConfigError
from auditor.history import TREND_POINTS
from auditor.text import printable

SUMMARY_EMAIL_ROWS = 100  # rows in the summary e-mail body (the attachments hold all): big mails get clipped
_SPARK = "▁▂▃▄▅▆▇█"
_ADDRESS = re.compile(r"[^\s<>()\[\],;:'\"]+@[^\s<>()\[\],;:'\"]+")


class DeliveryError(Exception):
    """Mail could not be delivered; the message is one line without addresses or secrets."""




def _text_finalize(value: Any) -> Any:
    """What the plain-text templates print: strings through `printable` (numbers and None as they are)."""
    return printable(value) if isinstance(value, str) else value


def attachment_name(name: str) -> str:
    """An attachment file name from a client name (a mail client saves it to disk under that name): its stem made
    safe as the client's report files are (`auditor.files.file_stem`), its short extension kept."""
    from auditor.files import file_stem

    stem, dot, ext = str(name).rpartition(".")
    if not dot or not ext.isascii() or not ext.isalnum() or len(ext) > 8:
        stem, dot, ext = str(name), "", ""
    return file_stem(stem) + dot + ext


def _utf8(text: str) -> str:
    """Text a UTF-8 message part can hold: a lone surrogate (which the renderers never write) becomes "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def sparkline(scores: Iterable[int | None]) -> str:
    return "".join("·" if s is None else _SPARK[min(7, max(0, round(s * 7 / 100)))] for s in scores)


@functools.lru_cache(maxsize=1)
def _html_env() -> Environment:
    from auditor.report.html import environment

    env = environment()
    env.globals["sparkline"] = sparkline
    return env


@functools.lru_cache(maxsize=1)
def _text_env() -> Environment:
    # Plain text is not HTML: no autoescaping here; every printed string goes through `printable` instead.
    env = Environment(loader=PackageLoader("auditor.report", "templates"), autoescape=False, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, finalize=_text_finalize)
    env.filters["plain"] = printable
    env.globals["changes_line"] = changes_line
    env.globals["profile_label"] = profile_label
    return env


def _subject(settings: EmailSettings | None, text: str) -> str:
    prefix = settings.subject_prefix.strip() + " " if settings and settings.subject_prefix.strip() else ""
    return printable(prefix + text)[:200]


# -- the agency lead's summary ----------------------------------------------------------------------------------

def summary_context(rows: list[dict[str, Any]], summary: dict[str, Any], header: dict[str, Any],
                    limit: int | None = SUMMARY_EMAIL_ROWS, links: bool = False) -> dict[str, Any]:
    shown = rows if limit is None else rows[:limit]
    title = f"Agency summary: {summary['clients']} client(s), worst first"
    return {"title": title, "rows": shown, "hidden": len(rows) - len(shown), "summary": summary, "header": header,
            "severities": SEVERITIES, "links": links, "trend_points": TREND_POINTS}


def render_summary(rows: list[dict[str, Any]], summary: dict[str, Any], header: dict[str, Any],
                   limit: int | None = SUMMARY_EMAIL_ROWS, links: bool = False) -> tuple[str, str]:
    """(plain text, HTML) of the agency summary."""
    ctx = summary_context(rows, summary, header, limit, links)
    return (_text_env().get_template("email_summary.txt.j2").render(ctx),
            _html_env().get_template("email_summary.html.j2").render(ctx))


def stream_summary(kind: str, rows: list[dict[str, Any]], summary: dict[str, Any], header: dict[str, Any],
                   links: bool = True) -> Iterator[str]:
    """The full summary ("html" or "text") in chunks, for a file: memory stays flat however many clients."""
    ctx = summary_context(rows, summary, header, None, links)
    env, name = (_html_env(), "email_summary.html.j2") if kind == "html" else (_text_env(), "email_summary.txt.j2")
    return env.get_template(name).generate(ctx)


def summary_subject(settings: EmailSettings | None, summary: dict[str, Any]) -> str:
    avg = f", average {summary['average_score']}" if summary.get("average_score") is not None else ""
    worse = f", {summary['worse']} worse" if summary.get("worse") else ""
    errored = f", {summary['errored']} not audited" if summary.get("errored") else ""
    return _subject(settings, f"Agency summary: {summary['clients']} client(s){avg}{worse}{errored}")


# -- an account owner's report ----------------------------------------------------------------------------------

def render_owner(clients: list[dict[str, Any]], header: dict[str, Any]) -> tuple[str, str]:
    """(plain text, HTML) of one owner's clients (full client results, with `changes` when history is on)."""
    title = (f"Conversion audit: {clients[0]['name']}" if len(clients) == 1
             else f"Conversion audit: {len(clients)} clients")
    ctx = {"title": title, "clients": clients, "header": header}
    return (_text_env().get_template("email_owner.txt.j2").render(ctx),
            _html_env().get_template("email_owner.html.j2").render(ctx))


def owner_subject(settings: EmailSettings | None, clients: list[dict[str, Any]]) -> str:
    new = sum(len((c.get("changes") or {}).get("new") or []) for c in clients)
    news = f", {new} new finding(s)" if new else ""
    if len(clients) == 1:
        c = clients[0]
        score = "not audited" if c["score"] is None else f"{c['score']}/100 ({c['grade']})"
        return _subject(settings, f"{c['name']}: {score}{news}")
    worst = min(clients, key=lambda c: (c["score"] is not None, c["score"] or 0))
    score = "not audited" if worst["score"] is None else f"{worst['score']}/100"
    return _subject(settings, f"{len(clients)} clients{news}; lowest {worst['name']} {score}")


def result_attachments(clients: list[dict[str, Any]], header: dict[str, Any], stem: str) -> list[tuple[str, bytes]]:
    """The owner's clients as one JSON result (the `audit --format json` shape) and one CSV, named STEM.json and
    STEM.csv (STEM made safe as a file name: it is usually a client name)."""
    from auditor.report.render import write_document

    stem = attachment_name(stem)
    out = []
    for fmt in ("json", "csv"):
        buf = io.StringIO()
        write_document(buf, fmt, header, clients)
        out.append((f"{stem}.{fmt}", buf.getvalue().encode("utf-8", "replace")))
    return out


# -- messages and delivery --------------------------------------------------------------------------------------

def build_message(sender: str, to: list[str], subject: str, text: str, html: str,
                  attachments: Iterable[tuple[str, bytes]] = ()) -> EmailMessage:
    """multipart/mixed: multipart/alternative (text/plain, text/html), then the attachments. The Subject and the
    attachment names go through `printable` here too (a CR or LF would otherwise forge a header)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = printable(subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    msg.set_content(_utf8(text))
    msg.add_alternative(_utf8(html), subtype="html")
    for name, data in attachments:
        name = attachment_name(name)
        maintype, subtype = ("application", "json") if name.endswith(".json") else ("text", "csv")
        if maintype == "text":
            msg.add_attachment(data.decode("utf-8", "replace"), subtype=subtype, filename=name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def smtp_password(settings: EmailSettings) -> str | None:
    """The SMTP password from the environment variable named in the config. ConfigError when it is missing."""
    if not settings.username:
        return None
    if not settings.password_env:
        raise ConfigError("email.password_env: required with email.username (it names the environment variable "
                          "holding the SMTP password)")
    value = os.environ.get(settings.password_env)
    if not value:
        raise ConfigError(f"email.password_env: the environment variable {settings.password_env} is not set")
    return value


def redact(text: str, secret: str | None = None) -> str:
    """One line for logs: no e-mail addresses, no password, no line breaks."""
    if secret:
        text = text.replace(secret, "***")
    return " ".join(_ADDRESS.sub("<address>", text).split())


class Mailer:
    """One SMTP session for a run: `with Mailer(settings, password) as m: m.send(msg, to)`.

    Connects lazily on the first message so a run that has nothing to send never touches the network.
    """

    def __init__(self, settings: EmailSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _tls(self) -> ssl.SSLContext:
        if self.settings.ca_file:
            return ssl.create_default_context(cafile=self.settings.ca_file)
        return ssl.create_default_context()

    def connect(self) -> None:
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                smtp.ehlo()
                if s.security == "starttls":
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
            self.smtp = smtp
            if s.username:
                smtp.login(s.username, self.password or "")
        except Exception as e:
            self.close()
            raise DeliveryError(self._explain(e, connecting=True)) from None

    def send(self, msg: EmailMessage, to: list[str]) -> None:
        """Deliver one message; reconnects once if the server dropped the session. Raises DeliveryError."""
        for attempt in (1, 2):
            if self.smtp is None:
                self.connect()
            assert self.smtp is not None
            try:
                refused = self.smtp.send_message(msg, from_addr=self.settings.sender, to_addrs=to)
            except smtplib.SMTPServerDisconnected as e:
                self.smtp = None
                if attempt == 2:
                    raise DeliveryError(self._explain(e)) from None
                continue
            except Exception as e:
                raise DeliveryError(self._explain(e)) from None
            if refused:
                raise DeliveryError(f"{self.where}: {len(refused)} of {len(to)} recipient(s) refused")
            return

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # the session is over either way
                try:
                    self.smtp.close()
                except Exception:
                    pass
            self.smtp = None

    def _explain(self, e: BaseException, connecting: bool = False) -> str:
        w = self.where
        if isinstance(e, smtplib.SMTPAuthenticationError):
            text = f"login refused by {w} ({e.smtp_code} {_decode(e.smtp_error)})"
        elif isinstance(e, smtplib.SMTPNotSupportedError):
            text = f"{w} does not support {'STARTTLS' if self.settings.security == 'starttls' else 'this'}: {e}"
        elif isinstance(e, smtplib.SMTPRecipientsRefused):
            text = f"{w}: all {len(e.recipients)} recipient(s) refused"
        elif isinstance(e, smtplib.SMTPSenderRefused):
            text = f"{w}: sender refused ({e.smtp_code} {_decode(e.smtp_error)})"
        elif isinstance(e, smtplib.SMTPResponseException):
            text = f"{w}: {e.smtp_code} {_decode(e.smtp_error)}"
        elif isinstance(e, ssl.SSLCertVerificationError):
            text = f"TLS certificate of {w} not trusted: {e.verify_message} (email.ca_file names a CA bundle)"
        elif isinstance(e, ssl.SSLError):
            text = f"TLS with {w} failed: {e.reason or e}"
        elif isinstance(e, (socket.timeout, TimeoutError)):
            text = f"{w} did not answer within {self.settings.timeout:g} s"
        elif isinstance(e, socket.gaierror):
            text = f"cannot resolve {self.settings.host}: {e.strerror or e}"
        elif isinstance(e, OSError):
            text = f"cannot {'connect to' if connecting else 'talk to'} {w}: {e.strerror or e}"
        else:
            text = f"{w}: {type(e).__name__}: {e}"
        return redact(text, self.password)


def _decode(b: bytes | str) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)
