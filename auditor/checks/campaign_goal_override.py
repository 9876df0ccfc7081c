"""campaign-goal-override: campaigns that bid on their own goals (campaign-specific or custom) that are micros,
or that leave the account's macro outcome out."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import CONVERSION_STRATEGIES, bids, default_bids_on, label, quoted
from auditor.engine import SEVERITY_RANK, CannotRun, Context, Evidence, Finding, Param, Rule, fmt_count
from auditor.hierarchy import STRENGTH_EVIDENCE
from auditor.model import Client, ConversionAction

_ESTABLISHED = ("low", "medium", "high", "very_high")


def _action(a: ConversionAction) -> str:
    via = f", GA4 event {a.ga4_event_name}" if a.ga4_event_name else ""
    if a.primary_for_goal:
        return f"'{a.name}' ({a.category}{via}, {fmt_count(a.stats.conversions)} conv. in 30 days)"
    # a secondary action in a custom goal counts in All conversions only
    return f"'{a.name}' ({a.category}{via}, secondary, {fmt_count(a.stats.all_conversions)} all conv. in 30 days)"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED campaigns on an automated conversion strategy that bid on goals other than the account
    default (goal_config_level CAMPAIGN, a custom goal, or campaign goals that differ from the account's):
    (1) when those goals hold micros (by the action's category or event name, judged by their measured strength
    toward the account's macro): a weak micro always at the rule's severity (it is never a proxy); a micro of
    medium strength or better at medium while the account's primary macro actions have at least
    `low_volume_threshold` conversions in 30 days (a proxy only this campaign's own low macro volume could
    justify), and not at all below it (a legitimate campaign proxy); one whose strength the data cannot establish
    at most at medium. In campaign-specific goals only the categories the account default does not bid on are
    this rule's (the others are micro-primary-goal's); a custom goal's actions are all judged, primary or not.
    (2) when those goals leave out the account's macro outcome (no primary macro action among them, or a custom
    goal without one) while the account has primary macro actions; an install campaign (goals that hold app
    installs only) is not: installs are the outcome it exists for. Campaigns on the account-default goals,
    paused campaigns and manual or click-based strategies are not judged."""
    ads = client.ads
    assert ads is not None and ads.campaigns is not None
    tax, h = ctx.taxonomy, ctx.hierarchy
    threshold = float(ctx.params["low_volume_threshold"])
    macros = [a for a in ads.primary_actions if h.action(a).strength == "macro"]
    macro_volume = sum(a.stats.conversions for a in macros)
    high_volume = macro_volume >= threshold
    volume = f"the account's primary macro actions have {fmt_count(macro_volume)} conv. in 30 days"
    judged = unjudged = 0
    for c in ads.campaigns:
        if c.status != "ENABLED" or c.bidding_strategy_type not in CONVERSION_STRATEGIES:
            continue
        b = bids(ads, c)
        if b.specific is None or (b.specific and not b.known):
            unjudged += 1
            continue
        judged += 1
        if not b.specific:
            continue  # the account default: micro-primary-goal's
        name = label(c, ads.currency_code)
        flagged: list[tuple[str, ConversionAction, Evidence, str]] = []
        for a in b.actions:
            ev = h.action(a)
            if ev.strength == "macro" or ev.returning:
                continue  # returning-user actions are returning-user-conversion's
            if tax.action_verdict(a).kind != "micro" and ev.position != "before":
                continue  # nothing places it as a micro: micro-primary-goal says so for the account default
            if b.source == "campaign" and default_bids_on(ads, a):
                continue  # the account default bids on it too: micro-primary-goal reports it
            if ev.strength == "low":
                flagged.append((ctx.severity, a, ev, "a weak micro"))
            elif ev.strength not in _ESTABLISHED:
                flagged.append((ctx.at_most("medium"), a, ev, "a micro whose strength the data cannot establish"))
            elif high_volume:
                flagged.append((ctx.at_most("medium"), a, ev, "a strong micro, a proxy only while this campaign's "
                                                              "own macro volume is low"))
        if flagged:
            flagged.sort(key=lambda f: (SEVERITY_RANK[f[0]], f[1].name))
            severity, _, ev, _ = flagged[0]
            listing = "; ".join(f"{_action(a)} is {why} — {e.text()}" for _, a, e, why in flagged)
            where = (f"{b.words}" if b.source == "custom"
                     else f"{b.words}, in categories the account-default goals do not bid on")
            yield ctx.finding(
                f"{name} bids on micros through {where} ({volume}): {listing}",
                [c.resource_name, *(a.resource_name for _, a, _, _ in flagged)],
                severity=severity, evidence=ev,
                remediation=(f"In Google Ads > Campaigns > '{c.name}' > Settings > Goals, remove the weak micros "
                             "from the campaign's goals (API: CampaignConversionGoal.biddable = false) or from its "
                             "custom goal (API: CustomConversionGoal.conversion_actions), or return it to the "
                             "account-default goals (API: ConversionGoalCampaignConfig.goal_config_level = "
                             "CUSTOMER). Keep a strong micro only while the campaign's own macro conversions are "
                             f"below {fmt_count(threshold)} a month."),
            )
        installs_only = bool(b.actions) and all(a.is_app_install for a in b.actions)
        if macros and not installs_only and not any(h.action(a).strength == "macro" for a in b.actions):
            # an install campaign bids on installs by design: they are its macro (micro-primary-goal says so)
            held = (quoted(b.actions, 5) if b.actions
                    else "no enabled primary action" if b.source == "campaign" else "no enabled action")
            macro_ev = h.action(macros[0])  # why that is the account's macro: the rule rests on it
            yield ctx.finding(
                f"{name} bids on {b.words} ({held}), which leave out the account's macro outcome "
                f"({quoted(macros)}; {volume}): it learns to buy something other "
                f"than what the business counts as a conversion — {macro_ev.text()}",
                [c.resource_name, *(a.resource_name for a in macros[:3])], evidence=macro_ev,
                remediation=(f"Add the macro's goal to '{c.name}' (Google Ads > Campaigns > Settings > Goals; API: "
                             "CampaignConversionGoal.biddable = true), add the macro action to its custom goal "
                             "(API: CustomConversionGoal.conversion_actions), or return it to the account-default "
                             "goals (API: ConversionGoalCampaignConfig.goal_config_level = CUSTOMER)."),
            )
    if unjudged and not judged:
        raise CannotRun("which goals the campaigns bid on is not known: ads/conversion_goal_campaign_configs.json "
                        "or ads/campaign_conversion_goals.json (and ads/custom_conversion_goals.json for custom "
                        "goals) was not collected")


