"""Findings that agree with how the account really bids: manual and click bidding, actions not counted, one lead
counted by a URL rule, a tag and a GA4 import, and the one to keep."""

from __future__ import annotations

import pytest
from builders import account_goal, action, ads, campaign, client, findings, with_ads


def _shop(*camps):
    order = action("Purchase", conversions=12, value=1_300.0)
    scroll = action("Scroll 75%", "ENGAGEMENT", conversions=900)
    return client(ads=with_ads(ads(order, scroll), campaigns=tuple(camps))), scroll


@pytest.mark.parametrize("strategy", ["MANUAL_CPC", "TARGET_SPEND"])
def test_no_smart_bidding_learning_where_no_campaign_bids_on_conversions(strategy):
    c, scroll = _shop(campaign("Search - Furniture", strategy, conversions=12),
                      campaign("Search - Brand", "MANUAL_CPC", conversions=0))
    (f,) = findings("micro-primary-goal", c)
    assert "Smart Bidding learns" not in f.message and f.severity == "medium"
    assert "no enabled campaign bids on a conversion-based strategy" in f.message
    assert "nothing learns from it yet" in f.message
    (v,) = findings("low-bidding-volume", c)
    assert v.severity == "info" and v.message.startswith("before you switch to a conversion-based strategy (")
    assert "Smart Bidding" not in v.message.split("):", 1)[0]


def test_with_a_conversion_based_campaign_findings_speak_as_before():
    c, _ = _shop(campaign("PMax", "MAXIMIZE_CONVERSIONS", channel="PERFORMANCE_MAX", conversions=12))
    (f,) = findings("micro-primary-goal", c)
    assert "Smart Bidding learns to buy it" in f.message and f.severity == "high"
    (v,) = findings("low-bidding-volume", c)
    assert v.severity == "medium" and "too few for Smart Bidding" in v.message


def test_a_primary_action_not_counted_is_not_bid_on_when_goals_were_not_collected():
    order = action("Purchase", conversions=300, value=30_000.0)
    quiet = action("Page view", "PAGE_VIEW", conversions=4_000, include_in_conversions_metric=False)
    counted = action("Scroll", "ENGAGEMENT", conversions=3_000, include_in_conversions_metric=True)
    (f,) = findings("micro-primary-goal", client(ads=ads(order, quiet, counted)))
    assert f.resources == (counted.resource_name,)
    assert "include_in_conversions_metric is true: counted and bid on" in f.message
    # once the goals are collected, they decide
    a = with_ads(ads(order, quiet, counted), goals=(account_goal("PURCHASE"), account_goal("PAGE_VIEW"),
                                                    account_goal("ENGAGEMENT", biddable=False)))
    (f,) = findings("micro-primary-goal", client(ads=a))
    assert f.resources == (quiet.resource_name,) and "include_in_conversions_metric" not in f.message


def test_a_url_rule_and_a_tag_on_one_thank_you_page_are_one_lead_keeping_the_tag():
    rule = action("Danke-Seite (URL)", "SUBMIT_LEAD_FORM", type="WEBPAGE_CODELESS", conversions=212, default=40.0,
                  always_default=True, counting="ONE_PER_CLICK")
    tag = action("Kontaktformular", "SUBMIT_LEAD_FORM", conversions=204, default=25.0, always_default=True,
                 counting="ONE_PER_CLICK")
    (f,) = findings("duplicate-conversion-action", client(ads=ads(rule, tag), profile="lead-gen"))
    assert set(f.resources) == {rule.resource_name, tag.resource_name} and f.severity == "medium"
    assert "keep 'Kontaktformular'" in f.message and "the Google Ads tag on the event itself" in f.message
    assert "two fixed values (25.00 and 40.00) for one event" in f.message
    assert "agree within 4% (212 and 204)" in f.message
    assert "URL rule (codeless)" in f.remediation and "interface" in f.remediation


def test_one_enquiry_counted_three_ways_is_one_finding():
    form = action("Enquiry form", "SUBMIT_LEAD_FORM", conversions=88, counting="ONE_PER_CLICK")
    rule = action("Contact thank-you URL", "CONTACT", type="WEBPAGE_CODELESS", conversions=91,
                  counting="ONE_PER_CLICK")
    ga4 = action("contact_thanks_view (GA4)", "CONTACT", ga4_event="contact_thanks_view", conversions=84,
                 counting="ONE_PER_CLICK")
    (f,) = findings("duplicate-conversion-action", client(ads=ads(form, rule, ga4), profile="lead-gen"))
    assert set(f.resources) == {form.resource_name, rule.resource_name, ga4.resource_name}
    assert "keep 'Enquiry form'" in f.message and "count one event 3 times" in f.message


def test_lead_actions_with_different_counts_are_not_paired_by_category_alone():
    form = action("Enquiry form", "SUBMIT_LEAD_FORM", conversions=88)
    booking = action("Booking", "BOOK_APPOINTMENT", type="WEBPAGE_CODELESS", conversions=31)
    assert findings("duplicate-conversion-action", client(ads=ads(form, booking), profile="lead-gen")) == []


def test_the_counted_and_valued_copy_is_kept_over_an_uncounted_one():
    counted = action("Lead (tag)", "SUBMIT_LEAD_FORM", conversions=50, default=30.0)
    uncounted = action("lead_tag", "SUBMIT_LEAD_FORM", conversions=52, include_in_conversions_metric=False)
    (f,) = findings("duplicate-conversion-action", client(ads=ads(uncounted, counted), profile="lead-gen"))
    assert "keep 'Lead (tag)'" in f.message
