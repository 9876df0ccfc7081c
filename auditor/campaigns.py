"""The campaigns of a Google Ads account as the report shows them: each campaign's bidding strategy and target,
the goals it bids on, its conversions over 30 days and whether that is enough for Smart Bidding.

`campaign_rows` builds the typed rows of a result from the snapshot; the display helpers below turn the rows of a
result (saved or fresh) into the cells every format shows, so the terminal, Markdown, HTML and CSV say the same.

What a campaign bids on:

- a custom goal (`Campaign.custom_goal`): the custom goal's name and the names of its conversion actions;
- campaign-level goals (goal config level CAMPAIGN): its own biddable campaign goals, as "CATEGORY (ORIGIN)";
- the account-default goals (level CUSTOMER): the biddable categories of the customer conversion goals (when
  those were not collected, the campaign's own goal rows, which mirror them);
- level not collected: its biddable campaign goals when collected, else unknown.

The volume bar is the `low_volume_threshold` of the rule smart-bidding-low-volume for the client's profile. Only
strategies that bid on conversions (the rule's CONVERSION_STRATEGIES) are measured against it; manual and click or
impression strategies have no volume state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.checks._campaigns import CONVERSION_STRATEGIES, bids, strategy_label
from auditor.evidence import count
from auditor.model import Ads, Campaign, Client
from auditor.result import CampaignRow, ClientResult

VOLUME_RULE = "smart-bidding-low-volume"  # whose low_volume_threshold is the bar
CAMPAIGN_HEADERS = ["campaign", "type", "bidding", "goals", "conv.", "volume"]
CAMPAIGN_ALIGN = ("left", "left", "left", "left", "right", "left")
CAMPAIGN_ROWS_SHOWN = 25  # in the terminal; the other formats show every campaign
_STATUS_ORDER = {"ENABLED": 0, "PAUSED": 1}
_VOLUME_ORDER = {"under": 0, "over": 1, None: 2}


def volume_threshold(settings: Mapping[str, Any]) -> float | None:
    """The conversions in 30 days a campaign's Smart Bidding needs, from the rule settings of the client's profile
    (`Ruleset.for_profile(profile)[1]`); None when the rule is not installed."""
    setting = settings.get(VOLUME_RULE)
    value = None if setting is None else setting.params.get("low_volume_threshold")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def campaign_rows(client: Client, settings: Mapping[str, Any]) -> list[CampaignRow] | None:
    """One row per campaign of the snapshot (enabled first, those under the volume bar first, then by name);
    None when the client has no Google Ads account or its campaigns were not collected."""
    ads = client.ads
    if ads is None or ads.campaigns is None:
        return None
    threshold = volume_threshold(settings)
    rows = [_row(ads, c, threshold) for c in ads.campaigns]
    rows.sort(key=lambda r: (_STATUS_ORDER.get(r.status, 2), _VOLUME_ORDER.get(r.volume, 2), r.name.casefold(),
                             r.resource))
    return rows


def _row(ads: Ads, c: Campaign, threshold: float | None) -> CampaignRow:
    level, custom, goals = _goals(ads, c)
    automated = c.bidding_strategy_type in CONVERSION_STRATEGIES
    bar = threshold if automated else None
    volume = None if bar is None else ("under" if c.conversions < bar else "over")
    return CampaignRow(
        name=c.name, resource=c.resource_name, status=c.status, channel=c.channel_type,
        strategy=c.bidding_strategy_type,
        target_cpa=None if c.target_cpa_micros is None else round(c.target_cpa_micros / 1_000_000, 2),
        target_roas=None if c.target_roas is None else round(c.target_roas * 100, 2),
        goal_level=level, custom_goal=custom, goals=goals, conversions=c.conversions, threshold=bar, volume=volume)


def _goals(ads: Ads, c: Campaign) -> tuple[str | None, str | None, list[str] | None]:
    """(level, custom goal name, what it bids on) of one campaign, as the rules read it (`_campaigns.bids`)."""
    b = bids(ads, c)
    if c.custom_goal:
        if b.custom is None:
            return "custom", c.custom_goal, None
        return "custom", b.custom.name or b.custom.resource_name, [a.name for a in b.actions]
    if b.source == "unknown" or (not b.categories and c.goals is None and ads.goals is None):
        level = {True: "campaign", False: "account"}.get(b.specific)  # None: the level is not known either
        return level, None, None  # nothing collected says what it bids on
    if b.source == "campaign":
        return "campaign", None, sorted(f"{cat} ({origin})" for cat, origin in b.categories)
    return "account", None, sorted({cat for cat, _ in b.categories})


# -- display, shared by every format ---------------------------------------------------------------------------------

def bidding_label(row: CampaignRow, currency: str | None = None) -> str:
    """'TARGET_CPA (target 25.00 EUR)', 'MAXIMIZE_CONVERSION_VALUE (target 400%)', 'MANUAL_CPC': as the findings
    name a strategy."""
    roas = None if row.target_roas is None else row.target_roas / 100
    return strategy_label(row.strategy or "?", row.target_cpa, roas, currency)


def goals_label(row: CampaignRow) -> str:
    """'account: PURCHASE, SIGNUP', 'campaign: PURCHASE (WEBSITE)', "custom 'Leads': Lead form, Call"."""
    what = "not collected" if row.goals is None else (", ".join(row.goals) or "none biddable")
    if row.goal_level == "custom":
        return f"custom '{row.custom_goal}': {what if row.goals is not None else 'actions not collected'}"
    if row.goal_level in ("account", "campaign"):
        return f"{row.goal_level}: {what}"
    return what


def volume_label(row: CampaignRow) -> str:
    """'under' or 'over' the volume bar (`campaigns_line` says which), '-' for a strategy that does not bid on
    conversions."""
    return row.volume if row.volume is not None and row.threshold is not None else "-"


def campaign_label(row: CampaignRow) -> str:
    """The campaign's name, with its status when it is not enabled."""
    name = row.name or row.resource
    return name if row.status in ("ENABLED", "") else f"{name} ({row.status})"


def campaign_cells(r: ClientResult, limit: int | None = None) -> list[list[str]]:
    """[campaign, type, bidding, goals, conv., volume] per campaign of a result, in its order."""
    currency = r.sources.ads.currency if r.sources.ads else None
    rows = r.campaigns or []
    return [[campaign_label(c), c.channel or "?", bidding_label(c, currency), goals_label(c), count(c.conversions),
             volume_label(c)] for c in (rows if limit is None else rows[:limit])]


def campaigns_line(r: ClientResult) -> str:
    """'5 campaigns, conv. over 30 days; 4 bid on conversions, 1 of them under the 30 Smart Bidding needs'."""
    rows = r.campaigns or []
    n = f"{len(rows)} campaign{'' if len(rows) == 1 else 's'}, conv. over 30 days"
    automated = [c for c in rows if c.volume is not None and c.threshold is not None]
    if not automated:
        return f"{n}; none bids on conversions"
    under = sum(1 for c in automated if c.volume == "under")
    bar = max(c.threshold or 0.0 for c in automated)
    bid = f"{len(automated)} bid{'s' if len(automated) == 1 else ''} on conversions"
    return f"{n}; {bid}, {under} of them under the {count(bar)} Smart Bidding needs"
