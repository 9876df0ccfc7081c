"""constant-conversion-value: revenue conversions that all carry the same value instead of the order's."""

from __future__ import annotations

import math
from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def _money(v: float) -> str:
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags revenue conversions whose value is a constant rather than the transaction's value. In Google
    Ads: an ENABLED primary action in a revenue category (PURCHASE, SUBSCRIBE_PAID, STORE_SALE) set to always
    use its default value, or whose 30-day conversion value divided by conversions equals its default value
    exactly (every conversion got the default: the tag sends no value); the latter is reported at
    `same_value_severity`, since a shop selling one product at one price looks the same. In GA4: a revenue
    key event (`revenue_events`, after spelling folding and synonyms) with a default value and no event value
    in 28 days although it fired (the `value` parameter never arrives). Placeholder constants (the
    taxonomy's `placeholder_values`, 0 and 1) are left to missing-conversion-value, as are actions and key
    events with no value at all. Lead actions with a constant proxy value, secondary actions and
    system-managed actions are not flagged."""
    tax = ctx.taxonomy
    if client.ads:
        for a in client.ads.primary_actions:
            d = a.default_value
            if (a.category not in tax.revenue_categories or a.system_managed or d is None or d <= 0
                    or float(d) in tax.placeholder_values):
                continue
            s = a.stats
            if a.always_use_default_value:
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}) always uses the default value {_money(d)}: every "
                    f"order counts the same, whatever was bought ({fmt_count(s.conversions)} conv. in 30 days)",
                    [a.resource_name],
                )
            elif s.conversions > 0 and math.isclose(s.conversions_value / s.conversions, d, rel_tol=1e-4,
                                                    abs_tol=0.005):
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}): {fmt_count(s.conversions)} conv. worth "
                    f"{_money(s.conversions_value)} in 30 days, exactly the default value {_money(d)} each: the tag "
                    "sends no transaction value (unless every sale really has this price)",
                    [a.resource_name], severity=str(ctx.params["same_value_severity"]),
                )
    if client.ga4:
        revenue = tax.canonical_set(tuple(ctx.params["revenue_events"]))
        volumes = {e.event_name: e for e in client.ga4.events}
        for k in client.ga4.key_events:
            stat = volumes.get(k.event_name)
            d = k.default_value
            if (tax.canonical(k.event_name) not in revenue or d is None or d <= 0 or float(d) in tax.placeholder_values
                    or stat is None or stat.event_count == 0 or stat.event_value != 0):
                continue
            yield ctx.finding(
                f"revenue key event '{k.event_name}' fired {fmt_count(stat.event_count)} times in 28 days with no "
                f"value: every one is credited the default value {_money(d)} {k.default_currency or ''}".rstrip(),
                [k.name or k.event_name],
                remediation=("Send the order total as the event's `value` parameter with `currency` (GTM GA4 event "
                             "tag or gtag('event', ...)); the key event default value (GA4 Admin > Data display > "
                             "Key events > Set default value; API: KeyEvent.default_value) is only a fallback."),
            )


RULE = Rule(
    id="constant-conversion-value",
    title="Revenue conversions with one constant value",
    category="values",
    severity="high",
    rationale=("Value-based bidding (Maximise conversion value, target ROAS) learns which clicks bring more "
               "revenue. When every purchase carries the same default value, a 20 order and a 2,000 order look "
               "alike, ROAS reports a number that was never earned, and bidding cannot tell the baskets apart."),
    remediation=("Send the transaction value with every conversion and set 'Use different values for each "
                 "conversion' in Google Ads > Goals > Conversions > action > Edit settings > Value (API: "
                 "value_settings.always_use_default_value = false); keep the default value only as a fallback."),
    references=("Google Ads Help: About conversion values", "Google Ads Help: About value-based bidding",
                "Google Analytics Help: [GA4] About key event values"),
    params={
        "same_value_severity": Param("Severity when the observed average equals the default exactly."),
        "revenue_events": Param("GA4 event names that carry transaction revenue."),
    },
    requires=("ga4|ads",),
    example="primary action 'Purchase' (PURCHASE) always uses the default value 50: every order counts the same ...",
    evidence=("Per revenue action: its default value, whether it always uses it, and its 30-day conversions and "
              "conversion value (value / conversions equal to the default). Per revenue key event: its default "
              "value and its 28-day event value. Revenue is decided by the Ads category and the rule's "
              "revenue_events names."),
    check=check,
)
