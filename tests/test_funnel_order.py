"""The funnel in its real order (GA4's recommended ecommerce sequence, side steps beside the ladder), tracking
breaks (funnel-tracking-break) and the trend by rate (funnel-step-drop: a broken step against traffic)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from builders import action, ads, client, earlier_run, findings, render, ruleset, with_history

from auditor import vitals
from auditor.audit import audit_folder
from auditor.connectors.offline import load_client
from auditor.funnel import account_funnel, account_ladder, funnel_beside, funnel_rows
from auditor.hierarchy import Hierarchy
from auditor.mapping import map_client
from auditor.model import GA4, EventStat, KeyEvent, Property
from auditor.result import ClientResult

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROPERTY = "properties/123456789"
LADDER = ["session_start", "view_item", "add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info",
          "purchase"]


def events(rows: dict[str, tuple[int, int]], keys: tuple[str, ...] = ()) -> GA4:
    """GA4 data from {event: (events, users)} over 28 days."""
    return GA4(
        property=Property(name=PROPERTY, currency_code="EUR"),
        key_events=tuple(KeyEvent(name=f"{PROPERTY}/keyEvents/{i}", event_name=n, counting_method="ONCE_PER_EVENT")
                         for i, n in enumerate(keys)),
        events=tuple(EventStat(event_name=n, event_count=c, total_users=u) for n, (c, u) in rows.items()),
    )


def users(**n: int) -> dict[str, tuple[int, int]]:
    return {k: (round(v * 1.4), v) for k, v in n.items()}


# The real shop of the issue: list views tracked on a few pages only.
REAL = dict(session_start=30_000, view_item_list=41, select_item=5_210, view_item=9_800, add_to_cart=1_900,
            view_cart=1_200, begin_checkout=700, add_shipping_info=520, add_payment_info=480, purchase=410)
HEALTHY = {**REAL, "view_item_list": 12_000}


def shop(rows: dict[str, int], conversions: float = 400.0, keys: tuple[str, ...] = ("purchase", "add_to_cart")):
    return client(events(users(**rows), keys=keys),
                  ads(action("Purchase (GA4)", conversions=conversions, value=conversions * 80, ga4_event="purchase")))


def funnel_of(c) -> dict:
    tax, _ = ruleset().for_profile(c.profile)
    return account_funnel(c, Hierarchy(c, tax), tax.funnel)


# --- the ladder in the profile's order, side steps beside ----------------------------------------------------

def test_the_real_shop_funnel_follows_the_recommended_order():
    f = funnel_of(shop(REAL))
    assert f["source"] == "account" and f["ladder"] == LADDER  # not sorted by users: view_item before select_item
    side = {s["event"]: s for s in f["side_steps"]}
    assert side["select_item"]["kind"] == "optional" and side["select_item"]["count"] == 5_210
    assert (side["select_item"]["after"], side["select_item"]["before"]) == ("view_item_list", "view_item")
    assert (side["view_cart"]["after"], side["view_cart"]["before"]) == ("add_to_cart", "begin_checkout")
    # the broken list view is beside the ladder, said as a break, never the start of a "drop"
    assert side["view_item_list"]["kind"] == "tracking_break"
    assert side["view_item_list"]["note"] == ("tracking break: 41 users of view_item_list against 5,210 of "
                                              "select_item, which comes after it")
    d = f["biggest_drop"]
    assert (d["from"], d["to"]) == ("view_item", "add_to_cart")
    assert LADDER.index(d["to"]) == LADDER.index(d["from"]) + 1  # consecutive ladder steps
    assert f["summary"].startswith("Biggest drop: view_item → add_to_cart: 19.4% continue")
    assert "Tracking break, beside the ladder and not a drop: view_item_list (41 users" in f["summary"]
    assert [r[0] for r in funnel_rows(f)] == LADDER
    beside = funnel_beside(f)
    assert "beside the ladder: select_item: 5,210 users, side step between view_item_list and view_item" in beside
    assert ("beside the ladder: view_item_list: 41 users, tracking break: 41 users of view_item_list against 5,210 "
            "of select_item, which comes after it") in beside


def test_a_healthy_shop_keeps_the_list_view_on_the_ladder():
    f = funnel_of(shop(HEALTHY))
    assert f["ladder"] == ["session_start", "view_item_list", *LADDER[1:]]
    assert {s["event"] for s in f["side_steps"]} == {"select_item", "view_cart"}
    assert all(s["kind"] == "optional" for s in f["side_steps"])


def test_custom_micros_are_placed_where_their_users_fit_else_beside():
    h_rows = {**HEALTHY, "checkout_step_2": 600, "size_guide_open": 50}
    c = shop(h_rows)
    tax, _ = ruleset().for_profile("ecommerce")
    ladder, _, _ = account_ladder(Hierarchy(c, tax), tax.funnel, tax.side_steps)
    i = ladder.index("checkout_step_2")
    assert ladder[i - 1] == "begin_checkout" and ladder[i + 1] == "add_shipping_info"  # 700 >= 600 >= 520


def test_a_profile_without_side_steps_is_a_plain_ladder():
    # (an app profile has a `funnel:` and no `side_steps:`): strong micros off it are placed by their users
    c = shop(HEALTHY)
    tax, _ = ruleset().for_profile("ecommerce")
    plain = replace(tax, side_steps=())
    f = account_funnel(c, Hierarchy(c, plain), ["session_start", "view_item", "add_to_cart", "purchase"])
    assert f["source"] == "account" and f["side_steps"] == []
    assert f["ladder"][:4] == ["session_start", "view_item", "select_item", "add_to_cart"]  # 9,800 > 5,210 > 1,900
    assert f["biggest_drop"] is not None


def test_the_funnel_and_the_hierarchy_show_the_same_users():
    north = audit_folder(FIXTURES / "northwind-outfitters", ruleset())
    # (a row whose basis is a GA4 funnel report shows that report's users: none in this sample)
    per_event = {e["event"]: e["users"] for e in north.hierarchy["events"]
                 if e.get("event") and not e.get("action") and e.get("basis") != "funnel"}
    shown = {s["event"]: s["count"] for s in north.funnel["steps"] + north.funnel["side_steps"]}
    common = {e for e in set(per_event) & set(shown) if per_event[e] is not None}  # the macro's row has none
    assert {"view_item", "add_to_cart", "begin_checkout", "select_item"} <= common
    assert all(per_event[e] == shown[e] for e in common), {e: (per_event[e], shown[e]) for e in common}
    # a step that sums several spellings says so, with each one's count: the hierarchy's is the first
    bright = audit_folder(FIXTURES / "brightcart-home", ruleset())
    (step,) = [s for s in bright.funnel["steps"] if s["event"] == "add_to_cart"]
    assert step["matched"] == ["add_to_cart", "addToCart"] and sum(step["matched_counts"]) == step["count"]
    assert "add_to_cart counts add_to_cart 3,390 + addToCart 2,206 users" in funnel_beside(bright.funnel)
    ga4 = load_client(FIXTURES / "brightcart-home")
    assert step["matched_counts"][0] == map_client(ga4, "ecommerce").ga4.event("add_to_cart").total_users == 3_390


def test_results_saved_before_side_steps_still_render():
    r = audit_folder(FIXTURES / "northwind-outfitters", ruleset())
    saved = r.to_json()
    del saved["funnel"]["side_steps"]
    for s in saved["funnel"]["steps"]:
        del s["matched_counts"]
    old = ClientResult.from_json(saved)
    assert len(funnel_rows(old.funnel)) == len(old.funnel["steps"]) and funnel_beside(old.funnel) == []
    for fmt in ("table", "markdown", "html", "csv", "json"):
        assert "northwind-outfitters" in render(fmt, [old])


# --- funnel-tracking-break ----------------------------------------------------------------------------------

def test_the_real_shop_list_views_are_a_tracking_break():
    (f,) = findings("funnel-tracking-break", shop(REAL))
    assert f.severity == "high" and f.category == "tracking" and f.resources == ("view_item_list", "select_item")
    assert f.message.startswith("view_item_list is not tracked everywhere it happens: 41 users of view_item_list "
                                "against 5,210 of select_item, a click in its list, which can only follow it (0.8%")
    assert "list template" in f.message and "GTM trigger" in f.message


def test_a_healthy_shop_has_no_break():
    assert findings("funnel-tracking-break", shop(HEALTHY)) == []
    assert findings("funnel-tracking-break", shop({**HEALTHY, "add_payment_info": 300})) == []  # express checkout


def test_a_tiny_property_is_not_judged():
    tiny = dict(session_start=400, view_item_list=2, select_item=40, view_item=45, add_to_cart=12, purchase=3)
    assert findings("funnel-tracking-break", shop(tiny, conversions=3)) == []


def test_a_checkout_break_names_both_steps():
    c = shop({**HEALTHY, "add_payment_info": 30, "purchase": 400})
    (f,) = findings("funnel-tracking-break", c)
    assert f.severity == "high" and f.resources == ("add_payment_info", "purchase")
    assert "30 users of add_payment_info against 400 of purchase, which comes after it (7.5%" in f.message
    assert "express checkout" in f.message
    fun = funnel_of(c)
    assert "add_payment_info" not in fun["ladder"] and fun["ladder"][-2:] == ["add_shipping_info", "purchase"]


def test_thin_evidence_is_medium_and_no_users_at_all_is_low():
    (thin,) = findings("funnel-tracking-break", shop({**HEALTHY, "view_item_list": 5, "select_item": 120}))
    assert thin.severity == "medium" and "5 users of view_item_list against 120 of select_item" in thin.message
    (zero,) = findings("funnel-tracking-break", shop({k: v for k, v in REAL.items() if k != "view_item_list"}))
    assert zero.severity == "low" and zero.message.startswith("view_item_list is not tracked: no users in 28 days "
                                                              "against 5,210 of select_item")
    assert "never implemented, or sent under another name" in zero.message


def test_the_parameters_move_the_line():
    c = shop({**HEALTHY, "view_item_list": 1_000})  # 19% of select_item, 10.2% of view_item: a break at a fifth
    assert findings("funnel-tracking-break", c) == []
    (f,) = findings("funnel-tracking-break", c, ratio=0.2)
    assert f.resources == ("view_item_list", "select_item")
    assert findings("funnel-tracking-break", shop(REAL), min_users=10_000) == []


def test_the_sample_clients_have_no_break():
    for name in ("northwind-outfitters", "brightcart-home", "keystone-legal", "lumen-analytics", "fieldnotes-media"):
        r = audit_folder(FIXTURES / name, ruleset())
        assert not [f for f in r.findings if f.rule == "funnel-tracking-break"], name


# --- funnel-step-drop: the trend by rate ----------------------------------------------------------------------

def measured(c, day: str):
    tax, _ = ruleset().for_profile(c.profile)
    run = vitals.measure(c, Hierarchy(c, tax), tax, f"{day}T06:00:00Z")
    return vitals.from_json(vitals.to_json(run))  # as the history hands it back


def history_of(then_rows: dict[str, int], conversions: float = 400.0):
    return [measured(shop(then_rows, conversions), d) for d in ("2025-05-05", "2025-05-12")]


THEN = {**HEALTHY, "add_to_cart": 1_078, "begin_checkout": 700, "add_shipping_info": 520, "add_payment_info": 480,
        "purchase": 410}


def test_a_halved_step_rate_is_one_step_finding_with_volumes_beside():
    # add_to_cart's rate from view_item fell from 11% to 4%; the steps after it follow at their usual rates
    now = {**THEN, "add_to_cart": 392, "begin_checkout": 255, "add_shipping_info": 189, "add_payment_info": 175,
           "purchase": 149}
    fs = findings("funnel-step-drop", with_history(shop(now, conversions=145), *history_of(THEN)))
    (f,) = fs  # not also add_to_cart's or purchase's users a day, nor the purchase import's conversions
    assert f.severity == "high" and f.resources == ("view_item", "add_to_cart")
    assert f.message.startswith("funnel step view_item → add_to_cart: 11.0% → 4.0% of view_item users go on to "
                                "add_to_cart (median over 2 earlier runs (2025-05-05, 2025-05-12): down 64%")
    assert "users in 28 days, earlier median → now: view_item 9,800 → 9,800, add_to_cart 1,078 → 392" in f.message


def test_traffic_that_fell_with_the_rates_held_is_one_low_finding():
    now = {k: round(v * 0.6) for k, v in THEN.items()}  # every step lost 40%
    fs = findings("funnel-step-drop", with_history(shop(now, conversions=240), *history_of(THEN)))
    (f,) = fs
    assert f.severity == "low" and f.message.startswith("traffic fell, the funnel holds: every ladder step lost")
    assert "session_start 30,000 → 18,000 (-40%)" in f.message and "purchase 410 → 246 (-40%)" in f.message
    assert "no step broke" in f.message and not f.message.startswith("funnel step ")


def test_a_fall_within_the_threshold_is_nothing():
    now = {k: round(v * 0.8) for k, v in THEN.items()}
    assert findings("funnel-step-drop", with_history(shop(now, conversions=320), *history_of(THEN))) == []


def test_an_import_that_fell_more_than_its_event_is_still_reported():
    now = {k: round(v * 0.6) for k, v in THEN.items()}
    fs = findings("funnel-step-drop", with_history(shop(now, conversions=60), *history_of(THEN)))
    assert sorted(f.severity for f in fs) == ["high", "low"]
    assert any(f.message.startswith("Google Ads primary action 'Purchase (GA4)': ") for f in fs)


def test_stored_vitals_read_both_ways():
    old = {"generated_at": "2025-01-06T06:00:00Z", "step_rates": [["view_item", "select_item", 0.6]],
           "daily": {"select_item": 10.0}, "key_events": ["purchase"], "primary_actions": []}
    run = vitals.from_json(old)  # a result saved by an earlier version
    assert run.step_rates == (("view_item", "select_item", 0.6),) and dict(run.daily) == {"select_item": 10.0}
    new = vitals.to_json(history_of(THEN)[0])
    assert set(new) == set(old)  # the members an earlier version reads, and no other
    assert all(len(s) == 3 for s in new["step_rates"])
    assert {"session_start", "view_item", "add_to_cart", "purchase"} <= set(new["daily"])


def test_earlier_run_helper_still_builds_history():
    runs = [earlier_run("2025-05-05", steps={("view_item", "add_to_cart"): 0.11}),
            earlier_run("2025-05-12", steps={("view_item", "add_to_cart"): 0.11})]
    c = shop({**THEN, "add_to_cart": 392})
    (f,) = [f for f in findings("funnel-step-drop", with_history(c, *runs)) if f.message.startswith("funnel step")]
    assert "no volumes to compare" not in f.message and "add_to_cart 392 now" in f.message


def test_the_tidewater_sample_shows_a_list_tracking_break():
    r = audit_folder(FIXTURES / "tidewater-supply", ruleset())
    (f,) = [f for f in r.findings if f.rule == "funnel-tracking-break"]
    assert f.severity == "high" and f.resources == ("view_item_list", "select_item")
    assert "41 users of view_item_list against 33,019 of select_item" in f.message
    assert r.funnel["biggest_drop"]["from"] == "view_item" and "view_item_list" not in r.funnel["ladder"]
    assert [s["event"] for s in r.funnel["side_steps"] if s["kind"] == "tracking_break"] == ["view_item_list"]
