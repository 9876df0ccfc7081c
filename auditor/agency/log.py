"""The run's lines on stderr: plain lines that cron mails and log files read; errors only with --quiet.

Every message is one line, always: control characters (CR, LF, ESC...) in client names or messages become "?"
(`auditor.text.printable`), so no untrusted text can forge a line or drive the terminal. While a progress bar is
drawn, lines go through it so they land above the bar instead of through it.
"""

from __future__ import annotations

import click

from auditor.progress import Progress
from auditor.text import printable


class Log:
    def __init__(self, quiet: bool = False, verbose: bool = False, bar: bool = False) -> None:
        self.quiet, self.verbose = quiet, verbose
        self.bar = bar and not quiet and not verbose  # a progress bar instead of a line per client (a terminal)
        self.progress: Progress | None = None  # set while the run loop draws its bar

    def _emit(self, line: str) -> None:
        line = printable(line)
        if self.progress is not None:
            self.progress.echo(line)
        else:
            click.echo(line, err=True)

    def info(self, msg: str) -> None:
        if not self.quiet:
            self._emit(f"audit: {msg}")

    def detail(self, msg: str) -> None:
        """Only with --verbose."""
        if self.verbose and not self.quiet:
            self._emit(f"audit: {msg}")

    def warn(self, msg: str) -> None:
        if not self.quiet:
            self._emit(f"audit: warning: {msg}")

    def error(self, msg: str) -> None:
        self._emit(f"audit: error: {msg}")
