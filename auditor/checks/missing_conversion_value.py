"""missing-conversion-value: primary conversions and outcome key events without a real value."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule, fmt_count
from auditor.model import Client


def _sends_no_value(value: float, conversions: float, default: float) -> bool:
    """The 30-day value is exactly conversions x the default: every conversion got the default, none a value."""
    expected = conversions * default
    return conversions > 0 and abs(value - expected) <= max(0.01, 0.001 * expected)


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags enabled primary Google Ads actions with no value (no default value and no conversion value in
    30 days), a revenue action (PURCHASE, SUBSCRIBE_PAID, STORE_SALE) whose default value is a placeholder
    from the taxonomy's `placeholder_values` (0 or 1) and whose 30-day value equals conversions x that
    placeholder (the tag sends no value, whether or not "always use the default value" is on), and a revenue
    action set to always use such a placeholder. Also GA4 key events of macro outcomes (the account's macro, or
    events named as macros) that have no `defaultValue` and no `eventValue` in 28 days although they fired.
    Secondary (observation) actions are not flagged."""
    tax = ctx.taxonomy
    if client.ads:
        for a in client.ads.primary_actions:
            if a.system_managed:
                continue  # Google-managed actions take no value settings: asking would be asking the impossible
            has_default = a.default_value is not None and a.default_value > 0
            revenue = a.category in tax.revenue_categories
            placeholder = (a.default_value or 0.0) in tax.placeholder_values
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
            elif revenue and placeholder and _sends_no_value(a.stats.conversions_value, a.stats.conversions,
                                                             a.default_value or 0.0):
                setting = " (set to always use it)" if a.always_use_default_value else ""
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}) has no real value: its 30-day value "
                    f"{fmt_count(a.stats.conversions_value)} is its {fmt_count(a.stats.conversions)} conv. x the "
                    f"placeholder default {fmt_count(a.default_value or 0)}{setting}, so the tag sends no value",
                    [a.resource_name],
                    remediation=("Send the transaction value and currency with the conversion tag (or the GA4 "
                                 "purchase event's value parameter) and set 'Use different values for each "
                                 "conversion' (API: value_settings.always_use_default_value = false)."),
                )
            elif a.always_use_default_value and placeholder and revenue:
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}) always uses the default value "
                    f"{fmt_count(a.default_value or 0)}: a placeholder, not revenue",
                    [a.resource_name],
                    remediation=("Send the real transaction value and set 'Use different values for each "
                                 "conversion' (API: value_settings.always_use_default_value = false)."),
                )
    if client.ga4:
        volumes = {e.event_name: e for e in client.ga4.events}
        h = ctx.hierarchy
        for k in client.ga4.key_events:
            ev = h.event(k.event_name)
            if ev.strength != "macro":
                continue
            stat = volumes.get(k.event_name)
            if stat is None or stat.event_count == 0:
                continue  # never fired: values cannot be judged
            if (k.default_value is None or k.default_value == 0) and stat.event_value == 0:
                yield ctx.finding(
                    f"key event '{k.event_name}' has no default value and 0 event value over "
                    f"{fmt_count(stat.event_count)} events in 28 days ({ev.text()})",
                    [k.name or k.event_name], evidence=ev,
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
    evidence=("Per primary action: its default value and its 30-day conversions and conversion value (a value "
              "equal to conversions x a placeholder default means the tag sends none). Per key event: whether it "
              "is a macro outcome (the account's macro, or named as one by the profile, the taxonomy or the "
              "config), its default value and its 28-day event value."),
    check=check,
)
