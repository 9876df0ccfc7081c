"""The live GA4 connector against a loopback fake, through the real google-analytics-admin/-data clients."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import pytest

from auditor.connectors import ga4
from auditor.connectors.ga4 import API_VERSIONS, GA4Connector, GA4Settings, OptionalMissing
from auditor.connectors.ga4_auth import GA4_SCOPES, load_ga4_credentials
from auditor.connectors.offline import load_client
from auditor.connectors.redact import REDACTED, redact
from auditor.errors import ConfigError, SourceError
from auditor.mapping import map_client
from auditor.model import FunnelMeasure
from auditor.raw import RawClient
from tests.fakes.ga4_server import FakeGA4, iter_fixture_clients

REPO_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHOP, LEADS, BARE = "123456789", "222333444", "987654321"
READONLY = "https://www.googleapis.com/auth/analytics.readonly"


# -- a small fixture set in the fixture contract: to_json(use_integers_for_enums=False), defaults printed -------

def _key_event(pid: str, n: int, event: str, custom: bool = True, value: float | None = None) -> dict[str, Any]:
    ke: dict[str, Any] = {"name": f"properties/{pid}/keyEvents/{1000 + n}", "eventName": event,
                          "createTime": "2024-03-01T10:00:00.000Z", "deletable": custom, "custom": custom,
                          "countingMethod": "ONCE_PER_EVENT"}
    if value is not None:
        ke["defaultValue"] = {"numericValue": value, "currencyCode": "EUR"}
    return ke


def _report(names: list[str]) -> dict[str, Any]:
    return {
        "dimensionHeaders": [{"name": "eventName"}],
        "metricHeaders": [{"name": m, "type": "TYPE_CURRENCY" if m == "eventValue" else "TYPE_INTEGER"}
                          for m in ("eventCount", "totalUsers", "eventValue", "keyEvents")],
        "rows": [{"dimensionValues": [{"value": n}],
                  "metricValues": [{"value": str(1000 - i)}, {"value": str(400 - i)}, {"value": f"{i * 2.5}"},
                                   {"value": str(i % 3)}]} for i, n in enumerate(names)],
        "rowCount": len(names),
        "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Berlin"},
        "kind": "analyticsData#runReport",
    }


def _funnel_body(steps: list[tuple[str, int]]) -> dict[str, Any]:
    """A runFunnelReport response as GA4 writes it: step values "N. name", rows only for steps users reached."""
    rows = []
    for i, (name, users) in enumerate(steps):
        nxt = steps[i + 1][1] if i + 1 < len(steps) else users
        rows.append({"dimensionValues": [{"value": f"{i + 1}. {name}"}],
                     "metricValues": [{"value": str(users)}, {"value": str(nxt / users)},
                                      {"value": str(users - nxt)}, {"value": str(1 - nxt / users)}]})
    return {"funnelTable": {"dimensionHeaders": [{"name": "funnelStepName"}],
                            "metricHeaders": [{"name": m, "type": "TYPE_INTEGER"} for m in (
                                "activeUsers", "funnelStepCompletionRate", "funnelStepAbandonments",
                                "funnelStepAbandonmentRate")],
                            "rows": rows},
            "kind": "analyticsData#runFunnelReport"}


def _ads_key_events(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A report by eventName x googleAdsCustomerId (keyEvents) as GA4 writes it: the customer id as 123-456-7890,
    "(not set)" for the key events it credits to no Google Ads account."""
    return {
        "dimensionHeaders": [{"name": "eventName"}, {"name": "googleAdsCustomerId"}],
        "metricHeaders": [{"name": "keyEvents", "type": "TYPE_FLOAT"}],
        "rows": [{"dimensionValues": [{"value": e}, {"value": c}], "metricValues": [{"value": v}]}
                 for e, c, v in rows],
        "rowCount": len(rows),
        "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Berlin"},
        "kind": "analyticsData#runReport",
    }


def _attribution(pid: str, scope: str) -> dict[str, Any]:
    return {"name": f"properties/{pid}/attributionSettings",
            "acquisitionConversionEventLookbackWindow": "ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_30_DAYS",
            "otherConversionEventLookbackWindow": "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_90_DAYS",
            "reportingAttributionModel": "PAID_AND_ORGANIC_CHANNELS_DATA_DRIVEN",
            "adsWebConversionDataExportScope": scope}


