"""One definition of what the command line and the config share: report formats, fail levels, exit codes.

Exit codes (every command):
  0  nothing at or above the fail level
  1  findings at or above the fail level, or a client scored below --min-score
  2  usage or configuration error (nothing audited), or a missing PDF engine
  3  audit incomplete: a client could not be read or a rule crashed (wins over 1)
  4  `audit run` / `audit merge`: every report written, but a channel (e-mail, webhook) failed (wins over 3 and 1)
  5  `audit run`: another run holds the output folder's lock; nothing done
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from auditor.result import SEVERITIES, SummaryRow

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_DELIVERY, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

FAIL_LEVELS = (*SEVERITIES, "never")
FailLevel = Literal["critical", "high", "medium", "low", "info", "never"]

# Report formats: name -> (file extension, the `auditor.outputs.base.Format` class that writes it, imported only
# when used). Adding a format is one module under auditor/outputs/formats/ and one line here.
FORMAT_REGISTRY: dict[str, tuple[str, str]] = {
    "table": ("txt", "auditor.outputs.formats.table:TableFormat"),
    "markdown": ("md", "auditor.outputs.formats.markdown:MarkdownFormat"),
    "json": ("json", "auditor.outputs.formats.json:JsonFormat"),
    "html": ("html", "auditor.outputs.formats.html:HtmlFormat"),
    "csv": ("csv", "auditor.outputs.formats.csv:CsvFormat"),
    "pdf": ("pdf", "auditor.outputs.formats.pdf:PdfFormat"),
}
FORMATS = tuple(FORMAT_REGISTRY)
FORMAT_EXTENSIONS = {name: ext for name, (ext, _) in FORMAT_REGISTRY.items()}
Format = Literal[FORMATS]  # type: ignore[valid-type]  (the config validates output.formats against it)


def exit_code(rows: Iterable[SummaryRow], fail_on: str, min_score: int | None) -> int:
    """The exit code of an audit of these clients (3 wins over 1)."""
    rows = list(rows)
    if any(r.status != "ok" for r in rows):
        return EXIT_INCOMPLETE
    if fail_on != "never":
        levels = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        if any(r.counts.get(s, 0) for r in rows for s in levels):
            return EXIT_FINDINGS
    if min_score is not None and any(r.score is not None and r.score < min_score for r in rows):
        return EXIT_FINDINGS
    return EXIT_OK
