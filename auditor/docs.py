"""docs/rules.md, generated from the built-in rules and the shipped rule packs (rules/*.yaml).

Regenerate with `python -m auditor.docs > docs/rules.md` (or `audit rules --markdown > docs/rules.md`);
tests/test_docs.py fails when the file is out of date. A user config never changes this document.
"""

from __future__ import annotations

import sys
from typing import Any

from auditor.engine import OPTIONAL_DATA, Rule
from auditor.ruleset import DEFAULT_PROFILE, Ruleset

REGENERATE = "python -m auditor.docs > docs/rules.md"

_NEEDS = {
    "ga4": "GA4", "ads": "Google Ads", "ga4|ads": "GA4 or Google Ads",
    "history": "earlier complete runs of the client (agency runs with history)",
    **{need: f"{what} (`{file}`)" for need, (what, file) in OPTIONAL_DATA.items()},
}


def builtin_rules(rs: Ruleset) -> list[Rule]:
    """The rules shipped with the auditor (third-party plugins document themselves), by id."""
    return sorted((r for r in rs.rules.values() if r.check.__module__.startswith("auditor.checks.")),
                  key=lambda r: r.id)


def needs(rule: Rule) -> str:
    return ", ".join(_NEEDS.get(n, n) for n in rule.requires) or "nothing beyond the snapshot"


def _flat(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")  # one line, safe inside a table cell


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v) if v else "(none)"
    return str(v)


def base_params(rs: Ruleset, rule: Rule) -> dict[str, Any]:
    """Parameter values of the default ruleset: the rule's own defaults, then rules/default.yaml."""
    params = {k: p.default for k, p in rule.params.items()}
    params.update((rs.base.get(rule.id) or {}).get("params") or {})
    return params


def default_severity(rs: Ruleset, rule: Rule) -> str:
    return str((rs.base.get(rule.id) or {}).get("severity", rule.severity))


def rules_markdown(rs: Ruleset | None = None) -> str:
    """The whole of docs/rules.md: a summary table, then one section per rule."""
    rs = rs or Ruleset.load()
    rules = builtin_rules(rs)
    profiles = [DEFAULT_PROFILE] + sorted(p for p in rs.profiles if p != DEFAULT_PROFILE)
    settings = {p: rs.for_profile(p)[1] for p in profiles}
    out = [
        "# Rules", "",
        f"<!-- Generated from the rule code and rules/*.yaml by `{REGENERATE}`. Do not edit by hand: "
        "tests/test_docs.py fails when this file is out of date. -->", "",
        f"{len(rules)} built-in rules. Severity is the default of `rules/default.yaml`; a profile "
        "(`rules/profiles/*.yaml`) or a user config (`--config`) can change it, the thresholds, and whether a rule "
        "runs. The profile columns say whether the rule runs for that business model, with its severity when the "
        "profile changes it. `audit rules` lists the rules for the active profile and `audit explain RULE` prints "
        "one of them.", "",
        "| rule | category | severity | " + " | ".join(profiles) + " | title |",
        "| --- | --- | --- | " + " | ".join("---" for _ in profiles) + " | --- |",
    ]
    for r in rules:
        sev = default_severity(rs, r)
        cells = []
        for p in profiles:
            s = settings[p][r.id]
            cells.append("no" if not s.enabled else "yes" if s.severity == sev else f"yes ({s.severity})")
        out.append(f"| [`{r.id}`](#{r.id}) | {r.category} | {sev} | " + " | ".join(cells) + f" | {r.title} |")
    for r in rules:
        out += ["", f"## {r.id}", "", f"**{r.title}.** Category `{r.category}`, default severity "
                f"`{default_severity(rs, r)}`. Needs: {needs(r)}.", "",
                "**What it checks.** " + _flat(r.doc), "",
                "**Why it matters.** " + _flat(r.rationale), "",
                "**What it rests on.** " + _flat(r.rests_on), "",
                "**How to fix.** " + _flat(r.remediation)]
        if r.params:
            base = base_params(rs, r)
            out += ["", "| parameter | default | meaning | profile overrides |", "| --- | --- | --- | --- |"]
            for k, p in r.params.items():
                overrides = [f"{prof}: {_value(settings[prof][r.id].params.get(k))}" for prof in profiles
                             if settings[prof][r.id].params.get(k) != base.get(k)]
                out.append(f"| `{k}` | {_value(base.get(k))} | {_flat(p.doc)} | {'; '.join(overrides) or '-'} |")
        if r.example:
            out += ["", "Example finding:", "", "> " + _flat(r.example)]
        if r.references:
            out += ["", "References:", ""] + [f"- {ref}" for ref in r.references]
    return "\n".join(out) + "\n"


def main() -> None:
    sys.stdout.write(rules_markdown())


if __name__ == "__main__":
    main()
