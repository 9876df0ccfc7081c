"""missing-conversion-value: primary conversions and outcome key events without a real value."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks._campaigns import VALUE_STRATEGIES, bids
from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Ads, Client, ConversionAction
from auditor.taxonomy import Taxonomy


def _sends_no_value(value: float, conversions: float, default: float) -> bool:
    """The 30-day value is exactly conversions x the default: every conversion got the default, none a value."""
    expected = conversions * default
    return conversions > 0 and abs(value - expected) <= max(0.01, 0.001 * expected)


def _per_conversion(a: ConversionAction) -> bool:
    """Its value arrives with each conversion: an upload or import (or a GA4 or in-app purchase) not set to always
    use the default value. Its configuration alone says nothing about whether values arrive."""
    return not a.always_use_default_value and (
        a.source == "upload" or a.type == "GOOGLE_ANALYTICS_4_PURCHASE" or a.is_app_purchase)


def _value_bid(ads: Ads, a: ConversionAction) -> bool | None:
    """Whether an enabled campaign on a value-based strategy bids on it; None when campaigns were not collected."""
    if ads.campaigns is None:
        return None
    return any(c.status == "ENABLED" and c.bidding_strategy_type in VALUE_STRATEGIES and a in bids(ads, c).actions
               for c in ads.campaigns)


def _problem(a: ConversionAction, tax: Taxonomy) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a primary action without a real value, or None."""
    has_default = a.default_value is not None and a.default_value > 0
    revenue = a.category in tax.revenue_categories
    placeholder = (a.default_value or 0.0) in tax.placeholder_values
    if not has_default and a.stats.conversions_value <= 0:
        if _per_conversion(a) and a.stats.conversions > 0:
            return (f"no value arrives: its value comes with each conversion ({a.type}), yet "
                    f"{fmt_count(a.stats.conversions)} conv. in 30 days carried 0",
                    "Send the value with each uploaded or imported conversion (the upload's conversion_value and "
                    "currency, or the event's value parameter), and set a default value as a fallback.")
        return (f"no value: no default value and {fmt_count(a.stats.conversions_value)} conversion value over "
                f"{fmt_count(a.stats.conversions)} conv. in 30 days",
                "Send the transaction value with the tag (or a credible proxy for leads) and set a default value: "
                "Google Ads > Goals > Conversions > action > Value (API: value_settings.default_value).")
    if revenue and placeholder and _sends_no_value(a.stats.conversions_value, a.stats.conversions,
                                                   a.default_value or 0.0):
        setting = " (set to always use it)" if a.always_use_default_value else ""
        return (f"no real value: its 30-day value {fmt_count(a.stats.conversions_value)} is its "
                f"{fmt_count(a.stats.conversions)} conv. x the placeholder default {fmt_count(a.default_value or 0)}"
                f"{setting}, so the tag sends no value",
                "Send the transaction value and currency with the conversion tag (or the GA4 purchase event's value "
                "parameter) and set 'Use different values for each conversion' (API: "
                "value_settings.always_use_default_value = false).")
    if a.always_use_default_value and placeholder and revenue:
        return (f"always uses the default value {fmt_count(a.default_value or 0)}: a placeholder, not revenue",
                "Send the real transaction value and set 'Use different values for each conversion' (API: "
                "value_settings.always_use_default_value = false).")
    return None


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags enabled primary Google Ads actions with no value (no default value and no conversion value in
    30 days), a revenue action (PURCHASE, SUBSCRIBE_PAID, STORE_SALE) whose default value is a placeholder
    from the taxonomy's `placeholder_values` (0 or 1) and whose 30-day value equals conversions x that
    placeholder (the tag sends no value, whether or not "always use the default value" is on), and a revenue
    action set to always use such a placeholder. The severity follows the consequence: a macro without value at
    the rule's severity when a value-based campaign bids on it or the campaigns were not collected, at most
    `no_value_bidding_severity` when the campaigns were collected and none bids on value; micros without value
    (a bidding proxy, or a micro another rule asks to demote) in one finding at `micro_severity`, with the advice
    to value them well below the macro. An upload or import whose value comes with each conversion (not set to
    always use the default) is judged by the value recorded, never by its configuration alone; with no
    conversions yet its value path is unproven (`micro_severity`). Also GA4 key events of macro outcomes (the
    account's macro, or events named as macros) that have no `defaultValue` and no `eventValue` in 28 days
    although they fired. Secondary (observation) actions and returning-user actions are not flagged."""
    tax, h = ctx.taxonomy, ctx.hierarchy
    low = str(ctx.params["micro_severity"])
    if client.ads:
        ads = client.ads
        micros: list[tuple[ConversionAction, str]] = []
        for a in ads.primary_actions:
            if a.system_managed:
                continue  # Google-managed actions take no value settings: asking would be asking the impossible
            ev = h.action(a)
            if ev.returning:
                continue  # it should not be a conversion at all (returning-user-conversion)
            if _per_conversion(a) and a.stats.conversions <= 0:
                yield ctx.finding(
                    f"primary action '{a.name}' ({a.category}, {a.source}) takes its value with each conversion, "
                    "but has no conversions in 30 days: its value path is unproven",
                    [a.resource_name], severity=low, evidence=ev,
                    remediation=("Check the first uploads or imports carry a value and currency (Google Ads > Goals "
                                 "> Conversions > the action > Diagnostics; the upload's conversion_value)."),
                )
                continue
            problem = _problem(a, tax)
            if problem is None:
                continue
            what, fix = problem
            if ev.strength != "macro":
                micros.append((a, what))
                continue
            value_bid = _value_bid(ads, a)
            if value_bid is False:
                severity, why = ctx.at_most(str(ctx.params["no_value_bidding_severity"])), (
                    "; no campaign bids on value yet, so it matters once one does")
            else:
                severity, why = ctx.severity, ("; a value-based campaign bids on it" if value_bid else "")
            yield ctx.finding(
                f"primary action '{a.name}' ({a.category}) has {what}{why} — {ev.text()}",
                [a.resource_name], severity=severity, evidence=ev, remediation=fix,
            )
        if micros:
            listing = "; ".join(f"'{a.name}' ({a.category}): {what}" for a, what in micros)
            macro = h.macro.label if h.macro else "the macro"
            yield ctx.finding(
                f"{len(micros)} primary micro action{'s' if len(micros) > 1 else ''} without a value: {listing} — "
                f"{'; '.join(f'{a.name}: {h.action(a).text()}' for a, _ in micros[:3])}",
                [a.resource_name for a, _ in micros], severity=low, evidence=h.action(micros[0][0]),
                remediation=(f"Give each a value well below the macro's ({macro}): about what it is worth on average "
                             "(the macro's value x the share of its users who go on to convert), so value-based "
                             "bidding prefers the outcome; or set it to Secondary if it is not a deliberate proxy."),
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
    params={"micro_severity": Param("Severity of primary micros without value (one finding listing them), and of an "
                                    "upload whose value path is unproven.", default="low"),
            "no_value_bidding_severity": Param("Most severity of a macro without value when the campaigns were "
                                               "collected and none bids on value.", default="medium")},
    requires=("ga4|ads",),
    example="primary action 'Book appointment' (BOOK_APPOINTMENT) has no value: no default value and 0 ...",
    evidence=("Per primary action: its default value, whether its value comes with each conversion (uploads and "
              "imports not set to always use the default), its 30-day conversions and conversion value (a value "
              "equal to conversions x a placeholder default means the tag sends none), whether the hierarchy places "
              "it as a macro or a micro, and whether a value-based campaign bids on it (when campaigns are "
              "collected). Per key event: whether it "
              "is a macro outcome (the account's macro, or named as one by the profile, the taxonomy or the "
              "config), its default value and its 28-day event value."),
    check=check,
)
