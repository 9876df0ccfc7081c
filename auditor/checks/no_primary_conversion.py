"""no-primary-conversion: a Google Ads account with no enabled primary conversion action to bid on."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client, ConversionAction, ConversionGoal


def _goal(a: ConversionAction, goals: tuple[ConversionGoal, ...]) -> ConversionGoal | None:
    """The account-default goal (category x origin) an action belongs to, when goals were collected."""
    return next((g for g in goals if g.category == a.category and g.origin == a.origin), None)


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account where no ENABLED conversion action is primary (`primary_for_goal`):
    Smart Bidding then has nothing to optimise toward and the Conversions column stays empty. REMOVED and
    HIDDEN actions are history and do not count, however primary they once were. When the customer
    conversion goals were collected, primary actions whose goal (category and origin) is not biddable in the
    account-default goals do not count either: they are reported in Conversions but no campaign using
    account-default goals bids on them. Accounts with no conversion action at all are flagged the same way."""
    ads = client.ads
    assert ads is not None
    primaries = ads.primary_actions
    enabled = ads.enabled_actions
    if not primaries:
        secondary = ", ".join(f"'{a.name}' ({a.category}, {fmt_count(a.stats.all_conversions)} all conv.)"
                              for a in enabled[:5])
        more = f" and {len(enabled) - 5} more" if len(enabled) > 5 else ""
        yield ctx.finding(
            "no enabled primary conversion action: Smart Bidding has no goal"
            + (f"; {len(enabled)} enabled action(s), all secondary: {secondary}{more}" if enabled
               else "; the account has no enabled conversion action at all"),
            [a.resource_name for a in enabled] or [f"customers/{ads.customer_id}"],
        )
        return
    if ads.goals is None:
        return
    biddable = [a for a in primaries if (g := _goal(a, ads.goals)) is None or g.biddable]
    if not biddable:
        listing = ", ".join(f"'{a.name}' ({a.category}~{a.origin})" for a in primaries)
        yield ctx.finding(
            f"every primary action sits in a goal that is not biddable in the account-default goals: {listing}",
            [a.resource_name for a in primaries],
            remediation=("In Google Ads > Goals > Summary, mark the goal of the business outcome as an "
                         "account-default goal (API: CustomerConversionGoal.biddable = true), or set a "
                         "campaign-specific goal on each campaign (CampaignConversionGoal.biddable)."),
        )


RULE = Rule(
    id="no-primary-conversion",
    title="No primary conversion action",
    category="bidding",
    severity="critical",
    rationale=("Primary actions are what Smart Bidding optimises toward and what the Conversions column counts. "
               "Without one, automated bid strategies have no target and every conversion report reads zero, "
               "whatever the site does."),
    remediation=("Set the action for the business outcome (purchase, qualified lead, booking) to Primary in "
                 "Google Ads > Goals > Conversions > Summary > action > Edit settings > Goal and action "
                 "optimization (API: ConversionAction.primary_for_goal = true), or create one if none tracks it."),
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About conversion goals"),
    requires=("ads",),
    example="no enabled primary conversion action: Smart Bidding has no goal; 2 enabled action(s), all secondary: ...",
    evidence=("The enabled actions' primary flags and, when collected, the account-default goals' biddable flags."),
    check=check,
)
