"""summary.json: the summary document itself (its keys are those summary.json always had)."""

from __future__ import annotations

from typing import TextIO

from auditor.outputs.formats.summary_base import SummaryFormat, SummaryView
from auditor.text import json_text


class SummaryJson(SummaryFormat):
    name = "json"

    def write(self, out: TextIO, view: SummaryView) -> None:
        out.write(json_text(view.document.to_json(), indent=2) + "\n")


def compact(view: SummaryView) -> bytes:
    """The same document without indentation (a third of the size): the e-mail attachment, the JSON webhook."""
    return json_text(view.document.to_json(), separators=(",", ":")).encode("utf-8")
