"""non-data-driven-attribution: primary conversion actions still on last click or a retired rule-based model."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client, ConversionAction

DATA_DRIVEN = "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"
# Unknown, external (set by the importer) and unset models say nothing about a choice the user made.
_NOT_A_CHOICE = frozenset({"UNKNOWN", "UNSPECIFIED", "EXTERNAL"})


def editable(a: ConversionAction) -> bool:
    """Google Ads lets the user pick the model only for website and Google Analytics sources."""
    return not a.system_managed and (a.origin == "WEBSITE" or a.is_ga4_import)


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED primary Google Ads actions whose attribution model is not data-driven: last click, or a
    rule-based model (first click, linear, time decay, position-based) that Google has retired. Only actions
    whose model the user can choose are flagged: website tags and Google Analytics imports. Calls from ads,
    app, upload and system-managed actions, whose model is not editable, and secondary actions (they do not
    drive bidding) are left alone, as are models reported as EXTERNAL or unknown."""
    ads = client.ads
    assert ads is not None
    for a in ads.primary_actions:
        model = a.attribution_model
        if model is None or model == DATA_DRIVEN or model in _NOT_A_CHOICE or not editable(a):
            continue
        yield ctx.finding(
            f"primary action '{a.name}' ({a.category}, {fmt_count(a.stats.conversions)} conv. in 30 days) uses "
            f"{model}: bidding credits only part of the path that led to the conversion",
            [a.resource_name],
            remediation=(f"In Google Ads > Goals > Conversions > Summary, open '{a.name}' > Edit settings > "
                         "Attribution model and choose 'Data-driven' (API: ConversionAction.attribution_model_settings"
                         f".attribution_model = {DATA_DRIVEN})."),
        )


RULE = Rule(
    id="non-data-driven-attribution",
    title="Attribution model that is not data-driven",
    category="attribution",
    severity="medium",
    rationale=("Smart Bidding bids on conversions as the action's attribution model credits them. Last click "
               "gives every conversion to the final click, so upper-funnel and generic keywords look worthless and "
               "lose bids; the rule-based models (first click, linear, time decay, position-based) are retired. "
               "Data-driven attribution is Google's default and works for every account size."),
    remediation=("Switch each primary action to 'Data-driven' in Google Ads > Goals > Conversions > action > Edit "
                 "settings > Attribution model (API: attribution_model_settings.attribution_model)."),
    references=("Google Ads Help: About attribution models", "Google Ads Help: About data-driven attribution"),
    requires=("ads",),
    example="primary action 'Purchase' (PURCHASE, 431 conv. in 30 days) uses GOOGLE_ADS_LAST_CLICK: ...",
    evidence=("Each primary action's attribution model, type and origin."),
    check=check,
)
