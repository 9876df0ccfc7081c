"""The fix plan: typed changes, the fixes in scope, and the plan file's JSON (docs/plan.schema.json).

A plan lists, per client, the changes `audit fix --apply` may make (the resource, the field, its value now and
after, the findings it resolves) and the findings that need a person's decision (manual). Every change is checked
against `FIXES` when a plan is read: a field, a resource or a value outside them (a plan edited by hand to change
something else) refuses the whole plan. Nothing here imports a Google library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

PLAN_SCHEMA_VERSION = 1
GOOGLE_ADS, GA4_ADMIN = "google_ads", "ga4_admin"
KEY_EVENT_METHODS = ("ONCE_PER_EVENT", "ONCE_PER_SESSION")
RETENTION = ("TWO_MONTHS", "FOURTEEN_MONTHS", "TWENTY_SIX_MONTHS", "THIRTY_EIGHT_MONTHS", "FIFTY_MONTHS")
ATTRIBUTION_MODELS = ("GOOGLE_ADS_LAST_CLICK", "GOOGLE_SEARCH_ATTRIBUTION_FIRST_CLICK",
                      "GOOGLE_SEARCH_ATTRIBUTION_LINEAR", "GOOGLE_SEARCH_ATTRIBUTION_TIME_DECAY",
                      "GOOGLE_SEARCH_ATTRIBUTION_POSITION_BASED", "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN")
DATA_DRIVEN = "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"
EXPORT_SCOPES = ("GOOGLE_PAID_CHANNELS", "PAID_AND_ORGANIC_CHANNELS")

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "missing"})()  # a resource no longer there

_ACTION = re.compile(r"customers/(\d{10})/conversionActions/(\d+)")
_CUSTOMER = re.compile(r"customers/(\d{10})")
_CAMPAIGN_GOAL = re.compile(r"customers/(\d{10})/campaignConversionGoals/(\d+)~([A-Z_]+)~([A-Z_]+)")
_KEY_EVENT = re.compile(r"properties/(\d+)/keyEvents/(\d+)")
_KEY_EVENT_OR_PROPERTY = re.compile(r"properties/(\d+)(?:/keyEvents/(\d+))?")
_RETENTION = re.compile(r"properties/(\d+)/dataRetentionSettings")
_ATTRIBUTION = re.compile(r"properties/(\d+)/attributionSettings")
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


@dataclass(frozen=True)
class Fix:
    """One kind of change the auditor may make: which API, which resource, which field, which values."""

    id: str
    api: str
    resource: re.Pattern[str]
    field: str
    values: tuple[Any, ...]  # the values the field may take ("key event" fixes: see `valid_key_event`)
    rules: tuple[str, ...]  # the findings it resolves
    what: str  # in words, for the terminal, Markdown and docs/fix.md


FIXES: dict[str, Fix] = {f.id: f for f in (
    Fix("primary_for_goal", GOOGLE_ADS, _ACTION, "primary_for_goal", (True, False),
        ("micro-primary-goal", "returning-user-conversion"),
        "a conversion action set to Secondary (ConversionAction.primary_for_goal = false); it stays in All "
        "conversions"),
    Fix("counting_type", GOOGLE_ADS, _ACTION, "counting_type", ("ONE_PER_CLICK", "MANY_PER_CLICK"),
        ("counting-type-mismatch",), "a conversion action's counting (ConversionAction.counting_type)"),
    Fix("attribution_model", GOOGLE_ADS, _ACTION, "attribution_model_settings.attribution_model", ATTRIBUTION_MODELS,
        ("non-data-driven-attribution",),
        "a conversion action's attribution model to data-driven, where Google Ads says it is available"),
    Fix("auto_tagging", GOOGLE_ADS, _CUSTOMER, "auto_tagging_enabled", (True, False), ("auto-tagging-disabled",),
        "auto-tagging on (Customer.auto_tagging_enabled = true)"),
    Fix("campaign_goal_biddable", GOOGLE_ADS, _CAMPAIGN_GOAL, "biddable", (True, False), (),
        "a campaign goal's biddable flag (CampaignConversionGoal.biddable); undo only, see docs/fix.md"),
    Fix("key_event", GA4_ADMIN, _KEY_EVENT_OR_PROPERTY, "key_event", (),
        ("overflagged-key-events", "returning-user-conversion"),
        "a weak key event unmarked (properties.keyEvents.delete; the event keeps being collected; its settings "
        "are kept for undo, which marks it again)"),
    Fix("key_event_counting_method", GA4_ADMIN, _KEY_EVENT, "counting_method", KEY_EVENT_METHODS,
        ("key-event-counting-method",), "a key event's counting method (KeyEvent.counting_method)"),
    Fix("data_retention", GA4_ADMIN, _RETENTION, "event_data_retention", RETENTION, ("short-data-retention",),
        "event data retention to 14 months (DataRetentionSettings.event_data_retention)"),
    Fix("export_scope", GA4_ADMIN, _ATTRIBUTION, "ads_web_conversion_data_export_scope", EXPORT_SCOPES,
        ("ga4-export-scope",),
        "the channels that may take credit for conversions shared with Google Ads to Google paid channels "
        "(AttributionSettings.ads_web_conversion_data_export_scope, Admin API v1alpha)"),
)}


@dataclass(frozen=True)
class Resolves:
    rule: str
    fingerprint: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class Change:
    """One field of one resource, from `now` to `after`. A key event's value is its settings (marked) or None
    (not a key event)."""

    fix: str
    resource: str
    name: str  # readable: the action's or event's name
    field: str
    now: Any
    after: Any
    resolves: tuple[Resolves, ...] = ()
    score_after: int | None = None  # the client's score with this change alone

    @property
    def spec(self) -> Fix:
        return FIXES[self.fix]

    @property
    def api(self) -> str:
        return self.spec.api

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.rule for r in self.resolves))

    def to_json(self) -> dict[str, Any]:
        return {"fix": self.fix, "api": self.api, "resource": self.resource, "name": self.name,
                "field": self.field, "now": self.now, "after": self.after,
                "resolves": [r.to_json() for r in self.resolves], "score_after": self.score_after}

    def text(self) -> str:
        """'Hero video play' primary_for_goal: true -> false."""
        return f"{self.name or self.resource}: {self.field}: {show(self.now)} -> {show(self.after)}"


@dataclass(frozen=True)
class Manual:
    """A finding no change of the plan resolves: what it says and how to fix it by hand."""

    rule: str
    fingerprint: str
    severity: str
    message: str
    fix: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "fingerprint": self.fingerprint, "severity": self.severity,
                "message": self.message, "fix": self.fix, "why": self.why}


@dataclass
class ClientPlan:
    name: str
    property: str | None  # digits
    customer: str | None  # 10 digits
    manager: str | None = None  # login customer id of the Google Ads calls
    score_now: int | None = None
    grade_now: str | None = None
    score_after: int | None = None
    grade_after: str | None = None
    changes: list[Change] = field(default_factory=list)
    manual: list[Manual] = field(default_factory=list)
    resolved: list[Resolves] = field(default_factory=list)  # findings gone once every change is made
    raised: list[Resolves] = field(default_factory=list)  # findings the changes would bring
    errors: list[str] = field(default_factory=list)  # why no plan could be made for this client

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "property": self.property, "customer": self.customer, "manager": self.manager,
                "score": {"now": self.score_now, "grade_now": self.grade_now, "after": self.score_after,
                          "grade_after": self.grade_after},
                "changes": [c.to_json() for c in self.changes], "manual": [m.to_json() for m in self.manual],
                "resolved": [r.to_json() for r in self.resolved], "raised": [r.to_json() for r in self.raised],
                "errors": list(self.errors)}


@dataclass
class Plan:
    kind: str  # plan | undo
    generated_at: str
    version: str
    clients: list[ClientPlan]
    source: str = ""  # what it was planned from: live, or the offline folder
    undoes: str | None = None  # an undo plan: the plan it undoes

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": PLAN_SCHEMA_VERSION, "kind": self.kind,
                "tool": {"name": "auditor", "version": self.version}, "generated_at": self.generated_at,
                "source": self.source, "undoes": self.undoes,
                "fixes": sorted(FIXES), "clients": [c.to_json() for c in self.clients]}


def show(value: Any) -> str:
    """A value as the terminal and Markdown show it."""
    if value is None:
        return "not a key event"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        dv = value.get("default_value")
        extra = f", default value {dv['numeric_value']:g} {dv.get('currency_code') or ''}".rstrip() if dv else ""
        return f"key event ({value.get('counting_method')}{extra})"
    return str(value)


# -- reading and checking a plan -------------------------------------------------------------------------------

def valid_key_event(value: Any) -> bool:
    """A key event's settings as a plan records them: event_name, counting_method, optional default_value."""
    if value is None:
        return True
    if not isinstance(value, dict) or set(value) - {"event_name", "counting_method", "default_value"}:
        return False
    if not isinstance(value.get("event_name"), str) or not _EVENT_NAME.fullmatch(value["event_name"]):
        return False
    if value.get("counting_method") not in KEY_EVENT_METHODS:
        return False
    dv = value.get("default_value")
    if dv is None:
        return True
    return (isinstance(dv, dict) and not set(dv) - {"numeric_value", "currency_code"}
            and isinstance(dv.get("numeric_value"), (int, float)) and not isinstance(dv.get("numeric_value"), bool)
            and isinstance(dv.get("currency_code"), str) and re.fullmatch(r"[A-Z]{3}", dv["currency_code"]) is not None)


