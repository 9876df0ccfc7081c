"""What the campaign rules share: which strategies bid on conversions, how the API names them, and which
conversion actions a campaign bids on (its custom goal, its campaign-specific goals or the account default)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditor.model import Ads, Campaign, ConversionAction, ConversionGoal, CustomGoal

# Automated strategies that learn from conversions (Performance Max uses the first two).
CONVERSION_STRATEGIES = frozenset({"MAXIMIZE_CONVERSIONS", "MAXIMIZE_CONVERSION_VALUE", "TARGET_CPA", "TARGET_ROAS"})
VALUE_STRATEGIES = frozenset({"MAXIMIZE_CONVERSION_VALUE", "TARGET_ROAS"})


def quoted(actions: Iterable[ConversionAction], limit: int = 3) -> str:
    """"'A', 'B', 'C'..." (quoted as written: a name is never escaped into code)."""
    items = list(actions)
    return ", ".join(f"'{a.name}'" for a in items[:limit]) + ("..." if len(items) > limit else "")


def money(v: float) -> str:
    return f"{v:,.2f}"


def strategy(c: Campaign, currency: str | None) -> str:
    """'TARGET_CPA (target 45.00 EUR)', 'TARGET_ROAS (target 400%)', 'MAXIMIZE_CONVERSIONS' as the API names it."""
    return strategy_label(c.bidding_strategy_type,
                          None if c.target_cpa_micros is None else c.target_cpa_micros / 1e6, c.target_roas, currency)


def strategy_label(s: str, target_cpa: float | None, target_roas: float | None, currency: str | None) -> str:
    """A strategy as the API names it, with the target it uses when one is set (a CPA in the account's currency,
    a ROAS as a percentage): one wording for the findings and the campaign table."""
    if target_cpa and s in ("TARGET_CPA", "MAXIMIZE_CONVERSIONS"):
        return f"{s} (target {money(target_cpa)}{' ' + currency if currency else ''})"
    if target_roas and s in ("TARGET_ROAS", "MAXIMIZE_CONVERSION_VALUE"):
        return f"{s} (target {100 * target_roas:.0f}%)"
    return s


def label(c: Campaign, currency: str | None) -> str:
    """"campaign 'Search - Generic' (SEARCH, TARGET_CPA (target 45.00 EUR))"."""
    return f"campaign '{c.name}' ({c.channel_type}, {strategy(c, currency)})"


def default_goal(ads: Ads, a: ConversionAction) -> ConversionGoal | None:
    if ads.goals is None:
        return None
    return next((g for g in ads.goals if g.category == a.category and g.origin == a.origin), None)


def default_bids_on(ads: Ads, a: ConversionAction) -> bool:
    """Whether the account-default goals bid on a primary action: its goal's `biddable` when the customer goals
    were collected; otherwise the action's own `include_in_conversions_metric` (false: its goal is not in the
    biddable goals, so it is neither counted in Conversions nor bid on), and true when that was not read."""
    if ads.goals is None:
        return a.include_in_conversions_metric is not False
    g = default_goal(ads, a)
    return g is None or g.biddable


def bid_basis(ads: Ads, a: ConversionAction) -> str:
    """What `default_bids_on` rested on, for a finding's message."""
    if ads.goals is not None:
        g = default_goal(ads, a)
        if g is None:
            return f"no account-default goal row for {a.category} x {a.origin}: assumed bid on"
        return f"the account-default goals {'bid' if g.biddable else 'do not bid'} on {a.category} x {a.origin}"
    if a.include_in_conversions_metric is None:
        return "goals not collected and include_in_conversions_metric not read: assumed bid on"
    return (f"goals not collected; include_in_conversions_metric is {str(a.include_in_conversions_metric).lower()}: "
            f"{'counted and bid on' if a.include_in_conversions_metric else 'neither counted nor bid on'}")


