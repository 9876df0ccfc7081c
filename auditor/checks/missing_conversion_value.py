"""missing-conversion-value: primary conversions and outcome key events without a real value."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags enabled primary Google Ads actions with no value (no default value and no conversion value in
    30 days) or a placeholder (`always_use_default_value` with a constant from the taxonomy's
    `placeholder_values` on a revenue category such as PURCHASE), and GA4 key events for macro outcomes that
    have no `defaultValue` and no `eventValue` in 28 days although they fired. Secondary (observation) actions
    are not flagged."""
    tax = ctx.taxonomy
    if client.ads:
        for a in client.ads.primary_actions:
            if a.system_managed:
                continue  # Google-managed actions take no value settings: asking would be asking the impossible
            has_default = a.default_value is not None and a.default_value > 0
            if not has_default and a.stats.conversions_value <= 0:
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}) has no value: no default value and "
                    f"{fmt_count(a.stats.conversions_value)} conversion value over "
                    f"{fmt_count(a.stats.conversions)} conv. in 30 days",
                    [a.resource_name],
                    remediation=("Send the transaction value with the tag (or a credible proxy for leads) and set a "
                                 "default value: Google Ads > Goals > Conversions > action > Value "
                                 "(API: value_settings.default_value)."),
                )
            elif (a.always_use_default_value and (a.default_value or 0.0) in tax.placeholder_values
                  and a.category in tax.revenue_categories):
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}) always uses the default value "
                    f"{fmt_count(a.default_value or 0)}: a placeholder, not revenue",
                    [a.resource_name],
                    remediation=("Send the real transaction value and set 'Use different values for each "
                                 "conversion' (API: value_settings.always_use_default_value = false)."),
                )
    if client.ga4:
        volumes = {e.event_name: e for e in client.ga4.events}
        for k in client.ga4.key_events:
            if tax.event_kind(k.event_name) != "macro":
                continue
            stat = volumes.get(k.event_name)
            if stat is None or stat.event_count == 0:
                continue  # never fired: values cannot be judged
            if (k.default_value is None or k.default_value == 0) and stat.event_value == 0:
                yield ctx.finding(
                    f"key event '{k.event_name}' has no default value and 0 event value over "
                    f"{fmt_count(stat.event_count)} events in 28 days",
                    [k.name or k.event_name],
                    remediation=("Send a value parameter with the event, or set a default value on the key event: "
                                 "GA4 Admin > Data display > Key events > Set default value "
                                 "(API: KeyEvent.default_value)."),
                )


RULE = Rule(
    id="missing-conversion-value",
    title="Conversion without a value",
    category="values",
    severity="high",
    rationale=("Value-based bidding and ROAS need values that reflect what each conversion is worth. A primary "
               "action with no value, or a constant placeholder such as 1 on a purchase, leaves bidding to treat "
               "every conversion alike."),
    remediation="Send real transaction values, or credible proxy values for leads, on every macro conversion.",
    references=("Google Ads Help: About conversion values", "Google Analytics Help: [GA4] About key event values"),
    requires=("ga4|ads",),
    example="primary action 'Book appointment' (BOOK_APPOINTMENT) has no value: no default value and 0 ...",
    check=check,
)
