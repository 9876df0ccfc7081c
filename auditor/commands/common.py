"""Options every auditing command shares (`audit`, `audit run`, `audit record`, `audit render`...), defined
once: config (with discovery), profile, rule selection, fail level, verbosity and colour."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from auditor.conventions import FAIL_LEVELS

F = TypeVar("F", bound=Callable[..., Any])


def _names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """--select a,b --select c -> (a, b, c), as ruff takes them."""
    return tuple(n.strip() for v in value for n in v.split(",") if n.strip())


def selection_options(f: F) -> F:
    f = click.option("--ignore", multiple=True, callback=_names, metavar="RULE|CATEGORY[,...]",
                     help="Skip these rules, by id or category (repeatable, comma-separated).")(f)
    f = click.option("--select", multiple=True, callback=_names, metavar="RULE|CATEGORY[,...]",
                     help="Run only these rules, by id or category (repeatable, comma-separated).")(f)
    return f


def verbosity_options(f: F) -> F:
    f = click.option("--no-color", is_flag=True, help="No colour, even on a terminal (NO_COLOR also works).")(f)
    f = click.option("--verbose", "-v", is_flag=True, help="Say more on stderr: each client as it is done.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")(f)
    return f


def fail_options(f: F) -> F:
    f = click.option("--min-score", type=click.IntRange(0, 100), metavar="N",
                     help="Exit 1 when a client scores below N.")(f)
    f = click.option("--fail-on", type=click.Choice(FAIL_LEVELS),
                     help="Exit 1 when a finding at or above this severity remains (default: low, or the "
                          "config's defaults.fail_on).")(f)
    return f


def config_options(f: F) -> F:
    f = click.option("--profile", metavar="NAME", help="Business model for clients without their own: ecommerce, "
                     "lead-gen, saas, content, app (default: inferred from each client's data, said in the "
                     "report).")(f)
    f = click.option("--config", "config", metavar="FILE",
                     help="Config file (default: .auditor.yaml, else [tool.auditor] in pyproject.toml, in the "
                          "working directory).")(f)
    return f


def inherited(ctx: click.Context, name: str, value: Any) -> Any:
    """A subcommand option, else the same option given before the subcommand (`audit --config X run`)."""
    if value is not None and value is not False and value != ():  # 0 (--min-score 0) is a value
        return value
    root = ctx.find_root()
    source = root.get_parameter_source(name)
    if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
        return (root.obj or {}).get(name, value)
    return value


@dataclass(frozen=True)
class Verbosity:
    quiet: bool = False
    verbose: bool = False
    color: bool = False  # ANSI colour on stdout (a terminal, NO_COLOR unset, --no-color not given)
    progress: bool = False  # a progress bar on stderr (a terminal, not quiet)

    @classmethod
    def of(cls, quiet: bool, verbose: bool, no_color: bool) -> Verbosity:
        if quiet and verbose:
            raise click.UsageError("--quiet and --verbose cannot be combined")
        color = not no_color and not os.environ.get("NO_COLOR") and _tty(sys.stdout)
        return cls(quiet, verbose, color, progress=not quiet and _tty(sys.stderr))


def _tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def config_path(given: str | None) -> Path | None:
    """--config, else the working directory's discovered config (said on stderr when verbose)."""
    if given:
        return Path(given)
    from auditor.discovery import discover_config

    return discover_config()


def suppressed(results: Iterator[Any], ruleset: Any, quiet: bool = False) -> Iterator[Any]:
    """Apply the config's suppressions file (if any) to each result as it streams by."""
    cfg = ruleset.user
    if not cfg or not cfg.suppressions:
        return results
    from auditor.config import resolve_path
    from auditor.suppressions import load_suppressions

    sups = load_suppressions(resolve_path(ruleset.user_path.parent, cfg.suppressions), list(ruleset.rules))

    def gen() -> Iterator[Any]:
        for r in results:
            sups.apply(r)
            yield r
        for w in sups.warnings() if not quiet else ():
            click.echo(f"audit: warning: {w}", err=True)

    return gen()


def load_ruleset(config: str | Path | None, profile: str | None, select: tuple[str, ...] = (),
                 ignore: tuple[str, ...] = ()) -> Any:
    """The run's ruleset: --config (or the discovered config), the profile, and the rule selection."""
    from auditor.ruleset import Ruleset

    path = config_path(str(config) if config else None)
    if path is not None:
        from auditor.config import load_config

        cfg, p = load_config(path)
        rs = Ruleset.load(cfg, p, profile)
    else:
        rs = Ruleset.load(profile=profile)
    if select or ignore:
        rs.select(select, ignore)
    return rs


def render_options(ruleset: Any, verbosity: Verbosity, single: bool = False) -> Any:
    """How documents are rendered in this run: the terminal's width and colour, the config's branding."""
    from auditor.outputs.options import RenderOptions, branding_of, terminal_width

    return RenderOptions(width=terminal_width(), color=verbosity.color, single=single,
                         branding=branding_of(ruleset.user, ruleset.user_path))
