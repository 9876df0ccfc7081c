"""Accounts shaped like real ones: custom names in other languages, Ads-only accounts, apps, CRM lead imports,
one sale counted by two sources, and accounts whose bids show nobody who pays. Every primary action is judged,
returning-user actions are never a macro, and each judgement carries its evidence."""

from __future__ import annotations

from builders import account_goal, action, ads, campaign, client, findings, outcome, ruleset, with_ads

from auditor.hierarchy import Hierarchy
from auditor.model import GA4, EventStat, KeyEvent, Property

PROPERTY = "properties/555000111"


def events(rows: dict[str, int], keys: tuple[str, ...] = ()) -> GA4:
    """GA4 data from {event: users} over 28 days (events = 3 x users)."""
    return GA4(property=Property(name=PROPERTY, currency_code="EUR"),
               key_events=tuple(KeyEvent(name=f"{PROPERTY}/keyEvents/{i}", event_name=n,
                                         counting_method="ONCE_PER_EVENT") for i, n in enumerate(keys)),
               events=tuple(EventStat(event_name=n, event_count=3 * u, total_users=u) for n, u in rows.items()))


def hierarchy(c) -> Hierarchy:
    return Hierarchy(c, ruleset().for_profile(c.profile)[0])


def by_resource(fs) -> dict[str, object]:
    return {r: f for f in fs for r in f.resources}


# --- 1. no name gate ------------------------------------------------------------------------------------------

def test_a_custom_named_default_category_widget_ahead_of_a_tiny_macro_is_judged_by_its_users():
    widget = action("Konfigurator Interaktion", "DEFAULT", ga4_event="konfigurator_interaktion", conversions=2_900)
    order = action("Bestellung", "PURCHASE", ga4_event="purchase", conversions=10, value=9_000.0)
    c = client(events({"session_start": 40_000, "konfigurator_interaktion": 3_100, "purchase": 10}, ("purchase",)),
               ads(order, widget))
    (f,) = findings("micro-primary-goal", c)
    assert f.resources == (widget.resource_name,) and f.severity == "high"
    assert f.evidence.strength == "low" and f.evidence.basis == "ratio" and f.evidence.position == "before"
    assert "3,100 users" in f.message and "10 users" in f.message


def test_a_lead_account_bidding_on_a_calculator_result_beside_ample_leads_is_flagged():
    leads = action("Anfrage gesendet", "SUBMIT_LEAD_FORM", ga4_event="generate_lead", conversions=140,
                   default=80.0)
    calc = action("Rechner Ergebnis", "DEFAULT", ga4_event="rechner_ergebnis", conversions=1_900)
    c = client(events({"session_start": 20_000, "rechner_ergebnis": 2_000, "generate_lead": 150}, ("generate_lead",)),
               ads(leads, calc), profile="lead-gen")
    (f,) = findings("micro-primary-goal", c)
    assert f.resources == (calc.resource_name,) and "although macro primaries: 140 conv." in f.message
    assert f.severity == "medium" and f.evidence.position == "before"  # unknown strength: never above medium
    assert "2,000 users" in f.message


def test_an_action_nothing_places_is_reported_with_what_to_measure():
    order = action("Purchase", conversions=600, value=50_000.0)
    odd = action("Aktion 7", "DEFAULT", conversions=40)
    (f,) = findings("micro-primary-goal", client(ads=ads(order, odd)))
    assert f.resources == (odd.resource_name,) and f.severity == "medium"
    assert "nothing places it" in f.message and "taxonomy.macro_events" in f.remediation
    assert f.evidence is not None and f.evidence.metric == "conversions"


def test_ads_only_custom_action_with_more_conversions_than_the_macro_is_a_micro_by_volume():
    order = action("Purchase", conversions=200, value=20_000.0)
    clicks = action("Produktseite besucht", "DEFAULT", conversions=5_000)
    (f,) = findings("micro-primary-goal", client(ads=ads(order, clicks)))
    assert f.resources == (clicks.resource_name,) and f.severity == "high"
    assert f.evidence.position == "before" and f.evidence.strength == "low" and f.evidence.metric == "conversions"
    assert "200 macro conv. to its 5,000 conv." in f.message


# --- 2. apps --------------------------------------------------------------------------------------------------

