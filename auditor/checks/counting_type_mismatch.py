"""counting-type-mismatch: a conversion action counted Every or One against what its category needs."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client

_UI = {"ONE_PER_CLICK": "One", "MANY_PER_CLICK": "Every"}


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED primary Google Ads actions whose counting type does not fit their category: a lead-type
    category (`one_per_click_categories`: lead form, call lead, booking, quote request, sign-up...) counted
    MANY_PER_CLICK, so one person submitting the form twice becomes two leads; or a sale-type category
    (`many_per_click_categories`: purchase, store sale) counted ONE_PER_CLICK, so a second order after the
    same click is lost. Secondary actions (they do not drive bidding), REMOVED and HIDDEN actions, and
    system-managed actions (whose settings cannot be changed) are not flagged."""
    ads = client.ads
    assert ads is not None
    want: dict[str, str] = {c: "ONE_PER_CLICK" for c in ctx.params["one_per_click_categories"]}
    want.update({c: "MANY_PER_CLICK" for c in ctx.params["many_per_click_categories"]})
    for a in ads.primary_actions:
        expected = want.get(a.category)
        if expected is None or a.counting_type == expected or a.counting_type not in _UI or a.system_managed:
            continue
        why = ("a lead counted on every repeat inflates leads and CPA bidding learns from duplicates"
               if expected == "ONE_PER_CLICK" else "repeat orders after one click go uncounted, with their revenue")
        yield ctx.finding(
            f"'{a.name}' ({a.category}, {fmt_count(a.stats.conversions)} conv. in 30 days) counts "
            f"{a.counting_type} ({_UI[a.counting_type]}); {a.category} should count {expected}: {why}",
            [a.resource_name],
            remediation=(f"In Google Ads > Goals > Conversions > Summary, open '{a.name}' > Edit settings > Count and "
                         f"choose '{_UI[expected]}' (API: ConversionAction.counting_type = {expected})."),
        )


RULE = Rule(
    id="counting-type-mismatch",
    title="Conversion counting that does not fit the category",
    category="counting",
    severity="medium",
    rationale=("Google Ads can count every conversion after a click or only one. Sales should count every "
               "conversion, because each order adds revenue; leads should count one, because a second form "
               "submission by the same person is not a second customer. The wrong choice inflates or drops the "
               "conversions bidding learns from."),
    remediation=("Set Count to 'One' for leads and 'Every' for purchases in Google Ads > Goals > Conversions > "
                 "action > Edit settings (API: ConversionAction.counting_type)."),
    references=("Google Ads Help: About conversion counting options",),
    params={
        "one_per_click_categories": Param("Lead-type categories that should count ONE_PER_CLICK."),
        "many_per_click_categories": Param("Sale-type categories that should count MANY_PER_CLICK."),
    },
    requires=("ads",),
    example="'Contact form' (SUBMIT_LEAD_FORM, 212 conv. in 30 days) counts MANY_PER_CLICK (Every); ...",
    evidence=("Each primary action's category and counting type, against the rule's lists of lead-type and "
              "sale-type categories. No measured data."),
    check=check,
)
