"""missing-ads-link: a client with a GA4 property and a Google Ads account that are not linked."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a client with both a GA4 property and a Google Ads account when the property's Google Ads links
    do not include that account. Without the link, GA4 key events cannot be imported into Google Ads, GA4
    reports no Google Ads cost or campaign data, and GA4 audiences cannot reach Ads. Imports from the property
    do not prove a link: imports with no conversion in 30 days are dead and the missing link is reported at the
    rule's severity. Only imports that recorded conversions suggest a link made elsewhere (through a manager
    account, whose id the property lists instead): then the finding is a note that says so. Needs the link list
    (ga4/google_ads_links.json); without it the rule does not run."""
    ga4, ads = client.ga4, client.ads
    assert ga4 is not None and ads is not None and ga4.ads_links is not None
    linked = {l.customer_id for l in ga4.ads_links}
    if ads.customer_id in linked:
        return
    imports = [a for a in ads.enabled_actions if a.ga4_property_id == ga4.property.id]
    live = [a for a in imports if a.stats.conversions > 0 or a.stats.all_conversions > 0]
    others = f"; it links only to {', '.join(sorted(linked))}" if linked else "; it lists no Google Ads link at all"
    head = f"GA4 property {ga4.property.id} is not linked to Google Ads account {ads.customer_id}{others}"
    resources = [ga4.property.name, f"customers/{ads.customer_id}"]
    if live:
        conv = sum(a.stats.all_conversions for a in live)  # All conversions, as labelled
        yield ctx.finding(
            f"{head}, yet {len(live)} import(s) from it recorded {fmt_count(conv)} all conversions in 30 days "
            f"({', '.join(repr(a.name) for a in live[:3])}): the link is evidently made elsewhere, most likely "
            "through a manager account",
            resources, severity="info",
            remediation=("Check in GA4 Admin > Product links > Google Ads links which account the property is linked "
                         f"to, and that it is the manager of {ads.customer_id}; link the account directly if the "
                         "manager link is not meant to last (API: properties.googleAdsLinks.create)."),
        )
        return
    dead = (f"; its {len(imports)} import(s) from this property ({', '.join(repr(a.name) for a in imports[:3])}) "
            "recorded no conversion in 30 days: without the link they are dead") if imports else ""
    yield ctx.finding(
        f"{head}{dead}",
        resources,
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
    example="GA4 property 318406725 is not linked to Google Ads account 4821937560; it lists no Google Ads link at all",
    evidence=("The property's Google Ads links, the account id, and the 30-day conversions of the account's "
              "enabled imports from this property (live imports suggest a link through a manager; dead ones do "
              "not)."),
    check=check,
)
