"""The `audit` command: the only place that prints to the user or exits.

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it, or a score below --min-score;
2 usage or configuration error; 3 audit incomplete (a client could not be read or a rule crashed), which
wins over 1. `audit run` and `audit merge` add 4: every report written but e-mail delivery failed (wins over
3 and 1), and 5: another run holds the output folder's lock, nothing done. Subcommands are imported lazily so
`audit --help` and offline runs stay fast.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from auditor import __version__
from auditor.errors import AuditorError, ConfigError
from auditor.files import output_stream
from auditor.text import printable

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
FAIL_LEVELS = ("critical", "high", "medium", "low", "info", "never")
FORMATS = ("table", "markdown", "json", "html", "csv")

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


def exit_code(summary_rows: list[dict[str, Any]], fail_on: str, min_score: int | None) -> int:
    from auditor.engine import SEVERITIES

    if any(r["status"] != "ok" for r in summary_rows):
        return EXIT_INCOMPLETE
    if fail_on != "never":
        levels = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        if any(r["counts"].get(s, 0) for r in summary_rows for s in levels):
            return EXIT_FINDINGS
    if min_score is not None and any(r["score"] is not None and r["score"] < min_score for r in summary_rows):
        return EXIT_FINDINGS
    return EXIT_OK


class _Staged(io.TextIOBase):
    """What a renderer writes for one client, held until the whole of it rendered: a client whose rendering
    fails leaves no half-written text, and the document (JSON above all) stays whole."""

    def __init__(self, target: TextIO) -> None:
        self.target, self.parts = target, []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        self.parts.append(text)
        return len(text)

    def commit(self) -> None:
        text, self.parts = "".join(self.parts), []
        self.target.write(text)

    def rollback(self) -> None:
        self.parts = []


def run_audit(results: Iterator[dict[str, Any]], fmt: str, output: str | None, fail_on: str,
              min_score: int | None) -> int:
    """Stream client results into the chosen renderer, report problems on stderr, return the exit code.

    Warnings are told once per file and field, with a count, at the end."""
    from auditor.audit import result_header, summarise
    from auditor.notices import WarningTally

    tally = WarningTally()
    rows = render_documents(result_header(), results, fmt, output, summarise, tally)
    for line in tally.lines():
        click.echo(printable(f"audit: warning: {line}"), err=True)
    if output and output != "-":
        click.echo(printable(f"audit: wrote {output} ({len(rows)} client(s))"), err=True)
    return exit_code(rows, fail_on, min_score)


def render_documents(header: dict[str, Any], results: Iterable[Any], fmt: str, output: str | None,
                     summary: Callable[[list[dict[str, Any]]], dict[str, Any]],
                     tally: Any = None) -> list[dict[str, Any]]:
    """Render client results as one document; returns their summary rows.

    Each client is rendered whole or not at all: one that cannot be rendered (or is not a result at all, in a
    saved file) is reported as errored in its place, with one line on stderr, and the others follow. A report
    that cannot be written is one OSError naming the output."""
    try:
        return _render_all(header, results, fmt, output, summary, tally)
    except OSError as e:  # the report itself could not be written (disk full, a folder not writable): name it
        if e.filename is None:
            raise OSError(e.errno, e.strerror or str(e), output if output and output != "-" else "stdout") from None
        raise


def _render_all(header: dict[str, Any], results: Iterable[Any], fmt: str, output: str | None,
                summary: Callable[[list[dict[str, Any]]], dict[str, Any]], tally: Any) -> list[dict[str, Any]]:
    from auditor.audit import error_result, summary_row, unforeseen
    from auditor.report.render import RENDERERS

    rows: list[dict[str, Any]] = []
    with output_stream(output) as out:
        staged = _Staged(out)
        renderer = RENDERERS[fmt](staged)
        renderer.begin(header)
        staged.commit()
        for r in results:
            state = dict(vars(renderer))  # a renderer's own flags (JSON's "first client") go back on failure
            try:
                row = summary_row(r)
                renderer.client(r)
                staged.commit()
            except Exception as e:  # one client's report, never the run's
                staged.rollback()
                vars(renderer).clear()
                vars(renderer).update(state)
                name = r.get("name") if isinstance(r, dict) else None
                r = error_result(printable(name or "?"), [unforeseen(fmt, e, "could not be rendered")])
                row = summary_row(r)
                renderer.client(r)
                staged.commit()
            for w in r["warnings"] if tally is not None else ():
                tally.add(str(r["name"]), w)
            for e in r["errors"]:
                click.echo(printable(f"audit: error: client {r['name']}: {e}"), err=True)
            rows.append(row)
        renderer.end(summary(rows))
        staged.commit()
    return rows


def suppressed(results: Iterator[dict[str, Any]], ruleset: Any) -> Iterator[dict[str, Any]]:
    """Apply the config's suppressions file (if any) to each result as it streams by."""
    cfg = ruleset.user
    if not cfg or not cfg.suppressions:
        return results
    from auditor.config import resolve_path
    from auditor.suppressions import load_suppressions

    sups = load_suppressions(resolve_path(ruleset.user_path.parent, cfg.suppressions), list(ruleset.rules))

    def gen() -> Iterator[dict[str, Any]]:
        for r in results:
            sups.apply(r)
            yield r
        for w in sups.warnings():
            click.echo(f"audit: warning: {w}", err=True)

    return gen()


