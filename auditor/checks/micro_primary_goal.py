"""micro-primary-goal: micro conversions set as primary (bidding) goals in Google Ads."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import default_bids_on
from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.hierarchy import STRENGTH_EVIDENCE
from auditor.model import Client, ConversionAction

CLASSIFY = ("Measure it or classify it: a GA4 funnel exploration from the event to the macro (a live run reads one "
            "for you) shows the share of its users who go on to convert; then list it in the config under "
            "taxonomy.strong_micro_events (a proxy worth bidding on) or taxonomy.weak_micro_events. Until then keep "
            "the macro primary and set this action to Secondary if it is not a deliberate proxy (API: "
            "ConversionAction.primary_for_goal = false).")


def _label(a: ConversionAction) -> str:
    via = f", GA4 event {a.ga4_event_name}" if a.ga4_event_name else ""
    return f"'{a.name}' ({a.category}{via}, {fmt_count(a.stats.conversions)} conv. in 30 days)"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags enabled Google Ads conversion actions set as primary (`primary_for_goal`) that are micro conversions
    (by their Ads category or their event's name), judged by their measured strength toward the account's macro.
    With at least `low_volume_threshold` macro conversions in 30 days, any micro as primary is flagged at the
    rule's severity: bid on the real outcome. Below it, a micro of medium strength or better that sits before
    the macro is the recommended bidding proxy and is reported at `strong_micro_low_volume_severity` as a note;
    a weak (low) micro is flagged at the rule's severity; one whose strength the data cannot establish, or one
    that fires after or beside the macro (fewer users: it cannot stand in for it), at most at medium. Every
    finding carries its evidence. This rule judges the account-default goals: once the customer conversion goals
    are collected, a primary action whose category x origin the account default does not mark biddable is not
    bid on by it and is left alone (a campaign that bids on it through its own goals is campaign-goal-override's
    finding, which names the campaign)."""
    ads = client.ads
    assert ads is not None
    tax, h = ctx.taxonomy, ctx.hierarchy
    primaries = ads.primary_actions
    macro_volume = sum(a.stats.conversions for a in primaries if h.action(a).strength == "macro")
    threshold = float(ctx.params["low_volume_threshold"])
    low_volume = macro_volume < threshold
    macros = f"macro primaries: {fmt_count(macro_volume)} conv. in 30 days"
    for a in primaries:
        ev = h.action(a)
        if ev.strength == "macro" or tax.action_verdict(a).kind != "micro":
            continue  # macros, and actions neither their name nor their category place, are not judged
        if not default_bids_on(ads, a):
            continue  # the account default does not bid on its goal: only a campaign's own goals can
        why = f" — {ev.text()}"
        if a.system_managed:
            yield ctx.finding(
                f"{_label(a)} is a micro used as primary goal, but it is managed by Google and cannot be "
                f"changed{why}",
                [a.resource_name], severity="info", actionable=False, evidence=ev,
                remediation=("Nothing to change on the action itself. If it distorts bidding, move the campaign "
                             "to a standard campaign type with your own goals."),
            )
        elif not low_volume:
            kind = "weak micro" if ev.strength == "low" else "micro"
            yield ctx.finding(
                f"{_label(a)} is a {kind} set as primary although {macros}, enough to bid on the real "
                f"outcome{why}",
                [a.resource_name], evidence=ev,
                # a micro by its name or category whose strength the data cannot establish: never above medium
                severity=ctx.at_most("medium") if ev.strength == "unknown" else None,
            )
        elif ev.position == "after":
            yield ctx.finding(
                f"{_label(a)} is a micro set as primary that fires after or beside the macro, so it cannot "
                f"stand in for it as a bidding proxy ({macros}){why}",
                [a.resource_name], severity=ctx.at_most("medium"), evidence=ev,
                remediation=("Set it to Secondary (API: ConversionAction.primary_for_goal = false): it counts "
                             "people who already converted. If macro volume is too low, bid on a micro that "
                             "comes before the macro instead (see low-bidding-volume)."),
            )
        elif ev.strength == "low":
            yield ctx.finding(
                f"{_label(a)} is a weak micro set as primary: Smart Bidding learns to buy it ({macros}){why}",
                [a.resource_name], evidence=ev,
            )
        elif ev.strength == "unknown":
            yield ctx.finding(
                f"{_label(a)} is a micro set as primary whose strength the data cannot establish ({macros}){why}",
                [a.resource_name], severity=ctx.at_most("medium"), evidence=ev, remediation=CLASSIFY,
            )
        else:
            yield ctx.finding(
                f"{_label(a)} is a proxy in place: a micro strong enough to bid on while macro primaries have "
                f"only {fmt_count(macro_volume)} conv. in 30 days (below {fmt_count(threshold)}), a legitimate "
                f"bidding proxy; check that it still predicts macro conversions{why}",
                [a.resource_name], severity=str(ctx.params["strong_micro_low_volume_severity"]), evidence=ev,
                remediation=("Keep it while macro volume stays low; review monthly whether it still correlates "
                             "with sales or qualified leads, and demote it to secondary once macro primaries "
                             f"reach {fmt_count(threshold)} conversions a month."),
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
    evidence=("Whether an action is a micro comes from its Ads category or its event's name; how strong it is "
              "decides the severity; the account-default goals (when collected) say whether the account default "
              "bids on it. " + STRENGTH_EVIDENCE),
    check=check,
)