def _write(folder: Path, files: dict[str, Any]) -> Path:
    for key, body in files.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2))
    return folder


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixtures")
    events = ["page_view", "session_start", "purchase", "add_to_cart", "sign_up", "signup", "generate_lead",
              "begin_checkout", "view_item", "scroll", "file_download", "form_start"]
    events += [f"custom_{i}" for i in range(13)]
    key_events = [_key_event(SHOP, 0, "purchase", custom=False, value=1)] + [
        _key_event(SHOP, i, e, value=(5.0 if e == "generate_lead" else None))
        for i, e in enumerate(["add_to_cart", "sign_up", "signup", "generate_lead", "begin_checkout", "scroll"], 1)]
    _write(root / "shop", {
        "ga4/property.json": {"name": f"properties/{SHOP}", "parent": "accounts/555", "displayName": "Shop GA4",
                              "createTime": "2023-01-05T08:00:00Z", "industryCategory": "SHOPPING",
                              "timeZone": "Europe/Berlin", "currencyCode": "EUR",
                              "serviceLevel": "GOOGLE_ANALYTICS_STANDARD",
                              "account": "accounts/555", "propertyType": "PROPERTY_TYPE_ORDINARY"},
        # recorded as two pages: the fake re-paginates them
        "ga4/key_events.json": [{"keyEvents": key_events[:4], "nextPageToken": "x"}, {"keyEvents": key_events[4:]}],
        "ga4/events.json": _report(events),
        "ga4/data_retention.json": {"name": f"properties/{SHOP}/dataRetentionSettings",
                                    "eventDataRetention": "TWO_MONTHS", "userDataRetention": "FOURTEEN_MONTHS",
                                    "resetUserDataOnNewActivity": True},
        "ga4/google_ads_links.json": {"googleAdsLinks": [{
            "name": f"properties/{SHOP}/googleAdsLinks/77", "customerId": "1234567890",
            "adsPersonalizationEnabled": True, "canManageClients": False,
            "createTime": "2023-02-01T00:00:00Z", "updateTime": "2023-02-01T00:00:00Z",
            "creatorEmailAddress": "owner@shop.example"}]},
        "ga4/attribution_settings.json": _attribution(SHOP, "GOOGLE_PAID_CHANNELS"),
        # 14 rows: each of the 7 key events credited to the linked Ads account and to no Ads account
        "ga4/ads_key_events.json": _ads_key_events([
            (ke["eventName"], account, f"{n}.5") for n, (ke, account) in enumerate(
                (ke, account) for ke in key_events for account in ("123-456-7890", "(not set)"))]),
    })
    _write(root / "leads", {
        "ga4/property.json": {"name": f"properties/{LEADS}", "parent": "accounts/666", "displayName": "Leads",
                              "timeZone": "America/New_York", "currencyCode": "USD"},
        "ga4/key_events.json": {"keyEvents": [_key_event(LEADS, 1, "generate_lead", value=50)]},
        "ga4/events.json": _report(["page_view", "generate_lead", "form_start"]),
        "ga4/data_retention.json": {"name": f"properties/{LEADS}/dataRetentionSettings",
                                    "eventDataRetention": "FOURTEEN_MONTHS", "userDataRetention": "FOURTEEN_MONTHS"},
        "ga4/google_ads_links.json": {},
        # recorded funnels: a full one, and one whose second step nobody reached (GA4 leaves its row out)
        "ga4/funnels.json": [_funnel_body([("form_start", 120), ("generate_lead", 9)]),
                             _funnel_body([("page_view", 400)])],
        "ga4/attribution_settings.json": _attribution(LEADS, "NOT_SELECTED_YET"),
        "ga4/ads_key_events.json": _ads_key_events([("generate_lead", "(not set)", "1")]),
    })
    _write(root / "bare", {  # optional files not recorded: the fake answers NOT_FOUND for them; no key events
        "ga4/property.json": {"name": f"properties/{BARE}", "parent": "accounts/555", "displayName": "Bare",
                              "industryCategory": "OTHER", "timeZone": "Etc/UTC", "currencyCode": "USD"},
        "ga4/key_events.json": {},
        "ga4/events.json": {"dimensionHeaders": [{"name": "eventName"}], "metricHeaders": [{"name": "eventCount"}],
                            "kind": "analyticsData#runReport"},
        # no key event, so no Ads-attributed one: the connector records the empty report GA4 would give
        "ga4/ads_key_events.json": {"dimensionHeaders": [{"name": "eventName"}, {"name": "googleAdsCustomerId"}],
                                    "metricHeaders": [{"name": "keyEvents", "type": "TYPE_FLOAT"}],
                                    "kind": "analyticsData#runReport"},
    })
    return root


@pytest.fixture(scope="module")
def server(fixture_root: Path):
    with FakeGA4(fixture_root) as fake:
        yield fake


