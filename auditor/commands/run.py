"""`audit run`: the agency run (every client of a config, reports, history, summary, e-mail and webhooks)."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.commands.common import (
    Verbosity,
    config_options,
    fail_options,
    inherited,
    selection_options,
    suppression_options,
    verbosity_options,
)
from auditor.outputs.channels import WHEN


@click.command("run")
@config_options
@selection_options
@click.option("--offline", type=click.Path(path_type=Path), metavar="DIR",
              help="Audit recorded responses: config clients map to DIR/<name>; with no clients in the config, "
                   "every client folder in DIR.")
@click.option("--output", "-o", metavar="DIR", help="Output folder (default: output.dir of the config).")
@click.option("--history", metavar="PATH", help="History database (default: history.path, or OUTPUT/history.sqlite).")
@click.option("--no-history", is_flag=True, help="Do not read or write history (no changes since last run).")
@suppression_options
@click.option("--shard", metavar="K/N", help="Audit only shard K of N (1-based; by a hash of the client name) and "
              "write shard-K-of-N.json for `audit merge`. Sends nothing.")
@click.option("--email-on", type=click.Choice(WHEN),
              help="When to e-mail (default: email.when of the config): always; change = a score, status or "
                   "finding changed since the last run; failure = the run would exit non-zero for that client.")
@click.option("--no-email", is_flag=True, help="Write reports and history, send no e-mail (webhooks still post).")
@fail_options
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Live: clients fetched concurrently (default 4).")
@click.option("--ga4-credentials", metavar="FILE", help="Live: GA4 service-account key or OAuth user JSON.")
@click.option("--ads-config", metavar="FILE", help="Live: google-ads.yaml.")
@verbosity_options
@click.pass_context
def run_cmd(ctx: click.Context, config: str | None, profile: str | None, select: tuple[str, ...],
            ignore: tuple[str, ...], offline: Path | None, output: str | None, history: str | None,
            no_history: bool, suppressions: str | None, shard: str | None, email_on: str | None, no_email: bool,
            fail_on: str | None, min_score: int | None, jobs: int | None, ga4_credentials: str | None,
            ads_config: str | None, quiet: bool, verbose: bool, no_color: bool) -> None:
    """Audit every client of an agency config, write each client's report and the agency summary, then e-mail
    it and post it to the configured webhooks.

    \b
    Output folder: clients/<name>.json (+ .html .csv ...), summary.json, summary.csv, summary.html,
    history.sqlite. Exit codes: 0 ok, 1 findings at/above --fail-on or a score below --min-score,
    2 usage or config error (an output folder that cannot be written: nothing audited), 3 a client
    could not be audited or reported (the others are), or the run stopped on a full disk or an
    unusable history (one line names the file), 4 reports written but an e-mail or a webhook failed,
    5 another run holds the lock (nothing done). 4 wins over 3, which wins over 1.

    \b
    Cron:     audit run --config agency.yaml
    Offline:  audit run --config examples/agency.yaml --offline fixtures/ --no-email
    """
    from auditor.agency.log import Log
    from auditor.agency.run import run
    from auditor.agency.settings import load_settings

    verbosity = Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                             inherited(ctx, "no_color", no_color))
    log = Log(verbosity.quiet, verbosity.verbose, bar=verbosity.progress)
    config = inherited(ctx, "config", config)
    st = load_settings(
        config, offline=offline, output=output, history=history, no_history=no_history,
        suppressions=inherited(ctx, "suppressions", suppressions), shard=shard, email_on=email_on, no_email=no_email,
        fail_on=inherited(ctx, "fail_on", fail_on), min_score=inherited(ctx, "min_score", min_score),
        profile=inherited(ctx, "profile", profile), select=inherited(ctx, "select", select),
        ignore=inherited(ctx, "ignore", ignore), jobs=inherited(ctx, "jobs", jobs) or 4,
        ga4_credentials=inherited(ctx, "ga4_credentials", ga4_credentials),
        ads_config=inherited(ctx, "ads_config", ads_config))
    if verbosity.verbose:
        from auditor.commands.common import ruleset_line
        from auditor.discovery import where_found

        how = "given with --config" if config else f"found {where_found(st.config_path)}" if st.config_path else ""
        log.detail(f"config: {st.config_path} ({how})" if st.config_path is not None else
                   "config: none found in the working directory or its parents: the shipped defaults")
        log.detail(ruleset_line(st.ruleset))
    ctx.exit(run(st, log))
