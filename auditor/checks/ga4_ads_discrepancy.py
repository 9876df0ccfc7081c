"""ga4-ads-discrepancy: a GA4 import whose Google Ads count is far from what GA4 credits to that account."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client

GA4_DAYS, ADS_DAYS = 28, 30


def _per_day(n: float) -> str:
    return f"{n:,.1f}/day"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags each enabled GA4-imported Google Ads action (from this property) whose 30-day count in Google Ads
    (all conversions: a secondary import records none in Conversions) is far from the key events GA4 attributes
    to this Google Ads account for the same event over 28 days (ga4/ads_key_events.json: the key events by event
    and googleAdsCustomerId, credited to this account's clicks). The two are compared per day (GA4 over 28 days,
    Ads over 30), and flagged outside `min_ratio`..`max_ratio` of Ads' per-day count to GA4's. Only events with
    at least `min_key_events` attributed key events in 28 days are compared: fewer is noise. The event's
    all-channel key-event total is never the yardstick: organic and direct conversions never reach Google Ads.
    Reported at the rule's severity when both counts reach `min_key_events`, else at most at medium (a thin or
    zero Ads count may be a new import or a day or two of lag). Without the attributed report the rule does not
    run."""
    ga4, ads = client.ga4, client.ads
    assert ga4 is not None and ads is not None and ga4.ads_key_events is not None
    min_n = float(ctx.params["min_key_events"])
    lo, hi = float(ctx.params["min_ratio"]), float(ctx.params["max_ratio"])
    me = ads.customer_id  # ids are 10 digits in every source of the snapshot
    credited: dict[str, float] = {}
    for row in ga4.ads_key_events:
        if row.customer_id == me:
            credited[row.event_name] = credited.get(row.event_name, 0.0) + row.key_events
    scope = ga4.attribution.ads_export_scope if ga4.attribution is not None else None
    model = ga4.attribution.reporting_attribution_model if ga4.attribution is not None else None
    unlinked = ga4.ads_links is not None and all(x.customer_id != me for x in ga4.ads_links)
    for a in ads.enabled_actions:
        event = a.ga4_event_name
        if not a.is_ga4_import or not event or (a.ga4_property_id and a.ga4_property_id != ga4.property.id):
            continue
        g = credited.get(event, 0.0)
        if g < min_n:
            continue
        n = a.stats.all_conversions  # every conversion the import recorded, primary or not, as labelled
        g_day, n_day = g / GA4_DAYS, n / ADS_DAYS
        ratio = n_day / g_day
        if lo <= ratio <= hi:
            continue
        solid = n >= min_n
        fewer = ratio < lo
        link = (f"the property lists no Google Ads link to account {ads.customer_id}" if unlinked
                else "a broken or paused import or GA4 link (is the import still receiving, the link still active?)")
        scope_txt = f"currently {scope}" if scope else "not collected"
        model_txt = f", reporting model {model}" if model else ""
        causes = [link if fewer else "a second import or tag counting the same event in Google Ads",
                  "lost consent signals (consent mode: GA4 models what Google Ads does not receive)",
                  f"the export scope and attribution settings (GA4's export scope {scope_txt}{model_txt}: which "
                  "channels may take credit for what GA4 shares with Google Ads)",
                  "Google Ads counting on the click date and GA4 on the event date (a lag of a day or two)"]
        thin = "" if solid else (f"; the Google Ads count is below {fmt_count(min_n)}, so a new import or a day or "
                                 "two of lag may explain part of it")
        yield ctx.finding(
            f"'{a.name}' (GA4 event {event}): Google Ads recorded {fmt_count(n)} all conversions in {ADS_DAYS} days "
            f"({_per_day(n_day)}) while GA4 credits this account with {fmt_count(g)} {event} key events in "
            f"{GA4_DAYS} days ({_per_day(g_day)}): per day Google Ads counts {ratio:.0%} of GA4's (tolerated "
            f"{lo:.0%}-{hi:.0%}), {'fewer' if fewer else 'more'} than GA4 attributes to its clicks{thin}; likely "
            f"causes, most likely first: " + "; ".join(f"({i}) {c}" for i, c in enumerate(causes, 1)),
            [a.resource_name, ga4.property.name],
            severity=ctx.severity if solid else ctx.at_most("medium"),
        )


RULE = Rule(
    id="ga4-ads-discrepancy",
    title="GA4 import counting far from what GA4 credits to Google Ads",
    category="tracking",
    severity="high",
    rationale=("A conversion imported from GA4 should count in Google Ads about as often as GA4 credits that "
               "event to the account's clicks; some gap is normal (Google Ads dates a conversion by the click, "
               "GA4 by the event), but beyond half or one and a half times per day over a month, bidding learns "
               "from a count that has lost (or gained) a large share of the real outcomes. It is reported at high "
               "only when both counts reach the minimum volume: then the gap is well beyond count noise and lag, "
               "and a broken import, a paused link or lost consent is the likely cause; a thin count is medium. "
               "The all-channel total is no yardstick: organic and direct conversions never reach Google Ads."),
    remediation=("Check the import in Google Ads > Goals > Conversions (status, last conversion), the link in GA4 "
                 "Admin > Product links > Google Ads links (API: properties.googleAdsLinks.list), consent mode on "
                 "the site, and the export scope in GA4 Admin > Data display > Attribution settings (API: "
                 "AttributionSettings.ads_web_conversion_data_export_scope)."),
    references=("Google Ads Help: Import Google Analytics conversions",
                "Google Analytics Help: [GA4] Why GA4 and Google Ads data differ",
                "Google Analytics Help: [GA4] Attribution settings"),
    params={
        "min_key_events": Param("Key events GA4 must attribute to the account in 28 days for a comparison.",
                                default=20),
        "min_ratio": Param("Lowest tolerated ratio of Google Ads' per-day count to GA4's.", default=0.5),
        "max_ratio": Param("Highest tolerated ratio of Google Ads' per-day count to GA4's.", default=1.5),
    },
    requires=("ga4", "ads", "ga4.ads_key_events"),
    example=("'Consultation request (GA4)' (GA4 event generate_lead): Google Ads recorded 6 all conversions in 30 days "
             "(0.2/day) while GA4 credits this account with 24 generate_lead key events in 28 days (0.9/day): per "
             "day Google Ads counts 23% of GA4's ..."),
    evidence=("Per enabled GA4 import: its 30-day all conversions in Google Ads, and the key events of its GA4 "
              "event that GA4 attributes to this Google Ads customer id over 28 days (ga4/ads_key_events.json), "
              "compared per day; the property's Google Ads links and attribution settings to order the causes."),
    check=check,
)
