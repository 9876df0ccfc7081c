"""The five mission rules: a pass case, a fail case and the false-positive traps of each."""

from __future__ import annotations

from dataclasses import replace

from builders import action, ads, client, findings, ga4, outcome

SHOP_EVENTS = {"session_start": 50_000, "page_view": 180_000, "view_item": 22_000, "view_item_list": 30_000,
               "add_to_cart": 4_000, "begin_checkout": 1_800, "add_shipping_info": 1_500, "add_payment_info": 1_300,
               "purchase": 900, "generate_lead": 40}


# --- overflagged-key-events -------------------------------------------------------------------------------

def test_overflagged_passes_a_short_list_of_outcomes():
    c = client(ga4(SHOP_EVENTS, ["purchase", "generate_lead"]))
    assert findings("overflagged-key-events", c) == []


def test_overflagged_counts_over_threshold_and_lists_volumes():
    keys = ["purchase", "generate_lead", "add_to_cart", "begin_checkout", "add_payment_info", "add_shipping_info"]
    (f,) = findings("overflagged-key-events", client(ga4(SHOP_EVENTS, keys)))
    assert "6 key events (threshold 5)" in f.message
    assert "add_to_cart (4,000)" in f.message and "purchase (900)" in f.message
    assert len(f.resources) == 6


def test_overflagged_threshold_is_configurable():
    keys = ["purchase", "generate_lead", "add_to_cart", "begin_checkout", "add_payment_info", "add_shipping_info"]
    assert findings("overflagged-key-events", client(ga4(SHOP_EVENTS, keys)), max_key_events=6) == []


def test_overflagged_flags_weak_and_automatic_key_events_even_when_few():
    c = client(ga4(SHOP_EVENTS, ["purchase", "page_view", "session_start"]))
    fs = findings("overflagged-key-events", c)
    assert {f.severity for f in fs} == {"high"}
    # session_start counts people who come back: returning-user-conversion's, so each weak key event is told once
    back = findings("returning-user-conversion", c)
    by_event = {f.evidence.event: f for f in fs + back}
    assert len(fs + back) == 2
    assert set(by_event) == {"page_view", "session_start"}  # one finding per weak key event; purchase is the macro
    assert "page_view (180,000 events in 28 days)" in by_event["page_view"].message
    assert "session_start (50,000 events in 28 days)" in by_event["session_start"].message
    assert by_event["session_start"].rule == "returning-user-conversion"
    assert by_event["session_start"].evidence.returning
    assert by_event["page_view"].evidence.strength == "low" and by_event["page_view"].evidence.macro == "purchase"


def test_overflagged_flags_a_key_event_dwarfing_the_macro():
    # add_to_cart fires six times per user: a real micro by its users (9% reach purchase), yet 33x the macro's events
    c = client(ga4(SHOP_EVENTS, ["purchase", "add_to_cart"]))
    events = tuple(replace(e, event_count=30_000, total_users=5_000) if e.event_name == "add_to_cart" else e
                   for e in c.ga4.events)
    c = replace(c, ga4=replace(c.ga4, events=events))
    (f,) = findings("overflagged-key-events", c)
    assert "add_to_cart (30,000 events in 28 days)" in f.message and "purchase (900)" in f.message
    assert f.severity == "medium" and f.evidence.strength == "medium" and f.evidence.basis == "ratio"


def test_overflagged_no_dwarf_check_without_macro_volume():
    events = {"add_to_cart": 30_000, "purchase": 0}
    assert findings("overflagged-key-events", client(ga4(events, ["purchase", "add_to_cart"]))) == []


def test_overflagged_does_not_apply_to_ads_only_client():
    assert outcome("overflagged-key-events", client(ads=ads(action("Purchase")))).status == "not_applicable"


# --- micro-primary-goal -----------------------------------------------------------------------------------

def test_micro_primary_passes_macro_primaries_and_secondary_micros():
    c = client(ads=ads(action("Purchase", conversions=500),
                       action("Add to cart", "ADD_TO_CART", primary=False, ga4_event="add_to_cart"),
                       action("Page view", "PAGE_VIEW", primary=False)))
    assert findings("micro-primary-goal", c) == []


def test_micro_primary_flags_weak_micro_high_even_in_low_volume_account():
    c = client(ads=ads(action("Lead", "SUBMIT_LEAD_FORM", conversions=8), action("Page view", "PAGE_VIEW")))
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "high" and "weak micro" in f.message and f.resources[0].endswith(f.resources[0][-4:])


def test_micro_primary_strong_micro_in_low_volume_account_is_a_note():
    c = client(ads=ads(action("Consultation", "SUBMIT_LEAD_FORM", conversions=14),
                       action("Qualified pricing visit", "ENGAGEMENT", ga4_event="qualified_pricing_visit",
                              conversions=140)), profile="lead-gen")
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "info"
    assert "below 30" in f.message and "legitimate" in f.message


