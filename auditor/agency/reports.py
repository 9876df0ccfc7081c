"""The files a run writes: each client's reports (clients/<stem>.<ext>, one per format) and the run's own files
(the summary in every chosen format, or a shard's shard-K-of-N.json). Every file is written atomically."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from auditor.agency.failures import ClientFileError, RunFailed
from auditor.agency.summary import SummaryDocument
from auditor.conventions import FORMAT_EXTENSIONS
from auditor.errors import describe
from auditor.outputs.formats.summary_base import SummaryView, summary_format
from auditor.outputs.options import RenderOptions
from auditor.result import ClientResult, Header

CLIENTS_DIR = "clients"
SUMMARY_ALWAYS = ("json", "csv")  # the summary's e-mail attachments: written whatever the formats


def write_client(out_dir: Path, result: ClientResult, header: Header, formats: list[str], stem: str,
                 options: RenderOptions, *, strict: bool = True) -> dict[str, Path]:
    """Each chosen rendering of one client (the document `audit --format X` writes for it), written atomically as
    clients/<stem>.<ext>. A rendering or write that fails raises ClientFileError naming the file; with
    strict=False it is skipped (the previous version of that file stays) and the others are written."""
    from auditor.files import atomic_writer, fsync_dir
    from auditor.outputs.document import render_stream

    folder = out_dir / CLIENTS_DIR
    paths = {}
    try:
        for fmt in formats:
            path = folder / f"{stem}.{FORMAT_EXTENSIONS[fmt]}"
            try:
                with atomic_writer(path, sync_dir=False) as fh:
                    rendered: list[ClientResult] = []
                    render_stream(fh, fmt, header, [result], options=options, on_client=rendered.append)
                    if rendered[0] is not result:  # the document writer put an error in its place: say why
                        raise ClientFileError(path, None, _rendering_error(fmt, rendered[0]))
            except ClientFileError:
                if strict:
                    raise
                continue
            except Exception as e:
                if strict:
                    raise ClientFileError(path, e) from e
                continue
            paths[fmt] = path
    finally:
        if paths:
            fsync_dir(folder)  # once for the client's files: the renames are durable
    return paths


def _rendering_error(fmt: str, placeholder: ClientResult) -> str:
    """The cause the document writer recorded for a client it could not render ('ZeroDivisionError: ...')."""
    said = placeholder.errors[-1] if placeholder.errors else "could not be rendered"
    prefix = f"{fmt}: could not be rendered: "  # auditor.audit.unforeseen's wording
    return said[len(prefix):] if said.startswith(prefix) else said


@contextlib.contextmanager
def run_file(path: Path, what: str) -> Iterator[TextIO]:
    """Write one of the run's own files (summary, shard file) atomically; any failure stops the run: RunFailed
    naming the file and the cause (the previous version of the file stays)."""
    from auditor.files import atomic_writer

    try:
        with atomic_writer(path) as fh:
            yield fh
    except RunFailed:
        raise
    except Exception as e:
        raise RunFailed(f"{path}: cannot write {what}: {describe(e)}") from None


def write_shard_file(path: Path, doc: SummaryDocument) -> None:
    """shard-K-of-N.json: the shard's summary document, for `audit merge`."""
    from auditor.outputs.formats.summary_json import SummaryJson

    with run_file(path, "the shard file") as fh:
        SummaryJson().write(fh, SummaryView(doc))


def write_summary(out_dir: Path, doc: SummaryDocument, formats: list[str], top_fix: str | None = None) -> list[Path]:
    """summary.json and summary.csv always (they are the e-mail attachments), plus html, md and txt as chosen
    (a format without a summary, pdf, writes none). Raises RunFailed naming the file that could not be written."""
    view = SummaryView(doc, top_fix)
    written = []
    for name in dict.fromkeys([*SUMMARY_ALWAYS, *formats]):
        fmt = summary_format(name)
        if fmt is None:
            continue
        path = out_dir / fmt.file_name
        with run_file(path, "the summary") as fh:
            fmt.write(fh, view)
        written.append(path)
    return written
