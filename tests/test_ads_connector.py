"""The live Google Ads connector against a loopback gRPC fake, through the real google-ads client library."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from auditor.connectors.offline import load_client
from auditor.errors import ConfigError, SourceError
from auditor.mapping import map_client
from auditor.raw import ADS_FILES, RawClient
from tests.fakes.ads_server import LAG, SETTINGS, FakeAdsServer, install_test_ca

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHOP = "1234567890"
MANAGER = "9999999999"
DEV_TOKEN = "dev-token-secret"


def _real_ads_clients() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.iterdir() if (p / "ads" / "conversion_actions.json").is_file())


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _action(id_: str, name: str, **fields: object) -> dict:
    return {"conversionAction": {"resourceName": f"customers/{SHOP}/conversionActions/{id_}", "id": id_,
                                 "name": name, "status": "ENABLED", "origin": "WEBSITE", **fields}}


def _stat(id_: str, conversions: float, value: float) -> dict:
    return {"customer": {"resourceName": f"customers/{SHOP}", "id": SHOP, "currencyCode": "EUR",
                         "descriptiveName": "Shop"},
            "segments": {"conversionAction": f"customers/{SHOP}/conversionActions/{id_}"},
            "metrics": {"conversions": conversions, "conversionsValue": value, "allConversions": conversions + 1,
                        "allConversionsValue": value + 10}}


def _make_shop(root: Path) -> Path:
    """A small client folder touching every field the mapping reads; actions recorded as two batches."""
    folder = root / "shop"
    _write(folder / "ads" / "conversion_actions.json", [
        {"results": [_action(
            "111", "Purchase", type="WEBPAGE", category="PURCHASE", primaryForGoal=True,
            countingType="MANY_PER_CLICK", includeInConversionsMetric=True,
            valueSettings={"defaultValue": 1.0, "defaultCurrencyCode": "EUR", "alwaysUseDefaultValue": True},
            attributionModelSettings={"attributionModel": "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN",
                                      "dataDrivenModelStatus": "AVAILABLE"},
            clickThroughLookbackWindowDays="30", viewThroughLookbackWindowDays="1",
            ownerCustomer=f"customers/{SHOP}")]},
        {"results": [
            _action("222", "GA4 purchase", type="GOOGLE_ANALYTICS_4_PURCHASE", category="PURCHASE",
                    primaryForGoal=True, countingType="MANY_PER_CLICK",
                    googleAnalytics4Settings={"eventName": "purchase", "propertyId": "987654",
                                              "propertyName": "properties/987654"}),
            _action("333", "scroll", type="GOOGLE_ANALYTICS_4_CUSTOM", category="DEFAULT", primaryForGoal=False,
                    countingType="ONE_PER_CLICK", status="HIDDEN"),
        ]},
    ])
    _write(folder / "ads" / "conversion_stats.json", {"results": [_stat("111", 12, 1200.5), _stat("222", 11, 1100)]})
    _write(folder / "ads" / "customer_conversion_goals.json", {"results": [
        {"customerConversionGoal": {"resourceName": f"customers/{SHOP}/customerConversionGoals/PURCHASE~WEBSITE",
                                    "category": "PURCHASE", "origin": "WEBSITE", "biddable": True}}]})
    _write_campaign_level(folder, SHOP)
    return folder


def _write_campaign_level(folder: Path, customer: str, custom_goal: str | None = None,
                          removed: bool = False) -> None:
    """The campaign-level files of a customer: tracking settings, two campaigns (one REMOVED when `removed`:
    recorded here only to prove the query leaves it out), their goals and configs, and the custom goals (an
    empty stream unless a campaign names `custom_goal`)."""
    def campaign(id_: str, status: str, strategy: str, conversions: float, **fields: object) -> dict:
        return {"campaign": {"resourceName": f"customers/{customer}/campaigns/{id_}", "id": id_,
                             "name": f"Campaign {id_}", "status": status, "advertisingChannelType": "SEARCH",
                             "biddingStrategyType": strategy, **fields},
                "metrics": {"conversions": conversions, "conversionsValue": conversions * 10,
                            "allConversions": conversions + 2, "costMicros": "125000000"}}

    campaigns = [campaign("901", "ENABLED", "TARGET_CPA", 20, targetCpa={"targetCpaMicros": "15000000"}),
                 campaign("902", "PAUSED", "MAXIMIZE_CONVERSION_VALUE", 3,
                          maximizeConversionValue={"targetRoas": 4.5})]
    if removed:
        campaigns.append(campaign("903", "REMOVED", "MANUAL_CPC", 0))
    _write(folder / "ads" / "customer.json", [{"results": [{"customer": {
        "resourceName": f"customers/{customer}", "id": customer, "autoTaggingEnabled": True,
        "conversionTrackingSetting": {"conversionTrackingStatus": "CONVERSION_TRACKING_MANAGED_BY_SELF",
                                      "googleAdsConversionCustomer": f"customers/{customer}",
                                      "acceptedCustomerDataTerms": True}}}]}])
    _write(folder / "ads" / "campaigns.json", [{"results": campaigns}])
    _write(folder / "ads" / "campaign_conversion_goals.json", [{"results": [
        {"campaignConversionGoal": {
            "resourceName": f"customers/{customer}/campaignConversionGoals/{c}~PURCHASE~WEBSITE",
            "campaign": f"customers/{customer}/campaigns/{c}", "category": "PURCHASE", "origin": "WEBSITE",
            "biddable": True}} for c in ("901", "902")]}])
    configs = [{"conversionGoalCampaignConfig": {
        "resourceName": f"customers/{customer}/conversionGoalCampaignConfigs/901",
        "campaign": f"customers/{customer}/campaigns/901", "goalConfigLevel": "CUSTOMER"}},
        {"conversionGoalCampaignConfig": {
            "resourceName": f"customers/{customer}/conversionGoalCampaignConfigs/902",
            "campaign": f"customers/{customer}/campaigns/902", "goalConfigLevel": "CAMPAIGN",
            **({"customConversionGoal": custom_goal} if custom_goal else {})}}]
    _write(folder / "ads" / "conversion_goal_campaign_configs.json", [{"results": configs}])
    _write(folder / "ads" / "custom_conversion_goals.json", [{"results": [{"customConversionGoal": {
        "resourceName": custom_goal, "name": "Purchases only", "status": "ENABLED",
        "conversionActions": [f"customers/{customer}/conversionActions/111"]}}]}] if custom_goal else [{}])
    _write_import_diagnostics(folder, customer)


def _write_import_diagnostics(folder: Path, customer: str) -> None:
    """The offline conversion upload summaries (per upload client and per action 111, every field the mapping
    reads) and the 90-day conversion lag of actions 111 and 222."""
    alerts = [{"error": {"conversionUploadError": "CLICK_NOT_FOUND"}, "errorPercentage": 0.12},
              {"error": {"dateError": "INVALID_FIELD_VALUES_IN_DATE"}, "errorPercentage": 0.03}]
    days = [{"successfulCount": "40", "failedCount": "6", "pendingCount": "2", "uploadDate": "2025-12-30"},
            {"successfulCount": "41", "failedCount": "5", "uploadDate": "2025-12-29"}]
    common = {"client": "GOOGLE_ADS_API", "status": "NEEDS_ATTENTION", "totalEventCount": "94",
              "successfulEventCount": "81", "pendingEventCount": "2", "lastUploadDateTime": "2025-12-30 06:00:00",
              "dailySummaries": days, "alerts": alerts}
    _write(folder / "ads" / "offline_upload_client_summaries.json", [{"results": [{
        "offlineConversionUploadClientSummary": {
            "resourceName": f"customers/{customer}/offlineConversionUploadClientSummaries/GOOGLE_ADS_API",
            "successRate": 0.8617, "pendingRate": 0.0213, **common}}]}])
    _write(folder / "ads" / "offline_upload_action_summaries.json", [{"results": [{
        "offlineConversionUploadConversionActionSummary": {
            "resourceName": f"customers/{customer}/offlineConversionUploadConversionActionSummaries/111~GOOGLE_ADS_API",
            "conversionActionId": "111", "conversionActionName": "Purchase", **common}}]}])
    _write(folder / "ads" / "conversion_lag.json", [{"results": [
        {"customer": {"resourceName": f"customers/{customer}"},
         "segments": {"conversionAction": f"customers/{customer}/conversionActions/{a}", "conversionLagBucket": b},
         "metrics": {"allConversions": n}}
        for a, b, n in (("111", "LESS_THAN_ONE_DAY", 30), ("111", "TWENTY_ONE_TO_THIRTY_DAYS", 6.5),
                        ("222", "ONE_TO_TWO_DAYS", 12))]}])


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _test_ca() -> None:
    install_test_ca()  # before grpc opens its first secure channel in this process


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_shop(tmp_path_factory.mktemp("ads-fixtures"))


@pytest.fixture(scope="module")
def server(shop_dir: Path):
    clients = {MANAGER: [
        {"id": SHOP, "descriptive_name": "Shop", "currency_code": "EUR", "manager": False, "status": "ENABLED",
         "level": 1},
        {"id": "5555555555", "descriptive_name": "Sub-manager", "manager": True, "status": "ENABLED", "level": 1},
        {"id": "6666666666", "descriptive_name": "Closed", "manager": False, "status": "CANCELED", "level": 2},
        {"id": "7777777777", "descriptive_name": "Café", "currency_code": "USD", "manager": False,
         "status": "ENABLED", "level": 2},
    ]}
    with FakeAdsServer(shop_dir, clients=clients, developer_token=DEV_TOKEN) as srv:
        for folder in _real_ads_clients():
            srv.add_fixtures(folder)
        yield srv


_OPEN: list = []  # connectors of the running test, closed after it (no channel outlives the fake)


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AUDITOR_RETRY_INITIAL", "0.01")
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()
    yield
    while _OPEN:
        _OPEN.pop().close()


def _connector(server: FakeAdsServer, credentials=None, **settings):
    from google.oauth2.credentials import Credentials

    from auditor.connectors.ads import AdsConnector, AdsSettings
    from auditor.connectors.retry import CallPolicy

    settings.setdefault("developer_token", DEV_TOKEN)  # None: no token, as the API has it since the sunset
    connector = AdsConnector(AdsSettings(
        credentials=credentials or Credentials(token="test-access-token"), endpoint=server.endpoint,
        policy=CallPolicy.from_env(), **settings))
    _OPEN.append(connector)
    return connector


def _ads(bodies: dict[str, list[dict]], missing: dict[str, str] | None = None):
    return map_client(RawClient(name="live", bodies=bodies, origin="live", missing=missing or {}), "default").ads


def _offline_ads(folder: Path):
    raw = load_client(folder)
    raw.bodies = {k: v for k, v in raw.bodies.items() if k.startswith("ads/")}
    return map_client(raw, "default").ads


# --- fetch -------------------------------------------------------------------------------------------------


CAMPAIGN_LEVEL = ("ads/customer.json", "ads/campaigns.json", "ads/campaign_conversion_goals.json",
                  "ads/conversion_goal_campaign_configs.json", "ads/custom_conversion_goals.json",
                  "ads/offline_upload_client_summaries.json", "ads/offline_upload_action_summaries.json",
                  "ads/conversion_lag.json")
QUERIES = ["conversion_action", "customer", "customer_conversion_goal", "customer", "campaign",
           "campaign_conversion_goal", "conversion_goal_campaign_config"]
# after the custom goals (when read): the upload diagnostics and the 90-day conversion lag (FROM customer)
DIAGNOSTICS = ["offline_conversion_upload_client_summary", "offline_conversion_upload_conversion_action_summary",
               "customer"]


@pytest.mark.parametrize("folder", [None, *_real_ads_clients()], ids=lambda p: p.name if p else "shop")
def test_fetch_maps_like_the_offline_fixture(server: FakeAdsServer, shop_dir: Path, folder: Path | None) -> None:
    from auditor.live import CALLS_PER_CLIENT

    folder = folder or shop_dir
    customer = next(c for c, f in server.customers.items() if f == folder)
    connector = _connector(server)
    bodies, missing = connector.fetch(f"{customer[:3]}-{customer[3:6]}-{customer[6:]}")

    assert missing == {}
    assert set(bodies) == set(ADS_FILES)
    live, offline = _ads(bodies), _offline_ads(folder)
    if offline.goals is None:  # not recorded: the live API answers with no goals
        assert live.goals == ()
        live = replace(live, goals=None)
    assert live == offline
    assert live.actions and any(a.stats.conversions for a in live.actions)
    # JSON mapping: camelCase, enum names, int64 as strings
    row = bodies["ads/conversion_actions.json"][0]["results"][0]["conversionAction"]
    assert isinstance(row["id"], str) and isinstance(row["type"], str) and "primaryForGoal" in row
    # ten queries, one resource each; custom goals read only when a campaign's goal config names one
    recorded = load_client(folder).bodies["ads/custom_conversion_goals.json"]
    named = any(b.get("results") for b in recorded)
    assert [c.resource for c in server.calls] == (QUERIES + (["custom_conversion_goal"] if named else [])
                                                  + DIAGNOSTICS)
    assert "segments.conversion_lag_bucket" in server.calls[-1].query
    assert "segments.date BETWEEN '" in server.calls[-1].query  # 90 days: no date literal reaches that far
    assert all(c.method == "SearchStream" and c.customer_id == customer for c in server.calls)
    assert "segments.date DURING LAST_30_DAYS" in server.calls[1].query
    assert "segments" not in server.calls[3].query  # the tracking settings: one row, no segment
    assert "segments.date DURING LAST_30_DAYS AND campaign.status != 'REMOVED'" in server.calls[4].query
    assert connector.calls_made() == CALLS_PER_CLIENT["ads"] + named * CALLS_PER_CLIENT["ads_custom_goals"]
    if not named:
        assert bodies["ads/custom_conversion_goals.json"] == [{}]  # collected, and empty: no query sent
    # the campaign-level files hold what the recording holds, row for row
    for key in CAMPAIGN_LEVEL:
        assert _results(bodies[key]) == _results(load_client(folder).bodies[key]), key


def _results(batches: list[dict]) -> list[dict]:
    return [row for b in batches for row in b.get("results", [])]


def test_conversion_lag_reads_the_90_days_before_the_run_date(server: FakeAdsServer) -> None:
    from datetime import date

    bodies, missing = _connector(server).fetch(SHOP, today=date(2026, 1, 1))
    assert missing == {}
    [lag] = [c for c in server.calls if "conversion_lag_bucket" in c.query]
    assert lag.resource == "customer" and "segments.date BETWEEN '2025-10-03' AND '2025-12-31'" in lag.query
    ads = _ads(bodies)
    assert ads.conversion_lag is not None and {(r.action.rsplit("/", 1)[1], r.bucket, r.all_conversions)
                                               for r in ads.conversion_lag} == {
        ("111", "LESS_THAN_ONE_DAY", 30), ("111", "TWENTY_ONE_TO_THIRTY_DAYS", 6.5), ("222", "ONE_TO_TWO_DAYS", 12)}
    [summary] = ads.upload_action_summaries or ()
    assert (summary.action_id, summary.status, summary.total, summary.successful, summary.pending) == (
        "111", "NEEDS_ATTENTION", 94, 81, 2)
    assert [(a.error, a.share, a.kind) for a in summary.alerts] == [
        ("CLICK_NOT_FOUND", 0.12, "conversionUploadError"), ("INVALID_FIELD_VALUES_IN_DATE", 0.03, "dateError")]
    assert str(summary.last_upload) == "2025-12-30 06:00:00" and len(summary.daily) == 2
    [client] = ads.upload_client_summaries or ()
    assert client.client == "GOOGLE_ADS_API" and client.action_id is None


def test_custom_goals_are_read_when_a_campaign_names_one(server: FakeAdsServer, tmp_path: Path) -> None:
    other = "4444444444"
    folder = tmp_path / "custom"
    _write(folder / "ads" / "conversion_actions.json", [{"results": [{"conversionAction": {
        "resourceName": f"customers/{other}/conversionActions/111", "id": "111", "name": "Purchase",
        "status": "ENABLED", "category": "PURCHASE", "primaryForGoal": True}}]}])
    _write(folder / "ads" / "conversion_stats.json", [{}])
    _write_campaign_level(folder, other, custom_goal=f"customers/{other}/customConversionGoals/77", removed=True)
    server.add_fixtures(folder)
    connector = _connector(server)
    bodies, missing = connector.fetch(other)
    assert missing == {}
    assert [c.resource for c in server.calls] == [*QUERIES, "custom_conversion_goal", *DIAGNOSTICS]
    assert connector.calls_made() == 11
    [goal] = _results(bodies["ads/custom_conversion_goals.json"])
    assert goal["customConversionGoal"]["conversionActions"] == [f"customers/{other}/conversionActions/111"]
    # the REMOVED campaign is left out by the query (the fake applies its != condition)
    assert [r["campaign"]["id"] for r in _results(bodies["ads/campaigns.json"])] == ["901", "902"]
    ads = _ads(bodies)
    assert ads.custom_goals is not None and [g.name for g in ads.custom_goals] == ["Purchases only"]
    assert [(c.id, c.goal_config_level, c.custom_goal) for c in ads.campaigns or ()] == [
        ("901", "CUSTOMER", None), ("902", "CAMPAIGN", f"customers/{other}/customConversionGoals/77")]


@pytest.mark.parametrize(("resource", "key"), [
    (SETTINGS, "ads/customer.json"),
    ("campaign", "ads/campaigns.json"),
    ("campaign_conversion_goal", "ads/campaign_conversion_goals.json"),
    ("custom_conversion_goal", "ads/custom_conversion_goals.json"),
    ("offline_conversion_upload_client_summary", "ads/offline_upload_client_summaries.json"),
    ("offline_conversion_upload_conversion_action_summary", "ads/offline_upload_action_summaries.json"),
    (LAG, "ads/conversion_lag.json"),
])
def test_a_new_optional_query_denied_marks_only_its_file_missing(server: FakeAdsServer, resource: str,
                                                                 key: str) -> None:
    keystone = next(c for c, f in server.customers.items() if f.name == "keystone-legal")  # names a custom goal
    server.deny(keystone, resource)
    connector = _connector(server)
    bodies, missing = connector.fetch(keystone)
    assert list(missing) == [key] and key not in bodies
    assert missing[key].startswith(f"Google Ads customer {keystone}: USER_PERMISSION_DENIED: ")
    assert set(bodies) == set(ADS_FILES) - {key}
    assert connector.calls_made() == 11  # a refused query is not retried, and the others still run
    assert server.call_count == 11


def test_goal_configs_denied_leave_custom_goals_unknown(server: FakeAdsServer) -> None:
    keystone = next(c for c, f in server.customers.items() if f.name == "keystone-legal")
    server.deny(keystone, "conversion_goal_campaign_config")
    connector = _connector(server)
    bodies, missing = connector.fetch(keystone)
    assert set(missing) == {"ads/conversion_goal_campaign_configs.json", "ads/custom_conversion_goals.json"}
    assert missing["ads/custom_conversion_goals.json"].startswith("not read: ads/conversion_goal_campaign_configs")
    assert connector.calls_made() == 10  # which custom goals are used is unknown: not read
    ads = _ads(bodies, missing)
    assert ads.campaigns and all(c.goal_config_level is None for c in ads.campaigns) and ads.custom_goals is None


def test_an_optional_query_still_unavailable_fails_the_customer(server: FakeAdsServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "2")
    server.fail_unavailable(100, "campaign")
    with pytest.raises(SourceError, match=rf"^Google Ads customer {SHOP}: UNAVAILABLE after 2 attempts"):
        _connector(server).fetch(SHOP)
    assert [c.resource for c in server.calls] == QUERIES[:4] + ["campaign"] * 2


def test_the_fake_refuses_fields_the_from_resource_cannot_select(server: FakeAdsServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors import ads

    monkeypatch.setattr(ads, "ACTIONS_QUERY", "SELECT campaign.id FROM conversion_action")
    with pytest.raises(SourceError, match=r"PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"):
        _connector(server).fetch(SHOP)
    monkeypatch.setattr(ads, "ACTIONS_QUERY", "SELECT conversion_action.id FROM conversion_action")
    monkeypatch.setattr(ads, "OPTIONAL_QUERIES", (
        ("ads/campaign_conversion_goals.json",
         "SELECT campaign_conversion_goal.campaign, metrics.conversions FROM campaign_conversion_goal"),))
    bodies, missing = _connector(server).fetch(SHOP)  # an optional query the API rejects: missing, not fatal
    assert "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE" in missing["ads/campaign_conversion_goals.json"]


def test_stream_of_many_batches_is_complete(server: FakeAdsServer, shop_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "batch_rows", 1)
    bodies, _ = _connector(server).fetch(SHOP)
    assert len(bodies["ads/conversion_actions.json"]) == 3  # one message per row
    assert len(bodies["ads/conversion_stats.json"]) == 2
    ads = _ads(bodies)
    assert [a.id for a in ads.actions] == ["111", "222", "333"]
    assert ads == _offline_ads(shop_dir)


def test_headers_reach_the_api(server: FakeAdsServer) -> None:
    connector = _connector(server, login_customer_id="999-999-9999")
    connector.fetch(SHOP)
    md = server.calls[0].metadata
    assert md["developer-token"] == DEV_TOKEN
    assert md["authorization"] == "Bearer test-access-token"
    assert md["login-customer-id"] == MANAGER
    assert DEV_TOKEN not in repr(connector.settings)


def test_no_developer_token_sends_no_header_and_reads_the_same(server: FakeAdsServer, shop_dir: Path) -> None:
    connector = _connector(server, developer_token=None)
    bodies, missing = connector.fetch(SHOP)
    assert missing == {} and _ads(bodies) == _offline_ads(shop_dir)
    assert all("developer-token" not in c.metadata for c in server.calls)
    assert {c.metadata["authorization"] for c in server.calls} == {"Bearer test-access-token"}
    assert connector.settings.developer_token is None


def test_a_developer_token_that_is_sent_is_still_checked(server: FakeAdsServer) -> None:
    with pytest.raises(SourceError) as err:
        _connector(server, developer_token="not-the-token").fetch(SHOP)
    assert str(err.value) == (f"Google Ads customer {SHOP}: DEVELOPER_TOKEN_INVALID: The developer token is not "
                              "valid; a developer token is no longer needed: remove developer_token from the "
                              "Google Ads settings (or unset GOOGLE_ADS_DEVELOPER_TOKEN)")
    assert "not-the-token" not in str(err.value)


TEST_LEVEL = ("the Google Cloud project of these credentials has Test access to the Google Ads API (test accounts "
              "only): apply for Explorer access in the Cloud console > Google Ads API overview > Explorer access")


@pytest.mark.parametrize("token", [None, DEV_TOKEN])
def test_a_test_level_project_is_one_line_naming_the_level_and_where_to_apply(server: FakeAdsServer,
                                                                              token: str | None) -> None:
    server.refuse_as_test_project()
    with pytest.raises(SourceError) as err:
        _connector(server, developer_token=token).fetch(SHOP)
    assert str(err.value) == (f"Google Ads customer {SHOP}: CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION: The Google "
                              "Cloud project is only approved for use with test accounts. To access non-test "
                              f"accounts, apply for Explorer, Basic or Standard access; {TEST_LEVEL}")
    assert server.call_count == 1  # refused at once, not retried


def test_older_versions_refusal_reads_the_same_and_action_not_permitted_stays_general(
        server: FakeAdsServer) -> None:
    server.deny(SHOP, error=("authorization_error", "DEVELOPER_TOKEN_NOT_APPROVED"),
                message="The developer token is only approved for use with test accounts.")
    with pytest.raises(SourceError) as err:
        _connector(server).fetch(SHOP)
    assert str(err.value).endswith(f"DEVELOPER_TOKEN_NOT_APPROVED: The developer token is only approved for use "
                                   f"with test accounts; {TEST_LEVEL}")
    server.reset()
    server.deny(SHOP, error=("authorization_error", "ACTION_NOT_PERMITTED"),
                message="The user does not have permission to perform this action on the resource.")
    with pytest.raises(SourceError) as err:
        _connector(server).fetch(SHOP)
    line = str(err.value)
    assert line.startswith(f"Google Ads customer {SHOP}: ACTION_NOT_PERMITTED: The user does not have permission")
    assert "check the signed-in user's access" in line and "one possible cause is a Google Cloud project with " \
        "Test access" in line and "\n" not in line
    assert TEST_LEVEL not in line


def test_retry_after_unavailable_succeeds(server: FakeAdsServer) -> None:
    server.fail_unavailable(2, "conversion_action")
    connector = _connector(server)
    bodies, missing = connector.fetch(SHOP)
    assert len(_ads(bodies, missing).actions) == 3
    assert server.call_count == 12  # 2 failed attempts + 10 queries
    assert connector.calls_made() == 10 and connector.retries_made() == 2


def test_stream_broken_after_first_batch_is_run_again(server: FakeAdsServer, shop_dir: Path) -> None:
    server.fail_mid_stream(1, "conversion_action")
    connector = _connector(server)
    bodies, _ = connector.fetch(SHOP)
    assert _ads(bodies) == _offline_ads(shop_dir)  # no batch lost or doubled
    assert connector.retries_made() == 1 and connector.calls_made() == 10
    assert server.call_count == 11


def test_unavailable_every_time_gives_up_after_the_policy_attempts(server: FakeAdsServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "3")
    server.fail_unavailable(100)
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        _connector(server).fetch(SHOP)
    assert time.monotonic() - started < 5
    assert server.call_count == 3
    msg = str(err.value)
    assert msg.startswith(f"Google Ads customer {SHOP}: UNAVAILABLE after 3 attempts") and "\n" not in msg


def test_permission_denied_is_one_line_and_not_retried(server: FakeAdsServer) -> None:
    server.deny(SHOP)
    with pytest.raises(SourceError) as err:
        _connector(server).fetch(SHOP)
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert msg.startswith(f"Google Ads customer {SHOP}: USER_PERMISSION_DENIED: User doesn't have permission")
    assert "set login_customer_id" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert server.call_count == 1


def test_other_api_errors_name_their_code(server: FakeAdsServer) -> None:
    import grpc

    server.deny(SHOP, "customer", error=("quota_error", "RESOURCE_TEMPORARILY_EXHAUSTED"),
                message="Too many requests.", status=grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(SourceError, match=r"RESOURCE_TEMPORARILY_EXHAUSTED: Too many requests; API quota"):
        _connector(server).fetch(SHOP)


def test_quota_errors_are_retried_and_keep_their_failure_detail(server: FakeAdsServer) -> None:
    import grpc

    # RESOURCE_EXHAUSTED is transient for the retry policy; its GoogleAdsFailure still names the quota error
    server.deny(SHOP, "conversion_action", error=("quota_error", "RESOURCE_EXHAUSTED"),
                message="Resource has been exhausted.", status=grpc.StatusCode.RESOURCE_EXHAUSTED)
    with pytest.raises(SourceError) as err:
        _connector(server).fetch(SHOP)
    assert str(err.value) == (f"Google Ads customer {SHOP}: RESOURCE_EXHAUSTED after 4 attempts: Resource has been "
                              "exhausted; API quota exhausted; run again later or audit fewer accounts at once "
                              "(ads.daily_operations in the config caps what a run spends)")
    assert server.call_count == 4


def test_unknown_customer_is_permission_denied(server: FakeAdsServer) -> None:
    with pytest.raises(SourceError, match=r"^Google Ads customer 1112223334: USER_PERMISSION_DENIED"):
        _connector(server).fetch("111-222-3334")


def test_optional_goals_failing_is_missing_and_the_client_still_maps(server: FakeAdsServer) -> None:
    server.deny(SHOP, "customer_conversion_goal")
    bodies, missing = _connector(server).fetch(SHOP)
    assert "ads/customer_conversion_goals.json" not in bodies
    assert "USER_PERMISSION_DENIED" in missing["ads/customer_conversion_goals.json"]
    ads = _ads(bodies, missing)
    assert ads.goals is None and len(ads.actions) == 3


def test_query_fields_the_api_does_not_know_are_rejected(server: FakeAdsServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors import ads

    monkeypatch.setattr(ads, "ACTIONS_QUERY", "SELECT conversion_action.no_such_field FROM conversion_action")
    with pytest.raises(SourceError, match=r"UNRECOGNIZED_FIELD: .*no_such_field'; the auditor's query"):
        _connector(server).fetch(SHOP)


def test_bad_customer_id_is_a_config_error(server: FakeAdsServer) -> None:
    with pytest.raises(ConfigError, match="expected 10 digits"):
        _connector(server).fetch("12345")
    assert server.call_count == 0


def test_concurrent_fetches_share_one_connector(server: FakeAdsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "latency", 0.05)
    connector = _connector(server)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(connector.fetch, [SHOP] * 4))
    assert all(len(_ads(b, m).actions) == 3 for b, m in results)
    assert connector.calls_made() == 40
    assert time.monotonic() - started < 40 * 0.05  # in parallel, not one after another


# --- discover ----------------------------------------------------------------------------------------------


def test_discover_lists_enabled_client_accounts_through_the_manager(server: FakeAdsServer) -> None:
    connector = _connector(server)
    found = connector.discover("999-999-9999")
    assert found == [
        {"customer": SHOP, "descriptive_name": "Shop", "currency_code": "EUR"},
        {"customer": "7777777777", "descriptive_name": "Café", "currency_code": "USD"},
    ]
    call = server.calls[0]
    assert call.resource == "customer_client" and call.customer_id == MANAGER
    assert call.metadata["login-customer-id"] == MANAGER
    # clients found under a manager are then read through it
    connector.fetch(SHOP)
    assert server.calls[-1].metadata["login-customer-id"] == MANAGER


def test_discover_on_a_non_manager_fails_cleanly(server: FakeAdsServer) -> None:
    with pytest.raises(SourceError, match=rf"^Google Ads customer {SHOP}: USER_PERMISSION_DENIED"):
        _connector(server).discover(SHOP)


# --- the fake's unary Search, through the library's pager ----------------------------------------------------


def test_fake_search_pages_through_the_real_pager(server: FakeAdsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors.ads import ACTIONS_QUERY, API_VERSION

    monkeypatch.setattr(server, "page_size", 2)
    connector = _connector(server)
    service = connector._service(None)
    rows = list(service.search(customer_id=SHOP, query=" ".join(ACTIONS_QUERY.split())))
    assert [r.conversion_action.id for r in rows] == [111, 222, 333]
    assert rows[0].conversion_action.type_.name == "WEBPAGE"
    assert [c.method for c in server.calls] == ["Search", "Search"]
    assert API_VERSION in server.failure_key


def test_body_is_the_json_mapping_of_the_batch() -> None:
    from google.ads.googleads.v26.services.types.google_ads_service import SearchGoogleAdsStreamResponse

    from auditor.connectors.ads import _body

    batch = SearchGoogleAdsStreamResponse.from_json(json.dumps(
        {"results": [_action("111", "Purchase", type="WEBPAGE", primaryForGoal=False)], "requestId": "r1"}))
    expected = json.loads(SearchGoogleAdsStreamResponse.to_json(
        batch, use_integers_for_enums=False, always_print_fields_with_no_presence=False))
    assert _body(batch) == expected
    assert expected["results"][0]["conversionAction"]["primaryForGoal"] is False  # optional: kept when false


# --- OAuth: a real refresh against a loopback token endpoint -------------------------------------------------


class _TokenServer:
    """A tiny OAuth token endpoint: grants `access_token` for one refresh token, invalid_grant otherwise."""

    def __init__(self, refresh_token: str, access_token: str) -> None:
        self.requests: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                outer.requests.append(form)
                ok = form.get("refresh_token") == [refresh_token] and form.get("grant_type") == ["refresh_token"]
                body = ({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"} if ok
                        else {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.httpd.server_port}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def token_server():
    ts = _TokenServer(refresh_token="1//refresh-secret", access_token="ya29.loopback")
    yield ts
    ts.close()


def test_refresh_token_credentials_send_the_fetched_bearer(server: FakeAdsServer, token_server: _TokenServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors.ads_auth import oauth_credentials

    monkeypatch.setattr(server, "bearer", "ya29.loopback")  # the fake now rejects any other token
    creds = oauth_credentials("client-id", "client-secret", "1//refresh-secret", token_uri=token_server.uri)
    assert creds.token is None
    bodies, _ = _connector(server, credentials=creds).fetch(SHOP)
    assert len(_ads(bodies).actions) == 3
    assert len(token_server.requests) == 1  # refreshed once, then reused for every query
    assert {c.metadata["authorization"] for c in server.calls} == {"Bearer ya29.loopback"}


def test_revoked_refresh_token_is_one_config_error(server: FakeAdsServer, token_server: _TokenServer) -> None:
    from auditor.connectors.ads_auth import oauth_credentials

    creds = oauth_credentials("client-id", "client-secret", "1//revoked", token_uri=token_server.uri)
    with pytest.raises(ConfigError) as err:
        _connector(server, credentials=creds).fetch(SHOP)
    msg = str(err.value)
    assert msg.startswith("Google Ads OAuth: invalid_grant") and "\n" not in msg
    assert "1//revoked" not in msg and "client-secret" not in msg
    assert server.call_count == 0


# --- settings ----------------------------------------------------------------------------------------------


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for key in list(os.environ):
        if key.startswith("GOOGLE_ADS_") or key == "AUDITOR_ADS_ENDPOINT":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("settings loading must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _service_account_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    _write(path, {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
                  "client_email": "auditor@p.iam.gserviceaccount.com", "client_id": "1",
                  "token_uri": "https://oauth2.googleapis.com/token"})
    return path


def test_settings_from_google_ads_yaml(clean_env: Path, tmp_path: Path, no_network: None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from google.oauth2.credentials import Credentials

    from auditor.connectors.ads_auth import load_ads_settings

    cfg = tmp_path / "google-ads.yaml"
    cfg.write_text("developer_token: ABCdef123\nclient_id: cid.apps.googleusercontent.com\n"
                   "client_secret: s3cret\nrefresh_token: 1//r3fresh\nlogin_customer_id: 999-999-9999\n"
                   "use_proto_plus: True\n")
    monkeypatch.setenv("AUDITOR_ADS_ENDPOINT", "localhost:1234")
    s = load_ads_settings(str(cfg))
    assert s.developer_token == "ABCdef123" and s.login_customer_id == MANAGER and s.endpoint == "localhost:1234"
    assert isinstance(s.credentials, Credentials)
    assert s.credentials.token is None and s.credentials.refresh_token == "1//r3fresh"  # not refreshed
    assert s.policy.initial == 0.01  # CallPolicy.from_env
    assert "ABCdef123" not in repr(s) and "s3cret" not in repr(s)
    # ~/google-ads.yaml is the library's default place
    (clean_env / "google-ads.yaml").write_text(cfg.read_text().replace("999-999-9999", "1234567890"))
    assert load_ads_settings(None).login_customer_id == SHOP


def test_settings_from_environment_with_a_service_account(clean_env: Path, tmp_path: Path, no_network: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from google.oauth2 import service_account

    from auditor.connectors.ads_auth import load_ads_settings

    key = _service_account_key(tmp_path / "sa.json")
    monkeypatch.setenv("GOOGLE_ADS_DEVELOPER_TOKEN", "tok")
    monkeypatch.setenv("GOOGLE_ADS_JSON_KEY_FILE_PATH", str(key))
    monkeypatch.setenv("GOOGLE_ADS_IMPERSONATED_EMAIL", "analyst@example.com")
    monkeypatch.setenv("GOOGLE_ADS_LOGIN_CUSTOMER_ID", "9999999999")
    s = load_ads_settings(None)
    assert isinstance(s.credentials, service_account.Credentials)
    assert s.credentials.service_account_email == "auditor@p.iam.gserviceaccount.com"
    assert s.credentials._subject == "analyst@example.com"
    assert "https://www.googleapis.com/auth/adwords" in s.credentials.scopes
    assert s.credentials.token is None and s.login_customer_id == MANAGER


def test_settings_from_environment_with_oauth(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors.ads_auth import load_ads_settings

    for k, v in {"DEVELOPER_TOKEN": "tok", "CLIENT_ID": "id", "CLIENT_SECRET": "sec", "REFRESH_TOKEN": "ref"}.items():
        monkeypatch.setenv(f"GOOGLE_ADS_{k}", v)
    s = load_ads_settings(None)
    assert s.credentials.client_id == "id" and s.login_customer_id is None and s.endpoint is None


def test_no_developer_token_is_needed(clean_env: Path, tmp_path: Path, no_network: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.connectors.ads_auth import load_ads_settings, token_note

    cfg = tmp_path / "google-ads.yaml"
    cfg.write_text("client_id: id\nclient_secret: s3cret\nrefresh_token: 1//r3fresh\n")
    s = load_ads_settings(str(cfg))
    assert s.developer_token is None and s.credentials.refresh_token == "1//r3fresh"
    assert token_note(s).startswith("Google Ads: no developer token configured (not needed since")
    cfg.write_text("developer_token: ''\nclient_id: id\nclient_secret: s3cret\nrefresh_token: 1//r3fresh\n")
    assert load_ads_settings(str(cfg)).developer_token is None  # empty: not configured, no empty header
    for k, v in {"CLIENT_ID": "id", "CLIENT_SECRET": "sec", "REFRESH_TOKEN": "ref"}.items():
        monkeypatch.setenv(f"GOOGLE_ADS_{k}", v)
    s = load_ads_settings(None)  # the GOOGLE_ADS_* variables without GOOGLE_ADS_DEVELOPER_TOKEN
    assert s.developer_token is None and s.credentials.client_id == "id"
    monkeypatch.setenv("GOOGLE_ADS_DEVELOPER_TOKEN", "tok-s3cret")
    s = load_ads_settings(None)
    assert s.developer_token == "tok-s3cret" and token_note(s).startswith("Google Ads: developer token sent")
    assert "tok-s3cret" not in token_note(s) + repr(s)


@pytest.mark.parametrize("yaml_text, message", [
    ("developer_token: t\nclient_id: id\nclient_secret: s3cret\n", "OAuth credentials in .* lack refresh_token"),
    ("developer_token: t\n", "no credentials in .*: set client_id, client_secret and refresh_token"),
    ("developer_token: t\njson_key_file_path: /nonexistent/key.json\n", "json_key_file_path .*: no such file"),
    ("developer_token: t\nclient_id: i\nclient_secret: s\nrefresh_token: r\nlogin_customer_id: 12\n",
     "login_customer_id '12': expected 10 digits"),
    ("developer_token: [unclosed\n", "not valid YAML at line"),
])
def test_incomplete_settings_name_what_is_missing(clean_env: Path, tmp_path: Path, yaml_text: str,
                                                  message: str) -> None:
    from auditor.connectors.ads_auth import load_ads_settings

    cfg = tmp_path / "google-ads.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as err:
        load_ads_settings(str(cfg))
    assert "\n" not in str(err.value) and "s3cret" not in str(err.value)


def test_no_settings_anywhere_says_where_it_looked(clean_env: Path) -> None:
    from auditor.connectors.ads_auth import load_ads_settings

    where = r"settings not found: .*GOOGLE_ADS_CONFIGURATION_FILE_PATH.*google-ads\.yaml"
    with pytest.raises(ConfigError, match=where):
        load_ads_settings(None)
    with pytest.raises(ConfigError, match=r"cannot read Google Ads settings"):
        load_ads_settings(str(clean_env / "nope.yaml"))
