"""Offline import health, conversion delay, call length and customer data terms: for each rule a case at each
threshold, one that does not fire, and not run (file absent), on snapshots built with tests/builders.py; the
mapping of the new files and `read_on`; then what the ridgeline-roofing sample demonstrates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from builders import action, ads, client, findings, lag, outcome, ruleset, tracking, upload_summary, with_ads

from auditor.audit import audit_folder, read_client_settings
from auditor.errors import FixtureError
from auditor.mapping import map_client
from auditor.raw import RawClient

ROOT = Path(__file__).resolve().parent.parent
READ_ON = date(2026, 1, 1)


def crm(**kw):
    kw.setdefault("conversions", 52.0)
    kw.setdefault("click_through_lookback_window_days", 30)
    return action("Qualified lead (CRM)", "QUALIFIED_LEAD", type="UPLOAD_CLICKS", value=20_800.0,
                  view_through_lookback_window_days=1, **kw)


def imports(*actions, summaries=(), clients=(), read_on=READ_ON, **changes):
    a = with_ads(ads(*actions), upload_action_summaries=tuple(summaries), upload_client_summaries=tuple(clients),
                 **changes)
    return replace(client(ads=a, profile="lead-gen"), read_on=read_on)


# -- offline-import-health -------------------------------------------------------------------------------------


def test_an_import_the_account_bids_on_that_needs_attention_is_high() -> None:
    a = crm()
    alerts = {"CLICK_NOT_FOUND": 0.1429, "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS": 0.0714}
    [f] = findings("offline-import-health", imports(a, summaries=[upload_summary(
        a, "NEEDS_ATTENTION", total=69, successful=54, alerts=alerts)]))
    assert f.severity == "high" and f.resources == (a.resource_name,)
    assert f.message.startswith("offline import 'Qualified lead (CRM)' (UPLOAD_CLICKS, QUALIFIED_LEAD) through "
                                "GOOGLE_ADS_API: status NEEDS_ATTENTION; 78% of its uploaded events succeeded "
                                "(below 90%); top errors: CLICK_NOT_FOUND 14%, "
                                "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS 7% — 69 events uploaded, 54 successful")
    assert "the account bids on it (52 conv. in 30 days)" in f.message
    assert "Enhanced conversions for leads imports show fully only in the Google Ads interface" in f.remediation


@pytest.mark.parametrize("status", ["NEEDS_ATTENTION", "NO_RECENT_UPLOAD"])
def test_a_bad_status_is_high_when_bid_on_and_medium_when_not(status: str) -> None:
    a = crm()
    [f] = findings("offline-import-health", imports(a, summaries=[upload_summary(a, status)]))
    assert f.severity == "high" and f"status {status}" in f.message
    b = crm(primary=False, conversions=0.0, all_conversions=9.0)
    [f] = findings("offline-import-health", imports(b, summaries=[upload_summary(b, status)]))
    assert f.severity == "medium" and "the account does not bid on it (9 all conv. in 30 days)" in f.message


def test_success_rate_below_the_threshold_is_medium_with_its_top_alerts() -> None:
    a = crm()
    below = upload_summary(a, "GOOD", total=100, successful=89, alerts={"CLICK_NOT_FOUND": 0.08, "TOO_RECENT": 0.01,
                                                                        "EXPIRED_EVENT": 0.02, "DUPLICATE": 0.005})
    [f] = findings("offline-import-health", imports(a, summaries=[below]))
    assert f.severity == "medium"
    assert "89% of its uploaded events succeeded (below 90%); top errors: CLICK_NOT_FOUND 8%, EXPIRED_EVENT 2%, " \
           "TOO_RECENT 1% — 100 events uploaded, 89 successful, 0 pending; status GOOD" in f.message
    at = upload_summary(a, "GOOD", total=100, successful=90)
    assert findings("offline-import-health", imports(a, summaries=[at])) == []
    assert findings("offline-import-health", imports(a, summaries=[below]), min_success_rate=0.85) == []


def test_a_stale_upload_is_medium_from_the_day_the_data_was_read() -> None:
    a = crm()
    stale = upload_summary(a, "GOOD", last_upload="2025-12-24 23:00:00")  # 8 days before 2026-01-01
    [f] = findings("offline-import-health", imports(a, summaries=[stale]))
    assert f.severity == "medium"
    assert "last upload 2025-12-24 (8 days before the data was read on 2026-01-01, more than 7)" in f.message
    fresh = upload_summary(a, "GOOD", last_upload="2025-12-25 01:00:00")  # 7 days: not more than 7
    assert findings("offline-import-health", imports(a, summaries=[fresh])) == []
    assert findings("offline-import-health", imports(a, summaries=[stale]), max_upload_age_days=8) == []
    # a web tag's import history is not an upload schedule
    tag = action("Lead form", "SUBMIT_LEAD_FORM")
    assert findings("offline-import-health", imports(tag, summaries=[upload_summary(
        tag, "GOOD", last_upload="2025-11-01 00:00:00")])) == []


def test_without_the_read_date_ages_are_not_judged_and_never_pass() -> None:
    a = crm()
    stale = upload_summary(a, "GOOD", last_upload="2025-11-01 00:00:00")
    o = outcome("offline-import-health", imports(a, summaries=[stale], read_on=None))
    assert o.status == "not_run" and "read_on" in o.reason
    # what the data does establish is still reported
    bad = upload_summary(a, "NEEDS_ATTENTION", last_upload="2025-11-01 00:00:00")
    [f] = findings("offline-import-health", imports(a, summaries=[bad], read_on=None))
    assert f.severity == "high"


def test_healthy_imports_pass_and_removed_actions_are_history() -> None:
    a = crm()
    assert findings("offline-import-health", imports(a, summaries=[upload_summary(a, "EXCELLENT")],
                                                     clients=[upload_summary(None, "EXCELLENT")])) == []
    gone = crm(status="REMOVED", conversions=0.0)
    assert findings("offline-import-health", imports(gone, summaries=[upload_summary(gone, "NO_RECENT_UPLOAD")])) == []


def test_an_upload_client_in_trouble_with_no_action_summary_is_medium() -> None:
    a = crm()
    [f] = findings("offline-import-health", imports(a, clients=[upload_summary(
        None, "NEEDS_ATTENTION", total=50, successful=30, alerts={"CLICK_NOT_FOUND": 0.4})]))
    assert f.severity == "medium"
    assert f.message.startswith("offline conversion uploads through GOOGLE_ADS_API: status NEEDS_ATTENTION; 60% of "
                                "its uploaded events succeeded (below 90%); top errors: CLICK_NOT_FOUND 40% — 50 "
                                "events uploaded, 30 successful, 0 pending")


@pytest.mark.parametrize("missing", ["upload_action_summaries", "upload_client_summaries"])
def test_import_health_not_collected_is_not_run_never_a_pass(missing: str) -> None:
    c = imports(crm())
    c = replace(c, ads=replace(c.ads, **{missing: None}))
    o = outcome("offline-import-health", c)
    assert o.status == "not_run" and o.reason.startswith("ads/offline_upload_")


# -- lookback-window-short ---------------------------------------------------------------------------------------


LONG_CYCLE = {"LESS_THAN_ONE_DAY": 8, "ONE_TO_TWO_DAYS": 10, "SEVEN_TO_EIGHT_DAYS": 64,
              "FOURTEEN_TO_TWENTY_ONE_DAYS": 35, "TWENTY_ONE_TO_THIRTY_DAYS": 39}  # 156 conv., 39 late


def test_many_conversions_in_the_last_third_of_the_window_is_medium() -> None:
    a = crm()
    c = client(ads=with_ads(ads(a), conversion_lag=lag(a, LONG_CYCLE)))
    [f] = findings("lookback-window-short", c)
    assert f.severity == "medium" and f.resources == (a.resource_name,)
    assert f.message == ("'Qualified lead (CRM)' (UPLOAD_CLICKS, QUALIFIED_LEAD): 25% of its 156 conv. in 90 days "
                         "(39) came 21-30 days after the click, the last third of its 30-day click-through window "
                         "(threshold 15%): conversions after day 30 are not counted; extend the window to 60 days "
                         "(at most 90)")
    assert findings("lookback-window-short", c, late_share=0.26) == []


def test_the_late_share_threshold_and_the_volume_floor() -> None:
    a = crm()
    at = {"LESS_THAN_ONE_DAY": 85, "TWENTY_ONE_TO_THIRTY_DAYS": 15}  # exactly 15%
    assert len(findings("lookback-window-short", client(ads=with_ads(ads(a), conversion_lag=lag(a, at))))) == 1
    below = {"LESS_THAN_ONE_DAY": 86, "TWENTY_ONE_TO_THIRTY_DAYS": 14}
    assert findings("lookback-window-short", client(ads=with_ads(ads(a), conversion_lag=lag(a, below)))) == []
    few = {"LESS_THAN_ONE_DAY": 10, "TWENTY_ONE_TO_THIRTY_DAYS": 9}  # 19 conv.: below min_conversions (20)
    assert findings("lookback-window-short", client(ads=with_ads(ads(a), conversion_lag=lag(a, few)))) == []


def test_a_seven_day_window_and_actions_not_judged() -> None:
    week = crm(click_through_lookback_window_days=7)
    late = {"LESS_THAN_ONE_DAY": 60, "FIVE_TO_SIX_DAYS": 12, "SIX_TO_SEVEN_DAYS": 8}
    [f] = findings("lookback-window-short", client(ads=with_ads(ads(week), conversion_lag=lag(week, late))))
    assert "25% of its 80 conv." in f.message and "came 5-7 days after the click" in f.message
    assert "extend the window to 30 days" in f.message
    full = crm(click_through_lookback_window_days=90)  # nothing longer to set
    secondary = crm(primary=False, conversions=0.0)  # not bid on
    assert findings("lookback-window-short", client(ads=with_ads(
        ads(full, secondary), conversion_lag=lag(full, LONG_CYCLE) + lag(secondary, LONG_CYCLE)))) == []


def test_a_view_through_window_longer_than_the_click_through_one_is_low() -> None:
    a = action("Video views to site", "PAGE_VIEW", click_through_lookback_window_days=7,
               view_through_lookback_window_days=14)
    [f] = findings("lookback-window-short", client(ads=with_ads(ads(a), conversion_lag=())))
    assert f.severity == "low"
    assert "counts view-through conversions for 14 days after an impression but click-through ones for only 7" \
        in f.message


def test_conversion_lag_not_collected_is_not_run() -> None:
    o = outcome("lookback-window-short", client(ads=ads(crm())))
    assert o.status == "not_run" and o.reason == "ads/conversion_lag.json was not collected"


# -- short-call-duration -----------------------------------------------------------------------------------------


def calls(seconds: int | None, **kw):
    kw.setdefault("conversions", 40.0)
    return action("Calls from ads", "PHONE_CALL_LEAD", type="AD_CALL", origin="CALL_FROM_ADS",
                  phone_call_duration_seconds=seconds, **kw)


def test_a_primary_call_action_counting_short_calls_is_low() -> None:
    [f] = findings("short-call-duration", client(ads=ads(calls(10))))
    assert f.severity == "low"
    assert f.message == ("call action 'Calls from ads' (AD_CALL, PHONE_CALL_LEAD) counts every call of 10 seconds "
                         "or longer as a conversion (below 30): accidental and wrong-number calls are bid on as "
                         "leads (40 conv. in 30 days)")
    assert findings("short-call-duration", client(ads=ads(calls(30)))) == []
    assert findings("short-call-duration", client(ads=ads(calls(10, primary=False, conversions=0.0)))) == []
    assert findings("short-call-duration", client(ads=ads(calls(29))), min_call_seconds=20) == []


def test_call_length_not_in_the_response_is_not_run() -> None:
    assert outcome("short-call-duration", client(ads=ads(calls(None)))).status == "not_run"
    assert findings("short-call-duration", client(ads=ads(action("Purchase")))) == []  # no call action


# -- customer-data-terms -----------------------------------------------------------------------------------------


def terms(accepted: bool | None, enhanced: str = "UNKNOWN"):
    return replace(tracking(), accepted_customer_data_terms=accepted, enhanced_conversions=enhanced)


REFUSED = {"CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS": 0.0714}


def test_refused_uploads_without_the_terms_are_high() -> None:
    a = crm()
    c = imports(a, summaries=[upload_summary(a, "NEEDS_ATTENTION", alerts=REFUSED)], tracking=terms(False))
    [f] = findings("customer-data-terms", c)
    assert f.severity == "high" and a.resource_name in f.resources
    assert "customer data terms are not accepted in Google Ads account 1234567890" in f.message
    assert "7% of the latest uploads to 'Qualified lead (CRM)' through GOOGLE_ADS_API refused with " \
           "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS" in f.message
    assert "Google Ads > Goals > Settings > Customer data terms" in f.message
    assert findings("customer-data-terms", replace(c, ads=replace(c.ads, tracking=terms(True)))) == []
    # the client summary's alert is evidence too
    c = imports(a, clients=[upload_summary(None, "NEEDS_ATTENTION", alerts=REFUSED)], tracking=terms(False))
    assert findings("customer-data-terms", c)[0].severity == "high"


def test_enhanced_conversions_on_without_the_terms_is_high() -> None:
    [f] = findings("customer-data-terms", imports(action("Purchase"), tracking=terms(False, "ON")))
    assert f.severity == "high" and "enhanced conversions are on" in f.message


def test_what_the_data_cannot_establish_is_low_or_passes() -> None:
    a = crm()
    # uploads, but their diagnostics not collected: they may carry user data or click ids only
    c = replace(client(ads=with_ads(ads(a), tracking=terms(False))), read_on=READ_ON)
    [f] = findings("customer-data-terms", c)
    assert f.severity == "low" and "cannot be established" in f.message
    # diagnostics collected and no refusal: click-id-only uploads need no terms
    assert findings("customer-data-terms", imports(a, summaries=[upload_summary(a)], tracking=terms(False))) == []
    assert findings("customer-data-terms", imports(action("Purchase"), tracking=terms(False, "OFF"))) == []


def test_customer_data_terms_not_collected_or_unknown_is_not_run() -> None:
    assert outcome("customer-data-terms", imports(crm())).status == "not_run"
    assert outcome("customer-data-terms", imports(crm(), tracking=terms(None))).status == "not_run"


# -- mapping and read_on -----------------------------------------------------------------------------------------


def test_mapping_reads_the_new_files() -> None:
    raw = RawClient(name="x", origin="x", read_on=READ_ON, bodies={
        "ads/conversion_actions.json": [{"results": [{"conversionAction": {
            "resourceName": "customers/1234567890/conversionActions/7", "id": "7", "name": "Calls",
            "type": "AD_CALL", "phoneCallDurationSeconds": "45"}}]}],
        "ads/conversion_stats.json": [{}],
        "ads/offline_upload_client_summaries.json": [{"results": [{"offlineConversionUploadClientSummary": {
            "resourceName": "customers/1234567890/offlineConversionUploadClientSummaries/GOOGLE_ADS_API",
            "client": "GOOGLE_ADS_API", "status": "GOOD", "totalEventCount": "10", "successfulEventCount": "9",
            "successRate": 0.9, "lastUploadDateTime": "2025-12-31 06:15:02",
            "alerts": [{"error": {"conversionUploadError": "CLICK_NOT_FOUND"}, "errorPercentage": 0.1}]}}]}],
        "ads/offline_upload_action_summaries.json": [{"fieldMask": "x", "requestId": "y"}],
        "ads/conversion_lag.json": [{"results": [{"segments": {
            "conversionAction": "customers/1234567890/conversionActions/7",
            "conversionLagBucket": "LESS_THAN_ONE_DAY"}, "metrics": {"allConversions": 3.5}}]}],
    })
    c = map_client(raw, "lead-gen")
    assert c.read_on == READ_ON and c.ads is not None
    assert c.ads.actions[0].phone_call_duration_seconds == 45
    [s] = c.ads.upload_client_summaries or ()
    assert (s.status, s.total, s.successful, s.success_rate, s.alerts[0].error) == ("GOOD", 10, 9, 0.9,
                                                                                    "CLICK_NOT_FOUND")
    assert c.ads.upload_action_summaries == ()  # collected, no import
    assert [(r.bucket, r.all_conversions) for r in c.ads.conversion_lag or ()] == [("LESS_THAN_ONE_DAY", 3.5)]


@pytest.mark.parametrize(("body", "message"), [
    ({"totalEventCount": "5", "successfulEventCount": "6"}, r"successful events \(6\) exceed the total \(5\)"),
    ({"lastUploadDateTime": "yesterday"}, "expected a date and time"),
    ({"alerts": [{"errorPercentage": 1.5}]}, "expected a share from 0 to 1"),
])
def test_bad_upload_summaries_name_file_and_field(body: dict, message: str) -> None:
    raw = RawClient(name="x", origin="x", bodies={
        "ads/conversion_actions.json": [{}], "ads/conversion_stats.json": [{}],
        "ads/offline_upload_client_summaries.json": [{"results": [{"offlineConversionUploadClientSummary": body}]}]})
    with pytest.raises(FixtureError, match=message) as err:
        map_client(raw, "lead-gen")
    assert "ads/offline_upload_client_summaries.json" in str(err.value)


def test_client_yaml_read_on(tmp_path: Path) -> None:
    (tmp_path / "client.yaml").write_text("profile: lead-gen\nread_on: 2026-01-01\n", encoding="utf-8")
    assert read_client_settings(tmp_path)["read_on"] == READ_ON
    (tmp_path / "client.yaml").write_text("read_on: someday\n", encoding="utf-8")
    with pytest.raises(FixtureError, match="expected a date"):
        read_client_settings(tmp_path)


# -- the sample ----------------------------------------------------------------------------------------------------


def test_ridgeline_roofing_shows_a_failing_crm_import_a_long_cycle_and_the_terms() -> None:
    result = audit_folder(ROOT / "fixtures" / "ridgeline-roofing", ruleset())
    assert result.status == "ok"
    by_rule: dict[str, list] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule, []).append(f)
    [health] = by_rule["offline-import-health"]
    assert health.severity == "high" and "'Qualified lead (CRM)'" in health.message
    assert "78% of its uploaded events succeeded" in health.message and "CLICK_NOT_FOUND 14%" in health.message
    [window] = by_rule["lookback-window-short"]
    assert window.severity == "medium" and "25% of its 156 conv. in 90 days (39)" in window.message
    [terms_] = by_rule["customer-data-terms"]
    assert terms_.severity == "high" and "customer data terms" in terms_.message
    status = {r.id: r.status for r in result.rules}
    assert status["short-call-duration"] == "pass"  # its calls count from 60 seconds
