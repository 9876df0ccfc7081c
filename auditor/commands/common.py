"""Options every auditing command shares (`audit`, `audit run`, `audit record`, `audit render`...), defined
once: config (with discovery), profile, rule selection, fail level, verbosity and colour."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
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
                     "lead-gen, saas, content (default: inferred from each client's data, said in the report).")(f)
    f = click.option("--config", "config", metavar="FILE",
                     help="Config file (default: .auditor.yaml, else [tool.auditor] in pyproject.toml, in the "
                          "working directory).")(f)
    return f


def inherited(ctx: click.Context, name: str, value: Any) -> Any:
    """A subcommand option, else the same option given before the subcommand (`audit --config X run`)."""
    if value not in (None, (), False):
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
    from auditor.config import discover_config

    return discover_config()