@pytest.fixture()
def fake(server: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> FakeGA4:
    server.reset()
    monkeypatch.setenv("AUDITOR_RETRY_INITIAL", "0.01")
    monkeypatch.setenv("AUDITOR_CALL_TIMEOUT", "10")
    monkeypatch.setenv("AUDITOR_GA4_ADMIN_ENDPOINT", server.url)
    monkeypatch.setenv("AUDITOR_GA4_DATA_ENDPOINT", server.url)
    return server


def _token_creds() -> google.oauth2.credentials.Credentials:
    return google.oauth2.credentials.Credentials(token="static-test-token")


def _connector(credentials: Any = None) -> GA4Connector:
    return GA4Connector(GA4Settings.from_env(credentials or _token_creds()))


def _live(bodies: dict[str, list[dict]], missing: dict[str, str], origin: str) -> RawClient:
    return RawClient(name=Path(origin).name, bodies=bodies, origin=origin, missing=missing)


# -- tests ----------------------------------------------------------------------------------------------------

def test_settings_from_env(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "7")
    s = GA4Settings.from_env()
    assert (s.credentials, s.admin_endpoint, s.data_endpoint, s.policy.attempts) == (None, fake.url, fake.url, 7)
    assert API_VERSIONS == {"admin": "v1beta", "data": "v1beta", "data_funnels": "v1alpha",
                            "admin_attribution": "v1alpha"}


def test_fetch_maps_like_offline(fake: FakeGA4, fixture_root: Path) -> None:
    conn = _connector()
    bodies, missing = conn.fetch(SHOP)
    assert missing == {}
    assert set(bodies) == {"ga4/property.json", "ga4/key_events.json", "ga4/events.json", "ga4/data_retention.json",
                           "ga4/google_ads_links.json", "ga4/attribution_settings.json", "ga4/ads_key_events.json"}
    folder = fixture_root / "shop"
    live = map_client(_live(bodies, missing, str(folder)), "ecommerce")
    offline = map_client(load_client(folder), "ecommerce")
    assert live.ga4 == offline.ga4
    assert live.warnings == offline.warnings
    assert len(live.ga4.key_events) == 7 and len(live.ga4.events) == 25
    assert live.ga4.retention.event_data_retention == "TWO_MONTHS"
    assert [link.customer_id for link in live.ga4.ads_links] == ["1234567890"]
    # the fixture contract: camelCase, enum names, int64 as strings, false kept explicit
    purchase = bodies["ga4/key_events.json"][0]["keyEvents"][0]
    assert purchase["countingMethod"] == "ONCE_PER_EVENT" and purchase["custom"] is False
    assert bodies["ga4/events.json"][0]["rows"][0]["metricValues"][0] == {"value": "1000"}
    # fixed number of calls, each carrying the bearer token and the right request
    assert conn.calls_made(SHOP) == 6 == len(fake.calls(property_id=SHOP))
    assert [c.method for c in fake.calls()] == ["getProperty", "listKeyEvents", "batchRunReports",
                                                "getDataRetentionSettings", "listGoogleAdsLinks",
                                                "getAttributionSettings"]
    assert {c.authorization for c in fake.calls()} == {"Bearer static-test-token"}
    assert fake.calls("listKeyEvents")[0].query["pageSize"] == ["200"]
    [batch] = fake.calls("batchRunReports")
    assert batch.path == f"/v1beta/properties/{SHOP}:batchRunReports"
    report, ads_report = batch.body["requests"]
    assert "property" not in report and "property" not in ads_report  # a batch's requests take the batch's
    assert [m["name"] for m in report["metrics"]] == ["eventCount", "totalUsers", "eventValue", "keyEvents"]
    assert report["dimensions"] == [{"name": "eventName"}] and "dimensionFilter" not in report
    assert report["dateRanges"] == [{"startDate": "28daysAgo", "endDate": "yesterday"}]
    # the Ads-attributed key events over the same 28 days, filtered to the property's key events
    assert ads_report["dimensions"] == [{"name": "eventName"}, {"name": "googleAdsCustomerId"}]
    assert ads_report["metrics"] == [{"name": "keyEvents"}]
    assert ads_report["dateRanges"] == report["dateRanges"]
    assert ads_report["dimensionFilter"] == {"filter": {"fieldName": "eventName", "inListFilter": {
        "values": sorted(ke.event_name for ke in live.ga4.key_events), "caseSensitive": True}}}
    assert fake.calls("getAttributionSettings")[0].path == f"/v1alpha/properties/{SHOP}/attributionSettings"
    # the two reports land in their own files, each a RunReportResponse as runReport writes it
    assert bodies["ga4/events.json"][0]["kind"] == "analyticsData#runReport"
    assert bodies["ga4/events.json"] == [json.loads(json.dumps(b)) for b in bodies["ga4/events.json"]]
    ads_rows = bodies["ga4/ads_key_events.json"][0]["rows"]
    assert ads_rows[0] == {"dimensionValues": [{"value": "purchase"}, {"value": "123-456-7890"}],
                           "metricValues": [{"value": "0.5"}]}
    assert len(ads_rows) == 14 and bodies["ga4/ads_key_events.json"][0]["rowCount"] == 14
    assert bodies["ga4/attribution_settings.json"] == [_attribution(SHOP, "GOOGLE_PAID_CHANNELS")]
    assert conn.attribution_used()


def test_fetch_accepts_resource_name_and_rejects_garbage(fake: FakeGA4) -> None:
    conn = _connector()
    bodies, _ = conn.fetch(f"properties/{LEADS}")
    assert bodies["ga4/property.json"][0]["name"] == f"properties/{LEADS}"
    # an empty list is a real answer, not a missing file
    assert bodies["ga4/google_ads_links.json"] == [{"googleAdsLinks": [], "nextPageToken": ""}]
    with pytest.raises(SourceError, match="not a property id"):
        conn.fetch("G-ABC123")


@pytest.mark.parametrize("client", list(iter_fixture_clients(REPO_FIXTURES)), ids=lambda p: p.name)
def test_sample_fixtures_round_trip(client: Path) -> None:
    """Every sample client in fixtures/ fetched live from the fake maps to the same snapshot as offline."""
    with FakeGA4(client.parent) as fake:
        conn = GA4Connector(GA4Settings(credentials=_token_creds(), admin_endpoint=fake.url, data_endpoint=fake.url))
        pid = json.loads((client / "ga4/property.json").read_text())["name"].rsplit("/", 1)[-1]
        bodies, missing = conn.fetch(pid)
        assert conn.calls_made(pid) == 6
        # the campaign-level files: what a recording of this property holds is what the fixture holds
        recorded = load_client(client).bodies
        assert bodies["ga4/attribution_settings.json"] == recorded["ga4/attribution_settings.json"]
        for key in ("ga4/events.json", "ga4/ads_key_events.json"):  # recorded pages may be cut differently
            assert _rows(bodies[key]) == _rows(recorded[key]), key
        recorded = client / "ga4/funnels.json"
        if recorded.is_file():  # the same funnels asked for: the fake serves the recorded answers
            pairs = [tuple(str(r["dimensionValues"][0]["value"]).split(". ", 1)[1]
                           for r in body["funnelTable"]["rows"]) for body in json.loads(recorded.read_text())]
            bodies["ga4/funnels.json"] = conn.funnel_reports(pid, pairs)
    offline = map_client(load_client(client), "default")
    live = map_client(_live(bodies, missing, str(client)), "default")
    assert live.ga4 == offline.ga4


def _rows(pages: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What a report's pages say, whatever default fields the JSON mapping prints and wherever pages are cut."""
    return (pages[0].get("dimensionHeaders"), [m["name"] for m in pages[0].get("metricHeaders", [])],
            [row for page in pages for row in page.get("rows", [])], {int(p.get("rowCount") or 0) for p in pages})


def test_pagination_is_complete(fake: FakeGA4, fixture_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.max_page_size = 2  # the server returns fewer than asked: 7 key events -> 4 pages
    monkeypatch.setattr(ga4, "REPORT_PAGE_ROWS", 10)  # 25 event rows -> 3 pages, 14 Ads key event rows -> 2
    conn = _connector()
    bodies, _ = conn.fetch(SHOP)
    assert len(bodies["ga4/key_events.json"]) == 4
    assert len(bodies["ga4/events.json"]) == 3 and len(bodies["ga4/ads_key_events.json"]) == 2
    # the first page of each report in the batch, the next ones by runReport, each with the property
    [batch] = fake.calls("batchRunReports")
    assert [r.get("offset", "0") for r in batch.body["requests"]] == ["0", "0"]
    more = fake.calls("runReport")
    assert [(len(c.body["dimensions"]), c.body.get("offset")) for c in more] == [(1, "10"), (1, "20"), (2, "10")]
    assert {c.path for c in more} == {f"/v1beta/properties/{SHOP}:runReport"}
    assert "dimensionFilter" in more[-1].body
    assert [c.query.get("pageToken") is not None for c in fake.calls("listKeyEvents")] == [False, True, True, True]
    assert sum(len(b["rows"]) for b in bodies["ga4/ads_key_events.json"]) == 14
    live = map_client(_live(bodies, {}, str(fixture_root / "shop")), "ecommerce")
    assert live.ga4 == map_client(load_client(fixture_root / "shop"), "ecommerce").ga4
    assert conn.calls_made(SHOP) == 1 + 4 + (1 + 2 + 1) + 1 + 1 + 1


def test_unavailable_is_retried(fake: FakeGA4) -> None:
    fake.fail("listKeyEvents", "UNAVAILABLE", times=2)
    fake.fail("batchRunReports", "UNAVAILABLE", times=1)
    fake.fail("getAttributionSettings", "UNAVAILABLE", times=1)
    conn = _connector()
    bodies, missing = conn.fetch(SHOP)
    assert len(bodies["ga4/key_events.json"][0]["keyEvents"]) == 7 and missing == {}
    assert len(fake.calls("listKeyEvents")) == 3 and len(fake.calls("batchRunReports")) == 2
    assert len(bodies["ga4/ads_key_events.json"][0]["rows"]) == 14
    assert conn.calls_made(SHOP) == 6 + 4  # failed attempts count as calls


def test_unavailable_gives_up_after_attempts(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "3")
    fake.fail("getProperty", "UNAVAILABLE", times=None)
    with pytest.raises(SourceError) as err:
        _connector().fetch(SHOP)
    assert str(err.value).startswith(f"GA4 property {SHOP}: Admin API unavailable on properties.get after 3 attempts")
    assert len(fake.calls("getProperty")) == 3


def test_permission_denied_is_not_retried(fake: FakeGA4) -> None:
    fake.fail("batchRunReports", "PERMISSION_DENIED", times=None, property_id=SHOP)
    with pytest.raises(SourceError) as err:
        _connector().fetch(SHOP)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"GA4 property {SHOP}: permission denied for the signed-in user; add it as a Viewer")
    assert len(fake.calls("batchRunReports")) == 1


def test_unknown_property_names_it(fake: FakeGA4) -> None:
    with pytest.raises(SourceError, match=r"^GA4 property 555000111: permission denied"):
        _connector().fetch("555000111")


def test_optional_calls_failing_are_missing(fake: FakeGA4, fixture_root: Path) -> None:
    fake.fail("getDataRetentionSettings", "PERMISSION_DENIED", times=None)
    conn = _connector()
    bodies, missing = conn.fetch(SHOP)
    assert "ga4/data_retention.json" not in bodies and "ga4/google_ads_links.json" in bodies
    assert list(missing) == ["ga4/data_retention.json"]
    assert missing["ga4/data_retention.json"].startswith("GA4 Admin getDataRetentionSettings: permission denied")
    client = map_client(_live(bodies, missing, str(fixture_root / "shop")), "ecommerce")
    assert client.ga4.retention is None and client.ga4.ads_links is not None

    bodies, missing = conn.fetch(BARE)  # nothing recorded: NOT_FOUND
    assert set(missing) == {"ga4/data_retention.json", "ga4/google_ads_links.json", "ga4/attribution_settings.json"}
    assert missing["ga4/attribution_settings.json"].startswith("GA4 Admin getAttributionSettings: not found")
    assert "not found" in missing["ga4/google_ads_links.json"]
    offline = map_client(load_client(fixture_root / "bare"), "default")
    assert map_client(_live(bodies, missing, str(fixture_root / "bare")), "default").ga4 == offline.ga4


def test_optional_call_unavailable_fails_the_client(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "2")
    fake.fail("listGoogleAdsLinks", "UNAVAILABLE", times=None)
    with pytest.raises(SourceError, match="googleAdsLinks.list after 2 attempts"):
        _connector().fetch(SHOP)


def test_service_account_key_gets_token_from_its_token_uri(fake: FakeGA4, tmp_path: Path) -> None:
    key = fake.service_account_key(tmp_path / "sa.json", email="audit@proj.iam.gserviceaccount.com")
    creds, description = load_ga4_credentials(str(key))
    assert description.startswith("service account audit@proj.iam.gserviceaccount.com")
    conn = _connector(creds)
    conn.fetch(SHOP)
    conn.fetch(LEADS)
    assert len(fake.tokens) == 1  # one token, shared by both clients and reused across properties
    tok = fake.tokens[0]
    assert tok["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert tok["claims"]["scope"] == READONLY  # posted to the key's token_uri: the fake received it
    assert tok["claims"]["iss"] == "audit@proj.iam.gserviceaccount.com"
    assert {c.authorization for c in fake.calls()} == {f"Bearer {tok['token']}"}

    fake.fail("getProperty", "PERMISSION_DENIED", times=None)
    with pytest.raises(SourceError) as err:
        conn.fetch(SHOP)
    assert str(err.value) == (
        f"GA4 property {SHOP}: permission denied for service account audit@proj.iam.gserviceaccount.com; add it "
        "as a Viewer under Admin > Property access management (or check the property id)")


def test_token_endpoint_failure_is_one_line(fake: FakeGA4, tmp_path: Path) -> None:
    creds, _ = load_ga4_credentials(str(fake.service_account_key(tmp_path / "sa.json")))
    fake.fail("token", times=None, message="Invalid JWT Signature.")
    with pytest.raises(SourceError, match=rf"^GA4 property {SHOP}: could not get an access token for service account"):
        _connector(creds).fetch(SHOP)


def test_authorized_user_file_refreshes_with_readonly_scope(fake: FakeGA4, tmp_path: Path) -> None:
    path = tmp_path / "user.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
                                "client_secret": "s3cret", "refresh_token": "1//refresh", "token_uri": fake.token_uri,
                                "account": "analyst@example.com"}))
    creds, description = load_ga4_credentials(str(path))
    assert "analyst@example.com" in description
    # google-auth pins an authorized-user file's token_uri to Google's (a leaked refresh token cannot be sent
    # elsewhere), so the test points it at the fake explicitly
    assert creds.token_uri == "https://oauth2.googleapis.com/token"
    _connector(creds.with_token_uri(fake.token_uri)).fetch(LEADS)
    assert [t["grant_type"] for t in fake.tokens] == ["refresh_token"]
    assert fake.tokens[0]["form"]["scope"] == READONLY


