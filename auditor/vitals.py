"""A client's vitals: what one run measured that a later run compares (the trend rules, the agency history).

`measure` is a pure function of the snapshot and its hierarchy: the funnel's step rates along the account's
ladder (side steps and tracking breaks, beside the ladder, have none), the daily volume of every ladder step and
key micro (GA4 users, else events, over 28 days; conversions of the enabled primary Google Ads actions over 30
days, named "ads:<action>"), the key events with events and the primary actions with conversions. The trend rule
reads a step by its rate and shows the daily volumes beside it, so it can tell traffic (every step down, rates
held) from a broken step. `to_json` / `from_json` store it in a run's result; the stored shape is the one older
results have, so either version reads the other's (a member one does not know is ignored; a member that is not
what `to_json` writes makes the whole stored run unreadable: it is skipped, never half trusted).
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


def _number(v: Any, where: str) -> float:
    """A finite, non-negative JSON number (what `to_json` writes for a rate or a volume); else ValueError."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")) \
            or v < 0:
        raise ValueError(f"vitals.{where}: expected a number of at least 0, got {_kind(v)}")
    return float(v)


def _kind(v: Any) -> str:
    if isinstance(v, str):
        return "a string"
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(v), "null" if v is None else type(v).__name__)


def _names(d: dict[str, Any], member: str) -> tuple[str, ...]:
    # a string is iterable too: read one character at a time it would make up names, so only a list is a list
    v = d.get(member)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(n, str) for n in v):
        raise ValueError(f"vitals.{member}: expected an array of names, got {_kind(v)}")
    return tuple(v)


def from_json(d: Any) -> EarlierRun:
    """The inverse of `to_json`, strict: a stored run is data that may be damaged, so anything that is not what
    `to_json` writes raises ValueError naming the member (the caller skips that run with a warning). Missing
    members read as empty (a result saved before they were measured); unknown members are ignored."""
    if not isinstance(d, dict):
        raise ValueError(f"vitals: expected an object, got {_kind(d)}")
    generated_at = d.get("generated_at")
    if generated_at is not None and not isinstance(generated_at, str):
        raise ValueError(f"vitals.generated_at: expected a string, got {_kind(generated_at)}")
    raw_steps = d.get("step_rates")
    if raw_steps is not None and not isinstance(raw_steps, list):
        raise ValueError(f"vitals.step_rates: expected an array, got {_kind(raw_steps)}")
    steps = []
    for i, s in enumerate(raw_steps or ()):
        if not (isinstance(s, list) and len(s) == 3 and isinstance(s[0], str) and isinstance(s[1], str)):
            raise ValueError(f"vitals.step_rates[{i}]: expected [from step, to step, rate]")
        steps.append((s[0], s[1], _number(s[2], f"step_rates[{i}]")))
    raw_daily = d.get("daily")
    if raw_daily is not None and not isinstance(raw_daily, dict):
        raise ValueError(f"vitals.daily: expected an object, got {_kind(raw_daily)}")
    daily = [(str(n), _number(v, f"daily.{n}")) for n, v in (raw_daily or {}).items()]
    return EarlierRun(generated_at=generated_at or "", step_rates=tuple(steps), daily=tuple(daily),
                      key_events=_names(d, "key_events"), primary_actions=_names(d, "primary_actions"))


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
