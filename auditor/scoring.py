"""The published score: 0-100 per client, per rule (not per finding), with coverage beside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from auditor.engine import SEVERITIES, SEVERITY_RANK
from auditor.result import Deduction, Finding, RuleResult, Score

DEDUCTIONS = {"critical": 30, "high": 15, "medium": 7, "low": 2, "info": 0}
GRADES = (("A", 90), ("B", 80), ("C", 70), ("D", 60), ("F", 0))

FORMULA = (
    "score = max(0, 100 - sum over failed rules of the deduction for that rule's worst unsuppressed finding: "
    "critical 30, high 15, medium 7, low 2, info 0). A rule counts once however many findings it has. "
    "Grade: A >= 90, B >= 80, C >= 70, D >= 60, else F. Category scores apply the same formula to the rules "
    "of one category. Coverage = rules that ran / rules that apply to the client's data; a rule that could "
    "not run (data not collected, or it crashed) lowers coverage, not the score."
)


def grade(score: int) -> str:
    return next(g for g, floor in GRADES if score >= floor)


def worst(severities: Iterable[str]) -> str | None:
    ranked = sorted(severities, key=lambda s: SEVERITY_RANK.get(s, len(SEVERITIES)))
    return ranked[0] if ranked else None


def _score(worst_by_rule: Mapping[str, str]) -> int:
    return max(0, 100 - sum(DEDUCTIONS.get(s, 0) for s in worst_by_rule.values()))


def score_client(rules: Sequence[RuleResult], findings: Sequence[Finding]) -> Score:
    """Score, grade, category scores, coverage, severity counts and the deductions that make the score.

    Works on the result (not on the snapshot) so a report can be re-scored after suppressions."""
    active = [f for f in findings if not f.suppressed]
    by_rule: dict[str, list[str]] = {}
    for f in active:
        by_rule.setdefault(f.rule, []).append(f.severity)
    worst_by_rule = {r: w for r, sev in by_rule.items() if (w := worst(sev))}
    category_of = {r.id: r.category for r in rules}
    ran_categories = {r.category for r in rules if r.category and r.ran}
    worst_by_category: dict[str, dict[str, str]] = {c: {} for c in ran_categories}
    for rid, sev in worst_by_rule.items():
        cat = category_of.get(rid)
        if cat in worst_by_category:
            worst_by_category[cat][rid] = sev
    categories = {cat: _score(worst_by_category[cat]) for cat in sorted(ran_categories)}
    applicable = [r for r in rules if r.status != "not_applicable"]
    ran = [r for r in applicable if r.ran]
    score = _score(worst_by_rule)
    counts = {s: 0 for s in SEVERITIES}
    for f in active:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    deductions = sorted((Deduction(r, s, DEDUCTIONS.get(s, 0), category_of.get(r, ""))
                         for r, s in worst_by_rule.items()),
                        key=lambda d: (-d.points, SEVERITY_RANK.get(d.severity, 9), d.rule))
    return Score(score=score, grade=grade(score), coverage=round(100 * len(ran) / len(applicable)) if applicable else 0,
                 categories=categories, counts=counts, deductions=deductions)
