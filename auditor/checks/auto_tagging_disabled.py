"""auto-tagging-disabled: a Google Ads account without auto-tagging that relies on GA4."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import quoted
from auditor.engine import CannotRun, Context, Finding, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account whose auto-tagging is off (`customer.auto_tagging_enabled` false) while it
    imports GA4 conversions (enabled GA4-imported actions) or is linked to a GA4 property (the property's Google
    Ads links name this account). Without auto-tagging no click identifier (gclid) reaches the site: GA4 cannot
    tie sessions to Google Ads clicks, so the imports record little or nothing and GA4 shows no Google Ads
    campaign data. An account with neither is not flagged; a response without the setting cannot be judged."""
    ads = client.ads
    assert ads is not None and ads.tracking is not None
    on = ads.tracking.auto_tagging_enabled
    if on is None:
        raise CannotRun("ads/customer.json does not say whether auto-tagging is enabled "
                        "(customer.auto_tagging_enabled)")
    if on:
        return
    imports = [a for a in ads.enabled_actions if a.is_ga4_import]
    ga4 = client.ga4
    linked = (ga4 is not None and ga4.ads_links is not None
              and any(link.customer_id == ads.customer_id for link in ga4.ads_links))
    if not imports and not linked:
        return
    why = []
    if imports:
        conv = sum(a.stats.all_conversions for a in imports)  # All conversions, as labelled
        why.append(f"imports {len(imports)} GA4 conversion action(s) ({quoted(imports)}; {fmt_count(conv)} all conv. "
                   "in 30 days)")
    if linked:
        assert ga4 is not None
        why.append(f"is linked to GA4 property {ga4.property.id}")
    yield ctx.finding(
        f"auto-tagging is off in Google Ads account {ads.customer_id}, which {' and '.join(why)}: without the click "
        "identifier (gclid) GA4 cannot credit sessions to Google Ads clicks, so imported conversions go missing "
        "and GA4 shows no Google Ads campaign data",
        [f"customers/{ads.customer_id}", *(a.resource_name for a in imports)],
    )


RULE = Rule(
    id="auto-tagging-disabled",
    title="Auto-tagging off in an account that relies on GA4",
    category="tracking",
    severity="high",
    rationale=("Auto-tagging adds the click identifier (gclid) to every ad click. GA4 needs it to attribute a "
               "session to the Google Ads click, and conversions imported from GA4 are only those GA4 credits to "
               "a click it can identify. With auto-tagging off, imported conversions shrink or stop, bidding loses "
               "its signal, and GA4 reports Google Ads traffic without campaigns or costs."),
    remediation=("Turn auto-tagging on in Google Ads > Admin > Account settings > Auto-tagging (API: "
                 "Customer.auto_tagging_enabled = true), and check that the site keeps the gclid parameter through "
                 "redirects."),
    references=("Google Ads Help: About auto-tagging", "Google Ads Help: Import Google Analytics conversions",
                "Google Analytics Help: [GA4] Link Google Ads to Analytics"),
    requires=("ads", "ads.tracking"),
    example=("auto-tagging is off in Google Ads account 4821937560, which imports 2 GA4 conversion action(s) "
             "('Purchase (GA4)', 'Begin checkout (GA4)'; 388 conv. in 30 days): without the click identifier ..."),
    evidence=("The account's auto-tagging setting (ads/customer.json), its enabled GA4-imported conversion actions "
              "with their 30-day conversions, and the GA4 property's Google Ads links when collected."),
    check=check,
)
