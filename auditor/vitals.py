"""A client's vitals: what one run measured that a later run compares (the trend rules, the agency history).

`measure` is a pure function of the snapshot and its hierarchy: the funnel's step rates along the account's
ladder, the daily volume of the key micros (GA4 users, else events, over 28 days; conversions of the enabled
primary Google Ads actions over 30 days, named "ads:<action>"), the key events with events and the primary
actions with conversions. `to_json` / `from_json` store it in a run's result.
"""

from __future__ import annotations

from typing import Any

from auditor.funnel import PERIOD_DAYS, account_funnel
from auditor.hierarchy import ADS_DAYS, Hierarchy
from auditor.model import Client, EarlierRun
from auditor.taxonomy import Taxonomy

ADS_PREFIX = "ads:"
RATE_DIGITS = 4
DAILY_DIGITS = 4
Step = tuple[str, str, float, int]


def steps(client: Client, hierarchy: Hierarchy, taxonomy: Taxonomy) -> tuple[list[str], list[Step]]:
    """The account's ladder and its funnel steps with data: (from, to, rate from previous, users or events at
    `from`), in ladder order (a step without data is bridged from the last one with data)."""
    if client.ga4 is None:
        return [], []
    funnel = account_funnel(client, hierarchy, taxonomy.funnel)
    ladder = funnel["ladder"]
    counts = {s["event"]: s["count"] for s in funnel["steps"]}
    out: list[Step] = []
    for s in funnel["steps"]:
        if s.get("previous") is not None and s.get("rate_from_previous") is not None:
            out.append((s["previous"], s["event"], round(float(s["rate_from_previous"]), RATE_DIGITS),
                        int(counts.get(s["previous"]) or 0)))
    return ladder, out


def measure(client: Client, hierarchy: Hierarchy, taxonomy: Taxonomy, generated_at: str) -> EarlierRun:
    """The vitals of `client` as this run measured them."""
    daily: dict[str, float] = {}
    key_events: list[str] = []
    ga4, ads = client.ga4, client.ads
    ladder, funnel_steps = steps(client, hierarchy, taxonomy)
    step_rates = [(a, b, r) for a, b, r, _ in funnel_steps]
    if ga4 is not None:
        names: list[str] = []
        if hierarchy.macro is not None:
            names.extend(hierarchy.macro.events)
        names.extend(ev.event for ev in hierarchy.considered(ladder) if ev.event and ev.action is None)
        by_name = {e.event_name: e for e in ga4.events}
        for n in names:
            e = by_name.get(n)
            if e is None or n in daily:
                continue
            volume = e.total_users or e.event_count
            if volume > 0:
                daily[n] = round(volume / PERIOD_DAYS, DAILY_DIGITS)
        key_events = sorted({k.event_name for k in ga4.key_events
                             if (e := by_name.get(k.event_name)) is not None and e.event_count > 0})
    primary: list[str] = []
    if ads is not None:
        for a in ads.primary_actions:
            if a.stats.conversions > 0:
                primary.append(a.name)
                key = ADS_PREFIX + a.name
                daily[key] = round(daily.get(key, 0.0) + a.stats.conversions / ADS_DAYS, DAILY_DIGITS)
    return EarlierRun(generated_at=generated_at, step_rates=tuple(step_rates), daily=tuple(daily.items()),
                      key_events=tuple(key_events), primary_actions=tuple(sorted(set(primary))))


def to_json(run: EarlierRun) -> dict[str, Any]:
    return {"generated_at": run.generated_at,
            "step_rates": [[a, b, round(r, RATE_DIGITS)] for a, b, r in run.step_rates],
            "daily": {n: v for n, v in run.daily},
            "key_events": list(run.key_events),
            "primary_actions": list(run.primary_actions)}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        return None
    return float(v)


def from_json(d: dict[str, Any]) -> EarlierRun:
    """The inverse of `to_json`; missing parts read as empty (a result saved before they were measured), and an
    entry that is not what `to_json` writes is left out rather than trusted."""
    steps = []
    for s in d.get("step_rates") or ():
        if isinstance(s, (list, tuple)) and len(s) == 3 and (r := _number(s[2])) is not None:
            steps.append((str(s[0]), str(s[1]), r))
    raw_daily = d.get("daily")
    daily = [(str(n), x) for n, v in (raw_daily.items() if isinstance(raw_daily, dict) else ())
             if (x := _number(v)) is not None]
    return EarlierRun(generated_at=str(d.get("generated_at") or ""), step_rates=tuple(steps), daily=tuple(daily),
                      key_events=tuple(str(n) for n in d.get("key_events") or ()),
                      primary_actions=tuple(str(n) for n in d.get("primary_actions") or ()))


def daily_volume(client: Client, name: str) -> float | None:
    """The current daily volume of one `daily` entry as `measure` counts it: a GA4 event's users (else events) /
    28 (0 when the report has no row), an "ads:" action's conversions / 30 over its enabled primary actions of
    that name. None when it is not comparable: no such source, or no enabled primary action of that name (removed,
    renamed or set to secondary: a change, not a drop)."""
    if name.startswith(ADS_PREFIX):
        if client.ads is None:
            return None
        hits = [a for a in client.ads.primary_actions if a.name == name[len(ADS_PREFIX):]]
        return sum(a.stats.conversions for a in hits) / ADS_DAYS if hits else None
    if client.ga4 is None:
        return None
    e = client.ga4.event(name)
    return 0.0 if e is None else (e.total_users or e.event_count) / PERIOD_DAYS