def check_change(c: Change, where: str) -> None:
    """ConfigError naming the change when it is outside the fixes in scope (refuses the plan)."""
    spec = FIXES.get(c.fix)
    if spec is None:
        raise ConfigError(f"{where}: fix {c.fix!r} is not one the auditor makes (supported: {', '.join(FIXES)})")
    if c.field != spec.field:
        raise ConfigError(f"{where}: field {c.field!r} is not in scope for fix {c.fix} (only {spec.field})")
    if not spec.resource.fullmatch(c.resource):
        raise ConfigError(f"{where}: resource {c.resource!r} is not a resource fix {c.fix} changes")
    if c.fix == "key_event":
        if not (valid_key_event(c.now) and valid_key_event(c.after)) or (c.now is None) == (c.after is None):
            raise ConfigError(f"{where}: a key event change marks (now null) or unmarks (after null) one event, "
                              "with its event_name and counting_method")
        if c.now is not None and not _KEY_EVENT.fullmatch(c.resource):
            raise ConfigError(f"{where}: unmarking needs the key event's resource (properties/P/keyEvents/K)")
        if c.now is None and not re.fullmatch(r"properties/\d+", c.resource):
            raise ConfigError(f"{where}: marking a key event again names its property (properties/P)")
        return
    for label, value in (("now", c.now), ("after", c.after)):
        if label == "now" and c.fix == "export_scope" and value == "NOT_SELECTED_YET":
            continue
        if value not in spec.values or isinstance(value, bool) != isinstance(spec.values[0], bool):
            raise ConfigError(f"{where}: {label} {value!r} is not a value fix {c.fix} sets "
                              f"({', '.join(map(show, spec.values))})")


