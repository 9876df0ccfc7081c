"""`audit merge`: combine the shard results of `audit run --shard K/N` into one summary, delivered once."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.commands.common import Verbosity, fail_options, inherited, verbosity_options
from auditor.outputs.channels import WHEN


@click.command("merge")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR|FILE]...")
@click.option("--config", "config", metavar="FILE", help="Agency config: output, recipients, email, webhooks "
              "(default: .auditor.yaml, else [tool.auditor] in pyproject.toml, in the working directory).")
@click.option("--output", "-o", metavar="DIR", help="Where the summary goes (default: output.dir of the config).")
@click.option("--email-on", type=click.Choice(WHEN), help="When to e-mail (default: email.when of the config).")
@click.option("--no-email", is_flag=True, help="Write the summary, send no e-mail (webhooks still post).")
@fail_options
@verbosity_options
@click.pass_context
def merge_cmd(ctx: click.Context, inputs: tuple[Path, ...], config: str | None, output: str | None,
              email_on: str | None, no_email: bool, fail_on: str | None, min_score: int | None, quiet: bool,
              verbose: bool, no_color: bool) -> None:
    """Merge shard-K-of-N.json files (from folders or files; default: the output folder) into summary.json,
    summary.csv and summary.html, then send the summary and per-owner e-mails and post to the webhooks once.

    Every shard 1..N must be present. Per-client reports are read where each shard wrote them. Exit codes as
    for `audit run`; a missing or mismatched shard is a usage error (2).
    """
    from auditor.agency.log import Log
    from auditor.agency.merge import merge
    from auditor.agency.settings import load_settings

    verbosity = Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                             inherited(ctx, "no_color", no_color))
    st = load_settings(inherited(ctx, "config", config), output=output, email_on=email_on, no_email=no_email,
                       fail_on=inherited(ctx, "fail_on", fail_on), min_score=inherited(ctx, "min_score", min_score),
                       no_history=True, merging=True)
    ctx.exit(merge(st, list(inputs) or [st.out_dir], Log(verbosity.quiet, verbosity.verbose)))
