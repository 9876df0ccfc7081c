"""dead-conversion-action: enabled primary conversion actions that recorded nothing in 30 days."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client, ConversionAction


def _dead(a: ConversionAction) -> bool:
    return a.stats.conversions <= 0 and a.stats.all_conversions <= 0


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED primary Google Ads actions with no conversion and no "all conversion" in the last 30 days:
    a broken or removed tag, a renamed GA4 event, a lost link, or an action nobody uses that still sits in the
    bidding goal. For a GA4 import, the message says whether GA4 still records the event (then the import or
    link is broken, not the site). When no enabled action converted at all, one account-level finding at
    `quiet_severity` replaces the per-action ones (paused campaigns look the same); in a quiet account, whose
    primary actions together have fewer than `quiet_account_conversions` conversions in 30 days, a silent action
    may be normal and is reported at `quiet_severity` too. Secondary actions, REMOVED and HIDDEN ones, and
    system-managed actions (which cannot be removed) are not flagged."""
    ads = client.ads
    assert ads is not None
    enabled = ads.enabled_actions
    if enabled and all(_dead(a) for a in enabled):
        yield ctx.finding(
            f"none of the {len(enabled)} enabled conversion actions recorded a conversion in 30 days: campaigns "
            "may be paused; if they ran, conversion tracking is broken",
            [f"customers/{ads.customer_id}"], severity=str(ctx.params["quiet_severity"]),
            remediation=("If campaigns ran, check the Google tag with Tag Assistant and Google Ads > Goals > "
                         "Conversions > Diagnostics; for GA4 imports check the GA4 link and the key events."),
        )
        return
    volumes = client.ga4.volumes() if client.ga4 else {}
    total = sum(a.stats.conversions for a in ads.primary_actions)
    quiet = total < float(ctx.params["quiet_account_conversions"])
    for a in ads.primary_actions:
        if not _dead(a) or a.system_managed:
            continue
        same_property = client.ga4 is not None and a.ga4_property_id in (None, client.ga4.property.id)
        if a.ga4_event_name and same_property and (n := volumes.get(a.ga4_event_name, 0)) > 0:
            why = (f"GA4 recorded {fmt_count(n)} '{a.ga4_event_name}' events in 28 days, so the import is broken: "
                   "check that the event is still a key event and that the GA4 link is active")
        elif a.ga4_event_name and same_property:
            why = f"GA4 recorded no '{a.ga4_event_name}' event in 28 days either: renamed or broken tagging"
        else:
            why = "broken or removed tag, or an action nobody uses"
        if quiet:
            why += (f" (the account's primary actions have only {fmt_count(total)} conv. in 30 days, so silence may "
                    "be normal)")
        yield ctx.finding(
            f"primary action '{a.name}' ({a.category}) recorded no conversion in 30 days: {why}",
            [a.resource_name], severity=str(ctx.params["quiet_severity"]) if quiet else None,
            remediation=(f"Fix the tag or import of '{a.name}' (Google Ads > Goals > Conversions > Diagnostics, Tag "
                         "Assistant); if the action is obsolete, remove it or set it to Secondary (API: "
                         "ConversionAction.status = REMOVED or primary_for_goal = false)."),
        )


RULE = Rule(
    id="dead-conversion-action",
    title="Primary conversion action with no conversions",
    category="tracking",
    severity="medium",
    rationale=("A primary action that has recorded nothing for 30 days is either broken, and the conversions it "
               "should count are missing from bidding, or obsolete, and it clutters the goal bidding optimises. "
               "Either way the Conversions column no longer says what the account thinks it says."),
    remediation=("Repair the tag or GA4 import behind the action (Google Ads > Goals > Conversions > Diagnostics, "
                 "Tag Assistant), or remove it if the outcome is tracked elsewhere (API: ConversionAction.status = "
                 "REMOVED)."),
    references=("Google Ads Help: About conversion tracking",
                "Google Ads Help: About primary and secondary conversion actions"),
    params={
        "quiet_account_conversions": Param("Primary conversions per 30 days below which an account is quiet."),
        "quiet_severity": Param("Severity when nothing converted at all, or for a silent action in a quiet account."),
    },
    requires=("ads",),
    example="primary action 'Request quote' (REQUEST_QUOTE) recorded no conversion in 30 days: broken or removed ...",
    evidence=("Each primary action's conversions and all conversions over 30 days; for a GA4 import, the event's "
              "28-day count in GA4; the account's primary conversions against quiet_account_conversions."),
    check=check,
)