def _app(purchases: float, *, mixed: bool) -> tuple:
    install = action("first_open (Android)", "DOWNLOAD", type="FIREBASE_ANDROID_FIRST_OPEN", origin="APP",
                     conversions=4_100)
    iap = action("in_app_purchase (Android)", "PURCHASE", type="FIREBASE_ANDROID_IN_APP_PURCHASE", origin="APP",
                 conversions=purchases, value=purchases * 9.99)
    login = action("Login", "SIGNUP", type="FIREBASE_ANDROID_CUSTOM", origin="APP", conversions=9_800)
    camps = [campaign("App - Installs", "TARGET_CPA", channel="MULTI_CHANNEL", conversions=4_100,
                      goals=[("DOWNLOAD", "APP", True)], level="CAMPAIGN")]
    if mixed:
        camps.append(campaign("App - Purchases", "TARGET_CPA", channel="MULTI_CHANNEL", conversions=purchases,
                              level="CUSTOMER", goals=[("DOWNLOAD", "APP", True), ("PURCHASE", "APP", True),
                                                       ("SIGNUP", "APP", True)]))
    a = with_ads(ads(install, iap, login), campaigns=tuple(camps),
                 goals=(account_goal("DOWNLOAD", "APP"), account_goal("PURCHASE", "APP"),
                        account_goal("SIGNUP", "APP")))
    return client(ads=a, profile="app"), install, iap, login


def test_an_app_account_is_inferred_from_its_action_types_and_app_campaigns():
    c, *_ = _app(400, mixed=True)
    choice = ruleset().choose_profile(c, None)
    assert choice.name == "app" and choice.source == "inferred"
    assert any("FIREBASE_ANDROID_FIRST_OPEN" in e for e in choice.evidence)
    assert any("MULTI_CHANNEL x2" in e for e in choice.evidence)


def test_an_install_is_the_macro_of_an_install_campaign_not_a_weak_micro():
    c, install, iap, _ = _app(12, mixed=False)
    h = hierarchy(c)
    assert h.macro.actions == (iap,) and install.resource_name in h.earlier
    fs = by_resource(findings("micro-primary-goal", c))
    f = fs[install.resource_name]
    assert f.severity == "info" and "the macro of install campaign(s) 'App - Installs'" in f.message
    assert "weak" not in f.message


def test_installs_bid_on_beside_ample_in_app_purchases_in_one_campaign_are_flagged_naming_it():
    c, install, _, _ = _app(400, mixed=True)
    f = by_resource(findings("micro-primary-goal", c))[install.resource_name]
    assert f.severity == "high" and "'App - Purchases'" in f.message and "400 in-app purchases" in f.message


def test_without_in_app_purchases_bid_on_installs_are_the_macro():
    install = action("Install (iOS)", "DOWNLOAD", type="FIREBASE_IOS_FIRST_OPEN", origin="APP", conversions=900)
    c = client(ads=ads(install), profile="app")
    assert hierarchy(c).action(install).strength == "macro"
    assert findings("micro-primary-goal", c) == []


# --- 3. returning-user actions ----------------------------------------------------------------------------------

def test_an_in_app_login_filed_under_signup_is_never_a_macro_and_is_flagged():
    c, _, iap, login = _app(400, mixed=True)
    h = hierarchy(c)
    assert login not in h.macro.actions and h.action(login).returning
    (f,) = [f for f in findings("returning-user-conversion", c) if login.resource_name in f.resources]
    assert f.severity == "high" and "counts people who come back" in f.message and f.evidence.returning
    assert login.resource_name not in by_resource(findings("micro-primary-goal", c))  # told once


def test_a_login_is_no_macro_even_where_signup_is_one():
    login = action("Kunden-Login", "SIGNUP", conversions=3_000)
    trial = action("Trial started", "SIGNUP", conversions=80, default=20.0)
    c = client(ads=ads(login, trial), profile="saas")
    h = hierarchy(c)
    assert h.macro.actions == (trial,)
    assert ruleset().choose_profile(client(ads=ads(login)), None).source == "default"  # a login casts no vote


def test_an_event_nearly_every_user_fires_is_returning_by_its_reach():
    c = client(events({"session_start": 10_000, "app_session_ping": 9_400, "purchase": 300},
                      ("purchase", "app_session_ping")))
    (f,) = findings("returning-user-conversion", c)
    assert f.severity == "medium" and "94.0% of the 10,000 of session_start" in f.message
    assert hierarchy(c).macro.reference == "purchase"


def test_a_small_property_is_not_judged_by_reach():
    c = client(events({"session_start": 50, "app_session_ping": 48, "purchase": 5}, ("purchase", "app_session_ping")))
    assert findings("returning-user-conversion", c) == []


# --- 4. CRM lead pipelines ---------------------------------------------------------------------------------------

