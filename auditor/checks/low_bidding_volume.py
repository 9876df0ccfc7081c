"""low-bidding-volume: too few primary macro conversions for Smart Bidding, with the best micro proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client, ConversionAction
from auditor.taxonomy import Taxonomy

# The funnel event a Google Ads tag of a strong-micro category stands for, to place it on the ladder.
_CATEGORY_EVENT = {"ADD_TO_CART": "add_to_cart", "BEGIN_CHECKOUT": "begin_checkout", "SIGNUP": "sign_up"}


@dataclass(frozen=True)
class Proxy:
    label: str
    event: str | None
    volume: float
    period: str
    action: ConversionAction | None = None


def proxies(client: Client, tax: Taxonomy, min_volume: float) -> list[Proxy]:
    """Strong micros with at least `min_volume` conversions or events, best first: the one closest to the
    macro on the profile's funnel ladder, then (off the ladder) the rarest, since a funnel narrows toward the
    macro."""
    found: list[Proxy] = []
    seen: set[str] = set()
    if client.ads:
        for a in client.ads.enabled_actions:
            volume = max(a.stats.conversions, a.stats.all_conversions)
            if tax.action_kind(a) != "strong_micro" or a.system_managed or volume < min_volume:
                continue
            event = a.ga4_event_name or _CATEGORY_EVENT.get(a.category)
            found.append(Proxy(f"Google Ads action '{a.name}'", event, volume, "30 days", a))
            if event:
                seen.add(tax.canonical(event))
    if client.ga4:
        for e in client.ga4.events:
            if (tax.event_kind(e.event_name) == "strong_micro" and e.event_count >= min_volume
                    and tax.canonical(e.event_name) not in seen):
                found.append(Proxy(f"GA4 event '{e.event_name}'", e.event_name, e.event_count, "28 days"))
    ladder = [tax.canonical(n) for n in tax.funnel]

    def rank(p: Proxy) -> tuple[int, int, float]:
        key = tax.canonical(p.event) if p.event else None
        return (0, -ladder.index(key), p.volume) if key in ladder else (1, 0, p.volume)

    return sorted(found, key=lambda p: (*rank(p), p.label))


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account whose ENABLED primary macro actions have fewer than `low_volume_threshold`
    conversions in 30 days together, too few for Smart Bidding to learn from, and recommends the best micro
    proxy: the strong micro (add to cart, begin checkout, qualified pricing visit...) with at least
    `proxy_min_volume` conversions (Google Ads, 30 days) or events (GA4, 28 days) that sits closest to the
    macro on the profile's funnel ladder (off the ladder, the rarest one). Not flagged: an account that already
    has a strong micro with that volume as primary (the recommended set-up; micro-primary-goal notes it), and
    an account with no primary macro at all (no-primary-conversion and micro-primary-goal report that). The
    volume is account-wide: per campaign it is lower still."""
    ads = client.ads
    assert ads is not None
    tax = ctx.taxonomy
    threshold = float(ctx.params["low_volume_threshold"])
    min_proxy = float(ctx.params["proxy_min_volume"])
    macros = [a for a in ads.primary_actions if tax.action_kind(a) == "macro"]
    volume = sum(a.stats.conversions for a in macros)
    if not macros or volume >= threshold:
        return
    if any(tax.action_kind(a) == "strong_micro" and a.stats.conversions >= min_proxy for a in ads.primary_actions):
        return
    head = (f"primary macro actions have {fmt_count(volume)} conv. in 30 days (below {fmt_count(threshold)}): too "
            "few for Smart Bidding to learn from")
    resources = [a.resource_name for a in macros]
    ranked = proxies(client, tax, min_proxy)
    if not ranked:
        yield ctx.finding(
            f"{head}; no strong micro reaches {fmt_count(min_proxy)} a month to stand in as a proxy",
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
        f"{head}; best micro proxy: {best.label} ({fmt_count(best.volume)} in {best.period}), the strong micro "
        f"closest to the macro with enough volume{others}",
        resources,
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
    remediation=("While macro volume is low, set the strong micro closest to the macro with enough volume to "
                 "Primary in Google Ads > Goals > Conversions > Summary (API: ConversionAction.primary_for_goal = "
                 "true), and return to the macro once it reaches about 30 a month."),
    references=("Google Ads Help: About Smart Bidding",
                "Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About campaign-specific conversion goals"),
    params={
        "low_volume_threshold": Param("Primary macro conversions per 30 days below which bidding cannot learn."),
        "proxy_min_volume": Param("Conversions or events a strong micro needs to stand in as the bidding goal."),
    },
    requires=("ads",),
    example="primary macro actions have 14 conv. in 30 days (below 30): too few for Smart Bidding to learn from; "
            "best micro proxy: GA4 event 'begin_checkout' (412 in 28 days) ...",
    check=check,
)
