"""Live audits end to end: `audit` and `audit record` against the loopback GA4 and Google Ads fakes.

The CLI tests run `audit` in a subprocess through the documented endpoint overrides (AUDITOR_GA4_ADMIN_ENDPOINT,
AUDITOR_GA4_DATA_ENDPOINT, AUDITOR_ADS_ENDPOINT), with service-account keys whose token_uri is the GA4 fake's
token endpoint (GA4 through --ga4-credentials, Ads through GOOGLE_ADS_JSON_KEY_FILE_PATH) and the test CA as
gRPC's trust roots. The fakes run in this process, so a test can inject a fault and watch what the run did.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.ads_server import FakeAdsServer, install_test_ca
from tests.fakes.ga4_server import FakeGA4

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
DEV_TOKEN = "dev-token-Zq81secret"
MANAGER = "9999999999"
SA_EMAIL = "auditor-live@example-project.iam.gserviceaccount.com"
ADS_SA_EMAIL = "auditor-ads@example-project.iam.gserviceaccount.com"
PERSONAL = "jane.doe@northwind.example"

# client -> (GA4 property, Ads customer, profile), as recorded in fixtures/
CLIENTS = {
    "northwind-outfitters": ("318406725", "4821937560", "ecommerce"),
    "keystone-legal": ("301772468", "2609718453", "lead-gen"),
    "harbor-dental": (None, "9134528670", "lead-gen"),
    "fieldnotes-media": ("287315904", None, "content"),
}
# The sample clients these tests serve: the expectations below (discovery, counts) are about exactly these.
SERVED = [*CLIENTS, "brightcart-home", "ridgeline-roofing"]
# Calls per client when nothing pages (auditor.live.CALLS_PER_CLIENT): GA4 6 per property; Google Ads 10 per
# customer, 11 for one whose campaigns bid on a custom conversion goal (keystone-legal, lumen-analytics)
GA4_CALLS, ADS_CALLS = 6, 10
CUSTOM_GOALS = {"keystone-legal", "lumen-analytics"}
# The campaign-level files every client of this test records (GA4 ones for a property, Ads ones for a customer)
CAMPAIGN_LEVEL = ("ga4/attribution_settings.json", "ga4/ads_key_events.json", "ads/customer.json",
                  "ads/campaigns.json", "ads/campaign_conversion_goals.json",
                  "ads/conversion_goal_campaign_configs.json", "ads/custom_conversion_goals.json",
                  "ads/offline_upload_client_summaries.json", "ads/offline_upload_action_summaries.json",
                  "ads/conversion_lag.json")
# The day SOURCE_DATE_EPOCH (1767225600) fixes: a live run reads its data on it, a recording says so (read_on)
READ_ON = date(2026, 1, 1)
# (micro, macro) pairs auditor.audit.plan_funnels picks from each client's data; fixtures/<client>/ga4/funnels.json
# records the answers to exactly these (the others read none)
FUNNELS = {
    "keystone-legal": [("qualified_pricing_visit", "generate_lead"), ("video_start", "generate_lead")],
    "brightcart-home": [("add_to_cart", "purchase")],
}
ACCESS_LEVELS = ("API access is the level of the credentials' Google Cloud project (Cloud console > Google Ads API "
                 "overview): Test (test accounts only), Explorer (2,880 operations a day), Basic (15,000) or "
                 "Standard (unlimited); one query is one operation")
ACCOUNTS = [  # customer_client rows under MANAGER
    {"id": "4821937560", "descriptive_name": "Northwind Outfitters", "manager": False, "status": "ENABLED"},
    {"id": "2609718453", "descriptive_name": "Keystone Legal LLP", "manager": False, "status": "ENABLED"},
    {"id": "9134528670", "descriptive_name": "Harbor Dental Clinic", "manager": False, "status": "ENABLED"},
    {"id": "7356021984", "descriptive_name": "BrightCart Home", "manager": False, "status": "ENABLED"},
]


# -- fakes and credentials, shared by the module --------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SERVED sample clients, with a personal address where the API puts one (redaction must remove it)."""
    root = tmp_path_factory.mktemp("served")
    for name in SERVED:
        shutil.copytree(FIXTURES / name, root / name)
    links = root / "northwind-outfitters/ga4/google_ads_links.json"
    links.write_text(links.read_text().replace('"[redacted]"', json.dumps(PERSONAL)))
    goals = root / "keystone-legal/ads/custom_conversion_goals.json"  # a name is free text: the removed goal's
    goals.write_text(goals.read_text().replace("Consultations only (old)", f"Consultations only (old, {PERSONAL})"))
    return root


@pytest.fixture(scope="module")
def fakes(served: Path):
    install_test_ca()  # before grpc opens a secure channel in this process; subprocesses inherit the env var
    with FakeGA4(served) as ga4, FakeAdsServer(served, clients={MANAGER: ACCOUNTS}, developer_token=DEV_TOKEN) as ads:
        yield ga4, ads


@pytest.fixture()
def ga4(fakes) -> FakeGA4:
    fakes[0].reset()
    return fakes[0]


@pytest.fixture()
def ads(fakes) -> FakeAdsServer:
    fakes[1].reset()
    fakes[1].latency = 0.0
    return fakes[1]


