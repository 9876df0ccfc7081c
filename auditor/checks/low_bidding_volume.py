"""low-bidding-volume: too few primary macro conversions for Smart Bidding, with the best micro proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from auditor.checks._campaigns import Reality, bidding_reality
from auditor.engine import KEEP, PROMOTE, Context, Finding, Param, Rule, fmt_count
from auditor.hierarchy import STRENGTH_EVIDENCE
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account whose ENABLED primary macro actions have fewer than `low_volume_threshold`
    conversions in 30 days together, too few for Smart Bidding to learn from, and recommends the best micro
    proxy from the account's own measured hierarchy: a micro that sits before the macro, of medium strength or
    better, with at least `proxy_min_volume` conversions (Google Ads, 30 days) or events (GA4, 28 days), and the
    highest rate to the macro (not the one latest on a fixed ladder). When a primary micro already qualifies, a
    proxy is in place and the finding says so as a note. An account with no primary macro at all is left to
    no-primary-conversion and micro-primary-goal. This is the account-wide view: each campaign on Smart Bidding
    learns from its own, lower volume, which is smart-bidding-low-volume's (when campaigns are collected). When
    the campaigns were collected and none bids on a conversion-based strategy (manual or click bidding), volume
    is no defect yet but the reason not to switch: the finding is then an info note that starts "before you
    switch to a conversion-based strategy"."""
    ads = client.ads
    assert ads is not None
    reality = bidding_reality(ads)
    for f in _check(client, ctx, reality):
        if reality.learns is False:
            f = replace(f, severity="info", message=f"before you switch to a conversion-based strategy "
                        f"({reality.none_text()}): {f.message}")
        yield f


def _check(client: Client, ctx: Context, reality: Reality) -> Iterator[Finding]:
    """The findings as if a campaign bid on conversions (see `check`)."""
    ads = client.ads
    assert ads is not None
    h = ctx.hierarchy
    threshold = float(ctx.params["low_volume_threshold"])
    min_proxy = float(ctx.params["proxy_min_volume"])
    macros = [a for a in ads.primary_actions if h.action(a).strength == "macro"]
    volume = sum(a.stats.conversions for a in macros)
    if not macros or volume >= threshold:
        return
    learner = "Smart Bidding" if reality.learns is not False else "such a strategy"
    head = (f"primary macro actions have {fmt_count(volume)} conv. in 30 days (below {fmt_count(threshold)}) "
            f"across the account: too few for {learner} to learn from (each campaign's own volume: "
            "smart-bidding-low-volume)")
    resources = [a.resource_name for a in macros]
    in_place = [a for a in ads.primary_actions if h.action(a).strength != "macro" and h.action(a).proxy_grade
                and a.stats.conversions >= min_proxy]
    if in_place:
        best = max(in_place, key=lambda a: (h.action(a).rate or 0.0, a.stats.conversions, a.name))
        ev = h.action(best)
        top = next(iter(h.proxies(min_proxy)), None)
        better = ""
        if top is not None and top.action is not best and (top.evidence.rate or 0) > (ev.rate or 0):
            how = "measures higher" if top.evidence.measure == "funnel" else "may do better (its ceiling is higher)"
            better = f"; {top.label} {how} ({fmt_count(top.volume)} in {top.period}): {top.evidence.text()}"
        yield ctx.finding(
            f"{head}; a proxy is in place: '{best.name}' is primary with {fmt_count(best.stats.conversions)} conv. "
            f"in 30 days — {ev.text()}{better}",
            [*resources, best.resource_name], severity="info", evidence=ev, advice={best.resource_name: KEEP},
            remediation=(f"Keep '{best.name}' primary while macro volume stays low; check monthly that it still "
                         "predicts sales or leads, and demote it once macro primaries reach "
                         f"{fmt_count(threshold)} conversions a month."),
        )
        return
    ranked = h.proxies(min_proxy)
    if not ranked:
        unsure = [p for p in h.proxies_unknown(min_proxy)][:3]
        maybe = ("; strength unknown for " + ", ".join(f"{p.label} ({fmt_count(p.volume)} in {p.period})"
                                                       for p in unsure)
                 + ": measure them or classify them in the config (taxonomy.strong_micro_events)") if unsure else ""
        yield ctx.finding(
            f"{head}; no micro before the macro with a measured or expected rate of at least "
            f"{ctx.taxonomy.thresholds.medium:.0%} reaches {fmt_count(min_proxy)} a month to stand in as a proxy"
            f"{maybe}",
            resources,
            remediation=("Track a strong micro that predicts the outcome (begin_checkout, a completed multi-step "
                         "form, a qualified pricing-page visit), import it into Google Ads and use it as the "
                         "primary goal (API: ConversionAction.primary_for_goal = true) until macro volume grows."),
        )
        return
    best, rest = ranked[0], ranked[1:4]
    others = "; next: " + ", ".join(f"{p.event or p.label} ({fmt_count(p.volume)})" for p in rest) if rest else ""
    if best.action is not None:
        step = (f"In Google Ads > Goals > Conversions > Summary, set '{best.action.name}' to Primary (API: "
                "ConversionAction.primary_for_goal = true), ideally as a campaign-specific goal of the low-volume "
                "campaigns (CampaignConversionGoal.biddable)")
        resources.append(best.action.resource_name)
    else:
        step = (f"Mark '{best.event}' as a key event in GA4 Admin > Data display > Key events (API: "
                "properties.keyEvents.create), import it in Google Ads > Goals > Conversions > New conversion "
                "action > Import > Google Analytics 4 properties and set it to Primary (API: "
                "ConversionAction.primary_for_goal = true)")
    yield ctx.finding(
        f"{head}; best micro proxy: {best.label} ({fmt_count(best.volume)} in {best.period}), the micro before the "
        f"macro with enough volume and the highest rate to it — {best.evidence.text()}{others}",
        resources, evidence=best.evidence,
        advice={best.action.resource_name: PROMOTE} if best.action is not None else None,
        remediation=(f"{step}. Give it a value well below the macro's, keep the macro primary, check monthly that it "
                     f"still predicts sales or leads, and demote it once macro primaries reach "
                     f"{fmt_count(threshold)} conversions a month."),
    )


