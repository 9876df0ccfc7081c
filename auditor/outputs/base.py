"""The two interfaces of auditor.outputs.

A **Format** turns results into one document, client by client, so reports stream: `begin(header)`, then
`client(result)` for each client as it is audited, then `end(summary)`. It writes text to `out`; a binary
format (PDF) sets `binary = True` and writes bytes to `out.buffer` at `end`. A format keeps no state that a
failed `client` call leaves half-changed beyond what `state()`/`restore()` put back (the CLI renders each
client whole or not at all).

A **Channel** delivers a finished agency run (e-mail, a webhook). See auditor.outputs.channels.
"""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

from auditor.result import ClientResult, Header, Summary


class Format:
    name: ClassVar[str] = ""
    binary: ClassVar[bool] = False

    def __init__(self, out: TextIO, options: Any = None) -> None:
        """`options`: an `auditor.outputs.options.RenderOptions` (terminal width, colour, branding), or None."""
        from auditor.outputs.options import RenderOptions

        self.out = out
        self.options: RenderOptions = options or RenderOptions()

    def begin(self, header: Header) -> None:
        self.header = header

    def client(self, result: ClientResult) -> None:
        raise NotImplementedError

    def end(self, summary: Summary) -> None:
        pass

    def state(self) -> dict[str, Any]:
        return dict(vars(self))

    def restore(self, state: dict[str, Any]) -> None:
        vars(self).clear()
        vars(self).update(state)
