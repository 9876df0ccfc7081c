"""`audit merge`: combine the shard results of `audit run --shard K/N` into one summary and one e-mail."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.commands.run import FAIL_LEVELS, inherited


@click.command("merge")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR|FILE]...")
@click.option("--config", "config", metavar="FILE", help="Agency config: output, recipients, email.")
@click.option("--output", "-o", metavar="DIR", help="Where the summary goes (default: output.dir of the config).")
@click.option("--email-on", type=click.Choice(["always", "change", "failure"]),
              help="When to e-mail (default: email.when of the config).")
@click.option("--no-email", is_flag=True, help="Write the summary, send nothing.")
@click.option("--fail-on", type=click.Choice(FAIL_LEVELS), help="Exit 1 when a finding at or above this severity "
              "remains (default: defaults.fail_on, else low).")
@click.option("--min-score", type=click.IntRange(0, 100), metavar="N", help="Exit 1 when a client scores below N.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors on stderr.")
@click.pass_context
def merge_cmd(ctx: click.Context, inputs: tuple[Path, ...], config: str | None, output: str | None,
              email_on: str | None, no_email: bool, fail_on: str | None, min_score: int | None, quiet: bool) -> None:
    """Merge shard-K-of-N.json files (from folders or files; default: the output folder) into summary.json,
    summary.csv and summary.html, then send the summary and per-owner e-mails once.

    Every shard 1..N must be present. Per-client reports are read where each shard wrote them. Exit codes as
    for `audit run`; a missing or mismatched shard is a usage error (2).
    """
    from auditor.agency import Log, load_settings, merge

    st = load_settings(inherited(ctx, "config", config), output=output, email_on=email_on, no_email=no_email,
                       fail_on=inherited(ctx, "fail_on", fail_on), min_score=inherited(ctx, "min_score", min_score),
                       no_history=True, merging=True, quiet=quiet)
    ctx.exit(merge(st, list(inputs) or [st.out_dir], Log(quiet)))
