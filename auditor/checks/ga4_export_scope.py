"""ga4-export-scope: organic channels may take the credit of the GA4 conversions Google Ads bids on."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import quoted
from auditor.engine import CannotRun, Context, Finding, Rule, fmt_count
from auditor.model import UNKNOWN, Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a GA4 property whose conversion export scope for Google Ads (`ads_web_conversion_data_export_scope`)
    is PAID_AND_ORGANIC_CHANNELS while the linked Google Ads account bids on conversions imported from it (an
    enabled primary GA4-imported action of this property): organic and direct channels then take credit for
    conversions that Google Ads never receives, so bidding sees fewer conversions than its clicks drove.
    NOT_SELECTED_YET is reported as a note (info): the choice is still open. GOOGLE_PAID_CHANNELS passes, as does
    an account that bids on no import of this property. A settings response without the scope cannot be
    judged."""
    ga4, ads = client.ga4, client.ads
    assert ga4 is not None and ads is not None and ga4.attribution is not None
    scope = ga4.attribution.ads_export_scope
    if scope in (UNKNOWN, "ADS_WEB_CONVERSION_DATA_EXPORT_SCOPE_UNSPECIFIED"):
        raise CannotRun("ga4/attribution_settings.json does not give the export scope "
                        "(adsWebConversionDataExportScope)")
    imports = [a for a in ads.primary_actions if a.is_ga4_import and a.ga4_property_id == ga4.property.id]
    if not imports or scope not in ("PAID_AND_ORGANIC_CHANNELS", "NOT_SELECTED_YET"):
        return
    conv = sum(a.stats.conversions for a in imports)
    bids = (f"Google Ads account {ads.customer_id} bids on {len(imports)} import(s) from it "
            f"({quoted(imports)}; "
            f"{fmt_count(conv)} conv. in 30 days)")
    resources = [ga4.property.name, *(a.resource_name for a in imports)]
    if scope == "NOT_SELECTED_YET":
        yield ctx.finding(
            f"GA4 property {ga4.property.id} has not chosen which channels may take credit for the conversions it "
            f"shares with Google Ads (export scope NOT_SELECTED_YET) and {bids}",
            resources, severity="info",
        )
        return
    yield ctx.finding(
        f"GA4 property {ga4.property.id} lets paid and organic channels take credit for the conversions it shares "
        f"with Google Ads (export scope PAID_AND_ORGANIC_CHANNELS) and {bids}: conversions credited to organic "
        "search, direct or e-mail never reach Google Ads, so bidding sees fewer conversions than its clicks drove",
        resources,
    )


RULE = Rule(
    id="ga4-export-scope",
    title="GA4 export scope lets organic channels take Google Ads credit",
    category="attribution",
    severity="medium",
    rationale=("GA4 shares with Google Ads only the conversions it credits to Google Ads clicks. With the export "
               "scope on paid and organic channels, a conversion whose path also had an organic or direct visit "
               "may be credited there and never reach Google Ads; with Google paid channels only, the Google Ads "
               "clicks on the path keep their credit, as Google Ads' own tag would count them. Bidding on GA4 "
               "imports then learns from an undercount whose size depends on the organic share."),
    remediation=("In GA4 Admin > Data display > Attribution settings, set 'Channels that can receive credit' for "
                 "conversions shared with Google Ads to Google paid channels (API: AttributionSettings."
                 "ads_web_conversion_data_export_scope = GOOGLE_PAID_CHANNELS)."),
    references=("Google Analytics Help: [GA4] Attribution settings",
                "Google Ads Help: Import Google Analytics conversions"),
    requires=("ga4", "ads", "ga4.attribution"),
    example=("GA4 property 318406725 lets paid and organic channels take credit for the conversions it shares with "
             "Google Ads (export scope PAID_AND_ORGANIC_CHANNELS) and Google Ads account 4821937560 bids on 1 "
             "import(s) from it ..."),
    evidence=("The property's attribution settings (ga4/attribution_settings.json: export scope), and the "
              "account's enabled primary conversion actions imported from this property, with their 30-day "
              "conversions."),
    check=check,
)
