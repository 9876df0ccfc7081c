"""micro-primary-goal: micro conversions set as primary (bidding) goals in Google Ads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from auditor.checks._campaigns import Reality, bid_basis, bidding_reality, bids, default_bids_on
from auditor.engine import DEMOTE, KEEP, Context, Finding, Param, Rule, cap, fmt_count
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


def _source_label(a: ConversionAction) -> str:
    """'Website form' (SUBMIT_LEAD_FORM, web tag, 312 conv. in 30 days)."""
    return f"'{a.name}' ({a.category}, {a.source}, {fmt_count(a.stats.conversions)} conv. in 30 days)"


PLACE = ("Place it: if it is an outcome that pays, list its event or name under taxonomy.macro_events in the "
         "config; if it is a step toward the outcome, measure it (a GA4 funnel exploration from it to the macro, or "
         "compare its 30-day conversions with the macro's) and list it under taxonomy.strong_micro_events or "
         "taxonomy.weak_micro_events. Until then it dilutes what bidding learns from: set it to Secondary if it is "
         "not a deliberate goal (API: ConversionAction.primary_for_goal = false).")


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Judges every enabled primary Google Ads action that the account-default goals bid on and that is not a
    macro, whatever its name or category: names and categories are a prior, and where they place nothing the
    measured hierarchy decides (an action whose event has more users than the macro, or more conversions than
    the macro actions, sits before it and is a micro). With at least `low_volume_threshold` macro conversions in
    30 days, any micro as primary is flagged at the rule's severity: bid on the real outcome. Below it, a micro
    of medium strength or better that sits before the macro is the recommended bidding proxy and is reported at
    `strong_micro_low_volume_severity` as a note; a weak (low) micro is flagged at the rule's severity; one whose
    strength the data cannot establish, or one that fires after or beside the macro, at most at medium. An
    action nothing can place (no name, category or volume says micro or macro) is reported as such, at most at
    medium, with what to measure. Earlier stages of an outcome the account also bids on are micros toward it:
    a raw web lead beside a lead qualified in the CRM (flagged once the qualified stage has the volume to bid
    on, else the legitimate proxy), an app install beside in-app purchases (the macro of an install campaign,
    a micro toward paying users: the campaigns, when collected, say which). Returning-user actions are
    returning-user-conversion's. Every finding carries its evidence. Once the customer conversion goals are
    collected, a primary action whose category x origin the account default does not mark biddable is not bid on
    by it and is left alone (without them, its `include_in_conversions_metric` decides, and the finding says so).
    When the campaigns were collected and none bids on a conversion-based strategy, nothing learns from the
    action yet: findings are capped at `no_conversion_bidding_severity` and say so. A campaign that bids on an
    action through its own goals is campaign-goal-override's."""
    ads = client.ads
    assert ads is not None
    reality = bidding_reality(ads)
    for f in _check(client, ctx, reality):
        if reality.learns is False and f.severity != "info":  # nothing learns from it yet: no bidding defect
            f = replace(f, severity=cap(f.severity, str(ctx.params["no_conversion_bidding_severity"])))
        yield f


