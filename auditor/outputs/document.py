"""Rendering a whole document from a stream of client results: the one path `audit`, `audit render` and agency
runs share. Each client is rendered whole or not at all, so a failure in one client's rendering never leaves a
broken document (a JSON above all)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from auditor.outputs import format_class
from auditor.outputs.options import RenderOptions
from auditor.result import ClientResult, Header, Summary, SummaryRow


class _Staged(io.TextIOBase):
    """What a format writes for one client, held until the whole of it rendered."""

    def __init__(self, target: TextIO) -> None:
        self.target, self.parts = target, []

    @property
    def buffer(self) -> Any:  # a binary format writes its bytes through the real stream at `end`
        return self.target.buffer

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        self.parts.append(text)
        return len(text)

    def commit(self) -> None:
        text, self.parts = "".join(self.parts), []
        if text:
            self.target.write(text)

    def rollback(self) -> None:
        self.parts = []


def write_report(output: str | None, fmt: str, header: Header, results: Iterable[Any],
                 options: RenderOptions | None = None,
                 on_client: Callable[[ClientResult], None] | None = None) -> list[SummaryRow]:
    """`render_stream` into `output` (a file written atomically; stdout for None or "-"). A report that cannot be
    written is one OSError naming it (the disk is full, a folder is not writable)."""
    from auditor.files import output_stream

    try:
        with output_stream(output) as out:
            return render_stream(out, fmt, header, results, options=options, on_client=on_client)
    except OSError as e:
        if e.filename is None:
            raise OSError(e.errno, e.strerror or str(e), output if output and output != "-" else "stdout") from None
        raise


def write_document(out: TextIO, fmt: str, header: Header, clients: Iterable[ClientResult],
                   options: RenderOptions | None = None) -> list[SummaryRow]:
    """A whole report of `clients` in format `fmt`, as `audit --format FMT` writes it, with their summary."""
    return render_stream(out, fmt, header, clients, options=options)


def render_stream(out: TextIO, fmt: str, header: Header, results: Iterable[Any],
                  summary: Callable[[list[SummaryRow]], Summary] = Summary.of,
                  options: RenderOptions | None = None,
                  on_client: Callable[[ClientResult], None] | None = None) -> list[SummaryRow]:
    """Render client results as one document; returns their summary rows. `on_client` sees each result once it
    is rendered (errors and warnings go to the user from there).

    A client that cannot be rendered (or is not a result at all) is reported as errored in its place."""
    from auditor.audit import error_result, unforeseen
    from auditor.text import printable

    staged = _Staged(out)
    fmt_obj = format_class(fmt)(staged, options)
    fmt_obj.begin(header)
    staged.commit()
    rows: list[SummaryRow] = []
    for r in results:
        state = fmt_obj.state()  # a format's own flags (JSON's "first client") go back on failure
        try:
            if not isinstance(r, ClientResult):
                raise TypeError(f"not a client result: {type(r).__name__}")
            row = SummaryRow.of(r)
            fmt_obj.client(r)
            staged.commit()
        except Exception as e:  # one client's report, never the run's
            staged.rollback()
            fmt_obj.restore(state)
            name = getattr(r, "name", None)
            r = error_result(printable(name if isinstance(name, str) else "?"),
                             [unforeseen(fmt, e, "could not be rendered")])
            row = SummaryRow.of(r)
            fmt_obj.client(r)
            staged.commit()
        if on_client is not None:
            on_client(r)
        rows.append(row)
    fmt_obj.end(summary(rows))
    staged.commit()
    return rows
