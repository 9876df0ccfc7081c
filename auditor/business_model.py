"""Which profile (business model) a client is audited with, and why.

A profile set for the client (its client.yaml or its config entry) wins, then one set for the run (--profile,
the config's `profile:` or `defaults.profile`). Otherwise the client's own data decides, by the `signals:` of each
profile in rules/profiles/: the types of its primary Google Ads actions (3 points each: app installs and in-app
actions; such an action casts no category vote), the categories of its other primary actions (3 each), its enabled
campaigns' channel types (3 each: App campaigns), its key events named as that model's outcomes (2 each), GA4
events only that model sends (2, app events such as first_open), events that carry revenue (3), no macro outcome
at all (2, content) and the GA4 industry category (1, a tie-breaker). Returning-user actions (a login filed under
SIGNUP) cast no vote. A tie or no signal at all falls back to the default profile, and
the result says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from auditor.evidence import count
from auditor.model import Client, ConversionAction
from auditor.taxonomy import name_key

Source = Literal["client", "config", "inferred", "default"]

ADS_POINTS, KEY_EVENT_POINTS, REVENUE_POINTS, NO_MACRO_POINTS, INDUSTRY_POINTS = 3, 2, 3, 2, 1
CAMPAIGN_POINTS, EVENT_POINTS = 3, 2


@dataclass(frozen=True)
class ProfileChoice:
    name: str
    source: Source
    evidence: tuple[str, ...] = ()

    def label(self) -> str:
        """'lead-gen (inferred: ...)' for reports; a configured profile is just its name."""
        if self.source in ("client", "config"):
            return self.name
        return f"{self.name} ({self.source}: {'; '.join(self.evidence)})"


@dataclass
class _Votes:
    points: dict[str, int] = field(default_factory=dict)
    why: dict[str, list[str]] = field(default_factory=dict)

    def add(self, profile: str, points: int, reason: str) -> None:
        self.points[profile] = self.points.get(profile, 0) + points
        self.why.setdefault(profile, []).append(reason)


def _tally(counts: Mapping[str, int], hit: list[str]) -> str:
    """'PURCHASE x2, SIGNUP'."""
    return ", ".join(h + (f" x{counts[h]}" if counts[h] > 1 else "") for h in hit)


def _signals(profiles: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {name: p.get("signals") or {} for name, p in profiles.items()}


def infer_profile(client: Client, profiles: Mapping[str, Mapping[str, Any]], macro_names: frozenset[str],
                  macro_categories: frozenset[str], default: str,
                  returning: Callable[[ConversionAction], bool] = lambda a: False) -> ProfileChoice:
    """The profile the client's data points to. `macro_names` (name keys) and `macro_categories` say what any
    profile counts as a macro outcome, to tell a property with none (content); `returning` tells a returning-user
    action, which casts no vote."""
    signals = _signals(profiles)
    votes = _Votes()
    ads, ga4 = client.ads, client.ga4
    has_macro = False
    if ads:
        typed = {t for sig in signals.values() for t in sig.get("ads_types") or ()}
        cats: dict[str, int] = {}
        types: dict[str, int] = {}
        for a in ads.primary_actions:
            if returning(a):
                continue
            if a.type in typed:
                types[a.type] = types.get(a.type, 0) + 1
                has_macro = True
                continue
            cats[a.category] = cats.get(a.category, 0) + 1
            has_macro = has_macro or a.category in macro_categories
        for name, sig in signals.items():
            hit = sorted(t for t in types if t in (sig.get("ads_types") or ()))
            if hit:
                votes.add(name, ADS_POINTS * sum(types[t] for t in hit),
                          "primary Google Ads actions of types " + _tally(types, hit))
        channels: dict[str, int] = {}
        for c in ads.campaigns or ():
            if c.status == "ENABLED":
                channels[c.channel_type] = channels.get(c.channel_type, 0) + 1
        for name, sig in signals.items():
            hit = sorted(ch for ch in channels if ch in (sig.get("channel_types") or ()))
            if hit:
                votes.add(name, CAMPAIGN_POINTS * sum(channels[ch] for ch in hit),
                          "enabled campaigns of type " + _tally(channels, hit))
        for name, sig in signals.items():
            hit = sorted(c for c in cats if c in (sig.get("ads_categories") or ()))
            if hit:
                n = sum(cats[c] for c in hit)
                votes.add(name, ADS_POINTS * n, "primary Google Ads actions " + _tally(cats, hit))
    if ga4:
        keys = {name_key(k.event_name): k.event_name for k in ga4.key_events}
        has_macro = has_macro or any(k in macro_names for k in keys)
        for name, sig in signals.items():
            hit = sorted(keys[k] for k in keys if k in {name_key(str(e)) for e in sig.get("key_events") or ()})
            if hit:
                votes.add(name, KEY_EVENT_POINTS * len(hit), "key events " + ", ".join(hit))
            revenue = {name_key(str(e)) for e in sig.get("revenue_events") or ()}
            paid = [e for e in ga4.events if name_key(e.event_name) in revenue and e.event_value > 0]
            if paid:
                has_macro = True
                votes.add(name, REVENUE_POINTS, ", ".join(
                    f"{e.event_name} with revenue {count(round(e.event_value))}" for e in paid) + " in 28 days")
        fired = {name_key(e.event_name): e.event_name for e in ga4.events if e.total_users > 0 or e.event_count > 0}
        for name, sig in signals.items():
            hit = sorted(fired[k] for k in fired if k in {name_key(str(e)) for e in sig.get("events") or ()})
            if hit:
                votes.add(name, EVENT_POINTS, "GA4 events " + ", ".join(hit))
        industry = ga4.property.industry_category
        for name, sig in signals.items():
            if industry and industry in (sig.get("industries") or ()):
                votes.add(name, INDUSTRY_POINTS, f"industry {industry}")
    if ga4 and not has_macro:  # a property measuring no outcome at all: a publisher (an Ads account always has one)
        for name, sig in signals.items():
            if sig.get("no_macro"):
                votes.add(name, NO_MACRO_POINTS, "no macro outcome (no primary macro action, no macro key event, "
                                                 "no revenue)")
    if not votes.points:
        return ProfileChoice(default, "default", ("the data shows no business model",))
    ranked = sorted(votes.points.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        tied = " and ".join(f"{n} ({'; '.join(votes.why[n])})" for n, _ in ranked[:2])
        return ProfileChoice(default, "default", (f"the data fits {tied} equally",))
    best = ranked[0][0]
    return ProfileChoice(best, "inferred", tuple(votes.why[best]))


def profile_label(result: Any) -> str:
    """The label of a client result's profile ('lead-gen (inferred: ...)'); older results carry only the name."""
    if not result.profile:
        return "-"
    return ProfileChoice(result.profile, result.profile_source or "config", tuple(result.profile_evidence)).label()
