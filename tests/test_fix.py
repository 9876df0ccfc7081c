"""`audit fix`: plan, apply, re-audit, undo, re-audit, end to end through the real client libraries against the
loopback fakes, which accept the mutate calls and hold the state they change.

Clients: lumen-analytics (a weak micro as primary, two weak key events), keystone-legal (a micro as primary, a
weak key event) and brightcart-home (four micros as primary, seven weak key events, two months of retention, an
export scope that lets organic channels take the credit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.ads_server import FakeAdsServer, install_test_ca
from tests.fakes.ga4_server import FakeGA4

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SA_EMAIL = "auditor-fix@example-project.iam.gserviceaccount.com"
ADS_SA_EMAIL = "auditor-fix-ads@example-project.iam.gserviceaccount.com"
CLIENTS = {  # name -> (GA4 property, Google Ads customer)
    "lumen-analytics": ("334871920", "5602718349"),
    "keystone-legal": ("301772468", "2609718453"),
    "brightcart-home": ("352190847", "7356021984"),
}
READONLY = "https://www.googleapis.com/auth/analytics.readonly"
EDIT = "https://www.googleapis.com/auth/analytics.edit"
LUMEN_HERO = "customers/5602718349/conversionActions/6702215516"
KEYSTONE_VIDEO = "customers/2609718453/conversionActions/6914502391"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    for name in CLIENTS:
        shutil.copytree(FIXTURES / name, root / name)
    return root


@pytest.fixture(scope="module")
def fakes(served: Path):
    install_test_ca()
    with FakeGA4(served) as ga4, FakeAdsServer(served) as ads:
        yield ga4, ads


@pytest.fixture()
def ga4(fakes) -> FakeGA4:
    fakes[0].reset()
    fakes[0].reset_state()
    return fakes[0]


@pytest.fixture()
def ads(fakes) -> FakeAdsServer:
    fakes[1].reset()
    fakes[1].reset_state()
    return fakes[1]


@pytest.fixture(scope="module")
def keys(fakes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fakes[0].service_account_keys(tmp_path_factory.mktemp("keys"), SA_EMAIL, ADS_SA_EMAIL)


@pytest.fixture()
def env(fakes, keys, ga4, ads, tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_ADS_", "AUDITOR_")) and k != "GOOGLE_APPLICATION_CREDENTIALS"}
    out.update({
        "HOME": str(tmp_path), "SOURCE_DATE_EPOCH": "1767225600",
        "AUDITOR_GA4_ADMIN_ENDPOINT": ga4.url, "AUDITOR_GA4_DATA_ENDPOINT": ga4.url,
        "AUDITOR_ADS_ENDPOINT": ads.endpoint, "AUDITOR_RETRY_INITIAL": "0.01", "AUDITOR_CALL_TIMEOUT": "10",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"],
        "GOOGLE_ADS_JSON_KEY_FILE_PATH": str(keys["ads"]),
    })
    return out


def audit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=180, stdin=subprocess.DEVNULL)


def config(tmp: Path, names: list[str]) -> Path:
    clients = []
    for name in names:
        prop, cust = CLIENTS[name]
        entry: dict[str, Any] = {"name": name, "property": prop, "customer": cust}
        settings = FIXTURES / name / "client.yaml"
        if settings.is_file():
            entry.update({k: v for k, v in (yaml.safe_load(settings.read_text()) or {}).items()
                          if k in ("profile", "funnel")})
        clients.append(entry)
    path = tmp / "auditor.yaml"
    path.write_text(yaml.safe_dump({"clients": clients}, sort_keys=False))
    return path


def live_audit(cfg: Path, keys: dict[str, Path], env: dict[str, str], code: int = 0) -> dict[str, dict[str, Any]]:
    """`audit` live; `code` 3 for a client whose recording lacks an optional file (incomplete, still scored)."""
    p = audit("--config", str(cfg), "--format", "json", "--fail-on", "never", "--ga4-credentials", str(keys["ga4"]),
              env=env)
    assert p.returncode == code, p.stderr
    return {c["name"]: c for c in json.loads(p.stdout)["clients"]}


def plan(cfg: Path, keys: dict[str, Path], env: dict[str, str], out: Path, *extra: str) -> dict[str, Any]:
    p = audit("fix", "--plan", str(out), "--config", str(cfg), "--ga4-credentials", str(keys["ga4"]), *extra,
              env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text())


def apply(path: Path, keys: dict[str, Path], env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return audit("fix", "--apply", str(path), "--yes", "--ga4-credentials", str(keys["ga4"]), *extra, env=env)


def valid(document: dict[str, Any]) -> None:
    """The document follows the published plan schema (docs/plan.schema.json)."""
    import jsonschema

    schema = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)


def findings(client: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What a client's findings say, without resource ids (a key event marked again gets a new id)."""
    return sorted((f["rule"], f["severity"], f["message"]) for f in client["findings"])