def load_ruleset(config: str | None, profile: str | None) -> Any:
    from auditor.ruleset import Ruleset

    if config:
        from auditor.config import load_config

        cfg, path = load_config(config)
        return Ruleset.load(cfg, path, profile)
    return Ruleset.load(profile=profile)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--offline", "offline", metavar="PATH", type=click.Path(path_type=Path),
              help="Audit recorded API responses: one client folder or a folder of client folders. No network.")
@click.option("--property", "property_id", metavar="ID", help="Live: audit this GA4 property.")
@click.option("--customer", "customer_id", metavar="ID", help="Live: audit this Google Ads customer (10 digits).")
@click.option("--discover", is_flag=True, help="Live: audit every property and client account the credentials reach.")
@click.option("--manager", "manager_id", metavar="ID",
              help="Live: Google Ads manager (MCC): discover clients under it; login customer id of the Ads calls.")
@click.option("--config", "config", metavar="FILE", help="Config file: rule overrides, taxonomy, clients.")
@click.option("--profile", metavar="NAME", help="Business model for clients without their own: ecommerce, "
              "lead-gen, saas, content (default: inferred from each client's data, said in the report).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format. JSON is the canonical result; the others render from it.")
@click.option("--output", "-o", metavar="PATH", help="Write the report to PATH (atomically) instead of stdout.")
@click.option("--fail-on", type=click.Choice(FAIL_LEVELS), default="low", show_default=True,
              help="Exit 1 when a finding at or above this severity remains.")
@click.option("--min-score", type=click.IntRange(0, 100), metavar="N", help="Exit 1 when a client scores below N.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Live: clients fetched concurrently (4 keeps GA4 Admin under its 600 requests/minute per user).")
@click.option("--ga4-credentials", metavar="FILE", help="Live: GA4 service-account key or OAuth user JSON "
              "(default: application default credentials).")
@click.option("--ads-config", metavar="FILE", help="Live: google-ads.yaml (default: GOOGLE_ADS_* variables, "
              "then ~/google-ads.yaml).")
@click.version_option(__version__, prog_name="audit")
@click.pass_context
def main_group(ctx: click.Context, offline: Path | None, property_id: str | None, customer_id: str | None,
               discover: bool, manager_id: str | None, config: str | None, profile: str | None, fmt: str,
               output: str | None, fail_on: str, min_score: int | None, jobs: int, ga4_credentials: str | None,
               ads_config: str | None) -> None:
    """Audit the conversion setup of GA4 properties and Google Ads accounts.

    \b
    Offline:  audit --offline fixtures/
    Live:     audit --property 123456789 --customer 1234567890
    Rules:    audit rules ; audit explain micro-primary-goal
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, profile=profile, fmt=fmt, output=output, fail_on=fail_on, min_score=min_score,
                   jobs=jobs)
    ctx.obj.update(ga4_credentials=ga4_credentials, ads_config=ads_config, property=property_id,
                   customer=customer_id, discover=discover, manager=manager_id)
    if ctx.invoked_subcommand is not None:
        return
    live = bool(property_id or customer_id or discover or manager_id)
    if offline is not None and live:
        raise click.UsageError("--offline cannot be combined with --property, --customer or --discover")
    ruleset = load_ruleset(config, profile)
    if offline is not None:
        from auditor.audit import iter_offline
        from auditor.connectors.offline import client_dirs

        next(client_dirs(offline), None)  # a bad PATH is a usage error (exit 2) before any output
        code = run_audit(suppressed(iter_offline(offline, ruleset), ruleset), fmt, output, fail_on, min_score)
    elif live or (config and ruleset.user and ruleset.user.clients):
        from auditor.live import Live, iter_live, resolve_targets

        session = Live(ga4_credentials, ads_config, jobs)
        targets = resolve_targets(ruleset, property_id, customer_id, discover, manager_id, session,
                                  warn=lambda m: click.echo(f"audit: warning: {m}", err=True))
        code = run_audit(suppressed(iter_live(targets, ruleset, jobs, session), ruleset), fmt, output, fail_on,
                         min_score)
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
        sys.exit(130)
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
        sys.exit(130)
    except Exception as e:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        fail(f"internal error: {type(e).__name__}: {e} (set AUDITOR_DEBUG=1 for the traceback)", EXIT_INCOMPLETE)