@pytest.fixture(scope="module")
def keys(fakes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fakes[0].service_account_keys(tmp_path_factory.mktemp("keys"), SA_EMAIL, ADS_SA_EMAIL)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")  # no ~/google-ads.yaml, no gcloud application default credentials


def live_env(fakes, keys: dict[str, Path], home: Path) -> dict[str, str]:
    ga4, ads = fakes
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_ADS_", "AUDITOR_")) and k not in ("GOOGLE_APPLICATION_CREDENTIALS",)}
    env.update({
        "HOME": str(home), "SOURCE_DATE_EPOCH": "1767225600",
        "AUDITOR_GA4_ADMIN_ENDPOINT": ga4.url, "AUDITOR_GA4_DATA_ENDPOINT": ga4.url,
        "AUDITOR_ADS_ENDPOINT": ads.endpoint, "AUDITOR_RETRY_INITIAL": "0.01", "AUDITOR_CALL_TIMEOUT": "10",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"],
        "GOOGLE_ADS_DEVELOPER_TOKEN": DEV_TOKEN, "GOOGLE_ADS_JSON_KEY_FILE_PATH": str(keys["ads"]),
    })
    return env


@pytest.fixture()
def env(fakes, keys, home, ga4, ads) -> dict[str, str]:
    return live_env(fakes, keys, home)


def audit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def write_config(path: Path, names: list[str]) -> Path:
    """A config listing these clients, with each one's profile and funnel as its fixture's client.yaml says."""
    clients = []
    for name in names:
        prop, cust, _ = CLIENTS[name]
        settings = yaml.safe_load((FIXTURES / name / "client.yaml").read_text(encoding="utf-8")) or {}
        entry: dict[str, Any] = {"name": name}
        entry.update({"property": prop} if prop else {})
        entry.update({"customer": f"{cust[:3]}-{cust[3:6]}-{cust[6:]}"} if cust else {})
        entry.update({k: v for k, v in settings.items() if k in ("profile", "funnel")})
        clients.append(entry)
    path.write_text(yaml.safe_dump({"clients": clients}, sort_keys=False), encoding="utf-8")
    return path


def comparable(stdout: str) -> dict[str, Any]:
    data = json.loads(stdout)
    data.pop("generated_at")
    return data


def offline_json(root: Path, env: dict[str, str], names: list[str] | None = None,
                 client_yaml: bool = True) -> dict[str, Any]:
    """`audit --offline` of `root`, or of a folder holding just `names`; without their client.yaml (profile and
    funnel ladder) when `client_yaml` is False, like a live client given by --property/--customer alone."""
    if names is not None:
        sub = root.parent / f"only-{'-'.join(sorted(n[:4] for n in names))}{'' if client_yaml else '-bare'}"
        if not sub.exists():
            for n in names:
                shutil.copytree(root / n, sub / n,
                                ignore=None if client_yaml else shutil.ignore_patterns("client.yaml"))
        root = sub
    p = audit("--offline", str(root), "--format", "json", "--fail-on", "never", env=env)
    assert p.returncode == 0, p.stderr
    return comparable(p.stdout)


@pytest.fixture(scope="module")
def config_run(fakes, keys, home, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One live run over a config file of four clients, shared by the tests that compare against it."""
    fakes[0].reset()
    fakes[1].reset()
    cfg = write_config(tmp_path_factory.mktemp("cfg") / "auditor.yaml", list(CLIENTS))
    p = audit("--config", str(cfg), "--format", "json", "--fail-on", "never", "--jobs", "2",
              "--ga4-credentials", str(keys["ga4"]), env=live_env(fakes, keys, home))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    return {"config": cfg, "json": comparable(p.stdout), "ga4_calls": len(fakes[0].calls()),
            "ads_calls": fakes[1].call_count}


# -- the CLI, live ----------------------------------------------------------------------------------------------


def test_single_client_from_the_command_line_equals_offline(env, keys, served, ga4, ads) -> None:
    p = audit("--property", "318406725", "--customer", "482-193-7560", "--format", "json", "--fail-on", "never",
              "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 0, p.stderr
    live = comparable(p.stdout)
    assert [c["name"] for c in live["clients"]] == ["northwind-outfitters"]  # named after the Ads account
    # no profile given on either side: both infer it from the data
    assert live["clients"][0]["profile_source"] == "inferred"
    assert live == offline_json(served, env, ["northwind-outfitters"], client_yaml=False)
    # 16 calls for a client with both sources: 6 GA4 + 10 Ads (no custom goal), each with the token from the
    # key's token_uri; no funnel report (no micro of this healthy account decides a finding)
    assert len(ga4.calls()) == GA4_CALLS and ads.call_count == ADS_CALLS
    assert [c.method for c in ga4.calls()] == ["getProperty", "listKeyEvents", "batchRunReports",
                                               "getDataRetentionSettings", "listGoogleAdsLinks",
                                               "getAttributionSettings"]
    assert "custom_conversion_goal" not in [c.resource for c in ads.calls]
    assert {t["claims"]["iss"] for t in ga4.tokens} == {SA_EMAIL, ADS_SA_EMAIL}
    assert {t["claims"]["scope"] for t in ga4.tokens if t["claims"]["iss"] == SA_EMAIL} == {
        "https://www.googleapis.com/auth/analytics.readonly"}
    assert {c.metadata["developer-token"] for c in ads.calls} == {DEV_TOKEN}


def test_no_developer_token_live_run_equals_offline(env, keys, served, ga4, ads) -> None:
    """No developer token anywhere (the API ignores it since the sunset): no header sent, the same audit."""
    env = {k: v for k, v in env.items() if k != "GOOGLE_ADS_DEVELOPER_TOKEN"}
    p = audit("--property", "318406725", "--customer", "482-193-7560", "--format", "json", "--fail-on", "never",
              "-v", "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 0, p.stderr
    assert comparable(p.stdout) == offline_json(served, env, ["northwind-outfitters"], client_yaml=False)
    assert ads.calls and all("developer-token" not in c.metadata for c in ads.calls)
    assert "audit: Google Ads: no developer token configured (not needed since developer tokens were sunset" \
        in p.stderr
    assert "Traceback" not in p.stderr


def test_a_test_level_cloud_project_is_one_line_per_client(env, keys, ga4, ads) -> None:
    """The refusal a Test-level project gets on a production account: the client could not be fetched (exit 3),
    one line naming the access level and where to apply."""
    ads.refuse_as_test_project()
    env = {k: v for k, v in env.items() if k != "GOOGLE_ADS_DEVELOPER_TOKEN"}
    p = audit("--customer", "913-452-8670", "--format", "json", "--fail-on", "never", env=env)
    assert p.returncode == 3 and "Traceback" not in p.stderr
    (client,) = json.loads(p.stdout)["clients"]
    assert client["status"] == "error" and client["score"] is None
    line = ("Google Ads customer 9134528670: CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION: The Google Cloud project "
            "is only approved for use with test accounts. To access non-test accounts, apply for Explorer, Basic "
            "or Standard access; the Google Cloud project of these credentials has Test access to the Google Ads "
            "API (test accounts only): apply for Explorer access in the Cloud console > Google Ads API overview > "
            "Explorer access")
    assert client["errors"] == [line]
    assert p.stderr == f"audit: error: client customer-9134528670: {line}\n"
    assert ads.call_count == 1  # refused at once: not retried, nothing else asked


def test_config_clients_equal_offline(config_run, served, env) -> None:
    live = config_run["json"]
    assert [c["name"] for c in live["clients"]] == list(CLIENTS)  # target order: the config's
    assert all(c["status"] == "ok" for c in live["clients"])
    offline = offline_json(served, env, list(CLIENTS))
    offline["clients"].sort(key=lambda c: list(CLIENTS).index(c["name"]))
    offline["summary"] = live["summary"]  # the summary is recomputed from the same rows; order differs
    assert live == offline
    # a fixed number of calls per client whatever its size: 6 per property, 7 per customer (8 for keystone-legal,
    # whose campaigns bid on a custom goal), plus the funnel reports the plan picks (keystone-legal: 2; at most 3)
    assert config_run["ga4_calls"] == GA4_CALLS * 3 + 2 and config_run["ads_calls"] == ADS_CALLS * 3 + 1


def test_ridgeline_live_equals_offline_and_its_recording(env, keys, served, ads, tmp_path: Path) -> None:
    """The offline import diagnostics and the conversion lag, live: the same audit as the sample's files, and a
    recording that says the day its data was read (ages are measured from it)."""
    p = audit("--customer", "487-035-1926", "--format", "json", "--fail-on", "never", env=env)
    assert p.returncode == 0, p.stderr
    live = comparable(p.stdout)
    [client] = live["clients"]
    assert client["name"] == "ridgeline-roofing" and client["status"] == "ok"
    found = {f["rule"]: f["severity"] for f in client["findings"]}
    assert {k: found.get(k) for k in ("offline-import-health", "lookback-window-short", "customer-data-terms")} == {
        "offline-import-health": "high", "lookback-window-short": "medium", "customer-data-terms": "high"}
    assert live == offline_json(served, env, ["ridgeline-roofing"], client_yaml=False)
    assert ads.call_count == ADS_CALLS
    [lag] = [c for c in ads.calls if "conversion_lag_bucket" in c.query]
    assert "segments.date BETWEEN '2025-10-03' AND '2025-12-31'" in lag.query  # the 90 days before READ_ON
    out = tmp_path / "recording"
    p = audit("record", "--customer", "487-035-1926", "--out", str(out), env=env)
    assert p.returncode == 0, p.stderr
    folder = out / "ridgeline-roofing"
    assert yaml.safe_load((folder / "client.yaml").read_text(encoding="utf-8")) == {"read_on": READ_ON}
    for key in CAMPAIGN_LEVEL[2:]:
        assert _content(folder / key) == _content(served / "ridgeline-roofing" / key, redact=True), key
    assert offline_json(out, env) == live


def test_permission_denied_on_one_client_errors_it_alone(env, keys, ga4, ads, tmp_path: Path) -> None:
    ads.deny("2609718453")  # keystone-legal: a GoogleAdsFailure USER_PERMISSION_DENIED in the trailer
    ga4.fail("batchRunReports", "UNAVAILABLE", times=1, property_id="318406725")  # retried, then fine
    cfg = write_config(tmp_path / "auditor.yaml", list(CLIENTS))
    p = audit("--config", str(cfg), "--format", "json", "--fail-on", "never",
              "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 3, p.stderr
    assert "Traceback" not in p.stderr
    by_name = {c["name"]: c for c in json.loads(p.stdout)["clients"]}
    bad = by_name.pop("keystone-legal")
    assert bad["status"] == "error" and bad["score"] is None and len(bad["errors"]) == 1
    assert bad["errors"][0].startswith("Google Ads customer 2609718453: USER_PERMISSION_DENIED: ")
    assert all(c["status"] == "ok" and c["score"] is not None for c in by_name.values())
    errors = [line for line in p.stderr.splitlines() if line.startswith("audit: error:")]
    assert errors == [f"audit: error: client keystone-legal: {bad['errors'][0]}"]
    assert len(ads.calls) == ADS_CALLS * 2 + 1  # denied at once, not retried; its other queries never ran
    assert len(ga4.calls("batchRunReports", "318406725")) == 2


def test_optional_call_failing_is_incomplete_never_a_pass(env, keys, ga4) -> None:
    ga4.fail("getDataRetentionSettings", "PERMISSION_DENIED", times=None)
    p = audit("--property", "287315904", "--format", "json", "--fail-on", "never",
              "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 3
    client = json.loads(p.stdout)["clients"][0]
    assert client["name"] == "fieldnotes-media" and client["status"] == "incomplete"
    assert client["errors"][0].startswith("fieldnotes-media: ga4/data_retention.json: not collected: GA4 Admin "
                                          "getDataRetentionSettings: permission denied")


def test_funnel_reports_denied_is_incomplete_never_errored(env, keys, ga4, served, tmp_path: Path) -> None:
    ga4.fail("runFunnelReport", "PERMISSION_DENIED", times=None)
    p = audit("--property", "301772468", "--customer", "260-971-8453", "--format", "json", "--fail-on", "never",
              "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 3, p.stderr
    client = json.loads(p.stdout)["clients"][0]
    assert client["name"] == "keystone-legal-llp" and client["status"] == "incomplete" and client["score"] is not None
    assert len(client["errors"]) == 1
    assert client["errors"][0].startswith("keystone-legal-llp: ga4/funnels.json: not collected: GA4 Data "
                                          "runFunnelReport: permission denied")
    assert len(ga4.calls("runFunnelReport")) == 1  # refused: not retried, the second pair not asked for
    # judged like the same data recorded without funnels (and, as here, without a configured profile or ladder):
    # the rates rest on the 28-day user counts
    folder = tmp_path / "keystone-legal-llp"
    shutil.copytree(served / "keystone-legal", folder, ignore=shutil.ignore_patterns("client.yaml", "funnels.json"))
    [without] = offline_json(folder, env)["clients"]
    assert without["status"] == "ok" and without["errors"] == []
    assert {k: v for k, v in client.items() if k not in ("status", "errors")} == {
        k: v for k, v in without.items() if k not in ("status", "errors")}


def test_missing_and_rejected_credentials_are_one_line(env, keys, ga4, tmp_path: Path) -> None:
    p = audit("--property", "318406725", "--ga4-credentials", str(tmp_path / "nope.json"), env=env)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == f"audit: error: {tmp_path / 'nope.json'}: credentials file not found\n"
    ga4.fail("token", times=None, message="Invalid JWT Signature.")
    p = audit("--property", "318406725", "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert p.stderr.startswith(f"audit: error: GA4: the token endpoint rejected the credentials of service account "
                               f"{SA_EMAIL} (invalid_grant: Invalid JWT Signature.)")
    assert ga4.calls() == []  # no API call made with credentials known to be bad


# -- audit record ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(config_run, fakes, keys, home, tmp_path_factory: pytest.TempPathFactory) -> Path:
    fakes[0].reset()
    fakes[1].reset()
    out = tmp_path_factory.mktemp("rec") / "recording"
    p = audit("record", "--config", str(config_run["config"]), "--out", str(out), "--jobs", "3",
              "--ga4-credentials", str(keys["ga4"]), env=live_env(fakes, keys, home))
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == f"audit: recorded 4 of 4 client(s) in {out}"
    return out


def test_record_then_offline_gives_the_same_result(recording, config_run, env, served) -> None:
    assert sorted(p.name for p in recording.iterdir()) == sorted([*CLIENTS, "manifest.json"])
    offline = offline_json(recording, env)
    live = config_run["json"]
    offline["clients"].sort(key=lambda c: list(CLIENTS).index(c["name"]))
    offline["summary"] = live["summary"]
    assert offline == live
    for name in CLIENTS:  # what the offline audit needs from the config: profile and own funnel ladder
        recorded = yaml.safe_load((recording / name / "client.yaml").read_text())
        fixture = yaml.safe_load((FIXTURES / name / "client.yaml").read_text())
        assert recorded == {**{k: v for k, v in fixture.items() if k in ("profile", "funnel")}, "read_on": READ_ON}
    assert sorted(p.name for p in (recording / "fieldnotes-media/ga4").iterdir()) == [
        "ads_key_events.json", "attribution_settings.json", "data_retention.json", "events.json",
        "google_ads_links.json", "key_events.json", "property.json"]
    assert not (recording / "fieldnotes-media/ads").exists()
    for name in CLIENTS:  # every file of the sample client, the campaign-level ones included
        files = {str(p.relative_to(FIXTURES / name)) for p in (FIXTURES / name).rglob("*.json")}
        assert {str(p.relative_to(recording / name)) for p in (recording / name).rglob("*.json")} == files, name
        for key in CAMPAIGN_LEVEL:
            if key in files:
                # what was served, redacted (a removed custom goal's name holds a personal address)
                assert _content(recording / name / key) == _content(served / name / key, redact=True), (name, key)
    # written as the offline reader expects them: searchStream batches, one GA4 body; custom goals not queried
    # (no campaign names one) are one empty batch
    for name in CLIENTS:
        if CLIENTS[name][1]:
            goals = json.loads((recording / name / "ads/custom_conversion_goals.json").read_text())
            assert any(b.get("results") for b in goals) == (name in CUSTOM_GOALS), name
    assert json.loads((recording / "northwind-outfitters/ads/custom_conversion_goals.json").read_text()) == [{}]
    assert isinstance(json.loads((recording / "keystone-legal/ga4/ads_key_events.json").read_text()), dict)
    for name in CLIENTS:  # the funnel reports read, one body per pair, always an array; none when none planned
        path = recording / name / "ga4/funnels.json"
        assert path.is_file() == (name in FUNNELS)
        if name in FUNNELS:
            bodies = json.loads(path.read_text())
            assert isinstance(bodies, list)
            assert [tuple(r["dimensionValues"][0]["value"] for r in b["funnelTable"]["rows"]) for b in bodies] == [
                (f"1. {micro}", f"2. {macro}") for micro, macro in FUNNELS[name]]
    actions = json.loads((recording / "harbor-dental/ads/conversion_actions.json").read_text())
    assert isinstance(actions, list) and actions[0]["results"][0]["conversionAction"]["id"].isdigit()


def _content(path: Path, redact: bool = False) -> Any:
    """What a recorded file says, whatever default fields or request ids the live JSON mapping adds: Ads rows,
    report headers and rows, or the whole body; `redact`: as `audit record` would write it."""
    from auditor.connectors.redact import redact as redacted

    value = json.loads(path.read_text(encoding="utf-8"))
    pages = value if isinstance(value, list) else [value]
    if redact:
        pages = [redacted(f"{path.parent.name}/{path.name}", p) for p in pages]
    if path.parent.name == "ads":
        return [row for b in pages for row in b.get("results", [])]
    if "dimensionHeaders" in pages[0]:
        return ([h["name"] for h in pages[0]["dimensionHeaders"]], [h["name"] for h in pages[0]["metricHeaders"]],
                [row for p in pages for row in p.get("rows", [])])
    return pages


def test_manifest(recording) -> None:
    m = json.loads((recording / "manifest.json").read_text())
    assert m["recorded_at"] == "2026-01-01T00:00:00Z" and m["tool"]["name"] == "auditor"
    assert m["api_versions"] == {"ga4_admin": "v1beta", "ga4_data": "v1beta", "ga4_admin_attribution": "v1alpha",
                                 "ga4_data_funnels": "v1alpha", "google_ads": "v26"}
    assert [c["name"] for c in m["clients"]] == list(CLIENTS)
    assert {c["status"] for c in m["clients"]} == {"recorded"}
    assert "ga4/funnels.json" in next(c for c in m["clients"] if c["name"] == "keystone-legal")["files"]
    assert m["calls"] == {"ga4": GA4_CALLS * 3 + 2, "ads": ADS_CALLS * 3 + 1, "ads_retries": 0}
    assert not list(recording.rglob(".*"))  # no temporary file or folder left behind


def test_recording_holds_no_secret_token_key_or_email(recording, keys, fakes) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in recording.rglob("*") if p.is_file())
    private_key = json.loads(keys["ga4"].read_text())["private_key"]
    issued = [t["token"] for t in fakes[0].tokens]
    for secret in [DEV_TOKEN, "fake-access-token", "PRIVATE KEY", private_key.splitlines()[1], "test-key-1",
                   "refresh_token", SA_EMAIL, ADS_SA_EMAIL, PERSONAL, *issued]:
        assert secret not in text, secret
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
    links = json.loads((recording / "northwind-outfitters/ga4/google_ads_links.json").read_text())
    assert links["googleAdsLinks"][0]["creatorEmailAddress"] == "[redacted]"  # served with PERSONAL in it
    goals = json.loads((recording / "keystone-legal/ads/custom_conversion_goals.json").read_text())
    assert [g["customConversionGoal"]["name"] for b in goals for g in b["results"]] == [
        "Enquiries + video plays", "Consultations only (old, [redacted])"]


def test_record_with_funnels_denied_lists_them_missing_and_audits_the_same(env, keys, ga4, tmp_path: Path) -> None:
    ga4.fail("runFunnelReport", "PERMISSION_DENIED", times=None)
    cfg = write_config(tmp_path / "auditor.yaml", ["keystone-legal", "fieldnotes-media"])
    args = ("--config", str(cfg), "--ga4-credentials", str(keys["ga4"]))
    live = audit(*args, "--format", "json", "--fail-on", "never", env=env)
    assert live.returncode == 3, live.stderr
    out = tmp_path / "rec"
    p = audit("record", "--out", str(out), *args, env=env)
    assert p.returncode == 3, p.stderr
    assert "audit: warning: client keystone-legal: ga4/funnels.json: not recorded: GA4 Data runFunnelReport: " \
           "permission denied" in p.stderr
    m = json.loads((out / "manifest.json").read_text())
    keystone = next(c for c in m["clients"] if c["name"] == "keystone-legal")
    assert keystone["status"] == "incomplete" and list(keystone["missing"]) == ["ga4/funnels.json"]
    assert "ga4/funnels.json" not in keystone["files"] and not (out / "keystone-legal/ga4/funnels.json").exists()
    assert m["api_versions"]["ga4_data_funnels"] == "v1alpha"  # asked for, though refused
    # the recording's manifest keeps the client partial offline: the same result as the live run
    offline = audit("--offline", str(out), "--format", "json", "--fail-on", "never", env=env)
    assert offline.returncode == 3
    live_json = comparable(live.stdout)
    # offline names a missing file by its folder, live by the client's name
    recorded = comparable(offline.stdout.replace(f"{out}/", ""))
    recorded["clients"].sort(key=lambda c: ["keystone-legal", "fieldnotes-media"].index(c["name"]))
    recorded["summary"] = live_json["summary"]
    assert recorded == live_json


# -- discovery and auth check ---------------------------------------------------------------------------------


@pytest.fixture()
def in_process(fakes, keys, home, ga4, ads, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in live_env(fakes, keys, home).items():
        monkeypatch.setenv(k, v)
    for k in [k for k in os.environ if k.startswith("GOOGLE_ADS_") and k not in (
            "GOOGLE_ADS_DEVELOPER_TOKEN", "GOOGLE_ADS_JSON_KEY_FILE_PATH")]:
        monkeypatch.delenv(k)


def _ruleset(config: Path | None = None) -> Any:
    from auditor.cli import load_ruleset

    return load_ruleset(str(config) if config else None, None)


def test_discovery_pairs_properties_and_accounts_through_links(in_process, keys, ga4, ads, tmp_path: Path) -> None:
    from auditor.live import Live, Target, iter_live, resolve_targets

    cfg = tmp_path / "auditor.yaml"  # a configured client keeps its name and profile when discovered
    cfg.write_text("clients:\n  - name: keystone\n    property: '301772468'\n    profile: lead-gen\n")
    ruleset = _ruleset(cfg)
    live = Live(str(keys["ga4"]), None, jobs=3)
    warnings: list[str] = []
    targets = resolve_targets(ruleset, None, None, True, "999-999-9999", live, warn=warnings.append)
    assert warnings == []
    assert targets == [
        Target("brightcart-home", None, "7356021984", None, MANAGER),  # its property has no link: apart
        Target("brightcart-home-www", "352190847", None, None, None),
        Target("fieldnotes-media", "287315904", None, None, None),
        Target("harbor-dental-clinic", None, "9134528670", None, MANAGER),
        Target("keystone", "301772468", "2609718453", "lead-gen", MANAGER),
        Target("northwind-outfitters", "318406725", "4821937560", None, MANAGER),
    ]
    assert [c.method for c in ga4.calls()].count("listAccountSummaries") == 1
    assert ads.calls[0].resource == "customer_client" and ads.calls[0].metadata["login-customer-id"] == MANAGER
    results = list(iter_live(targets, ruleset, 3, live))
    assert [r.name for r in results] == [t.name for t in targets]
    by_name = {r.name: r for r in results}
    assert by_name["keystone"].profile == "lead-gen"
    assert by_name["brightcart-home-www"].status == "incomplete"  # links not recorded: NOT_FOUND, partial
    assert by_name["northwind-outfitters"].status == "ok"
    # links read during discovery are not read again: still 6 GA4 calls per property, 7 Ads calls per account (8
    # for keystone's custom goal), plus keystone's 2 funnel reports (a property audited without its Ads account
    # has no primary to measure)
    per_property = {pid: len(ga4.calls(property_id=pid)) for pid in ("352190847", "287315904", "301772468",
                                                                     "318406725")}
    assert per_property == {"352190847": GA4_CALLS + 1, "287315904": GA4_CALLS, "301772468": GA4_CALLS + 2,
                            "318406725": GA4_CALLS}  # +1: re-read
    assert {c.metadata["login-customer-id"] for c in ads.calls} == {MANAGER}
    assert ads.call_count == 1 + ADS_CALLS * 4 + 1


def test_discovery_without_a_manager_warns_and_audits_properties(in_process, keys, ga4, ads) -> None:
    from auditor.live import Live, resolve_targets

    warnings: list[str] = []
    targets = resolve_targets(_ruleset(), None, None, True, None, Live(str(keys["ga4"])), warn=warnings.append)
    assert [t.property for t in targets] == ["352190847", "287315904", "301772468", "318406725"]
    assert all(t.customer is None for t in targets)
    assert warnings == ["Google Ads accounts not discovered: give --manager (or login_customer_id in the Google "
                        "Ads settings) naming the manager account to list client accounts under"]


def test_results_stream_in_order_with_a_bounded_window(in_process, keys, ga4) -> None:
    from auditor.live import Live, Target, iter_live

    class Counting(Live):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.started, self.lock = 0, threading.Lock()

        def fetch(self, target: Target) -> Any:
            with self.lock:
                self.started += 1
            return super().fetch(target)

    ga4.latency = 0.01
    live = Counting(str(keys["ga4"]), jobs=2)
    targets = [Target(f"client-{i:02d}", "287315904") for i in range(12)]
    results = iter_live(targets, _ruleset(), 2, live)
    first = next(results)
    time.sleep(0.3)  # the consumer is slow: the pool must not run ahead of it
    assert first.name == "client-00" and live.started <= 2 * 2 + 1
    assert [r.name for r in results] == [f"client-{i:02d}" for i in range(1, 12)]
    assert live.calls() == {"ga4": 12 * GA4_CALLS}


def test_pages_and_stream_batches_are_read_to_the_end(in_process, keys, ga4, ads, served,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor.audit import audit_folder
    from auditor.connectors import ga4 as ga4_connector
    from auditor.live import Live, Target, iter_live

    ga4.max_page_size = 2  # key events and links: pages of 2
    monkeypatch.setattr(ga4_connector, "REPORT_PAGE_ROWS", 5)  # runReport: offset pages of 5 rows
    monkeypatch.setattr(ads, "batch_rows", 1)  # searchStream: one row per message
    ruleset = _ruleset()
    live = Live(str(keys["ga4"]))
    [result] = iter_live([Target("northwind-outfitters", "318406725", "4821937560", "ecommerce")], ruleset, 1, live)
    assert len(ga4.calls("listKeyEvents")) > 1 and len(ga4.calls("runReport")) > 1
    assert live.calls()["ga4"] > GA4_CALLS and live.calls()["ads"] == ADS_CALLS  # a stream is one call
    offline = audit_folder(served / "northwind-outfitters", ruleset)
    assert result == offline


def test_retry_after_unavailable_then_success(in_process, keys, ga4, ads) -> None:
    from auditor.live import Live, Target, iter_live

    ga4.fail("listKeyEvents", "UNAVAILABLE", times=2)
    ads.fail_unavailable(1, "customer")
    live = Live(str(keys["ga4"]))
    [result] = iter_live([Target("nw", "318406725", "4821937560")], _ruleset(), 1, live)
    assert result.status == "ok"
    assert live.calls() == {"ga4": GA4_CALLS + 2, "ads": ADS_CALLS, "ads_retries": 1}


def test_funnel_reports_follow_the_plan_and_are_retried(in_process, keys, ga4, ads) -> None:
    from auditor.hierarchy import MAX_FUNNEL_REPORTS
    from auditor.live import CALLS_PER_CLIENT, Live, Target, iter_live

    assert CALLS_PER_CLIENT == {"ga4": GA4_CALLS, "ads": ADS_CALLS, "ads_custom_goals": 1,
                                "ga4_funnels": MAX_FUNNEL_REPORTS}
    ga4.fail("runFunnelReport", "UNAVAILABLE", times=1)
    live = Live(str(keys["ga4"]))
    targets = [Target("keystone-legal", "301772468", "2609718453", "lead-gen"),
               Target("brightcart-home", "352190847", "7356021984", "ecommerce"),
               Target("fieldnotes-media", "287315904", None, "content")]
    results = list(iter_live(targets, _ruleset(), 1, live))
    assert [r.status for r in results] == ["ok", "incomplete", "ok"]  # brightcart: links/goals not recorded
    assert not any("funnels" in e for r in results for e in r.errors)
    sent = [(c.property_id, tuple(s["name"] for s in c.body["funnel"]["steps"]))
            for c in ga4.calls("runFunnelReport") if c.status == 200]
    assert sent == [("301772468", pair) for pair in FUNNELS["keystone-legal"]] + [
        ("352190847", pair) for pair in FUNNELS["brightcart-home"]]
    # GA4 6 per property + the plan's funnel reports (2 + 1) + the attempt that failed; Ads 7 per customer, and
    # keystone's custom goals
    assert live.calls() == {"ga4": GA4_CALLS * 3 + (2 + 1) + 1, "ads": ADS_CALLS * 2 + 1, "ads_retries": 0}
    assert live.api_versions()["ga4_data_funnels"] == "v1alpha"


def test_a_planner_bug_costs_one_client_not_the_run(in_process, keys, ga4) -> None:
    from auditor.live import Live, Target, iter_live

    def planner(raw: Any) -> list[tuple[str, str]]:
        if raw.name == "bad":
            raise ValueError("planner bug")
        return []

    live = Live(str(keys["ga4"]), planner=planner)
    results = list(iter_live([Target("bad", "287315904"), Target("good", "287315904")], _ruleset(), 2, live))
    assert [r.status for r in results] == ["error", "ok"]
    assert results[0].errors == ["GA4 property 287315904: funnel reports: internal error: ValueError: planner bug"]
    assert ga4.calls("runFunnelReport") == [] and "ga4_data_funnels" not in live.api_versions()


def test_auth_check_names_credentials_and_what_they_reach(env, keys, ga4, ads, home) -> None:
    p = audit("auth", "check", "--ga4-credentials", str(keys["ga4"]), "--manager", MANAGER, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"GA4: service account {SA_EMAIL} from --ga4-credentials {keys['ga4']}; scope analytics.readonly",
        "GA4: reaches 4 properties in 4 accounts",
        f"Google Ads: service account {ADS_SA_EMAIL} from GOOGLE_ADS_* environment variables; developer token "
        "sent (optional, ignored)",
        f"Google Ads: {ACCESS_LEVELS}",
        "Google Ads: reaches 4 client accounts under manager 9999999999",
    ]
    assert DEV_TOKEN not in p.stdout + p.stderr and "fake-access-token" not in p.stdout + p.stderr
    ads.deny(MANAGER)
    p = audit("auth", "check", "--ga4-credentials", str(keys["ga4"]), "--manager", MANAGER, env=env)
    assert p.returncode == 3
    assert p.stderr.startswith(f"audit: error: Google Ads: Google Ads customer {MANAGER}: USER_PERMISSION_DENIED")
    assert p.stderr.count("\n") == 1
    ads.reset()
    tokenless = {k: v for k, v in env.items() if k != "GOOGLE_ADS_DEVELOPER_TOKEN"}
    p = audit("auth", "check", "--manager", MANAGER, env=tokenless)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-3:] == [
        f"Google Ads: service account {ADS_SA_EMAIL} from GOOGLE_ADS_* environment variables; no developer token "
        "(not needed)", f"Google Ads: {ACCESS_LEVELS}",
        "Google Ads: reaches 4 client accounts under manager 9999999999"]
    bare = {k: v for k, v in env.items() if not k.startswith("GOOGLE_ADS_")}
    p = audit("auth", "check", env=bare)
    assert p.returncode == 2 and p.stderr == ""
    assert p.stdout.splitlines() == [
        "GA4: not configured (no --ga4-credentials, no application default credentials)",
        "Google Ads: not configured (no --ads-config, GOOGLE_ADS_* variables or ~/google-ads.yaml)"]


# -- no Google import before a live call is needed -----------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["record", "--help"], ["auth", "check", "--help"]])
def test_help_imports_no_google_library(argv: list[str]) -> None:
    code = ("import sys\nfrom auditor.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('google', 'grpc', 'proto'))\n"
            "sys.stderr.write(','.join(bad))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.stderr == "" and "Usage:" in p.stdout


def test_call_policy_bounds_attempts() -> None:
    from google.api_core import exceptions as gexc

    from auditor.connectors.retry import Attempts, CallPolicy

    policy = CallPolicy(attempts=3, initial=0.0, timeout=5)
    seen: list[tuple[str, bool]] = []

    def failing(exc: Exception) -> Any:
        calls: list[int] = []

        def fn() -> None:
            calls.append(1)
            raise exc

        return fn, calls

    fn, calls = failing(gexc.ServiceUnavailable("down"))
    with pytest.raises(gexc.ServiceUnavailable):
        policy.retry(on_failure=lambda e, again: seen.append((type(e).__name__, again)))(fn)()
    assert len(calls) == 3 and [a for _, a in seen] == [True, True, False]
    fn, calls = failing(gexc.PermissionDenied("no"))
    with pytest.raises(gexc.PermissionDenied):
        policy.retry()(fn)()
    assert len(calls) == 1
    shared = Attempts(failed=2)  # a re-run stream already failed twice: one try left
    fn, calls = failing(gexc.InternalServerError("oops"))
    with pytest.raises(gexc.InternalServerError):
        policy.retry(attempts=shared)(fn)()
    assert len(calls) == 1 and shared.failed == 3
    assert 0 <= policy.backoff(3) <= 0.0 and CallPolicy().backoff(2) <= 2.0


# -- an account that names its events freely and has no profile ----------------------------------------------


@pytest.fixture(scope="module")
def lumen(tmp_path_factory: pytest.TempPathFactory, home: Path):
    """Fakes serving lumen-analytics alone (its own discovery-free world), with keys for their token endpoint."""
    install_test_ca()
    root = tmp_path_factory.mktemp("lumen")
    shutil.copytree(FIXTURES / "lumen-analytics", root / "lumen-analytics")
    with FakeGA4(root) as ga4, FakeAdsServer(root, developer_token=DEV_TOKEN) as ads:
        folder = tmp_path_factory.mktemp("lumen-keys")
        keys = {"ga4": ga4.service_account_key(folder / "ga4-sa.json", email=SA_EMAIL),
                "ads": ga4.service_account_key(folder / "ads-sa.json", email=ADS_SA_EMAIL)}
        yield root, ga4, ads, live_env((ga4, ads), keys, home), keys


def test_free_names_no_profile_and_three_funnel_reports_live_equal_offline(lumen) -> None:
    root, ga4, ads, env, keys = lumen
    p = audit("--property", "334871920", "--customer", "560-271-8349", "--format", "json", "--fail-on", "never",
              "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 0, p.stderr
    live = comparable(p.stdout)
    (client,) = live["clients"]
    assert client["name"] == "lumen-analytics"
    assert (client["profile"], client["profile_source"]) == ("lead-gen", "inferred")
    # the micros that decide a finding, measured toward the account's own macro: the two primary micros, then
    # the best proxy candidate; the fake answers from the recorded reports, so both sides judge the same numbers
    sent = [tuple(s["name"] for s in c.body["funnel"]["steps"]) for c in ga4.calls("runFunnelReport")]
    assert sent == [("hero_video_play", "demo_booked"), ("pricing_visit_qualified", "demo_booked"),
                    ("quote_form_step_2", "demo_booked")]
    assert len(ga4.calls()) == GA4_CALLS + 3 and ads.call_count == ADS_CALLS + 1  # its campaigns use a custom goal
    bases = {f["evidence"]["event"]: f["evidence"]["basis"] for f in client["findings"] if f["evidence"]}
    assert bases["pricing_visit_qualified"] == bases["hero_video_play"] == "funnel"
    assert live == offline_json(root, env)  # lumen has no client.yaml: both sides infer its profile


# -- recording again into the same folder -----------------------------------------------------------------------


def test_recording_again_merges_the_manifest_and_partial_clients_stay_partial(env, keys, ga4, ads,
                                                                               tmp_path: Path) -> None:
    out = tmp_path / "rec"
    creds = ("--ga4-credentials", str(keys["ga4"]))

    def record(names: list[str], config: str) -> subprocess.CompletedProcess[str]:
        return audit("record", "--out", str(out), "--config", str(write_config(tmp_path / config, names)), *creds,
                     env=env)

    def offline() -> dict[str, dict[str, Any]]:
        p = audit("--offline", str(out), "--format", "json", "--fail-on", "never", env=env)
        assert p.returncode == 3, p.stderr  # a partial client is never a pass
        return {c["name"]: c for c in json.loads(p.stdout)["clients"]}

    # run 1: fieldnotes-media partial (data retention refused), keystone-legal complete
    ga4.fail("getDataRetentionSettings", "PERMISSION_DENIED", times=None, property_id="287315904")
    assert record(["fieldnotes-media", "keystone-legal"], "first.yaml").returncode == 3
    ga4.reset()
    # run 2: keystone-legal again and northwind-outfitters, complete; fieldnotes-media not recorded again
    p = record(["keystone-legal", "northwind-outfitters"], "second.yaml")
    assert p.returncode == 0, p.stderr
    m = json.loads((out / "manifest.json").read_text())
    by_name = {c["name"]: c for c in m["clients"]}
    assert list(by_name) == ["fieldnotes-media", "keystone-legal", "northwind-outfitters"]
    assert by_name["fieldnotes-media"]["status"] == "incomplete"
    assert list(by_name["fieldnotes-media"]["missing"]) == ["ga4/data_retention.json"]
    assert [c["run"] for c in m["clients"]] == [1, 2, 2] and [r["run"] for r in m["runs"]] == [1, 2]
    # the top level describes the latest run: keystone 6 GA4 + 2 funnel reports + 8 Ads, northwind 6 + 7
    assert m["calls"] == {"ga4": GA4_CALLS + 2 + GA4_CALLS, "ads": ADS_CALLS + 1 + ADS_CALLS, "ads_retries": 0}
    clients = offline()
    assert {n: c["status"] for n, c in clients.items()} == {
        "fieldnotes-media": "incomplete", "keystone-legal": "ok", "northwind-outfitters": "ok"}
    assert "ga4/data_retention.json: not collected" in clients["fieldnotes-media"]["errors"][0]
    # run 3: fieldnotes-media cannot be read at all: its earlier partial recording stays on disk, and partial
    ga4.fail("getProperty", "PERMISSION_DENIED", times=None, property_id="287315904")
    assert record(["fieldnotes-media"], "third.yaml").returncode == 3
    m = json.loads((out / "manifest.json").read_text())
    fieldnotes = m["clients"][0]
    assert (fieldnotes["status"], fieldnotes["run"], fieldnotes["latest_attempt"]["status"]) == ("incomplete", 1,
                                                                                                  "error")
    assert [r["run"] for r in m["runs"]] == [1, 2, 3]
    assert offline()["fieldnotes-media"]["status"] == "incomplete"
    assert not list(out.rglob(".*"))  # no temporary file or folder left behind


def test_recording_interrupted_after_a_partial_client_leaves_it_partial(in_process, keys, ga4, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest lists what a partial client lacks before its folder is swapped in: a run stopped between the
    two leaves a client audited as incomplete, never as a pass on the earlier manifest's word."""
    from auditor.audit import recorded_missing
    from auditor.cli import main
    from auditor.commands import record

    out = tmp_path / "rec"
    argv = ["record", "--out", str(out), "--property", "287315904", "--ga4-credentials", str(keys["ga4"])]
    with pytest.raises(SystemExit) as done:
        main(argv)  # complete: the manifest says so
    assert done.value.code == 0
    (name,) = [c["name"] for c in json.loads((out / "manifest.json").read_text())["clients"]]
    assert recorded_missing(out) == {}
    ga4.fail("getDataRetentionSettings", "PERMISSION_DENIED", times=None)
    swap = record.write_client

    def swap_then_stop(*args: Any, **kwargs: Any) -> list[str]:
        swap(*args, **kwargs)
        raise KeyboardInterrupt  # after the partial folder is in place, before the run's manifest is written

    monkeypatch.setattr(record, "write_client", swap_then_stop)
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 130
    assert not (out / name / "ga4/data_retention.json").exists()
    assert list(recorded_missing(out)[name]) == ["ga4/data_retention.json"]
    entry = json.loads((out / "manifest.json").read_text())["clients"][0]
    assert entry["status"] == "incomplete" and "unconfirmed" in entry


def test_a_client_whose_folder_cannot_be_written_costs_only_that_client(env, keys, ga4, ads, tmp_path: Path) -> None:
    long_name = "k" + "-legal" * 60  # a valid config name, too long for a folder name on common file systems
    cfg = tmp_path / "auditor.yaml"
    cfg.write_text(yaml.safe_dump({"clients": [
        {"name": long_name, "property": "301772468", "customer": "2609718453", "profile": "lead-gen"},
        {"name": "harbor-dental", "customer": "9134528670", "profile": "lead-gen"}]}), encoding="utf-8")
    out = tmp_path / "rec"
    p = audit("record", "--config", str(cfg), "--out", str(out), "--ga4-credentials", str(keys["ga4"]), env=env)
    assert p.returncode == 3, p.stderr
    assert "internal error" not in p.stderr and "could not be written" in p.stderr
    assert p.stderr.strip().endswith(f"audit: recorded 1 of 2 client(s) in {out}")
    manifest = json.loads((out / "manifest.json").read_text())
    status = {c["name"]: c["status"] for c in manifest["clients"]}
    assert status == {long_name: "error", "harbor-dental": "recorded"}
    assert (out / "harbor-dental/ads/conversion_actions.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no half-written folder left behind
