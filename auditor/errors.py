"""Errors that reach the user as one readable line (never a traceback)."""

from __future__ import annotations

import difflib


class AuditorError(Exception):
    """Base of every error the CLI turns into one line."""


class ConfigError(AuditorError):
    """Bad configuration or usage: exit 2."""


class FixtureError(AuditorError):
    """A recorded response that cannot be read: names the file and, where known, the field."""

    def __init__(self, file: str, message: str, field: str | None = None) -> None:
        self.file, self.field, self.message = file, field, message
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


class SourceError(AuditorError):
    """A live API call failed for one client (permission, quota, network...)."""


def suggest(name: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe(e: BaseException) -> str:
    """The cause of an exception nobody foresaw, on one line: an OS error's own words (the caller names the
    file), else its kind and the first 300 characters of what it said."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__
