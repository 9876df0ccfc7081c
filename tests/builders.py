"""Small builders of client snapshots and a runner for one rule, shared by the rule tests."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.engine import Finding, RuleOutcome, RuleSetting, run_rule
from auditor.model import (
    GA4,
    ActionStats,
    Ads,
    AdsLink,
    Client,
    ConversionAction,
    DataRetention,
    EventStat,
    KeyEvent,
    Property,
)
from auditor.outputs.document import write_document
from auditor.outputs.options import RenderOptions
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

_RULESET: Ruleset | None = None


def ruleset() -> Ruleset:
    global _RULESET
    if _RULESET is None:
        _RULESET = Ruleset.load()
    return _RULESET


def ga4(events: dict[str, int] | None = None, key_events: list[str] | tuple[str, ...] = (),
        values: dict[str, float] | None = None, defaults: dict[str, float] | None = None,
        retention: str | None = "FOURTEEN_MONTHS", links: tuple[str, ...] | None = ()) -> GA4:
    events = events or {}
    values = values or {}
    defaults = defaults or {}
    return GA4(
        property=Property(name="properties/123456789", display_name="Test", currency_code="EUR"),
        key_events=tuple(
            KeyEvent(name=f"properties/123456789/keyEvents/{i}", event_name=n, counting_method="ONCE_PER_EVENT",
                     default_value=defaults.get(n), default_currency="EUR" if n in defaults else None)
            for i, n in enumerate(key_events)),
        events=tuple(EventStat(event_name=n, event_count=c, total_users=c // 2, event_value=values.get(n, 0.0))
                     for n, c in events.items()),
        retention=DataRetention(event_data_retention=retention) if retention else None,
        ads_links=None if links is None else tuple(
            AdsLink(name=f"properties/123456789/googleAdsLinks/{i}", customer_id=c) for i, c in enumerate(links)),
    )


_NEXT_ID = [1000]


def action(name: str, category: str = "PURCHASE", *, type: str = "WEBPAGE", primary: bool = True,
           status: str = "ENABLED", conversions: float = 100.0, value: float = 0.0, default: float | None = None,
           always_default: bool = False, ga4_event: str | None = None, origin: str = "WEBSITE",
           counting: str = "MANY_PER_CLICK", all_conversions: float | None = None, **kw: Any) -> ConversionAction:
    _NEXT_ID[0] += 1
    i = str(_NEXT_ID[0])
    if ga4_event and type == "WEBPAGE":
        type = "GOOGLE_ANALYTICS_4_PURCHASE" if ga4_event == "purchase" else "GOOGLE_ANALYTICS_4_CUSTOM"
    return ConversionAction(
        resource_name=f"customers/1234567890/conversionActions/{i}", id=i, name=name, status=status, type=type,
        category=category, origin=origin, primary_for_goal=primary, counting_type=counting,
        default_value=default, always_use_default_value=always_default, ga4_event_name=ga4_event,
        ga4_property_id="123456789" if ga4_event else None,
        stats=ActionStats(conversions=conversions, conversions_value=value,
                          all_conversions=conversions if all_conversions is None else all_conversions),
        **kw,
    )


def ads(*actions: ConversionAction) -> Ads:
    return Ads(customer_id="1234567890", actions=tuple(actions), currency_code="EUR")


def client(ga4: GA4 | None = None, ads: Ads | None = None, profile: str = "ecommerce") -> Client:
    return Client(name="test-client", profile=profile, ga4=ga4, ads=ads)


def outcome(rule_id: str, c: Client, **params: Any) -> RuleOutcome:
    rs = ruleset()
    taxonomy, settings = rs.for_profile(c.profile)
    s = settings[rule_id]
    setting = replace(s, params={**s.params, **params}) if params else s
    return run_rule(rs.rules[rule_id], setting, c, taxonomy)


def findings(rule_id: str, c: Client, **params: Any) -> list[Finding]:
    o = outcome(rule_id, c, **params)
    assert o.status in ("pass", "fail"), (o.status, o.reason)
    return list(o.findings)



def add_weak_key_event(folder: Path) -> None:
    """Edit a copied fixture folder: mark `scroll` as a key event (one new overflagged-key-events finding)."""
    p = folder / "ga4" / "key_events.json"
    body = json.loads(p.read_text())
    body["keyEvents"].append({"name": "properties/318406725/keyEvents/12000000001", "eventName": "scroll",
                              "createTime": "2024-01-01T00:00:00.000Z", "deletable": True, "custom": True,
                              "countingMethod": "ONCE_PER_EVENT"})
    p.write_text(json.dumps(body))


def render(fmt: str, results: list[ClientResult], options: RenderOptions | None = None) -> str:
    """One document of `results` in format `fmt`, as `audit --format FMT` writes it."""
    from auditor.audit import result_header

    out = io.StringIO()
    write_document(out, fmt, result_header(), results, options)
    return out.getvalue()


def run_on_terminal(args: list[str], *, stdout_too: bool = True, **popen: Any) -> tuple[int, bytes]:
    """Run a command with stderr (and stdout) on a pseudo-terminal: (exit code, every byte the screen got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=slave if stdout_too else subprocess.DEVNULL, stderr=slave, **popen)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60), b"".join(chunks)


