"""The funnel view: computation from the snapshot, per-client ladders, and how every report shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import render

from auditor.audit import audit_folder, audit_raw, read_client_settings
from auditor.config import ClientTarget, UserConfig
from auditor.connectors.offline import load_client
from auditor.errors import FixtureError
from auditor.funnel import build_funnel, funnel_rows
from auditor.model import GA4, Client, EventStat, Property
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SHOP_LADDER = ["session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"]


def shop(events: dict[str, int]) -> Client:
    ga4 = GA4(property=Property(name="properties/1"), key_events=(),
              events=tuple(EventStat(event_name=n, event_count=c) for n, c in events.items()))
    return Client(name="shop", profile="ecommerce", ga4=ga4)


EVENTS = {"session_start": 10_000, "view_item": 6_000, "add_to_cart": 900, "begin_checkout": 450,
          "add_payment_info": 400, "purchase": 300, "page_view": 40_000}


def test_steps_rates_and_biggest_drop():
    f = build_funnel(shop(EVENTS), SHOP_LADDER)
    assert f["available"] and f["source"] == "profile" and f["period_days"] == 28 and f["missing"] == []
    assert [s["count"] for s in f["steps"]] == [10_000, 6_000, 900, 450, 400, 300]
    assert [s["rate_from_previous"] for s in f["steps"]] == [None, 0.6, 0.15, 0.5, 0.8889, 0.75]
    assert [s["rate_from_first"] for s in f["steps"]] == [1.0, 0.6, 0.09, 0.045, 0.04, 0.03]
    assert f["biggest_drop"] == {"from": "view_item", "to": "add_to_cart", "rate": 0.15, "drop": 0.85, "lost": 5_100}
    assert f["summary"].startswith("Biggest drop: view_item → add_to_cart: 15.0% continue, 85.0% lost (5,100")
    assert "highest-leverage fix" in f["summary"]
    json.dumps(f)  # JSON-ready


def test_spelling_variants_count_toward_their_step():
    f = build_funnel(shop({**EVENTS, "addToCart": 100}), SHOP_LADDER)
    step = f["steps"][2]
    assert step["count"] == 1_000 and step["matched"] == ["add_to_cart", "addToCart"]
    assert funnel_rows(f)[2][0] == "add_to_cart (+ addToCart)"


def test_a_missing_step_is_said_and_bridged():
    events = {k: v for k, v in EVENTS.items() if k != "begin_checkout"}
    f = build_funnel(shop(events), SHOP_LADDER)
    missing = f["steps"][3]
    assert missing == {"event": "begin_checkout", "count": None, "available": False, "matched": [],
                       "matched_counts": [], "previous": None, "rate_from_previous": None, "rate_from_first": None}
    assert f["steps"][4]["previous"] == "add_to_cart" and f["steps"][4]["rate_from_previous"] == 0.4444
    assert f["missing"] == ["begin_checkout"] and "no events in 28 days for begin_checkout" in f["summary"]
    rows = funnel_rows(f)
    assert rows[3][1] == "no data" and rows[4][4] == "from add_to_cart"


def test_a_rate_above_one_is_kept_not_clipped():
    f = build_funnel(shop({"session_start": 1_000, "page_view": 3_000, "purchase": 10}),
                     ["session_start", "page_view", "purchase"])
    assert f["steps"][1]["rate_from_previous"] == 3.0
    assert f["biggest_drop"]["from"] == "page_view"


def test_no_drop_at_all():
    f = build_funnel(shop({"a": 10, "b": 20}), ["a", "b"])
    assert f["available"] and f["biggest_drop"] is None and f["summary"].startswith("No step loses volume")


@pytest.mark.parametrize("client, ladder, reason", [
    (Client(name="ads-only", profile="lead-gen"), SHOP_LADDER, "no GA4 data"),
    (shop(EVENTS), [], "no funnel ladder"),
    (shop({"session_start": 5}), SHOP_LADDER, "only 1 of 6 ladder steps have events"),
])
def test_unavailable_funnels_say_why(client, ladder, reason):
    f = build_funnel(client, ladder)
    assert not f["available"] and reason in f["reason"] and f["biggest_drop"] is None


def test_zero_count_rows_are_no_data():
    f = build_funnel(shop({**EVENTS, "begin_checkout": 0}), SHOP_LADDER)
    assert f["steps"][3]["available"] is False


# --- ladders per profile and per client ---------------------------------------------------------------

def test_profiles_carry_their_ladders():
    rs = Ruleset.load()
    shop_tax = rs.for_profile("ecommerce")[0]
    assert shop_tax.funnel == ("session_start", "view_item_list", "select_item", "view_item", "add_to_wishlist",
                               "add_to_cart", "view_cart", "begin_checkout", "add_shipping_info",
                               "add_payment_info", "purchase")  # GA4's recommended ecommerce order
    assert shop_tax.side_steps == ("select_item", "add_to_wishlist", "view_cart")
    for profile in ("lead-gen", "saas", "content"):
        ladder = rs.for_profile(profile)[0].funnel
        assert ladder[0] == "session_start" and len(ladder) >= 4


def test_sample_clients_funnels():
    rs = Ruleset.load()
    north = audit_folder(FIXTURES / "northwind-outfitters", rs).funnel
    assert north["available"] and north["source"] == "account" and north["biggest_drop"]["to"] == "add_to_cart"
    assert north["metric"] == "totalUsers" and north["ladder"][0] == "session_start"
    assert north["ladder"][-1] == "purchase"
    keystone = audit_folder(FIXTURES / "keystone-legal", rs).funnel
    assert keystone["source"] == "client" and keystone["ladder"][1] == "qualified_pricing_visit"
    harbor = audit_folder(FIXTURES / "harbor-dental", rs).funnel
    assert not harbor["available"] and "no GA4 data" in harbor["reason"]


def test_client_yaml_funnel_is_validated(tmp_path):
    (tmp_path / "client.yaml").write_text("profile: lead-gen\nfunnel: session_start\n", encoding="utf-8")
    with pytest.raises(FixtureError, match="funnel: expected a list of event names"):
        read_client_settings(tmp_path)
    (tmp_path / "client.yaml").write_text("funnel: [session_start, '']\n", encoding="utf-8")
    with pytest.raises(FixtureError):
        read_client_settings(tmp_path)


def test_config_client_funnel_is_used_when_the_folder_has_none():
    cfg = UserConfig(clients=[ClientTarget(name="northwind-outfitters", funnel=["session_start", "purchase"])])
    rs = Ruleset.load(cfg)
    raw = load_client(FIXTURES / "northwind-outfitters")
    f = audit_raw(raw, rs).funnel
    assert f["source"] == "client" and f["ladder"] == ["session_start", "purchase"]
    assert audit_raw(raw, rs, funnel=["view_item", "purchase"]).funnel["ladder"] == ["view_item", "purchase"]


# --- rendering ----------------------------------------------------------------------------------------------

def _results() -> list[ClientResult]:
    rs = Ruleset.load()
    return [audit_folder(FIXTURES / n, rs) for n in ("northwind-outfitters", "harbor-dental")]


def test_table_and_markdown_show_a_funnel_table():
    table = render("table", _results())
    assert "funnel (account ladder, GA4 users, last 28 days)" in table
    assert "biggest drop" in table and "funnel: not available: no GA4 data" in table
    md = render("markdown", _results())
    assert "### Funnel" in md and "| step | users | from previous | from first | note |" in md
    assert "| add_to_cart | 9,416 | 17.8% | 7.8% | biggest drop |" in md  # ordinary names read naturally
    assert "- beside the ladder: select_item: 33,019 users, side step between view_item_list and view_item\n" in md
    assert "Not available: no GA4 data" in md


def test_html_draws_bars_and_highlights_the_biggest_drop():
    html = render("html", _results())
    assert html.count('<ol class="funnel"') == 1 and "Funnel not available: no GA4 data" in html
    assert html.count('<li class="worst">') == 1  # the biggest drop, once
    worst = html[html.index('<li class="worst">'):]
    assert worst[:worst.index("</li>")].count("<strong>add_to_cart</strong>") == 1
    assert html.count('class="bar" style="width:') == 8  # one bar per ladder step with data
    assert "<strong>view_cart</strong> 7,120 · side step between add_to_cart and begin_checkout" in html


def test_html_escapes_event_names():
    r = _results()[0]
    r.funnel = build_funnel(shop({"session_start": 100, "<img src=x onerror=alert(1)>": 10}),
                               ["session_start", "<img src=x onerror=alert(1)>"])
    html = render("html", [r])
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_results_saved_before_the_funnel_existed_still_render():
    saved = _results()[0].to_json()
    del saved["funnel"]
    r = ClientResult.from_json(saved)
    assert r.funnel is None
    for fmt in ("table", "markdown", "html", "csv", "json"):
        assert "northwind-outfitters" in render(fmt, [r])
