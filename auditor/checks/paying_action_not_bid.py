"""paying-action-not-bid: the account bids on sign-ups, installs or other steps while the action that shows who
pays exists but is hidden, secondary or left out of the goals."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import bids, default_bids_on, default_goal
from auditor.engine import PROMOTE, Context, Finding, Param, Rule, fmt_count
from auditor.model import Client, ConversionAction


def paying(a: ConversionAction, revenue_categories: frozenset[str]) -> bool:
    """An action that shows who pays: a purchase or paid subscription, an in-app purchase, or a lead qualified
    or closed in the CRM."""
    return a.category in revenue_categories or a.is_app_purchase or a.is_crm_lead_import


def _bid_on(client: Client) -> list[ConversionAction]:
    """The actions the account bids on: enabled primaries the account default bids on, and whatever an enabled
    campaign bids on through its own goals (when collected)."""
    ads = client.ads
    assert ads is not None
    out = {a.resource_name: a for a in ads.primary_actions if default_bids_on(ads, a)}
    for c in ads.campaigns or ():
        if c.status == "ENABLED":
            out.update((a.resource_name, a) for a in bids(ads, c).actions)
    return list(out.values())


def _what_it_takes(client: Client, a: ConversionAction) -> str:
    ads = client.ads
    assert ads is not None
    if a.status == "HIDDEN":
        return "it is hidden: set its status to Enabled and make it Primary"
    if not a.primary_for_goal:
        return "it is Secondary: make it Primary (API: ConversionAction.primary_for_goal = true)"
    g = default_goal(ads, a)
    return (f"its goal {a.category} x {a.origin} is not biddable in the account-default goals: make it biddable "
            f"(API: CustomerConversionGoal.biddable = true{', ' + g.resource_name if g else ''})")


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account where nothing it bids on shows who pays: no action bid on (an enabled primary
    the account-default goals bid on, or an action a campaign bids on through its own goals) is a purchase, a paid
    subscription, an in-app purchase or a lead qualified or closed in the CRM, while such an action exists hidden,
    secondary, or primary in a goal the account default does not bid on. At the rule's severity when everything
    bid on is a micro, a returning-user action or an action nothing places; at `outcome_severity` when the
    account bids on an earlier outcome (raw leads, sign-ups, installs) that the paying action follows. Names the
    paying action, its 30-day all conversions and what it would take to bid on it. Removed actions are history
    and never proposed."""
    ads = client.ads
    assert ads is not None
    h, revenue = ctx.hierarchy, ctx.taxonomy.revenue_categories
    bid = _bid_on(client)
    if not bid or any(paying(a, revenue) for a in bid):
        return
    bid_names = {a.resource_name for a in bid}
    left = [a for a in ads.actions if a.status in ("ENABLED", "HIDDEN") and a.resource_name not in bid_names
            and paying(a, revenue)]
    if not left:
        return
    threshold = float(ctx.params["low_volume_threshold"])
    kinds = []
    outcome = False
    for a in sorted(bid, key=lambda a: (-a.stats.conversions, a.name)):
        ev = h.action(a)
        if ev.returning:
            kind = "a returning-user action"
        elif a.resource_name in h.earlier:
            kind = "an earlier stage"
        elif ev.strength == "macro":
            kind, outcome = "an outcome that comes before payment", True
        elif ev.strength == "unknown" and ev.position != "before":
            kind = "unplaced"
        else:
            kind = "a micro"
        kinds.append(f"'{a.name}' ({a.category}, {kind}, {fmt_count(a.stats.conversions)} conv.)")
    for a in sorted(left, key=lambda a: (-a.stats.all_conversions, a.name)):
        volume = a.stats.all_conversions
        enough = (f"{fmt_count(volume)} all conv. in 30 days, enough to bid on" if volume >= threshold else
                  f"{fmt_count(volume)} all conv. in 30 days, below {fmt_count(threshold)}: bid on it with value-based "
                  "bidding or keep a strong proxy beside it")
        yield ctx.finding(
            f"nothing the account bids on shows who pays: it bids on {'; '.join(kinds)}, while '{a.name}' "
            f"({a.category}, {a.type}, {a.source}) counts who pays and is not bid on: {_what_it_takes(client, a)} "
            f"({enough})",
            [a.resource_name, *sorted(bid_names)],
            severity=str(ctx.params["outcome_severity"]) if outcome else None,
            actionable=not a.system_managed, advice={a.resource_name: PROMOTE},
        )


RULE = Rule(
    id="paying-action-not-bid",
    title="Nothing the account bids on shows who pays",
    category="bidding",
    severity="high",
    rationale=("Smart Bidding buys more of what the account bids on. An account that bids on sign-ups, installs "
               "or raw enquiries while its purchase, subscription or qualified-lead action sits hidden or secondary "
               "buys people who sign up and never pay; the action that would tell them apart is already there."),
    remediation=("Make the paying action primary and biddable (Google Ads > Goals > Conversions; API: "
                 "ConversionAction.primary_for_goal, CustomerConversionGoal.biddable), then demote the steps "
                 "before it to secondary once it has the volume to bid on (about 30 a month), or give them values "
                 "well below the paying action's."),
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About offline conversion imports"),
    params={"low_volume_threshold": Param("Conversions per 30 days a paying action needs to be bid on alone.",
                                          default=30),
            "outcome_severity": Param("Severity when the account bids on an earlier outcome (raw leads, sign-ups, "
                                      "installs) that the paying action follows.", default="medium")},
    requires=("ads",),
    example=("nothing the account bids on shows who pays: it bids on 'Sign up' (SIGNUP, a micro, 920 conv.), while "
             "'Subscription (GA4)' (PURCHASE, GOOGLE_ANALYTICS_4_PURCHASE, GA4 import) counts who pays and is not "
             "bid on: it is Secondary: make it Primary ..."),
    evidence=("The actions bid on (enabled primaries the account-default goals bid on, and campaigns' own goals "
              "when collected) with their category and how the hierarchy places them; the paying actions (revenue "
              "categories, in-app purchase types, CRM-qualified leads) that are hidden, secondary or outside the "
              "biddable goals, with their type, source and 30-day all conversions."),
    check=check,
)
