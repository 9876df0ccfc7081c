"""`audit record --out DIR`: save what a live run fetches as fixtures that `audit --offline DIR` audits identically.

Layout: DIR/<client>/ga4/*.json (ga4/funnels.json when funnel reports were read), DIR/<client>/ads/*.json,
DIR/<client>/client.yaml (profile, when known) and DIR/manifest.json (recorded_at, tool version, API versions,
clients, calls). Every body is redacted first (`auditor.connectors.redact`): no e-mail address, token or secret
reaches the disk. Each client folder is written beside its final place and swapped in, so a folder is always a
complete recording, old or new.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from auditor.errors import ConfigError
from auditor.files import write_text_atomic

_ARRAY_FILES = frozenset({"ga4/funnels.json"})


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The live run's options, also accepted after the subcommand (`audit record --property ...`)."""
    options = [
        click.option("--property", "property_id", metavar="ID", help="GA4 property to read."),
        click.option("--customer", "customer_id", metavar="ID", help="Google Ads customer to read (10 digits)."),
        click.option("--discover", is_flag=True,
                     help="Every property and client account the credentials reach."),
        click.option("--manager", "manager_id", metavar="ID", help="Google Ads manager to discover clients under."),
        click.option("--config", "config", metavar="FILE", help="Config file whose clients to read."),
        click.option("--profile", metavar="NAME", help="Profile written to client.yaml for clients without one."),
        click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
                     help="Clients fetched concurrently [default: 4]."),
        click.option("--ga4-credentials", metavar="FILE", help="GA4 service-account key or OAuth user JSON."),
        click.option("--ads-config", metavar="FILE", help="google-ads.yaml."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def live_args(ctx: click.Context, **given: Any) -> dict[str, Any]:
    """Options given to the subcommand, else the ones given before it (`audit --property X record ...`)."""
    obj = ctx.find_root().obj or {}
    keys = {"property_id": "property", "customer_id": "customer", "manager_id": "manager"}
    out = {k: v if v not in (None, False) else obj.get(keys.get(k, k)) for k, v in given.items()}
    if out.get("jobs") is None:
        from auditor.live import DEFAULT_JOBS

        out["jobs"] = DEFAULT_JOBS
    return out


@click.command("record")
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the recording to (created if needed; clients recorded again are replaced).")
@target_options
@click.pass_context
def record_cmd(ctx: click.Context, out: Path, **given: Any) -> None:
    """Record live API responses as fixtures (redacted) for `audit --offline DIR`.

    \b
    audit record --property 123456789 --customer 123-456-7890 --out recordings/
    audit record --discover --manager 999-999-9999 --out recordings/
    """
    from auditor.audit import result_header
    from auditor.cli import EXIT_INCOMPLETE, EXIT_OK, load_ruleset
    from auditor.connectors.redact import redact
    from auditor.live import Live, funnel_planner, iter_fetched, resolve_targets

    a = live_args(ctx, **given)
    ruleset = load_ruleset(a["config"], a["profile"])
    # the same funnel reports as `audit` with these options reads, so the recording audits the same
    live = Live(a["ga4_credentials"], a["ads_config"], a["jobs"], planner=funnel_planner(ruleset))
    targets = resolve_targets(ruleset, a["property_id"], a["customer_id"], bool(a["discover"]), a["manager_id"],
                              live, warn=lambda m: click.echo(f"audit: warning: {m}", err=True))
    if not targets:
        raise ConfigError("no clients to record: discovery found no property or client account")
    live.prepare(targets)
    # the run's default profile is worth writing only when the user chose it (else offline picks the same)
    chosen = a["profile"] or (ruleset.user.profile if ruleset.user else None)
    default_profile = ruleset.default_profile if chosen else None
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    clients: list[dict[str, Any]] = []
    code = EXIT_OK
    try:
        for f in iter_fetched(targets, a["jobs"], live):
            entry: dict[str, Any] = {"name": f.name, "property": f.target.property, "customer": f.target.customer}
            if f.raw is None:
                code = EXIT_INCOMPLETE
                for e in f.errors:
                    click.echo(f"audit: error: client {f.name}: {e}", err=True)
                entry.update(status="error", errors=f.errors)
            else:
                profile = f.target.profile or default_profile
                conf = next((c for c in ruleset.user.clients if c.name == f.name), None) if ruleset.user else None
                funnel = list(conf.funnel) if conf is not None and getattr(conf, "funnel", None) else None
                files = write_client(out / f.name, {k: [redact(k, b) for b in v] for k, v in f.raw.bodies.items()},
                                     profile, funnel)
                entry.update(status="incomplete" if f.raw.missing else "recorded", profile=profile, files=files)
                if f.raw.missing:
                    code = EXIT_INCOMPLETE
                    entry["missing"] = dict(sorted(f.raw.missing.items()))
                    for key, why in sorted(f.raw.missing.items()):
                        click.echo(f"audit: warning: client {f.name}: {key}: not recorded: {why}", err=True)
            clients.append(entry)
    finally:
        live.close()
    manifest = {
        "recorded_at": result_header()["generated_at"],
        "tool": result_header()["tool"],
        "api_versions": live.api_versions(),
        "clients": clients,
        "calls": live.calls(),
    }
    write_text_atomic(out / "manifest.json", json.dumps(redact("manifest.json", manifest), indent=2) + "\n")
    ok = sum(1 for c in clients if c["status"] != "error")
    click.echo(f"audit: recorded {ok} of {len(clients)} client(s) in {out}", err=True)
    ctx.exit(code)


def write_client(folder: Path, bodies: dict[str, list[dict[str, Any]]], profile: str | None,
                 funnel: list[str] | None = None) -> list[str]:
    """Write one client's recording beside `folder`, then swap it in. Returns the files written.

    client.yaml carries what the offline audit needs to match the live one: the profile and the client's own
    funnel ladder (from the config). Recipients are not written: addresses stay out of recordings."""
    tmp = folder.with_name(f".{folder.name}.recording-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.replaced-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    files = []
    try:
        for key, pages in sorted(bodies.items()):
            path = tmp / key
            path.parent.mkdir(parents=True, exist_ok=True)
            # searchStream batches and funnel reports (one per pair, not pages) stay an array, as in the sample
            # fixtures; a single GA4 page stays one body
            data: Any = pages if key in _ARRAY_FILES or key.startswith("ads/") or len(pages) != 1 else pages[0]
            path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            files.append(key)
        settings = {k: v for k, v in (("profile", profile), ("funnel", funnel)) if v}
        if settings:
            import yaml

            (tmp / "client.yaml").write_text(yaml.safe_dump(settings, sort_keys=False, default_flow_style=None),
                                             encoding="utf-8")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return files
