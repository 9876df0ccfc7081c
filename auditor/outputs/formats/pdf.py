"""PDF: the HTML report printed to A4 by headless Chromium.

Why Chromium rather than WeasyPrint: it is the engine the browser tests check the HTML with (what passes there
is what gets printed), it needs no Python dependency (one Debian package, `chromium`), and it supports all the
CSS the report uses (grid, `overflow-wrap: anywhere`, `@page`, `break-inside`). The page's Content-Security-
Policy forbids every script, so the renderer runs no code from the report's data.

Only the standard library is imported here: the binary is looked up when `--format pdf` is asked
(`require_engine`, before anything is audited) and run once, at `end`, on the whole document.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from auditor.errors import AuditorError, ConfigError
from auditor.outputs.base import Format
from auditor.outputs.formats.html import HtmlFormat
from auditor.result import ClientResult, Header, Summary

ENGINE_ENV = "AUDITOR_CHROMIUM"
ENGINE_NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = ("--format pdf needs Chromium: install the Debian package `chromium` (apt-get install chromium) "
           f"or set {ENGINE_ENV} to a Chrome/Chromium binary")
PRINT_TIMEOUT = 120.0  # seconds for the whole document; a hung browser must not hang a scheduled run


class PrintError(AuditorError):
    """Chromium could not print the report (exit 3, like any output that could not be written)."""


def find_engine() -> str | None:
    """The Chromium binary: $AUDITOR_CHROMIUM when set (a path or a name on PATH), else the first of
    chromium, chromium-browser, google-chrome on PATH."""
    chosen = os.environ.get(ENGINE_ENV)
    if chosen:
        return shutil.which(chosen)
    return next((path for name in ENGINE_NAMES if (path := shutil.which(name))), None)


def require_engine() -> str:
    """The Chromium binary, or ConfigError (exit 2) saying what to install."""
    found = find_engine()
    if found:
        return found
    chosen = os.environ.get(ENGINE_ENV)
    cause = f"{ENGINE_ENV}={chosen!r} is not an executable; " if chosen else ""
    raise ConfigError(cause + INSTALL)


def _command(engine: str, page: Path, pdf: Path, profile: Path) -> list[str]:
    return [engine, "--headless", "--disable-gpu",
            "--no-sandbox",  # the sandbox needs user namespaces that containers and root lack; the CSP runs no script
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--mute-audio",
            f"--user-data-dir={profile}",  # a throw-away profile: no lock on, or change to, the user's browser
            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()]


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run Chromium in its own process group so that a timeout kills its renderer and GPU children too."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise PrintError(f"--format pdf: Chromium did not finish printing within {timeout:g} s") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _last_line(err: bytes) -> str:
    lines = [x.strip() for x in err.decode("utf-8", "replace").splitlines() if x.strip()]
    return " ".join(lines[-1].split())[:300] if lines else "no message"


def print_pdf(html: str, engine: str | None = None, timeout: float | None = None) -> bytes:
    """The PDF of an HTML document, printed by headless Chromium in a temporary folder."""
    engine = engine or require_engine()
    with tempfile.TemporaryDirectory(prefix="auditor-pdf-") as tmp:
        page, pdf = Path(tmp, "report.html"), Path(tmp, "report.pdf")
        page.write_text(html, encoding="utf-8")
        try:
            p = _run(_command(engine, page, pdf, Path(tmp, "profile")), timeout or PRINT_TIMEOUT)
        except OSError as e:
            raise PrintError(f"--format pdf: could not start {engine}: {e.strerror or e}") from None
        if p.returncode != 0:
            raise PrintError(f"--format pdf: {engine} exited with status {p.returncode}: {_last_line(p.stderr)}")
        data = pdf.read_bytes() if pdf.is_file() else b""
        if not data.startswith(b"%PDF"):
            raise PrintError(f"--format pdf: {engine} wrote no PDF: {_last_line(p.stderr)}")
        return data


class PdfFormat(Format):
    """The HTML format written into memory, printed at `end`, the PDF's bytes written to `out.buffer`."""

    name = "pdf"
    binary = True

    def __init__(self, out: TextIO, options: Any = None) -> None:
        super().__init__(out, options)
        self.html = io.StringIO()
        self.page = HtmlFormat(self.html, self.options)
        self.page.expand = True  # paper cannot open a <details>: the passed checks are printed listed
        self.seconds = 0.0  # how long the print took (the bench reports it)

    def begin(self, header: Header) -> None:
        super().begin(header)
        self.page.begin(header)

    def client(self, r: ClientResult) -> None:
        self.page.client(r)

    def end(self, summary: Summary) -> None:
        self.page.end(summary)
        sink = getattr(self.out, "buffer", None)
        if sink is None or sink.isatty():
            raise ConfigError("--format pdf writes binary data: give a file (-o report.pdf) or redirect stdout")
        start = time.monotonic()
        data = print_pdf(self.html.getvalue())
        self.seconds = time.monotonic() - start
        sink.write(data)
        sink.flush()

    # a client that failed half-way through rendering leaves nothing in the page (see Format.state)
    def state(self) -> dict[str, Any]:
        return {"vars": dict(vars(self)), "html_at": self.html.tell()}

    def restore(self, state: dict[str, Any]) -> None:
        vars(self).clear()
        vars(self).update(state["vars"])
        self.html.seek(state["html_at"])
        self.html.truncate()