def _check(client: Client, ctx: Context, reality: Reality) -> Iterator[Finding]:
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
        if ev.strength == "macro" or ev.returning:
            continue  # macros; returning-user actions are returning-user-conversion's
        if not default_bids_on(ads, a):
            continue  # the account default does not bid on its goal: only a campaign's own goals can
        why = f" — {ev.text()}"
        if ads.goals is None:  # say what "bid on" rested on
            why += f" [{bid_basis(ads, a)}]"
        placed = tax.action_verdict(a).kind == "micro" or ev.position == "before"
        if a.system_managed:
            yield ctx.finding(
                f"{_label(a)} is {'a micro' if placed else 'an action nothing places as a macro'} used as primary "
                f"goal, but it is managed by Google and cannot be changed{why}",
                [a.resource_name], severity="info", actionable=False, evidence=ev,
                remediation=("Nothing to change on the action itself. If it distorts bidding, move the campaign "
                             "to a standard campaign type with your own goals."),
            )
        elif a.resource_name in h.earlier:
            yield _earlier_stage(client, ctx, a, threshold)
        elif not placed:
            yield ctx.finding(
                f"{_label(a)} is primary, but nothing places it: its name and category say neither micro nor macro, "
                f"and its volume does not put it before the macro ({macros}){why}",
                [a.resource_name], severity=ctx.at_most("medium" if not low_volume else "low"), evidence=ev,
                remediation=PLACE,
            )
        elif not low_volume:
            kind = "weak micro" if ev.strength == "low" else "micro"
            yield ctx.finding(
                f"{_label(a)} is a {kind} set as primary although {macros}, enough to bid on the real "
                f"outcome{why}",
                [a.resource_name], evidence=ev, advice={a.resource_name: DEMOTE},
                # a micro by its name or category whose strength the data cannot establish: never above medium
                severity=ctx.at_most("medium") if ev.strength == "unknown" else None,
            )
        elif ev.position == "after":
            yield ctx.finding(
                f"{_label(a)} is a micro set as primary that fires after or beside the macro, so it cannot "
                f"stand in for it as a bidding proxy ({macros}){why}",
                [a.resource_name], severity=ctx.at_most("medium"), evidence=ev, advice={a.resource_name: DEMOTE},
                remediation=("Set it to Secondary (API: ConversionAction.primary_for_goal = false): it counts "
                             "people who already converted. If macro volume is too low, bid on a micro that "
                             "comes before the macro instead (see low-bidding-volume)."),
            )
        elif ev.strength == "low":
            learns = ("Smart Bidding learns to buy it" if reality.learns is not False else
                      f"{reality.none_text()}, so nothing learns from it yet, but it fills the Conversions column "
                      "and a conversion-based strategy would learn to buy it")
            yield ctx.finding(
                f"{_label(a)} is a weak micro set as primary: {learns} ({macros}){why}",
                [a.resource_name], evidence=ev, advice={a.resource_name: DEMOTE},
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
                advice={a.resource_name: KEEP},
                remediation=("Keep it while macro volume stays low; review monthly whether it still correlates "
                             "with sales or qualified leads, and demote it once macro primaries "
                             f"reach {fmt_count(threshold)} conversions a month."),
            )


def _earlier_stage(client: Client, ctx: Context, a: ConversionAction, threshold: float) -> Finding:
    """A raw web lead beside a CRM-qualified lead, or an app install beside in-app purchases, both primary."""
    h = ctx.hierarchy
    ev = h.action(a)
    # the later stage alone (the CRM imports, the in-app purchases), not every macro (calls, say)
    def later_stage(x: ConversionAction) -> bool:
        return x.is_app if a.is_app_install else x.is_crm_lead_import

    later = tuple(x for x in (h.macro.actions if h.macro else ()) if later_stage(x))
    volume = sum(x.stats.conversions for x in later)
    later_text = ", ".join(_source_label(x) for x in later)
    enough = volume >= threshold
    note = str(ctx.params["strong_micro_low_volume_severity"])
    if a.is_app_install:
        return _install(client, ctx, a, later_text, volume, threshold)
    if enough:
        return ctx.finding(
            f"{_source_label(a)} is the raw web lead, primary beside the lead qualified in the CRM, {later_text}: "
            f"{fmt_count(volume)} qualified conv. in 30 days (at least {fmt_count(threshold)}) are enough to bid on "
            f"the qualified stage, and the raw form teaches bidding to buy any enquiry — {ev.text()}",
            [a.resource_name, *(x.resource_name for x in later)], evidence=ev, advice={a.resource_name: DEMOTE},
            remediation=(f"Set '{a.name}' to Secondary (API: ConversionAction.primary_for_goal = false) and bid on "
                         "the qualified stage alone; keep the form as an observation action, and keep the CRM import "
                         "regular (at least weekly) so bidding learns from fresh qualified leads."),
        )
    return ctx.finding(
        f"{_source_label(a)} is the raw web lead, primary beside the lead qualified in the CRM, {later_text}: with "
        f"only {fmt_count(volume)} qualified conv. in 30 days (below {fmt_count(threshold)}) the raw form is the "
        f"legitimate bidding proxy — {ev.text()}",
        [a.resource_name, *(x.resource_name for x in later)], severity=note, evidence=ev,
        advice={a.resource_name: KEEP},
        remediation=(f"Keep both while the qualified stage stays below {fmt_count(threshold)} a month; give the "
                     "form a value well below a qualified lead's so value-based bidding prefers leads that qualify, "
                     f"and set '{a.name}' to Secondary once the import reaches {fmt_count(threshold)} a month."),
    )


