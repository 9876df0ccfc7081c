"""key-event-counting-method: a GA4 key event counted once per event or once per session against its kind."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client

_UI = {"ONCE_PER_EVENT": "Once per event", "ONCE_PER_SESSION": "Once per session"}


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags GA4 key events whose counting method does not fit what they measure. A purchase-type key event
    (`once_per_event_events`: purchase, paid subscription...) counted ONCE_PER_SESSION drops the second order
    of a session and its revenue: reported at the rule's severity. A lead-type key event
    (`once_per_session_events`: generate_lead, booking, quote request...) counted ONCE_PER_EVENT counts a
    re-submitted form as a second lead: reported at `lead_severity`. Names match after spelling folding and
    configured synonyms (lead_submit counts as generate_lead). Other key events are not judged: Google
    recommends once per event by default."""
    ga4 = client.ga4
    assert ga4 is not None
    tax = ctx.taxonomy
    per_event = tax.canonical_set(tuple(ctx.params["once_per_event_events"]))
    per_session = tax.canonical_set(tuple(ctx.params["once_per_session_events"]))
    volumes = ga4.volumes()
    for k in ga4.key_events:
        key = tax.canonical(k.event_name)
        if key in per_event and k.counting_method == "ONCE_PER_SESSION":
            expected, severity = "ONCE_PER_EVENT", None
            why = "a second order in the same session is not counted, nor its revenue"
        elif key in per_session and k.counting_method == "ONCE_PER_EVENT":
            expected, severity = "ONCE_PER_SESSION", str(ctx.params["lead_severity"])
            why = "a form submitted twice in one visit counts as two leads"
        else:
            continue
        yield ctx.finding(
            f"key event '{k.event_name}' ({fmt_count(volumes.get(k.event_name, 0))} events in 28 days) is counted "
            f"{k.counting_method}; it should be {expected}: {why}",
            [k.name or k.event_name], severity=severity,
            remediation=(f"In GA4 Admin > Data display > Key events, open the menu of '{k.event_name}' > Change "
                         f"counting method > '{_UI[expected]}' (API: KeyEvent.counting_method = {expected})."),
        )


RULE = Rule(
    id="key-event-counting-method",
    title="Key event counting method that does not fit the event",
    category="counting",
    severity="medium",
    rationale=("GA4 counts a key event either every time it fires or at most once per session. Purchases must "
               "count every time: each order is revenue. Google recommends once per event in general, but for "
               "lead forms practitioners keep once per session: a visitor who submits the same form twice is one "
               "lead, and counting two inflates the lead rate and any Google Ads goal imported from it."),
    remediation=("Set purchases to 'Once per event' and lead forms to 'Once per session' in GA4 Admin > Data "
                 "display > Key events > Change counting method (API: KeyEvent.counting_method)."),
    references=("Google Analytics Help: [GA4] About key event counting methods",
                "Google Analytics Help: About key events"),
    params={
        "once_per_event_events": Param("Purchase-type events that must count ONCE_PER_EVENT."),
        "once_per_session_events": Param("Lead-type events that should count ONCE_PER_SESSION."),
        "lead_severity": Param("Severity of a lead-type key event counted ONCE_PER_EVENT."),
    },
    requires=("ga4",),
    example="key event 'purchase' (2,904 events in 28 days) is counted ONCE_PER_SESSION; it should be ...",
    evidence=("Each key event's counting method, against the rule's lists of purchase-type and lead-type names "
              "(spelling folded, synonyms merged)."),
    check=check,
)
