"""Does the snapshot add up? Checked once, right after mapping and before any rule runs.

Mapping checks each field on its own (its type, its range); this pass checks what only the whole client can
tell: every reference resolves (a campaign's goal config names a custom goal that exists, whose actions exist;
Ads-attributed key events name this client's Google Ads account or one the property links to; a funnel's
steps are events of the property; a GA4 import names this client's property), a funnel never grows from one
step to the next, the campaigns' conversions and all conversions do not exceed the account's, and ids are
unique.

A piece that does not add up is not guessed at: it is named in a warning (file and field), recorded in
`Client.unusable` under the data key rules declare in `requires=` ("ads.campaigns", "ga4.ads_key_events",
"ads"), so every rule that needs it reports *not run* with the reason (never pass), and the client is
incomplete. Marking beats deleting: dropping the piece to None would read as "not collected", which is not
what happened, and the rules that do not need it still judge the rest. A funnel report that grows is the one
exception: it is left out (the rates fall back to user counts, as when no funnel was recorded), because no rule
declares funnels as a requirement and the counts are still trustworthy.
"""

from __future__ import annotations

import re
from dataclasses import replace

from auditor.model import UNKNOWN, Ads, Client

# Sums of campaigns may fall short of the account's (removed campaigns are not read) but never exceed it beyond
# the API's rounding of fractional conversions.
_TOLERANCE = 0.001
_ROUNDING = 0.5
_CAMPAIGN = re.compile(r"^customers/(\d+)/campaigns/(\d+)$")


def check(client: Client, origin: str) -> Client:
    """`client` with what does not add up in `unusable` and `warnings` (one line each, naming file and field)."""
    problems: list[tuple[str, str]] = []
    where = origin.rstrip("/") + "/" if origin else ""
    ads, ga4 = client.ads, client.ga4
    if ads is not None:
        problems += _actions(ads, where)
        if ads.campaigns is not None:
            problems += _campaigns(ads, where)
    if ga4 is not None and ga4.ads_key_events and ads is not None:
        linked = {ads.customer_id} | {link.customer_id for link in ga4.ads_links or ()}
        strangers = sorted({r.customer_id for r in ga4.ads_key_events} - linked)
        if strangers:
            known = "the client's account and its linked ones" if ga4.ads_links is not None else \
                "the client's account (its links were not collected)"
            problems.append(("ga4.ads_key_events", f"{where}ga4/ads_key_events.json: googleAdsCustomerId: "
                             f"{', '.join(strangers[:3])} is not {known} ({ads.customer_id})"))
    if ga4 is not None and ads is not None:
        own = ga4.property.name.rsplit("/", 1)[-1]
        others = sorted({a.ga4_property_id for a in ads.actions if a.ga4_property_id and a.ga4_property_id != own})
        if others:
            problems.append(("ads.imports", f"{where}ads/conversion_actions.json: googleAnalytics4Settings.propertyId:"
                             f" {', '.join(others[:3])} is not this client's GA4 property ({own})"))
    funnels = ga4.funnels if ga4 is not None else ()
    kept = []
    if ga4 is not None:
        events = {e.event_name for e in ga4.events}
        for i, f in enumerate(funnels):
            grows = next((j for j in range(1, len(f.users)) if f.users[j] > f.users[j - 1]), None)
            unknown = [s for s, u in zip(f.steps, f.users, strict=False) if u and s not in events]
            if grows is not None:
                problems.append(("ga4.funnels", f"{where}ga4/funnels.json: [{i}] step {grows + 1} "
                                 f"'{f.steps[grows]}' has more users ({f.users[grows]}) than step {grows} "
                                 f"({f.users[grows - 1]}): a funnel never grows; left out"))
            elif unknown:
                problems.append(("ga4.funnels", f"{where}ga4/funnels.json: [{i}] step '{unknown[0]}' is not an "
                                 "event of ga4/events.json; left out"))
            else:
                kept.append(f)
    if not problems:
        return client
    if ga4 is not None and len(kept) != len(funnels):
        client = replace(client, ga4=replace(ga4, funnels=tuple(kept)))
    lines = [why for _, why in problems]
    return replace(client, unusable=client.unusable + tuple(problems),
                   warnings=client.warnings + tuple(w for w in lines if w not in client.warnings))


