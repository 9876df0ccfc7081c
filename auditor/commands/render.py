"""`audit render RESULT.json`: re-render a saved canonical result in another format, no API calls."""

from __future__ import annotations

from dataclasses import replace

import click

from auditor.commands.common import Verbosity, fail_options, inherited, output_path, verbosity_options
from auditor.conventions import FORMATS


@click.command("render")
@click.argument("result", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format, as `audit` takes it (pdf needs Chromium).")
@click.option("--output", "-o", metavar="PATH", help="Write to PATH (atomically) instead of stdout; a folder gets "
              "<result name>.<ext> in it.")
@fail_options
@verbosity_options
@click.pass_context
def render_cmd(ctx: click.Context, result: str, fmt: str, output: str | None, fail_on: str | None,
               min_score: int | None, quiet: bool, verbose: bool, no_color: bool) -> None:
    """Render a saved JSON result (from --format json, or an agency run's clients/<name>.json) as a table,
    Markdown, HTML, CSV, PDF or JSON of this version's schema. Exit codes as `audit`'s: 3 when a client could not
    be read (or was saved errored or incomplete), else 1 when a finding at or above --fail-on (default low)
    remains or a score is below --min-score, else 0."""
    # A saved result is untrusted text like the API data it came from: it is validated against the result schema
    # before anything is rendered, every renderer neutralises its strings, and so do the messages below.
    from auditor.conventions import exit_code
    from auditor.outputs.document import write_report
    from auditor.outputs.options import RenderOptions, terminal_width
    from auditor.result import SCHEMA_VERSION, ClientResult
    from auditor.result_schema import load_document
    from auditor.text import printable

    verbosity = Verbosity.of(quiet, verbose, no_color)
    if fmt == "pdf":
        from auditor.outputs.formats.pdf import require_engine

        require_engine()  # exit 2 with what to install, before the file is read
    from pathlib import Path

    output = output_path(output, fmt, Path(result).stem)  # a folder gets the default name; a missing one is exit 2
    header, clients = load_document(result)
    # the clients are written in this version's shape (schema 1 documents gain the members schema 2 added)
    header = replace(header, schema_version=SCHEMA_VERSION)
    options = RenderOptions(width=terminal_width(), color=verbosity.color, single=len(clients) == 1)

    def told(r: ClientResult) -> None:
        for e in r.errors:  # errors are shown even with --quiet
            click.echo(printable(f"audit: error: client {r.name}: {e}"), err=True)
        if verbosity.verbose:
            click.echo(printable(f"audit: rendered {r.name}"), err=True)

    rows = write_report(output, fmt, header, clients, options, on_client=told)
    if output and output != "-" and not verbosity.quiet:
        click.echo(printable(f"audit: wrote {output} ({len(rows)} client(s))"), err=True)
    # an error line on stderr is an incomplete rendering: a cron job must not read it as a clean one (3, which
    # wins over 1); findings at or above the fail level are 1, as `audit` exits on the same result
    ctx.exit(exit_code(rows, inherited(ctx, "fail_on", fail_on) or "low", inherited(ctx, "min_score", min_score)))