def _change(d: Mapping[str, Any], where: str) -> Change:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: expected an object")
    try:
        c = Change(fix=str(d["fix"]), resource=str(d["resource"]), name=str(d.get("name") or ""),
                   field=str(d["field"]), now=d["now"], after=d["after"],
                   resolves=tuple(Resolves(str(r["rule"]), str(r["fingerprint"])) for r in d.get("resolves") or ()),
                   score_after=d.get("score_after"))
    except (KeyError, TypeError) as e:
        raise ConfigError(f"{where}: missing {e}") from None
    if "api" in d and d["api"] != FIXES.get(c.fix, FIXES["primary_for_goal"]).api:
        raise ConfigError(f"{where}: api {d['api']!r} does not match fix {c.fix}")
    check_change(c, where)
    return c


def plan_from_json(data: Any, where: str) -> Plan:
    """A plan as written by `audit fix --plan` (or an undo plan), checked change by change."""
    if not isinstance(data, dict) or data.get("kind") not in ("plan", "undo") or "clients" not in data:
        raise ConfigError(f"{where}: not a fix plan (expected an object with kind plan or undo, and clients)")
    if data.get("schema_version") != PLAN_SCHEMA_VERSION:
        raise ConfigError(f"{where}: plan schema_version {data.get('schema_version')!r}; this version reads "
                          f"{PLAN_SCHEMA_VERSION}")
    clients: list[ClientPlan] = []
    for i, c in enumerate(data.get("clients") or []):
        at = f"{where}: clients[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ConfigError(f"{at}: expected an object with a name")
        prop, cust = c.get("property"), c.get("customer")
        if prop is not None and not re.fullmatch(r"\d+", str(prop)):
            raise ConfigError(f"{at}: property {prop!r}: expected digits")
        if cust is not None and not re.fullmatch(r"\d{10}", str(cust)):
            raise ConfigError(f"{at}: customer {cust!r}: expected 10 digits")
        changes = [_change(x, f"{at}.changes[{j}]") for j, x in enumerate(c.get("changes") or [])]
        for j, ch in enumerate(changes):
            owner = _owner(ch)
            if owner != (str(cust) if ch.api == GOOGLE_ADS else str(prop)):
                raise ConfigError(f"{at}.changes[{j}]: resource {ch.resource} is not this client's "
                                  f"{'Google Ads account' if ch.api == GOOGLE_ADS else 'GA4 property'}")
        score = c.get("score") or {}
        manual = [Manual(str(m.get("rule")), str(m.get("fingerprint")), str(m.get("severity")),
                         str(m.get("message")), str(m.get("fix")), str(m.get("why")))
                  for m in c.get("manual") or [] if isinstance(m, dict)]
        clients.append(ClientPlan(
            name=c["name"], property=None if prop is None else str(prop), customer=None if cust is None else str(cust),
            manager=c.get("manager"), score_now=score.get("now"), grade_now=score.get("grade_now"),
            score_after=score.get("after"), grade_after=score.get("grade_after"), changes=changes, manual=manual,
            resolved=[Resolves(r["rule"], r["fingerprint"]) for r in c.get("resolved") or []],
            raised=[Resolves(r["rule"], r["fingerprint"]) for r in c.get("raised") or []],
            errors=[str(e) for e in c.get("errors") or []]))
    return Plan(kind=data["kind"], generated_at=str(data.get("generated_at") or ""),
                version=str((data.get("tool") or {}).get("version") or ""), clients=clients,
                source=str(data.get("source") or ""), undoes=data.get("undoes"))


def _owner(c: Change) -> str:
    """The customer (Google Ads) or property (GA4) a change's resource belongs to."""
    m = re.match(r"(?:customers|properties)/(\d+)", c.resource)
    return m.group(1) if m else ""


def read_plan(path: str | Path) -> Plan:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the plan: {e.strerror or e}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{p}: not JSON ({e})") from None
    return plan_from_json(data, str(p))
