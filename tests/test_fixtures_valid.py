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
INFERRED = {"lumen-analytics"}
# The one file kept as to_json(preserving_proto_field_name=True) writes it, to exercise that variant.
SNAKE_CASE_FILES = {"fieldnotes-media/ga4/data_retention.json"}


def newest_ads_version() -> str:
    import google.ads.googleads as pkg

    versions = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name[:1] == "v" and m.name[1:].isdigit()]
    return max(versions, key=lambda v: int(v[1:]))


@cache
def message_types() -> dict[str, type]:
    """Fixture file -> the response message type of the API call that produced it."""
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
        "ads/conversion_actions.json": stream,
        "ads/conversion_stats.json": stream,
        "ads/customer_conversion_goals.json": stream,
    }


def bodies(rel: str) -> list[dict]:
    value = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
    return value if isinstance(value, list) else [value]


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_bundled_clients():
    assert CLIENTS == ["brightcart-home", "fieldnotes-media", "harbor-dental", "keystone-legal", "lumen-analytics",
                       "northwind-outfitters"]


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
