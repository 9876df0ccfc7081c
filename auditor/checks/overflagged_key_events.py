"""overflagged-key-events: too many GA4 key events, weak micros as key events, key events that dwarf the macro."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import UNMARK, Context, Finding, Param, Rule, fmt_count
from auditor.hierarchy import STRENGTH_EVIDENCE
from auditor.model import Client
from auditor.taxonomy import name_key


def _listing(names: list[str], volumes: dict[str, int]) -> str:
    return ", ".join(f"{n} ({fmt_count(volumes.get(n, 0))})" for n in names)


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a GA4 property whose key events are not a short list of business outcomes: more key events than
    `max_key_events`; each key event that measures as a weak (low) micro toward the account's macro, or that the
    taxonomy knows as weak or automatically collected (page_view, scroll, session_start, video_start,
    file_download, form_start...), except returning-user actions (returning-user-conversion reports those); and
    each key event whose 28-day volume is more than `dwarf_ratio` times the
    macro's. A profile's earlier outcomes (`earlier_outcomes`: an app's first_open, the install) are neither. A
    key event whose strength the data cannot establish is not called weak."""
    ga4 = client.ga4
    assert ga4 is not None
    volumes = ga4.volumes()
    h = ctx.hierarchy
    key_names = sorted({k.event_name for k in ga4.key_events}, key=lambda n: (-volumes.get(n, 0), n))
    by_name = {}
    for k in ga4.key_events:
        by_name.setdefault(k.event_name, k.name or k.event_name)
    limit = int(ctx.params["max_key_events"])
    if len(key_names) > limit:
        yield ctx.finding(
            f"{len(key_names)} key events (threshold {limit}); 28-day volumes: {_listing(key_names, volumes)}",
            [k.name or k.event_name for k in ga4.key_events],
            remediation=(f"Keep at most {limit} key events, the business outcomes. In GA4 Admin > Data display > "
                         "Key events, unmark the rest; they stay tracked as events."),
        )
    evidence = {n: h.event(n) for n in key_names}
    # returning-user actions (login, app open) are returning-user-conversion's: one finding per key event
    # ... and the profile's earlier outcomes (an app's first_open) are outcomes of their own, never weak
    earlier = ctx.taxonomy.earlier_outcomes
    weak = [n for n in key_names if evidence[n].strength == "low" and not evidence[n].returning
            and name_key(n) not in earlier]
    for n in weak:
        yield ctx.finding(
            f"key event {n} ({fmt_count(volumes.get(n, 0))} events in 28 days) is a weak micro, not a business "
            f"outcome — {evidence[n].text()}",
            [by_name[n]], evidence=evidence[n], advice={by_name[n]: UNMARK},
        )
    macro = h.macro
    macro_events = [n for n in (macro.events if macro else ()) if volumes.get(n, 0) > 0]
    macro_volume = sum(volumes.get(n, 0) for n in macro_events)
    ratio = float(ctx.params["dwarf_ratio"])
    if macro_volume > 0:
        for n in key_names:
            if evidence[n].strength in ("macro", "low") or volumes.get(n, 0) <= ratio * macro_volume \
                    or name_key(n) in earlier:
                continue
            yield ctx.finding(
                f"key event {n} ({fmt_count(volumes.get(n, 0))} events in 28 days) exceeds {fmt_count(ratio)}x the "
                f"macro outcome volume ({_listing(macro_events, volumes)}): the key event rate no longer tracks "
                f"the business — {evidence[n].text()}",
                [by_name[n]], severity=ctx.at_most("medium"), evidence=evidence[n],
            )


RULE = Rule(
    id="overflagged-key-events",
    title="Too many or weak GA4 key events",
    category="key-events",
    severity="high",
    rationale=("Key events should be the few actions that pay. Marking many events, or engagement events such as "
               "page_view and scroll, makes the key event rate meaningless, and imported into Google Ads they "
               "teach Smart Bidding to chase cheap actions. Practitioners keep 1 to 5 key events."),
    remediation=("In GA4 Admin > Data display > Key events, unmark the events that are not business outcomes "
                 "(API: properties.keyEvents.delete; the event itself keeps being collected). Keep micros as "
                 "plain events for funnel analysis and audiences."),
    references=("Google Analytics Help: About key events",
                "Google Analytics Help: [GA4] Automatically collected events"),
    params={"max_key_events": Param("Most key events before the property is over-flagged."),
            "dwarf_ratio": Param("A key event above this multiple of the macro outcome's volume dwarfs it.")},
    requires=("ga4",),
    example="key event scroll (96,410 events in 28 days) is a weak micro, not a business outcome — low: ...",
    evidence=("The count of key events; per key event, its measured strength toward the account's macro (weak "
              "ones are flagged one by one) and its 28-day event count against the macro's. " + STRENGTH_EVIDENCE),
    check=check,
)
