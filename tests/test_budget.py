"""The Google Ads operation budget (`ads: {daily_operations: ...}`): a run that would spend more audits the clients
it can afford, longest unaudited first, lists the rest as deferred in the summary and the e-mail (not errors),
and audits them first next time. End to end through `audit run` against the loopback GA4 and Google Ads fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.agency.budget import plan, shard_budget
from auditor.config import load_config
from auditor.errors import ConfigError
from auditor.live import ADS_OPERATIONS_PER_CLIENT as PER_CLIENT
from tests.test_email import smtp_server
from tests.test_live import (  # noqa: F401  (the live tests' module fixtures: fakes, credentials, environment)
    CLIENTS,
    ads,
    audit,
    env,
    fakes,
    ga4,
    home,
    keys,
    live_env,
    served,
    write_config,
)

LEAD = "lead@agency.example"
BUDGET = 2 * PER_CLIENT  # two client accounts a day


# -- the plan ---------------------------------------------------------------------------------------------------


def test_everything_that_fits_is_audited_in_its_own_order() -> None:
    p = plan(["a", "b", "c"], lambda t: 8, 24, lambda t: None)
    assert (p.audit, p.deferred, p.operations) == (["a", "b", "c"], [], 24)
    assert plan(["a", "b"], lambda t: 8, None, lambda t: 1).audit == ["a", "b"]  # no budget


def test_over_budget_the_longest_unaudited_come_first_and_free_clients_always_fit() -> None:
    last = {"a": 5, "b": 3, "c": None, "d": 4, "ga4-only": 5}
    cost = {"a": 8, "b": 8, "c": 8, "d": 8, "ga4-only": 0}
    p = plan(list(last), cost.__getitem__, 17, last.__getitem__)
    assert p.audit == ["c", "b"] + ["ga4-only"] and p.deferred == ["d", "a"] and p.operations == 16
    assert plan(["x", "y"], lambda t: 8, 7, lambda t: None).deferred == ["x", "y"]  # nothing fits: all deferred


def test_a_shard_spends_its_share() -> None:
    assert shard_budget(2880, (2, 4)) == 720 and shard_budget(2880, None) == 2880 and shard_budget(None, (1, 2)) is None


# -- the config -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("2880", 2880), ("explorer", 2880), ("Basic", 15_000),
                                             ("standard", None)])
def test_daily_operations_as_a_number_or_an_access_level(tmp_path: Path, value: str, expected: int | None) -> None:
    cfg = tmp_path / "agency.yaml"
    cfg.write_text(f"ads:\n  daily_operations: {value}\n", encoding="utf-8")
    assert load_config(cfg)[0].ads.daily_operations == expected


@pytest.mark.parametrize("value, message", [
    ("test", "the Test access level reaches test accounts only; apply for Explorer access"),
    ("lots", "expected a number of operations a day (such as 2880) or an access level: explorer (2,880), basic "
             "(15,000) or standard (no limit)"),
    ("0", "Input should be greater than 0"),
])
def test_a_bad_daily_operations_is_one_line_naming_file_line_and_key(tmp_path: Path, value: str, message: str) -> None:
    cfg = tmp_path / "agency.yaml"
    cfg.write_text(f"profile: lead-gen\nads:\n  daily_operations: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(err.value).startswith(f"{cfg}: line 3, column 3: ads.daily_operations: {message}")
    assert "\n" not in str(err.value)


# -- a live agency run under a budget ---------------------------------------------------------------------------


def _agency_config(tmp_path: Path, port: int) -> Path:
    """The four live sample clients (three with a Google Ads account, PER_CLIENT operations each at most), a
    budget for two of them, and the lead's summary e-mail."""
    cfg = write_config(tmp_path / "agency.yaml", list(CLIENTS))
    data: dict[str, Any] = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data.update({"ads": {"daily_operations": BUDGET}, "output": {"dir": "out", "formats": ["json", "markdown"]},
                 "email": {"host": "127.0.0.1", "port": port, "security": "none", "sender": "robot@agency.example",
                           "summary_to": [LEAD], "timeout": 5}})
    cfg.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return cfg


