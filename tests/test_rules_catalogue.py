"""The rule catalogue beyond the five core rules: for each rule a pass case, a fail case and its false-positive
traps, on snapshots built directly from the model's dataclasses."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from builders import findings as found
from builders import outcome, ruleset

from auditor.audit import audit_folder
from auditor.checks.invalid_event_name import suggest
from auditor.engine import run_rule
from auditor.model import (
    GA4,
    ActionStats,
    Ads,
    AdsLink,
    Client,
    ConversionAction,
    ConversionGoal,
    DataRetention,
    EventStat,
    KeyEvent,
    Property,
)
from auditor.result import Finding

ROOT = Path(__file__).resolve().parent.parent
NEW_RULES = ("no-primary-conversion", "too-many-primary-macros", "counting-type-mismatch", "key-event-counting-method",
             "non-data-driven-attribution", "constant-conversion-value", "currency-mismatch", "dead-conversion-action",
             "dead-key-event", "invalid-event-name", "short-data-retention", "missing-ads-link", "key-event-limit",
             "low-bidding-volume")
DDA = "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"
CUSTOMER = "1234567890"
PROPERTY = "987654321"


# --- builders -------------------------------------------------------------------------------------------

def ke(name: str, method: str = "ONCE_PER_EVENT", default: float | None = None, currency: str | None = None,
       deletable: bool = True) -> KeyEvent:
    return KeyEvent(name=f"properties/{PROPERTY}/keyEvents/{abs(hash(name)) % 10**8}", event_name=name,
                    counting_method=method, default_value=default,
                    default_currency=currency or ("EUR" if default is not None else None), deletable=deletable)


def ga4(events: dict[str, int] | None = None, key_events: tuple[KeyEvent, ...] = (),
        values: dict[str, float] | None = None, retention: str | None = "FOURTEEN_MONTHS",
        links: tuple[str, ...] | None = (CUSTOMER,), currency: str = "EUR") -> GA4:
    values = values or {}
    return GA4(
        property=Property(name=f"properties/{PROPERTY}", display_name="Test", currency_code=currency),
        key_events=key_events,
        events=tuple(EventStat(event_name=n, event_count=c, total_users=c // 2, event_value=values.get(n, 0.0))
                     for n, c in (events or {}).items()),
        retention=None if retention is None else DataRetention(event_data_retention=retention),
        ads_links=None if links is None else tuple(
            AdsLink(name=f"properties/{PROPERTY}/googleAdsLinks/{i}", customer_id=c) for i, c in enumerate(links)),
    )


_IDS = [5000]


def act(name: str, category: str = "PURCHASE", *, primary: bool = True, status: str = "ENABLED",
        conv: float = 100.0, value: float | None = None, all_conv: float | None = None, default: float | None = None,
        always: bool = False, counting: str | None = None, model: str | None = DDA, type: str = "WEBPAGE",
        origin: str = "WEBSITE", ga4_event: str | None = None, currency: str | None = "EUR",
        ga4_property: str | None = None) -> ConversionAction:
    _IDS[0] += 1
    i = str(_IDS[0])
    if ga4_event and type == "WEBPAGE":
        type = "GOOGLE_ANALYTICS_4_PURCHASE" if ga4_event == "purchase" else "GOOGLE_ANALYTICS_4_CUSTOM"
    if counting is None:
        counting = "MANY_PER_CLICK" if category in ("PURCHASE", "ADD_TO_CART", "BEGIN_CHECKOUT") else "ONE_PER_CLICK"
    return ConversionAction(
        resource_name=f"customers/{CUSTOMER}/conversionActions/{i}", id=i, name=name, status=status, type=type,
        category=category, origin=origin, primary_for_goal=primary, counting_type=counting,
        default_value=default, default_currency=currency, always_use_default_value=always,
        attribution_model=model, ga4_event_name=ga4_event,
        ga4_property_id=(ga4_property or PROPERTY) if ga4_event else None,
        stats=ActionStats(conversions=conv, conversions_value=conv * 87.3 if value is None else value,
                          all_conversions=conv if all_conv is None else all_conv),
    )


def ads(*actions: ConversionAction, currency: str = "EUR", goals: tuple[ConversionGoal, ...] | None = None) -> Ads:
    return Ads(customer_id=CUSTOMER, actions=actions, currency_code=currency, goals=goals)


def client(ga4: GA4 | None = None, ads: Ads | None = None, profile: str = "ecommerce") -> Client:
    return Client(name="test-client", profile=profile, ga4=ga4, ads=ads)


SHOP = {"session_start": 20_000, "page_view": 80_000, "view_item": 12_000, "add_to_cart": 2_400,
        "begin_checkout": 900, "add_shipping_info": 700, "add_payment_info": 600, "purchase": 450, "generate_lead": 40}


def healthy_shop() -> Client:
    """A well-configured shop: one purchase primary with values, micros as secondary, DDA, linked, 14 months."""
    return client(
        ga4(SHOP, (ke("purchase", deletable=False), ke("generate_lead", "ONCE_PER_SESSION", 40.0)),
            values={"purchase": 39_000.0, "generate_lead": 1_600.0}),
        ads(act("Purchase (GA4)", ga4_event="purchase", conv=410.5, value=36_880.1),
            act("Add to cart (GA4)", "ADD_TO_CART", primary=False, conv=0, all_conv=1_800, ga4_event="add_to_cart"),
            act("Begin checkout (GA4)", "BEGIN_CHECKOUT", primary=False, conv=0, all_conv=700,
                ga4_event="begin_checkout"),
            act("Wholesale enquiry", "SUBMIT_LEAD_FORM", conv=38, default=40.0, value=1_520.0,
                ga4_event="generate_lead"),
            act("Purchase - old tag", status="REMOVED", conv=0, default=1.0, always=True,
                model="GOOGLE_ADS_LAST_CLICK")))


# --- the catalogue as a whole ---------------------------------------------------------------------------

def test_every_new_rule_is_registered_documented_and_valued():
    rs = ruleset()
    for rid in NEW_RULES:
        rule = rs.rules[rid]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rid) and rule.id == rid
        assert len(rule.doc) > 200 and rule.rationale and rule.example and rule.references
        assert all(r.startswith(("Google Ads Help: ", "Google Analytics Help: ")) for r in rule.references)
        # the remediation names the exact setting: a UI path and the API field
        assert " > " in rule.remediation and "API" in rule.remediation, rid
        assert rid in rs.base, f"{rid} has no entry in rules/default.yaml"
        _, settings = rs.for_profile("ecommerce")
        assert all(settings[rid].params[k] is not None for k in rule.params)


@pytest.mark.parametrize("rid", NEW_RULES)
def test_each_new_rule_passes_on_a_healthy_shop(rid):
    assert found(rid, healthy_shop()) == []


def test_secondary_actions_outnumbering_primaries_are_never_flagged():
    micros = [act(f"Micro {i}", "ADD_TO_CART", primary=False, conv=0, all_conv=500 + i) for i in range(12)]
    c = client(ga4(SHOP, (ke("purchase", deletable=False),), values={"purchase": 39_000.0}),
               ads(act("Purchase", conv=410, value=36_000.0), *micros))
    rs = ruleset()
    taxonomy, settings = rs.for_profile("ecommerce")
    for rid, rule in rs.rules.items():
        o = run_rule(rule, settings[rid], c, taxonomy)
        assert all(f.severity not in ("critical", "high", "medium") for f in o.findings), (rid, o.findings)


def test_healthy_sample_client_has_nothing_at_medium_or_above():
    r = audit_folder(ROOT / "fixtures/northwind-outfitters", ruleset())
    assert r.status == "ok"
    assert [f for f in r.findings if f.severity in ("critical", "high", "medium")] == []
    ran = {x.id: x.status for x in r.rules}
    assert all(ran[rid] == "pass" for rid in NEW_RULES), ran


def test_sample_clients_report_what_they_demonstrate():
    def by_rule(name: str) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in audit_folder(ROOT / "fixtures" / name, ruleset()).findings:
            out.setdefault(f.rule, []).append(f)
        return out

    fieldnotes = by_rule("fieldnotes-media")
    names = sorted(f.severity + " " + f.message.split("'")[1] for f in fieldnotes["invalid-event-name"])
    assert names == ["high newsletter_signup_article_footer_inline_form", "medium ga_article_read"]
    assert "short-data-retention" in fieldnotes
    brightcart = by_rule("brightcart-home")
    assert len(brightcart["non-data-driven-attribution"]) == 3 and "short-data-retention" in brightcart
    assert "constant-conversion-value" not in brightcart  # its placeholder 1 is missing-conversion-value's
    keystone = by_rule("keystone-legal")
    (proxy,) = keystone["low-bidding-volume"]  # a strong micro is already the primary proxy: said as a note
    assert proxy.severity == "info" and "a proxy is in place: 'Qualified pricing visit'" in proxy.message
    assert proxy.evidence["basis"] == "funnel" and proxy.evidence["class"] == "medium"
    harbor = audit_folder(ROOT / "fixtures/harbor-dental", ruleset())
    assert not [f for f in harbor.findings if f.rule in NEW_RULES]
    brightcart_rules = {x.id: x for x in audit_folder(ROOT / "fixtures/brightcart-home", ruleset()).rules}
    assert brightcart_rules["missing-ads-link"].status == "not_run"


# --- no-primary-conversion ------------------------------------------------------------------------------

def test_no_primary_passes_with_one_enabled_primary():
    assert found("no-primary-conversion", client(ads=ads(act("Purchase")))) == []


def test_no_primary_flags_an_account_where_everything_is_secondary():
    c = client(ads=ads(act("Purchase", primary=False), act("Lead", "SUBMIT_LEAD_FORM", primary=False)))
    (f,) = found("no-primary-conversion", c)
    assert f.severity == "critical" and "2 enabled action(s), all secondary" in f.message
    assert len(f.resources) == 2


def test_no_primary_flags_an_account_without_actions():
    (f,) = found("no-primary-conversion", client(ads=ads()))
    assert "no enabled conversion action at all" in f.message and f.resources == (f"customers/{CUSTOMER}",)


def test_no_primary_a_removed_primary_does_not_count():
    c = client(ads=ads(act("Purchase old", status="REMOVED"), act("Purchase", primary=False)))
    assert len(found("no-primary-conversion", c)) == 1


def test_no_primary_flags_primaries_whose_goal_is_not_biddable():
    goals = (ConversionGoal("customers/1/customerConversionGoals/PURCHASE~WEBSITE", "PURCHASE", "WEBSITE", False),)
    (f,) = found("no-primary-conversion", client(ads=ads(act("Purchase"), goals=goals)))
    assert "not biddable" in f.message and "CustomerConversionGoal.biddable" in f.remediation
    ok = (replace(goals[0], biddable=True),)
    assert found("no-primary-conversion", client(ads=ads(act("Purchase"), goals=ok))) == []
    other = (replace(goals[0], category="SUBMIT_LEAD_FORM"),)  # no goal known for PURCHASE: read as biddable
    assert found("no-primary-conversion", client(ads=ads(act("Purchase"), goals=other))) == []


# --- too-many-primary-macros ----------------------------------------------------------------------------

def _leads(n: int, **kw: Any) -> list[ConversionAction]:
    return [act(f"Lead {i}", "SUBMIT_LEAD_FORM", conv=50 - i, **kw) for i in range(n)]


def test_too_many_primary_macros_passes_at_the_threshold():
    assert found("too-many-primary-macros", client(ads=ads(*_leads(5)))) == []


def test_too_many_primary_macros_flags_more_than_five():
    (f,) = found("too-many-primary-macros", client(ads=ads(*_leads(6))))
    assert f.severity == "medium" and "6 primary macro actions (threshold 5)" in f.message
    assert "'Lead 5'" in f.remediation and "primary_for_goal = false" in f.remediation


def test_too_many_primary_macros_threshold_is_configurable():
    assert found("too-many-primary-macros", client(ads=ads(*_leads(6))), max_primary_macros=6) == []


def test_too_many_primary_macros_ignores_secondary_removed_and_micro_primaries():
    c = client(ads=ads(*_leads(5), act("Old lead", "SUBMIT_LEAD_FORM", status="REMOVED"),
                       act("Lead copy", "SUBMIT_LEAD_FORM", primary=False), act("Cart", "ADD_TO_CART")))
    assert found("too-many-primary-macros", c) == []


def test_too_many_primary_macros_never_proposes_a_system_managed_action():
    calls = act("Smart campaign calls", "PHONE_CALL_LEAD", type="SMART_CAMPAIGN_TRACKED_CALLS",
                origin="GOOGLE_HOSTED", conv=1)
    (f,) = found("too-many-primary-macros", client(ads=ads(*_leads(5), calls)))
    assert "Smart campaign calls" in f.message and "Smart campaign calls" not in f.remediation
    assert f.actionable


# --- counting-type-mismatch -----------------------------------------------------------------------------

def test_counting_type_passes_when_leads_count_one_and_sales_every():
    c = client(ads=ads(act("Purchase", counting="MANY_PER_CLICK"),
                       act("Lead", "SUBMIT_LEAD_FORM", counting="ONE_PER_CLICK")))
    assert found("counting-type-mismatch", c) == []


def test_counting_type_flags_a_lead_counted_every():
    c = client(ads=ads(act("Contact form", "SUBMIT_LEAD_FORM", counting="MANY_PER_CLICK")))
    (f,) = found("counting-type-mismatch", c)
    assert "MANY_PER_CLICK" in f.message and "should count ONE_PER_CLICK" in f.message
    assert "'One'" in f.remediation and "counting_type = ONE_PER_CLICK" in f.remediation


def test_counting_type_flags_a_purchase_counted_one():
    (f,) = found("counting-type-mismatch", client(ads=ads(act("Purchase", counting="ONE_PER_CLICK"))))
    assert "should count MANY_PER_CLICK" in f.message and "'Every'" in f.remediation


def test_counting_type_traps_secondary_removed_system_managed_and_unjudged_categories():
    c = client(ads=ads(
        act("Lead copy", "SUBMIT_LEAD_FORM", primary=False, counting="MANY_PER_CLICK"),
        act("Old purchase", status="REMOVED", counting="ONE_PER_CLICK"),
        act("Smart calls", "PHONE_CALL_LEAD", type="SMART_CAMPAIGN_TRACKED_CALLS", origin="GOOGLE_HOSTED",
            counting="MANY_PER_CLICK"),
        act("Page view", "PAGE_VIEW", counting="ONE_PER_CLICK"),
        act("Purchase", counting="UNKNOWN")))
    assert found("counting-type-mismatch", c) == []


# --- key-event-counting-method --------------------------------------------------------------------------

def test_key_event_counting_passes_purchase_per_event_and_lead_per_session():
    c = client(ga4(SHOP, (ke("purchase"), ke("generate_lead", "ONCE_PER_SESSION"))))
    assert found("key-event-counting-method", c) == []


def test_key_event_counting_flags_a_purchase_counted_once_per_session():
    (f,) = found("key-event-counting-method", client(ga4(SHOP, (ke("purchase", "ONCE_PER_SESSION"),))))
    assert f.severity == "medium" and "450 events" in f.message and "ONCE_PER_EVENT" in f.message
    assert "Change counting method" in f.remediation and "KeyEvent.counting_method" in f.remediation


def test_key_event_counting_a_lead_per_event_is_low_except_in_lead_gen():
    g = ga4({"generate_lead": 40}, (ke("generate_lead"),))
    (f,) = found("key-event-counting-method", client(g))
    assert f.severity == "low" and "ONCE_PER_SESSION" in f.message
    (f,) = found("key-event-counting-method", client(g, profile="lead-gen"))
    assert f.severity == "medium"


def test_key_event_counting_matches_synonyms():
    (f,) = found("key-event-counting-method", client(ga4({"lead_submit": 12}, (ke("lead_submit"),))))
    assert "lead_submit" in f.message


def test_key_event_counting_does_not_judge_micros_or_sign_ups():
    keys = (ke("add_to_cart", "ONCE_PER_SESSION"), ke("sign_up"), ke("begin_checkout", "ONCE_PER_SESSION"))
    c = client(ga4(SHOP, keys))
    assert found("key-event-counting-method", c) == []


# --- non-data-driven-attribution ------------------------------------------------------------------------

def test_attribution_passes_data_driven():
    assert found("non-data-driven-attribution", client(ads=ads(act("Purchase")))) == []


def test_attribution_flags_last_click_and_retired_models():
    c = client(ads=ads(act("Purchase", model="GOOGLE_ADS_LAST_CLICK"),
                       act("Lead", "SUBMIT_LEAD_FORM", ga4_event="generate_lead",
                           model="GOOGLE_SEARCH_ATTRIBUTION_LINEAR")))
    fs = found("non-data-driven-attribution", c)
    assert [f.message.split("'")[1] for f in fs] == ["Purchase", "Lead"]
    assert "GOOGLE_ADS_LAST_CLICK" in fs[0].message and "Data-driven" in fs[0].remediation
    assert "attribution_model = GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN" in fs[0].remediation


def test_attribution_leaves_alone_what_the_user_cannot_or_need_not_change():
    c = client(ads=ads(
        act("Cart", "ADD_TO_CART", primary=False, model="GOOGLE_ADS_LAST_CLICK"),
        act("Directions", "GET_DIRECTIONS", type="SMART_CAMPAIGN_MAP_DIRECTIONS", origin="GOOGLE_HOSTED",
            model="GOOGLE_ADS_LAST_CLICK"),
        act("Calls from ads", "PHONE_CALL_LEAD", type="AD_CALL", origin="CALL_FROM_ADS", model="GOOGLE_ADS_LAST_CLICK"),
        act("CRM import", "QUALIFIED_LEAD", type="UPLOAD_CLICKS", origin="UNSPECIFIED", model="EXTERNAL"),
        act("No model", model=None),
        act("Old", status="REMOVED", model="GOOGLE_ADS_LAST_CLICK")))
    assert found("non-data-driven-attribution", c) == []


# --- constant-conversion-value --------------------------------------------------------------------------

def test_constant_value_passes_real_varying_values():
    c = client(ads=ads(act("Purchase", conv=200, value=17_460.0, default=50.0)))
    assert found("constant-conversion-value", c) == []


def test_constant_value_flags_always_use_default_on_a_purchase():
    c = client(ads=ads(act("Purchase", default=50.0, always=True, value=10_000.0)))
    (f,) = found("constant-conversion-value", c)
    assert f.severity == "high" and "always uses the default value 50" in f.message
    assert "always_use_default_value = false" in f.remediation


def test_constant_value_flags_every_conversion_worth_the_default_at_medium():
    c = client(ads=ads(act("Purchase", conv=407.52, value=407.52 * 25, default=25.0)))  # fractional DDA credit
    (f,) = found("constant-conversion-value", c)
    assert f.severity == "medium" and "exactly the default value 25 each" in f.message


def test_constant_value_flags_a_ga4_revenue_key_event_without_values():
    g = ga4({"purchase": 300}, (ke("purchase", default=30.0),))
    (f,) = found("constant-conversion-value", client(g))
    assert f.severity == "high" and "'purchase' fired 300 times" in f.message and "30 EUR" in f.message
    assert "`value` parameter" in f.remediation


def test_constant_value_leaves_placeholders_to_missing_conversion_value():
    c = client(ga4({"purchase": 300}, (ke("purchase"),)),
               ads(act("Purchase", conv=431, value=431.0, default=1.0, always=True)))
    assert found("constant-conversion-value", c) == []
    assert len(found("missing-conversion-value", c)) == 2  # reported once, by the rule that owns it


def test_constant_value_traps_leads_secondary_silent_and_valued_events():
    c = client(
        ga4({"purchase": 300, "generate_lead": 40}, (ke("purchase", default=30.0), ke("generate_lead", default=40.0)),
            values={"purchase": 27_100.0}),
        ads(act("Calls", "PHONE_CALL_LEAD", type="AD_CALL", origin="CALL_FROM_ADS", default=120.0, always=True,
                value=4_440.0, conv=37),
            act("Lead", "SUBMIT_LEAD_FORM", conv=38, default=40.0, value=1_520.0),
            act("Purchase copy", primary=False, conv=0, all_conv=50, default=50.0, always=True),
            act("New purchase", conv=0, value=0.0, default=60.0)))
    assert found("constant-conversion-value", c) == []


# --- currency-mismatch ----------------------------------------------------------------------------------

def test_currency_passes_when_everything_is_in_one_currency():
    c = client(ga4(SHOP, (ke("generate_lead", default=40.0),)), ads(act("Purchase", default=10.0)))
    assert found("currency-mismatch", c) == []


def test_currency_flags_an_action_and_a_key_event_in_another_currency():
    c = client(ga4(SHOP, (ke("generate_lead", default=40.0, currency="USD"),)),
               ads(act("Purchase", currency="USD"), act("Lead", "SUBMIT_LEAD_FORM")))
    fs = found("currency-mismatch", c)
    assert len(fs) == 2 and all(f.severity == "medium" for f in fs)
    assert "values in USD; the account reports in EUR" in fs[0].message
    assert "default_currency_code" in fs[0].remediation
    assert "'generate_lead'" in fs[1].message and "currency_code" in fs[1].remediation


def test_currency_flags_property_and_account_apart_at_low():
    (f,) = found("currency-mismatch", client(ga4(SHOP, currency="GBP"), ads(act("Purchase"))))
    assert f.severity == "low" and f.resources == (f"properties/{PROPERTY}", f"customers/{CUSTOMER}")


def test_currency_traps_removed_system_managed_and_unset():
    c = client(ads=ads(act("Old", status="REMOVED", currency="USD"),
                       act("Directions", "GET_DIRECTIONS", type="SMART_CAMPAIGN_MAP_DIRECTIONS",
                           origin="GOOGLE_HOSTED", currency="USD"),
                       act("Purchase", currency=None)))
    assert found("currency-mismatch", c) == []


# --- dead-conversion-action -----------------------------------------------------------------------------

def test_dead_action_flags_a_silent_primary():
    c = client(ads=ads(act("Purchase", conv=400), act("Request quote", "REQUEST_QUOTE", conv=0, value=0.0)))
    (f,) = found("dead-conversion-action", c)
    assert f.severity == "medium" and "'Request quote'" in f.message and "broken or removed tag" in f.message


def test_dead_action_says_when_ga4_still_records_the_imported_event():
    c = client(ga4({"generate_lead": 55}), ads(act("Purchase", conv=400),
                                               act("Lead", "SUBMIT_LEAD_FORM", conv=0, ga4_event="generate_lead")))
    (f,) = found("dead-conversion-action", c)
    assert "GA4 recorded 55 'generate_lead' events" in f.message and "import is broken" in f.message
    c = client(ga4({"session_start": 900}),
               ads(act("Purchase", conv=400), act("Lead", "SUBMIT_LEAD_FORM", conv=0, ga4_event="generate_lead")))
    (f,) = found("dead-conversion-action", c)
    assert "no 'generate_lead' event in 28 days either" in f.message


def test_dead_action_in_a_quiet_account_is_low():
    c = client(ads=ads(act("Booking", "BOOK_APPOINTMENT", conv=8), act("Quote", "REQUEST_QUOTE", conv=0)))
    (f,) = found("dead-conversion-action", c)
    assert f.severity == "low" and "silence may be normal" in f.message


def test_dead_action_one_account_finding_when_nothing_converted():
    c = client(ads=ads(act("Purchase", conv=0), act("Lead", "SUBMIT_LEAD_FORM", conv=0)))
    (f,) = found("dead-conversion-action", c)
    assert f.severity == "low" and "campaigns may be paused" in f.message


def test_dead_action_traps_secondary_removed_system_managed_and_all_conversions():
    c = client(ads=ads(
        act("Purchase", conv=400),
        act("book_appointment", "BOOK_APPOINTMENT", primary=False, conv=0),
        act("Old purchase", status="REMOVED", conv=0),
        act("Directions", "GET_DIRECTIONS", type="SMART_CAMPAIGN_MAP_DIRECTIONS", origin="GOOGLE_HOSTED", conv=0),
        act("View-through only", "SUBMIT_LEAD_FORM", conv=0, all_conv=4)))
    assert found("dead-conversion-action", c) == []


# --- dead-key-event -------------------------------------------------------------------------------------

def test_dead_key_event_passes_when_key_events_fire():
    assert found("dead-key-event", client(ga4(SHOP, (ke("purchase"), ke("add_to_cart"))))) == []


def test_dead_key_event_flags_a_key_event_without_events():
    (f,) = found("dead-key-event", client(ga4({**SHOP, "request_quote": 0}, (ke("purchase"), ke("request_quote")))))
    assert "'request_quote' had no events in 28 days: renamed or broken tagging" in f.message
    assert "properties.keyEvents.delete" in f.remediation


def test_dead_key_event_names_the_likely_new_name():
    (f,) = found("dead-key-event", client(ga4({**SHOP, "sign_up": 1_204}, (ke("purchase"), ke("signUp")))))
    assert "'sign_up' fired 1,204 times: probably renamed" in f.message
    assert "Mark 'sign_up' as a key event" in f.remediation
    (f,) = found("dead-key-event", client(ga4({**SHOP, "sign_up": 1_204}, (ke("sign_up"), ke("Sign_Up")))))
    assert "already a key event" in f.remediation


def test_dead_key_event_skips_undeletable_defaults():
    c = client(ga4({"session_start": 900, "generate_lead": 12}, (ke("purchase", deletable=False), ke("generate_lead"))))
    assert found("dead-key-event", c) == []


def test_dead_key_event_empty_report_is_one_finding():
    (f,) = found("dead-key-event", client(ga4({}, (ke("purchase"), ke("generate_lead")))))
    assert "no event at all" in f.message and f.resources == (f"properties/{PROPERTY}",)


# --- invalid-event-name ---------------------------------------------------------------------------------

def test_invalid_name_passes_valid_and_non_english_names():
    events = {**SHOP, "añadir_al_carrito": 40, "(other)": 12, "firebase_campaign": 5}
    assert found("invalid-event-name", client(ga4(events, (ke("purchase"),)))) == []


def test_invalid_name_flags_a_long_key_event_at_high():
    name = "newsletter_signup_article_footer_inline_form"
    (f,) = found("invalid-event-name", client(ga4({name: 1_207}, (ke(name),))))
    assert f.severity == "high" and "44 characters (limit 40)" in f.message
    assert "GA4 does not report it as a key event" in f.message and f.resources[0].startswith("properties/")


def test_invalid_name_flags_prefix_characters_and_first_letter():
    c = client(ga4({"ga_article_read": 96_540, "sign-up form": 12, "2nd_click": 3}))
    fs = {f.message.split("'")[1]: f for f in found("invalid-event-name", c)}
    assert "reserved prefix 'ga_'" in fs["ga_article_read"].message
    assert "invalid character(s) ' ' '-'" in fs["sign-up form"].message
    assert "does not start with a letter" in fs["2nd_click"].message
    assert all(f.severity == "medium" for f in fs.values())
    assert "'article_read'" in fs["ga_article_read"].remediation


def test_invalid_name_checks_google_ads_imports():
    (f,) = found("invalid-event-name", client(ads=ads(act("Lead", "SUBMIT_LEAD_FORM", ga4_event="Lead Form"))))
    assert f.resources[0].startswith(f"customers/{CUSTOMER}/conversionActions/")


def test_invalid_name_suggestions_are_valid():
    assert suggest("ga_article_read") == "article_read"
    assert suggest("Sign-Up Form") == "sign_up_form"
    assert suggest("2nd click") == "nd_click"
    long = suggest("newsletter_signup_article_footer_inline_form")
    assert len(long) <= 40 and long.startswith("newsletter_signup")


# --- short-data-retention -------------------------------------------------------------------------------

def test_retention_passes_fourteen_months():
    assert found("short-data-retention", client(ga4(SHOP))) == []


def test_retention_flags_two_months():
    (f,) = found("short-data-retention", client(ga4(SHOP, retention="TWO_MONTHS")))
    assert f.resources == (f"properties/{PROPERTY}/dataRetentionSettings",) and "FOURTEEN_MONTHS" in f.remediation


def test_retention_not_collected_is_not_run_never_a_pass():
    assert outcome("short-data-retention", client(ga4(SHOP, retention=None))).status == "not_run"
    assert outcome("short-data-retention", client(ads=ads(act("Purchase")))).status == "not_applicable"


# --- missing-ads-link -----------------------------------------------------------------------------------

def test_link_passes_when_linked():
    assert found("missing-ads-link", client(ga4(SHOP), ads(act("Purchase")))) == []


def test_link_flags_no_link_and_a_link_to_another_account():
    (f,) = found("missing-ads-link", client(ga4(SHOP, links=()), ads(act("Purchase"))))
    assert f.severity == "high" and "no Google Ads link at all" in f.message
    assert "googleAdsLinks.create" in f.remediation
    (f,) = found("missing-ads-link", client(ga4(SHOP, links=("5555555555",)), ads(act("Purchase"))))
    assert "links only to 5555555555" in f.message


def test_link_through_a_manager_is_a_note_when_imports_flow():
    c = client(ga4(SHOP, links=("9999999999",)), ads(act("Purchase (GA4)", ga4_event="purchase")))
    (f,) = found("missing-ads-link", c)
    assert f.severity == "info" and "evidently made elsewhere" in f.message and "manager" in f.message
    c = client(ga4(SHOP, links=()), ads(act("Purchase (GA4)", ga4_event="purchase", ga4_property="1111")))
    (f,) = found("missing-ads-link", c)  # imports from another property prove nothing
    assert f.severity == "high"


def test_link_dead_imports_from_an_unlinked_property_are_the_missing_link():
    c = client(ga4(SHOP, links=()), ads(act("Purchase (GA4)", ga4_event="purchase", conv=0, all_conv=0)))
    (f,) = found("missing-ads-link", c)
    assert f.severity == "high" and "no Google Ads link at all" in f.message
    assert "recorded no conversion in 30 days: without the link they are dead" in f.message


def test_link_needs_both_sources_and_the_link_list():
    assert outcome("missing-ads-link", client(ga4(SHOP, links=None), ads(act("Purchase")))).status == "not_run"
    assert outcome("missing-ads-link", client(ga4(SHOP, links=()))).status == "not_applicable"


# --- key-event-limit ------------------------------------------------------------------------------------

def test_key_event_limit_passes_thirty():
    keys = tuple(ke(f"event_{i}") for i in range(30))
    assert found("key-event-limit", client(ga4({}, keys))) == []


def test_key_event_limit_flags_thirty_one_and_names_the_weak_ones():
    keys = tuple(ke(f"event_{i}") for i in range(29)) + (ke("page_view"), ke("scroll"))
    (f,) = found("key-event-limit", client(ga4({"page_view": 9_000, "scroll": 4_000}, keys)))
    assert f.severity == "medium" and "31 key events (limit 30)" in f.message
    assert f.message.index("page_view (9,000)") < f.message.index("event_0 (0)")
    assert "at least 1 key events" in f.remediation and "page_view, scroll" in f.remediation


# --- low-bidding-volume ---------------------------------------------------------------------------------

LOW_SHOP = {"session_start": 9_000, "view_item": 4_000, "add_to_cart": 600, "begin_checkout": 140,
            "add_shipping_info": 90, "add_payment_info": 20, "purchase": 18}


def test_low_volume_passes_with_enough_macro_conversions():
    assert found("low-bidding-volume", client(ga4(LOW_SHOP), ads(act("Purchase", conv=30)))) == []


def test_low_volume_recommends_the_micro_with_the_highest_rate_to_the_macro():
    (f,) = found("low-bidding-volume", client(ga4(LOW_SHOP), ads(act("Purchase", conv=14))))
    # The macro is the purchase event (the Ads tag imports none). add_payment_info has too little volume,
    # add_to_cart and view_item measure low (3% and 0.2% of their users buy): add_shipping_info reaches the
    # macro most often, then begin_checkout.
    assert "14 conv. in 30 days (below 30)" in f.message
    assert "best micro proxy: GA4 event 'add_shipping_info' (90 in 28 days)" in f.message
    assert "high: up to 20.0% of its 45 users did purchase" in f.message
    assert "next: begin_checkout (140)" in f.message and "add_to_cart" not in f.message
    assert f.evidence.event == "add_shipping_info" and f.evidence.basis == "ratio" and f.evidence.macro == "purchase"
    assert "Mark 'add_shipping_info' as a key event" in f.remediation and "primary_for_goal = true" in f.remediation


def test_low_volume_prefers_an_existing_secondary_action():
    events = {k: v for k, v in LOW_SHOP.items() if k != "add_shipping_info"}
    c = client(ga4(events), ads(act("Purchase", conv=14),
                                act("Begin checkout (GA4)", "BEGIN_CHECKOUT", primary=False, conv=0, all_conv=120,
                                    ga4_event="begin_checkout")))
    (f,) = found("low-bidding-volume", c)
    assert "Google Ads action 'Begin checkout (GA4)' (120 in 30 days)" in f.message
    assert "set 'Begin checkout (GA4)' to Primary" in f.remediation and len(f.resources) == 2


def test_low_volume_off_the_ladder_the_highest_rate_wins():
    events = {"session_start": 3_000, "contact_click": 400, "qualified_pricing_visit": 90, "phone_click": 12,
              "generate_lead": 9}
    (f,) = found("low-bidding-volume", client(ga4(events), ads(act("Lead", "SUBMIT_LEAD_FORM", conv=9)), "lead-gen"))
    assert "GA4 event 'qualified_pricing_visit' (90" in f.message  # contact_click: 2% of its users convert


def test_low_volume_without_a_candidate_says_so():
    (f,) = found("low-bidding-volume", client(ads=ads(act("Booking", "BOOK_APPOINTMENT", conv=6)), profile="lead-gen"))
    assert "no micro before the macro with a measured or expected rate of at least 5% reaches 30 a month" in f.message


def test_low_volume_trap_a_strong_micro_already_primary_is_a_proxy_in_place():
    c = client(ads=ads(act("Consultation", "SUBMIT_LEAD_FORM", conv=14),
                       act("Qualified pricing visit", "ENGAGEMENT", conv=141, ga4_event="qualified_pricing_visit")),
               profile="lead-gen")
    (f,) = found("low-bidding-volume", c)
    assert f.severity == "info" and "a proxy is in place: 'Qualified pricing visit'" in f.message
    assert "no micro" not in f.message


def test_low_volume_a_weak_micro_primary_is_no_proxy():
    c = client(ads=ads(act("Consultation", "SUBMIT_LEAD_FORM", conv=14),
                       act("Video play", "ENGAGEMENT", conv=96, ga4_event="video_start")), profile="lead-gen")
    assert len(found("low-bidding-volume", c)) == 1


def test_low_volume_not_flagged_without_a_primary_macro():
    assert found("low-bidding-volume", client(ads=ads(act("Cart", "ADD_TO_CART", conv=3)))) == []
