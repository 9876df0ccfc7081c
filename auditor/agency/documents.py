"""Reading the JSON results a run wrote (owners' e-mails re-read each client's report) and the ones `audit diff`
compares: through `auditor.result_schema`, so a damaged or foreign file is refused with one line naming the
offending field."""

from __future__ import annotations

from pathlib import Path

from auditor.result import ClientResult, Header
from auditor.result_schema import load_client_file, load_document


def read_document(path: Path) -> tuple[Header, list[ClientResult]]:
    """A saved JSON result: its header and its clients. Raises ConfigError with a one-line reason."""
    return load_document(path)


def read_client(path: Path) -> ClientResult:
    """The one client of a client's report (clients/<name>.json)."""
    return load_client_file(path)
