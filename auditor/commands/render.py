"""`audit render RESULT.json`: re-render a saved canonical result in another format, no API calls."""

from __future__ import annotations

import json

import click


@click.command("render")
@click.argument("result", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json", "html", "csv"]), default="html",
              show_default=True)
@click.option("--output", "-o", metavar="PATH", help="Write to PATH instead of stdout.")
def render_cmd(result: str, fmt: str, output: str | None) -> None:
    """Render a saved JSON result (from --format json) as a table, Markdown, HTML or CSV."""
    # A saved result is untrusted text like the API data it came from: every renderer neutralises it (control
    # characters, bidirectional overrides and lone surrogates never reach the output), and so does this message.
    from auditor.cli import render_documents
    from auditor.errors import ConfigError
    from auditor.text import printable

    try:
        with open(result, encoding="utf-8") as fh:
            data = json.load(fh)
        header = {k: data[k] for k in ("tool", "generated_at", "scoring")}
        clients, summary = data["clients"], data["summary"]
        if not isinstance(clients, list):
            raise TypeError("clients is not a list")
    except RecursionError:
        raise ConfigError(printable(f"{result}: not an auditor JSON result (nested too deeply)")) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        first = " ".join(str(e).split())[:200]
        raise ConfigError(printable(f"{result}: not an auditor JSON result ({type(e).__name__}: {first})")) from None
    # one client that is not a result is reported errored in its place; the saved summary stays as it was
    render_documents(header, clients, fmt, output, lambda rows: summary)