def changes(p: dict[str, Any], name: str) -> list[tuple[str, str, Any, Any, list[str]]]:
    client = next(c for c in p["clients"] if c["name"] == name)
    return [(c["fix"], c["name"], c["now"], c["after"], [r["rule"] for r in c["resolves"]]) for c in client["changes"]]


# -- the whole cycle ------------------------------------------------------------------------------------------


def test_plan_apply_reaudit_undo_reaudit(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    cfg = config(tmp_path, ["lumen-analytics", "keystone-legal"])
    start = live_audit(cfg, keys, env)
    assert {n: c["score"] for n, c in start.items()} == {"lumen-analytics": 53, "keystone-legal": 23}

    # plan: reads only, writes the JSON and the Markdown, shows the diff
    ga4.reset()
    ads.reset()
    out = tmp_path / "plan.json"
    p = plan(cfg, keys, env, out)
    assert p["kind"] == "plan" and p["schema_version"] == 1 and p["source"] == "live"
    valid(p)
    assert not ads.mutates and not [c for c in ga4.log if c.method in ("deleteKeyEvent", "createKeyEvent")]
    assert changes(p, "lumen-analytics") == [
        ("primary_for_goal", "Hero video play", True, False, ["micro-primary-goal"]),
        ("key_event", "hero_video_play", {"event_name": "hero_video_play", "counting_method": "ONCE_PER_EVENT"}, None,
         ["overflagged-key-events"]),
        ("key_event", "demo_cta_click", {"event_name": "demo_cta_click", "counting_method": "ONCE_PER_EVENT"}, None,
         ["overflagged-key-events"]),
    ]
    assert changes(p, "keystone-legal") == [
        ("primary_for_goal", "Explainer video play", True, False, ["micro-primary-goal"]),
        ("key_event", "video_start", {"event_name": "video_start", "counting_method": "ONCE_PER_EVENT"}, None,
         ["overflagged-key-events"]),
    ]
    scores = {c["name"]: c["score"] for c in p["clients"]}
    assert scores == {"lumen-analytics": {"now": 53, "grade_now": "F", "after": 85, "grade_after": "B"},
                      "keystone-legal": {"now": 23, "grade_now": "F", "after": 70, "grade_after": "C"}}
    lumen = next(c for c in p["clients"] if c["name"] == "lumen-analytics")
    assert [c["score_after"] for c in lumen["changes"]] == [70, 53, 53]
    assert {m["rule"] for m in lumen["manual"]} == {"smart-bidding-low-volume", "low-bidding-volume",
                                                    "micro-primary-goal", "ga4-export-scope"}
    export = next(m for m in lumen["manual"] if m["rule"] == "ga4-export-scope")
    assert "not a reversible change" in export["why"]
    md = (tmp_path / "plan.md").read_text()
    assert "| Google Ads | Hero video play (`customers/5602718349/conversionActions/6702215516`) | " \
           "`primary_for_goal` | true | false | micro-primary-goal | 70 |" in md
    resolved = {c["name"]: {r["fingerprint"] for r in c["resolved"]} for c in p["clients"]}
    for name in resolved:
        before = {f["fingerprint"] for f in start[name]["findings"]}
        assert resolved[name] <= before and resolved[name]

    # apply: re-read, validate_only, then for real with partial_failure; GA4 deletes one by one
    ga4.reset()
    ads.reset()
    r = apply(out, keys, env)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert f"GA4: writing asks for the {EDIT} scope" in r.stderr
    assert "5 applied, 0 already in place, 0 skipped (drift), 0 failed" in r.stderr
    assert [(m.customer_id, m.validate_only, m.partial_failure, m.operations) for m in ads.mutates] == [
        ("5602718349", True, False, [(LUMEN_HERO, ["primary_for_goal"])]),
        ("5602718349", False, True, [(LUMEN_HERO, ["primary_for_goal"])]),
        ("2609718453", True, False, [(KEYSTONE_VIDEO, ["primary_for_goal"])]),
        ("2609718453", False, True, [(KEYSTONE_VIDEO, ["primary_for_goal"])]),
    ]
    deletes = [c.path for c in ga4.calls("deleteKeyEvent")]
    assert deletes == ["/v1beta/properties/334871920/keyEvents/12085540288",
                       "/v1beta/properties/334871920/keyEvents/11743002915",
                       "/v1beta/properties/301772468/keyEvents/11529848120"]
    scopes = {t["claims"].get("scope") for t in ga4.tokens}
    assert EDIT in scopes and not any(EDIT in str(s) and READONLY in str(s) for s in scopes)

    # the change log and the undo plan: what changed, by which kind of credentials, no secret, no address
    log_lines = (tmp_path / "plan.log.jsonl").read_text().splitlines()
    assert len(log_lines) == 1
    log = json.loads(log_lines[0])
    robot = {"type": "service_account", "id": "example-project.iam.gserviceaccount.com"}
    assert log["acting_as"] == {"google_ads": robot, "ga4": robot}
    assert [c["status"] for client in log["clients"] for c in client["changes"]] == ["applied"] * 5
    text = "\n".join(log_lines) + (tmp_path / "plan.undo.json").read_text()
    for secret in (SA_EMAIL, ADS_SA_EMAIL, "PRIVATE KEY", "fake-access-token"):
        assert secret not in text
    undo = json.loads((tmp_path / "plan.undo.json").read_text())
    assert undo["kind"] == "undo"
    valid(undo)
    assert changes(undo, "lumen-analytics") == [
        ("primary_for_goal", "Hero video play", False, True, []),
        ("key_event", "hero_video_play", None, {"event_name": "hero_video_play", "counting_method": "ONCE_PER_EVENT"},
         []),
        ("key_event", "demo_cta_click", None, {"event_name": "demo_cta_click", "counting_method": "ONCE_PER_EVENT"},
         []),
    ]

    # re-audit: the findings the plan resolves are gone, the scores are the plan's
    after = live_audit(cfg, keys, env)
    assert {n: c["score"] for n, c in after.items()} == {"lumen-analytics": 85, "keystone-legal": 70}
    for name, gone in resolved.items():
        assert not gone & {f["fingerprint"] for f in after[name]["findings"]}

    # a second apply of the same plan changes nothing, and writes no undo plan
    ga4.reset()
    ads.reset()
    again = apply(out, keys, env)
    assert again.returncode == 0, again.stderr
    assert "0 applied, 5 already in place, 0 skipped (drift), 0 failed" in again.stderr
    assert not ads.mutates and not ga4.calls("deleteKeyEvent")
    assert not (tmp_path / "plan.undo-2.json").exists()
    assert len((tmp_path / "plan.log.jsonl").read_text().splitlines()) == 2

    # undo: marks the key events again with the settings recorded, sets the actions back to primary
    undone = apply(tmp_path / "plan.undo.json", keys, env)
    assert undone.returncode == 0, undone.stderr
    assert "5 applied" in undone.stderr
    assert [c.body["eventName"] for c in ga4.calls("createKeyEvent")] == ["hero_video_play", "demo_cta_click",
                                                                         "video_start"]
    marked = {k["eventName"]: k for page in ga4.properties["334871920"].bodies["ga4/key_events.json"]
              for k in page["keyEvents"]}
    assert marked["hero_video_play"]["countingMethod"] == "ONCE_PER_EVENT"
    assert marked["hero_video_play"]["name"] != "properties/334871920/keyEvents/12085540288"  # GA4 gives a new id
    back = live_audit(cfg, keys, env)
    assert {n: c["score"] for n, c in back.items()} == {"lumen-analytics": 53, "keystone-legal": 23}
    for name in back:
        assert findings(back[name]) == findings(start[name])


# -- refusals and failures -----------------------------------------------------------------------------------


def _lumen_plan(tmp_path: Path, keys, env) -> Path:
    out = tmp_path / "plan.json"
    plan(config(tmp_path, ["lumen-analytics"]), keys, env, out)
    return out


def test_drift_is_reported_and_skipped(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    out = _lumen_plan(tmp_path, keys, env)
    # since the plan: someone changed how hero_video_play counts, and the Ads action was removed
    for page in ga4.properties["334871920"].bodies["ga4/key_events.json"]:
        for k in page["keyEvents"]:
            if k["eventName"] == "hero_video_play":
                k["countingMethod"] = "ONCE_PER_SESSION"
    batches = ads._recorded("conversion_action", "5602718349")
    for batch in batches:
        for row in batch:
            if row["conversion_action"]["resource_name"] == LUMEN_HERO:
                row["conversion_action"]["status"] = "REMOVED"
    ads.state[("5602718349", "ads/conversion_actions.json")] = batches
    r = apply(out, keys, env)
    assert r.returncode == 1, r.stderr
    assert "1 applied, 0 already in place, 2 skipped (drift), 0 failed" in r.stderr
    assert "lumen-analytics: drift: Google Ads 'Hero video play' primary_for_goal: true -> false " \
           "[micro-primary-goal; alone: score 70]: the resource no longer exists (or was removed): not changed" \
           in r.stderr
    assert "key event hero_video_play changed since the plan" in r.stderr
    assert not ads.mutates
    assert [c.path for c in ga4.calls("deleteKeyEvent")] == ["/v1beta/properties/334871920/keyEvents/11743002915"]


def test_partial_failure_applies_the_rest(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    out = tmp_path / "plan.json"
    p = plan(config(tmp_path, ["brightcart-home"]), keys, env, out, "--only", "micro-primary-goal")
    targets = [c for c in p["clients"][0]["changes"]]
    assert [c["name"] for c in targets] == ["Add to cart", "Page view - product", "Sign-up", "Sign up"]
    ads.fail_operation(targets[1]["resource"], validate=False, message="Refused for this test.")
    r = apply(out, keys, env)
    assert r.returncode == 3, r.stderr
    assert "3 applied, 0 already in place, 0 skipped (drift), 1 failed" in r.stderr
    assert ("brightcart-home: failed: Google Ads 'Page view - product' primary_for_goal: true -> false "
            "[micro-primary-goal; alone: score 0]: DATA_DRIVEN_MODEL_WAS_NEVER_GENERATED: Refused for this test"
            ) in r.stderr
    assert [(m.validate_only, m.partial_failure, len(m.operations)) for m in ads.mutates] == [
        (True, False, 4), (False, True, 4)]
    undo = json.loads((tmp_path / "plan.undo.json").read_text())
    assert [c["name"] for c in undo["clients"][0]["changes"]] == ["Add to cart", "Sign-up", "Sign up"]


def test_validate_only_failing_changes_nothing(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    out = _lumen_plan(tmp_path, keys, env)
    ads.fail_operation(LUMEN_HERO, message="Validation refused for this test.")
    r = apply(out, keys, env, "--only", "micro-primary-goal")
    assert r.returncode == 3, r.stderr
    assert "validation failed: DATA_DRIVEN_MODEL_WAS_NEVER_GENERATED: Validation refused for this test" in r.stderr
    assert [m.validate_only for m in ads.mutates] == [True]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "plan.undo.json").exists()


def test_refused_writes_are_one_line(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    out = _lumen_plan(tmp_path, keys, env)
    ga4.fail("deleteKeyEvent", "PERMISSION_DENIED", times=None, message="The caller does not have permission")
    ads.deny("5602718349", "mutate")
    r = apply(out, keys, env)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if ": failed: " in line]
    assert len(lines) == 3
    assert ("validation refused the request: Google Ads customer 5602718349: USER_PERMISSION_DENIED" in lines[0])
    assert ("GA4 property 334871920: keyEvents.delete: PERMISSION_DENIED (The caller does not have permission); "
            "writing needs the Editor role under GA4 Admin > Property access management") in lines[1]


def test_a_plan_edited_out_of_scope_is_refused(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    out = _lumen_plan(tmp_path, keys, env)
    data = json.loads(out.read_text())
    for field, value, message in (
        ("field", "status", "field 'status' is not in scope for fix primary_for_goal (only primary_for_goal)"),
        ("fix", "remove", "fix 'remove' is not one the auditor makes"),
        ("after", "REMOVED", "after 'REMOVED' is not a value fix primary_for_goal sets"),
        ("resource", "customers/1111111111/conversionActions/1", "is not this client's Google Ads account"),
    ):
        edited = json.loads(json.dumps(data))
        edited["clients"][0]["changes"][0][field] = value
        bad = tmp_path / f"edited-{field}.json"
        bad.write_text(json.dumps(edited))
        r = apply(bad, keys, env)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not ads.mutates and not ga4.calls("deleteKeyEvent")


def test_apply_refuses_without_yes_off_a_terminal(tmp_path: Path, keys, env, ga4, ads) -> None:
    out = _lumen_plan(tmp_path, keys, env)
    r = audit("fix", "--apply", str(out), env=env)
    assert r.returncode == 2
    assert r.stderr == ("audit: error: refusing to write without --yes when not on a terminal (review the plan, then "
                        "`audit fix --apply PLAN --yes`)\n")
    assert not ads.mutates


def test_offline_plan_imports_no_google_library(tmp_path: Path) -> None:
    code = ("import sys; from auditor.cli import main\n"
            "try:\n main(['fix', '--plan', sys.argv[1], '--offline', 'fixtures/lumen-analytics', '-q'])\n"
            "except SystemExit as e:\n assert e.code == 0, e.code\n"
            "assert not [m for m in sys.modules if m.startswith(('google', 'grpc'))]\n")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "plan.json")], capture_output=True, text=True,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["clients"][0]["property"] == "334871920" and data["clients"][0]["customer"] == "5602718349"


def test_ga4_settings_fixes_and_their_undo(tmp_path: Path, keys, env, ga4: FakeGA4, ads: FakeAdsServer) -> None:
    cfg = config(tmp_path, ["brightcart-home"])
    start = live_audit(cfg, keys, env, 3)["brightcart-home"]  # it records no Google Ads links
    out = tmp_path / "plan.json"
    p = plan(cfg, keys, env, out, "--only", "short-data-retention", "--only", "ga4-export-scope")
    assert changes(p, "brightcart-home") == [
        ("export_scope", "BrightCart Home (www)", "PAID_AND_ORGANIC_CHANNELS", "GOOGLE_PAID_CHANNELS",
         ["ga4-export-scope"]),
        ("data_retention", "BrightCart Home (www)", "TWO_MONTHS", "FOURTEEN_MONTHS", ["short-data-retention"]),
    ]
    r = apply(out, keys, env)
    assert r.returncode == 0, r.stderr
    assert [c.method for c in ga4.calls() if c.method.startswith("update")] == [
        "updateAttributionSettings", "updateDataRetentionSettings"]
    assert ga4.properties["352190847"].bodies["ga4/data_retention.json"][0]["eventDataRetention"] == "FOURTEEN_MONTHS"
    after = live_audit(cfg, keys, env, 3)["brightcart-home"]
    rules = {f["rule"] for f in after["findings"]}
    assert "short-data-retention" not in rules and "ga4-export-scope" not in rules
    assert after["score"] == p["clients"][0]["score"]["after"]
    undone = apply(tmp_path / "plan.undo.json", keys, env)
    assert undone.returncode == 0, undone.stderr
    back = live_audit(cfg, keys, env, 3)["brightcart-home"]
    assert findings(back) == findings(start) and back["score"] == start["score"]
