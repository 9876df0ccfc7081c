"""smart-bidding-low-volume: a campaign on an automated conversion strategy with too few conversions to learn."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import CONVERSION_STRATEGIES, bids, label
from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.hierarchy import STRENGTH_EVIDENCE
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags each ENABLED campaign on an automated conversion strategy (MAXIMIZE_CONVERSIONS and
    MAXIMIZE_CONVERSION_VALUE, with or without a target, TARGET_CPA, TARGET_ROAS; Performance Max included) with
    fewer than `low_volume_threshold` conversions in 30 days on the goals it bids on (the campaign's own
    `metrics.conversions`), one finding per campaign naming its strategy (with its target) and its volume. It
    recommends the campaign's best micro proxy from the account's own measured hierarchy as a campaign-specific
    goal: a micro before the macro, of medium strength or better, with at least `proxy_min_volume` conversions
    or events account-wide, that the campaign does not already bid on; else it says that none measures strong
    enough. Campaigns on manual or click-based strategies (MANUAL_CPC, MANUAL_CPM, TARGET_SPEND,
    TARGET_IMPRESSION_SHARE...) and paused campaigns are not flagged. low-bidding-volume is the account-wide
    view; this rule is the campaign's, where Smart Bidding actually learns. A campaign that shares a portfolio
    strategy learns from the portfolio's pooled conversions, which the snapshot does not record: check the
    strategy in the shared library before acting on such a finding."""
    ads = client.ads
    assert ads is not None and ads.campaigns is not None
    h = ctx.hierarchy
    threshold = float(ctx.params["low_volume_threshold"])
    min_proxy = float(ctx.params["proxy_min_volume"])
    currency = ads.currency_code
    macro_volume = sum(a.stats.conversions for a in ads.primary_actions if h.action(a).strength == "macro")
    ranked = h.proxies(min_proxy)
    for c in ads.campaigns:
        if c.status != "ENABLED" or c.bidding_strategy_type not in CONVERSION_STRATEGIES:
            continue
        if c.conversions >= threshold:
            continue
        head = (f"{label(c, currency)} has {fmt_count(c.conversions)} conv. in 30 days on the goals it bids on "
                f"(below {fmt_count(threshold)}): too few for its strategy to learn from")
        b = bids(ads, c)
        bid_on = {a.resource_name for a in b.actions}
        in_place = [a for a in b.actions if h.action(a).strength != "macro" and h.action(a).proxy_grade]
        pooled = (f"; the account's primary macro actions have {fmt_count(macro_volume)} conv. in 30 days, so a "
                  "portfolio strategy shared with other campaigns could pool them") if macro_volume >= threshold \
            else ""
        if in_place:
            best_in = max(in_place, key=lambda a: (h.action(a).rate or 0.0, a.stats.conversions, a.name))
            ev = h.action(best_in)
            yield ctx.finding(
                f"{head}, although {b.words} already include the micro '{best_in.name}' — {ev.text()}{pooled}",
                [c.resource_name, best_in.resource_name], evidence=ev,
                remediation=("Pool the campaign's data: merge it with similar campaigns or move it to a portfolio "
                             "strategy (Google Ads > Tools > Shared library > Bid strategies; API: "
                             "Campaign.bidding_strategy), or switch to Maximize clicks (TARGET_SPEND) until it "
                             f"reaches {fmt_count(threshold)} conversions a month."),
            )
            continue
        candidates = [p for p in ranked if p.action is None or p.action.resource_name not in bid_on]
        if not candidates:
            yield ctx.finding(
                f"{head}; no micro before the account's macro measures strong enough (at least "
                f"{ctx.taxonomy.thresholds.medium:.0%} to the macro) with {fmt_count(min_proxy)} a month to stand in "
                f"as its goal{pooled}",
                [c.resource_name],
                remediation=("Pool the campaign's conversions (merge it, or a portfolio strategy: Google Ads > "
                             "Tools > Shared library > Bid strategies; API: Campaign.bidding_strategy), or bid on "
                             "clicks (Maximize clicks, API: Campaign.target_spend) until it reaches "
                             f"{fmt_count(threshold)} conversions a month; track a strong micro that predicts "
                             "the outcome to have a proxy."),
            )
            continue
        best = candidates[0]
        if best.action is not None:
            step = (f"In Google Ads > Campaigns > '{c.name}' > Settings > Goals, use campaign-specific goals and "
                    f"add the goal of '{best.action.name}' ({best.action.category}) beside the macro (API: "
                    "CampaignConversionGoal.biddable = true, ConversionGoalCampaignConfig.goal_config_level = "
                    "CAMPAIGN), or a custom goal with the macro and it (API: CustomConversionGoal)")
        else:
            step = (f"Mark '{best.event}' as a key event (GA4 Admin > Data display > Key events; API: "
                    "properties.keyEvents.create), import it into Google Ads, and add it beside the macro as a "
                    f"campaign-specific goal of '{c.name}' (Google Ads > Campaigns > Settings > Goals; API: "
                    "CampaignConversionGoal.biddable = true) or in a custom goal (API: CustomConversionGoal)")
        yield ctx.finding(
            f"{head}; best micro proxy for it: {best.label} ({fmt_count(best.volume)} in {best.period} "
            f"account-wide), the micro before the macro with enough volume and the highest rate to it — "
            f"{best.evidence.text()}{pooled}",
            [c.resource_name] + ([best.action.resource_name] if best.action is not None else []),
            evidence=best.evidence,
            remediation=(f"{step}. Give it a value well below the macro's, check monthly that it still predicts "
                         f"sales or leads, and drop it once the campaign reaches {fmt_count(threshold)} macro "
                         "conversions a month."),
        )


