"""The campaign, tracking, attribution and trend rules, the mapping of the files they read, and the vitals that
the trend rule compares: for each rule a case that fires, one that does not, not run (file absent) and not
applicable, on snapshots built with tests/builders.py; then what the bundled samples demonstrate."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from builders import (
    account_goal,
    action,
    ads,
    ads_key_events,
    attribution,
    campaign,
    campaign_goal,
    client,
    custom_goal,
    earlier_run,
    findings,
    ga4,
    outcome,
    ruleset,
    tracking,
    with_ads,
    with_ga4,
    with_history,
)

from auditor import vitals
from auditor.audit import audit_folder
from auditor.errors import FixtureError
from auditor.hierarchy import Hierarchy
from auditor.mapping import map_client
from auditor.model import ClientHistory
from auditor.raw import RawClient

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER = "1234567890"
NEW_RULES = ("smart-bidding-low-volume", "campaign-goal-override", "value-bidding-without-values",
             "auto-tagging-disabled", "ga4-ads-discrepancy", "ga4-export-scope", "funnel-step-drop")
EVENTS = {"session_start": 20_000, "page_view": 80_000, "view_item": 12_000, "add_to_cart": 2_400,
          "begin_checkout": 900, "add_payment_info": 600, "purchase": 450}


def shop_ga4(**kw):
    return ga4(EVENTS, key_events=("purchase",), values={"purchase": 39_000.0}, links=(CUSTOMER,), **kw)


def purchase(conversions: float = 410.0, **kw):
    kw.setdefault("value", conversions * 87.5)
    return action("Purchase (GA4)", "PURCHASE", ga4_event="purchase", conversions=conversions, **kw)


def shop(*campaigns, actions=None, goals=None, custom_goals=None, g=None):
    a = ads(*(actions if actions is not None else (purchase(),)))
    a = with_ads(a, campaigns=tuple(campaigns), goals=goals, custom_goals=custom_goals, tracking=tracking())
    return client(g if g is not None else shop_ga4(), a)


def status(rule_id: str, c, **params) -> str:
    return outcome(rule_id, c, **params).status


def test_every_new_rule_is_registered_documented_and_valued():
    rs = ruleset()
    _, settings = rs.for_profile("ecommerce")
    for rid in NEW_RULES:
        rule = rs.rules[rid]
        assert rule.id == rid and rid in rs.base, rid
        assert len(rule.doc) > 200 and rule.rationale and rule.example and rule.evidence and rule.references
        assert " > " in rule.remediation and "API" in rule.remediation, rid
        assert all(settings[rid].params[k] is not None for k in rule.params), rid
    assert rs.rules["funnel-step-drop"].category == "monitoring"


# --- smart-bidding-low-volume ----------------------------------------------------------------------------------

def test_smart_bidding_flags_a_starving_target_cpa_campaign_with_its_best_proxy():
    c = shop(campaign("Search - Sofas", "TARGET_CPA", conversions=11, target_cpa=45))
    (f,) = findings("smart-bidding-low-volume", c)
    assert f.severity == "high"
    assert "campaign 'Search - Sofas' (SEARCH, TARGET_CPA (target 45.00 EUR))" in f.message
    assert "11 conv. in 30 days on the goals it bids on (below 30)" in f.message
    assert "best micro proxy for it: GA4 event 'add_payment_info'" in f.message  # highest rate to purchase
    assert f.evidence is not None and f.evidence.event == "add_payment_info" and f.evidence.strength == "very_high"
    assert "campaign-specific goal" in f.remediation and "'Search - Sofas'" in f.remediation
    assert f.resources[0].endswith("/campaigns/" + c.ads.campaigns[0].id)


@pytest.mark.parametrize("strategy, kw, label", [
    ("TARGET_ROAS", {"target_roas": 4.0}, "TARGET_ROAS (target 400%)"),
    ("MAXIMIZE_CONVERSION_VALUE", {"target_roas": 3.5}, "MAXIMIZE_CONVERSION_VALUE (target 350%)"),
    ("MAXIMIZE_CONVERSIONS", {}, "MAXIMIZE_CONVERSIONS)"),
    ("MAXIMIZE_CONVERSIONS", {"target_cpa": 12.5}, "MAXIMIZE_CONVERSIONS (target 12.50 EUR)"),
])
def test_smart_bidding_names_each_automated_strategy_as_the_api_does(strategy, kw, label):
    c = shop(campaign("PMax - All", strategy, channel="PERFORMANCE_MAX", conversions=4, **kw))
    (f,) = findings("smart-bidding-low-volume", c)
    assert label in f.message and "PERFORMANCE_MAX" in f.message


@pytest.mark.parametrize("strategy", ["MANUAL_CPC", "MANUAL_CPM", "TARGET_SPEND", "TARGET_IMPRESSION_SHARE",
                                      "ENHANCED_CPC", "UNKNOWN"])
def test_smart_bidding_leaves_manual_and_click_strategies_alone(strategy):
    assert findings("smart-bidding-low-volume", shop(campaign("Search - Brand", strategy, conversions=2))) == []


def test_smart_bidding_leaves_paused_campaigns_and_enough_volume_alone():
    c = shop(campaign("Winter sale", "TARGET_CPA", status="PAUSED", conversions=3),
             campaign("Generic", "TARGET_CPA", conversions=30))
    assert findings("smart-bidding-low-volume", c) == []
    assert len(findings("smart-bidding-low-volume", c, low_volume_threshold=31)) == 1


def test_smart_bidding_without_a_strong_micro_says_none_measures_strong_enough():
    g = ga4({"session_start": 20_000, "page_view": 80_000, "purchase": 450}, key_events=("purchase",))
    (f,) = findings("smart-bidding-low-volume", shop(campaign("Search", "TARGET_CPA", conversions=9), g=g))
    assert "no micro before the account's macro measures strong enough" in f.message and f.evidence is None


def test_smart_bidding_a_proxy_already_in_its_goals_is_said():
    atc = action("Add to cart (GA4)", "ADD_TO_CART", ga4_event="add_to_cart", conversions=900)
    c = shop(campaign("Search", "TARGET_CPA", conversions=12, level="CAMPAIGN",
                      goals=[("PURCHASE", "WEBSITE", True), ("ADD_TO_CART", "WEBSITE", True)]),
             actions=(purchase(), atc))
    (f,) = findings("smart-bidding-low-volume", c)
    assert "already include the micro 'Add to cart (GA4)'" in f.message and f.evidence.action == "Add to cart (GA4)"


def test_smart_bidding_not_run_without_campaigns_and_not_applicable_without_ads():
    c = client(shop_ga4(), ads(purchase()))
    o = outcome("smart-bidding-low-volume", c)
    assert o.status == "not_run" and o.reason == "ads/campaigns.json was not collected"
    assert status("smart-bidding-low-volume", client(shop_ga4())) == "not_applicable"
    assert status("smart-bidding-low-volume", shop()) == "pass"  # collected, no campaign


def test_low_bidding_volume_says_it_is_the_account_wide_view():
    c = client(shop_ga4(), ads(purchase(14)))
    (f,) = findings("low-bidding-volume", c)
    assert "(below 30) across the account" in f.message and "smart-bidding-low-volume" in f.message


# --- campaign-goal-override ------------------------------------------------------------------------------------

PAGE_VIEW = dict(name="Page view - product", category="PAGE_VIEW", conversions=9_000)


def goals_shop(*campaigns, macro_conv: float = 410.0, extra=(), account_goals=True):
    page = action(**PAGE_VIEW)
    atc = action("Add to cart (GA4)", "ADD_TO_CART", ga4_event="add_to_cart", conversions=1_800)
    tour = action("Office tour 360", "ENGAGEMENT", conversions=50)
    goals = (account_goal("PURCHASE"), account_goal("PAGE_VIEW", biddable=False),
             account_goal("ADD_TO_CART", biddable=False), account_goal("ENGAGEMENT", biddable=False))
    return shop(*campaigns, actions=(purchase(macro_conv), page, atc, tour, *extra),
                goals=goals if account_goals else None)


def specific(name: str, *categories: str, **kw):
    return campaign(name, "TARGET_CPA", conversions=200, level="CAMPAIGN",
                    goals=[campaign_goal(cat) for cat in categories], **kw)


def test_goal_override_flags_a_weak_micro_the_account_default_does_not_bid_on():
    c = goals_shop(specific("Shopping - All", "PURCHASE", "PAGE_VIEW"))
    (f,) = findings("campaign-goal-override", c)
    assert f.severity == "high" and "campaign 'Shopping - All'" in f.message
    assert "'Page view - product' (PAGE_VIEW, 9,000 conv. in 30 days) is a weak micro" in f.message
    assert "categories the account-default goals do not bid on" in f.message
    assert f.evidence is not None and f.evidence.strength == "low"
    # the account default does not bid on PAGE_VIEW: not micro-primary-goal's finding
    assert all("Page view" not in x.message for x in findings("micro-primary-goal", c))


def test_micro_primary_goal_without_goals_collected_judges_every_primary_as_before():
    c = goals_shop(specific("Shopping - All", "PURCHASE", "PAGE_VIEW"), account_goals=False)
    assert any("'Page view - product'" in f.message for f in findings("micro-primary-goal", c))
    assert findings("campaign-goal-override", c) == []  # every primary micro is micro-primary-goal's then


def test_micro_primary_goal_respects_the_account_default_goals():
    page = action(**PAGE_VIEW)
    on = client(shop_ga4(), with_ads(ads(purchase(), page), goals=(account_goal("PURCHASE"),
                                                                   account_goal("PAGE_VIEW"))))
    off = client(shop_ga4(), with_ads(ads(purchase(), page), goals=(account_goal("PURCHASE"),
                                                                    account_goal("PAGE_VIEW", biddable=False))))
    assert len(findings("micro-primary-goal", on)) == 1
    assert findings("micro-primary-goal", off) == []


def test_goal_override_a_strong_micro_is_medium_with_macro_volume_and_fine_without():
    c = goals_shop(specific("Display - Cart", "PURCHASE", "ADD_TO_CART"))
    (f,) = findings("campaign-goal-override", c)
    assert f.severity == "medium" and "a strong micro, a proxy only while this campaign's own macro" in f.message
    assert f.evidence.strength in ("medium", "high")
    assert findings("campaign-goal-override", goals_shop(specific("Display - Cart", "PURCHASE", "ADD_TO_CART"),
                                                         macro_conv=12)) == []


def test_goal_override_caps_a_micro_of_unknown_strength_at_medium():
    c = goals_shop(specific("Search - Tours", "PURCHASE", "ENGAGEMENT"))
    (f,) = findings("campaign-goal-override", c)
    assert f.severity == "medium" and "cannot establish" in f.message and f.evidence.strength == "unknown"


def test_goal_override_flags_a_custom_goal_with_a_weak_micro_even_a_secondary_one():
    video = action("Explainer video play", "ENGAGEMENT", ga4_event="video_start", primary=False, conversions=0,
                   all_conversions=300)
    p = purchase()
    goal = custom_goal("Sales + video plays", p, video)
    c = shop(campaign("Search - Employment", "MAXIMIZE_CONVERSIONS", conversions=120, level="CAMPAIGN",
                      custom_goal=goal.resource_name), actions=(p, video), custom_goals=(goal,))
    (f,) = findings("campaign-goal-override", c)
    assert f.severity == "high" and "custom goal 'Sales + video plays'" in f.message
    # a secondary action counts in All conversions only, and the count says so
    assert ("'Explainer video play' (ENGAGEMENT, GA4 event video_start, secondary, 300 all conv. in 30 days) is a weak "
            "micro") in f.message
    assert video.resource_name in f.resources


def test_goal_override_flags_goals_that_leave_out_the_macro():
    atc = action("Add to cart (GA4)", "ADD_TO_CART", ga4_event="add_to_cart", conversions=1_800)
    p = purchase()
    goal = custom_goal("Carts only", atc)
    c = shop(campaign("PMax", "MAXIMIZE_CONVERSIONS", conversions=800, custom_goal=goal.resource_name),
             specific("Display", "ADD_TO_CART"), actions=(p, atc), custom_goals=(goal,),
             goals=(account_goal("PURCHASE"), account_goal("ADD_TO_CART", biddable=False)))
    fs = [f for f in findings("campaign-goal-override", c) if "leave out the account's macro" in f.message]
    assert len(fs) == 2 and all(f.severity == "high" and "'Purchase (GA4)'" in f.message for f in fs)
    assert {f.message.split("'")[1] for f in fs} == {"PMax", "Display"}
    # what the finding rests on: why 'Purchase (GA4)' is the macro, in the message and the JSON
    assert all(f.evidence is not None and f.evidence.strength == "macro" and f.evidence.text() in f.message
               for f in fs)


def test_goal_override_leaves_account_default_paused_and_manual_campaigns_alone():
    c = goals_shop(campaign("Generic", "TARGET_CPA", conversions=300, level="CUSTOMER"),
                   specific("Paused", "PAGE_VIEW", status="PAUSED"),
                   replace(specific("Manual", "PAGE_VIEW"), bidding_strategy_type="MANUAL_CPC"))
    assert findings("campaign-goal-override", c) == []


def test_goal_override_not_run_when_no_campaign_goals_were_collected():
    c = shop(campaign("Generic", "TARGET_CPA", conversions=300))
    o = outcome("campaign-goal-override", c)
    assert o.status == "not_run" and "conversion_goal_campaign_configs.json" in o.reason
    assert status("campaign-goal-override", client(shop_ga4(), ads(purchase()))) == "not_run"
    assert status("campaign-goal-override", client(shop_ga4())) == "not_applicable"


# --- value-bidding-without-values ------------------------------------------------------------------------------

def roas(name: str = "Shopping - All", **kw):
    kw.setdefault("level", "CUSTOMER")
    return campaign(name, "TARGET_ROAS", conversions=420, value=36_000, target_roas=4.0, **kw)


def test_value_bidding_flags_a_placeholder_value():
    p = purchase(default=1.0, always_default=True, value=410)
    c = shop(roas(), actions=(p,), goals=(account_goal("PURCHASE"),))
    (f,) = findings("value-bidding-without-values", c)
    assert f.severity == "high" and "TARGET_ROAS (target 400%)" in f.message
    assert "'Purchase (GA4)' (PURCHASE) has a placeholder value: it always uses the default 1" in f.message


def test_value_bidding_flags_one_constant_value_and_no_value():
    constant = purchase(default=50.0, value=410 * 50.0)
    lead = action("Lead form", "SUBMIT_LEAD_FORM", conversions=20, value=0.0)
    c = shop(roas(), actions=(constant, lead), goals=(account_goal("PURCHASE"), account_goal("SUBMIT_LEAD_FORM")))
    (f,) = findings("value-bidding-without-values", c)
    assert "one constant value: 410 conv. worth 20,500.00 in 30 days, exactly the default 50.00 each" in f.message
    assert "'Lead form' (SUBMIT_LEAD_FORM) has no value" in f.message


def test_value_bidding_passes_real_values_and_other_strategies():
    assert findings("value-bidding-without-values", shop(roas(), goals=(account_goal("PURCHASE"),))) == []
    p = purchase(default=1.0, always_default=True, value=410)
    c = shop(campaign("Search", "TARGET_CPA", conversions=100), roas("Paused", status="PAUSED"), actions=(p,))
    assert findings("value-bidding-without-values", c) == []


def test_value_bidding_judges_only_the_goals_the_campaign_bids_on():
    p = purchase()
    lead = action("Lead form", "SUBMIT_LEAD_FORM", conversions=20, value=0.0)
    c = shop(roas(level="CAMPAIGN", goals=[campaign_goal("PURCHASE")]), actions=(p, lead))
    assert findings("value-bidding-without-values", c) == []
    c = shop(roas(level="CAMPAIGN", goals=[campaign_goal("PURCHASE"), campaign_goal("SUBMIT_LEAD_FORM")]),
             actions=(p, lead))
    (f,) = findings("value-bidding-without-values", c)
    assert "its campaign-specific goals include" in f.message


def test_value_bidding_capped_at_medium_when_the_campaign_goals_are_assumed():
    lead = action("Lead form", "SUBMIT_LEAD_FORM", conversions=20, value=0.0)
    c = shop(roas(level=None), actions=(purchase(), lead))
    (f,) = findings("value-bidding-without-values", c)
    assert f.severity == "medium" and "assumed" in f.message


def test_value_bidding_a_campaign_whose_conversions_carry_no_value():
    c = shop(replace(roas(), conversions_value=0.0), goals=(account_goal("PURCHASE"),))
    (f,) = findings("value-bidding-without-values", c)
    assert "420 conv. in 30 days are worth 0.00" in f.message and f.severity == "high"


def test_value_bidding_not_run_and_not_applicable():
    assert status("value-bidding-without-values", client(shop_ga4(), ads(purchase()))) == "not_run"
    assert status("value-bidding-without-values", client(shop_ga4())) == "not_applicable"


# --- auto-tagging-disabled -------------------------------------------------------------------------------------

def test_auto_tagging_off_with_ga4_imports_is_high():
    c = client(ga4(EVENTS, links=()), with_ads(ads(purchase()), tracking=tracking(False)))
    (f,) = findings("auto-tagging-disabled", c)
    assert f.severity == "high" and "auto-tagging is off in Google Ads account 1234567890" in f.message
    assert "imports 1 GA4 conversion action(s) ('Purchase (GA4)'; 410 all conv. in 30 days)" in f.message


def test_auto_tagging_off_in_a_linked_account_without_imports():
    tag = action("Purchase", "PURCHASE")
    (f,) = findings("auto-tagging-disabled", client(shop_ga4(), with_ads(ads(tag), tracking=tracking(False))))
    assert "is linked to GA4 property 123456789" in f.message and "imports" not in f.message


def test_auto_tagging_passes_when_on_or_when_nothing_relies_on_ga4():
    assert findings("auto-tagging-disabled", client(shop_ga4(), with_ads(ads(purchase()), tracking=tracking()))) == []
    lone = client(None, with_ads(ads(action("Purchase", "PURCHASE")), tracking=tracking(False)))
    assert findings("auto-tagging-disabled", lone) == []


def test_auto_tagging_not_run_without_the_setting():
    assert status("auto-tagging-disabled", client(shop_ga4(), ads(purchase()))) == "not_run"
    o = outcome("auto-tagging-disabled", client(shop_ga4(), with_ads(ads(purchase()), tracking=tracking(None))))
    assert o.status == "not_run" and "auto_tagging_enabled" in o.reason
    assert status("auto-tagging-disabled", client(shop_ga4())) == "not_applicable"


# --- ga4-ads-discrepancy ---------------------------------------------------------------------------------------

def discrepancy(ads_count: float, credited: float = 100.0, *, primary: bool = True, others=None, all_channel=None):
    g = with_ga4(shop_ga4(), ads_key_events=ads_key_events({"purchase": credited})
                 + ads_key_events(others or {}, customer="9999999999"))
    if all_channel is not None:
        g = replace(g, events=tuple(replace(e, key_events=all_channel) if e.event_name == "purchase" else e
                                    for e in g.events))
    a = purchase(ads_count, primary=primary) if primary else purchase(0, primary=False, all_conversions=ads_count)
    return client(g, ads(a))


def test_discrepancy_compares_per_day_28_against_30_days():
    # 53 in 30 days is 1.77/day; 100 in 28 days is 3.57/day: 49%, below 50% (the raw counts, 53%, would pass)
    (f,) = findings("ga4-ads-discrepancy", discrepancy(53))
    assert "Google Ads recorded 53 all conversions in 30 days (1.8/day)" in f.message
    assert "100 purchase key events in 28 days (3.6/day)" in f.message and "counts 49% of GA4's" in f.message
    assert f.severity == "high"  # both counts solid
    assert findings("ga4-ads-discrepancy", discrepancy(60)) == []  # 56%
    # 160 in 30 days is 5.33/day against 3.57/day: 149%, tolerated (the raw counts, 160%, would not be)
    assert findings("ga4-ads-discrepancy", discrepancy(160)) == []
    (high,) = findings("ga4-ads-discrepancy", discrepancy(170))
    assert "more than GA4 attributes" in high.message


def test_discrepancy_names_the_likely_causes_in_order():
    (f,) = findings("ga4-ads-discrepancy", discrepancy(20))
    causes = f.message.split("likely causes, most likely first: ")[1]
    order = [causes.index(w) for w in ("broken or paused import", "consent", "export scope", "click date")]
    assert order == sorted(order)


def test_discrepancy_never_uses_the_all_channel_total():
    # GA4 counts 1,000 purchases from every channel; 100 are credited to this account, as Ads counts
    assert findings("ga4-ads-discrepancy", discrepancy(105, all_channel=1_000.0, others={"purchase": 900})) == []
    (f,) = findings("ga4-ads-discrepancy", discrepancy(30, all_channel=1_000.0))
    assert "1,000" not in f.message and "100 purchase key events" in f.message


def test_discrepancy_uses_all_conversions_of_a_secondary_import():
    assert findings("ga4-ads-discrepancy", discrepancy(100, primary=False)) == []


def test_discrepancy_thin_counts_are_skipped_or_capped():
    assert findings("ga4-ads-discrepancy", discrepancy(0, credited=15)) == []  # too few on GA4's side
    (f,) = findings("ga4-ads-discrepancy", discrepancy(5))
    assert f.severity == "medium" and "below 20" in f.message


def test_discrepancy_not_run_without_the_attributed_report():
    o = outcome("ga4-ads-discrepancy", client(shop_ga4(), ads(purchase())))
    assert o.status == "not_run" and o.reason == "ga4/ads_key_events.json was not collected"
    assert status("ga4-ads-discrepancy", client(with_ga4(shop_ga4(), ads_key_events=()))) == "not_applicable"


# --- ga4-export-scope ------------------------------------------------------------------------------------------

def scoped(scope: str, primary: bool = True):
    return client(with_ga4(shop_ga4(), attribution=attribution(scope)), ads(purchase(primary=primary)))


def test_export_scope_paid_and_organic_while_bidding_on_imports_is_medium():
    (f,) = findings("ga4-export-scope", scoped("PAID_AND_ORGANIC_CHANNELS"))
    assert f.severity == "medium" and "bids on 1 import(s) from it ('Purchase (GA4)'" in f.message
    assert f.resources[0] == "properties/123456789"


def test_export_scope_not_selected_is_info_and_google_paid_passes():
    (f,) = findings("ga4-export-scope", scoped("NOT_SELECTED_YET"))
    assert f.severity == "info"
    assert findings("ga4-export-scope", scoped("GOOGLE_PAID_CHANNELS")) == []
    assert findings("ga4-export-scope", scoped("PAID_AND_ORGANIC_CHANNELS", primary=False)) == []


def test_export_scope_needs_both_sources_and_the_settings():
    assert status("ga4-export-scope", client(shop_ga4(), ads(purchase()))) == "not_run"
    assert status("ga4-export-scope", client(with_ga4(shop_ga4(), attribution=attribution()))) == "not_applicable"
    assert status("ga4-export-scope", scoped("UNKNOWN")) == "not_run"


# --- funnel-step-drop ------------------------------------------------------------------------------------------

LEAD = dict(name="Lead form", category="SUBMIT_LEAD_FORM", conversions=60.0)


def trend_client(lead_conv: float = 60.0, lead_events: int = 200):
    g = ga4({**EVENTS, "generate_lead": lead_events}, key_events=("purchase", "generate_lead"))
    return client(g, ads(purchase(), action(**{**LEAD, "conversions": lead_conv})))


def now_of(c):
    rs = ruleset()
    tax, _ = rs.for_profile(c.profile)
    return vitals.measure(c, Hierarchy(c, tax), tax, "now")


def runs_like(c, n: int = 3, *, rate_factor=None, daily_factor=None):
    """`n` earlier runs that measured what `c` measures now, with chosen step rates or daily volumes scaled."""
    now = now_of(c)
    out = []
    for i in range(n):
        steps = {(a, b): (r * rate_factor.get((a, b), 1.0) if rate_factor else r) for a, b, r in now.step_rates}
        daily = {k: (v * daily_factor.get(k, 1.0) if daily_factor else v) for k, v in now.daily}
        out.append(earlier_run(f"2025-05-{5 + 7 * i:02d}", steps=steps, daily=daily, key_events=now.key_events,
                               primary_actions=now.primary_actions))
    return out


def test_trend_rule_does_not_apply_without_two_earlier_runs():
    c = trend_client()
    o = outcome("funnel-step-drop", c)
    assert o.status == "not_applicable" and "no earlier runs" in o.reason  # a plain audit: never a pass
    o = outcome("funnel-step-drop", with_history(c, *runs_like(c, 1)))
    assert o.status == "not_applicable" and "1 earlier run(s)" in o.reason
    assert status("funnel-step-drop", replace(c, history=ClientHistory())) == "not_applicable"
    assert status("funnel-step-drop", with_history(c, *runs_like(c, 2))) == "pass"


def test_trend_rule_flags_a_step_rate_that_fell_against_the_median():
    c = trend_client()
    now = now_of(c)
    a, b, rate = next((a, b, r) for a, b, r in now.step_rates if b == "add_to_cart")
    earlier = runs_like(c, 3, rate_factor={(a, b): 2.0})  # it used to be twice as high
    (f,) = findings("funnel-step-drop", with_history(c, *earlier))
    assert f.severity == "high" and f"funnel step {a} → {b}" in f.message
    assert "over 3 earlier runs (2025-05-05, 2025-05-12, 2025-05-19): down 50%" in f.message
    assert f.resources == (a, b)
    # a 20% fall is within the threshold
    assert findings("funnel-step-drop", with_history(c, *runs_like(c, 3, rate_factor={(a, b): 1.25}))) == []


def test_trend_rule_flags_a_primary_action_whose_daily_volume_fell():
    c = trend_client(lead_conv=20)
    earlier = runs_like(trend_client(lead_conv=60), 2)
    (f,) = findings("funnel-step-drop", with_history(c, *earlier))
    assert "Google Ads primary action 'Lead form': 0.7 conv. a day now (30 days), against a median of 2.0" \
        in f.message and "down 67%" in f.message


def test_trend_rule_flags_an_action_and_a_key_event_that_went_silent():
    c = trend_client(lead_conv=0, lead_events=0)
    earlier = runs_like(trend_client(), 2)
    fs = findings("funnel-step-drop", with_history(c, *earlier))
    silent = sorted(f.message for f in fs if "went silent" in f.message)
    assert len(silent) == 2 and all("the last run (2025-05-12)" in m for m in silent)
    assert silent[0].startswith("Google Ads primary action 'Lead form' recorded no conversion in 30 days")
    assert silent[1].startswith("key event generate_lead has no events in 28 days")
    assert not any("a day now" in f.message and "Lead form" in f.message for f in fs)  # said once, as silence


def test_trend_rule_a_demoted_or_removed_action_is_a_change_not_a_drop():
    earlier = runs_like(trend_client(), 2)
    demoted = client(trend_client().ga4, ads(purchase(), action(**{**LEAD, "primary": False, "conversions": 0})))
    removed = client(trend_client().ga4, ads(purchase()))
    assert findings("funnel-step-drop", with_history(demoted, *earlier)) == []
    assert findings("funnel-step-drop", with_history(removed, *earlier)) == []


def test_trend_rule_leaves_small_volumes_to_noise():
    c = trend_client(lead_conv=1)
    earlier = runs_like(trend_client(lead_conv=3), 2)  # 3 a month: a fall to 1 is noise
    assert findings("funnel-step-drop", with_history(c, *earlier)) == []


# --- vitals ----------------------------------------------------------------------------------------------------

def test_vitals_measure_what_a_later_run_compares_and_round_trip_through_json():
    c = trend_client()
    run = now_of(c)
    assert run.step_rates and all(0 <= r for _, _, r in run.step_rates)
    daily = dict(run.daily)
    assert daily["purchase"] == round(225 / 28, 4) and daily["ads:Purchase (GA4)"] == round(410 / 30, 4)
    assert daily["ads:Lead form"] == 2.0 and "purchase" in run.key_events and "generate_lead" in run.key_events
    assert set(run.primary_actions) == {"Purchase (GA4)", "Lead form"}
    j = vitals.to_json(run)
    assert set(j) == {"generated_at", "step_rates", "daily", "key_events", "primary_actions"}
    assert isinstance(j["step_rates"][0], list) and isinstance(j["daily"], dict)
    assert vitals.from_json(json.loads(json.dumps(j))) == run
    assert vitals.from_json({"generated_at": "x"}).step_rates == ()
    with pytest.raises(ValueError, match=r"vitals\.step_rates\[0\]"):  # a damaged run is skipped whole, not half read
        vitals.from_json({"step_rates": [["a", "b"], ["a", "b", 0.5]], "daily": {"y": 2}})


def test_vitals_are_fast():
    c = trend_client()
    tax, _ = ruleset().for_profile(c.profile)
    h = Hierarchy(c, tax)
    vitals.measure(c, h, tax, "warm-up")
    t = time.perf_counter()
    for _ in range(50):
        vitals.measure(c, h, tax, "now")
    assert (time.perf_counter() - t) / 50 < 0.002


# --- mapping of the new files ----------------------------------------------------------------------------------

ACTIONS = [{"results": [{"conversionAction": {
    "resourceName": "customers/123/conversionActions/1", "id": "1", "name": "Purchase", "status": "ENABLED",
    "type": "WEBPAGE", "category": "PURCHASE", "origin": "WEBSITE", "primaryForGoal": True}}]}]
STATS = [{"results": [{"customer": {"id": "123", "currencyCode": "EUR"},
                       "segments": {"conversionAction": "customers/123/conversionActions/1"},
                       "metrics": {"conversions": 40, "allConversions": 41}}]}]
CAMPAIGNS = [{"results": [
    {"campaign": {"resourceName": "customers/123/campaigns/7", "id": "7", "name": "Search", "status": "ENABLED",
                  "advertisingChannelType": "SEARCH", "biddingStrategyType": "TARGET_CPA",
                  "targetCpa": {"targetCpaMicros": "45000000"}},
     "metrics": {"conversions": 10.5, "conversionsValue": 300, "allConversions": 11, "costMicros": "1000000"}},
    {"campaign": {"resourceName": "customers/123/campaigns/7", "id": "7", "name": "Search", "status": "ENABLED",
                  "advertisingChannelType": "SEARCH", "biddingStrategyType": "TARGET_CPA"},
     "metrics": {"conversions": 2, "conversionsValue": 50, "allConversions": 2, "costMicros": "500000"}}]},
    {"results": [{"campaign": {"resource_name": "customers/123/campaigns/8", "name": "PMax", "status": "PAUSED",
                               "advertising_channel_type": "PERFORMANCE_MAX",
                               "bidding_strategy_type": "MAXIMIZE_CONVERSION_VALUE",
                               "maximize_conversion_value": {"target_roas": 4.5}}}]}]
GOALS = [{"results": [{"campaignConversionGoal": {"campaign": "customers/123/campaigns/7", "category": "PURCHASE",
                                                  "origin": "WEBSITE", "biddable": True}},
                      {"campaignConversionGoal": {"campaign": "customers/123/campaigns/7", "category": "PAGE_VIEW",
                                                  "origin": "WEBSITE"}}]}]
CONFIGS = [{"results": [{"conversionGoalCampaignConfig": {
    "campaign": "customers/123/campaigns/8", "goalConfigLevel": "CAMPAIGN",
    "customConversionGoal": "customers/123/customConversionGoals/5"}}]}]
CUSTOM = [{"results": [{"customConversionGoal": {
    "resourceName": "customers/123/customConversionGoals/5", "name": "Sales", "status": "ENABLED",
    "conversionActions": ["customers/123/conversionActions/1"]}}]}]
CUSTOMER_ROW = [{"results": [{"customer": {"id": "123", "autoTaggingEnabled": False, "conversionTrackingSetting": {
    "conversionTrackingStatus": "CONVERSION_TRACKING_MANAGED_BY_SELF", "crossAccountConversionTrackingId": "99",
    "acceptedCustomerDataTerms": True}}}]}]
PROPERTY = [{"name": "properties/42"}]
ADS_KEY_EVENTS = [{"dimensionHeaders": [{"name": "eventName"}, {"name": "googleAdsCustomerId"}],
                   "metricHeaders": [{"name": "keyEvents"}],
                   "rows": [{"dimensionValues": [{"value": "purchase"}, {"value": "123-456-7890"}],
                             "metricValues": [{"value": "12"}]},
                            {"dimensionValues": [{"value": "purchase"}, {"value": "1234567890"}],
                             "metricValues": [{"value": "3.5"}]},
                            {"dimensionValues": [{"value": "purchase"}, {"value": "(not set)"}],
                             "metricValues": [{"value": "400"}]},
                            {"dimensionValues": [{"value": "purchase"}, {"value": "4567"}],
                             "metricValues": [{"value": "1"}]}]}]
ATTRIBUTION = [{"name": "properties/42/attributionSettings",
                "reportingAttributionModel": "PAID_AND_ORGANIC_CHANNELS_DATA_DRIVEN",
                "acquisitionConversionEventLookbackWindow": "ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_30_DAYS",
                "otherConversionEventLookbackWindow": "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_90_DAYS",
                "adsWebConversionDataExportScope": "PAID_AND_ORGANIC_CHANNELS"}]


def mapped(**files):
    bodies = {"ads/conversion_actions.json": ACTIONS, "ads/conversion_stats.json": STATS,
              "ga4/property.json": PROPERTY, "ga4/key_events.json": [{}], "ga4/events.json": [{}]}
    bodies.update({k.replace("__", "/").replace("_json", ".json"): v for k, v in files.items()})
    return map_client(RawClient(name="t", bodies=bodies, origin="fx"), "ecommerce")


def test_mapping_leaves_absent_files_not_collected():
    c = mapped()
    assert c.ads.tracking is None and c.ads.campaigns is None and c.ads.custom_goals is None
    assert c.ga4.attribution is None and c.ga4.ads_key_events is None and c.history is None


def test_mapping_reads_campaigns_with_goals_configs_and_custom_goals():
    c = mapped(ads__campaigns_json=CAMPAIGNS, ads__campaign_conversion_goals_json=GOALS,
               ads__conversion_goal_campaign_configs_json=CONFIGS, ads__custom_conversion_goals_json=CUSTOM)
    search, pmax = c.ads.campaigns
    assert (search.name, search.bidding_strategy_type, search.target_cpa_micros) == ("Search", "TARGET_CPA", 45_000_000)
    assert (search.conversions, search.conversions_value, search.all_conversions, search.cost_micros) == \
        (12.5, 350.0, 13.0, 1_500_000)  # rows of one campaign summed
    assert [(g.category, g.biddable) for g in search.goals] == [("PURCHASE", True), ("PAGE_VIEW", False)]
    assert search.goal_config_level is None and search.custom_goal is None  # no config row for it
    assert (pmax.id, pmax.status, pmax.channel_type, pmax.target_roas) == ("8", "PAUSED", "PERFORMANCE_MAX", 4.5)
    assert pmax.goals == () and pmax.goal_config_level == "CAMPAIGN"
    assert pmax.custom_goal == "customers/123/customConversionGoals/5"
    (goal,) = c.ads.custom_goals
    assert goal.name == "Sales" and goal.actions == ("customers/123/conversionActions/1",)


def test_mapping_joins_nothing_when_the_goal_files_are_absent():
    c = mapped(ads__campaigns_json=CAMPAIGNS)
    assert all(x.goals is None and x.goal_config_level is None for x in c.ads.campaigns)
    assert mapped(ads__campaigns_json=[{"results": []}]).ads.campaigns == ()


def test_mapping_reads_tracking_attribution_and_attributed_key_events():
    c = mapped(ads__customer_json=CUSTOMER_ROW, ga4__attribution_settings_json=ATTRIBUTION,
               ga4__ads_key_events_json=ADS_KEY_EVENTS)
    t = c.ads.tracking
    assert t.auto_tagging_enabled is False and t.conversion_tracking_status == "CONVERSION_TRACKING_MANAGED_BY_SELF"
    assert t.cross_account_conversion_tracking_id == "99" and t.accepted_customer_data_terms is True
    assert c.ga4.attribution.ads_export_scope == "PAID_AND_ORGANIC_CHANNELS"
    assert c.ga4.attribution.other_lookback == "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_90_DAYS"
    rows = sorted((r.event_name, r.customer_id, r.key_events) for r in c.ga4.ads_key_events)
    assert rows == [("purchase", "0000004567", 1.0), ("purchase", "1234567890", 15.5)]  # (not set) skipped
    assert mapped(ga4__ads_key_events_json=[{"rows": []}]).ga4.ads_key_events == ()
    assert mapped(ads__customer_json=[{"results": []}]).ads.tracking.auto_tagging_enabled is None


def test_mapping_warns_on_unknown_enums_and_rejects_bad_numbers():
    odd = json.loads(json.dumps(CAMPAIGNS))
    odd[0]["results"][0]["campaign"]["biddingStrategyType"] = "TARGET_MOON"
    c = mapped(ads__campaigns_json=odd)
    assert c.ads.campaigns[0].bidding_strategy_type == "TARGET_MOON"
    assert any("fx/ads/campaigns.json" in w and "biddingStrategyType" in w and "TARGET_MOON" in w for w in c.warnings)
    bad = json.loads(json.dumps(CAMPAIGNS))
    bad[0]["results"][0]["metrics"]["conversions"] = "lots"
    with pytest.raises(FixtureError) as e:
        mapped(ads__campaigns_json=bad)
    assert "fx/ads/campaigns.json" in str(e.value) and "conversions" in str(e.value)
    bad_ids = json.loads(json.dumps(ADS_KEY_EVENTS))
    bad_ids[0]["rows"][0]["dimensionValues"][1]["value"] = "abc"
    c = mapped(ga4__ads_key_events_json=bad_ids)
    assert any("ads_key_events.json" in w and "not a Google Ads customer id" in w for w in c.warnings)
    with pytest.raises(FixtureError, match="googleAdsCustomerId"):
        mapped(ga4__ads_key_events_json=[{"dimensionHeaders": [{"name": "eventName"}],
                                          "metricHeaders": [{"name": "keyEvents"}],
                                          "rows": [{"dimensionValues": [{"value": "x"}]}]}])


def test_mapping_reads_snake_case_like_camel_case():
    snake = [{"results": [{"customer": {"auto_tagging_enabled": True, "conversion_tracking_setting": {
        "conversion_tracking_status": "NOT_CONVERSION_TRACKED"}}}]}]
    t = mapped(ads__customer_json=snake).ads.tracking
    assert t.auto_tagging_enabled is True and t.conversion_tracking_status == "NOT_CONVERSION_TRACKED"


def test_mapping_carries_the_history_over():
    h = ClientHistory(runs=(earlier_run("2025-05-05"),))
    bodies = {"ads/conversion_actions.json": ACTIONS, "ads/conversion_stats.json": STATS}
    c = map_client(RawClient(name="t", bodies=bodies, history=h), "ecommerce")
    assert c.history is h


# --- the bundled samples ---------------------------------------------------------------------------------------

def _samples_have_campaigns() -> bool:
    return (ROOT / "fixtures/brightcart-home/ads/campaigns.json").is_file()


needs_samples = pytest.mark.skipif(not _samples_have_campaigns(), reason="sample campaign files not recorded yet")


def _by_rule(name: str):
    r = audit_folder(ROOT / "fixtures" / name, ruleset())
    out: dict[str, list] = {}
    for f in r.findings:
        out.setdefault(f.rule, []).append(f)
    return r, out


@needs_samples
def test_brightcart_has_a_starving_target_cpa_campaign():
    _, by = _by_rule("brightcart-home")
    starving = [f for f in by["smart-bidding-low-volume"] if "TARGET_CPA (target" in f.message]
    assert starving and all(f.severity == "high" for f in starving)
    assert any("best micro proxy for it" in f.message and f.evidence for f in starving)


@needs_samples
def test_keystone_shows_a_discrepancy_and_a_custom_goal_with_a_weak_micro():
    _, by = _by_rule("keystone-legal")
    (gap,) = by["ga4-ads-discrepancy"]
    assert "per day Google Ads counts" in gap.message and "key events in 28 days" in gap.message
    custom = [f for f in by["campaign-goal-override"] if "custom goal" in f.message]
    assert custom and "weak micro" in custom[0].message and custom[0].evidence["class"] == "low"


@needs_samples
def test_northwind_is_healthy_on_the_new_rules_too():
    r, _ = _by_rule("northwind-outfitters")
    assert [f for f in r.findings if f.severity in ("critical", "high", "medium")] == []
    ran = {x.id: x.status for x in r.rules}
    assert all(ran[rid] == "pass" for rid in NEW_RULES if rid != "funnel-step-drop"), ran
    assert ran["funnel-step-drop"] == "not_applicable"  # a plain audit has no history



def test_trend_rule_watches_key_micros_not_traffic():
    c = trend_client()
    assert {"session_start", "add_to_cart"} <= dict(now_of(c).daily).keys()
    traffic = runs_like(c, 2, daily_factor={"session_start": 2.0})
    assert findings("funnel-step-drop", with_history(c, *traffic)) == []
    # a key event off the ladder is watched by its volume; a ladder step (add_to_cart) by its rate, which held
    assert findings("funnel-step-drop", with_history(c, *runs_like(c, 2, daily_factor={"add_to_cart": 2.0}))) == []
    (f,) = findings("funnel-step-drop", with_history(c, *runs_like(c, 2, daily_factor={"generate_lead": 2.0})))
    assert f.message.startswith("GA4 event generate_lead: ") and "users a day now (28 days)" in f.message