def _install(client: Client, ctx: Context, a: ConversionAction, later_text: str, volume: float,
             threshold: float) -> Finding:
    """An app install is the macro of an install campaign and a micro toward paying users: say which."""
    ads = client.ads
    assert ads is not None
    ev = ctx.hierarchy.action(a)
    head = f"{_source_label(a)} is an app install, primary beside the in-app purchases {later_text}"
    note = str(ctx.params["strong_micro_low_volume_severity"])
    if ads.campaigns is None:
        return ctx.finding(
            f"{head}: whether an install campaign bids on it cannot be told (campaigns not collected); for any "
            f"campaign that should find paying users it is a micro ({fmt_count(volume)} in-app purchases in 30 "
            f"days) — {ev.text()}",
            [a.resource_name], severity=ctx.at_most("medium") if volume >= threshold else note, evidence=ev,
            remediation=("Collect the campaigns (a live run or `audit record` reads them) to see which campaigns bid "
                         "on installs. Install campaigns keep installs; App campaigns for in-app actions should bid "
                         "on the in-app purchases alone (campaign-specific goals)."),
        )
    install_only, mixed = [], []
    for c in ads.campaigns:
        if c.status != "ENABLED":
            continue
        b = bids(ads, c)
        if a in b.actions:
            (mixed if any(x.is_app_purchase or x in (ctx.hierarchy.macro.actions if ctx.hierarchy.macro else ())
                          for x in b.actions) else install_only).append(c)
    names = ", ".join(f"'{c.name}'" for c in mixed)
    if mixed and volume >= threshold:
        return ctx.finding(
            f"{head}: campaign(s) {names} bid on installs and purchases together, so bidding buys the cheaper "
            f"installs, while {fmt_count(volume)} in-app purchases in 30 days are enough to bid on paying users — "
            f"{ev.text()}",
            [a.resource_name, *(c.resource_name for c in mixed)], evidence=ev,
            remediation=("Give the in-app action campaigns campaign-specific goals without the install (API: "
                         "CampaignConversionGoal.biddable = false for DOWNLOAD), or set the install to Secondary if "
                         "no campaign bids on installs alone."),
        )
    where = (f"the macro of install campaign(s) {', '.join(repr(c.name) for c in install_only)}" if install_only
             else "bid on by no enabled campaign alone")
    return ctx.finding(
        f"{head}: {where}, and a micro toward paying users"
        + (f" for {names}, legitimate while in-app purchases have {fmt_count(volume)} conv. in 30 days (below "
           f"{fmt_count(threshold)})" if mixed else "") + f" — {ev.text()}",
        [a.resource_name], severity=note, evidence=ev, actionable=bool(mixed), advice={a.resource_name: KEEP},
        remediation=("Keep installs as the goal of install campaigns only; campaigns for paying users bid on the "
                     "in-app purchases (campaign-specific goals) once they reach "
                     f"{fmt_count(threshold)} a month."),
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
        "no_conversion_bidding_severity": Param("Most severity when the campaigns were collected and none bids on a "
                                                "conversion-based strategy (nothing learns from the action yet).",
                                                default="medium"),
    },
    requires=("ads",),
    example="'Add to cart' (ADD_TO_CART, GA4 event add_to_cart, 2,410 conv. in 30 days) is a micro set as primary",
    evidence=("Whether an action is a micro comes from its Ads category or its event's name, else from its measured "
              "position (more users or conversions than the macro: a step before it); its type says whether it is an "
              "earlier stage of another outcome the account bids on (a raw web lead beside a CRM import, an app "
              "install beside in-app purchases); how strong it is decides the severity; the account-default goals "
              "(when collected) say whether the account default bids on it, and the campaigns (when collected) "
              "whether an install campaign does. " + STRENGTH_EVIDENCE),
    check=check,
)