RULE = Rule(
    id="smart-bidding-low-volume",
    title="Campaign on Smart Bidding with too few conversions",
    category="bidding",
    severity="high",
    rationale=("Smart Bidding learns per campaign (or per portfolio strategy), from the conversions of the goals "
               "that campaign bids on. Below roughly 30 a month a target CPA or ROAS campaign bids on noise, "
               "however many conversions the whole account has. A strong micro that predicts the outcome, added "
               "as a campaign-specific goal, or pooling campaigns in a portfolio strategy, gives it enough "
               "signal; a weak micro never does."),
    remediation=("Give the campaign enough signal: add a strong micro as a campaign-specific goal (Google Ads > "
                 "Campaigns > Settings > Goals; API: CampaignConversionGoal.biddable), pool it with others in a "
                 "portfolio strategy (API: Campaign.bidding_strategy), or bid on clicks until it converts more."),
    references=("Google Ads Help: About Smart Bidding", "Google Ads Help: About campaign-specific conversion goals",
                "Google Ads Help: About portfolio bid strategies"),
    params={
        "low_volume_threshold": Param("Conversions per 30 days a campaign's goals need for its strategy to learn.",
                                      default=30),
        "proxy_min_volume": Param("Conversions or events a strong micro needs to stand in as the campaign's goal.",
                                  default=30),
    },
    requires=("ads", "ads.campaigns"),
    example=("campaign 'Search - Sofas' (SEARCH, TARGET_CPA (target 45.00 EUR)) has 11 conv. in 30 days on the "
             "goals it bids on (below 30): too few for its strategy to learn from; best micro proxy for it: GA4 event "
             "'begin_checkout' (1,412 in 28 days account-wide) ..."),
    evidence=("Each campaign's status, bidding strategy type and target, and its 30-day conversions on the goals "
              "it bids on (ads/campaigns.json); the goals it bids on (its custom goal, campaign goals or the "
              "account default) to leave out a proxy already in place. The proxy is ranked from the account's "
              "measured hierarchy, with account-wide volumes (a campaign's share of a micro is not reported). "
              + STRENGTH_EVIDENCE),
    check=check,
)
