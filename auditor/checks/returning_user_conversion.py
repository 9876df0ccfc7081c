"""returning-user-conversion: log-ins, app opens and session starts counted as conversions or key events."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import default_bids_on
from auditor.engine import DEMOTE, UNMARK, Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags returning-user actions set as conversions: enabled primary Google Ads actions and GA4 key events that
    count people who already converted, whatever category the owner gave them (a login filed under SIGNUP is
    still a login). An action or event is one by its name (the taxonomy's `returning_user_events`: login,
    app_open, session_start, user_engagement...; or a word of `returning_user_words` in a custom name: "Login -
    app", "Sign in"), or by the evidence: nearly every user of the property's busiest event fires it
    (`returning_user_share` of them, 80% by default). A primary action the account default bids on is reported
    at the rule's severity; one its goals do not bid on (it still fills the Conversions column) and a key event
    at `key_event_severity`. The config's taxonomy wins: an event listed there as a macro or micro is not one."""
    h = ctx.hierarchy
    ads, ga4 = client.ads, client.ga4
    if ads is not None:
        for a in ads.primary_actions:
            ev = h.action(a)
            if not ev.returning:
                continue
            bid = default_bids_on(ads, a)
            what = "bid on by the account-default goals" if bid else "counted in Conversions (its goal is not bid on)"
            yield ctx.finding(
                f"primary action '{a.name}' ({a.category}, {fmt_count(a.stats.conversions)} conv. in 30 days) counts "
                f"people who come back, not people who convert, and is {what} — {ev.text()}",
                [a.resource_name], evidence=ev, advice={a.resource_name: DEMOTE},
                severity=None if bid else str(ctx.params["key_event_severity"]),
            )
    if ga4 is not None:
        seen: set[str] = set()
        for k in ga4.key_events:
            if k.event_name in seen:
                continue
            seen.add(k.event_name)
            ev = h.event(k.event_name)
            if not ev.returning:
                continue
            stat = ga4.event(k.event_name)
            volume = f"{fmt_count(stat.event_count)} events in 28 days" if stat else "no events in 28 days"
            yield ctx.finding(
                f"key event {k.event_name} ({volume}) counts people who come back, not people who convert — "
                f"{ev.text()}",
                [k.name or k.event_name], severity=str(ctx.params["key_event_severity"]), evidence=ev,
                advice={k.name or k.event_name: UNMARK},
                remediation=("In GA4 Admin > Data display > Key events, unmark it (API: properties.keyEvents.delete; "
                             "the event keeps being collected). Use it for audiences and engagement reports."),
            )


RULE = Rule(
    id="returning-user-conversion",
    title="Returning-user action counted as a conversion",
    category="bidding",
    severity="high",
    rationale=("A login, an app open or a session start counts people who already converted. As a primary "
               "conversion it teaches Smart Bidding to buy clicks from existing customers, who log in anyway, and "
               "fills the Conversions column with visits; as a key event it turns the key event rate into a visit "
               "rate. Owners often file a login under SIGNUP, so the category cannot be trusted: the name and the "
               "event's reach decide."),
    remediation=("In Google Ads > Goals > Conversions, set the action to Secondary (API: "
                 "ConversionAction.primary_for_goal = false), or remove it if nothing reports on it. Bid on the "
                 "first sign-up, the purchase or the qualified lead instead."),
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Analytics Help: [GA4] Automatically collected events"),
    params={"key_event_severity": Param("Severity for a key event, or a primary action no goal bids on.",
                                        default="medium")},
    requires=("ga4|ads",),
    example=("primary action 'App login' (SIGNUP, 8,412 conv. in 30 days) counts people who come back, not people "
             "who convert, and is bid on by the account-default goals — a returning-user action, never a "
             "conversion (App login: words login (a returning-user action))"),
    evidence=("The action's GA4 event and name against the taxonomy's returning-user events and words, else the "
              "event's 28-day users against those of the property's busiest event (a share of at least "
              "returning_user_share, 80% by default, in a property with at least returning_user_min_users users); "
              "the account-default goals (when collected) say whether it is bid on. The config's taxonomy wins."),
    check=check,
)
