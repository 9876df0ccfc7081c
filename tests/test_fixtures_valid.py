"""The bundled sample fixtures are genuine API response bodies and load cleanly.

Every body parses strictly (unknown fields are errors) with the real client-library message types, every
client folder loads through the offline connector and the mapper without warnings, and the files agree with
one another the way recordings of one property and one Ads customer would.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import cache
from pathlib import Path

import pytest
import yaml

from auditor.connectors.offline import load_client
from auditor.mapping import map_client
from auditor.raw import ALL_FILES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLIENTS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
FILES = sorted(str(p.relative_to(FIXTURES)) for c in CLIENTS for p in (FIXTURES / c).rglob("*.json"))

# Clients without a client.yaml: their profile is inferred from their data.
INFERRED = {"lumen-analytics", "pocketfit-app"}
# The one file kept as to_json(preserving_proto_field_name=True) writes it, to exercise that variant.
SNAKE_CASE_FILES = {"fieldnotes-media/ga4/data_retention.json"}


def newest_ads_version() -> str:
    import google.ads.googleads as pkg

    versions = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name[:1] == "v" and m.name[1:].isdigit()]
    return max(versions, key=lambda v: int(v[1:]))


@cache
def message_types() -> dict[str, type]:
    """Fixture file -> the response message type of the API call that produced it."""
    from google.analytics.admin_v1alpha import types as admin_alpha
    from google.analytics.admin_v1beta import types as admin
    from google.analytics.data_v1alpha import types as data_alpha
    from google.analytics.data_v1beta import types as data

    ads = importlib.import_module(f"google.ads.googleads.{newest_ads_version()}.services.types.google_ads_service")
    stream = ads.SearchGoogleAdsStreamResponse
    return {
        "ga4/property.json": admin.Property,
        "ga4/key_events.json": admin.ListKeyEventsResponse,
        "ga4/events.json": data.RunReportResponse,
        "ga4/data_retention.json": admin.DataRetentionSettings,
        "ga4/google_ads_links.json": admin.ListGoogleAdsLinksResponse,
        "ga4/funnels.json": data_alpha.RunFunnelReportResponse,
        "ga4/attribution_settings.json": admin_alpha.AttributionSettings,
        "ga4/ads_key_events.json": data.RunReportResponse,  # one report of a batchRunReports response
        "ads/conversion_actions.json": stream,
        "ads/conversion_stats.json": stream,
        "ads/customer_conversion_goals.json": stream,
        "ads/customer.json": stream,
        "ads/campaigns.json": stream,
        "ads/campaign_conversion_goals.json": stream,
        "ads/conversion_goal_campaign_configs.json": stream,
        "ads/custom_conversion_goals.json": stream,
        "ads/offline_upload_client_summaries.json": stream,
        "ads/offline_upload_action_summaries.json": stream,
        "ads/conversion_lag.json": stream,
    }


# The GAQL resource each Ads file is a query FROM: every row of its batches holds that resource.
ADS_RESOURCE = {
    "ads/conversion_actions.json": "conversionAction",
    "ads/conversion_stats.json": "customer",
    "ads/customer_conversion_goals.json": "customerConversionGoal",
    "ads/customer.json": "customer",
    "ads/campaigns.json": "campaign",
    "ads/campaign_conversion_goals.json": "campaignConversionGoal",
    "ads/conversion_goal_campaign_configs.json": "conversionGoalCampaignConfig",
    "ads/custom_conversion_goals.json": "customConversionGoal",
    "ads/offline_upload_client_summaries.json": "offlineConversionUploadClientSummary",
    "ads/offline_upload_action_summaries.json": "offlineConversionUploadConversionActionSummary",
    "ads/conversion_lag.json": "customer",
}
# The campaign-level files: every client with an Ads account records them all, every GA4 property both GA4 ones.
CAMPAIGN_LEVEL_ADS = ("ads/customer.json", "ads/campaigns.json", "ads/campaign_conversion_goals.json",
                      "ads/conversion_goal_campaign_configs.json", "ads/custom_conversion_goals.json",
                      "ads/offline_upload_client_summaries.json", "ads/offline_upload_action_summaries.json",
                      "ads/conversion_lag.json")
CAMPAIGN_LEVEL_GA4 = ("ga4/attribution_settings.json", "ga4/ads_key_events.json")


def bodies(rel: str) -> list[dict]:
    value = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
    return value if isinstance(value, list) else [value]


def rows(rel: str, resource: str) -> list[dict]:
    """The `resource` object of every row of every batch of an Ads file."""
    return [row[resource] for b in bodies(rel) for row in b.get("results", [])]


def report_rows(rel: str) -> list[tuple[list[str], list[str]]]:
    return [([v["value"] for v in r["dimensionValues"]], [v["value"] for v in r["metricValues"]])
            for b in bodies(rel) for r in b.get("rows", [])]


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_bundled_clients():
    assert CLIENTS == ["brightcart-home", "fieldnotes-media", "harbor-dental", "keystone-legal", "lumen-analytics",
                       "northwind-outfitters", "pocketfit-app", "ridgeline-roofing", "tidewater-supply"]


def test_message_types_cover_the_fixture_contract():
    assert set(message_types()) == set(ALL_FILES)


@pytest.mark.parametrize("rel", FILES)
def test_file_parses_strictly_with_the_client_library(rel):
    key = rel.split("/", 1)[1]
    assert key in ALL_FILES, f"{rel}: not a file of the fixture layout"
    message_type = message_types()[key]
    found = bodies(rel)
    assert found, f"{rel}: holds no response body"
    for i, body in enumerate(found):
        try:
            message_type.from_json(json.dumps(body))  # strict: an unknown field or enum name raises
        except Exception as e:  # report which body of the file failed
            pytest.fail(f"{rel}[{i}] is not a valid {message_type.__name__}: {e}")


@pytest.mark.parametrize("rel", FILES)
def test_file_is_pretty_printed_json_mapping(rel):
    text = (FIXTURES / rel).read_text(encoding="utf-8")
    value = json.loads(text)
    assert text == json.dumps(value, indent=2, ensure_ascii=False) + "\n", f"{rel}: not 2-space pretty-printed"
    snake = {k for k in keys(value) if "_" in k}
    if rel in SNAKE_CASE_FILES:
        assert snake, f"{rel}: meant to keep the snake_case field names"
    else:
        assert not snake, f"{rel}: snake_case field names {sorted(snake)}; write the camelCase JSON names"


@pytest.mark.parametrize("client", CLIENTS)
def test_client_loads_without_warnings(client):
    folder = FIXTURES / client
    snapshot = map_client(load_client(folder), "ecommerce")
    assert snapshot.warnings == ()
    if client in INFERRED:  # audited with the profile its own data points to
        assert not (folder / "client.yaml").exists()
        return
    config = yaml.safe_load((folder / "client.yaml").read_text(encoding="utf-8"))
    assert config["profile"] in {"ecommerce", "lead-gen", "content"}


@pytest.mark.parametrize("client", CLIENTS)
def test_paged_responses_are_consistent(client):
    folder = FIXTURES / client
    if (folder / "ga4").is_dir():
        pages = bodies(f"{client}/ga4/key_events.json")
        assert all(p.get("nextPageToken") for p in pages[:-1]) and not pages[-1].get("nextPageToken")
        reports = bodies(f"{client}/ga4/events.json")
        total = sum(len(r.get("rows", [])) for r in reports)
        assert all(int(r["rowCount"]) == total for r in reports)
        counts = [int(row["metricValues"][0]["value"]) for r in reports for row in r["rows"]]
        assert counts == sorted(counts, reverse=True), "runReport rows are ordered by eventCount, descending"


@pytest.mark.parametrize("client", CLIENTS)
def test_files_of_one_client_agree(client):
    snapshot = map_client(load_client(FIXTURES / client), "ecommerce")
    ga4, ads = snapshot.ga4, snapshot.ads
    if ga4 is not None:
        names = {e.event_name for e in ga4.events}
        for k in ga4.key_events:
            assert k.name.startswith(ga4.property.name + "/keyEvents/")
            assert k.event_name in names, f"key event {k.event_name} has no row in events.json"
            if k.default_currency is not None:
                assert k.default_currency == ga4.property.currency_code
        users = {e.event_name: e.total_users for e in ga4.events}
        for f in ga4.funnels:  # a closed funnel narrows, and reads the events the event report has
            assert all(step in users for step in f.steps), f.steps
            assert list(f.users) == sorted(f.users, reverse=True)
            assert all(u <= users[step] for step, u in zip(f.steps, f.users, strict=True)), f
        for link in ga4.ads_links or ():
            assert link.name.startswith(ga4.property.name + "/googleAdsLinks/")
            if ads is not None:
                assert link.customer_id == ads.customer_id
    if ads is not None:
        assert len(ads.customer_id) == 10 and ads.currency_code
        by_resource = {a.resource_name for a in ads.actions}
        for a in ads.actions:
            assert a.resource_name.startswith(f"customers/{ads.customer_id}/conversionActions/")
            assert a.default_currency in (None, ads.currency_code)
            if not a.enabled:
                assert a.stats.all_conversions == 0, "removed and hidden actions record nothing in 30 days"
            if a.is_ga4_import and a.enabled:
                # Google Ads can import only GA4 key events, from the linked property
                assert ga4 is not None and a.ga4_property_id == ga4.property.id
                assert a.ga4_event_name in {k.event_name for k in ga4.key_events}
            if not a.primary_for_goal:
                assert a.stats.conversions == 0, "secondary actions count only in all_conversions"
        for batch in bodies(f"{client}/ads/conversion_stats.json"):
            for row in batch.get("results", []):
                assert row["segments"]["conversionAction"] in by_resource
        if ga4 is not None:
            assert ads.currency_code == ga4.property.currency_code


def test_ads_files_are_streams_of_their_resource():
    for rel in FILES:
        key = rel.split("/", 1)[1]
        if key.startswith("ads/"):
            value = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
            assert isinstance(value, list) and value, f"{rel}: an array of searchStream batches"
            for row in (row for b in value for row in b.get("results", [])):
                assert ADS_RESOURCE[key] in row, f"{rel}: a row without {ADS_RESOURCE[key]}"


@pytest.mark.parametrize("client", CLIENTS)
def test_campaign_level_files_agree(client):
    """The campaign-level files of one client agree with each other and with its conversion actions, key events
    and events, the way one recording of a property and an Ads customer would."""
    folder = FIXTURES / client
    if (folder / "ga4").is_dir():
        for key in CAMPAIGN_LEVEL_GA4:
            assert (folder / key).is_file(), f"{client}/{key}"
        prop = bodies(f"{client}/ga4/property.json")[0]["name"]
        assert bodies(f"{client}/ga4/attribution_settings.json")[0]["name"] == f"{prop}/attributionSettings"
        key_events = {k["eventName"] for b in bodies(f"{client}/ga4/key_events.json") for k in b.get("keyEvents", [])}
        totals: dict[str, float] = {}
        for b in bodies(f"{client}/ga4/events.json"):
            metrics = [m["name"] for m in b["metricHeaders"]]
            for r in b.get("rows", []):
                totals[r["dimensionValues"][0]["value"]] = float(r["metricValues"][metrics.index("keyEvents")]["value"])
        report = bodies(f"{client}/ga4/ads_key_events.json")
        assert [h["name"] for h in report[0]["dimensionHeaders"]] == ["eventName", "googleAdsCustomerId"]
        assert [h["name"] for h in report[0]["metricHeaders"]] == ["keyEvents"]
        assert all(int(r.get("rowCount", 0)) == len(report_rows(f"{client}/ga4/ads_key_events.json")) for r in report)
        customer = None
        if (folder / "ads").is_dir():
            cid = rows(f"{client}/ads/customer.json", "customer")[0]["id"]
            customer = f"{cid[:3]}-{cid[3:6]}-{cid[6:]}"  # as GA4 writes it
        credited: dict[str, float] = {}
        for (event, account), (value,) in report_rows(f"{client}/ga4/ads_key_events.json"):
            assert event in key_events, f"{event}: the report is filtered to key events"
            assert account in ("(not set)", customer), account
            credited[event] = credited.get(event, 0.0) + float(value)
        for event, total in credited.items():  # attribution shares one key event among channels
            assert abs(total - totals[event]) < 0.01, (event, total, totals[event])
    if not (folder / "ads").is_dir():
        return
    for key in CAMPAIGN_LEVEL_ADS:
        assert (folder / key).is_file(), f"{client}/{key}"
    [customer] = rows(f"{client}/ads/customer.json", "customer")
    cid = customer["id"]
    assert customer["resourceName"] == f"customers/{cid}"
    assert customer["conversionTrackingSetting"]["googleAdsConversionCustomer"] == f"customers/{cid}"
    actions = {a["resourceName"]: a for a in rows(f"{client}/ads/conversion_actions.json", "conversionAction")}
    campaigns = {c["resourceName"] for c in rows(f"{client}/ads/campaigns.json", "campaign")}
    assert all(c.startswith(f"customers/{cid}/campaigns/") for c in campaigns)
    assert all(c["status"] != "REMOVED" for c in rows(f"{client}/ads/campaigns.json", "campaign"))
    configs = rows(f"{client}/ads/conversion_goal_campaign_configs.json", "conversionGoalCampaignConfig")
    assert {c["campaign"] for c in configs} == campaigns
    custom = {g["resourceName"]: g for g in rows(f"{client}/ads/custom_conversion_goals.json", "customConversionGoal")}
    named = {c["customConversionGoal"] for c in configs if c.get("customConversionGoal")}
    assert named <= set(custom) and bool(named) == bool(custom), "custom goals are read only when a campaign names one"
    for goal in custom.values():
        assert set(goal["conversionActions"]) <= set(actions)
    for c in configs:
        assert c["goalConfigLevel"] in ("CUSTOMER", "CAMPAIGN")
        assert c["goalConfigLevel"] == "CAMPAIGN" or not c.get("customConversionGoal")
    goals = rows(f"{client}/ads/campaign_conversion_goals.json", "campaignConversionGoal")
    assert {g["campaign"] for g in goals} == campaigns
    categories = {(a["category"], a["origin"]) for a in actions.values() if a["status"] == "ENABLED"}
    assert {(g["category"], g["origin"]) for g in goals} <= categories | {
        (a["category"], a["origin"]) for a in actions.values()}
    # campaign metrics add up to the account's: conversions and value of the actions campaigns bid on
    stats = [row["metrics"] for b in bodies(f"{client}/ads/conversion_stats.json") for row in b.get("results", [])]
    metrics = [row["metrics"] for b in bodies(f"{client}/ads/campaigns.json") for row in b.get("results", [])]
    for name in ("conversions", "conversionsValue", "allConversions"):
        assert abs(sum(m.get(name, 0) for m in metrics) - sum(s.get(name, 0) for s in stats)) < 0.01, name


@pytest.mark.parametrize("client", [c for c in CLIENTS if (FIXTURES / c / "ads").is_dir()])
def test_import_diagnostics_and_conversion_lag_agree_with_the_actions(client):
    """The upload summaries name the account's upload actions and add up; the conversion lag names enabled actions,
    never beyond an action's click-through window."""
    from auditor.audit import read_client_settings
    from auditor.enums import LAG_BUCKET_DAYS, UPLOAD_TYPES

    snapshot = map_client(load_client(FIXTURES / client), "ecommerce")
    ads = snapshot.ads
    assert ads is not None and ads.upload_action_summaries is not None and ads.conversion_lag is not None
    assert ads.upload_client_summaries is not None
    by_id = {a.id: a for a in ads.actions}
    for s in ads.upload_action_summaries:
        a = by_id[s.action_id]
        assert a.type in UPLOAD_TYPES and s.action_name == a.name
        assert s.resource_name == (f"customers/{ads.customer_id}/offlineConversionUploadConversionActionSummaries/"
                                   f"{a.id}~{s.client}")
    for s in (*ads.upload_action_summaries, *ads.upload_client_summaries):
        assert s.successful + s.pending <= s.total
        if s.daily:
            assert sum(d.successful + d.failed + d.pending for d in s.daily) == s.total
            assert sum(d.successful for d in s.daily) == s.successful
            assert s.last_upload is not None and max(d.day for d in s.daily) == s.last_upload.date()
        read_on = read_client_settings(FIXTURES / client).get("read_on")  # ages need it: where uploads are
        assert read_on is not None and s.last_upload is not None and s.last_upload.date() < read_on
    clients = {s.client: s for s in ads.upload_client_summaries}
    for c in {s.client for s in ads.upload_action_summaries}:  # an upload client sums its actions
        members = [s for s in ads.upload_action_summaries if s.client == c]
        assert clients[c].total == sum(s.total for s in members)
    assert bool(ads.upload_action_summaries) == any(a.type in UPLOAD_TYPES for a in ads.enabled_actions)
    actions = {a.resource_name: a for a in ads.actions}
    for row in ads.conversion_lag:
        a = actions[row.action]
        assert a.enabled
        window = a.click_through_lookback_window_days or 90
        assert LAG_BUCKET_DAYS[row.bucket][0] < window, (a.name, row.bucket)
    lagged = {row.action for row in ads.conversion_lag}
    assert lagged == {a.resource_name for a in ads.enabled_actions if a.stats.all_conversions}