def _crm(qualified: float):
    form = action("Website enquiry", "SUBMIT_LEAD_FORM", conversions=310, counting="ONE_PER_CLICK")
    crm = action("Qualified lead (CRM)", "QUALIFIED_LEAD", type="UPLOAD_CLICKS", conversions=qualified,
                 counting="ONE_PER_CLICK", default=400.0)
    return client(ads=ads(form, crm), profile="lead-gen"), form, crm


def test_a_crm_import_with_volume_is_the_macro_and_the_raw_form_is_flagged():
    c, form, crm = _crm(64)
    h = hierarchy(c)
    assert h.macro.actions == (crm,) and h.action(form).strength != "macro"
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "high" and f.resources[0] == form.resource_name
    assert "310 conv." in f.message and "64 qualified conv." in f.message and "Secondary" in f.remediation


def test_a_crm_import_below_the_threshold_leaves_the_raw_form_as_the_legitimate_proxy():
    c, form, crm = _crm(12)
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "info" and "legitimate bidding proxy" in f.message
    assert "310 conv." in f.message and "only 12 qualified conv." in f.message


def test_the_raw_form_without_value_beside_a_crm_import_is_a_low_value_finding():
    c, form, _ = _crm(64)
    (f,) = findings("missing-conversion-value", c)
    assert f.severity == "low" and f.resources == (form.resource_name,) and "well below" in f.remediation


# --- 5. one sale, two sources ------------------------------------------------------------------------------------

def test_a_purchase_counted_by_a_ga4_import_and_an_upload_is_one_medium_finding_naming_both():
    ga4_import = action("Purchase (GA4)", ga4_event="purchase", conversions=431, value=40_000.0)
    upload = action("Orders (offline upload)", type="UPLOAD_CLICKS", conversions=455, value=43_500.0)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(ga4_import, upload)))
    assert f.severity == "medium" and set(f.resources) == {ga4_import.resource_name, upload.resource_name}
    assert "GA4 import" in f.message and "upload" in f.message and "UPLOAD_CLICKS" in f.message
    assert "431 conv." in f.message and "455 conv." in f.message
    assert "offline or phone sales" in f.remediation and "keep 'Orders (offline upload)'" in f.message


def test_two_sources_not_bid_on_together_are_not_paired():
    ga4_import = action("Purchase (GA4)", ga4_event="purchase", conversions=431, value=40_000.0)
    upload = action("Orders (offline upload)", type="UPLOAD_CLICKS", conversions=455, value=43_500.0, primary=False)
    assert findings("duplicate-conversion-action", client(ads=ads(ga4_import, upload))) == []
    # primary both, but the account default bids on the web purchase only and no campaign bids on both
    upload = action("Orders (offline upload)", type="UPLOAD_CLICKS", conversions=455, value=43_500.0)
    a = with_ads(ads(ga4_import, upload), goals=(account_goal("PURCHASE", "WEBSITE"),
                                                 account_goal("PURCHASE", "STORE", biddable=False)))
    upload_store = action("Orders (offline upload)", type="UPLOAD_CLICKS", origin="STORE", conversions=455)
    a = with_ads(ads(ga4_import, upload_store), goals=a.goals, campaigns=())
    assert findings("duplicate-conversion-action", client(ads=a)) == []


def test_web_against_app_purchases_are_usually_different_sales():
    web = action("Purchase", conversions=300, value=30_000.0)
    app = action("iOS purchase", type="FIREBASE_IOS_IN_APP_PURCHASE", origin="APP", conversions=120, value=999.0)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(web, app)))
    assert f.severity == "low" and "in-app against web purchases" in f.remediation


def test_a_raw_form_and_its_crm_import_in_one_category_are_stages_not_copies():
    form = action("Enquiry", "SUBMIT_LEAD_FORM", conversions=300)
    crm = action("Enquiry qualified (upload)", "SUBMIT_LEAD_FORM", type="UPLOAD_CLICKS", conversions=70)
    assert findings("duplicate-conversion-action", client(ads=ads(form, crm), profile="lead-gen")) == []


# --- 6. nothing that shows who pays -----------------------------------------------------------------------------

def test_bidding_on_signups_while_the_purchase_import_is_secondary_is_flagged_naming_it():
    signup = action("Sign up", "SIGNUP", conversions=920, default=1.0)
    pay = action("Subscription (GA4)", ga4_event="purchase", primary=False, conversions=0, all_conversions=41)
    (f,) = findings("paying-action-not-bid", client(ads=ads(signup, pay)))
    assert f.severity == "high" and f.resources[0] == pay.resource_name
    assert "'Subscription (GA4)'" in f.message and "Secondary: make it Primary" in f.message
    assert "41 all conv. in 30 days, enough to bid on" in f.message