@pytest.fixture()
def live(request: pytest.FixtureRequest) -> tuple[dict[str, str], dict[str, Path], Any]:
    """(environment, credentials, Google Ads fake) of the live tests, both fakes reset."""
    return request.getfixturevalue("env"), request.getfixturevalue("keys"), request.getfixturevalue("ads")


def test_a_run_over_budget_defers_clients_and_the_next_run_takes_them_first(live, tmp_path: Path) -> None:
    environment, credentials, fake_ads = live
    with smtp_server() as (ctl, sink):
        cfg = _agency_config(tmp_path, ctl.port)
        args = ("run", "--config", str(cfg), "--fail-on", "never", "--jobs", "1", "-v",
                "--ga4-credentials", str(credentials["ga4"]))
        # run 1: no history, so the config's order: northwind-outfitters and keystone-legal take the budget,
        # harbor-dental waits; fieldnotes-media (GA4 only) costs none
        p = audit(*args, env=environment)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr and "audit: error" not in p.stderr
        out = tmp_path / "out"
        summary = json.loads((out / "summary.json").read_text())
        assert sorted(c["name"] for c in summary["clients"]) == ["fieldnotes-media", "keystone-legal",
                                                                  "northwind-outfitters"]
        assert all(c["status"] == "ok" for c in summary["clients"]) and summary["summary"]["errored"] == 0
        assert summary["run"]["ads_budget"] == {"daily_operations": BUDGET, "planned_operations": BUDGET,
                                                "deferred": ["harbor-dental"]}
        assert not (out / "clients/harbor-dental.json").exists()
        spent = fake_ads.call_count
        assert spent <= BUDGET and spent == BUDGET - 1  # northwind's campaigns bid on no custom goal
        assert {c.customer_id for c in fake_ads.calls} == {"4821937560", "2609718453"}
        assert (f"audit: Google Ads budget: {BUDGET} operations a day at {PER_CLIENT} per client account: 3 of 4 "
                "client(s) audited, longest unaudited first; 1 deferred to the next run: harbor-dental") in p.stderr
        assert (f"audit: Google Ads: this run spends at most {BUDGET} operations: 2 client account(s) x "
                f"{PER_CLIENT}") in p.stderr
        assert f"audit: Google Ads: {spent} operations spent" in p.stderr
        line = ("Deferred to the next run, where they come first: harbor-dental (1 client(s) beyond the Google Ads "
                f"budget of {BUDGET} operations a day).")
        assert line in (out / "summary.md").read_text()
        (lead,) = [m for _, to, m in sink.messages if to == [LEAD]]
        assert line in lead.get_body(preferencelist=("plain",)).get_content()

        # run 2: harbor-dental, never audited, comes first; then the longest unaudited (all three were audited by
        # run 1: the config's order) while the budget lasts
        fake_ads.reset()
        sink.messages.clear()
        p = audit(*args, env=environment)
        assert p.returncode == 0, p.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["run"]["ads_budget"]["deferred"] == ["keystone-legal"]
        assert sorted(c["name"] for c in summary["clients"]) == ["fieldnotes-media", "harbor-dental",
                                                                  "northwind-outfitters"]
        assert fake_ads.calls[0].customer_id == "9134528670"  # the deferred client is read first
        assert {c.customer_id for c in fake_ads.calls} == {"9134528670", "4821937560"}
        assert fake_ads.call_count == 2 * (PER_CLIENT - 1)  # neither bids on a custom goal
        assert (out / "clients/harbor-dental.json").is_file()
        (lead,) = [m for _, to, m in sink.messages if to == [LEAD]]
        assert "Deferred to the next run, where they come first: keystone-legal" in lead.get_body(
            preferencelist=("plain",)).get_content()
