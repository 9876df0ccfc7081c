"""key-event-limit: more GA4 key events than Google Ads can use for bidding."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a GA4 property with more than `max_key_events` key events (30 by default: only 30 key events per
    property feed Google Ads bidding). The finding lists the key events by 28-day volume and names the
    weak micros and automatically collected events among them, the first to unmark. Secondary Google Ads
    actions outnumbering primary ones are never flagged: keeping micros as secondary is the recommended
    practice."""
    ga4 = client.ga4
    assert ga4 is not None
    limit = int(ctx.params["max_key_events"])
    if len(ga4.key_events) <= limit:
        return
    volumes = ga4.volumes()
    ordered = sorted(ga4.key_events, key=lambda k: (-volumes.get(k.event_name, 0), k.event_name))
    weak = [k.event_name for k in ordered if ctx.hierarchy.event(k.event_name).strength == "low"]
    listing = ", ".join(f"{k.event_name} ({fmt_count(volumes.get(k.event_name, 0))})" for k in ordered)
    yield ctx.finding(
        f"{len(ga4.key_events)} key events (limit {limit}): only {limit} can feed Google Ads bidding; "
        f"28-day volumes: {listing}",
        [k.name or k.event_name for k in ordered],
        remediation=(f"Unmark at least {len(ga4.key_events) - limit} key events in GA4 Admin > Data display > Key "
                     "events (API: properties.keyEvents.delete; the events keep being collected)"
                     + (f", starting with the weak ones: {', '.join(weak)}" if weak else "") + "."),
    )


RULE = Rule(
    id="key-event-limit",
    title="More key events than Google Ads can use",
    category="key-events",
    severity="medium",
    rationale=("Only 30 key events per GA4 property can feed Google Ads bidding. Beyond that, which outcomes "
               "reach Ads depends on what was marked first, not on what matters, and a list that long means "
               "key events no longer single out business outcomes."),
    remediation=("Unmark key events that are not business outcomes in GA4 Admin > Data display > Key events "
                 "(API: properties.keyEvents.delete); keep them as plain events for funnels and audiences."),
    references=("Google Analytics Help: About key events",
                "Google Analytics Help: [GA4] Analytics property configuration limits"),
    params={"max_key_events": Param("Most key events that can feed Google Ads bidding.")},
    requires=("ga4",),
    example="34 key events (limit 30): only 30 can feed Google Ads bidding; 28-day volumes: page_view (402,885), ...",
    evidence=("The number of key events; per key event, its 28-day event count, and its measured strength toward "
              "the account's macro to name the weak ones to unmark first."),
    check=check,
)