__all__ = ["action", "add_weak_key_event", "ads", "client", "findings", "ga4", "outcome", "render", "ruleset",
           "run_on_terminal", "RuleSetting"]


# --- campaigns, tracking, attribution and history (the campaign and trend rules) ----------------------------------

def campaign(name: str, strategy: str = "TARGET_CPA", *, status: str = "ENABLED", channel: str = "SEARCH",
             conversions: float = 10.0, value: float = 0.0, target_cpa: float | None = None,
             target_roas: float | None = None, goals: Any = None, level: str | None = None,
             custom_goal: str | None = None, all_conversions: float | None = None) -> Any:
    """A Campaign of customer 1234567890; `target_cpa` in the account currency, `goals` a list of CampaignGoal
    (or (category, origin, biddable) tuples)."""
    from auditor.model import Campaign, CampaignGoal

    _NEXT_ID[0] += 1
    i = str(_NEXT_ID[0])
    if goals is not None:
        goals = tuple(g if isinstance(g, CampaignGoal) else CampaignGoal(*g) for g in goals)
    return Campaign(
        resource_name=f"customers/1234567890/campaigns/{i}", id=i, name=name, status=status, channel_type=channel,
        bidding_strategy_type=strategy, target_cpa_micros=None if target_cpa is None else int(target_cpa * 1e6),
        target_roas=target_roas, conversions=conversions, conversions_value=value,
        all_conversions=conversions if all_conversions is None else all_conversions, goals=goals,
        goal_config_level=level, custom_goal=custom_goal)


def campaign_goal(category: str, origin: str = "WEBSITE", biddable: bool = True) -> Any:
    from auditor.model import CampaignGoal

    return CampaignGoal(category=category, origin=origin, biddable=biddable)


def account_goal(category: str, origin: str = "WEBSITE", biddable: bool = True) -> Any:
    from auditor.model import ConversionGoal

    return ConversionGoal(resource_name=f"customers/1234567890/customerConversionGoals/{category}~{origin}",
                          category=category, origin=origin, biddable=biddable)


def custom_goal(name: str, *members: ConversionAction, status: str = "ENABLED") -> Any:
    from auditor.model import CustomGoal

    _NEXT_ID[0] += 1
    return CustomGoal(resource_name=f"customers/1234567890/customConversionGoals/{_NEXT_ID[0]}", name=name,
                      actions=tuple(a.resource_name for a in members), status=status)


