"""Webhooks end to end: `audit run` in a subprocess posting to a real HTTP server on loopback (http.server in a
thread, recording every request), with the URL taken from the environment variable the config names; Slack and
JSON payloads, failures (HTTP 500, connection refused, timeout, no variable) that exit 4 with every report on
disk and one log line naming the variable (never the URL), `when: change`, and webhooks beside e-mail."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from builders import add_weak_key_event

from tests.test_email import SmtpSink, free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ["harbor-dental", "keystone-legal", "northwind-outfitters"]
VAR = "AUDITOR_TEST_HOOK"
SECRET = "/services/T0AGENCY/B0HOOK/s3cretTOKENxyz"  # the part of a Slack webhook URL that authorises posting


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Hook:
    """What the endpoint answers, and every request it got."""

    status: int = 200
    answer: bytes = b"ok"
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a timeout)
    requests: list[Posted] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def hook_server(**kw: Any) -> Iterator[tuple[str, Hook]]:
    """A webhook endpoint on loopback: yields (its base URL, its Hook)."""
    hook = Hook(**kw)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append(Posted(self.path, dict(self.headers), body))
            if hook.delay:
                hook.release.wait(hook.delay)
            self.send_response(hook.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(hook.answer)))
            self.end_headers()
            self.wfile.write(hook.answer)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client gave up (a timeout): its socket is gone

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()


def fixtures(tmp_path: Path, names: list[str] = CLIENTS) -> Path:
    dst = tmp_path / "fx"
    for n in names:
        shutil.copytree(ROOT / "fixtures" / n, dst / n)
    return dst


def config(tmp_path: Path, hooks: str, extra: str = "") -> Path:
    p = tmp_path / "agency.yaml"
    p.write_text("output:\n  dir: out\n  formats: [json, html, csv]\nwebhooks:\n" + hooks + extra, encoding="utf-8")
    return p


def hook_entry(var: str = VAR, fmt: str = "slack", when: str = "always", timeout: float = 5) -> str:
    return f"  - url_env: {var}\n    format: {fmt}\n    when: {when}\n    timeout: {timeout}\n"


def audit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != VAR}
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120)


def run(tmp_path: Path, cfg: Path, env: dict[str, str] | None = None, *more: str) -> subprocess.CompletedProcess:
    return audit("run", "--config", str(cfg), "--offline", str(tmp_path / "fx"), *more, cwd=tmp_path, env=env)


def summary(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out/summary.json").read_text())


def assert_every_report_on_disk(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in CLIENTS:
        for ext in ("json", "html", "csv"):
            assert (out / "clients" / f"{name}.{ext}").is_file(), (name, ext)
    for f in ("summary.json", "summary.csv", "summary.html"):
        assert (out / f).is_file(), f
    import sqlite3

    with sqlite3.connect(out / "history.sqlite") as db:  # a delivery failure does not undo a complete run
        assert db.execute("SELECT status FROM runs").fetchall() == [("complete",)]


# -- payloads ----------------------------------------------------------------------------------------------------

def test_slack_message_with_the_url_from_the_named_variable(tmp_path):
    fixtures(tmp_path)
    cfg = config(tmp_path, hook_entry())
    with hook_server() as (base, hook):
        p = run(tmp_path, cfg, {VAR: base + SECRET}, "--no-email")  # --no-email: webhooks still post
    assert p.returncode == 1, p.stderr
    (req,) = hook.requests
    assert req.path == SECRET  # the URL came from the variable
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["User-Agent"].startswith("auditor/")
    msg = req.json()
    assert set(msg) == {"text", "blocks"} and msg["text"].startswith("Conversion audit: 3 client(s)")
    header, lines, worst, context = msg["blocks"]
    day = summary(tmp_path)["generated_at"][:10]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": f"Conversion audit: 3 client(s), {day}"}}
    three = lines["text"]["text"].splitlines()
    assert lines["text"]["type"] == "mrkdwn" and len(three) == 3
    assert three[0].startswith("*3 clients, average score ") and three[0].endswith("*")
    assert three[1] == "First run: nothing to compare with yet."
    assert three[2].startswith("Fix first: ")
    ranked = [c["name"] for c in summary(tmp_path)["clients"]]
    shown = worst["text"]["text"].splitlines()
    assert shown[0] == "*Worst clients*" and len(shown) == 4
    for line, name, row in zip(shown[1:], ranked, summary(tmp_path)["clients"], strict=True):
        assert line.startswith(f"\u2022 *{name}*: {row['score']}/100 ({row['grade']}), score change first run")
    assert context["type"] == "context"
    assert f"webhook {VAR}: posted the summary (slack)" in p.stderr
    assert "s3cretTOKEN" not in p.stderr and base not in p.stderr


def test_json_webhook_posts_the_summary_document(tmp_path):
    fixtures(tmp_path)
    cfg = config(tmp_path, hook_entry(fmt="json"))
    with hook_server() as (base, hook):
        p = run(tmp_path, cfg, {VAR: base + "/hooks/audit"})
    assert p.returncode == 1, p.stderr
    (req,) = hook.requests
    assert req.path == "/hooks/audit" and req.headers["Content-Type"].startswith("application/json")
    assert req.json() == summary(tmp_path)  # the same document as summary.json
    assert b"\n" not in req.body  # compact


def test_untrusted_names_are_escaped_for_slack():
    from auditor.outputs.formats.summary_base import SummaryView
    from auditor.outputs.formats.summary_slack import mrkdwn, slack_payload
    from tests.test_email import row, summary_doc

    evil = "<!channel> & <https://evil.example|click>\x1b[2J"
    doc = summary_doc([row(evil, 40, previous_score=60, delta=-20, new=1, trend=[60, 40]),
                       *(row(f"c{i}", 50 + i) for i in range(8))])
    msg = slack_payload(SummaryView(doc, top_fix=f"{evil}: rule (+15 points): fix <it>"))
    text = json.dumps(msg)
    assert "<!channel>" not in text and "<https://" not in text and "\\u001b" not in text
    assert mrkdwn(evil) == "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;?[2J"
    worst = msg["blocks"][2]["text"]["text"]
    assert f"*{mrkdwn(evil)}*: 40/100 (F), score change \u221220, 1 new finding" in worst
    lines = msg["blocks"][1]["text"]["text"].splitlines()
    assert lines[1].startswith(f"Got worse: {mrkdwn(evil)} (score \u221220, 1 new finding)")
    assert lines[2].endswith("fix &lt;it&gt;")
    assert "Score dropped" not in text  # the only drop is already among the worst


# -- failures: exit 4, every report on disk, one line naming the variable ----------------------------------------

@pytest.mark.parametrize("failure", ["http-500", "refused", "timeout", "unset", "not-a-url"])
def test_a_failing_webhook_exits_4_after_every_report(tmp_path, failure):
    fixtures(tmp_path)
    cfg = config(tmp_path, hook_entry(timeout=1))
    with hook_server(status=500 if failure == "http-500" else 200, answer=b"boom",
                     delay=10 if failure == "timeout" else 0) as (base, hook):
        url = {"refused": f"http://127.0.0.1:{free_port()}{SECRET}", "not-a-url": f"file:///etc{SECRET}"}.get(
            failure, base + SECRET)
        env = {} if failure == "unset" else {VAR: url}
        p = run(tmp_path, cfg, env)
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr
    assert_every_report_on_disk(tmp_path)
    (line,) = [x for x in p.stderr.splitlines() if VAR in x]  # one line, naming the variable
    assert line.startswith(f"audit: error: webhook {VAR}: ")
    assert line.endswith(f"1 of 1 message(s) not sent; every report is on disk in {tmp_path / 'out'} (exit 4)")
    assert "s3cretTOKEN" not in p.stderr and "T0AGENCY" not in p.stderr and url not in p.stderr
    reason = line.split(": ", 3)[3]
    if failure == "http-500":
        assert reason.startswith("HTTP 500 Internal Server Error: boom (3 attempts)")
        assert len(hook.requests) == 3  # retried twice
    elif failure == "refused":
        assert reason.startswith("cannot connect: Connection refused (3 attempts)")
    elif failure == "timeout":
        assert reason.startswith("no answer within 1 s;") and len(hook.requests) == 1  # never posted twice
    elif failure == "unset":
        assert reason.startswith(f"the environment variable {VAR} is not set;") and hook.requests == []
    else:
        assert reason.startswith(f"the environment variable {VAR} does not hold an http(s) URL")


def test_a_503_is_retried_then_posted(tmp_path):
    """A 503 then a 200: posted once it got through, said so, exit as without webhooks."""
    fixtures(tmp_path, ["harbor-dental"])
    cfg = config(tmp_path, hook_entry())
    with hook_server(status=503) as (base, hook):
        def recover() -> None:
            while not hook.requests:
                threading.Event().wait(0.05)
            hook.status = 200

        threading.Thread(target=recover, daemon=True).start()
        p = run(tmp_path, cfg, {VAR: base + SECRET})
    assert p.returncode == 1, p.stderr
    assert len(hook.requests) == 2 and hook.requests[0].body == hook.requests[1].body
    assert f"webhook {VAR}: posted the summary (slack) after 2 attempts" in p.stderr


# -- when ----------------------------------------------------------------------------------------------------------

def test_when_change_posts_nothing_when_nothing_changed(tmp_path):
    fx = fixtures(tmp_path)
    cfg = config(tmp_path, hook_entry(when="change"))
    with hook_server() as (base, hook):
        env = {VAR: base + SECRET}
        assert run(tmp_path, cfg, env).returncode == 1  # a first audit is a change
        assert len(hook.requests) == 1
        p = run(tmp_path, cfg, env)
        assert p.returncode == 1, p.stderr
        assert len(hook.requests) == 1 and f"webhook {VAR}: nothing to post (when: change)" in p.stderr
        add_weak_key_event(fx / "northwind-outfitters")
        assert run(tmp_path, cfg, env).returncode == 1
        assert len(hook.requests) == 2
    lines = hook.requests[1].json()["blocks"][1]["text"]["text"].splitlines()
    assert lines[1].startswith("Got worse: northwind-outfitters (score \u2212") and "1 new finding" in lines[1]


# -- beside e-mail -------------------------------------------------------------------------------------------------

def _email(port: int) -> str:
    return (f"email:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  sender: robot@agency.example\n"
            "  summary_to: [lead@agency.example]\n  timeout: 5\n")


def test_two_webhooks_and_email_together(tmp_path):
    fixtures(tmp_path)
    with hook_server() as (base, hook), smtp_server() as (ctl, sink):
        cfg = config(tmp_path, hook_entry() + hook_entry("AUDITOR_TEST_HOOK_JSON", "json"), _email(ctl.port))
        p = run(tmp_path, cfg, {VAR: base + "/slack", "AUDITOR_TEST_HOOK_JSON": base + "/json"})
    assert p.returncode == 1, p.stderr
    assert sorted(r.path for r in hook.requests) == ["/json", "/slack"]
    assert "blocks" in next(r for r in hook.requests if r.path == "/slack").json()
    assert next(r for r in hook.requests if r.path == "/json").json() == summary(tmp_path)
    assert [to for _, to, _ in sink.messages] == [["lead@agency.example"]]
    for said in ("email: sent 1 summary and 0 owner report(s)", f"webhook {VAR}: posted the summary (slack)",
                 "webhook AUDITOR_TEST_HOOK_JSON: posted the summary (json)"):
        assert said in p.stderr


def test_one_failing_webhook_stops_neither_the_other_nor_the_email(tmp_path):
    fixtures(tmp_path)
    with hook_server() as (base, hook), hook_server(status=500) as (bad, failing), \
            smtp_server(SmtpSink()) as (ctl, sink):
        cfg = config(tmp_path, hook_entry("AUDITOR_TEST_HOOK_BAD", timeout=1) + hook_entry(), _email(ctl.port))
        p = run(tmp_path, cfg, {"AUDITOR_TEST_HOOK_BAD": bad + SECRET, VAR: base + "/slack"})
    assert p.returncode == 4, p.stderr
    assert len(failing.requests) == 3 and [r.path for r in hook.requests] == ["/slack"]
    assert len(sink.messages) == 1
    errors = [x for x in p.stderr.splitlines() if x.startswith("audit: error:")]
    assert len(errors) == 1 and errors[0].startswith("audit: error: webhook AUDITOR_TEST_HOOK_BAD: HTTP 500")
    assert_every_report_on_disk(tmp_path)


# -- a URL holding control characters; a server that drips its answer ------------------------------------------

@pytest.mark.parametrize("dirt", ["\t", "\r\n", "\n"])
def test_a_url_with_control_characters_is_refused_at_config_time_without_showing_it(tmp_path, dirt):
    fixtures(tmp_path, ["harbor-dental"])
    cfg = config(tmp_path, hook_entry())
    url = "https://hooks.example/services/T0AGENCY/B0HOOK" + dirt + "s3cretTOKENxyz"
    p = run(tmp_path, cfg, {VAR: url})
    assert p.returncode == 2 and not (tmp_path / "out").exists()  # nothing audited, nothing posted
    (line,) = p.stderr.splitlines()
    assert f"the environment variable {VAR} holds a URL with a control character" in line
    assert "s3cret" not in p.stderr and "T0AGENCY" not in p.stderr and "hooks.example" not in p.stderr


def test_every_spelling_of_the_url_is_masked():
    from auditor.outputs.channels.webhook import _scrub

    raw = "https://hooks.example/services/T0AGENCY/B0\tHOOK/s3cret\r\nTOKEN?k=v"
    cleaned = raw.replace("\t", "").replace("\r\n", "")
    for said in (raw, cleaned, repr(raw), f"cannot post: InvalidURL: {raw!r}", "/services/T0AGENCY/B0HOOK/s3cretTOKEN"):
        line = _scrub(f"error: {said} (end)", raw)
        assert "s3cret" not in line and "T0AGENCY" not in line and "hooks.example" not in line, line
        assert "\n" not in line and "\t" not in line


@contextlib.contextmanager
def dripping_server(answer: bytes, every: float) -> Iterator[tuple[str, list[bytes]]]:
    """An endpoint that reads the request, then sends its answer a byte at a time, `every` seconds apart."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    stop = threading.Event()
    got: list[bytes] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    got.append(data)
                    for i in range(len(answer)):
                        if stop.wait(every):
                            return
                        conn.sendall(answer[i:i + 1])
                except OSError:
                    continue  # the client hung up: what the deadline should do

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}", got
    finally:
        stop.set()
        srv.close()


def test_a_server_that_drips_its_answer_is_a_failure_at_the_deadline_not_a_post(tmp_path):
    """Each byte comes well within the timeout (a per-read timeout never trips), the whole answer does not: the
    deadline covers the attempt from connecting to the last byte, so it fails, once, and is never 'posted'."""
    fixtures(tmp_path)
    cfg = config(tmp_path, hook_entry(timeout=1))
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    with dripping_server(answer, every=0.2) as (base, got):
        p = run(tmp_path, cfg, {VAR: base + SECRET})
    assert p.returncode == 4, p.stderr
    assert_every_report_on_disk(tmp_path)
    (line,) = [x for x in p.stderr.splitlines() if VAR in x]
    assert line.startswith(f"audit: error: webhook {VAR}: no answer within 1 s;")
    assert "posted" not in p.stderr and len(got) == 1  # not retried: the endpoint may have taken it
    assert "s3cretTOKEN" not in p.stderr
