"""value-bidding-without-values: campaigns on value-based bidding whose conversions carry no real value."""

from __future__ import annotations

import math
from collections.abc import Iterator

from auditor.checks._campaigns import VALUE_STRATEGIES, bids, label, money
from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client, ConversionAction
from auditor.taxonomy import Taxonomy


def _counts(a: ConversionAction) -> tuple[float, float]:
    """(conversions, value) over 30 days: a secondary action (in a custom goal) counts in All conversions."""
    s = a.stats
    return (s.conversions, s.conversions_value) if a.primary_for_goal else (s.all_conversions, s.all_conversions_value)


def problem(a: ConversionAction, tax: Taxonomy) -> str | None:
    """What is wrong with the value an action sends, as missing-conversion-value and constant-conversion-value
    decide it; None when it sends real values (or has no conversions to tell)."""
    conv, value = _counts(a)
    d = a.default_value
    unit = "conv." if a.primary_for_goal else "all conv."  # a secondary action counts in All conversions only
    worth = f"{fmt_count(conv)} {unit} worth {money(value)} in 30 days"
    if (d is None or d <= 0) and value <= 0:
        return f"no value: no default value and {worth}" if conv > 0 else None
    if d is not None and float(d) in tax.placeholder_values:
        if a.always_use_default_value:
            return f"a placeholder value: it always uses the default {fmt_count(d)} ({worth})"
        if conv > 0 and math.isclose(value, conv * d, rel_tol=1e-3, abs_tol=0.01):
            return f"a placeholder value: {worth}, the default {fmt_count(d)} each, so the tag sends none"
        return None
    if a.category in tax.revenue_categories and d is not None and d > 0:
        if a.always_use_default_value:
            return f"one constant value: it always uses the default {money(d)} ({worth})"
        if conv > 0 and math.isclose(value / conv, d, rel_tol=1e-4, abs_tol=0.005):
            return f"one constant value: {worth}, exactly the default {money(d)} each"
    return None


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags each ENABLED campaign on TARGET_ROAS or MAXIMIZE_CONVERSION_VALUE whose biddable actions carry no
    real value: the enabled primary actions of the categories x origins the campaign bids on (its campaign goals,
    else the account-default goals), or the actions of its custom goal. An action has no real value when it has no
    default value and no conversion value; a placeholder (the taxonomy's `placeholder_values`, 0 and 1) that it
    always uses or that every conversion got; or, on a revenue category, one constant value (always the default,
    or value / conversions exactly the default). A campaign whose own 30-day conversions carry no value at all is
    flagged on that alone. Where the campaign's own goals were not collected, the account-default goals are
    assumed and the finding is capped at medium unless no action it could bid on carries a value.
    System-managed actions are left alone."""
    ads = client.ads
    assert ads is not None and ads.campaigns is not None
    tax = ctx.taxonomy
    for c in ads.campaigns:
        if c.status != "ENABLED" or c.bidding_strategy_type not in VALUE_STRATEGIES:
            continue
        b = bids(ads, c)
        judged = [a for a in b.actions if not a.system_managed]
        bad = [(a, why) for a in judged if (why := problem(a, tax)) is not None]
        valued = [a for a in judged if _counts(a)[0] > 0 and all(a is not x for x, _ in bad)]
        campaign_blank = c.conversions > 0 and c.conversions_value <= 0
        if not bad and not campaign_blank:
            continue
        own = (f"; the campaign's own {fmt_count(c.conversions)} conv. in 30 days are worth "
               f"{money(c.conversions_value)}")
        name = label(c, ads.currency_code)
        if bad:
            listing = "; ".join(f"'{a.name}' ({a.category}) has {why}" for a, why in bad)
            assumed = "" if b.known else " (assumed: the campaign's own goals were not collected)"
            established = b.known or not valued or campaign_blank
            yield ctx.finding(
                f"{name} optimises for conversion value, but {b.words}{assumed} include actions without a real "
                f"value: {listing}{own}",
                [c.resource_name, *(a.resource_name for a, _ in bad)],
                severity=ctx.severity if established else ctx.at_most("medium"),
            )
        else:
            yield ctx.finding(
                f"{name} optimises for conversion value, but its {fmt_count(c.conversions)} conv. in 30 days are "
                f"worth {money(c.conversions_value)}: none of them carries a value",
                [c.resource_name],
            )


RULE = Rule(
    id="value-bidding-without-values",
    title="Value-based bidding on conversions without real values",
    category="values",
    severity="high",
    rationale=("Target ROAS and Maximize conversion value bid for the value each conversion reports. When the "
               "actions a campaign bids on send no value, a placeholder such as 1, or one constant amount for "
               "every order, the strategy optimises toward a number that says nothing about revenue: it cannot "
               "tell a large basket from a small one, and the ROAS target is met on paper only."),
    remediation=("Send the real transaction value (or a credible proxy value per lead type) with each conversion "
                 "and set 'Use different values for each conversion' in Google Ads > Goals > Conversions > action "
                 "> Value (API: value_settings.always_use_default_value = false); until then bid on conversions "
                 "(Maximize conversions or target CPA; API: Campaign.maximize_conversions)."),
    references=("Google Ads Help: About value-based bidding", "Google Ads Help: About conversion values",
                "Google Ads Help: About Target ROAS bidding"),
    requires=("ads", "ads.campaigns"),
    example=("campaign 'Shopping - All' (SHOPPING, TARGET_ROAS (target 400%)) optimises for conversion value, but "
             "its goals include actions without a real value: 'Purchase' (PURCHASE) has a placeholder value: ..."),
    evidence=("Each campaign's status, strategy and 30-day conversions and value; the goals it bids on (custom "
              "goal, campaign goals, or the account default); per action its default value, whether it always "
              "uses it, and its 30-day conversions and value (a value equal to conversions x the default means "
              "the tag sends none); the taxonomy's placeholder values and revenue categories."),
    check=check,
)
