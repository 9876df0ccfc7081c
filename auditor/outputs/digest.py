"""The executive summary of one client, shared by every format: what makes the score, what to fix first, what
passed. Derived from the result alone (its deductions, findings and rules), so a saved result renders the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.result import SEVERITIES as _ORDER
from auditor.result import ClientResult, Deduction, Finding, RuleResult

FIX_FIRST = 3


@dataclass(frozen=True, slots=True)
class Fix:
    """A rule to fix, the points fixing it recovers, and its worst finding (which says what and how)."""

    deduction: Deduction
    finding: Finding

    @property
    def points(self) -> int:
        return self.deduction.points


def deductions(r: ClientResult) -> list[Deduction]:
    """Every failed rule's deduction, largest first (they sum to 100 - score, floored at 0)."""
    return sorted(r.deductions, key=lambda d: (-d.points, _ORDER.index(d.severity), d.rule))


def counted(r: ClientResult) -> list[Deduction]:
    """The deductions that take points, largest first (a rule whose worst finding is info takes none)."""
    return [d for d in deductions(r) if d.points]


def floored(r: ClientResult) -> bool:
    """The deductions add up to more than 100: the score stops at 0 and no longer equals 100 minus them."""
    return sum(d.points for d in r.deductions) > 100


def deduction_line(r: ClientResult) -> str:
    """'100 - 30 duplicate-conversion-action - 15 micro-primary-goal ... = 4' (the floor at 0 said when it bites)."""
    ds = counted(r)
    if r.score is None or not ds:
        return ""
    floor = " (floored at 0)" if floored(r) else ""
    return "100 " + " ".join(f"- {d.points} {d.rule}" for d in ds) + f" = {r.score}{floor}"


def fix_first(r: ClientResult, n: int = FIX_FIRST) -> list[Fix]:
    """The top `n` fixes by score recovered: each failed rule with points, with its worst active finding."""
    worst: dict[str, Finding] = {}
    for f in r.active:
        cur = worst.get(f.rule)
        if cur is None or _ORDER.index(f.severity) < _ORDER.index(cur.severity):
            worst[f.rule] = f
    fixes = [Fix(d, worst[d.rule]) for d in deductions(r) if d.points and d.rule in worst]
    return fixes[:n]


def passed(r: ClientResult) -> list[RuleResult]:
    """The checks that ran and found nothing, by id."""
    return sorted((x for x in r.rules if x.status == "pass"), key=lambda x: x.id)


def not_run(r: ClientResult) -> list[RuleResult]:
    return [x for x in r.rules if x.status in ("not_run", "error")]


def title_of(r: ClientResult, rule: str) -> str:
    """The rule's title as the result recorded it ('One business event counted twice'), else its id."""
    return next((x.title for x in r.rules if x.id == rule and x.title), rule)


def subject_line(f: Finding) -> str:
    """'Purchase, purchase (GA4)': what the finding is about, by name (resource ids are secondary detail)."""
    return ", ".join(s.label for s in f.subjects) if f.subjects else ", ".join(f.resources)
