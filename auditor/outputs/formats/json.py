"""The canonical result, written incrementally: header, each client as it is audited, then the summary."""

from __future__ import annotations

from auditor.outputs.base import Format
from auditor.result import ClientResult, Header, Summary
from auditor.text import json_text


class JsonFormat(Format):
    name = "json"

    def begin(self, header: Header) -> None:
        super().begin(header)
        body = json_text(header.to_json(), indent=2)
        self.out.write(body[:-2] + ',\n  "clients": [')
        self.first = True

    def client(self, result: ClientResult) -> None:
        text = json_text(result.to_json(), indent=2).replace("\n", "\n    ")
        self.out.write(("\n    " if self.first else ",\n    ") + text)
        self.first = False

    def end(self, summary: Summary) -> None:
        text = json_text(summary.to_json(), indent=2).replace("\n", "\n  ")
        self.out.write(("\n  ]" if not self.first else "]") + ',\n  "summary": ' + text + "\n}\n")
