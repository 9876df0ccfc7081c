"""currency-mismatch: conversion values set in a currency other than the property's or the account's."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags currencies that differ from the one the client reports in: an ENABLED Google Ads action whose
    default currency (`value_settings.default_currency_code`, also applied to values sent without a currency)
    differs from the account's currency; a GA4 key event whose default value currency differs from the
    property's currency; and, at `cross_source_severity`, a GA4 property and a Google Ads account of the same
    client that report in different currencies. Values are converted at the day's rate, so the usual cause is a
    hardcoded or copied currency code that does not match the prices. REMOVED and HIDDEN actions and
    system-managed actions (whose value settings cannot be changed) are not flagged."""
    ads, ga4 = client.ads, client.ga4
    account = ads.currency_code if ads else None
    prop = ga4.property.currency_code if ga4 else None
    if ads and account:
        for a in ads.enabled_actions:
            if a.default_currency and a.default_currency != account and not a.system_managed:
                yield ctx.finding(
                    f"action '{a.name}' ({a.category}) values in {a.default_currency}; the account reports in "
                    f"{account}",
                    [a.resource_name],
                    remediation=(f"If the site prices in {account}, set the action's currency to {account} in Google "
                                 f"Ads > Goals > Conversions > '{a.name}' > Edit settings > Value (API: "
                                 "value_settings.default_currency_code) and send the `currency` with each value."),
                )
    if ga4 and prop:
        for k in ga4.key_events:
            if k.default_currency and k.default_currency != prop:
                yield ctx.finding(
                    f"key event '{k.event_name}' has its default value in {k.default_currency}; the property "
                    f"reports in {prop}",
                    [k.name or k.event_name],
                    remediation=(f"In GA4 Admin > Data display > Key events, set the default value of "
                                 f"'{k.event_name}' in {prop} (API: KeyEvent.default_value.currency_code), and send "
                                 "the `currency` parameter with every event that carries a value."),
                )
    if ads and ga4 and account and prop and account != prop:
        yield ctx.finding(
            f"the GA4 property reports in {prop} and the Google Ads account in {account}: revenue and ROAS differ "
            "between the two by the exchange rate",
            [ga4.property.name, f"customers/{ads.customer_id}"],
            severity=str(ctx.params["cross_source_severity"]),
            remediation=(f"If the business reports in {account}, set GA4 Admin > Property settings > Property details "
                         f"> Currency displayed as to {account} (API: Property.currency_code); the Google Ads account "
                         "currency cannot be changed."),
        )


RULE = Rule(
    id="currency-mismatch",
    title="Conversion values in a different currency",
    category="values",
    severity="medium",
    rationale=("Google converts values from the currency they are sent in to the account's or property's "
               "currency. A currency code that does not match the prices, a default value typed in dollars on a "
               "euro account, silently scales every value by an exchange rate, and ROAS targets with it."),
    remediation=("Set default values in the reporting currency: Google Ads > Goals > Conversions > action > Edit "
                 "settings > Value (API: value_settings.default_currency_code) and GA4 Admin > Data display > Key "
                 "events > Set default value (API: KeyEvent.default_value.currency_code); send the `currency` "
                 "parameter that matches the price with every value."),
    references=("Google Ads Help: About conversion values", "Google Analytics Help: [GA4] About key event values"),
    params={"cross_source_severity": Param("Severity when the GA4 property and the Ads account currencies differ.")},
    requires=("ga4|ads",),
    example="action 'Purchase' (PURCHASE) values in USD; the account reports in EUR",
    evidence=("The currency codes of the Google Ads account, its actions' default values, the GA4 property and its "
              "key events' default values."),
    check=check,
)
