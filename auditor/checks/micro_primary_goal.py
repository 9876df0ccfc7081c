"""micro-primary-goal: micro conversions set as primary (bidding) goals in Google Ads."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client, ConversionAction


def _label(a: ConversionAction) -> str:
    via = f", GA4 event {a.ga4_event_name}" if a.ga4_event_name else ""
    return f"'{a.name}' ({a.category}{via}, {fmt_count(a.stats.conversions)} conv. in 30 days)"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags enabled Google Ads conversion actions set as primary (`primary_for_goal`) whose category or
    imported GA4 event is a micro conversion. A weak micro (page view, engagement, scroll, video play, click)
    is always flagged at the rule's severity. A strong micro (add to cart, begin checkout, qualified pricing
    visit) is the recommended bidding proxy while the account's macro primaries have fewer than
    `low_volume_threshold` conversions in 30 days: then it is reported at `strong_micro_low_volume_severity`
    as a note; with enough macro volume it is flagged like a weak one."""
    ads = client.ads
    assert ads is not None
    tax = ctx.taxonomy
    primaries = ads.primary_actions
    macro_volume = sum(a.stats.conversions for a in primaries if tax.action_kind(a) == "macro")
    threshold = float(ctx.params["low_volume_threshold"])
    low_volume = macro_volume < threshold
    for a in primaries:
        kind = tax.action_kind(a)
        if kind not in ("weak_micro", "strong_micro"):
            continue  # macros, and unknown categories (read conservatively), are not flagged
        if a.system_managed:
            yield ctx.finding(
                f"{_label(a)} is a micro used as primary goal, but it is managed by Google and cannot be changed",
                [a.resource_name], severity="info", actionable=False,
                remediation=("Nothing to change on the action itself. If it distorts bidding, move the campaign "
                             "to a standard campaign type with your own goals."),
            )
        elif kind == "weak_micro":
            yield ctx.finding(
                f"{_label(a)} is a weak micro set as primary: Smart Bidding learns to buy it "
                f"(macro primaries: {fmt_count(macro_volume)} conv. in 30 days)",
                [a.resource_name],
            )
        elif low_volume:
            yield ctx.finding(
                f"{_label(a)} is a strong micro set as primary while macro primaries have only "
                f"{fmt_count(macro_volume)} conv. in 30 days (below {fmt_count(threshold)}): a legitimate "
                "bidding proxy; check that it still predicts macro conversions",
                [a.resource_name], severity=str(ctx.params["strong_micro_low_volume_severity"]),
                remediation=("Keep it while macro volume stays low; review monthly whether it still correlates "
                             "with sales or qualified leads, and demote it to secondary once macro primaries "
                             f"reach {fmt_count(threshold)} conversions a month."),
            )
        else:
            yield ctx.finding(
                f"{_label(a)} is a micro set as primary although macro primaries have "
                f"{fmt_count(macro_volume)} conv. in 30 days, enough to bid on the real outcome",
                [a.resource_name],
            )


RULE = Rule(
    id="micro-primary-goal",
    title="Micro conversion used as a primary bidding goal",
    category="bidding",
    severity="high",
    rationale=("Primary actions feed the Conversions column and Smart Bidding. A micro conversion as primary "
               "teaches bidding to buy cheap, low-value actions and makes ROAS meaningless. The exception: with "
               "fewer than about 30 macro conversions a month, a strong micro that predicts sales is a "
               "legitimate proxy; a weak one (scroll, page view, video play, click) never is."),
    remediation=("In Google Ads > Goals > Conversions > Summary, open the action and set it to Secondary "
                 "(API: ConversionAction.primary_for_goal = false). It stays visible in All conversions."),
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About Smart Bidding"),
    params={
        "low_volume_threshold": Param("Macro primary conversions per 30 days below which bidding cannot learn."),
        "strong_micro_low_volume_severity": Param("Severity of a strong micro as primary in a low-volume account."),
    },
    requires=("ads",),
    example="'Add to cart' (ADD_TO_CART, GA4 event add_to_cart, 2,410 conv. in 30 days) is a micro set as primary",
    check=check,
)
