"""missing-ads-link: a client with a GA4 property and a Google Ads account that are not linked."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a client with both a GA4 property and a Google Ads account when the property's Google Ads links
    do not include that account. Without the link, GA4 key events cannot be imported into Google Ads, GA4
    reports no Google Ads cost or campaign data, and GA4 audiences cannot reach Ads. A link to a manager
    account shows another customer id: when Google Ads already imports GA4 events from this property, the
    link evidently works (through a manager) and nothing is flagged. Needs the link list
    (ga4/google_ads_links.json); without it the rule does not run."""
    ga4, ads = client.ga4, client.ads
    assert ga4 is not None and ads is not None and ga4.ads_links is not None
    linked = {l.customer_id for l in ga4.ads_links}
    if ads.customer_id in linked:
        return
    imports = [a for a in ads.enabled_actions if a.ga4_property_id == ga4.property.id]
    if imports:
        return
    others = f"; it links only to {', '.join(sorted(linked))}" if linked else "; it has no Google Ads link at all"
    yield ctx.finding(
        f"GA4 property {ga4.property.id} is not linked to Google Ads account {ads.customer_id}{others}",
        [ga4.property.name, f"customers/{ads.customer_id}"],
        remediation=(f"In GA4 Admin > Product links > Google Ads links > Link, choose account {ads.customer_id} "
                     "and enable auto-tagging (API: properties.googleAdsLinks.create with customer_id). Then "
                     "import the macro key events in Google Ads > Goals > Conversions > New conversion action > "
                     "Import > Google Analytics 4 properties."),
    )


RULE = Rule(
    id="missing-ads-link",
    title="GA4 property not linked to the Google Ads account",
    category="setup",
    severity="high",
    rationale=("The GA4 to Google Ads link is what lets GA4 key events become Google Ads conversions, brings "
               "cost and campaign data into GA4 and shares GA4 audiences with Ads. Without it the two tools "
               "measure the same customers in isolation and cannot be reconciled."),
    remediation=("Link the property to the account in GA4 Admin > Product links > Google Ads links (API: "
                 "properties.googleAdsLinks.create)."),
    references=("Google Analytics Help: [GA4] Link Google Ads to Analytics",
                "Google Ads Help: Import Google Analytics conversions"),
    requires=("ga4", "ads", "ga4.ads_links"),
    example="GA4 property 318406725 is not linked to Google Ads account 4821937560; it has no Google Ads link at all",
    check=check,
)
