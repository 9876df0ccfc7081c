"""`audit fix`: from findings to changes, safely. `--plan PLAN.json` writes a reviewed-before-use plan (read only);
`--apply PLAN.json` makes its changes, re-reading each first, and writes a change log and an undo plan.

Exit codes: 0 done (a plan written; every change applied or already in place); 1 apply skipped a change that drifted
since the plan; 2 usage (a plan outside the fixes in scope, a refusal to write without --yes off a terminal);
3 a client could not be planned, or a change failed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from auditor.commands.common import (
    Verbosity,
    inherited,
    load_ruleset,
    suppression_options,
    verbosity_options,
)
from auditor.commands.record import live_args, target_options
from auditor.conventions import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK
from auditor.errors import ConfigError
from auditor.text import printable


@click.command("fix")
@click.option("--plan", "plan_out", metavar="PLAN.json", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the plan of safe, reversible API fixes for the targets' findings (and PLAN.md beside it). "
                   "Reads only.")
@click.option("--apply", "plan_in", metavar="PLAN.json", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Make the changes of a reviewed plan (or an undo plan); each is re-read first and made only if "
                   "its value is still the plan's 'now'.")
@click.option("--offline", type=click.Path(path_type=Path), metavar="PATH",
              help="--plan from recorded responses (a client folder or a folder of them).")
@click.option("--only", multiple=True, metavar="RULE", help="Only the changes that resolve findings of this rule "
              "(repeatable).")
@click.option("--client", "only_clients", multiple=True, metavar="NAME", help="Only this client (repeatable).")
@click.option("--yes", is_flag=True, help="--apply without asking per client (needed when not on a terminal).")
@click.option("--log", "log_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Change log to append to (JSON Lines; default: PLAN.log.jsonl beside the plan).")
@click.option("--undo", "undo_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the undo plan (default: PLAN.undo.json beside the plan, numbered if taken).")
@target_options
@suppression_options
@verbosity_options
@click.pass_context
def fix_cmd(ctx: click.Context, plan_out: Path | None, plan_in: Path | None, offline: Path | None,
            only: tuple[str, ...], only_clients: tuple[str, ...], yes: bool, log_path: Path | None,
            undo_path: Path | None, suppressions: str | None, quiet: bool, verbose: bool, no_color: bool,
            **given: Any) -> None:
    """Plan and apply the safe fixes of an audit's findings.

    \b
    audit fix --plan plan.json --offline fixtures/lumen-analytics
    audit fix --plan plan.json --property 123456789 --customer 123-456-7890
    audit fix --apply plan.json            (asks per client; --yes off a terminal)
    audit fix --apply plan.undo.json       (undo what the first apply changed)
    """
    verbosity = Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                             inherited(ctx, "no_color", no_color))
    if (plan_out is None) == (plan_in is None):
        raise click.UsageError("give --plan PLAN.json (write a plan) or --apply PLAN.json (make its changes)")
    if plan_out is not None:
        ctx.exit(_plan(ctx, plan_out, offline, set(only), set(only_clients),
                       inherited(ctx, "suppressions", suppressions), verbosity, given))
    assert plan_in is not None
    a = live_args(ctx, **given)
    ctx.exit(_apply(plan_in, set(only), set(only_clients), yes, log_path, undo_path, a["ga4_credentials"],
                    a["ads_config"], verbosity))


# -- --plan ---------------------------------------------------------------------------------------------------

def _plan(ctx: click.Context, out: Path, offline: Path | None, only: set[str], clients: set[str],
          suppressions: str | None, verbosity: Verbosity, given: dict[str, Any]) -> int:
    from auditor import __version__
    from auditor.audit import audit_raw, now_stamp, read_client_settings
    from auditor.files import write_text_atomic
    from auditor.fix.model import FIXES, Plan
    from auditor.fix.plan import plan_client
    from auditor.fix.render import markdown, terminal

    a = live_args(ctx, **given)
    ruleset = load_ruleset(a["config"], a["profile"])
    known = {r for f in FIXES.values() for r in f.rules} | set(ruleset.rules)
    for rule in only:
        if rule not in known:
            raise ConfigError(f"--only {rule}: not a rule id")
    sups = _suppressions(ruleset, suppressions)

    def auditor_for(funnel: list[str] | None) -> Any:
        def audit(raw: Any) -> Any:
            result = audit_raw(raw, ruleset, funnel=funnel)
            if sups is not None:
                sups.apply(result)
            return result
        return audit

    live = bool(a["property_id"] or a["customer_id"] or a["discover"])
    plans = []
    code = EXIT_OK
    if offline is not None:
        if live:
            raise click.UsageError("--offline cannot be combined with --property, --customer or --discover")
        from auditor.connectors.offline import client_dirs, load_client
        from auditor.errors import AuditorError

        for folder in client_dirs(offline):
            if clients and folder.name not in clients:
                continue
            try:
                settings = read_client_settings(folder)
                raw = load_client(folder)
            except AuditorError as e:
                click.echo(printable(f"audit: error: client {folder.name}: {e}"), err=True)
                code = EXIT_INCOMPLETE
                continue
            raw.profile, raw.read_on = settings.get("profile"), settings.get("read_on")
            plans.append(plan_client(raw, ruleset, auditor_for(settings.get("funnel")), (None, None, None), only))
        source = f"offline: {offline}"
    else:
        from auditor.live import Live, funnel_planner, iter_fetched, resolve_targets

        session = Live(a["ga4_credentials"], a["ads_config"], a["jobs"], planner=funnel_planner(ruleset))
        targets = resolve_targets(ruleset, a["property_id"], a["customer_id"], bool(a["discover"]), a["manager_id"],
                                  session, warn=lambda m: click.echo(f"audit: warning: {m}", err=True))
        targets = [t for t in targets if not clients or t.label() in clients]
        session.prepare(targets)
        try:
            for f in iter_fetched(targets, a["jobs"], session):
                if f.raw is None:
                    for e in f.errors:
                        click.echo(printable(f"audit: error: client {f.name}: {e}"), err=True)
                    code = EXIT_INCOMPLETE
                    continue
                conf = next((c for c in ruleset.user.clients if c.name == f.name), None) if ruleset.user else None
                funnel = list(conf.funnel) if conf is not None and getattr(conf, "funnel", None) else None
                target = (f.target.property, f.target.customer, f.target.manager)
                plans.append(plan_client(f.raw, ruleset, auditor_for(funnel), target, only))
        finally:
            session.close()
        source = "live"
    for p in plans:
        if p.errors and p.score_now is None:
            code = EXIT_INCOMPLETE
    plan = Plan(kind="plan", generated_at=now_stamp(), version=__version__, clients=plans, source=source)
    write_text_atomic(out, json.dumps(plan.to_json(), indent=1, ensure_ascii=False) + "\n")
    md = out.with_suffix(".md")
    write_text_atomic(md, markdown(plan))
    if not verbosity.quiet:
        click.echo(terminal(plan), nl=False)
        click.echo(printable(f"audit: wrote {out} and {md}"), err=True)
    return code


def _suppressions(ruleset: Any, given: str | None) -> Any:
    cfg = ruleset.user
    if not given and (not cfg or not cfg.suppressions):
        return None
    from auditor.config import resolve_path
    from auditor.suppressions import load_suppressions

    path = Path(given).expanduser() if given else resolve_path(ruleset.user_path.parent, cfg.suppressions)
    return load_suppressions(path, list(ruleset.rules))


# -- --apply --------------------------------------------------------------------------------------------------

def _apply(path: Path, only: set[str], clients: set[str], yes: bool, log_path: Path | None, undo_path: Path | None,
           ga4_credentials: str | None, ads_config: str | None, verbosity: Verbosity) -> int:
    from auditor import __version__
    from auditor.audit import now_stamp
    from auditor.files import write_text_atomic
    from auditor.fix.apply import ALREADY, APPLIED, DRIFT, FAILED, apply_client, undo_plan
    from auditor.fix.model import GA4_ADMIN, GOOGLE_ADS, read_plan
    from auditor.fix.render import change_line

    plan = read_plan(path)  # a change outside the fixes in scope refuses the whole plan (exit 2)
    names = {c.name for c in plan.clients}
    for n in clients - names:
        raise ConfigError(f"--client {n}: not a client of {path} ({', '.join(sorted(names)) or 'none'})")
    rules = {r for c in plan.clients for ch in c.changes for r in ch.rules}
    for r in only - rules:
        raise ConfigError(f"--only {r}: no change of {path} resolves that rule ({', '.join(sorted(rules)) or 'none'})")
    work = []
    for cp in plan.clients:
        if clients and cp.name not in clients:
            continue
        changes = [c for c in cp.changes if not only or set(c.rules) & only]
        if changes:
            work.append((cp, changes))
    if not work:
        click.echo("audit: nothing to apply", err=True)
        return EXIT_OK
    if not yes and not sys.stdin.isatty():
        raise ConfigError("refusing to write without --yes when not on a terminal (review the plan, then "
                          "`audit fix --apply PLAN --yes`)")
    ads = ga4 = None
    say = (lambda m: None) if verbosity.quiet else (lambda m: click.echo(printable(f"audit: {m}"), err=True))
    if any(c.api == GOOGLE_ADS for _, cs in work for c in cs):
        from auditor.connectors.ads import AdsConnector
        from auditor.connectors.ads_auth import load_ads_settings
        from auditor.fix.ads_writer import AdsWriter

        ads = AdsWriter(AdsConnector(load_ads_settings(ads_config)))
        ads.connector.ensure_token()
    if any(c.api == GA4_ADMIN for _, cs in work for c in cs):
        from auditor.fix.ga4_writer import EDIT_SCOPE, GA4Writer

        ga4 = GA4Writer(ga4_credentials)
        say(f"GA4: writing asks for the {EDIT_SCOPE} scope (reads use analytics.readonly only)")
        ga4.ensure_token()
    results = []
    try:
        for cp, changes in work:
            if not yes:
                click.echo(printable(f"== {cp.name}: {len(changes)} change(s)"))
                for c in changes:
                    click.echo(printable(f"  ~ {change_line(c)}"))
                if not click.confirm(f"Apply these changes to {cp.name}?", default=False):
                    say(f"client {cp.name}: skipped (not confirmed)")
                    continue
            r = apply_client(cp, changes, ads, ga4, now_stamp)
            results.append(r)
            for o in r.outcomes:
                if not verbosity.quiet or o.status == FAILED:
                    click.echo(printable(f"audit: {cp.name}: {o.status}: {change_line(o.change)}"
                                         + (f": {o.detail}" if o.detail and o.status != APPLIED else "")), err=True)
    finally:
        if ads is not None:
            ads.connector.close()
    identity = {k: w.identity() for k, w in (("google_ads", ads), ("ga4", ga4)) if w is not None}
    record = {"applied_at": now_stamp(), "tool": {"name": "auditor", "version": __version__}, "plan": str(path),
              "plan_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "acting_as": identity,
              "clients": [{"name": r.name, "changes": [o.to_json() for o in r.outcomes]} for r in results]}
    from auditor.connectors.redact import redact

    log = log_path or path.with_name(path.name.removesuffix(".json") + ".log.jsonl")
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps(redact("log", record), ensure_ascii=False) + "\n")
    undo = undo_plan(plan, results, now_stamp(), __version__, f"undo of {path}")
    if undo is not None:
        target = undo_path or _free(path.with_name(path.name.removesuffix(".json") + ".undo.json"))
        write_text_atomic(target, json.dumps(undo.to_json(), indent=1, ensure_ascii=False) + "\n")
        say(f"wrote the undo plan {target}")
    counts = {s: sum(r.count(s) for r in results) for s in (APPLIED, ALREADY, DRIFT, FAILED)}
    say(f"{counts[APPLIED]} applied, {counts[ALREADY]} already in place, {counts[DRIFT]} skipped (drift), "
        f"{counts[FAILED]} failed; change log {log}")
    if counts[FAILED]:
        return EXIT_INCOMPLETE
    return EXIT_FINDINGS if counts[DRIFT] else EXIT_OK


def _free(p: Path) -> Path:
    """`p`, or p with -2, -3... before its suffixes when taken: an undo plan is never overwritten."""
    if not p.exists():
        return p
    stem = p.name.removesuffix(".undo.json")
    n = 2
    while (p.with_name(f"{stem}.undo-{n}.json")).exists():
        n += 1
    return p.with_name(f"{stem}.undo-{n}.json")