RULE = Rule(
    id="low-bidding-volume",
    title="Too few macro conversions for Smart Bidding",
    category="bidding",
    severity="medium",
    rationale=("Smart Bidding needs roughly 30 conversions a month to learn. Below that it bids on noise. "
               "Practitioners then optimise toward a strong micro that predicts the sale or lead and fires often "
               "enough (a completed multi-step form, begin checkout, a qualified pricing visit), never toward a "
               "weak one (scroll, page view, video play)."),
    remediation=("While macro volume is low, set the micro with enough volume and the highest measured rate to "
                 "the macro to Primary in Google Ads > Goals > Conversions > Summary (API: "
                 "ConversionAction.primary_for_goal = true), and return to the macro once it reaches about 30 a "
                 "month."),
    references=("Google Ads Help: About Smart Bidding",
                "Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About campaign-specific conversion goals"),
    params={
        "low_volume_threshold": Param("Primary macro conversions per 30 days below which bidding cannot learn."),
        "proxy_min_volume": Param("Conversions or events a strong micro needs to stand in as the bidding goal."),
    },
    requires=("ads",),
    example="primary macro actions have 14 conv. in 30 days (below 30) across the account: too few for Smart "
            "Bidding to learn from (each campaign's own volume: smart-bidding-low-volume); best micro proxy: GA4 "
            "event 'begin_checkout' (412 in 28 days) ...",
    evidence=("The macro volume is the 30-day conversions of the primary macro actions. Proxy candidates are the "
              "account's own events and actions that sit before the macro (at least the macro's users) with "
              "enough volume; they are ranked by their rate to the macro. " + STRENGTH_EVIDENCE),
    check=check,
)
