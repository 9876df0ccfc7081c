"""Progress of a run of many clients, on stderr only: a bar on a terminal, plain lines with -v, nothing in cron.

    with Progress(len(targets), enabled=verbosity.progress, verbose=verbosity.verbose) as progress:
        for r in results:
            progress.echo("audit: error: ...")   # a line above the bar; the bar is drawn again below it
            progress.advance(r.name)             # one more client done

The bar is one line, redrawn in place (carriage return, erase line), never wider than the terminal and
cleared at the end, so what stays on screen is only what was echoed:

    auditing [##########----------] 3/6 eta 0:04  brightcart-home

When the report itself goes to the same terminal (`audit --offline DIR` in a shell), whatever is written to
stdout first clears the bar, so the report is never written over it; the bar comes back with the next client.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any, TextIO

from auditor.text import printable

_REDRAW = 0.1  # seconds between redraws of a run of many fast clients (the last state is always drawn)
_CLEAR = "\r\x1b[K"


class Progress:
    def __init__(self, total: int | None, *, enabled: bool, verbose: bool = False, label: str = "auditing") -> None:
        """`enabled`: stderr is a terminal and the user did not ask for quiet; a bar is drawn only for more than
        one client. `verbose`: one plain line per client instead of the bar (logs, screen readers)."""
        self.total, self.verbose, self.label = total, verbose, label
        self.enabled = enabled and not verbose and (total or 0) > 1  # a bar is drawn
        self.done = 0
        self.current = ""
        self.shown = False  # the bar is on screen now
        self.started, self.drawn_at = time.monotonic(), 0.0
        self._stdout: TextIO | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._guard_stdout()
            self._draw(force=True)
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.clear()
        if self._stdout is not None and isinstance(sys.stdout, _ClearsBar):
            sys.stdout = self._stdout
        self._stdout = None

    def advance(self, name: str) -> None:
        """One more client done: `name`'s."""
        self.done += 1
        self.current = printable(name)
        if self.verbose:
            self._line(f"audit: {self.label} {self.done}/{self.total or '?'}: {self.current}")
        elif self.enabled:
            self._draw(force=self.done == self.total)

    def echo(self, line: str) -> None:
        """A line for the user (an error, a warning), above the bar; printed whether or not a bar is drawn."""
        was = self.shown
        self.clear()
        self._line(line)
        if was:
            self._draw(force=True)

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            _write(_CLEAR)

    def _line(self, line: str) -> None:
        _write(line + "\n")

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self.shown and now - self.drawn_at < _REDRAW:
            return
        self.drawn_at = now
        self.shown = True
        _write(_CLEAR + bar_line(self.label, self.done, self.total or 0, self.current, _columns() - 1,
                                 now - self.started))

    def _guard_stdout(self) -> None:
        """When stdout is this terminal too, clear the bar before anything is written there (the report)."""
        if _same_terminal(sys.stdout, sys.stderr):
            self._stdout = sys.stdout
            sys.stdout = _ClearsBar(sys.stdout, self)


def bar_line(label: str, done: int, total: int, name: str, width: int, elapsed: float = 0.0) -> str:
    """'auditing [####------] 3/6 eta 0:04  name', at most `width` characters: the client's name is cut first,
    then the time left, then the bar itself."""
    count = f" {done}/{total}"
    eta = f" eta {_clock(elapsed / done * (total - done))}" if 0 < done < total and elapsed >= 1 else ""
    cells = max(0, min(30, (width - len(label) - len(count) - len(eta)) // 3))
    bar = ""
    if cells >= 5:
        filled = cells * done // total if total else 0
        bar = f" [{'#' * filled}{'-' * (cells - filled)}]"
    line = f"{label}{bar}{count}{eta}"
    if len(line) > width:
        line = f"{label}{count}"
    room = width - len(line) - 2
    if name and room >= 4:
        line += "  " + (name if len(name) <= room else name[:room - 3] + "...")
    return line[:max(0, width)]


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}" if s >= 3600 else f"{s // 60}:{s % 60:02}"


def _write(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone (a terminal hung up): progress is not worth failing for
        pass


def _columns() -> int:
    """The columns of the terminal stderr is on."""
    from auditor.outputs.options import terminal_width

    return terminal_width(sys.stderr)


def _same_terminal(a: Any, b: Any) -> bool:
    try:
        if not (a.isatty() and b.isatty()):
            return False
        return os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


class _ClearsBar:
    """stdout while a bar is drawn on the same terminal: each write clears the bar first, and is flushed so the
    report is on screen before the bar comes back. Everything else is the real stream's."""

    def __init__(self, stream: TextIO, progress: Progress) -> None:
        self._stream, self._progress = stream, progress

    def write(self, text: str) -> int:
        if text:
            self._progress.clear()
        n = self._stream.write(text)
        self._stream.flush()
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
