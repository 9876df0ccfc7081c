"""Data that does not add up is never a pass: broken references, funnels that grow and campaign sums above the
account's make the rules that need them *not run* and the client incomplete (auditor.integrity); nulls,
negative conversion counts and numbers beyond a field's range are errors or unknown, never 0 (auditor.mapping).
Each case is a sample client with one recorded file changed, audited as a user's run would."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.audit import audit_folder
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def rs() -> Ruleset:
    return Ruleset.load()


def audited(tmp_path: Path, rs: Ruleset, client: str, file: str, change: Callable[[Any], Any]) -> ClientResult:
    folder = tmp_path / client
    if not folder.exists():
        shutil.copytree(FIXTURES / client, folder)
    path = folder / file
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc = change(doc) or doc
    path.write_text(json.dumps(doc), encoding="utf-8")
    return audit_folder(folder, rs)


def status(r: ClientResult, rule: str) -> str:
    return next(x.status for x in r.rules if x.id == rule)


def reason(r: ClientResult, rule: str) -> str:
    return next(x.reason or "" for x in r.rules if x.id == rule)


def baseline(rs: Ruleset, client: str) -> ClientResult:
    return audit_folder(FIXTURES / client, rs)


# -- part 1: references resolve ---------------------------------------------------------------------------------

def test_attributed_key_events_naming_another_customer_make_the_discrepancy_rule_not_run(tmp_path, rs):
    assert status(baseline(rs, "keystone-legal"), "ga4-ads-discrepancy") == "fail"

    def elsewhere(doc: dict[str, Any]) -> None:
        for row in doc["rows"]:
            if row["dimensionValues"][1]["value"] == "260-971-8453":
                row["dimensionValues"][1]["value"] = "999-888-7777"

    r = audited(tmp_path, rs, "keystone-legal", "ga4/ads_key_events.json", elsewhere)
    assert status(r, "ga4-ads-discrepancy") == "not_run"  # was "pass"
    assert "ga4/ads_key_events.json: googleAdsCustomerId: 9998887777 is not" in reason(r, "ga4-ads-discrepancy")
    assert r.status == "incomplete" and any("ads_key_events.json: googleAdsCustomerId" in w for w in r.warnings)


def test_a_goal_config_naming_a_custom_goal_that_does_not_exist_makes_campaign_rules_not_run(tmp_path, rs):
    assert status(baseline(rs, "keystone-legal"), "campaign-goal-override") == "fail"

    def dangling(doc: list[dict[str, Any]]) -> None:
        cfg = doc[0]["results"][1]["conversionGoalCampaignConfig"]
        cfg["customConversionGoal"] = "customers/2609718453/customConversionGoals/404"

    r = audited(tmp_path, rs, "keystone-legal", "ads/conversion_goal_campaign_configs.json", dangling)
    for rule in ("campaign-goal-override", "smart-bidding-low-volume"):
        assert status(r, rule) == "not_run", rule
        assert "customConversionGoals/404" in reason(r, rule) and "is not in" in reason(r, rule)
    assert r.status == "incomplete"


def test_a_campaign_resource_name_of_minus_5_is_a_broken_reference_not_a_lost_finding(tmp_path, rs):
    before = baseline(rs, "lumen-analytics")
    assert status(before, "smart-bidding-low-volume") == "fail"

    def renamed(doc: list[dict[str, Any]]) -> None:
        doc[0]["results"][0]["campaign"]["resourceName"] = "-5"

    r = audited(tmp_path, rs, "lumen-analytics", "ads/campaigns.json", renamed)
    assert status(r, "smart-bidding-low-volume") == "not_run"  # was "pass", its high finding gone
    assert "campaign.resourceName: '-5' is not a campaign of customer" in reason(r, "smart-bidding-low-volume")
    assert r.status == "incomplete"


def test_a_funnel_that_grows_is_left_out_with_a_warning_and_no_rule_passes_on_it(tmp_path, rs):
    before = baseline(rs, "lumen-analytics")
    failing = {x.id for x in before.rules if x.status == "fail"}

    def grows(doc: list[dict[str, Any]]) -> None:
        doc[0]["funnelTable"]["rows"][1]["metricValues"][0]["value"] = "5000"  # step 2 above step 1's 880

    r = audited(tmp_path, rs, "lumen-analytics", "ga4/funnels.json", grows)
    assert r.status == "incomplete"
    assert any("ga4/funnels.json: [0] step 2 'demo_booked' has more users (5000) than step 1 (880)" in w
               for w in r.warnings)
    assert not [x.id for x in r.rules if x.id in failing and x.status == "pass"]


def test_campaigns_above_the_account_total_do_not_add_up(tmp_path, rs):
    def inflated(doc: list[dict[str, Any]]) -> None:
        doc[0]["results"][0]["metrics"]["conversions"] = 99999.0

    r = audited(tmp_path, rs, "lumen-analytics", "ads/campaigns.json", inflated)
    assert status(r, "smart-bidding-low-volume") == "not_run"
    assert "the campaigns' conversions (100," in reason(r, "smart-bidding-low-volume")


# -- part 2: values ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["status", "biddingStrategyType"])
def test_null_where_the_api_always_writes_a_value_is_an_error_naming_file_and_field(tmp_path, rs, field):
    def null(doc: list[dict[str, Any]]) -> None:
        doc[0]["results"][0]["campaign"][field] = None

    r = audited(tmp_path, rs, "lumen-analytics", "ads/campaigns.json", null)
    assert r.status == "error" and r.score is None  # never a pass of smart-bidding-low-volume
    (err,) = r.errors
    assert f"campaigns.json: results[0].campaign.{field}: null where the API always writes a value" in err


@pytest.mark.parametrize("where", ["metrics", "metrics.conversions"])
def test_null_conversions_or_metrics_are_an_error_not_zero_conversions(tmp_path, rs, where):
    def null(doc: list[dict[str, Any]]) -> None:
        row = doc[0]["results"][0]
        if where == "metrics":
            row["metrics"] = None
        else:
            row["metrics"]["conversions"] = None

    r = audited(tmp_path, rs, "lumen-analytics", "ads/campaigns.json", null)
    assert r.status == "error" and f"results[0].{where}: null where the API always writes a value" in r.errors[0]


def test_a_negative_campaign_conversion_count_is_unknown_never_0_conv(tmp_path, rs):
    def negative(doc: list[dict[str, Any]]) -> None:
        doc[0]["results"][0]["metrics"]["conversions"] = -8.0

    r = audited(tmp_path, rs, "lumen-analytics", "ads/campaigns.json", negative)
    assert status(r, "smart-bidding-low-volume") == "not_run"
    assert not [f for f in r.findings if "has 0 conv." in f.message]  # was a high finding on "0 conv."
    assert any("metrics.conversions (conversions): negative value -8.0, treated as unknown" in w for w in r.warnings)
    assert r.status == "incomplete"


def test_a_target_roas_beyond_any_setting_is_unknown_never_inf_percent(tmp_path, rs):
    def huge(doc: list[dict[str, Any]]) -> None:
        for row in doc[0]["results"]:
            for key in ("maximizeConversionValue", "targetRoas"):
                if key in row["campaign"]:
                    row["campaign"][key]["targetRoas"] = 1.7e308

    r = audited(tmp_path, rs, "northwind-outfitters", "ads/campaigns.json", huge)
    assert any("targetRoas: 1.7e+308 is not a target ROAS" in w for w in r.warnings)
    for fmt in ("table", "csv", "html", "json"):
        assert "inf%" not in render(fmt, [r]).lower()


def test_a_count_beyond_int64_is_an_error_naming_the_field(tmp_path, rs):
    def huge(doc: dict[str, Any]) -> None:
        doc["rows"][0]["metricValues"][0]["value"] = "1" + "0" * 23

    r = audited(tmp_path, rs, "lumen-analytics", "ga4/events.json", huge)
    assert r.status == "error"
    assert "rows[0].metricValues[0].value: expected a count within the API's int64 range" in r.errors[0]


# -- no mutation turns a failing rule into a silent pass --------------------------------------------------------

_CLIENT = "lumen-analytics"
_FILES = ["ads/campaigns.json", "ads/conversion_goal_campaign_configs.json", "ads/custom_conversion_goals.json",
          "ads/conversion_stats.json", "ga4/funnels.json", "ga4/ads_key_events.json", "ga4/events.json"]
_VALUES = [None, -5, -5.5, "-5", 0, 1.7e308, 10**25, "", "x", True, [], {}]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] + ([path] if path else [])
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] + ([path] if path else [])
    return [path]


@pytest.fixture(scope="module")
def lumen(rs: Ruleset) -> tuple[ClientResult, dict[str, Any]]:
    docs = {f: json.loads((FIXTURES / _CLIENT / f).read_text(encoding="utf-8")) for f in _FILES}
    return baseline(rs, _CLIENT), docs


@settings(max_examples=200, deadline=5000, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_mutation_turns_a_failing_rule_into_a_pass_without_a_warning(tmp_path_factory, rs, lumen, data):
    """One node of one recorded file replaced (null, negative, beyond range, wrong type, removed): every rule that
    failed on the sample either still fails, or the result says something is wrong (a warning or an error, so
    the client is not a clean pass). Bounded for CI: 200 fixed examples (derandomized), each under a 5 s deadline."""
    before, docs = lumen
    failing = {x.id for x in before.rules if x.status == "fail"}
    file = data.draw(st.sampled_from(_FILES))
    doc = json.loads(json.dumps(docs[file]))
    path = data.draw(st.sampled_from(_leaves(doc)))
    value = data.draw(st.sampled_from([*_VALUES, "<removed>"]))
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    if value == "<removed>" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    folder = tmp_path_factory.mktemp("m") / _CLIENT
    shutil.copytree(FIXTURES / _CLIENT, folder)
    (folder / file).write_text(json.dumps(doc), encoding="utf-8")
    r = audit_folder(folder, rs)
    passed = {x.id for x in r.rules if x.id in failing and x.status == "pass"}
    if passed:
        told = set(r.warnings) - set(before.warnings) or r.errors
        assert told, f"{file} {path} = {value!r}: {sorted(passed)} passed in silence"
