"""What changed for a client since its previous result: new, resolved and persisting findings, score change.

Findings are matched by fingerprint (rule, client, resources), never by message, so a reworded message or a
changed volume is the same finding. Suppressed findings are left out on both sides: a finding whose
suppression expired is new again, a newly suppressed one is simply no longer listed. A finding of a rule that
did not run this time is not "resolved": it is counted as not checked.
"""

from __future__ import annotations

from typing import Any

from auditor.engine import SEVERITY_RANK


def short(f: dict[str, Any]) -> dict[str, Any]:
    return {"fingerprint": f["fingerprint"], "rule": f["rule"], "severity": f["severity"], "message": f["message"],
            "resources": list(f.get("resources") or [])}


def _order(f: dict[str, Any]) -> tuple[int, str, str]:
    return SEVERITY_RANK.get(f["severity"], 99), f["rule"], f["fingerprint"]


def compute_changes(current: dict[str, Any], previous: dict[str, Any] | None,
                    trend: list[dict[str, Any]] | None = None, generated_at: str | None = None) -> dict[str, Any]:
    """The `changes` block of a client result. `previous` is the baseline result (None on a first run);
    `trend` the earlier scores, oldest first (the current score is appended here)."""
    points = [*(trend or []), {"generated_at": generated_at or current.get("generated_at"),
                               "score": current["score"], "grade": current["grade"]}]
    out: dict[str, Any] = {"previous": None, "score_delta": None, "new": [], "resolved": [], "persisting": [],
                           "not_checked": 0, "trend": points, "changed": True}
    if previous is None:
        return out  # first audit of this client: nothing to compare with, which counts as a change
    out["previous"] = {"generated_at": previous.get("generated_at"), "score": previous["score"],
                       "grade": previous["grade"], "status": previous["status"]}
    if current["score"] is not None and previous["score"] is not None:
        out["score_delta"] = current["score"] - previous["score"]
    before = {f["fingerprint"]: f for f in previous["findings"] if not f.get("suppressed")}
    if current["score"] is None:  # not audited this time: no finding is known to be new or resolved
        out["not_checked"] = len(before)
        out["changed"] = current["status"] != previous["status"]
        return out
    now_all = {f["fingerprint"] for f in current["findings"]}
    now = {f["fingerprint"]: f for f in current["findings"] if not f.get("suppressed")}
    ran = {r["id"] for r in current["rules"] if r["status"] in ("pass", "fail")}
    out["new"] = [short(f) for f in sorted((f for fp, f in now.items() if fp not in before), key=_order)]
    out["persisting"] = [short(f) for f in sorted((f for fp, f in now.items() if fp in before), key=_order)]
    gone = [f for fp, f in before.items() if fp not in now_all]
    out["resolved"] = [short(f) for f in sorted((f for f in gone if f["rule"] in ran), key=_order)]
    out["not_checked"] = sum(1 for f in gone if f["rule"] not in ran)
    out["changed"] = bool(out["new"] or out["resolved"] or out["score_delta"]
                          or current["status"] != previous["status"])
    return out


def changes_line(changes: dict[str, Any]) -> str:
    """One line for reports: 'since 2025-01-06: score -7 (55 -> 48); 1 new, 2 resolved, 5 persisting'."""
    prev = changes.get("previous")
    if prev is None:
        return "first audit: no earlier run to compare with"
    when = str(prev.get("generated_at") or "")[:10]
    delta = changes.get("score_delta")
    score = ("score unchanged" if delta == 0 else f"score {delta:+d} ({prev['score']} -> {prev['score'] + delta})"
             if delta is not None else "score not comparable")
    parts = [f"{len(changes['new'])} new", f"{len(changes['resolved'])} resolved",
             f"{len(changes['persisting'])} persisting"]
    if changes.get("not_checked"):
        parts.append(f"{changes['not_checked']} not checked")
    return f"since {when}: {score}; " + ", ".join(parts)


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None,
                                                                            dict[str, Any] | None]]:
    """Pair the clients of two saved JSON results by name: (name, old client or None, new client or None)."""
    a = {c["name"]: c for c in old.get("clients", [])}
    b = {c["name"]: c for c in new.get("clients", [])}
    for doc, clients in ((old, a), (new, b)):
        for c in clients.values():
            c.setdefault("generated_at", doc.get("generated_at"))
    return [(n, a.get(n), b.get(n)) for n in sorted({*a, *b})]


def change_lines(changes: dict[str, Any]) -> list[str]:
    """Plain lines for the text renderers (the caller escapes them): the summary line, then each new and each
    resolved finding. Persisting findings are the report's findings table already."""
    lines = [changes_line(changes)]
    for label, found in (("new", changes.get("new") or []), ("resolved", changes.get("resolved") or [])):
        lines += [f"{label}: {f['severity']} {f['rule']}: {f['message']}" for f in found]
    return lines


def change_of(changes: dict[str, Any] | None) -> dict[str, str]:
    """fingerprint -> 'new' | 'persisting' for a report's findings (the CSV `change` column)."""
    if not changes:
        return {}
    out = {f["fingerprint"]: "persisting" for f in changes.get("persisting") or []}
    out.update({f["fingerprint"]: "new" for f in changes.get("new") or []})
    return out