@dataclass(frozen=True)
class Reality:
    """How the account really bids: its enabled campaigns by strategy (None: campaigns not collected)."""

    campaigns: tuple[Campaign, ...] | None
    learning: tuple[Campaign, ...] = ()  # enabled, on a conversion-based strategy

    @property
    def learns(self) -> bool | None:
        """Whether any enabled campaign bids on a conversion-based strategy; None when campaigns were not
        collected (then findings speak as if one did)."""
        return None if self.campaigns is None else bool(self.learning)

    def none_text(self) -> str:
        """'no enabled campaign bids on a conversion-based strategy (MANUAL_CPC x2, TARGET_SPEND)'."""
        enabled = [c for c in self.campaigns or () if c.status == "ENABLED"]
        counts: dict[str, int] = {}
        for c in enabled:
            counts[c.bidding_strategy_type] = counts.get(c.bidding_strategy_type, 0) + 1
        used = ", ".join(k + (f" x{n}" if n > 1 else "") for k, n in sorted(counts.items()))
        return ("no enabled campaign bids on a conversion-based strategy"
                + (f" ({used})" if used else " (no enabled campaign)"))


def bidding_reality(ads: Ads) -> Reality:
    if ads.campaigns is None:
        return Reality(None)
    return Reality(ads.campaigns, tuple(c for c in ads.campaigns
                                        if c.status == "ENABLED" and c.bidding_strategy_type in CONVERSION_STRATEGIES))


def custom_goal(ads: Ads, c: Campaign) -> CustomGoal | None:
    if not c.custom_goal or ads.custom_goals is None:
        return None
    return next((g for g in ads.custom_goals if g.resource_name == c.custom_goal), None)


@dataclass(frozen=True)
class Bids:
    """What one campaign bids on, as far as the data says."""

    source: str  # "custom" | "campaign" | "account" | "unknown"
    specific: bool | None  # goals other than the account default; None: cannot tell
    words: str  # "its custom goal 'X'", "its campaign-specific goals", "the account-default goals"
    actions: tuple[ConversionAction, ...]  # the enabled actions it bids on (empty when unknown)
    categories: tuple[tuple[str, str], ...] = ()  # biddable category x origin, for category goals
    known: bool = True  # False: assumed (the campaign's own goals were not collected)
    custom: CustomGoal | None = None


def _by_categories(ads: Ads, goals: tuple[tuple[str, str], ...]) -> tuple[ConversionAction, ...]:
    wanted = set(goals)
    return tuple(a for a in ads.primary_actions if (a.category, a.origin) in wanted)


def bids(ads: Ads, c: Campaign) -> Bids:
    """The campaign's goals: a custom goal's actions (enabled ones), else the enabled primary actions of the
    categories x origins its campaign goals mark biddable, else the account default's."""
    if c.custom_goal:
        g = custom_goal(ads, c)
        if g is None:
            return Bids("unknown", True, f"its custom goal {c.custom_goal}", (), known=False)
        members = set(g.actions)
        return Bids("custom", True, f"its custom goal '{g.name}'",
                    tuple(a for a in ads.enabled_actions if a.resource_name in members), custom=g)
    own = tuple((g.category, g.origin) for g in c.goals if g.biddable) if c.goals is not None else None
    default = tuple((g.category, g.origin) for g in ads.goals if g.biddable) if ads.goals is not None else None
    specific: bool | None
    if c.goal_config_level == "CAMPAIGN":
        specific = True
    elif c.goal_config_level == "CUSTOMER":
        specific = False
    elif own is not None and default is not None:
        specific = set(own) != set(default)
    else:
        specific = None
    if own is not None:
        words = "its campaign-specific goals" if specific else "its goals"
        return Bids("campaign" if specific else "account", specific, words, _by_categories(ads, own), own)
    if specific:
        return Bids("unknown", True, "its campaign-specific goals", (), known=False)
    actions = tuple(a for a in ads.primary_actions if default_bids_on(ads, a))
    return Bids("account", specific, "the account-default goals", actions, default or (),
                known=specific is False)
