"""Webhooks: the run's summary posted to a chat (a Slack incoming webhook) or any HTTP endpoint (the summary
document as JSON).

The URL is a secret (whoever has it can post), so the config names the environment variable holding it
(`url_env`), and no log line, error or exception text ever carries the URL: a webhook is named by its variable.
A missing or empty variable, a refused connection, a timeout or an HTTP error is one failed message: the run
exits 4 after writing every report, as for e-mail. Connection errors, 5xx and 429 are retried twice, briefly;
a timeout is not (the endpoint may have taken the message: a retry could post it twice). `timeout` is one
deadline for a whole attempt, from connecting to the last byte of the answer: a server that answers a byte at a
time cannot hold the run past it, and an answer that does not end in time is a failure.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from auditor import __version__
from auditor.config import WebhookSettings, unsafe_url
from auditor.errors import describe
from auditor.outputs.channels import Channel, ChannelOptions, Delivered, FinishedRun
from auditor.text import json_text, printable

if TYPE_CHECKING:
    from auditor.config import UserConfig

RETRY_DELAYS = (0.5, 1.5)  # seconds before the second and the third attempt
RETRY_AFTER_MAX = 5.0  # a 429's Retry-After is honoured up to this
_ANSWER_MAX = 200  # characters of an error answer quoted in the log ("invalid_payload", "no_service")


class WebhookError(Exception):
    """A post that failed, in one line without the URL."""

    def __init__(self, message: str, retry: bool = False, wait: float = 0.0) -> None:
        super().__init__(message)
        self.retry, self.wait = retry, wait


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would follow it as a GET without the body, and report success."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _secrets(url: str) -> list[str]:
    """Every spelling of the URL and of its parts that may hold the token, longest first: as configured, as a
    URL parser cleans it (tabs and line breaks dropped), as `repr` quotes it and as `printable` shows it."""
    found: set[str] = set()
    for u in {url, url.strip(), "".join(ch for ch in url if ch not in "\t\r\n")}:
        try:
            parts = urlsplit(u)
            pieces = [u, parts.path if len(parts.path) > 1 else "", parts.query, parts.netloc, parts.fragment]
        except ValueError:
            pieces = [u]
        for piece in filter(None, pieces):
            found.update((piece, repr(piece)[1:-1], printable(piece)))
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    """One line that cannot carry the URL or any part of it that may hold the token, whatever it holds."""
    secrets = _secrets(url)
    for secret in secrets:
        text = text.replace(secret, "***")
    text = printable(text)
    for secret in secrets:  # again on the printable line: a control character inside a part became "?"
        text = text.replace(secret, "***")
    return " ".join(text.split())


class _Deadline:
    """One deadline for a whole attempt. Socket timeouts apply per operation (a server dripping a byte a second
    never trips them), so a timer shuts the attempt's sockets down when the time is up, which ends any blocked
    read or handshake at once."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.001, self.at - time.monotonic())

    def connect(self, address: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.create_connection(address, self.remaining(), *args, **kwargs)
        with self._lock:
            self._sockets.append(sock)
            late = self.expired
        if late:
            self._shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._sockets)
        for sock in socks:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """urllib with every connection opened under `deadline`."""

    def connection(base: type[http.client.HTTPConnection]) -> Any:
        def make(host: str, timeout: Any = None, **kwargs: Any) -> http.client.HTTPConnection:
            conn = base(host, timeout=deadline.remaining(), **kwargs)
            conn._create_connection = deadline.connect  # type: ignore[attr-defined]  # the raw socket, TLS under it
            return conn
        return make

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(connection(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(connection(http.client.HTTPSConnection), req,
                                context=self._context)  # type: ignore[attr-defined]

    return urllib.request.build_opener(_NoRedirect, Http, Https)


def _post_once(url: str, body: bytes, timeout: float) -> None:
    with _Deadline(timeout) as deadline:
        try:
            _attempt(url, body, timeout, deadline)
        except WebhookError:
            if deadline.expired:
                raise WebhookError(f"no answer within {timeout:g} s") from None
            raise
        if deadline.expired:  # the answer ended only because the deadline closed the connection
            raise WebhookError(f"no answer within {timeout:g} s")


def _attempt(url: str, body: bytes, timeout: float, deadline: _Deadline) -> None:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"auditor/{__version__}"})
    try:
        with _opener(deadline).open(req, timeout=timeout) as resp:
            resp.read(64 * 1024)  # the answer ("ok"); read so the connection closes cleanly
    except urllib.error.HTTPError as e:
        try:
            answer = e.read(_ANSWER_MAX).decode("utf-8", "replace").strip()
        except Exception:  # the answer is a courtesy; the status says it all
            answer = ""
        quoted = answer if answer and not answer.startswith("<") else ""  # a word ("no_service"), not a page
        text = f"HTTP {e.code}" + (f" {e.reason}" if e.reason else "") + (f": {quoted}" if quoted else "")
        if 300 <= e.code < 400:
            text += " (the endpoint redirects; configure the final URL)"
        wait = 0.0
        if e.code == 429:
            try:
                wait = min(RETRY_AFTER_MAX, float(e.headers.get("Retry-After") or 0))
            except ValueError:
                wait = 0.0
        raise WebhookError(text, retry=e.code >= 500 or e.code == 429, wait=wait) from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise WebhookError(f"no answer within {timeout:g} s") from None
        if isinstance(reason, ssl.SSLError):
            raise WebhookError(f"TLS failed: {getattr(reason, 'reason', None) or reason}") from None
        if isinstance(reason, socket.gaierror):
            raise WebhookError(f"cannot resolve the host: {reason.strerror or reason}", retry=True) from None
        if isinstance(reason, OSError):
            raise WebhookError(f"cannot connect: {reason.strerror or reason}", retry=True) from None
        raise WebhookError(f"cannot post: {reason}") from None
    except TimeoutError:
        raise WebhookError(f"no answer within {timeout:g} s") from None
    except ConnectionError as e:  # the connection dropped before an answer
        raise WebhookError(f"connection lost: {e.strerror or type(e).__name__}", retry=True) from None
    except (http.client.HTTPException, OSError, ValueError) as e:
        raise WebhookError(f"cannot post: {type(e).__name__}: {e}") from None