def test_micro_primary_strong_micro_with_enough_macro_volume_is_high():
    c = client(ads=ads(action("Purchase", conversions=600), action("Add to cart", "ADD_TO_CART", conversions=3000)))
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "high" and "600" in f.message


def test_micro_primary_ga4_event_name_wins_over_category():
    # A GA4 import of video_start filed under a lead category is still a weak micro.
    c = client(ads=ads(action("Purchase", conversions=600),
                       action("Video", "SUBMIT_LEAD_FORM", ga4_event="video_start")))
    (f,) = findings("micro-primary-goal", c)
    assert "weak micro" in f.message


def test_micro_primary_ignores_removed_actions_and_says_what_it_cannot_place():
    c = client(ads=ads(action("Purchase", conversions=600),
                       action("Old page view", "PAGE_VIEW", status="REMOVED"),
                       action("Hidden scroll", "ENGAGEMENT", status="HIDDEN"),
                       action("Something new", "SOME_FUTURE_CATEGORY")))
    # removed and hidden actions are history; an action nothing places is never skipped in silence
    fs = findings("micro-primary-goal", c)
    assert [f.resources for f in fs] == [(c.ads.actions[3].resource_name,)]
    assert fs[0].severity == "medium" and "nothing places it" in fs[0].message


def test_micro_primary_system_managed_is_not_actionable():
    c = client(ads=ads(action("Calls", "PHONE_CALL_LEAD", conversions=40),
                       action("Smart campaign map directions", "GET_DIRECTIONS", type="SMART_CAMPAIGN_MAP_DIRECTIONS",
                              origin="GOOGLE_HOSTED")), profile="lead-gen")
    (f,) = findings("micro-primary-goal", c)
    assert not f.actionable and f.severity == "info"


def test_micro_primary_threshold_is_configurable():
    c = client(ads=ads(action("Purchase", conversions=40), action("Add to cart", "ADD_TO_CART")))
    (f,) = findings("micro-primary-goal", c, low_volume_threshold=50)
    assert f.severity == "info"


# --- split-event-naming -----------------------------------------------------------------------------------

def test_split_naming_groups_case_separator_and_camel_variants():
    events = {"sign_up": 1200, "signup": 310, "Sign_Up": 12, "add_to_cart": 900, "addToCart": 40}
    fs = findings("split-event-naming", client(ga4(events)))
    assert len(fs) == 2
    by_first = {f.resources[0]: f for f in fs}
    assert set(by_first["sign_up"].resources) == {"sign_up", "signup", "Sign_Up"}
    assert "keep 'sign_up'" in by_first["sign_up"].message and "signup (310" in by_first["sign_up"].message
    assert "keep 'add_to_cart'" in by_first["add_to_cart"].message


def test_split_naming_keeps_recommended_name_even_when_less_busy():
    (f,) = findings("split-event-naming", client(ga4({"SignUp": 5000, "sign_up": 10})))
    assert "keep 'sign_up'" in f.message


def test_split_naming_merges_configured_synonyms():
    (f,) = findings("split-event-naming", client(ga4({"sign_up": 100, "registration": 80})))
    assert set(f.resources) == {"sign_up", "registration"} and "keep 'sign_up'" in f.message


def test_split_naming_keeps_busiest_when_no_recommended_name():
    (f,) = findings("split-event-naming", client(ga4({"pdf_download": 10, "PdfDownload": 500})))
    assert "keep 'PdfDownload'" in f.message


def test_split_naming_does_not_merge_distinct_events():
    events = {"view_item": 100, "view_item_list": 300, "add_payment_info": 50, "add_shipping_info": 60,
              "purchase": 10, "refund": 1}
    assert findings("split-event-naming", client(ga4(events, ["purchase"]))) == []


def test_split_naming_sees_ads_imports_and_key_events():
    c = client(ga4({"generate_lead": 50}, ["generate_lead"]),
               ads(action("Lead", "SUBMIT_LEAD_FORM", ga4_event="Generate_Lead")))
    (f,) = findings("split-event-naming", c)
    assert set(f.resources) == {"generate_lead", "Generate_Lead"}
    assert "Ads GA4 imports" in f.message


# --- missing-conversion-value -----------------------------------------------------------------------------

def test_missing_value_passes_valued_primaries_and_ignores_secondaries():
    c = client(ads=ads(action("Purchase", value=25_000.0),
                       action("Lead", "SUBMIT_LEAD_FORM", default=40.0),
                       action("Add to cart", "ADD_TO_CART", primary=False)))
    assert findings("missing-conversion-value", c) == []


def test_missing_value_flags_primary_without_value():
    (f,) = findings("missing-conversion-value", client(ads=ads(action("Book", "BOOK_APPOINTMENT", conversions=22))))
    assert "no value" in f.message and "22 conv." in f.message


