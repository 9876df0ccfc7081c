"""Judgement by the account's own evidence: the measured micro hierarchy, names as a prior only, the business
model inferred when nobody set it, and the funnel around the account's own macro.

The traps use custom event names on both sides, as real accounts name their events freely."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from builders import action, ads, client, findings, ruleset

from auditor.audit import audit_folder, audit_raw, plan_funnels, read_client_settings
from auditor.config import TaxonomyAdditions, UserConfig
from auditor.connectors.offline import load_client
from auditor.errors import ConfigError
from auditor.funnel import account_ladder
from auditor.hierarchy import Hierarchy
from auditor.model import GA4, EventStat, FunnelMeasure, KeyEvent, Property
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROPERTY = "properties/123456789"


def events(rows: dict[str, tuple[int, int]], keys: tuple[str, ...] = (),
           funnels: tuple[FunnelMeasure, ...] = (), industry: str | None = None) -> GA4:
    """GA4 data from {event: (events, users)} over 28 days."""
    return GA4(
        property=Property(name=PROPERTY, currency_code="EUR", industry_category=industry),
        key_events=tuple(KeyEvent(name=f"{PROPERTY}/keyEvents/{i}", event_name=n, counting_method="ONCE_PER_EVENT")
                         for i, n in enumerate(keys)),
        events=tuple(EventStat(event_name=n, event_count=c, total_users=u) for n, (c, u) in rows.items()),
        funnels=funnels,
    )


# A B2B account booking 8 demos a month, its events named freely.
B2B = {"session_start": (14_388, 9_764), "hero_video_play": (1_115, 903), "demo_cta_click": (468, 352),
       "pricing_visit_qualified": (139, 126), "quote_form_step_2": (96, 61), "office_tour_360": (40, 31),
       "demo_booked": (9, 8), "trial_onboarding_step_3": (40, 6)}
DEMO = action("Demo booked", "BOOK_APPOINTMENT", conversions=8, default=400.0, ga4_event="demo_booked")


def b2b(*extra, ga4_rows=B2B, **kw) -> object:
    return client(events(ga4_rows, keys=("demo_booked",), **kw), ads(DEMO, *extra), profile="lead-gen")


def hierarchy(c) -> Hierarchy:
    taxonomy, _ = ruleset().for_profile(c.profile)
    return Hierarchy(c, taxonomy)


# --- the measured hierarchy -------------------------------------------------------------------------------------

def test_the_macro_is_the_account_own_primary_macro_event():
    h = hierarchy(b2b())
    assert h.macro.reference == "demo_booked" and h.macro.users == 8
    assert "primary macro Google Ads actions" in h.macro.source


def test_rate_is_macro_users_over_event_users_classed_by_the_thresholds():
    h = hierarchy(b2b())
    ev = h.event("pricing_visit_qualified")
    assert ev.basis == "ratio" and ev.measure == "ratio" and ev.rate == pytest.approx(8 / 126)
    assert ev.strength == "medium" and ev.position == "before" and ev.proxy_grade
    assert ev.to_json()["class"] == "medium" and ev.to_json()["users"] == 126 and ev.to_json()["macro"] == "demo_booked"
    low = h.event("demo_cta_click")  # 2.3% of its users book: measured low, though "demo" sounds promising
    assert low.strength == "low" and low.basis == "ratio"


def test_a_funnel_report_wins_over_the_ratio_and_over_the_name():
    funnel = (FunnelMeasure(("hero_video_play", "demo_booked"), (880, 70)),  # 8%: the video does lead somewhere
              FunnelMeasure(("quote_form_step_2",), (58,)))  # one row: nobody went on
    h = hierarchy(b2b(funnels=funnel))
    video = h.event("hero_video_play")
    assert video.basis == "funnel" and video.strength == "medium" and video.macro_users == 70
    # the event's 28-day users, as the funnel view shows them; the report's own base beside them
    assert video.users == 903 and video.funnel_users == 880
    assert "8.0% of its 880 users in a GA4 funnel report then did demo_booked (28 days)" in video.text()
    quote = h.event("quote_form_step_2")
    assert quote.basis == "funnel" and quote.rate == 0 and quote.strength == "low"


def test_an_event_with_fewer_users_than_the_macro_is_after_it_and_never_a_proxy():
    h = hierarchy(b2b())
    ev = h.event("trial_onboarding_step_3")  # its name says "high", its 6 users say it comes after 8 bookings
    assert ev.position == "after" and not ev.proxy_grade and "after or beside the macro" in ev.text()
    assert all(p.event != "trial_onboarding_step_3" for p in h.proxies(0))


def test_an_unrelated_rare_event_is_not_promoted_by_the_ratio_alone():
    ev = hierarchy(b2b()).event("office_tour_360")  # 8 of its 31 users booked: 26%, but only as an upper bound
    assert ev.strength == "unknown" and ev.basis == "ratio" and not ev.proxy_grade
    assert "only an upper bound" in ev.text() and "the name says nothing" in ev.text()


def test_the_ratio_caps_a_name_but_never_raises_it():
    rows = {**B2B, "basket_add": (60, 50), "start_checkout": (40, 30)}
    h = hierarchy(b2b(ga4_rows=rows))
    assert h.event("basket_add").strength == "medium"  # high by name (a synonym of add_to_cart), 16%: capped
    checkout = h.event("start_checkout")  # very high by name, 27% measured as the ceiling: high, on the ratio
    assert checkout.strength == "high" and checkout.basis == "ratio"


def test_known_weak_events_stay_weak_whatever_the_ratio():
    rows = {**B2B, "scroll": (50, 12)}  # 8 of 12 scrollers booked: a ratio of 67%
    ev = hierarchy(b2b(ga4_rows=rows)).event("scroll")
    assert ev.strength == "low" and ev.basis == "name" and "collected automatically" in ev.detail


def test_without_volume_the_name_decides_and_says_so():
    c = client(ads=ads(action("Lead", "SUBMIT_LEAD_FORM", conversions=9),
                       action("Quote form step 2", "ENGAGEMENT", conversions=0, primary=False)), profile="lead-gen")
    ev = hierarchy(c).action(c.ads.actions[1])
    assert ev.basis == "name" and ev.strength == "high" and "words quote, step 2" in ev.detail
    assert "no volume to measure it" in ev.text()


def test_ads_only_accounts_measure_actions_by_their_conversions():
    c = client(ads=ads(action("Lead", "SUBMIT_LEAD_FORM", conversions=10),
                       action("Pricing page (qualified)", "ENGAGEMENT", conversions=80)), profile="lead-gen")
    ev = hierarchy(c).action(c.ads.actions[1])
    assert ev.metric == "conversions" and ev.rate == pytest.approx(10 / 80) and ev.strength == "medium"
    assert "10 macro conv. to its 80 conv. (30 days)" in ev.text()


# --- names as a prior only --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, strength", [
    ("pricing_visit_qualified", "high"), ("quote_form_step_2", "high"), ("basket_add", "high"),
    ("demo_cta_click", "medium"), ("checkout_shipping_step", "very_high"), ("form_step3_complete", "high"),
    ("hero_video_play", "low"), ("faq_open", "low"), ("newsletter_signup_footer", "low"),
    ("office_tour_360", "unknown"),
])
def test_name_words_give_a_prior(name, strength):
    taxonomy, _ = ruleset().for_profile("lead-gen")
    v = taxonomy.name_verdict(name)
    assert v.strength == strength, v


def test_newsletter_signups_are_no_purchase_signal():
    taxonomy, _ = ruleset().for_profile("ecommerce")
    assert taxonomy.name_verdict("newsletter_signup").strength == "low"
    content, _ = ruleset().for_profile("content")  # for a publisher selling subscriptions, a real step
    assert content.name_verdict("newsletter_signup").positive


def test_the_config_always_wins_over_names_and_data(tmp_path):
    cfg = UserConfig(taxonomy=TaxonomyAdditions(weak_micro_events=["add_to_cart"],
                                                strong_micro_events=["office_tour_360"],
                                                macro_events=["demo_booked_v2"]))
    rs = Ruleset.load(cfg)
    taxonomy, _ = rs.for_profile("lead-gen")
    assert taxonomy.name_verdict("add_to_cart").strength == "low"  # a strong micro in the taxonomy
    h = Hierarchy(b2b(), taxonomy)
    ev = h.event("office_tour_360")
    assert ev.basis == "config" and ev.strength == "high" and "taxonomy.strong_micro_events" in ev.detail
    assert taxonomy.name_verdict("demo_booked_v2").kind == "macro"


def test_strength_thresholds_are_configurable_and_checked():
    cfg = UserConfig.model_validate({"taxonomy": {"strength_thresholds": {"medium": 0.1}}})
    taxonomy, _ = Ruleset.load(cfg).for_profile("lead-gen")
    assert Hierarchy(b2b(), taxonomy).event("pricing_visit_qualified").strength == "low"  # 6.3% < 10%
    bad = UserConfig.model_validate({"taxonomy": {"strength_thresholds": {"medium": 0.3}}})  # above high
    with pytest.raises(ConfigError, match="strength_thresholds"):
        Ruleset.load(bad)
    with pytest.raises(ValueError, match="listed under both"):
        TaxonomyAdditions(weak_micro_events=["x"], strong_micro_events=["x"])


# --- the rules, on custom names -----------------------------------------------------------------------------------

def test_trap_a_strong_custom_micro_in_a_low_volume_account_is_not_high():
    c = b2b(action("Pricing visit", "ENGAGEMENT", conversions=104, ga4_event="pricing_visit_qualified"))
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "info" and "legitimate bidding proxy" in f.message
    assert "medium: up to 6.3% of its 126 users did demo_booked" in f.message
    (lbv,) = findings("low-bidding-volume", c)
    assert lbv.severity == "info" and "a proxy is in place: 'Pricing visit'" in lbv.message
    assert "no micro" not in lbv.message


def test_trap_a_weak_custom_micro_as_primary_is_high():
    c = b2b(action("Hero video", "ENGAGEMENT", conversions=212, ga4_event="hero_video_play"))
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "high" and "weak micro" in f.message and f.evidence.strength == "low"


def test_trap_a_micro_of_unknown_strength_as_primary_is_at_most_medium():
    c = b2b(action("Office tour", "ENGAGEMENT", conversions=30, ga4_event="office_tour_360"))
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "medium" and "cannot establish" in f.message
    assert "taxonomy.strong_micro_events" in f.remediation
    (f,) = findings("micro-primary-goal", c, strong_micro_low_volume_severity="info")
    assert f.severity == "medium"
    s = ruleset().for_profile("lead-gen")[1]["micro-primary-goal"]
    from auditor.engine import run_rule
    crit = run_rule(ruleset().rules["micro-primary-goal"], replace(s, severity="critical"), c,
                    ruleset().for_profile("lead-gen")[0])
    assert [x.severity for x in crit.findings] == ["medium"]  # unknown is never high, whatever the config says


def test_trap_a_step_after_the_macro_is_never_the_proxy():
    rows = {**B2B, "trial_onboarding_step_3": (300, 6)}  # fires often, for few people, after the booking
    c = b2b(ga4_rows=rows)
    (f,) = findings("low-bidding-volume", c)
    assert "trial_onboarding_step_3" not in f.message.split(" — ")[0]
    assert "best micro proxy: GA4 event 'quote_form_step_2'" in f.message  # the highest rate before the macro
    c = b2b(action("Onboarding", "ENGAGEMENT", conversions=40, ga4_event="trial_onboarding_step_3"), ga4_rows=rows)
    (f,) = findings("micro-primary-goal", c)
    assert f.severity == "medium" and "after or beside the macro" in f.message


def test_overflagged_key_events_flags_measured_low_custom_micros_only():
    c = client(events(B2B, keys=("demo_booked", "demo_cta_click", "office_tour_360", "pricing_visit_qualified")),
               ads(DEMO), profile="lead-gen")
    fs = findings("overflagged-key-events", c)
    assert [f.evidence.event for f in fs] == ["demo_cta_click"]  # unknown and medium ones are not called weak
    assert "low: up to 2.3% of its 352 users did demo_booked" in fs[0].message


def test_findings_carry_their_evidence_in_the_json():
    result = audit_folder(FIXTURES / "lumen-analytics", ruleset()).to_json()  # the canonical JSON
    by_rule: dict[str, list[dict]] = {}
    for f in result["findings"]:
        by_rule.setdefault(f["rule"], []).append(f)
    (proxy,) = [f for f in by_rule["micro-primary-goal"] if f["severity"] == "info"]
    ev = proxy["evidence"]
    assert {k: ev[k] for k in ("event", "users", "macro", "macro_users", "class", "basis")} == {
        "event": "pricing_visit_qualified", "users": 126, "macro": "demo_booked", "macro_users": 8,
        "class": "medium", "basis": "funnel"}
    assert ev["rate"] == pytest.approx(0.0656, abs=1e-4)
    assert ev["funnel_users"] == 122
    assert "medium: 6.6% of its 122 users in a GA4 funnel report then did demo_booked (28 days)" in proxy["message"]
    (video,) = [f for f in by_rule["micro-primary-goal"] if f["severity"] == "high"]
    assert video["evidence"]["class"] == "low" and video["evidence"]["basis"] == "funnel"
    # a value finding's severity follows whether the action is a macro or a micro: it carries that judgement
    assert all(f["evidence"] is not None for f in by_rule["missing-conversion-value"] if "action" in f["message"])
    json.dumps(result)


# --- business model -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, c", [
    ("ecommerce", client(events({"purchase": (400, 380), "add_to_cart": (2_000, 1_500)}, keys=("purchase",)),
                         ads(action("Purchase", conversions=300, value=40_000.0)))),
    ("lead-gen", client(ads=ads(action("Calls", "PHONE_CALL_LEAD", conversions=30),
                                action("Booking", "BOOK_APPOINTMENT", conversions=12)))),
    ("saas", client(events({"sign_up": (300, 290), "trial_start": (120, 118)}, keys=("sign_up", "trial_start"),
                           industry="TECHNOLOGY"), ads(action("Trial", "SIGNUP", conversions=100)))),
    ("content", client(events({"page_view": (90_000, 20_000), "scroll": (40_000, 12_000)}, keys=("scroll",),
                              industry="NEWS"))),
])
def test_the_business_model_is_inferred_from_the_data(model, c):
    raw_profile = ruleset().choose_profile(c, None)
    assert raw_profile.name == model and raw_profile.source == "inferred" and raw_profile.evidence


def test_a_configured_profile_always_wins_and_a_tie_says_so():
    c = client(ads=ads(action("Calls", "PHONE_CALL_LEAD", conversions=30)))
    assert ruleset().choose_profile(c, "saas").source == "client"
    assert Ruleset.load(profile="content").choose_profile(c, None).name == "content"
    assert Ruleset.load(profile="content").choose_profile(c, None).source == "config"
    tie = client(ads=ads(action("Purchase", conversions=30), action("Lead", "SUBMIT_LEAD_FORM", conversions=30)))
    choice = ruleset().choose_profile(tie, None)
    assert choice.source == "default" and "equally" in choice.evidence[0]
    nothing = client(ads=ads(action("Something", "SOME_FUTURE_CATEGORY", conversions=3)))
    choice = ruleset().choose_profile(nothing, None)
    assert (choice.name, choice.source) == ("ecommerce", "default") and "no business model" in choice.evidence[0]


def test_results_say_where_the_profile_came_from():
    lumen = audit_folder(FIXTURES / "lumen-analytics", ruleset())
    assert lumen.profile == "lead-gen" and lumen.profile_source == "inferred"
    assert lumen.profile_evidence == ["primary Google Ads actions BOOK_APPOINTMENT"]
    keystone = audit_folder(FIXTURES / "keystone-legal", ruleset())
    assert keystone.profile_source == "client" and keystone.profile_evidence == []
    raw = load_client(FIXTURES / "keystone-legal")  # the same data with no client.yaml: the data says lead-gen
    inferred = audit_raw(raw, ruleset())
    assert inferred.profile == "lead-gen" and inferred.profile_source == "inferred"
    assert "industry LAW_AND_GOVERNMENT" in inferred.profile_evidence


# --- the funnel around the account's own macro --------------------------------------------------------------------

def test_the_funnel_ends_at_the_account_macro_with_its_own_events_by_volume():
    h = hierarchy(b2b())
    ladder, source, note = account_ladder(h, ["session_start", "pricing_page_view", "form_start", "generate_lead",
                                             "qualify_lead"])
    assert source == "account" and ladder[0] == "session_start" and ladder[-1] == "demo_booked"
    assert ladder[1:-1] == ["pricing_visit_qualified", "quote_form_step_2"]  # proxy-grade, most users first
    assert "trial_onboarding_step_3" not in ladder and "no users in 28 days: pricing_page_view" in note


def test_without_a_macro_the_profile_ladder_is_used_and_said():
    c = client(events({"session_start": (100, 90), "view_item": (40, 30)}), profile="ecommerce")
    ladder, source, note = account_ladder(hierarchy(c), ["session_start", "view_item", "purchase"])
    assert source == "profile" and ladder == ["session_start", "view_item", "purchase"]
    assert "could not be identified" in note


def test_the_funnel_reports_planned_for_a_live_run():
    raw = load_client(FIXTURES / "lumen-analytics")
    assert plan_funnels(raw, ruleset()) == [("hero_video_play", "demo_booked"),
                                            ("pricing_visit_qualified", "demo_booked"),
                                            ("quote_form_step_2", "demo_booked")]
    north = load_client(FIXTURES / "northwind-outfitters")
    assert plan_funnels(north, ruleset()) == []  # a healthy account: no micro decides a finding


@pytest.mark.parametrize("folder", sorted(p for p in FIXTURES.iterdir() if (p / "ga4").is_dir()), ids=lambda p: p.name)
def test_sample_recordings_hold_exactly_the_funnel_reports_a_live_run_reads(folder):
    raw = load_client(folder)
    raw.profile = read_client_settings(folder).get("profile")
    recorded = {_steps(b) for b in raw.bodies.get("ga4/funnels.json", [])}
    assert set(plan_funnels(raw, ruleset())) == recorded


def _steps(body: dict) -> tuple[str, ...]:
    rows = body["funnelTable"]["rows"]
    return tuple(r["dimensionValues"][0]["value"].split(". ", 1)[1] for r in rows)


def test_a_micro_of_unknown_strength_is_never_high_even_with_macro_volume():
    """Enough macro volume makes a primary micro a finding; when the data cannot say how strong that micro is
    (no volume to measure it), the finding says unknown and stays at medium."""
    c = client(ads=ads(action("Purchase", "PURCHASE", conversions=500), action("Zork", "ENGAGEMENT", conversions=0)))
    (f,) = findings("micro-primary-goal", c)
    assert f.evidence is not None and f.evidence.strength == "unknown"
    assert f.severity == "medium"
    assert f.evidence.text().endswith("no conversions in 30 days")  # an action's measure, not GA4 users