def tracking(auto_tagging: bool | None = True) -> Any:
    from auditor.model import TrackingSettings

    return TrackingSettings(auto_tagging_enabled=auto_tagging,
                            conversion_tracking_status="CONVERSION_TRACKING_MANAGED_BY_SELF")


def with_ads(a: Ads, **changes: Any) -> Ads:
    """`a` with new optional data: campaigns=(...), goals=(...), custom_goals=(...), tracking=..."""
    return replace(a, **changes)


def attribution(scope: str = "GOOGLE_PAID_CHANNELS",
                model: str = "PAID_AND_ORGANIC_CHANNELS_DATA_DRIVEN") -> Any:
    from auditor.model import AttributionSettings

    return AttributionSettings(reporting_attribution_model=model,
                               acquisition_lookback="ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_30_DAYS",
                               other_lookback="OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_90_DAYS",
                               ads_export_scope=scope)


def ads_key_events(counts: dict[str, float], customer: str = "1234567890") -> tuple[Any, ...]:
    """The key events GA4 attributes to one Google Ads account, by event (28 days)."""
    from auditor.model import AdsKeyEvents

    return tuple(AdsKeyEvents(event_name=n, customer_id=customer, key_events=k) for n, k in counts.items())


def with_ga4(g: GA4, **changes: Any) -> GA4:
    """`g` with new optional data: attribution=..., ads_key_events=(...), funnels=(...)"""
    return replace(g, **changes)


def earlier_run(date: str, *, steps: dict[tuple[str, str], float] | None = None,
                daily: dict[str, float] | None = None, key_events: tuple[str, ...] = (),
                primary_actions: tuple[str, ...] = ()) -> Any:
    from auditor.model import EarlierRun

    return EarlierRun(generated_at=f"{date}T06:00:00Z",
                      step_rates=tuple((a, b, r) for (a, b), r in (steps or {}).items()),
                      daily=tuple((daily or {}).items()), key_events=key_events, primary_actions=primary_actions)


def history(*runs: Any) -> Any:
    from auditor.model import ClientHistory

    return ClientHistory(runs=tuple(runs))


def with_history(c: Client, *runs: Any) -> Client:
    return replace(c, history=history(*runs))


__all__ += ["account_goal", "ads_key_events", "attribution", "campaign", "campaign_goal", "custom_goal",
            "earlier_run", "history", "tracking", "with_ads", "with_ga4", "with_history"]


# --- offline import diagnostics and conversion lag (offline-import-health, lookback-window-short, ...) -------------

def upload_summary(a: ConversionAction | None = None, status: str = "EXCELLENT", *, total: int = 100,
                   successful: int = 100, pending: int = 0, last_upload: str | None = "2026-01-01 06:00:00",
                   alerts: dict[str, float] | None = None, client: str = "GOOGLE_ADS_API") -> Any:
    """An offline conversion upload summary: of action `a` (an action summary), or of the upload client (None)."""
    from datetime import datetime

    from auditor.model import UploadAlert, UploadSummary

    where = (f"offlineConversionUploadConversionActionSummaries/{a.id}~{client}" if a is not None
             else f"offlineConversionUploadClientSummaries/{client}")
    return UploadSummary(
        resource_name=f"customers/1234567890/{where}", client=client, status=status, total=total,
        successful=successful, pending=pending,
        last_upload=datetime.fromisoformat(last_upload) if last_upload else None,
        alerts=tuple(UploadAlert(error=e, share=s, kind="conversion_upload_error") for e, s in (alerts or {}).items()),
        action_id=a.id if a is not None else None, action_name=a.name if a is not None else "")


def lag(a: ConversionAction, buckets: dict[str, float]) -> tuple[Any, ...]:
    """The 90-day conversions of `a` by conversion lag bucket."""
    from auditor.model import LagBucket

    return tuple(LagBucket(action=a.resource_name, bucket=b, all_conversions=n) for b, n in buckets.items())


__all__ += ["lag", "upload_summary"]
