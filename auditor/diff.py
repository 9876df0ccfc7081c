"""What changed for a client since its previous result: new, resolved and persisting findings, score change.

Findings are matched by fingerprint (rule, client, resources), never by message, so a reworded message or a
changed volume is the same finding. Suppressed findings are left out on both sides: a finding whose
suppression expired is new again, a newly suppressed one is simply no longer listed. A finding of a rule that
did not run this time is not "resolved": it is counted as not checked.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.engine import SEVERITY_RANK
from auditor.result import Changes, ClientResult, FindingRef, PreviousRun, TrendPoint


def _order(f: FindingRef) -> tuple[int, str, str]:
    return SEVERITY_RANK.get(f.severity, 99), f.rule, f.fingerprint


def _sorted(found: Iterable[FindingRef]) -> list[FindingRef]:
    return sorted(found, key=_order)


def compute_changes(current: ClientResult, previous: ClientResult | None, trend: list[TrendPoint] | None = None,
                    generated_at: str | None = None, previous_at: str | None = None) -> Changes:
    """The `changes` block of a client result. `previous` is the baseline result (None on a first run), written
    at `previous_at`; `trend` the earlier scores, oldest first (the current score is appended here)."""
    points = [*(trend or []), TrendPoint(generated_at or current.generated_at, current.score, current.grade)]
    out = Changes(trend=points, changed=True)
    if previous is None:
        return out  # first audit of this client: nothing to compare with, which counts as a change
    out.previous = PreviousRun(previous_at or previous.generated_at, previous.score, previous.grade,
                               previous.status)
    if current.score is not None and previous.score is not None:
        out.score_delta = current.score - previous.score
        out.deductions_before = sum(d.points for d in previous.deductions)
        out.deductions_now = sum(d.points for d in current.deductions)
    before = {f.fingerprint: FindingRef.of(f) for f in previous.active}
    if current.score is None:  # not audited this time: no finding is known to be new or resolved
        out.not_checked = len(before)
        out.changed = current.status != previous.status
        return out
    now_all = {f.fingerprint for f in current.findings}
    now = {f.fingerprint: FindingRef.of(f) for f in current.active}
    ran = {r.id for r in current.rules if r.ran}
    out.new = _sorted(f for fp, f in now.items() if fp not in before)
    out.persisting = _sorted(f for fp, f in now.items() if fp in before)
    gone = [f for fp, f in before.items() if fp not in now_all]
    out.resolved = _sorted(f for f in gone if f.rule in ran)
    out.not_checked = sum(1 for f in gone if f.rule not in ran)
    moved = out.deductions_before != out.deductions_now
    out.changed = bool(out.new or out.resolved or out.score_delta or moved or current.status != previous.status)
    return out


def changes_line(changes: Changes) -> str:
    """One line for reports: 'since 2025-01-06: deductions 45 -> 52, score -7 (55 -> 48); 1 new, 2 resolved, 5
    persisting'. The deductions say what a fix under the floor changed: 'deductions 153 -> 123, score unchanged
    (0 -> 0, floored at 0)'."""
    prev = changes.previous
    if prev is None:
        return "first audit: no earlier run to compare with"
    when = str(prev.generated_at or "")[:10]
    delta = changes.score_delta
    now = (prev.score or 0) + (delta or 0)
    floor = ", floored at 0" if now == 0 and (changes.deductions_now or 0) > 100 else ""
    score = (f"score unchanged ({prev.score} -> {now}{floor})" if delta == 0 and changes.deductions_now is not None
             else "score unchanged" if delta == 0 else f"score {delta:+d} ({prev.score} -> {now}{floor})"
             if delta is not None else "score not comparable")
    before, after = changes.deductions_before, changes.deductions_now
    if before is not None and after is not None and delta is not None:
        score = f"deductions {before} -> {after}, {score}"
    parts = [f"{len(changes.new)} new", f"{len(changes.resolved)} resolved", f"{len(changes.persisting)} persisting"]
    if changes.not_checked:
        parts.append(f"{changes.not_checked} not checked")
    return f"since {when}: {score}; " + ", ".join(parts)


def pair_clients(old: Iterable[ClientResult], new: Iterable[ClientResult]
                 ) -> list[tuple[str, ClientResult | None, ClientResult | None]]:
    """Pair the clients of two results by name: (name, old client or None, new client or None)."""
    a = {c.name: c for c in old}
    b = {c.name: c for c in new}
    return [(n, a.get(n), b.get(n)) for n in sorted({*a, *b})]


def change_lines(changes: Changes) -> list[str]:
    """Plain lines for the text renderers (the caller escapes them): the summary line, then each new and each
    resolved finding. Persisting findings are the report's findings table already."""
    lines = [changes_line(changes)]
    for label, found in (("new", changes.new), ("resolved", changes.resolved)):
        lines += [f"{label}: {f.severity} {f.rule}: {f.message}" for f in found]
    return lines


def change_of(changes: Changes | None) -> dict[str, str]:
    """fingerprint -> 'new' | 'persisting' for a report's findings (the CSV `change` column)."""
    if changes is None:
        return {}
    out = {f.fingerprint: "persisting" for f in changes.persisting}
    out.update({f.fingerprint: "new" for f in changes.new})
    return out