def test_a_hidden_purchase_and_an_app_bidding_on_installs_and_logins():
    c, install, iap, login = _app(30, mixed=False)
    hidden = with_ads(c.ads, actions=(install, login, action("IAP", "PURCHASE", type="GOOGLE_PLAY_IN_APP_PURCHASE",
                                                              status="HIDDEN", conversions=0)))
    (f,) = findings("paying-action-not-bid", client(ads=hidden, profile="app"))
    assert "it is hidden" in f.message and "a returning-user action" in f.message
    assert f.severity == "medium"  # installs are an outcome before payment


def test_an_account_that_bids_on_who_pays_passes():
    signup = action("Sign up", "SIGNUP", conversions=920, default=1.0)
    pay = action("Subscription", "SUBSCRIBE_PAID", conversions=50, value=5_000.0)
    assert findings("paying-action-not-bid", client(ads=ads(signup, pay))) == []


def test_raw_leads_bid_on_while_the_crm_import_is_secondary_is_medium():
    form = action("Website enquiry", "SUBMIT_LEAD_FORM", conversions=310)
    crm = action("Qualified lead (CRM)", "QUALIFIED_LEAD", type="UPLOAD_CLICKS", conversions=0, all_conversions=60,
                 primary=False)
    (f,) = findings("paying-action-not-bid", client(ads=ads(form, crm), profile="lead-gen"))
    assert f.severity == "medium" and "'Qualified lead (CRM)'" in f.message


# --- 9. values by consequence -----------------------------------------------------------------------------------

def test_no_value_on_a_macro_under_value_bidding_is_high_and_without_value_bidding_medium():
    order = action("Purchase", conversions=300)
    roas = campaign("PMax", "MAXIMIZE_CONVERSION_VALUE", channel="PERFORMANCE_MAX", conversions=300)
    (f,) = findings("missing-conversion-value", client(ads=with_ads(ads(order), campaigns=(roas,))))
    assert f.severity == "high" and "a value-based campaign bids on it" in f.message
    cpa = campaign("Search", "TARGET_CPA", conversions=300)
    (f,) = findings("missing-conversion-value", client(ads=with_ads(ads(order), campaigns=(cpa,))))
    assert f.severity == "medium" and "no campaign bids on value" in f.message
    (f,) = findings("missing-conversion-value", client(ads=ads(order)))  # campaigns not collected: as before
    assert f.severity == "high"


def test_many_micros_without_value_are_one_low_finding():
    order = action("Purchase", conversions=12, value=1_200.0)
    micros = [action(n, c, conversions=v) for n, c, v in (("Add to cart", "ADD_TO_CART", 400),
                                                          ("Checkout", "BEGIN_CHECKOUT", 90),
                                                          ("Contact", "CONTACT", 40))]
    (f,) = findings("missing-conversion-value", client(ads=ads(order, *micros)))
    assert f.severity == "low" and len(f.resources) == 3 and "3 primary micro actions without a value" in f.message


def test_uploads_whose_value_comes_with_each_conversion_are_judged_by_what_arrives():
    valued = action("CRM deal", "CONVERTED_LEAD", type="UPLOAD_CLICKS", conversions=20, value=24_000.0)
    assert findings("missing-conversion-value", client(ads=ads(valued), profile="lead-gen")) == []
    new = action("CRM deal", "CONVERTED_LEAD", type="UPLOAD_CLICKS", conversions=0)
    (f,) = findings("missing-conversion-value", client(ads=ads(new), profile="lead-gen"))
    assert f.severity == "low" and "value path is unproven" in f.message
    empty = action("CRM deal", "CONVERTED_LEAD", type="UPLOAD_CLICKS", conversions=20)
    (f,) = findings("missing-conversion-value", client(ads=ads(empty), profile="lead-gen"))
    assert f.severity == "high" and "no value arrives" in f.message


def test_every_primary_action_of_the_shapes_is_judged():
    """No primary action of these shapes is left unjudged: each is a macro, or some rule speaks of it."""
    shapes = [_app(400, mixed=True)[0], _app(12, mixed=False)[0], _crm(64)[0], _crm(12)[0]]
    for c in shapes:
        h = hierarchy(c)
        spoken = set()
        for rid in ("micro-primary-goal", "returning-user-conversion"):
            spoken |= {r for f in outcome(rid, c).findings for r in f.resources}
        for a in c.ads.primary_actions:
            assert h.action(a).strength == "macro" or a.resource_name in spoken, (c.profile, a.name)
            assert not (h.action(a).returning and h.action(a).strength == "macro")