@pytest.mark.parametrize(("content", "expected"), [
    (None, "credentials file not found"),
    ("{not json", "credentials file is not JSON (line 1"),
    ('{"client_email": "x"}', 'no "type" field'),
    ('{"type": "service_account", "client_email": "x@y"}', "not a usable service_account credentials file"),
    ('{"type": "gdch_service_account"}', "unsupported credentials type"),
])
def test_credentials_file_errors(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_ga4_credentials(str(path))
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value) and "\n" not in str(err.value)


def test_only_the_readonly_scope() -> None:
    assert GA4_SCOPES == (READONLY,)


def test_discover_lists_properties_across_pages(fake: FakeGA4) -> None:
    fake.max_page_size = 1  # two accounts -> two pages
    found = _connector().discover()
    assert len(fake.calls("listAccountSummaries")) == 2
    assert {(p["property"], p["account"]) for p in found} == {(SHOP, "555"), (BARE, "555"), (LEADS, "666")}
    assert next(p for p in found if p["property"] == SHOP)["display_name"] == "Shop GA4"


def test_discover_permission_denied(fake: FakeGA4) -> None:
    fake.fail("listAccountSummaries", "PERMISSION_DENIED", times=None)
    with pytest.raises(SourceError, match="^GA4 account summaries: permission denied"):
        _connector().discover()


