"""Fixture loading and mapping: formats the APIs write, and bad input that must give one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.audit import audit_folder
from auditor.connectors.offline import client_dirs, load_client
from auditor.errors import ConfigError, FixtureError
from auditor.mapping import map_client
from auditor.ruleset import Ruleset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def rs() -> Ruleset:
    return Ruleset.load()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    dst = tmp_path / "shop"
    shutil.copytree(FIXTURES / "brightcart-home", dst)
    return dst


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_paths_one_client_or_folder_of_clients():
    assert [p.name for p in client_dirs(FIXTURES / "keystone-legal")] == ["keystone-legal"]
    names = [p.name for p in client_dirs(FIXTURES)]
    assert names == sorted(names) and "harbor-dental" in names and len(names) >= 5


def test_missing_path_and_empty_folder_are_usage_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        next(client_dirs(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="holds no client folders"):
        next(client_dirs(tmp_path))


def test_pages_and_snake_case_read_like_single_camel_case(tmp_path: Path):
    """fieldnotes-media holds paged key events and reports and a snake_case file."""
    raw = load_client(FIXTURES / "fieldnotes-media")
    assert len(raw.bodies["ga4/key_events.json"]) == 2 and len(raw.bodies["ga4/events.json"]) == 2
    c = map_client(raw, "content")
    assert c.ga4 is not None and c.ga4.retention is not None
    assert c.ga4.retention.event_data_retention == "TWO_MONTHS"  # read from snake_case event_data_retention
    total = sum(int(b.get("rowCount", 0)) for b in raw.bodies["ga4/events.json"][:1])
    assert len(c.ga4.events) == total
    assert not c.warnings


def test_int64_as_numbers_and_strings_both_read(shop: Path):
    path = shop / "ads/conversion_actions.json"
    data = json.loads(path.read_text())
    batches = data if isinstance(data, list) else [data]
    batches[0]["results"][0]["conversionAction"]["id"] = int(batches[0]["results"][0]["conversionAction"]["id"])
    write(path, data)
    c = map_client(load_client(shop), "ecommerce")
    assert c.ads is not None and all(a.id.isdigit() for a in c.ads.actions)


def test_unknown_fields_ignored_and_unknown_enum_warned(shop: Path):
    path = shop / "ads/conversion_actions.json"
    data = json.loads(path.read_text())
    batches = data if isinstance(data, list) else [data]
    first = batches[0]["results"][0]["conversionAction"]
    first["brandNewField"] = {"x": 1}
    first["category"] = "HOLOGRAM_VISIT"
    write(path, data)
    c = map_client(load_client(shop), "ecommerce")
    assert any("unknown value 'HOLOGRAM_VISIT'" in w and "category" in w and "conversion_actions.json" in w
               for w in c.warnings)
    assert not any("brandNewField" in w for w in c.warnings)


@pytest.mark.parametrize("mutate, expect", [
    (lambda p: p.write_text('{"results": [', encoding="utf-8"), "invalid JSON at line 1"),
    (lambda p: p.write_bytes(b'{"results": "\xff\xfe"}'), "not UTF-8"),
    (lambda p: p.write_text("", encoding="utf-8"), "file is empty"),
    (lambda p: p.write_text("[1, 2]", encoding="utf-8"), "expected a response object"),
    (lambda p: p.unlink(), "required file is missing"),
])
def test_bad_files_give_one_line_naming_the_file(shop: Path, rs: Ruleset, mutate, expect):
    target = shop / "ads/conversion_actions.json"
    mutate(target)
    r = audit_folder(shop, rs)
    assert r.status == "error" and r.score is None
    (err,) = r.errors
    assert "conversion_actions.json" in err and expect in err and "\n" not in err


def test_wrong_type_names_file_and_field(shop: Path, rs: Ruleset):
    path = shop / "ads/conversion_actions.json"
    data = json.loads(path.read_text())
    batches = data if isinstance(data, list) else [data]
    batches[0]["results"][1]["conversionAction"]["primaryForGoal"] = "yes"
    write(path, data)
    (err,) = audit_folder(shop, rs).errors
    assert "conversion_actions.json" in err and "results[1].conversionAction.primaryForGoal" in err
    assert "expected true or false, got a string" in err


def test_wrong_number_in_report_names_the_row(shop: Path, rs: Ruleset):
    path = shop / "ga4/events.json"
    data = json.loads(path.read_text())
    body = data[0] if isinstance(data, list) else data
    body["rows"][2]["metricValues"][0]["value"] = "lots"
    write(path, data)
    (err,) = audit_folder(shop, rs).errors
    assert "events.json" in err and "rows[2].metricValues[0].value" in err and "'lots'" in err


def test_folder_without_sources_is_an_errored_client(tmp_path: Path, rs: Ruleset):
    (tmp_path / "empty-client").mkdir()
    r = audit_folder(tmp_path / "empty-client", rs)
    assert r.status == "error" and "empty folder" in r.errors[0]


def test_bad_client_yaml_names_file_and_key(shop: Path, rs: Ruleset):
    (shop / "client.yaml").write_text("profile: ecommerce\ncolour: blue\n", encoding="utf-8")
    (err,) = audit_folder(shop, rs).errors
    assert "client.yaml: colour: unknown key" in err


def test_unknown_profile_in_client_yaml_is_a_client_error(shop: Path, rs: Ruleset):
    (shop / "client.yaml").write_text("profile: ecommerse\n", encoding="utf-8")
    (err,) = audit_folder(shop, rs).errors
    assert "unknown profile 'ecommerse'" in err and "did you mean 'ecommerce'" in err


# --- fuzz: whatever bytes a fixture holds, the loader gives a result or a FixtureError, never a crash -----

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(
        ["results", "conversionAction", "rows", "metricValues", "dimensionValues", "value", "name", "keyEvents",
         "eventName", "primaryForGoal", "id", "resourceName", "category", "status", "segments", "metrics",
         "conversions", "valueSettings", "defaultValue", "dimensionHeaders", "metricHeaders", "customer"]),
        kids, max_size=5)), max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["ga4/property.json", "ga4/key_events.json", "ga4/events.json",
                            "ads/conversion_actions.json", "ads/conversion_stats.json"]),
       payload=st.one_of(json_value.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)))
def test_fuzz_loader_never_crashes(tmp_path_factory, rs: Ruleset, key: str, payload: bytes):
    folder = tmp_path_factory.mktemp("fuzz") / "client"
    shutil.copytree(FIXTURES / "brightcart-home", folder)
    (folder / key).write_bytes(payload)
    r = audit_folder(folder, rs)
    # "incomplete" is data that does not add up (auditor.integrity), never a rule that crashed on mapped data
    assert r.status in ("ok", "error") or not [x for x in r.rules if x.status == "error"]
    if r.status == "error":
        assert all(isinstance(e, str) and "\n" not in e for e in r.errors)
        assert key.split("/")[-1] in r.errors[0] or "client.yaml" in r.errors[0]


def test_fixture_error_formats_file_and_field():
    e = FixtureError("a/b.json", "expected a number", "rows[1].value")
    assert str(e) == "a/b.json: rows[1].value: expected a number"


def test_recording_manifest_marks_partial_clients_incomplete(tmp_path: Path, rs: Ruleset):
    from auditor.audit import iter_offline

    shutil.copytree(FIXTURES / "brightcart-home", tmp_path / "shop")
    (tmp_path / "manifest.json").write_text(json.dumps({"clients": [
        {"name": "shop", "missing": {"ga4/google_ads_links.json": "permission denied"}}]}), encoding="utf-8")
    (r,) = iter_offline(tmp_path, rs)
    assert r.status == "incomplete"
    assert any("google_ads_links.json" in e and "permission denied" in e for e in r.errors)
    (tmp_path / "manifest.json").write_text("{broken", encoding="utf-8")
    (r,) = iter_offline(tmp_path, rs)
    assert r.status == "ok"


def test_a_duplicate_key_in_a_recorded_body_is_an_error_naming_file_and_key(shop: Path, rs: Ruleset):
    # json would keep the last one silently; the Google client libraries' parser refuses the body
    path = shop / "ads/campaigns.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"status": "ENABLED",', '"status": "PAUSED", "status": "ENABLED",', 1),
                    encoding="utf-8")
    r = audit_folder(shop, rs)
    assert r.status == "error" and r.score is None
    (err,) = r.errors
    assert err == f"{path}: status: invalid JSON: the key appears twice in one object (the API never writes that; " \
                  "which one is meant is unknown)"


@pytest.mark.parametrize("text, key", [('{"a": 1, "a": 2}', "a"), ('[{"x": {"b": 1, "b ": 2, "b": 3}}]', "b"),
                                       ('{"k\\\\": 1, "k\\\\": 2}', "k\\"), ('{"a" : 1, "a" :2}', "a")])
def test_the_fast_parse_finds_every_repeated_key(text, key):
    from auditor.connectors.offline import _DuplicateKey, _strict_loads

    with pytest.raises(_DuplicateKey) as e:
        _strict_loads(text)
    assert e.value.key == key


def test_the_fast_parse_reads_every_sample_file_as_the_standard_library_does():
    import json as std

    from auditor.connectors.offline import _strict_loads

    tricky = ['{"a": "x\\":y", "b": 2}', '{"k\\\\": 1, "j": "q\\\\\\":"}', '{"n": 12345678901234567890123}',
              '{"f": 1e400}', '{"u": "\\u00e9\\ud83d\\ude00"}']
    files = [p.read_text(encoding="utf-8") for p in FIXTURES.rglob("*.json")]
    assert len(files) > 100
    for text in files + tricky:
        assert _strict_loads(text) == std.loads(text)
