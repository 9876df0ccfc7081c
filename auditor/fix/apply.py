"""Applying a reviewed plan: re-read, compare with the plan's "now", write, record, and plan the undo.

Per client: the Google Ads changes are re-read in one query per resource kind; a change whose field is no longer
the plan's "now" is not made (drift; already at "after": nothing to do); the rest are sent once with validate_only
(nothing changes; any error stops that account's changes) and then for real with partial_failure (each
operation succeeds or fails alone). GA4 changes are re-read and written one by one (the Admin API has no
validate-only mode). Every outcome, with the API's answer, goes to the change log; every change made gets its
reverse in the undo plan, which `audit fix --apply` takes like any plan. Nothing here imports a Google library: the
writers are handed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditor.errors import AuditorError
from auditor.fix.model import GA4_ADMIN, GOOGLE_ADS, MISSING, Change, ClientPlan, Manual, Plan

APPLIED, ALREADY, DRIFT, FAILED, SKIPPED = "applied", "already", "drift", "failed", "skipped"


class AdsWriting(Protocol):
    def read(self, customer: str, login: str | None, changes: list[Change]) -> dict[tuple[str, str], Any]: ...
    def mutate(self, customer: str, login: str | None, changes: list[Change], validate_only: bool) -> list[Any]: ...
    def identity(self) -> dict[str, str]: ...


class GA4Writing(Protocol):
    def read(self, property_id: str, changes: list[Change]) -> dict[tuple[str, str], Any]: ...
    def write(self, property_id: str, c: Change) -> dict[str, Any]: ...
    def identity(self) -> dict[str, str]: ...


@dataclass
class Outcome:
    change: Change
    status: str  # applied | already | drift | failed | skipped
    detail: str = ""
    response: Any = None
    at: str = ""
    undo: Change | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.change.to_json(), "status": self.status, "detail": self.detail, "response": self.response,
                "at": self.at}


@dataclass
class ClientOutcome:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


Now = Callable[[], str]


def apply_client(cp: ClientPlan, changes: list[Change], ads: AdsWriting | None, ga4: GA4Writing | None,
                 now: Now) -> ClientOutcome:
    out = ClientOutcome(cp.name)
    ads_changes = [c for c in changes if c.api == GOOGLE_ADS]
    ga4_changes = [c for c in changes if c.api == GA4_ADMIN]
    if ads_changes:
        if ads is None or cp.customer is None:
            out.outcomes += [Outcome(c, FAILED, "no Google Ads account in the plan for this client")
                             for c in ads_changes]
        else:
            _apply_ads(cp, ads_changes, ads, now, out)
    if ga4_changes:
        if ga4 is None or cp.property is None:
            out.outcomes += [Outcome(c, FAILED, "no GA4 property in the plan for this client") for c in ga4_changes]
        else:
            _apply_ga4(cp, ga4_changes, ga4, now, out)
    return out


def _triage(c: Change, current: Any) -> tuple[str, str]:
    """(status, detail) of a change against the value read now: '' when it is to be made."""
    if current is MISSING:
        return DRIFT, "the resource no longer exists (or was removed): not changed"
    if current == c.after:
        return ALREADY, f"already {c.after!r}: nothing to do"
    if current != c.now:
        return DRIFT, f"changed since the plan: now {current!r}, the plan expected {c.now!r}: not changed"
    return "", ""


def _apply_ads(cp: ClientPlan, changes: list[Change], ads: AdsWriting, now: Now, out: ClientOutcome) -> None:
    assert cp.customer is not None
    try:
        current = ads.read(cp.customer, cp.manager, changes)
    except AuditorError as e:
        out.outcomes += [Outcome(c, FAILED, f"not re-read: {e}", at=now()) for c in changes]
        return
    todo: list[Change] = []
    for c in changes:
        status, detail = _triage(c, current.get((c.resource, c.field), _Unknown))
        if status:
            out.outcomes.append(Outcome(c, status, detail, at=now()))
        else:
            todo.append(c)
    if not todo:
        return
    try:
        checked = ads.mutate(cp.customer, cp.manager, todo, validate_only=True)
    except AuditorError as e:
        out.outcomes += [Outcome(c, FAILED, f"validation refused the request: {e}", at=now()) for c in todo]
        return
    bad = [r for r in checked if not r.ok]
    if bad:
        for r in checked:
            why = f"validation failed: {r.detail}" if not r.ok else "not applied: validation of another change failed"
            out.outcomes.append(Outcome(r.change, FAILED, why, r.response, at=now()))
        return
    try:
        done = ads.mutate(cp.customer, cp.manager, todo, validate_only=False)
    except AuditorError as e:
        out.outcomes += [Outcome(c, FAILED, str(e), at=now()) for c in todo]
        return
    for r in done:
        if r.ok:
            out.outcomes.append(Outcome(r.change, APPLIED, r.detail, r.response, at=now(), undo=reverse(r.change)))
        else:
            out.outcomes.append(Outcome(r.change, FAILED, r.detail, r.response, at=now()))


class _Unknown:
    """A value the re-read did not return (never equal to a plan's value)."""


def _apply_ga4(cp: ClientPlan, changes: list[Change], ga4: GA4Writing, now: Now, out: ClientOutcome) -> None:
    assert cp.property is not None
    try:
        current = ga4.read(cp.property, changes)
    except AuditorError as e:
        out.outcomes += [Outcome(c, FAILED, f"not re-read: {e}", at=now()) for c in changes]
        return
    for c in changes:
        if c.fix == "key_event":
            status, detail = _triage_key_event(c, current)
        else:
            status, detail = _triage(c, current.get((c.resource, c.field), _Unknown))
        if status:
            out.outcomes.append(Outcome(c, status, detail, at=now()))
            continue
        try:
            response = ga4.write(cp.property, c)
        except AuditorError as e:
            out.outcomes.append(Outcome(c, FAILED, str(e), at=now()))
            continue
        created = response.get("name") if c.fix == "key_event" and c.after is not None else None
        out.outcomes.append(Outcome(c, APPLIED, created or "", response, at=now(), undo=reverse(c, created)))


def _triage_key_event(c: Change, current: dict[tuple[str, str], Any]) -> tuple[str, str]:
    if c.after is None:  # unmark the key event named by the resource
        settings = current.get((c.resource, "key_event"))
        if settings is None:
            again = current.get(("event", c.now["event_name"]))
            if again is not None:
                return DRIFT, f"{c.now['event_name']} was marked again since the plan (as {again[0]}): not changed"
            return ALREADY, f"{c.now['event_name']} is not a key event: nothing to do"
        if settings != c.now:
            return DRIFT, (f"key event {c.now['event_name']} changed since the plan (now {settings}, the plan "
                           f"expected {c.now}): not changed")
        return "", ""
    found = current.get(("event", c.after["event_name"]))  # mark again
    if found is not None:
        return ALREADY, f"{c.after['event_name']} is a key event already ({found[0]}): nothing to do"
    return "", ""


def reverse(c: Change, created: str | None = None) -> Change:
    """The change that undoes `c` once made. Unmarking a key event is undone by marking it again with the
    settings recorded (on its property); marking it is undone by unmarking the key event the API created."""
    if c.fix == "key_event" and c.after is None:
        prop = "/".join(c.resource.split("/")[:2])
        return Change(c.fix, prop, c.name, c.field, None, c.now)
    if c.fix == "key_event":
        return Change(c.fix, created or c.resource, c.name, c.field, c.after, None)
    return Change(c.fix, c.resource, c.name, c.field, c.after, c.now)


def undo_plan(plan: Plan, results: list[ClientOutcome], generated_at: str, version: str, source: str) -> Plan | None:
    """The plan that reverses every change made, client by client; None when nothing was changed."""
    by_name = {c.name: c for c in plan.clients}
    clients: list[ClientPlan] = []
    for r in results:
        cp = by_name[r.name]
        changes: list[Change] = []
        manual: list[Manual] = []
        for o in r.outcomes:
            if o.status != APPLIED or o.undo is None:
                continue
            if o.change.fix == "export_scope" and o.change.now == "NOT_SELECTED_YET":
                manual.append(Manual("ga4-export-scope", "", "info", f"{o.change.name}: export scope was set to "
                                     f"{o.change.after}", "GA4 cannot set the export scope back to 'not selected "
                                     "yet': choose the channels in GA4 Admin > Data display > Attribution settings",
                                     "no API value restores it"))
                continue
            changes.append(o.undo)
        if changes or manual:
            clients.append(ClientPlan(cp.name, cp.property, cp.customer, cp.manager, changes=changes, manual=manual))
    if not clients:
        return None
    return Plan(kind="undo", generated_at=generated_at, version=version, clients=clients, source=source,
                undoes=plan.generated_at)