def post(url: str, body: bytes, timeout: float) -> int:
    """POST `body` as JSON; returns the number of attempts. Raises WebhookError (its text never holds the URL)."""
    attempts = 1 + len(RETRY_DELAYS)
    for attempt in range(1, attempts + 1):
        try:
            _post_once(url, body, timeout)
            return attempt
        except WebhookError as e:
            if not e.retry or attempt == attempts:
                tries = f" ({attempt} attempts)" if attempt > 1 else ""
                raise WebhookError(_scrub(str(e), url) + tries) from None
            time.sleep(max(RETRY_DELAYS[attempt - 1], e.wait))
    raise AssertionError("unreachable")


def endpoint(settings: WebhookSettings) -> str:
    """The URL from the variable the config names. Raises WebhookError naming the variable, never the value."""
    var = settings.url_env
    url = os.environ.get(var, "").strip()
    if not url:
        raise WebhookError(f"the environment variable {var} is {'empty' if var in os.environ else 'not set'}")
    if unsafe_url(url):  # the config refuses it too; the variable may have been set since
        raise WebhookError(f"the environment variable {var} holds a URL with a control character or a space; "
                           "its value is not shown")
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unbalanced [ in the host, say
        ok = False
    if not ok:
        raise WebhookError(f"the environment variable {var} does not hold an http(s) URL (its value is not shown)")
    return url


class WebhookChannel(Channel):
    """One configured webhook: `format: slack` (an incoming-webhook message) or `json` (the summary document)."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings

    @property
    def label(self) -> str:
        return f"webhook {self.settings.url_env}"

    @classmethod
    def configure(cls, cfg: UserConfig, cfg_path: Path | None, options: ChannelOptions) -> list[Channel]:
        return [cls(w) for w in cfg.webhooks] if options.deliver else []

    def payload(self, run: FinishedRun) -> bytes:
        from auditor.outputs.formats.summary_base import SummaryView

        view = SummaryView(run.document, run.top_fix)
        if self.settings.format == "json":
            from auditor.outputs.formats.summary_json import compact

            return compact(view)
        from auditor.outputs.formats.summary_slack import slack_payload

        return json_text(slack_payload(view), separators=(",", ":")).encode("utf-8")

    def deliver(self, run: FinishedRun) -> Delivered:
        done = Delivered()
        when = self.settings.when
        if not any(run.wanted(r, when) for r in run.rows):
            done.said = f"nothing to post (when: {when})"
            return done
        try:
            url = endpoint(self.settings)
            body = self.payload(run)
            attempts = post(url, body, self.settings.timeout)
        except WebhookError as e:
            done.fail(str(e))
            return done
        except Exception as e:  # building the message failed (a bug): this webhook's failure, not the run's
            done.fail(f"cannot build the message: {describe(e)}")
            return done
        done.sent = 1
        retried = f" after {attempts} attempts" if attempts > 1 else ""
        done.said = f"posted the summary ({self.settings.format}){retried}"
        return done
