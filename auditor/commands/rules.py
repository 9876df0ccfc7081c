"""`audit rules` and `audit explain RULE`: documentation generated from the rules themselves, fitted to the
terminal's width (a pipe: 80 columns; explanations at most 100, for reading)."""

from __future__ import annotations

from typing import Any

import click

from auditor.commands.common import Verbosity, inherited, verbosity_options
from auditor.engine import Rule

EXPLAIN_WIDTH = 100  # prose reads badly wider than this, whatever the terminal


def _ruleset(ctx: click.Context, profile: str | None) -> Any:
    from auditor.cli import load_ruleset

    obj = ctx.find_root().obj or {}
    return load_ruleset(obj.get("config"), profile or obj.get("profile"))


@click.command("rules")
@click.option("--profile", metavar="NAME", help="Show what is enabled for this profile.")
@click.option("--markdown", is_flag=True,
              help="Print the rule reference (docs/rules.md) of the built-in rules and shipped rule packs instead.")
@verbosity_options
@click.pass_context
def rules_cmd(ctx: click.Context, profile: str | None, markdown: bool, quiet: bool, verbose: bool,
              no_color: bool) -> None:
    """List every installed rule: id, category, default severity, enabled in the active profile."""
    _verbosity(ctx, quiet, verbose, no_color)
    if markdown:
        from auditor.docs import rules_markdown

        click.echo(rules_markdown(), nl=False)
        return
    from auditor.docs import default_severity
    from auditor.outputs.options import terminal_width
    from auditor.outputs.terminal import wrap

    rs = _ruleset(ctx, profile)
    _, settings = rs.for_profile(rs.default_profile)
    rows = []
    for r in sorted(rs.rules.values(), key=lambda r: (r.category, r.id)):
        s, sev = settings[r.id], default_severity(rs, r)
        enabled = "no" if not s.enabled else "yes" if s.severity == sev else f"yes ({s.severity})"
        rows.append([r.id, r.category, sev, enabled, r.title])
    width = terminal_width()
    headers = ["rule", "category", "severity", f"enabled ({rs.default_profile})", "title"]
    lines = rules_table(headers, rows, width)
    lines += ["", *wrap(f"profile: {rs.default_profile}; {len(rows)} rule(s). `audit explain RULE` for details.",
                        width)]
    click.echo("\n".join(lines))


TITLE_MIN = 24  # a title column narrower than this reads worse than the title on its own line


def rules_table(headers: list[str], rows: list[list[str]], width: int) -> list[str]:
    """The rules as a table no wider than `width`; ids, categories and severities never wrap (they are typed
    back). When the title has too little room beside them it goes on its own line under its rule."""
    from auditor.outputs.terminal import SEP, table, wrap

    fixed = sum(max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:4])) + len(SEP) * 3
    if fixed + len(SEP) + TITLE_MIN <= width or fixed > width:
        return table(headers, rows, ["left"] * 5, width, keep=range(4))
    lines = table(headers[:4], [r[:4] for r in rows], ["left"] * 4, width)
    out = lines[:2]
    for line, r in zip(lines[2:], rows, strict=True):
        out += [line, *wrap(r[4], width, "    ")]
    return out


def _verbosity(ctx: click.Context, quiet: bool, verbose: bool, no_color: bool) -> Verbosity:
    """-q/-v/--no-color, here or before the subcommand; nothing these commands print is a note to silence,
    but the options are the same on every command (and -q with -v is refused the same way)."""
    return Verbosity.of(inherited(ctx, "quiet", quiet), inherited(ctx, "verbose", verbose),
                        inherited(ctx, "no_color", no_color))


def explain_text(rule: Rule, severity: str, enabled: bool, params: dict[str, Any], width: int = EXPLAIN_WIDTH) -> str:
    from auditor.outputs.terminal import wrap as wrap_lines

    def wrap(text: str) -> str:
        return "\n".join(wrap_lines(" ".join(text.split()), width))

    def item(text: str) -> str:  # "  k = v: doc", its continuation lines under its text
        return "\n".join(wrap_lines(text, width, "  ", "    "))
    parts = [wrap(f"{rule.id}: {rule.title}"),
             wrap(f"category {rule.category}; severity {severity}; {'enabled' if enabled else 'disabled'}"),
             "", "What it checks:", wrap(rule.doc), "", "Why it matters:", wrap(rule.rationale), "",
             "What it rests on:", wrap(rule.rests_on), "",
             "How to fix:", wrap(rule.remediation)]
    if rule.requires:
        from auditor.docs import needs

        parts += ["", "Data needed:", wrap(needs(rule).replace("`", ""))]
    if rule.params:
        parts += ["", "Parameters:"]
        parts += [item(f"{k} = {params.get(k)!r}: {p.doc}") for k, p in rule.params.items()]
    if rule.example:
        parts += ["", "Example finding:", wrap(rule.example)]
    if rule.references:
        parts += ["", "References:"] + [f"  - {r}" for r in rule.references]  # whole: a link must stay one
    return "\n".join(parts)


@click.command("explain")
@click.argument("rule_id", metavar="RULE")
@click.option("--profile", metavar="NAME", help="Show the parameters in force for this profile.")
@verbosity_options
@click.pass_context
def explain_cmd(ctx: click.Context, rule_id: str, profile: str | None, quiet: bool, verbose: bool,
                no_color: bool) -> None:
    """Print what RULE checks, why it matters, how to fix it and its parameters."""
    from auditor.errors import ConfigError, suggest
    from auditor.outputs.options import terminal_width

    _verbosity(ctx, quiet, verbose, no_color)

    rs = _ruleset(ctx, profile)
    rule = rs.rules.get(rule_id)
    if rule is None:
        raise ConfigError(f"unknown rule {rule_id!r}{suggest(rule_id, list(rs.rules))}; `audit rules` lists them")
    _, settings = rs.for_profile(rs.default_profile)
    s = settings[rule_id]
    click.echo(explain_text(rule, s.severity, s.enabled, dict(s.params), min(EXPLAIN_WIDTH, terminal_width())))