def test_rejected_credentials(fake: FakeGA4, tmp_path: Path) -> None:
    creds, _ = load_ga4_credentials(str(fake.service_account_key(tmp_path / "sa.json")))
    fake.fail("getProperty", "UNAUTHENTICATED", times=None)
    with pytest.raises(SourceError, match=rf"^GA4 property {SHOP}: credentials of service account .* were rejected"):
        _connector(creds).fetch(SHOP)
    # not retried by the policy; google-auth's session refreshes the token and retries a 401 twice by itself
    assert len(fake.calls("getProperty")) == 3 and len(fake.tokens) == 3


def test_missing_authorization_header_is_refused(fake: FakeGA4) -> None:
    from google.auth.credentials import AnonymousCredentials

    with pytest.raises(SourceError, match="could not get an access token for these credentials"):
        _connector(AnonymousCredentials()).fetch(SHOP)  # the fake answered 401; anonymous cannot refresh
    assert [c.authorization for c in fake.calls()] == [None]


def test_one_connector_many_threads(fake: FakeGA4) -> None:
    fake.latency = 0.05
    conn = _connector()
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(conn.fetch, [SHOP, LEADS, BARE]))
    elapsed = time.monotonic() - start
    assert [r[0]["ga4/property.json"][0]["name"] for r in results] == [
        f"properties/{SHOP}", f"properties/{LEADS}", f"properties/{BARE}"]
    assert conn.calls_made() == 18 == len(fake.calls())
    assert elapsed < 18 * 0.05  # the three properties ran concurrently


