"""Progress of a run of many clients on stderr: a bar on a terminal, nothing in cron (plain lines with -v)."""

from __future__ import annotations

import sys
from types import TracebackType

import click


class Progress:
    def __init__(self, total: int | None, *, enabled: bool, verbose: bool = False, label: str = "auditing") -> None:
        self.total, self.enabled, self.verbose, self.label = total, enabled and (total or 0) > 1, verbose, label
        self.done = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def advance(self, name: str) -> None:
        self.done += 1
        if self.verbose:
            click.echo(f"audit: {self.label} {self.done}/{self.total or '?'}: {name}", err=True)
        elif self.enabled:
            sys.stderr.write(f"\r{self.label} {self.done}/{self.total}")
            sys.stderr.flush()

    def echo(self, line: str) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
        click.echo(line, err=True)
