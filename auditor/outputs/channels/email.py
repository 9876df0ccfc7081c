"""E-mail: the agency lead's summary and each account owner's report, delivered over SMTP.

One SMTP session per run (STARTTLS, implicit TLS or plain), the password from the environment variable the
config names (read when the config is, so a missing one is a configuration error before anything is audited),
and every failure turned into one readable line without addresses. The password is masked where it was sent: the
values of the AUTH exchange (where a server echoes one back), never by searching a message for its text, which
would garble the message and, with a short password, tell its letters by where the mask lands. The bodies are the
formats `email_summary` and `email_owner` (auditor/outputs/formats); the Subject and the attachment file names
pass through `printable` here too: no control character, bidirectional override or lone surrogate reaches a
message.
"""

from __future__ import annotations

import io
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.config import EmailSettings
from auditor.errors import ConfigError, describe
from auditor.outputs.channels import Channel, ChannelOptions, Delivered, FinishedRun
from auditor.result import ClientResult, Header
from auditor.text import printable

if TYPE_CHECKING:
    from auditor.config import UserConfig
    from auditor.outputs.options import Branding, RenderOptions

_ADDRESS = re.compile(r"[^\s<>()\[\],;:'\"]+@[^\s<>()\[\],;:'\"]+")


class DeliveryError(Exception):
    """Mail could not be delivered; the message is one line without addresses or secrets."""


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


def result_attachments(clients: list[ClientResult], header: Header, branding: Branding | None = None,
                       pdf: bool | None = None) -> list[tuple[str, bytes]]:
    """Each client's report, named after the client (the name made safe as the client's report files are): the
    HTML page an account manager forwards (<client>.html, in the agency's branding), its PDF when Chromium is
    installed (<client>.pdf; `pdf` None: when the engine is found; a print that fails leaves the PDF out, never
    the e-mail), then the JSON result (the `audit --format json` shape, one client) and the CSV."""
    from auditor.files import file_stem
    from auditor.outputs.document import write_document
    from auditor.outputs.formats.pdf import find_engine
    from auditor.outputs.options import RenderOptions

    options = RenderOptions(single=True, branding=branding) if branding else RenderOptions(single=True)
    printing = find_engine() is not None if pdf is None else pdf
    taken: set[str] = set()  # two names that differ only in case still get two files
    out = []
    for c in clients:
        stem = file_stem(c.name, taken)
        for fmt in ("html", "pdf", "json", "csv"):
            if fmt == "pdf":
                if printing and (data := _pdf_of(c, header, options)) is not None:
                    out.append((f"{stem}.pdf", data))
                continue
            buf = io.StringIO()
            write_document(buf, fmt, header, [c], options)
            out.append((f"{stem}.{fmt}", buf.getvalue().encode("utf-8", "replace")))
    return out


def _pdf_of(c: ClientResult, header: Header, options: RenderOptions) -> bytes | None:
    """A client's PDF report as `audit --format pdf` prints it; None when Chromium could not print it."""
    from auditor.errors import AuditorError
    from auditor.outputs.document import write_document

    raw = io.BytesIO()
    sink = io.TextIOWrapper(raw, encoding="utf-8")
    try:
        write_document(sink, "pdf", header, [c], options)
    except (AuditorError, ConfigError, OSError):
        return None
    sink.flush()
    data = raw.getvalue()
    return data if data.startswith(b"%PDF") else None


# -- messages and delivery --------------------------------------------------------------------------------------

_ATTACHED = {"json": ("application", "json"), "csv": ("text", "csv"), "html": ("text", "html"),
             "pdf": ("application", "pdf")}  # an attachment's MIME type by its extension

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
        maintype, subtype = _ATTACHED.get(name.rpartition(".")[2], ("application", "octet-stream"))
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


_BASE64 = "A-Za-z0-9+/="


def mask_sent(text: str, sent: Iterable[str]) -> str:
    """`text` with each value the AUTH exchange sent (base64, the password inside it) masked where it stands whole,
    as a server echoing it back would write it. Nothing else in the message changes: the password's own text is
    never searched for."""
    values = sorted({v for v in sent if v}, key=len, reverse=True)
    if not values:
        return text
    pattern = re.compile(f"(?<![{_BASE64}])(?:{'|'.join(map(re.escape, values))})(?![{_BASE64}])")
    return pattern.sub("***", text)


def redact(text: str, sent: Iterable[str] = ()) -> str:
    """One line for logs: no e-mail addresses, no value of the AUTH exchange (`sent`), no line breaks."""
    return " ".join(_ADDRESS.sub("<address>", mask_sent(text, sent)).split())


