"""The campaigns of a Google Ads account in the result and in every format: rows built from the snapshot (bidding
and target, the goals each campaign bids on, 30-day conversions against the Smart Bidding bar), campaign-level
findings naming their campaign, and the table in the terminal (within its width), Markdown and HTML (escaped; the
HTML laid out by headless Chromium at 390 px), CSV (a `record` column), JSON (valid against the schema) and PDF."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from builders import (
    account_goal,
    action,
    ads,
    campaign,
    campaign_goal,
    client,
    custom_goal,
    ga4,
    render,
    ruleset,
    with_ads,
)

from auditor.audit import iter_offline
from auditor.campaigns import (
    CAMPAIGN_HEADERS,
    CAMPAIGN_ROWS_SHOWN,
    bidding_label,
    campaign_rows,
    campaigns_line,
    goals_label,
    volume_threshold,
)
from auditor.outputs.options import RenderOptions
from auditor.outputs.wording import client_campaign_cells
from auditor.result import CampaignRow, ClientResult, Finding, Source, Sources, Subject
from auditor.result_schema import validate
from auditor.subjects import Subjects
from tests.test_html_report import (
    MEASURE,
    assert_fits,
    dom,
    needs_chromium,
    pdf_text,
    sections,
)

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_RULES = ("smart-bidding-low-volume", "campaign-goal-override", "value-bidding-without-values")
CAMPAIGNS_URL = "https://ads.google.com/aw/campaigns?__e=1234567890"


def settings(profile: str = "ecommerce") -> dict[str, Any]:
    return ruleset().for_profile(profile)[1]


@pytest.fixture(scope="module")
def account() -> Any:
    """Ads with a purchase, a lead form and a call; account goals; a custom goal; seven campaigns of every kind."""
    buy = action("Purchase", "PURCHASE", conversions=200)
    lead = action("Lead form", "SUBMIT_LEAD_FORM", conversions=40)
    call = action("Call", "PHONE_CALL_LEAD", origin="CALL_FROM_ADS", conversions=12)
    leads = custom_goal("Leads", lead, call)
    campaigns = (
        campaign("Search - Generic", "TARGET_CPA", target_cpa=25.5, conversions=12, level="CUSTOMER"),
        campaign("Shopping - All", "TARGET_ROAS", channel="SHOPPING", target_roas=4.0, conversions=120,
                 level="CAMPAIGN", goals=[campaign_goal("PURCHASE"), campaign_goal("ADD_TO_CART", biddable=False)]),
        campaign("Search - Leads", "MAXIMIZE_CONVERSIONS", conversions=29.5, level="CAMPAIGN",
                 custom_goal=leads.resource_name),
        campaign("Brand", "MANUAL_CPC", conversions=3, level="CUSTOMER"),
        campaign("Old promo", "MAXIMIZE_CONVERSIONS", status="PAUSED", conversions=0, level="CUSTOMER"),
        campaign("Display - Retargeting", "MAXIMIZE_CONVERSION_VALUE", channel="DISPLAY", conversions=30,
                 goals=[campaign_goal("PURCHASE"), campaign_goal("PHONE_CALL_LEAD", "CALL_FROM_ADS")]),
        campaign("Search - Lost goal", "TARGET_CPA", conversions=31, level="CAMPAIGN",
                 custom_goal="customers/1234567890/customConversionGoals/404"),
    )
    return with_ads(ads(buy, lead, call), campaigns=campaigns, custom_goals=(leads,),
                    goals=(account_goal("PURCHASE"), account_goal("SUBMIT_LEAD_FORM"),
                           account_goal("PAGE_VIEW", biddable=False)))


def rows_by_name(rows: list[CampaignRow] | None) -> dict[str, CampaignRow]:
    assert rows is not None
    return {r.name: r for r in rows}


# -- the rows, from the snapshot ----------------------------------------------------------------------------------

def test_the_bar_is_the_campaign_rules_threshold_for_the_profile():
    s = settings()
    assert volume_threshold(s) == 30.0
    rule = s["smart-bidding-low-volume"]
    assert volume_threshold({**s, "smart-bidding-low-volume": replace(
        rule, params={**rule.params, "low_volume_threshold": 50})}) == 50.0
    assert volume_threshold({}) is None


def test_campaign_rows_from_a_snapshot(account):
    rows = campaign_rows(client(ads=account), settings())
    by = rows_by_name(rows)
    generic = by["Search - Generic"]
    assert (generic.strategy, generic.target_cpa, generic.target_roas) == ("TARGET_CPA", 25.5, None)
    assert (generic.goal_level, generic.goals) == ("account", ["PURCHASE", "SUBMIT_LEAD_FORM"])  # biddable only
    assert (generic.conversions, generic.threshold, generic.volume) == (12, 30.0, "under")
    shopping = by["Shopping - All"]
    assert (shopping.channel, shopping.target_roas, shopping.goal_level) == ("SHOPPING", 400.0, "campaign")
    assert shopping.goals == ["PURCHASE (WEBSITE)"] and shopping.volume == "over"
    leads = by["Search - Leads"]
    assert (leads.goal_level, leads.custom_goal, leads.goals) == ("custom", "Leads", ["Lead form", "Call"])
    assert leads.volume == "under"  # 29.5 < 30
    brand = by["Brand"]
    assert (brand.threshold, brand.volume) == (None, None)  # manual bidding: no volume state
    # goal level not collected: its own biddable goals differ from the account default, so it bids on goals of
    # its own, as the campaign rules read it (the table and the findings agree)
    retarget = by["Display - Retargeting"]
    assert retarget.goal_level == "campaign" and retarget.volume == "over"  # at the bar is enough
    assert retarget.goals == ["PHONE_CALL_LEAD (CALL_FROM_ADS)", "PURCHASE (WEBSITE)"]
    lost = by["Search - Lost goal"]  # a custom goal the custom goals do not list
    assert (lost.goal_level, lost.custom_goal, lost.goals) == (
        "custom", "customers/1234567890/customConversionGoals/404", None)
    # enabled first, those under the bar first, then by name; paused last
    assert [r.name for r in rows] == ["Search - Generic", "Search - Leads", "Display - Retargeting",
                                      "Search - Lost goal", "Shopping - All", "Brand", "Old promo"]
    assert by["Old promo"].volume == "under" and by["Old promo"].status == "PAUSED"
    # the bar follows the rule's setting
    s = settings()
    rule = s["smart-bidding-low-volume"]
    higher = {**s, "smart-bidding-low-volume": replace(rule, params={**rule.params, "low_volume_threshold": 100})}
    assert rows_by_name(campaign_rows(client(ads=account), higher))["Display - Retargeting"].volume == "under"


def test_no_campaign_rows_when_not_collected(account):
    assert campaign_rows(client(ads=ads(action("Purchase"))), settings()) is None
    assert campaign_rows(client(ga4=ga4({"purchase": 10})), settings()) is None
    assert campaign_rows(client(ads=with_ads(account, campaigns=())), settings()) == []


def test_account_goals_not_collected_fall_back_to_the_campaigns_own_rows():
    c = campaign("Search", "TARGET_CPA", level="CUSTOMER", goals=[campaign_goal("PURCHASE"),
                                                                  campaign_goal("SIGNUP", biddable=False)])
    bare = campaign("Search 2", "TARGET_CPA", level="CUSTOMER")
    by = rows_by_name(campaign_rows(client(ads=with_ads(ads(), campaigns=(c, bare))), settings()))
    assert (by["Search"].goal_level, by["Search"].goals) == ("account", ["PURCHASE"])
    assert (by["Search 2"].goal_level, by["Search 2"].goals) == ("account", None)
    assert goals_label(by["Search 2"]) == "account: not collected"


def test_labels(account):
    by = rows_by_name(campaign_rows(client(ads=account), settings()))
    assert bidding_label(by["Search - Generic"], "EUR") == "TARGET_CPA (target 25.50 EUR)"
    assert bidding_label(by["Shopping - All"]) == "TARGET_ROAS (target 400%)"
    assert bidding_label(by["Brand"]) == "MANUAL_CPC"
    assert goals_label(by["Search - Leads"]) == "custom 'Leads': Lead form, Call"
    assert goals_label(by["Search - Lost goal"]) == ("custom 'customers/1234567890/customConversionGoals/404': "
                                                     "actions not collected")
    assert goals_label(by["Shopping - All"]) == "campaign: PURCHASE (WEBSITE)"
    assert goals_label(by["Search - Generic"]) == "account: PURCHASE, SUBMIT_LEAD_FORM"


def test_a_campaign_resource_is_named_with_the_campaigns_screen(account):
    c = account.campaigns[0]
    (s,) = Subjects(client(ads=account)).of([c.resource_name])
    assert s == Subject(c.resource_name, "Search - Generic", "campaign", CAMPAIGNS_URL)


def test_a_campaign_list_that_fails_costs_the_list_not_the_audit(monkeypatch):
    import auditor.audit as audit_module

    def broken(client: Any, settings: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(audit_module, "campaign_rows", broken)
    r = audit_module.audit_folder(ROOT / "fixtures" / "northwind-outfitters", ruleset())
    assert r.status == "incomplete" and r.score is not None and r.campaigns is None and r.vitals is not None
    assert r.errors[-1].endswith("campaigns could not be listed: ZeroDivisionError: boom")


# -- the sample clients: rows, and campaign findings beside the account ones ----------------------------------

@pytest.fixture(scope="module")
def samples() -> list[ClientResult]:
    return list(iter_offline(ROOT / "fixtures", ruleset()))


def test_sample_clients_with_campaigns_list_them_and_their_findings_name_them(samples):
    with_campaigns = [r for r in samples if (ROOT / "fixtures" / r.name / "ads" / "campaigns.json").is_file()]
    if not with_campaigns:
        pytest.skip("no sample client records ads/campaigns.json")
    for r in samples:
        assert (r.campaigns is not None) == (r in with_campaigns), r.name
    campaign_findings = [f for r in with_campaigns for f in r.active if f.rule in CAMPAIGN_RULES]
    assert campaign_findings
    for f in campaign_findings:
        named = [s for s in f.subjects if s.kind == "campaign"]
        assert named and all(s.name and s.url and s.url.startswith("https://ads.google.com/aw/campaigns?__e=")
                             for s in named), f.message
        assert all(s.resource in {c.resource for c in next(r for r in with_campaigns if f in r.findings).campaigns}
                   for s in named)


def test_every_sample_document_validates_with_its_campaigns(samples):
    doc = json.loads(render("json", samples))
    assert validate(doc) == []
    for c, r in zip(doc["clients"], samples, strict=True):
        assert c["campaigns"] == (None if r.campaigns is None else [x.to_json() for x in r.campaigns])
        assert c["vitals"] == r.vitals


# -- every format ------------------------------------------------------------------------------------------------

EVIL = "=HYPERLINK(\"http://x\") | <script>alert(1)</script> [a](javascript:b) \x1b[31m"
LONG = "Search - " + "y" * 120


def result_with_campaigns(account: Any, n_extra: int = 0) -> ClientResult:
    """A result of the account's campaigns (one of them with a hostile name, one with an unbreakable long one) and
    a smart-bidding-low-volume finding about the first."""
    rows = campaign_rows(client(ads=account), settings()) or []
    rows[0].name = EVIL + rows[0].name
    rows[1].name = LONG
    rows += [replace(rows[2], name=f"Extra {i}", resource=f"customers/1234567890/campaigns/9{i}")
             for i in range(n_extra)]
    f = Finding(rule="smart-bidding-low-volume", severity="high", category="bidding",
                message=f"campaign '{rows[0].name}' has 12 conv. in 30 days", resources=(rows[0].resource,),
                remediation="Pool the campaign's data.", fingerprint="0123456789abcdef",
                subjects=(Subject(rows[0].resource, rows[0].name, "campaign", CAMPAIGNS_URL),))
    r = ClientResult(name="acme", status="ok", profile="ecommerce", score=85, grade="B", coverage=100,
                     sources=Sources(ads=Source("1234567890", "Acme", "EUR")), findings=[f], campaigns=rows)
    return r


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_table_fits_the_terminal(account, width):
    r = result_with_campaigns(account)
    out = render("table", [r], RenderOptions(width=width, single=True))
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= width
    assert "\x1b" not in out and all(x.isprintable() for x in lines)
    text = " ".join(out.split())
    assert campaigns_line(r) == ("7 campaigns, conv. over 30 days; 6 bid on conversions, 3 of them under the 30 "
                                 "Smart Bidding needs")
    assert f"campaigns ({campaigns_line(r)}):" in text
    if width >= 80:  # a table, one row per campaign (wrapped cells continue on indented lines)
        head = next(x for x in lines if x.strip().startswith("campaign ") and "volume" in x)
        assert all(h.split()[0] in head for h in CAMPAIGN_HEADERS)
        assert sum(1 for x in lines if re.search(r" \d[\d,.]*  (under|over|-)$", x)) == 7


def test_table_shows_the_first_campaigns_and_says_how_many_more(account):
    r = result_with_campaigns(account, n_extra=CAMPAIGN_ROWS_SHOWN)
    out = render("table", [r], RenderOptions(width=100, single=True))
    assert f"... and {len(r.campaigns) - CAMPAIGN_ROWS_SHOWN} more campaign(s)" in " ".join(out.split())


def test_markdown_table_is_escaped(account):
    r = result_with_campaigns(account)
    md = render("markdown", [r])
    section = re.split(r"\n#", md.split("### Campaigns")[1])[0]
    rows = [x for x in section.splitlines() if x.startswith("| ")]
    assert rows[0] == "| " + " | ".join(CAMPAIGN_HEADERS) + " |"
    assert rows[1] == "| --- | --- | --- | --- | ---: | --- |" and len(rows) == 2 + len(r.campaigns)
    assert all(x.count(" | ") == len(CAMPAIGN_HEADERS) - 1 for x in rows)  # a name's pipe cannot add a column
    assert "<script>" not in md and "&lt;script&gt;" in section and "\\[a\\](javascript:b)" in section
    assert "\x1b" not in md
    # the client's words (the JSON, CSV and terminal keep TARGET_CPA (target 25.50 EUR))
    assert "Target CPA (25.50 EUR)" in section and "custom 'Leads': Lead form, Call" in section
    assert "TARGET_CPA" not in section and "| Search |" in section


def test_html_table_is_escaped_and_marks_the_campaigns_under_the_bar(account):
    r = result_with_campaigns(account)
    html = render("html", [r], RenderOptions(single=True))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    (sec,) = sections(dom(html))
    (table,) = sec.find("table", "campaigns")
    trs = table.find("tbody")[0].find("tr")
    assert len(trs) == len(r.campaigns)
    assert [t.attrs["data-volume"] for t in trs] == [c.volume or "" for c in r.campaigns]
    for tr, cells in zip(trs, client_campaign_cells(r), strict=True):  # in words: Search, Target CPA (25.50 EUR)
        tds = tr.find("td")
        assert [td.attrs["data-label"] for td in tds] == CAMPAIGN_HEADERS  # a phone stacks them, labelled
        assert [" ".join(td.text().split()) for td in tds] == [" ".join(c.replace("\x1b", "?").split())
                                                             for c in cells]
    assert " ".join(campaigns_line(r).split()) in " ".join(sec.text().split())
    card = sec.find("div", "finding")[0]
    assert "Google Ads campaign" in card.text() and CAMPAIGNS_URL in [a.attrs.get("href") for a in card.find("a")]


def test_csv_adds_campaign_rows_after_the_findings(account):
    r = result_with_campaigns(account)
    text = render("csv", [r])
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:17] == ["client", "profile", "score", "grade", "coverage", "rule", "severity", "category",
                           "message", "resources", "subjects", "remediation", "help_url", "actionable", "suppressed",
                           "fingerprint", "change"]  # the finding columns, where they always were
    assert [x["record"] for x in rows] == ["finding"] + ["campaign"] * len(r.campaigns)
    finding, first = rows[0], rows[1]
    assert finding["campaign"] == first["campaign"] and finding["rule"] == "smart-bidding-low-volume"
    assert first["campaign"].startswith("'=HYPERLINK") and "\x1b" not in text  # no formula, no control character
    assert first["resources"] == r.campaigns[0].resource and first["rule"] == ""
    assert (first["bidding"], first["conversions_30d"], first["volume_threshold"], first["volume"]) == (
        "TARGET_CPA (target 25.50 EUR)", "12", "30.0", "under")
    brand = next(x for x in rows if x["campaign"] == "Brand")
    assert (brand["volume"], brand["volume_threshold"], brand["campaign_status"]) == ("", "", "ENABLED")
    # a client without findings keeps its one row, said to be the client's
    bare = ClientResult(name="bare", status="ok", score=100, grade="A", campaigns=[])
    (only,) = list(csv.DictReader(io.StringIO(render("csv", [bare]))))
    assert only["record"] == "client" and only["score"] == "100"


def test_json_carries_the_rows_and_validates(account):
    r = result_with_campaigns(account)
    r.vitals = {"generated_at": "2025-01-13T07:00:00Z", "step_rates": [["view_item", "add_to_cart", 0.2]],
                "daily": {"purchase": 3.5, "ads:Purchase": 2.0}, "key_events": ["purchase"],
                "primary_actions": ["Purchase"]}
    doc = json.loads(render("json", [r]))
    (c,) = doc["clients"]
    assert c["campaigns"] == [x.to_json() for x in r.campaigns] and c["vitals"] == r.vitals
    assert validate(doc) == []
    assert ClientResult.from_json(c) == r
    bad = json.loads(json.dumps(doc))
    bad["clients"][0]["campaigns"][0]["volume"] = "low"
    bad["clients"][0]["vitals"]["step_rates"][0] = ["a", "b"]
    assert validate(bad) == ["clients[0].campaigns[0].volume: 'low' is not one of ['under', 'over', None]",
                             "clients[0].vitals.step_rates[0]: ['a', 'b'] is too short"]
    older = json.loads(json.dumps(doc))
    del older["clients"][0]["campaigns"], older["clients"][0]["vitals"]
    assert validate(older) == [] and ClientResult.from_json(older["clients"][0]).campaigns is None


# -- the HTML on a phone and on paper ------------------------------------------------------------------------------

@needs_chromium
@pytest.mark.parametrize("width", [390, 1280])
def test_the_campaign_table_fits_a_phone_and_a_laptop(browser, account, tmp_path, width):
    page = tmp_path / "campaigns.html"
    page.write_text(render("html", [result_with_campaigns(account, n_extra=3)], RenderOptions(single=True)),
                    encoding="utf-8")
    assert_fits(browser.evaluate(page, width, MEASURE % width), width, "campaigns")
    shown = browser.evaluate(page, width, "[document.querySelectorAll('table.campaigns tbody tr').length, "
                                          "getComputedStyle(document.querySelector('table.campaigns td'))"
                                          ".display]")
    assert shown == [10, "block" if width < 600 else "table-cell"]  # a phone: each campaign a labelled block


@needs_chromium
def test_the_pdf_lists_the_campaigns(account):
    from tests.test_html_report import pdf_of

    r = result_with_campaigns(account)
    text, _ = pdf_text(pdf_of([r], single=True))
    for c in r.campaigns[2:]:
        assert "".join(c.name.split()) in text
    assert "TargetROAS(400%)" in text
