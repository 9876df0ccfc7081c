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
    """A rule to fix, the points fixing it really recovers, and its worst finding (which says what and how).

    `points` is the score's change once the rule's open findings are gone, re-scored as the score is made (the
    floor at 0 applies): with deductions of 153, fixing a rule that deducts 30 leaves the score at 0, and says so
    rather than promising 30 points."""

    deduction: Deduction
    finding: Finding
    points: int = 0  # the score's real change once this rule's open findings are fixed
    findings: int = 1  # this rule's open findings: the gain needs every one of them fixed
    deducted: int = 0  # every failed rule's deductions together, now (above 100: the score is floored at 0)

    @property
    def gain(self) -> str:
        """'+15 points', '+15 points once its 3 findings are fixed', or, under the floor, 'no points yet:
        deductions 153 -> 123, the score stays 0 until they are below 100'."""
        if self.points <= 0:
            after = self.deducted - self.deduction.points
            return (f"no points yet: deductions {self.deducted} \u2192 {after}, the score stays 0 until they are "
                    "below 100")
        more = f" once its {self.findings} findings are fixed" if self.findings > 1 else ""
        return f"+{self.points} points{more}"


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


def gain(r: ClientResult, rule: str) -> int:
    """The score's real change once every open finding of `rule` is gone: the result re-scored without them (the
    floor at 0 applies, so a fix under the floor gains nothing yet)."""
    from auditor.scoring import score_client

    if r.score is None:
        return 0
    before = score_client(r.rules, r.findings).score  # the result's own score, as the formula makes it
    after = score_client(r.rules, [f for f in r.findings if f.rule != rule or f.suppressed]).score
    return max(0, (after or 0) - (before or 0))


def fix_first(r: ClientResult, n: int = FIX_FIRST) -> list[Fix]:
    """The top `n` fixes by the score they really recover, then by the points they deduct: each failed rule with
    points, with its worst active finding."""
    worst: dict[str, Finding] = {}
    open_by_rule: dict[str, int] = {}
    for f in r.active:
        open_by_rule[f.rule] = open_by_rule.get(f.rule, 0) + 1
        cur = worst.get(f.rule)
        if cur is None or _ORDER.index(f.severity) < _ORDER.index(cur.severity):
            worst[f.rule] = f
    total = sum(d.points for d in r.deductions)
    fixes = [Fix(d, worst[d.rule], gain(r, d.rule), open_by_rule[d.rule], total)
             for d in deductions(r) if d.points and d.rule in worst]
    fixes.sort(key=lambda fx: -fx.points)  # stable: equal gains keep the deductions' order
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
