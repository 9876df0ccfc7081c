"""The funnel view: a ladder of events with their 28-day volumes, step rates and the biggest drop.

A pure function of the snapshot and a ladder, returning the JSON-ready dict that every report renders. The
ladder is the client's own when it has one (client.yaml or its config entry); otherwise the account's: the
profile ladder's steps the account has, plus its own events that measure as strong micros, placed by their
users, ending at the account's macro (`account_ladder`). Volumes are GA4 users (event counts where a report has
no users). Steps are not nested sets of people, so a step can exceed the one before it and its rate is then
shown above 100% as it is, never clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditor.evidence import count as fmt_count
from auditor.hierarchy import Hierarchy
from auditor.model import Client
from auditor.taxonomy import name_key

PERIOD_DAYS = 28
METRIC_WORDS = {"totalUsers": "users", "eventCount": "events"}


def account_ladder(h: Hierarchy, profile_ladder: Sequence[str]) -> tuple[list[str], str, str]:
    """The funnel around the account's own macro -> (ladder, source, note). The profile ladder's steps that the
    account has with at least the macro's users (a step after or beside the macro is left out), plus the events
    the hierarchy measures as strong micros before the macro, most users first, then the macro. Without an
    identified macro with users, the profile's ladder as it is."""
    m, ga4 = h.macro, h.client.ga4
    if ga4 is None or m is None or not m.reference:
        return list(profile_ladder), "profile", "the account's macro could not be identified: the profile's ladder"
    users: dict[str, int] = {}
    for e in ga4.events:
        users[name_key(e.event_name)] = users.get(name_key(e.event_name), 0) + e.total_users
    macro_key = name_key(m.reference)
    steps: dict[str, int] = {}
    after: list[str] = []
    untracked: list[str] = []
    for step in profile_ladder:
        k = name_key(step)
        n = users.get(k, 0)
        if k == macro_key:
            continue
        if not n:
            untracked.append(step)
        elif n < m.users:
            after.append(step)
        elif not h.is_macro_event(step):  # another outcome with more users is not a step toward this one
            steps[step] = n
    taken = {name_key(s) for s in steps}
    for ev in h.considered(profile_ladder):
        if ev.event and ev.proxy_grade and name_key(ev.event) not in taken:
            steps[ev.event] = users.get(name_key(ev.event), 0)
            taken.add(name_key(ev.event))
    ladder = sorted(steps, key=lambda s: (-steps[s], s)) + [m.reference]
    notes = [f"after or beside the macro, left out: {', '.join(after)}" if after else "",
             f"no users in 28 days: {', '.join(untracked)}" if untracked else ""]
    return ladder, "account", "; ".join(n for n in notes if n)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d > 0 else None


def _pct(r: float) -> str:
    return f"{100 * r:.1f}%"


def account_funnel(client: Client, hierarchy: Hierarchy, profile_ladder: Sequence[str]) -> dict[str, Any]:
    """The funnel along the account's own ladder (`account_ladder`), built once per client: the report, the
    vitals and the trend rule all read it."""
    key = "account_funnel"
    if key not in hierarchy.derived:
        ladder, source, note = account_ladder(hierarchy, profile_ladder)
        hierarchy.derived[key] = build_funnel(client, ladder, source, note)
    return hierarchy.derived[key]


