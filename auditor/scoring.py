"""The published score: 0-100 per client, per rule (not per finding), with coverage beside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.engine import SEVERITIES, SEVERITY_RANK

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


def score_client(rules: list[dict[str, Any]], findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Score, grade, category scores, coverage and severity counts from a client's JSON rule list and findings.

    Works on the JSON result (not on live objects) so a report can be re-scored after suppressions.
    """
    active = [f for f in findings if not f.get("suppressed")]
    by_rule: dict[str, list[str]] = {}
    for f in active:
        by_rule.setdefault(f["rule"], []).append(f["severity"])
    worst_by_rule = {r: w for r, sev in by_rule.items() if (w := worst(sev))}
    category_of = {r["id"]: r.get("category", "") for r in rules}
    categories: dict[str, int] = {}
    for cat in sorted({c for c in category_of.values() if c}):
        ran = [r["id"] for r in rules if r.get("category") == cat and r["status"] in ("pass", "fail")]
        if ran:
            categories[cat] = _score({r: s for r, s in worst_by_rule.items() if category_of.get(r) == cat})
    applicable = [r for r in rules if r["status"] != "not_applicable"]
    ran = [r for r in applicable if r["status"] in ("pass", "fail")]
    score = _score(worst_by_rule)
    counts = {s: 0 for s in SEVERITIES}
    for f in active:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return {
        "score": score,
        "grade": grade(score),
        "coverage": round(100 * len(ran) / len(applicable)) if applicable else 0,
        "categories": categories,
        "counts": counts,
    }