# -- the campaign-level calls: batched reports, attribution settings ------------------------------------------------

def test_no_key_events_one_report_in_the_batch_and_an_empty_ads_report(fake: FakeGA4) -> None:
    conn = _connector()
    bodies, missing = conn.fetch(BARE)
    [batch] = fake.calls("batchRunReports")
    assert [r["dimensions"] for r in batch.body["requests"]] == [[{"name": "eventName"}]]  # no key event: skipped
    assert conn.calls_made(BARE) == 6 and "ga4/ads_key_events.json" not in missing
    [empty] = bodies["ga4/ads_key_events.json"]  # collected, and empty: as GA4 answers a report with no rows
    assert empty["dimensionHeaders"] == [{"name": "eventName"}, {"name": "googleAdsCustomerId"}]
    assert empty["metricHeaders"] == [{"name": "keyEvents", "type": "TYPE_FLOAT"}]
    assert empty["rowCount"] == 0 and not empty.get("rows") and empty["kind"] == "analyticsData#runReport"
    assert empty["metadata"]["timeZone"] == "Etc/UTC" or empty["metadata"] == {}
    from google.analytics.data_v1beta import RunReportResponse

    RunReportResponse.from_json(json.dumps(empty))  # strict: the fixture contract


def test_attribution_settings_denied_marks_only_that_file_missing(fake: FakeGA4) -> None:
    fake.fail("getAttributionSettings", "PERMISSION_DENIED", times=None)
    conn = _connector()
    bodies, missing = conn.fetch(SHOP)
    assert list(missing) == ["ga4/attribution_settings.json"]
    reason = missing["ga4/attribution_settings.json"]
    assert reason.startswith("GA4 Admin getAttributionSettings: permission denied (") and "\n" not in reason
    assert "ga4/attribution_settings.json" not in bodies and len(bodies) == 6
    assert len(fake.calls("getAttributionSettings")) == 1  # refused: not retried
    # links handed over by discovery are not read again; attribution settings still are
    fake.reset()
    bodies, missing = conn.fetch(SHOP, links=[{"googleAdsLinks": []}])
    assert [c.method for c in fake.calls()].count("listGoogleAdsLinks") == 0
    assert "ga4/attribution_settings.json" in bodies and conn.calls_made(SHOP) == 6 + 5  # the refusal counts


def test_attribution_settings_unavailable_fails_the_client(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "2")
    fake.fail("getAttributionSettings", "UNAVAILABLE", times=None)
    with pytest.raises(SourceError, match=rf"^GA4 property {SHOP}: Admin API unavailable on getAttributionSettings "
                                          "after 2 attempts"):
        _connector().fetch(SHOP)


