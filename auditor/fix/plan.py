"""Planning fixes: from one client's raw responses to the changes that resolve its findings, and the score they
reach.

The findings come from the same rules `audit` runs, with each finding's verdicts (`advice`: demote, unmark...)
so nothing is read back out of a message. A finding maps to a change only when the fix is safe and reversible
through the API (`FIXES`); everything else is listed as manual with the finding's fix text. The score each
change reaches is not estimated: the changes are made to a copy of the responses read, exactly as the API would
answer after them, and the copy is audited again (`simulate`). A funnel report that a fresh read would no longer
ask for is left out of the copy, as a live re-audit would not read it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from auditor.engine import DEMOTE, UNMARK
from auditor.engine import Finding as EngineFinding
from auditor.fix.model import DATA_DRIVEN, FIXES, Change, ClientPlan, Manual, Resolves
from auditor.model import Client
from auditor.raw import RawClient
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

ACTIONS, CUSTOMER = "ads/conversion_actions.json", "ads/customer.json"
KEY_EVENTS, RETENTION, ATTRIBUTION = "ga4/key_events.json", "ga4/data_retention.json", "ga4/attribution_settings.json"
FUNNELS, ADS_KEY_EVENTS = "ga4/funnels.json", "ga4/ads_key_events.json"
MANUAL_WHY = "needs a business decision (a value, which copy to keep, a new goal or proxy): no change is planned"
_STEP = re.compile(r"^(\d+)\.\s?(.*)$")

Audit = Callable[[RawClient], ClientResult]


def engine_findings(raw: RawClient, ruleset: Ruleset) -> tuple[Client, list[EngineFinding], Any, Any]:
    """The client's snapshot and its findings as the rules give them (with their advice), reconciled as `audit`
    reconciles them; plus the taxonomy and the rule settings of its profile."""
    from auditor.audit import _snapshot, run_rules
    from auditor.hierarchy import Hierarchy

    client, choice = _snapshot(raw, ruleset)
    taxonomy, settings = ruleset.for_profile(choice.name)
    return client, run_rules(client, ruleset, Hierarchy(client, taxonomy))[1], taxonomy, settings


def plan_client(raw: RawClient, ruleset: Ruleset, audit: Audit, target: tuple[str | None, str | None, str | None],
                only: Iterable[str] = ()) -> ClientPlan:
    """The plan of one client. `audit` audits a RawClient as the run does (suppressions applied); `target` is
    (property, customer, manager) as apply will reach them."""
    from auditor.audit import fingerprint

    prop, cust, manager = target
    plan = ClientPlan(raw.name, prop, cust, manager)
    before = audit(raw)
    if before.errors or before.score is None:
        plan.errors = list(before.errors) or ["the client could not be audited"]
        if before.score is None:
            return plan
    plan.score_now, plan.grade_now = before.score, before.grade
    if plan.property is None and before.sources.ga4 is not None:  # offline: the ids the responses name
        plan.property = before.sources.ga4.id.removeprefix("properties/")
    if plan.customer is None and before.sources.ads is not None:
        plan.customer = before.sources.ads.id
    client, found, taxonomy, settings = engine_findings(raw, ruleset)
    active = {f.fingerprint for f in before.active}
    wanted = set(only)
    changes: dict[tuple[str, str], Change] = {}
    notes: dict[str, str] = {}  # fingerprint -> why no change was planned for it
    for f in found:
        fp = fingerprint(f.rule, raw.name, f.resources)
        if fp not in active or (wanted and f.rule not in wanted):
            continue
        planned, why = _changes_for(f, client, taxonomy, settings)
        if why:
            notes[fp] = why
        for c in planned:
            key = (c.resource, c.field)
            old = changes.get(key)
            res = Resolves(f.rule, fp)
            changes[key] = replace(c, resolves=(*old.resolves, res) if old else (res,))
    plan.changes = list(changes.values())
    if plan.changes:
        after = audit(simulate(raw, plan.changes, ruleset))
        plan.score_after, plan.grade_after = after.score, after.grade
        # a finding whose resources merely changed (an import list one action shorter) persists: it is matched by
        # its rule and first resource as well as by its fingerprint
        now_fps = {f.fingerprint for f in after.active} | {_anchor(f) for f in after.active}
        was = active | {_anchor(f) for f in before.active}
        plan.resolved = [Resolves(f.rule, f.fingerprint) for f in before.active
                         if f.fingerprint not in now_fps and _anchor(f) not in now_fps]
        plan.raised = [Resolves(f.rule, f.fingerprint) for f in after.active
                       if f.fingerprint not in was and _anchor(f) not in was]
        plan.changes = [replace(c, score_after=audit(simulate(raw, [c], ruleset)).score) for c in plan.changes]
    else:
        plan.score_after, plan.grade_after = before.score, before.grade
    gone = {r.fingerprint for r in plan.resolved}
    for f in before.active:
        if f.fingerprint in gone or (wanted and f.rule not in wanted):
            continue
        plan.manual.append(Manual(f.rule, f.fingerprint, f.severity, f.message, f.remediation,
                                  notes.get(f.fingerprint, MANUAL_WHY)))
    return plan


def _anchor(f: Any) -> str:
    return f"{f.rule}\x1f{f.resources[0] if f.resources else ''}"


def _changes_for(f: EngineFinding, client: Client, taxonomy: Any, settings: Any) -> tuple[list[Change], str]:
    """The changes one finding asks for, and why none (or not all) could be planned."""
    ads, ga4 = client.ads, client.ga4
    actions = {a.resource_name: a for a in ads.actions} if ads else {}
    keys = {k.name: k for k in ga4.key_events if k.name} if ga4 else {}
    out: list[Change] = []
    why = ""
    if not f.actionable:
        return [], "Google manages this resource: its settings cannot be changed"
    if f.rule in FIXES["primary_for_goal"].rules or f.rule in FIXES["key_event"].rules:
        for resource, verb in f.advice:
            if verb == DEMOTE and resource in actions and f.rule in FIXES["primary_for_goal"].rules:
                a = actions[resource]
                if a.system_managed:
                    why = f"'{a.name}' is managed by Google: it cannot be set to Secondary through the API"
                elif a.primary_for_goal:
                    out.append(Change("primary_for_goal", resource, a.name, "primary_for_goal", True, False))
            elif verb == UNMARK and resource in keys and f.rule in FIXES["key_event"].rules:
                k = keys[resource]
                if not k.deletable:
                    why = f"GA4 does not let key event {k.event_name} be unmarked (deletable is false)"
                else:
                    out.append(Change("key_event", resource, k.event_name, "key_event", key_event_settings(k), None))
        return out, why
    if f.rule == "counting-type-mismatch" and ads:
        params = settings[f.rule].params
        want = {c: "ONE_PER_CLICK" for c in params["one_per_click_categories"]}
        want.update({c: "MANY_PER_CLICK" for c in params["many_per_click_categories"]})
        for r in f.resources:
            a = actions.get(r)
            if a is not None and want.get(a.category) and a.counting_type != want[a.category]:
                out.append(Change("counting_type", r, a.name, "counting_type", a.counting_type, want[a.category]))
    elif f.rule == "key-event-counting-method" and ga4:
        params = settings[f.rule].params
        per_event = taxonomy.canonical_set(tuple(params["once_per_event_events"]))
        per_session = taxonomy.canonical_set(tuple(params["once_per_session_events"]))
        for r in f.resources:
            k = keys.get(r)
            if k is None:
                continue
            key = taxonomy.canonical(k.event_name)
            want = "ONCE_PER_EVENT" if key in per_event else "ONCE_PER_SESSION" if key in per_session else None
            if want and k.counting_method != want:
                out.append(Change("key_event_counting_method", r, k.event_name, "counting_method",
                                  k.counting_method, want))
    elif f.rule == "short-data-retention" and ga4 and ga4.retention is not None:
        out.append(Change("data_retention", f"{ga4.property.name}/dataRetentionSettings", ga4.property.display_name
                          or ga4.property.name, "event_data_retention", ga4.retention.event_data_retention,
                          "FOURTEEN_MONTHS"))
    elif f.rule == "auto-tagging-disabled" and ads:
        out.append(Change("auto_tagging", f"customers/{ads.customer_id}", ads.descriptive_name or ads.customer_id,
                          "auto_tagging_enabled", False, True))
    elif f.rule == "non-data-driven-attribution" and ads:
        for r in f.resources:
            a = actions.get(r)
            if a is None or a.attribution_model is None:
                continue
            if a.data_driven_model_status != "AVAILABLE":
                why = (f"data-driven attribution is not available for '{a.name}' yet (status "
                       f"{a.data_driven_model_status or 'unknown'}): Google Ads would refuse the change")
                continue
            out.append(Change("attribution_model", r, a.name, "attribution_model_settings.attribution_model",
                              a.attribution_model, DATA_DRIVEN))
    elif f.rule == "ga4-export-scope" and ga4 and ga4.attribution is not None:
        if ga4.attribution.ads_export_scope != "PAID_AND_ORGANIC_CHANNELS":
            return [], ("the export scope was never chosen (NOT_SELECTED_YET): GA4 cannot set it back to that, so "
                        "choosing it is not a reversible change")
        out.append(Change("export_scope", f"{ga4.property.name}/attributionSettings",
                          ga4.property.display_name or ga4.property.name, "ads_web_conversion_data_export_scope",
                          ga4.attribution.ads_export_scope, "GOOGLE_PAID_CHANNELS"))
    return out, why


def key_event_settings(k: Any) -> dict[str, Any]:
    """What the plan records of a key event to mark it again on undo."""
    out: dict[str, Any] = {"event_name": k.event_name, "counting_method": k.counting_method}
    if k.default_value is not None:
        out["default_value"] = {"numeric_value": k.default_value, "currency_code": k.default_currency or ""}
    return out


# -- the responses after a change ------------------------------------------------------------------------------

def simulate(raw: RawClient, changes: Iterable[Change], ruleset: Ruleset | None = None) -> RawClient:
    """A copy of `raw` as the API would answer once `changes` are made. With `ruleset`, the funnel reports a fresh
    read would no longer ask for are left out."""
    out = RawClient(name=raw.name, bodies=copy.deepcopy(raw.bodies), profile=raw.profile, origin=raw.origin,
                    missing=dict(raw.missing), warnings=list(raw.warnings), read_on=raw.read_on)
    for c in changes:
        apply_to_bodies(out.bodies, c)
    if ruleset is not None and out.bodies.get(FUNNELS):
        from auditor.audit import plan_funnels

        pairs = set(plan_funnels(out, ruleset))
        out.bodies[FUNNELS] = [b for b in out.bodies[FUNNELS] if funnel_pair(b) in pairs or funnel_pair(b) is None]
        if not out.bodies[FUNNELS]:
            del out.bodies[FUNNELS]
    return out


def funnel_pair(body: dict[str, Any]) -> tuple[str, str] | None:
    """(micro, macro) of a recorded two-step funnel report, from its step names ('1. add_to_cart')."""
    steps: dict[int, str] = {}
    for row in (body.get("funnelTable") or {}).get("rows") or ():
        for v in row.get("dimensionValues") or ():
            m = _STEP.match(str(v.get("value", "")))
            if m:
                steps[int(m.group(1))] = m.group(2)
    return (steps[1], steps[2]) if 1 in steps and 2 in steps else None


def _rows(bodies: dict[str, list[dict[str, Any]]], key: str, resource: str) -> Iterable[dict[str, Any]]:
    """The resource objects of a searchStream file, camelCase or snake_case."""
    for body in bodies.get(key) or ():
        for row in body.get("results") or ():
            obj = row.get(resource) or row.get(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), resource))
            if isinstance(obj, dict):
                yield obj


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a snake_case path in a JSON object written camelCase (the API's mapping) or snake_case."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part)
        key = part if part in obj else camel
        if i == len(parts) - 1:
            obj[key] = value
        else:
            obj = obj.setdefault(key, {})


def apply_to_bodies(bodies: dict[str, list[dict[str, Any]]], c: Change) -> None:
    """Make one change to recorded responses, as the API would then answer (used by the plan's simulation)."""
    if c.fix in ("primary_for_goal", "counting_type", "attribution_model"):
        for obj in _rows(bodies, ACTIONS, "conversion_action"):
            if (obj.get("resourceName") or obj.get("resource_name")) == c.resource:
                _set(obj, c.field, c.after)
    elif c.fix == "auto_tagging":
        for obj in _rows(bodies, CUSTOMER, "customer"):
            _set(obj, c.field, c.after)
    elif c.fix == "key_event" and c.after is None:
        for page in bodies.get(KEY_EVENTS) or ():
            page["keyEvents"] = [k for k in page.get("keyEvents") or () if k.get("name") != c.resource]
        # a fresh read asks GA4 for the key events it credits to Google Ads, filtered to the key events
        for page in bodies.get(ADS_KEY_EVENTS) or ():
            if page.get("rows"):
                page["rows"] = [r for r in page["rows"]
                                if ((r.get("dimensionValues") or [{}])[0]).get("value") != c.now["event_name"]]
    elif c.fix == "key_event_counting_method":
        for page in bodies.get(KEY_EVENTS) or ():
            for k in page.get("keyEvents") or ():
                if k.get("name") == c.resource:
                    _set(k, "counting_method", c.after)
    elif c.fix == "data_retention":
        for body in bodies.get(RETENTION) or ():
            _set(body, "event_data_retention", c.after)
    elif c.fix == "export_scope":
        for body in bodies.get(ATTRIBUTION) or ():
            _set(body, "ads_web_conversion_data_export_scope", c.after)