def _actions(ads: Ads, where: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    for a in ads.actions:
        if a.resource_name in seen:
            return [("ads", f"{where}ads/conversion_actions.json: conversionAction.resourceName: "
                            f"{a.resource_name} is listed twice")]
        seen.add(a.resource_name)
    return []


def _campaigns(ads: Ads, where: str) -> list[tuple[str, str]]:
    file = f"{where}ads/campaigns.json"
    campaigns = ads.campaigns or ()
    out: list[tuple[str, str]] = []
    for c in campaigns:
        m = _CAMPAIGN.match(c.resource_name)
        if m is None or m.group(1).zfill(10) != ads.customer_id:
            out.append(("ads.campaigns", f"{file}: campaign.resourceName: {c.resource_name!r} is not a campaign "
                                         f"of customer {ads.customer_id}"))
    for c in campaigns:
        # the query selects these and the API writes them for every campaign: absent (the JSON mapping's
        # UNSPECIFIED) or unreadable, the campaign cannot be judged, and a rule must not read it as not bidding
        for field, value in (("status", c.status), ("biddingStrategyType", c.bidding_strategy_type),
                             ("advertisingChannelType", c.channel_type)):
            if value in (UNKNOWN, "UNSPECIFIED"):
                out.append(("ads.campaigns", f"{file}: campaign.{field}: unknown for {c.resource_name} (the API "
                                             "writes it for every campaign)"))
    levels = [c.goal_config_level for c in campaigns]
    if any(x is not None for x in levels) and None in levels:
        c = campaigns[levels.index(None)]
        out.append(("ads.campaigns", f"{where}ads/conversion_goal_campaign_configs.json: campaign: no goal config "
                                     f"for {c.resource_name}"))
    actions = {a.resource_name for a in ads.actions}
    goals = {g.resource_name: g for g in ads.custom_goals} if ads.custom_goals is not None else None
    for c in campaigns:
        if not c.custom_goal or goals is None:
            continue
        goal = goals.get(c.custom_goal)
        if goal is None:
            out.append(("ads.campaigns", f"{where}ads/conversion_goal_campaign_configs.json: customConversionGoal: "
                                         f"{c.custom_goal} of campaign {c.resource_name} is not in "
                                         "ads/custom_conversion_goals.json"))
            continue
        missing = [r for r in goal.actions if r not in actions]
        if missing:
            out.append(("ads.campaigns", f"{where}ads/custom_conversion_goals.json: conversionActions: "
                                         f"{missing[0]} of custom goal {goal.resource_name} is not a conversion "
                                         "action of ads/conversion_actions.json"))
    stats = [a.stats for a in ads.actions]
    total = sum(s.conversions for s in stats)
    if not campaigns and total > _ROUNDING:
        out.append(("ads.campaigns", f"{file}: results: no campaign, yet the account has {total:,.1f} conversions in "
                                     "ads/conversion_stats.json"))
    for label, spent, total in (
            ("conversions", sum(c.conversions for c in campaigns), sum(s.conversions for s in stats)),
            ("all conversions", sum(c.all_conversions for c in campaigns), sum(s.all_conversions for s in stats))):
        # not values: a restated (negative) value is read as unknown, so the account's total may fall short
        if spent > total * (1 + _TOLERANCE) + _ROUNDING:
            out.append(("ads.campaigns", f"{file}: metrics: the campaigns' {label} ({spent:,.1f}) exceed the "
                                         f"account's in ads/conversion_stats.json ({total:,.1f})"))
    return out
