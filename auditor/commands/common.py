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
                     help="Config file (default: the nearest .auditor.yaml, else [tool.auditor] in pyproject.toml, "
                          "in the working directory or a parent).")(f)
    return f


def suppression_options(f: F) -> F:
    f = click.option("--suppressions", metavar="FILE",
                     help="Suppressions file (default: suppressions: of the config).")(f)
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


def config_path(given: str | None, say: Callable[[str], None] | None = None) -> Path | None:
    """--config, else the config discovered in the working directory or its nearest parent; `say` (verbose) is
    told which config is in effect and how it was found."""
    if given:
        if say:
            say(f"config: {given} (given with --config)")
        return Path(given)
    from auditor.discovery import discover_config, where_found

    found = discover_config()
    if say:
        say(f"config: {found} (found {where_found(found)})" if found is not None else
            "config: none found in the working directory or its parents: the shipped defaults")
    return found


def ruleset_line(ruleset: Any) -> str:
    """'rules: 2 of 33 (selected: naming), ruleset /…/rules/default.yaml, profile: inferred per client', for -v."""
    from auditor.ruleset import rules_dir

    total = len(ruleset.rules)
    kept = total if ruleset.chosen is None else len(ruleset.chosen)
    how = [f"selected: {', '.join(ruleset.selected)}"] if ruleset.selected else []
    how += [f"ignored: {', '.join(ruleset.ignored)}"] if ruleset.ignored else []
    disabled = sorted(rid for rid, o in (ruleset.user.rules.items() if ruleset.user else ()) if o.enabled is False)
    how += [f"disabled in the config: {', '.join(disabled)}"] if disabled else []
    profile = ruleset.configured_profile or "inferred per client"
    return (f"rules: {kept} of {total}" + (f" ({'; '.join(how)})" if how else "") +
            f", ruleset {rules_dir() / 'default.yaml'}, profile: {profile}")


def output_path(output: str | None, fmt: str, stem: str = "audit") -> str | None:
    """`-o PATH` made concrete before anything is audited: an existing folder gets the default file name in it
    (<stem>.<ext>); a folder that does not exist yet is created; one that cannot be created or written is a usage
    error naming the path given (exit 2), never a failure after the whole audit."""
    if not output or output == "-":
        return output
    from auditor.conventions import FORMAT_EXTENSIONS
    from auditor.errors import ConfigError
    from auditor.files import check_writable
    from auditor.text import printable

    p = Path(output).expanduser()
    if p.is_dir():
        p = p / f"{stem}.{FORMAT_EXTENSIONS[fmt]}"
    elif p.exists() and not p.is_file():  # a device or a pipe (/dev/null): written to as it is
        return output
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        check_writable(p.parent)
    except OSError as e:
        raise ConfigError(f"--output {printable(output)}: cannot write to {printable(p.parent)}: "
                          f"{e.strerror or e}") from None
    return str(p)


def suppressed(results: Iterator[Any], ruleset: Any, quiet: bool = False, given: str | None = None) -> Iterator[Any]:
    """Apply the suppressions file (--suppressions `given`, else the config's, if any) to each result as it streams
    by. The file is read before the first client is audited: a bad one is exit 2 with nothing audited."""
    cfg = ruleset.user
    if not given and (not cfg or not cfg.suppressions):
        return results
    from auditor.config import resolve_path
    from auditor.suppressions import load_suppressions

    path = Path(given).expanduser() if given else resolve_path(ruleset.user_path.parent, cfg.suppressions)
    sups = load_suppressions(path, list(ruleset.rules))

    def gen() -> Iterator[Any]:
        for r in results:
            sups.apply(r)
            yield r
        for w in sups.warnings() if not quiet else ():
            click.echo(f"audit: warning: {w}", err=True)

    return gen()


def load_ruleset(config: str | Path | None, profile: str | None, select: tuple[str, ...] = (),
                 ignore: tuple[str, ...] = (), say: Callable[[str], None] | None = None) -> Any:
    """The run's ruleset: --config (or the discovered config), the profile, and the rule selection (the config's
    select:/ignore:, then --select/--ignore). `say` (verbose) is told which config and rule set are in effect."""
    from auditor.ruleset import Ruleset

    path = config_path(str(config) if config else None, say)
    if path is not None:
        from auditor.config import load_config

        cfg, p = load_config(path)
        rs = Ruleset.load(cfg, p, profile)
    else:
        rs = Ruleset.load(profile=profile)
    rs.choose(select, ignore)
    if say:
        say(ruleset_line(rs))
    return rs


def render_options(ruleset: Any, verbosity: Verbosity, single: bool = False) -> Any:
    """How documents are rendered in this run: the terminal's width and colour, the config's branding."""
    from auditor.outputs.options import RenderOptions, branding_of, terminal_width

    return RenderOptions(width=terminal_width(), color=verbosity.color, single=single,
                         branding=branding_of(ruleset.user, ruleset.user_path))
