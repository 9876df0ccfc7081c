"""The `audit` command: the only place that prints to the user or exits.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it, or a score below --min-score;
2 usage or configuration error; 3 audit incomplete (a client could not be read or a rule crashed), which
wins over 1. `audit run` and `audit merge` add 4: every report written but e-mail delivery failed (wins over
3 and 1), and 5: another run holds the output folder's lock, nothing done. Subcommands are imported lazily so
`audit --help` and offline runs stay fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from auditor import __version__
from auditor.commands.common import (
    Verbosity,
    config_options,
    fail_options,
    load_ruleset,
    output_path,
    render_options,
    selection_options,
    suppressed,
    suppression_options,
    verbosity_options,
)
from auditor.conventions import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, FORMATS, exit_code
from auditor.errors import AuditorError, ConfigError
from auditor.text import printable

# name -> "module:attribute" of the click command, imported only when that subcommand runs
LAZY_COMMANDS: dict[str, str] = {
    "rules": "auditor.commands.rules:rules_cmd",
    "explain": "auditor.commands.rules:explain_cmd",
    "render": "auditor.commands.render:render_cmd",
    "record": "auditor.commands.record:record_cmd",
    "auth": "auditor.commands.auth:auth_group",
    "run": "auditor.commands.run:run_cmd",
    "diff": "auditor.commands.diff:diff_cmd",
    "merge": "auditor.commands.merge:merge_cmd",
    "fix": "auditor.commands.fix:fix_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"audit: error: {message}", err=True)
    sys.exit(code)


def run_audit(results: Iterable[Any], fmt: str, output: str | None, fail_on: str, min_score: int | None,
              options: Any = None, verbosity: Verbosity | None = None, total: int | None = None) -> int:
    """Stream client results into the chosen format, report problems on stderr, return the exit code.

    Warnings are told once per file and field, with a count, at the end."""
    from auditor.audit import result_header
    from auditor.notices import WarningTally
    from auditor.outputs.document import write_report
    from auditor.progress import Progress

    verbosity = verbosity or Verbosity()
    tally = WarningTally()

    def told(r: Any) -> None:
        for w in r.warnings:
            tally.add(str(r.name), w)
        for e in r.errors:
            progress.echo(printable(f"audit: error: client {r.name}: {e}"))
        progress.advance(r.name)

    with Progress(total, enabled=verbosity.progress, verbose=verbosity.verbose) as progress:
        rows = write_report(output, fmt, result_header(), results, options, on_client=told)
    if not verbosity.quiet:
        for line in tally.lines():
            click.echo(printable(f"audit: warning: {line}"), err=True)
        if output and output != "-":
            click.echo(printable(f"audit: wrote {output} ({len(rows)} client(s))"), err=True)
    return exit_code(rows, fail_on, min_score)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--offline", "offline", metavar="PATH", type=click.Path(path_type=Path),
              help="Audit recorded API responses: one client folder or a folder of client folders. No network.")
@click.option("--property", "property_id", metavar="ID", help="Live: audit this GA4 property.")
@click.option("--customer", "customer_id", metavar="ID", help="Live: audit this Google Ads customer (10 digits).")
@click.option("--discover", is_flag=True, help="Live: audit every property and client account the credentials reach.")
@click.option("--manager", "manager_id", metavar="ID",
              help="Live: Google Ads manager (MCC): discover clients under it; login customer id of the Ads calls.")
@config_options
@selection_options
@suppression_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format. JSON is the canonical result; the others render from it (pdf needs Chromium).")
@click.option("--output", "-o", metavar="PATH", help="Write the report to PATH (atomically) instead of stdout; a "
              "folder gets audit.<ext> in it.")
@fail_options
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Clients fetched concurrently (live; 4 keeps GA4 Admin under its 600 requests/minute per user), "
                   "or audited on that many cores (offline, many clients).")
@click.option("--ga4-credentials", metavar="FILE", help="Live: GA4 service-account key or OAuth user JSON "
              "(default: application default credentials).")
@click.option("--ads-config", metavar="FILE", help="Live: google-ads.yaml (default: GOOGLE_ADS_* variables, "
              "then ~/google-ads.yaml).")
@verbosity_options
@click.version_option(__version__, prog_name="audit")
@click.pass_context
def main_group(ctx: click.Context, offline: Path | None, property_id: str | None, customer_id: str | None,
               discover: bool, manager_id: str | None, config: str | None, profile: str | None,
               select: tuple[str, ...], ignore: tuple[str, ...], suppressions: str | None, fmt: str,
               output: str | None, fail_on: str | None,
               min_score: int | None, jobs: int, ga4_credentials: str | None, ads_config: str | None, quiet: bool,
               verbose: bool, no_color: bool) -> None:
    """Audit the conversion setup of GA4 properties and Google Ads accounts.

    \b
    Offline:  audit --offline fixtures/
    Live:     audit --property 123456789 --customer 1234567890
    Rules:    audit rules ; audit explain micro-primary-goal
    Select:   audit --offline fixtures/ --select bidding --ignore low-bidding-volume
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, profile=profile, fmt=fmt, output=output, fail_on=fail_on, min_score=min_score,
                   jobs=jobs, select=select, ignore=ignore, suppressions=suppressions, quiet=quiet,
                   verbose=verbose, no_color=no_color)
    ctx.obj.update(ga4_credentials=ga4_credentials, ads_config=ads_config, property=property_id,
                   customer=customer_id, discover=discover, manager=manager_id)
    if ctx.invoked_subcommand is not None:
        return
    live = bool(property_id or customer_id or discover or manager_id)
    if offline is not None and live:
        raise click.UsageError("--offline cannot be combined with --property, --customer or --discover")
    verbosity = Verbosity.of(quiet, verbose, no_color)
    if fmt == "pdf":
        from auditor.outputs.formats.pdf import require_engine

        require_engine()  # exit 2 with what to install, before anything is audited
    output = output_path(output, fmt)  # a folder gets the default name; a missing folder is exit 2, now
    say = (lambda m: click.echo(printable(f"audit: {m}"), err=True)) if verbosity.verbose else None
    ruleset = load_ruleset(config, profile, select, ignore, say=say)
    defaults = ruleset.user.defaults if ruleset.user else None
    fail_on = fail_on or (defaults.fail_on if defaults else None) or "low"
    min_score = min_score if min_score is not None else (defaults.min_score if defaults else None)
    if offline is not None and ruleset.user and ruleset.user.clients:
        # the config's clients, each from OFFLINE/<name>, exactly as `audit run --offline` chooses them
        from auditor.agency.targets import audit_targets, folder_targets

        info = (lambda m: click.echo(printable(f"audit: {m}"), err=True)) if not verbosity.quiet else (lambda m: None)
        targets = folder_targets(offline, ruleset.user.clients, info)
        options = render_options(ruleset, verbosity, single=len(targets) == 1)
        code = run_audit(suppressed(audit_targets(targets, ruleset, offline), ruleset, quiet, suppressions), fmt,
                         output, fail_on, min_score, options, verbosity, total=len(targets))
    elif offline is not None:
        from auditor.connectors.offline import client_dirs
        from auditor.parallel import audit_tree

        folders = list(client_dirs(offline))  # a bad PATH is a usage error (exit 2) before any output
        options = render_options(ruleset, verbosity, single=len(folders) == 1)
        code = run_audit(suppressed(audit_tree(offline, ruleset, jobs, folders), ruleset, quiet, suppressions), fmt,
                         output, fail_on, min_score, options, verbosity, total=len(folders))
    elif live or (ruleset.user and ruleset.user.clients):
        from auditor.live import Live, iter_live, resolve_targets

        session = Live(ga4_credentials, ads_config, jobs, detail=say)
        targets = resolve_targets(ruleset, property_id, customer_id, discover, manager_id, session,
                                  warn=lambda m: click.echo(f"audit: warning: {m}", err=True))
        options = render_options(ruleset, verbosity, single=len(targets) == 1)
        code = run_audit(suppressed(iter_live(targets, ruleset, jobs, session), ruleset, quiet, suppressions), fmt,
                         output, fail_on, min_score, options, verbosity, total=len(targets))
    else:
        click.echo(ctx.get_help())
        code = EXIT_USAGE
    ctx.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error becomes one line and a documented exit code, never a traceback."""
    try:
        rv = main_group.main(args=argv, prog_name="audit", standalone_mode=False)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("audit: aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE if e.exit_code in (1, 2) else e.exit_code)
    except ConfigError as e:
        fail(str(e), EXIT_USAGE)
    except AuditorError as e:
        fail(str(e), EXIT_INCOMPLETE)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except OSError as e:  # the run itself could not go on (disk full, an output folder not writable): say where
        where = e.filename if e.filename is not None else "output"
        fail(printable(f"{where}: {e.strerror or e}"), EXIT_INCOMPLETE)
    except KeyboardInterrupt:
        click.echo("audit: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        fail(f"internal error: {type(e).__name__}: {e} (set AUDITOR_DEBUG=1 for the traceback)", EXIT_INCOMPLETE)