def test_missing_value_flags_placeholder_on_purchase_only():
    c = client(ads=ads(action("Purchase", default=1.0, always_default=True, value=446.0),
                       action("Call", "PHONE_CALL_LEAD", default=1.0, always_default=True, value=30.0)))
    (f,) = findings("missing-conversion-value", c)
    assert "'Purchase'" in f.message and "placeholder" in f.message


def test_missing_value_placeholder_default_that_the_tag_never_overrides_is_no_value():
    # default 1, "always use the default value" off, yet the 30-day value is exactly conversions x 1: no value sent
    c = client(ads=ads(action("Purchase", conversions=431, default=1.0, value=431.0),
                       action("Shop order", conversions=200, default=1.0, value=18_400.0),
                       action("Call", "PHONE_CALL_LEAD", conversions=30, default=1.0, value=30.0)))
    (f,) = findings("missing-conversion-value", c)
    assert "'Purchase'" in f.message and "431 conv. x the placeholder default 1" in f.message
    assert "sends no value" in f.message and "always" not in f.message
    c = client(ads=ads(action("Purchase", conversions=50, default=0.0, value=0.0)))
    (f,) = findings("missing-conversion-value", c)  # a zero default is no default at all
    assert "has no value" in f.message


def test_missing_value_flags_macro_key_event_without_values():
    c = client(ga4({"purchase": 900, "contact_form_submit": 214}, ["purchase", "contact_form_submit"],
                   values={"purchase": 81_000.0}))
    (f,) = findings("missing-conversion-value", c)
    assert "contact_form_submit" in f.message and "214 events" in f.message


def test_missing_value_key_event_default_value_or_unfired_is_fine():
    c = client(ga4({"generate_lead": 30, "purchase": 0}, ["generate_lead", "purchase"], defaults={"generate_lead": 50}))
    assert findings("missing-conversion-value", c) == []


def test_missing_value_skips_system_managed_actions():
    c = client(ads=ads(action("Directions", "GET_DIRECTIONS", type="SMART_CAMPAIGN_MAP_DIRECTIONS",
                              origin="GOOGLE_HOSTED")))
    assert findings("missing-conversion-value", c) == []


# --- duplicate-conversion-action --------------------------------------------------------------------------

def test_duplicate_flags_tag_and_ga4_import_both_primary_and_demotes_the_import():
    tag = action("Purchase", conversions=446)
    imp = action("purchase (GA4)", ga4_event="purchase", conversions=419)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(tag, imp)))
    assert set(f.resources) == {tag.resource_name, imp.resource_name}
    assert "keep 'Purchase', demote 'purchase (GA4)' to secondary" in f.message and f.severity == "critical"


def test_duplicate_tag_and_secondary_import_is_fine():
    c = client(ads=ads(action("Purchase"), action("purchase (GA4)", ga4_event="purchase", primary=False)))
    assert findings("duplicate-conversion-action", c) == []


def test_duplicate_flags_one_ga4_event_imported_twice():
    a = action("Lead (GA4)", "SUBMIT_LEAD_FORM", ga4_event="generate_lead", conversions=30)
    b = action("generate_lead import", "SUBMIT_LEAD_FORM", ga4_event="generate_lead", conversions=29, primary=False)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(a, b)))
    assert "imported twice" in f.message and "remove 'generate_lead import'" in f.message


def test_duplicate_flags_same_normalised_name_and_category_as_one_group():
    a, b, c = (action("Book appointment", "BOOK_APPOINTMENT", conversions=23),
               action("Book Appointment ", "BOOK_APPOINTMENT", conversions=19),
               action("book_appointment", "BOOK_APPOINTMENT", conversions=0))
    (f,) = findings("duplicate-conversion-action", client(ads=ads(a, b, c)))
    assert len(f.resources) == 3 and "3 times" in f.message and "keep 'Book appointment'" in f.message


def test_duplicate_never_flags_removed_or_hidden_copies():
    c = client(ads=ads(action("Purchase"), action("Purchase", status="REMOVED"), action("purchase", status="HIDDEN")))
    assert findings("duplicate-conversion-action", c) == []


def test_duplicate_same_name_other_category_is_fine():
    c = client(ads=ads(action("Contact", "SUBMIT_LEAD_FORM"), action("Contact", "PHONE_CALL_LEAD")))
    assert findings("duplicate-conversion-action", c) == []


def test_duplicate_never_asks_to_demote_a_system_managed_action():
    managed = action("Calls", "PHONE_CALL_LEAD", type="SMART_CAMPAIGN_TRACKED_CALLS", origin="GOOGLE_HOSTED",
                     conversions=5)
    own = action("calls", "PHONE_CALL_LEAD", conversions=50)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(managed, own)))
    assert "keep 'Calls', demote 'calls' to secondary" in f.message


def test_duplicate_both_secondary_is_low():
    c = client(ads=ads(action("Newsletter", "SIGNUP", primary=False), action("newsletter", "SIGNUP", primary=False)))
    (f,) = findings("duplicate-conversion-action", c)
    assert f.severity == "low"
