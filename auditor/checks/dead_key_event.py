"""dead-key-event: GA4 key events whose event did not fire in 28 days (renamed or broken tagging)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags GA4 key events whose event name has no events in the 28-day event report: the tag was removed or
    broken, or the event was renamed and the key event still points at the old name. When an event with the
    same spelling-folded name or a configured synonym did fire (signUp for sign_up), the finding names it as the
    likely new name. Default key events that cannot be deleted (`deletable = false`, such as purchase on a
    property that sells nothing) are not flagged: there is nothing to change. When the report holds no event
    at all, one finding says the property receives no data instead of one per key event."""
    ga4 = client.ga4
    assert ga4 is not None
    volumes = {e.event_name: e.event_count for e in ga4.events if e.event_count > 0}
    if not ga4.key_events:
        return
    if not volumes:
        yield ctx.finding(
            f"the property recorded no event at all in 28 days; its {len(ga4.key_events)} key event(s) measure "
            "nothing: the GA4 tag is missing or the property is no longer used",
            [ga4.property.name],
            remediation=("Check that the Google tag with this property's measurement ID fires on every page (Tag "
                         "Assistant, GA4 Admin > Data collection > Data streams), or retire the property."),
        )
        return
    tax = ctx.taxonomy
    key_names = {k.event_name for k in ga4.key_events}
    for k in ga4.key_events:
        if k.event_name in volumes or not k.deletable:
            continue
        key = tax.canonical(k.event_name)
        alive = sorted((n for n in volumes if tax.canonical(n) == key), key=lambda n: (-volumes[n], n))
        if alive:
            new = alive[0]
            hint = f"; '{new}' fired {fmt_count(volumes[new])} times: probably renamed"
            fix = (f"'{new}' is already a key event: delete the stale '{k.event_name}'" if new in key_names
                   else f"Mark '{new}' as a key event and delete '{k.event_name}', or restore the old name")
            fix += (" (GA4 Admin > Data display > Key events; API: properties.keyEvents.create / .delete) and "
                    "repoint any Google Ads import to the live name.")
        else:
            hint = ": renamed or broken tagging"
            fix = (f"Restore the tag that sends '{k.event_name}' (check it in Tag Assistant or DebugView). If the "
                   "action no longer exists, delete the key event in GA4 Admin > Data display > Key events (API: "
                   "properties.keyEvents.delete) and any Google Ads import of it.")
        yield ctx.finding(f"key event '{k.event_name}' had no events in 28 days{hint}", [k.name or k.event_name],
                          remediation=fix)

RULE = Rule(
    id="dead-key-event",
    title="Key event that no longer fires",
    category="tracking",
    severity="medium",
    rationale=("A key event with no events for 28 days usually means a site change broke the tag or renamed the "
               "event. Reports show the outcome as zero, Google Ads imports of it stop, and bidding loses the "
               "signal without any error message."),
    remediation=("Find what changed: restore the tag, or mark the event's new name as the key event in GA4 Admin > "
                 "Data display > Key events (API: properties.keyEvents.create) and repoint any Google Ads import; "
                 "delete key events for actions that no longer exist (API: properties.keyEvents.delete)."),
    references=("Google Analytics Help: About key events", "Google Analytics Help: [GA4] Event naming rules"),
    requires=("ga4",),
    example="key event 'Sign_Up' had no events in 28 days; 'sign_up' fired 1,204 times: probably renamed",
    evidence=("Each key event's name against the 28-day event report (spelling folded, synonyms merged), and "
              "whether it is deletable."),
    check=check,
)