RULE = Rule(
    id="campaign-goal-override",
    title="Campaign bidding on its own micro goals or without the macro",
    category="bidding",
    severity="high",
    rationale=("A campaign can override the account-default goals with campaign-specific goals or a custom goal. "
               "That is where micros slip into bidding unseen: the account's goals look clean while one campaign "
               "optimises toward video plays or page views, or toward a set that leaves out the sale or lead. "
               "Smart Bidding then buys what the campaign's goals count, not what the business needs."),
    remediation=("Review the campaign's goals in Google Ads > Campaigns > Settings > Goals (API: "
                 "CampaignConversionGoal, CustomConversionGoal, ConversionGoalCampaignConfig): bid on the macro, "
                 "with a strong micro beside it only while the campaign's macro volume is low."),
    references=("Google Ads Help: About campaign-specific conversion goals",
                "Google Ads Help: About custom goals",
                "Google Ads Help: About primary and secondary conversion actions"),
    params={
        "low_volume_threshold": Param("Account macro conversions per 30 days from which a strong micro as a "
                                      "campaign goal is reported.", default=30),
    },
    requires=("ads", "ads.campaigns"),
    example=("campaign 'Brand - PMax' (PERFORMANCE_MAX, MAXIMIZE_CONVERSIONS) bids on micros through its custom "
             "goal 'Leads + engagement' (...): 'Explainer video play' (ENGAGEMENT, 96.2 conv. in 30 days) is a weak "
             "micro — low: ..."),
    evidence=("Each campaign's goal configuration (goal_config_level, custom goal), its biddable campaign goals "
              "(category x origin) and the account-default goals; the custom goal's actions; whether each action is "
              "a micro (category or name) and how strong it measures. " + STRENGTH_EVIDENCE),
    check=check,
)
