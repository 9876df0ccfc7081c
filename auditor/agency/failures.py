"""What can go wrong in an agency run, and which failures stop it.

One client's failure never stops a run: it makes that client errored. Only a failure of the run itself does
(`RunFailed`): the output folder, a full disk or read-only file system, the history database.
"""

from __future__ import annotations

import errno
from pathlib import Path

from auditor.errors import AuditorError, describe

# errors of the file system, not of one client: every later write would fail the same way, so the run stops
STOPS_RUN = frozenset(e for e in (errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", None)) if e is not None)


class RunFailed(AuditorError):
    """The run itself cannot go on (output folder, disk or history database unusable). One line naming the path
    and the cause; the run exits 3 and is never marked complete in the history."""


class ClientFileError(Exception):
    """One of a client's reports could not be rendered or written: names the file and keeps the cause (or, for a
    rendering that failed inside the document writer, what it said)."""

    def __init__(self, path: Path, cause: BaseException | None, reason: str | None = None) -> None:
        super().__init__(f"{path}: {reason or describe(cause or Exception())}")
        self.path, self.cause, self.reason = path, cause, reason

    def describe(self) -> str:
        return self.reason or describe(self.cause or Exception())


def stops_run(e: BaseException | None) -> bool:
    return isinstance(e, OSError) and e.errno in STOPS_RUN