def build_funnel(client: Client, ladder: Sequence[str], source: str = "profile", note: str = "") -> dict[str, Any]:
    """The funnel of `client` along `ladder`. Each step counts the users (or, in a report without users, the
    events) of the events whose name matches the step's after spelling folding (addToCart counts toward
    add_to_cart; the names are listed under `matched`). A step with no events has `count` null and is bridged:
    the next step's rate is taken from the last step with data, named in `previous`. The biggest drop is the
    step with the lowest rate from its previous step."""
    ladder = [str(s) for s in ladder]
    with_users = client.ga4 is not None and any(e.total_users > 0 for e in client.ga4.events)
    metric = "totalUsers" if with_users else "eventCount"
    out: dict[str, Any] = {
        "available": False, "source": source, "ladder": ladder, "period_days": PERIOD_DAYS, "metric": metric,
        "steps": [], "missing": [], "biggest_drop": None, "summary": "", "reason": None, "note": note or None,
    }
    if not ladder:
        out["reason"] = "no funnel ladder is configured for this profile or client"
        return out
    if client.ga4 is None:
        out["reason"] = "no GA4 data for this client: the funnel is built from GA4 event volumes"
        return out
    by_key: dict[str, list[tuple[str, int]]] = {}
    for e in client.ga4.events:
        volume = e.total_users if with_users else e.event_count
        if volume > 0:
            by_key.setdefault(name_key(e.event_name), []).append((e.event_name, volume))
    steps: list[dict[str, Any]] = []
    first: int | None = None
    prev: dict[str, Any] | None = None
    for event in ladder:
        hits = sorted(by_key.get(name_key(event), []), key=lambda h: (-h[1], h[0]))
        count = sum(n for _, n in hits) if hits else None
        step: dict[str, Any] = {"event": event, "count": count, "available": count is not None,
                                "matched": [n for n, _ in hits], "previous": None, "rate_from_previous": None,
                                "rate_from_first": None}
        if count is not None:
            if first is None:
                first = count
            step["rate_from_first"] = _rate(count, first)
            if prev is not None:
                step["previous"] = prev["event"]
                step["rate_from_previous"] = _rate(count, prev["count"])
            prev = step
        steps.append(step)
    out["steps"] = steps
    out["missing"] = [s["event"] for s in steps if not s["available"]]
    with_data = [s for s in steps if s["available"]]
    missing = out["missing"]
    gap = (f"; no events in 28 days for {', '.join(missing)} (not tracked under "
           f"{'that name' if len(missing) == 1 else 'those names'}, or renamed)") if missing else ""
    if len(with_data) < 2:
        out["reason"] = f"only {len(with_data)} of {len(ladder)} ladder steps have events in 28 days{gap}"
        return out
    out["available"] = True
    rated = [s for s in with_data if s["rate_from_previous"] is not None]
    worst = min(rated, key=lambda s: s["rate_from_previous"]) if rated else None
    if worst is not None and worst["rate_from_previous"] < 1:
        before = next(s for s in with_data if s["event"] == worst["previous"])
        rate = worst["rate_from_previous"]
        out["biggest_drop"] = {"from": before["event"], "to": worst["event"], "rate": rate,
                               "drop": round(1 - rate, 4), "lost": before["count"] - worst["count"]}
        out["summary"] = (f"Biggest drop: {before['event']} → {worst['event']}: {_pct(rate)} continue, "
                          f"{_pct(1 - rate)} lost ({fmt_count(before['count'] - worst['count'])} "
                          f"{METRIC_WORDS[metric]}): the highest-leverage fix{gap}.")
    else:
        out["summary"] = f"No step loses volume{gap}."
    return out


# --- display helpers shared by the renderers (they receive the JSON dict, possibly from a saved result) ------

def funnel_caption(f: dict[str, Any]) -> str:
    """'account ladder, GA4 users, last 28 days' (results saved before users were counted say event counts)."""
    what = "GA4 users" if f.get("metric") == "totalUsers" else "GA4 event counts"
    note = f"; {f['note']}" if f.get("note") else ""
    return f"{f['source']} ladder, {what}, last {f['period_days']} days{note}"


def funnel_unit(f: dict[str, Any]) -> str:
    return "users" if f.get("metric") == "totalUsers" else "events"


def _is_worst(f: dict[str, Any], s: dict[str, Any]) -> bool:
    d = f.get("biggest_drop")
    return bool(d) and s.get("event") == d["to"] and s.get("previous") == d["from"]


def _label(s: dict[str, Any]) -> str:
    others = [n for n in s.get("matched") or [] if n != s["event"]]
    return s["event"] + (f" (+ {', '.join(others)})" if others else "")


def funnel_rows(f: dict[str, Any]) -> list[list[str]]:
    """[step, events, from previous, from first, note] per step, as text."""
    rows = []
    ladder = [s["event"] for s in f.get("steps") or []]
    for i, s in enumerate(f.get("steps") or []):
        if not s.get("available"):
            rows.append([_label(s), "no data", "-", "-", ""])
            continue
        rp, rf = s.get("rate_from_previous"), s.get("rate_from_first")
        note = "biggest drop" if _is_worst(f, s) else ""
        if s.get("previous") and i > 0 and s["previous"] != ladder[i - 1]:
            note = "; ".join(x for x in (note, f"from {s['previous']}") if x)
        rows.append([_label(s), fmt_count(s["count"]), "-" if rp is None else _pct(rp),
                     "-" if rf is None else _pct(rf), note])
    return rows