class _Recording:
    """An SMTP session that keeps what it sent during AUTH: the values (base64 of the user name and password) an
    error message may echo, so they can be masked where they appear."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.auth_sent: list[str] = []
        self._authing = False
        super().__init__(*args, **kwargs)

    def auth(self, mechanism: str, authobject: Any, *, initial_response_ok: bool = True) -> Any:
        self._authing = True
        try:
            return super().auth(mechanism, authobject, initial_response_ok=initial_response_ok)  # type: ignore[misc]
        finally:
            self._authing = False

    def docmd(self, cmd: str, args: str = "") -> Any:
        if self._authing:  # "AUTH PLAIN <value>", then each continuation line is a value of its own
            values = args.split()[1:] if cmd.upper() == "AUTH" else [cmd, *args.split()]
            self.auth_sent.extend(v for v in values if v)
        return super().docmd(cmd, args)  # type: ignore[misc]


class _SMTP(_Recording, smtplib.SMTP):
    pass


class _SMTPSSL(_Recording, smtplib.SMTP_SSL):
    pass


class Mailer:
    """One SMTP session for a run: `with Mailer(settings, password) as m: m.send(msg, to)`.

    Connects lazily on the first message so a run that has nothing to send never touches the network.
    """

    def __init__(self, settings: EmailSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self.smtp: smtplib.SMTP | None = None
        self.sent: list[str] = []  # what the AUTH exchanges of this session sent: masked in every message

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
                smtp: _SMTP | _SMTPSSL = _SMTPSSL(s.host, s.port, timeout=s.timeout, context=self._tls())
            else:
                smtp = _SMTP(s.host, s.port, timeout=s.timeout)
            self.sent = smtp.auth_sent
            if s.security != "ssl":
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
            what = "STARTTLS" if "STARTTLS" in str(e) else "login (SMTP AUTH)" if "AUTH" in str(e) else "a command"
            text = f"{w} does not support {what}: {e}"
        elif isinstance(e, UnicodeEncodeError):  # never the offending character: it may be one of the password's
            text = (f"cannot log in to {w}: the user name or password holds a character that is not ASCII, which "
                    "SMTP AUTH cannot send")
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
        return redact(text, self.sent)


def _decode(b: bytes | str) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


class EmailChannel(Channel):
    """The summary to `email.summary_to`, then one e-mail per owner address covering that owner's clients that
    meet `when` (--email-on, else email.when), worst first."""

    name = "email"

    def __init__(self, settings: EmailSettings, password: str | None, when: str = "always") -> None:
        self.settings, self.password, self.when = settings, password, when

    @classmethod
    def configure(cls, cfg: UserConfig, cfg_path: Path | None, options: ChannelOptions) -> list[Channel]:
        email = cfg.email
        if options.email_on and email is None:
            where = cfg_path or "the config (none given)"
            raise ConfigError(f"--email-on {options.email_on}: {where} has no email: section (host, sender, "
                              "summary_to...)")
        if email is None or options.no_email or not options.deliver:
            return []
        if email.ca_file:
            from auditor.config import resolve_path

            ca = resolve_path(cfg_path.resolve().parent if cfg_path else Path.cwd(), email.ca_file)
            if ca is None or not ca.is_file():
                raise ConfigError(f"{cfg_path}: email.ca_file: {ca}: no such file")
            email = email.model_copy(update={"ca_file": str(ca)})
        try:
            password = smtp_password(email)  # missing: a config error now, not a mail failure after auditing
        except ConfigError as e:
            if cfg_path is None:
                raise
            from auditor.config import config_error

            key, _, msg = str(e).partition(": ")
            raise config_error(cfg_path, ("email", *key.split(".")[1:]), msg) from None
        return [cls(email, password, options.email_on or email.when)]

    def outbox(self, run: FinishedRun) -> list[tuple[str, list[str], Callable[[], EmailMessage]]]:
        """(kind, recipients, a function building the message): messages are built one at a time, as sent."""
        from auditor.outputs.formats.email_owner import owner_subject, render_owner
        from auditor.outputs.formats.email_summary import email_view, render_summary, summary_subject
        from auditor.outputs.formats.summary_base import SummaryView
        from auditor.outputs.formats.summary_json import compact

        email, doc = self.settings, run.document
        rows = doc.clients
        out: list[tuple[str, list[str], Callable[[], EmailMessage]]] = []
        if email.summary_to and any(run.wanted(r, self.when) for r in rows):
            def summary_msg() -> EmailMessage:
                view = SummaryView(doc, run.top_fix)
                text, html = render_summary(email_view(view))
                files = [("summary.json", compact(view)), ("summary.csv", (run.out_dir / "summary.csv").read_bytes())]
                return build_message(email.sender, list(email.summary_to), summary_subject(email, doc.summary), text,
                                     html, files)
            out.append(("summary", list(email.summary_to), summary_msg))
        by_name = {r.name: r for r in rows}
        rank_of = {r.name: i for i, r in enumerate(rows)}  # an owner's clients, worst first like the summary
        for addr in sorted(run.owners):
            names = sorted((n for n in set(run.owners[addr]) if n in by_name and run.wanted(by_name[n], self.when)),
                           key=rank_of.__getitem__)
            if not names:
                continue

            def owner_msg(addr: str = addr, names: list[str] = names) -> EmailMessage:
                clients = [run.load_client(by_name[n]) for n in names]
                text, html = render_owner(clients, doc.header, run.branding)
                return build_message(email.sender, [addr], owner_subject(email, clients), text, html,
                                     result_attachments(clients, doc.header, run.branding))
            out.append(("owner", [addr], owner_msg))
        return out

    def deliver(self, run: FinishedRun) -> Delivered:
        outbox = self.outbox(run)
        done = Delivered()
        if not outbox:
            done.said = f"nothing to send (--email-on {self.when})"
            return done
        sent = {"summary": 0, "owner": 0}
        with Mailer(self.settings, self.password) as mailer:
            for i, (kind, to, make) in enumerate(outbox):
                try:
                    msg = make()
                except Exception as e:  # a report vanished or is unreadable, a rendering failed
                    done.fail(f"cannot build the {kind} e-mail: {redact(describe(e))}")
                    continue
                try:
                    mailer.send(msg, to)
                    sent[kind] += 1
                    done.sent += 1
                except DeliveryError as e:
                    done.fail(str(e))
                    if mailer.smtp is None:  # no session (cannot connect or log in): the rest would fail the same way
                        done.fail(str(e), len(outbox) - i - 1)
                        break
        if done.sent:
            done.said = f"sent {sent['summary']} summary and {sent['owner']} owner report(s)"
        return done
