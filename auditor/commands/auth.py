"""`audit auth check`: which credentials a live run would use, and what they reach.

Prints where each source's credentials come from and, when they work, how many GA4 properties and Google Ads
client accounts they reach (the same discovery calls a live run makes), and for Google Ads where its access level
lives: the credentials' Google Cloud project (no developer token is needed). Never prints a token, key, secret,
developer token or a user's e-mail address (service-account addresses are printed: access is granted to them).
Exit 0 when every configured source works, 2 when none is configured (or a settings file is unusable), 3 when
a check call fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from auditor.commands.common import Verbosity, inherited, verbosity_options
from auditor.errors import AuditorError, ConfigError

OK, ABSENT, BROKEN, FAILED = "ok", "absent", "broken", "failed"
# Access to the Google Ads API belongs to the Google Cloud project of the OAuth client or service account, not to a
# developer token: the check cannot read the level, so it says where it lives.
ACCESS_LEVELS_NOTE = ("API access is the level of the credentials' Google Cloud project (Cloud console > Google "
                      "Ads API overview): Test (test accounts only), Explorer (2,880 operations a day), Basic "
                      "(15,000) or Standard (unlimited); one query is one operation")


@click.group("auth")
def auth_group() -> None:
    """Check the credentials a live audit would use."""


@auth_group.command("check")
@click.option("--ga4-credentials", metavar="FILE", help="GA4 service-account key or OAuth user JSON.")
@click.option("--ads-config", metavar="FILE", help="google-ads.yaml.")
@click.option("--manager", "manager_id", metavar="ID", help="Google Ads manager whose client accounts to count.")
@verbosity_options
@click.pass_context
def check_cmd(ctx: click.Context, ga4_credentials: str | None, ads_config: str | None,
              manager_id: str | None, quiet: bool, verbose: bool, no_color: bool) -> None:
    """Say which GA4 and Google Ads credentials were found and which properties and accounts they reach."""
    from auditor.cli import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
    from auditor.live import Live, customer_id

    # the report is stdout and errors stay on stderr whatever -q says; the options are every command's
    Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                 inherited(ctx, "no_color", no_color))

    obj = ctx.find_root().obj or {}
    ga4_file = ga4_credentials or obj.get("ga4_credentials")
    ads_file = ads_config or obj.get("ads_config")
    manager = manager_id or obj.get("manager")
    manager = customer_id(manager, "manager id") if manager else None
    live = Live(ga4_file, ads_file)
    try:
        states = [_check_ga4(live, ga4_file), _check_ads(live, ads_file, manager)]
    finally:
        live.close()
    if FAILED in states:
        code = EXIT_INCOMPLETE
    elif BROKEN in states or OK not in states:
        code = EXIT_USAGE
    else:
        code = EXIT_OK
    ctx.exit(code)


def _say(source: str, text: str) -> None:
    from auditor.live import scrub

    click.echo(f"{source}: {scrub(text)}")


def _error(source: str, text: str) -> None:
    from auditor.live import scrub

    click.echo(f"audit: error: {source}: {scrub(text)}", err=True)


def _check_ga4(live: Any, key_file: str | None) -> str:
    source = "GA4"
    if key_file:
        where = f"--ga4-credentials {key_file}"
    elif os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        adc_file = os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
        where = f"application default credentials (GOOGLE_APPLICATION_CREDENTIALS {adc_file})"
    else:
        where = "application default credentials"
    try:
        connector = live.ga4()
    except ConfigError as e:
        if key_file is None and "application default credentials not found" in str(e):
            _say(source, "not configured (no --ga4-credentials, no application default credentials)")
            return ABSENT
        _error(source, str(e))
        return BROKEN
    _say(source, f"{_who(connector.credentials)} from {where}; scope analytics.readonly")
    try:
        connector.ensure_token()
        found = connector.discover()
    except AuditorError as e:  # rejected credentials, denied or unreachable API
        _error(source, str(e))
        return FAILED
    accounts = {p["account"] for p in found}
    _say(source, f"reaches {len(found)} propert{'y' if len(found) == 1 else 'ies'} in {len(accounts)} "
         f"account{'' if len(accounts) == 1 else 's'}")
    return OK


def _check_ads(live: Any, config_file: str | None, manager: str | None) -> str:
    source = "Google Ads"
    try:
        connector = live.ads()
    except ConfigError as e:
        if str(e).startswith("Google Ads settings not found"):
            _say(source, "not configured (no --ads-config, GOOGLE_ADS_* variables or ~/google-ads.yaml)")
            return ABSENT
        _error(source, str(e))
        return BROKEN
    s = connector.settings
    login = f", login customer {s.login_customer_id}" if s.login_customer_id else ""
    token = "developer token sent (optional, ignored)" if s.developer_token else "no developer token (not needed)"
    _say(source, f"{_who(s.credentials)} from {_ads_source(config_file)}; {token}{login}")
    _say(source, ACCESS_LEVELS_NOTE)
    try:
        connector.ensure_token()
        manager = manager or s.login_customer_id
        if manager is None:
            _say(source, "token accepted; give --manager (or login_customer_id) to count the client accounts "
                 "it reaches")
            return OK
        found = connector.discover(manager)
    except AuditorError as e:
        _error(source, str(e))
        return FAILED
    _say(source, f"reaches {len(found)} client account{'' if len(found) == 1 else 's'} under manager {manager}")
    return OK


def _who(credentials: Any) -> str:
    """The kind of credentials; a service account by its address, a user never by theirs."""
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and email.endswith(".gserviceaccount.com"):
        return f"service account {email}"
    kind = type(credentials).__module__ + "." + type(credentials).__name__
    return {
        "google.oauth2.credentials.Credentials": "OAuth user credentials",
        "google.auth.compute_engine.credentials.Credentials": "Compute Engine service account",
        "google.auth.impersonated_credentials.Credentials": "impersonated service account",
    }.get(kind, f"{type(credentials).__name__} credentials")


def _ads_source(config_file: str | None) -> str:
    """Where the Google Ads settings were read from, in the order `load_ads_settings` looks."""
    if config_file:
        return f"--ads-config {config_file}"
    env_file = os.environ.get("GOOGLE_ADS_CONFIGURATION_FILE_PATH")
    if env_file:
        return f"GOOGLE_ADS_CONFIGURATION_FILE_PATH {env_file}"
    if any(k.startswith("GOOGLE_ADS_") and v for k, v in os.environ.items()):
        return "GOOGLE_ADS_* environment variables"
    return str(Path("~/google-ads.yaml").expanduser())
