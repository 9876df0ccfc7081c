"""`audit rules` and `audit explain RULE`: documentation generated from the rules themselves."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from auditor.engine import Rule


def _ruleset(ctx: click.Context, profile: str | None) -> Any:
    from auditor.cli import load_ruleset

    obj = ctx.find_root().obj or {}
    return load_ruleset(obj.get("config"), profile or obj.get("profile"))


@click.command("rules")
@click.option("--profile", metavar="NAME", help="Show what is enabled for this profile.")
@click.option("--markdown", is_flag=True,
              help="Print the rule reference (docs/rules.md) of the built-in rules and shipped rule packs instead.")
@click.pass_context
def rules_cmd(ctx: click.Context, profile: str | None, markdown: bool) -> None:
    """List every installed rule: id, category, default severity, enabled in the active profile."""
    if markdown:
        from auditor.docs import rules_markdown

        click.echo(rules_markdown(), nl=False)
        return
    from tabulate import tabulate

    from auditor.docs import default_severity

    rs = _ruleset(ctx, profile)
    _, settings = rs.for_profile(rs.default_profile)
    rows = []
    for r in sorted(rs.rules.values(), key=lambda r: (r.category, r.id)):
        s, sev = settings[r.id], default_severity(rs, r)
        enabled = "no" if not s.enabled else "yes" if s.severity == sev else f"yes ({s.severity})"
        rows.append([r.id, r.category, sev, enabled, r.title])
    click.echo(tabulate(rows, headers=["rule", "category", "severity", f"enabled ({rs.default_profile})", "title"]))
    click.echo(f"\nprofile: {rs.default_profile}; {len(rows)} rule(s). `audit explain RULE` for details.")


def explain_text(rule: Rule, severity: str, enabled: bool, params: dict[str, Any]) -> str:
    wrap = lambda t: textwrap.fill(" ".join(t.split()), 100)  # noqa: E731
    parts = [f"{rule.id}: {rule.title}",
             f"category {rule.category}; severity {severity}; {'enabled' if enabled else 'disabled'}",
             "", "What it checks:", wrap(rule.doc), "", "Why it matters:", wrap(rule.rationale), "",
             "What it rests on:", wrap(rule.rests_on), "",
             "How to fix:", wrap(rule.remediation)]
    if rule.requires:
        from auditor.docs import needs

        parts += ["", "Data needed:", wrap(needs(rule).replace("`", ""))]
    if rule.params:
        parts += ["", "Parameters:"]
        parts += [f"  {k} = {params.get(k)!r}: {p.doc}" for k, p in rule.params.items()]
    if rule.example:
        parts += ["", "Example finding:", wrap(rule.example)]
    if rule.references:
        parts += ["", "References:"] + [f"  - {r}" for r in rule.references]
    return "\n".join(parts)


@click.command("explain")
@click.argument("rule_id", metavar="RULE")
@click.option("--profile", metavar="NAME", help="Show the parameters in force for this profile.")
@click.pass_context
def explain_cmd(ctx: click.Context, rule_id: str, profile: str | None) -> None:
    """Print what RULE checks, why it matters, how to fix it and its parameters."""
    from auditor.errors import ConfigError, suggest

    rs = _ruleset(ctx, profile)
    rule = rs.rules.get(rule_id)
    if rule is None:
        raise ConfigError(f"unknown rule {rule_id!r}{suggest(rule_id, list(rs.rules))}; `audit rules` lists them")
    _, settings = rs.for_profile(rs.default_profile)
    s = settings[rule_id]
    click.echo(explain_text(rule, s.severity, s.enabled, dict(s.params)))