def test_a_report_the_batch_refuses_fails_the_client(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    # the fake checks report shapes as GA4 does: a dimension set it does not serve is INVALID_ARGUMENT, and one
    # bad request fails the whole batch
    monkeypatch.setattr(ga4, "ADS_KEY_EVENTS_DIMENSIONS", ("eventName", "sessionGoogleAdsCustomerId"))
    with pytest.raises(SourceError, match=rf"^GA4 property {SHOP}: batchRunReports rejected the request"):
        _connector().fetch(SHOP)
    assert len(fake.calls("batchRunReports")) == 1  # not retried


def test_the_fake_applies_the_key_event_filter_through_the_real_client(fake: FakeGA4) -> None:
    from google.analytics import data_v1beta

    conn = _connector()
    request = conn._ads_key_events_request(["generate_lead", "purchase"])
    request.property = f"properties/{SHOP}"
    response = conn._data.run_report(request=request)
    assert {r.dimension_values[0].value for r in response.rows} == {"generate_lead", "purchase"}
    assert response.row_count == 4 and response.metric_headers[0].type_ == data_v1beta.MetricType.TYPE_FLOAT


def test_admin_v1alpha_is_imported_on_the_first_fetch_only() -> None:
    code = ("import sys, google.oauth2.credentials\n"
            "from auditor.connectors.ga4 import GA4Connector, GA4Settings\n"
            "c = GA4Connector(GA4Settings(credentials=google.oauth2.credentials.Credentials(token='t')))\n"
            "print('google.analytics.admin_v1alpha' in sys.modules, c.attribution_used())\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_FIXTURES.parent)
    assert (p.returncode, p.stdout.strip()) == (0, "False False"), p.stderr


# -- funnel reports (Data API v1alpha) ---------------------------------------------------------------------------

def test_funnel_report_request_is_a_closed_two_step_event_funnel(fake: FakeGA4) -> None:
    conn = _connector()
    assert not conn.funnels_used()
    bodies = conn.funnel_reports(SHOP, [("add_to_cart", "purchase"), ("begin_checkout", "purchase")])
    assert conn.funnels_used() and len(bodies) == 2
    calls = fake.calls("runFunnelReport")
    assert [c.path for c in calls] == [f"/v1alpha/properties/{SHOP}:runFunnelReport"] * 2
    assert {c.authorization for c in calls} == {"Bearer static-test-token"}
    first = calls[0].body
    # only what the auditor asks for: no breakdown, segment, next action or visualization type; closed funnel
    # (is_open_funnel=False is proto3's default, so the JSON mapping leaves it out)
    assert set(first) == {"dateRanges", "funnel"}
    assert first["dateRanges"] == [{"startDate": "28daysAgo", "endDate": "yesterday"}]
    assert first["funnel"].get("isOpenFunnel", False) is False
    assert first["funnel"]["steps"] == [
        {"name": "add_to_cart", "filterExpression": {"funnelEventFilter": {"eventName": "add_to_cart"}}},
        {"name": "purchase", "filterExpression": {"funnelEventFilter": {"eventName": "purchase"}}}]
    assert [s["name"] for s in calls[1].body["funnel"]["steps"]] == ["begin_checkout", "purchase"]
    assert conn.calls_made(SHOP) == 2
    # the fixture contract: the JSON mapping GA4 writes, which auditor.mapping reads into FunnelMeasure
    table = bodies[0]["funnelTable"]
    assert [h["name"] for h in table["dimensionHeaders"]] == ["funnelStepName"]
    assert [h["name"] for h in table["metricHeaders"]] == [
        "activeUsers", "funnelStepCompletionRate", "funnelStepAbandonments", "funnelStepAbandonmentRate"]
    assert table["rows"][0]["dimensionValues"] == [{"value": "1. add_to_cart"}]
    assert bodies[0]["kind"] == "analyticsData#runFunnelReport"


def test_funnel_reports_map_to_funnel_measures(fake: FakeGA4, fixture_root: Path) -> None:
    conn = _connector()
    bodies, missing = conn.fetch(LEADS)
    bodies["ga4/funnels.json"] = conn.funnel_reports(LEADS, [
        ("form_start", "generate_lead"),  # recorded in the fixture: served as recorded
        ("page_view", "generate_lead"),  # recorded with no step-2 row: nobody went on
        ("generate_lead", "form_start"),  # not recorded: synthesized from the 28-day totalUsers
        ("never_seen", "generate_lead"),  # nobody did the first step: no row at all
    ])
    client = map_client(_live(bodies, missing, str(fixture_root / "leads")), "lead-gen")
    # events.json: page_view 400 users, generate_lead 399, form_start 398; the fake keeps 80% of the second
    # event's users, at most 60% of the first step's
    assert client.ga4.funnels == (
        FunnelMeasure(steps=("form_start", "generate_lead"), users=(120, 9)),
        FunnelMeasure(steps=("page_view",), users=(400,)),
        FunnelMeasure(steps=("generate_lead", "form_start"), users=(399, 239)),
    )
    assert client.ga4.funnels[1].rate == 0.0 and client.ga4.funnels[0].rate == 9 / 120
    # what a recording holds maps like what was fetched
    recorded = map_client(load_client(fixture_root / "leads"), "lead-gen").ga4.funnels
    assert recorded == client.ga4.funnels[:2]


def test_no_pairs_no_call(fake: FakeGA4) -> None:
    conn = _connector()
    assert conn.funnel_reports(SHOP, []) == []
    assert fake.calls() == [] and not conn.funnels_used()


@pytest.mark.parametrize(("status", "said"), [("PERMISSION_DENIED", "permission denied"),
                                             ("NOT_FOUND", "not found"),
                                             ("INVALID_ARGUMENT", "request rejected")])
def test_funnel_refused_is_optional_missing(fake: FakeGA4, status: str, said: str) -> None:
    fake.fail("runFunnelReport", status, times=None, message="no funnels for you")
    with pytest.raises(OptionalMissing) as err:
        _connector().funnel_reports(SHOP, [("add_to_cart", "purchase"), ("begin_checkout", "purchase")])
    assert err.value.reason.startswith(f"GA4 Data runFunnelReport: {said} (")
    assert err.value.reason.endswith("no funnels for you)") and "\n" not in err.value.reason
    assert len(fake.calls("runFunnelReport")) == 1  # not retried; the second pair is not asked for


def test_funnel_unavailable_is_retried_then_fails_the_client(fake: FakeGA4, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.fail("runFunnelReport", "UNAVAILABLE", times=1)
    conn = _connector()
    [body] = conn.funnel_reports(SHOP, [("add_to_cart", "purchase")])
    assert body["funnelTable"]["rows"][0]["dimensionValues"] == [{"value": "1. add_to_cart"}]
    assert len(fake.calls("runFunnelReport")) == 2 and conn.calls_made(SHOP) == 2  # the failed attempt counts
    monkeypatch.setenv("AUDITOR_RETRY_ATTEMPTS", "2")
    fake.fail("runFunnelReport", "UNAVAILABLE", times=None)
    with pytest.raises(SourceError, match=rf"^GA4 property {SHOP}: Data API unavailable on runFunnelReport after 2 "):
        _connector().funnel_reports(SHOP, [("add_to_cart", "purchase")])


def test_v1alpha_is_imported_only_for_a_funnel_report() -> None:
    code = ("import sys, google.oauth2.credentials\n"
            "from auditor.connectors.ga4 import GA4Connector, GA4Settings\n"
            "c = GA4Connector(GA4Settings(credentials=google.oauth2.credentials.Credentials(token='t')))\n"
            "c.funnel_reports('1', [])\n"
            "print('google.analytics.data_v1alpha' in sys.modules)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_FIXTURES.parent)
    assert (p.returncode, p.stdout.strip()) == (0, "False"), p.stderr


def test_redact_removes_personal_data_and_secrets() -> None:
    body = {
        "googleAdsLinks": [{"name": "properties/1/googleAdsLinks/2", "customerId": "1234567890",
                            "creatorEmailAddress": "owner@shop.example", "adsPersonalizationEnabled": True}],
        "nextPageToken": "abc",
        "config": {"developer_token": "dev-123", "refresh_token": "1//r", "clientSecret": "s", "password": "p",
                   "accessToken": "ya29", "emailOptIn": True, "apiKey": "k", "tokensPerDay": {"consumed": 3}},
        "displayName": "Shop (contact: jane.doe+ga@mail.example.co.uk)",
        "notes": ["ops@agency.example", "plain text"],
        "userEmails": ["a@b.example"],
    }
    original = json.loads(json.dumps(body))
    out = redact("ga4/google_ads_links.json", body)
    assert body == original  # a copy: the input is untouched
    link = out["googleAdsLinks"][0]
    assert link["creatorEmailAddress"] == REDACTED and link["customerId"] == "1234567890"
    assert link["adsPersonalizationEnabled"] is True and out["nextPageToken"] == "abc"
    cfg = out["config"]
    assert {k: cfg[k] for k in ("developer_token", "refresh_token", "clientSecret", "password", "accessToken",
                                "apiKey")} == dict.fromkeys(("developer_token", "refresh_token", "clientSecret",
                                                             "password", "accessToken", "apiKey"), REDACTED)
    assert cfg["emailOptIn"] is True and cfg["tokensPerDay"] == {"consumed": 3}
    assert out["displayName"] == "Shop (contact: [redacted])"
    assert out["notes"] == [REDACTED, "plain text"] and out["userEmails"] == REDACTED
    assert "@" not in json.dumps(out)


def test_redact_covers_fetched_ga4_bodies(fake: FakeGA4) -> None:
    bodies, _ = _connector().fetch(SHOP)
    text = json.dumps({k: [redact(k, b) for b in v] for k, v in bodies.items()})
    assert "owner@shop.example" not in text and "@" not in text
    assert redact("ga4/events.json", bodies["ga4/events.json"][0]) == bodies["ga4/events.json"][0]
