"""The measured micro hierarchy of one client: its own macro, and every event's and action's strength toward it.

Built once per client from data already loaded (one pass), shared by the rules and the funnel view:

1. The macro: the GA4 events of the primary macro Google Ads actions; else the key events named as macros (by
   the profile, the taxonomy or the config); else any GA4 event so named. The one with most users is the
   reference every rate is measured to.
2. Per event: a GA4 funnel report's conditional rate where one was recorded (it wins); else macro users / event
   users over the same 28 days, an upper bound (the users are not joined), so it can cap a class but never raise
   one above what the name leads to expect; an event with fewer users than the macro sits after or beside it and
   is never a proxy. Per Google Ads action without GA4 users, macro conversions / its conversions (30 days).
3. The user's config always wins; names and categories decide only where the data cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from auditor.evidence import Basis, Evidence, Metric, Position, count, pct
from auditor.model import Client, ConversionAction, FunnelMeasure
from auditor.taxonomy import STRENGTHS, NameVerdict, Strength, Taxonomy

USER_DAYS, ADS_DAYS = 28, 30
MAX_FUNNEL_REPORTS = 3  # GA4 funnel reports per client on a live run

# How a micro's strength is decided, for `audit explain` and docs/rules.md of the rules that use it.
STRENGTH_EVIDENCE = (
    "A micro's strength is measured toward the account's own macro (the GA4 events of its primary macro Google "
    "Ads actions, else its key events named as macros, else its events so named): a GA4 funnel report's "
    "conditional rate where one was read "
    "(it wins); else the macro's users divided by the event's users over 28 days, an upper bound that can lower "
    "a class but never raise it above what the name leads to expect; else, for a Google Ads action without GA4 "
    "users, macro conversions divided by its conversions over 30 days. An event with fewer users than the macro "
    "sits after or beside it and is never a proxy. The name (taxonomy lists, then words such as pricing, quote, "
    "checkout, step 2 vs scroll, view, click) or the Ads category decides only where there is no volume, and the "
    "config's taxonomy always wins. Classes: very high from 50%, high from 20%, medium from 5%, else low "
    "(taxonomy strength_thresholds). Each finding's evidence gives the numbers and the basis: funnel, ratio, "
    "config, name or category.")


@dataclass(frozen=True)
class Macro:
    """The account's own macro outcome(s)."""

    events: tuple[str, ...]  # GA4 events
    reference: str | None  # the one with most users: the denominator of every rate
    users: int  # the reference's users over 28 days
    actions: tuple[ConversionAction, ...]  # primary macro Google Ads actions
    conversions: float  # their conversions over 30 days
    source: str  # how it was identified

    @property
    def label(self) -> str:
        if self.reference:
            return self.reference
        return ", ".join(f"'{a.name}'" for a in self.actions) or "-"

    def to_json(self) -> dict[str, object]:
        return {"events": list(self.events), "reference": self.reference, "users": self.users,
                "actions": [a.name for a in self.actions], "conversions": self.conversions, "source": self.source}


@dataclass(frozen=True)
class Proxy:
    """A micro that could stand in for the macro as the bidding goal."""

    label: str  # "GA4 event 'x'" / "Google Ads action 'X'"
    event: str | None
    volume: float
    period: str
    evidence: Evidence
    action: ConversionAction | None = None


_BASIS: dict[str, Basis] = {"config": "config", "category": "category", "none": "none"}


def _basis(v: NameVerdict) -> Basis:
    return _BASIS.get(v.source, "name")


def _rank(s: str) -> int:
    return STRENGTHS.index(s) if s in STRENGTHS else len(STRENGTHS)  # type: ignore[arg-type]


def judge(verdict: NameVerdict, *, event: str | None, action: str | None, metric: Metric | None,
          volume: float | None, macro: str | None, macro_volume: float | None, tax: Taxonomy,
          funnel: FunnelMeasure | None = None, funnel_macro: str | None = None) -> Evidence:
    """One subject's strength: config, then a funnel rate, then the ratio capped by the name, then the name.

    `volume`/`macro_volume`: users over 28 days (GA4) or conversions over 30 days (Ads), for the position and
    the ratio; `funnel`: a recorded funnel report of the subject toward `funnel_macro`."""
    position: Position = "unknown"
    if volume and macro_volume:
        position = "before" if volume >= macro_volume else "after"
    ratio = macro_volume / volume if position == "before" and volume and macro_volume else None
    funnel_rate = funnel.rate if funnel is not None else None
    period = (USER_DAYS if metric == "users" else ADS_DAYS) if metric else None
    users, shown_macro, macro_users = volume, macro, macro_volume
    rate: float | None = None
    funnel_users: float | None = None
    measure: Literal["funnel", "ratio"] | None = None
    if funnel is not None and funnel_rate is not None:  # the rate and its base are the report's own
        # `users` stays the event's 28-day users, the number the funnel view and every other row show for it;
        # the report's own base (active users who did the step) is `funnel_users`
        funnel_users, shown_macro, period = funnel.users[0], funnel_macro or macro, USER_DAYS
        users = volume if metric == "users" and volume else funnel.users[0]
        macro_users = funnel.users[-1] if len(funnel.users) > 1 else 0
        rate, measure = funnel_rate, "funnel"
    elif ratio is not None:
        rate, measure = ratio, "ratio"
    strength, basis = _strength(verdict, position, rate, ratio, funnel_rate, tax.thresholds.classify)
    return Evidence(event=event, action=action, strength=strength, basis=basis, position=position, metric=metric,
                    period_days=period, users=users, macro=shown_macro, macro_users=macro_users, rate=rate,
                    measure=measure, detail=verdict.detail, funnel_users=funnel_users)


def _strength(verdict: NameVerdict, position: Position, rate: float | None, ratio: float | None,
              funnel_rate: float | None, classify: Callable[[float], Strength]) -> tuple[Strength, Basis]:
    """The class and what it rests on: `rate` is the measured one (a funnel's, else the ratio), if any."""
    if verdict.source == "config":
        cls: Strength = verdict.strength
        if cls != "low" and rate is not None and classify(rate) != "low":
            cls = classify(rate)  # listed strong: at least medium, better if the data shows it
        return cls, "config"
    if funnel_rate is not None:
        return classify(funnel_rate), "funnel"
    if position == "after":
        return ("low" if verdict.weak else "unknown"), "ratio"
    if ratio is not None:
        ceiling = classify(ratio)
        if ceiling == "low":  # the upper bound is low: so is the rate
            return "low", "ratio"
        if verdict.kind != "micro" or verdict.strength == "unknown":  # only a ceiling, and no name to go on
            return "unknown", "ratio"
        if _rank(ceiling) >= _rank(verdict.strength):  # the ceiling is the tighter bound
            return ceiling, "ratio"
        return verdict.strength, _basis(verdict)  # the name caps it
    strength: Strength = verdict.strength if verdict.kind == "micro" else "unknown"
    return strength, (_basis(verdict) if strength != "unknown" or verdict.detail else "none")


class Hierarchy:
    """Evidence for every GA4 event and Google Ads action of one client. Immutable once built."""

    def __init__(self, client: Client, tax: Taxonomy) -> None:
        self.client, self.taxonomy = client, tax
        ga4, ads = client.ga4, client.ads
        self._users = {e.event_name: e.total_users for e in ga4.events} if ga4 else {}
        # the busiest event's users: an event nearly all of them fire counts returning users, not conversions
        self._busiest = max(self._users.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
        # earlier outcome stages the account also bids on a later stage of: resource name -> the later stage
        self.earlier: dict[str, str] = {}
        self.macro = self._find_macro()
        self._funnels: dict[str, FunnelMeasure] = {}
        if ga4 and self.macro:
            wanted = set(self.macro.events)
            for f in ga4.funnels:  # micro -> macro reports; the reference macro's wins over another macro's
                # a report of one row: nobody went on, and the row does not name the step (the reference's)
                target = f.steps[1] if len(f.steps) > 1 else self.macro.reference
                if len(f.steps) <= 2 and target in wanted and f.rate is not None:
                    if f.steps[0] not in self._funnels or target == self.macro.reference:
                        self._funnels[f.steps[0]] = f
        self._events: dict[str, Evidence] = {}
        for name in self._users:
            self._events[name] = self._event(name)
        self._actions: dict[str, Evidence] = {}
        if ads:
            for a in ads.actions:
                self._actions[a.resource_name] = self._action(a)
        self._considered: tuple[frozenset[str], list[Evidence]] | None = None
        # Views derived from the hierarchy that several readers need once per client (the account funnel: the
        # report, the vitals, the trend rule), kept by the module that derives them.
        self.derived: dict[str, Any] = {}

    # -- the macro -----------------------------------------------------------------------------------------------

    def returning_share(self, event: str | None) -> str | None:
        """Why a GA4 event counts returning users by the evidence: nearly every user of the property's busiest
        event fires it (a session start, an app open under another name). None when it does not, or when the
        property is too small to tell."""
        tax = self.taxonomy
        top, top_users = self._busiest
        users = self._users.get(event or "", 0)
        if not event or top_users < tax.returning_min_users or users < tax.returning_share * top_users:
            return None
        if event == top:
            return f"{event} is the property's busiest event ({count(users)} users in 28 days)"
        return (f"{event} is fired by {count(users)} users in 28 days, {pct(users / top_users)} of the "
                f"{count(top_users)} of {top}, the busiest event: nearly everyone who visits")

    def _returning(self, verdict: NameVerdict, event: str | None) -> str | None:
        """Why an event or action counts returning users (its name, else its users), unless the config or a
        list names it as a macro or a known micro."""
        if verdict.returning:
            return verdict.detail
        if verdict.source in ("config", "profile", "taxonomy"):
            return None
        return self.returning_share(event)

    def _find_macro(self) -> Macro | None:
        tax, ga4, ads = self.taxonomy, self.client.ga4, self.client.ads
        actions = tuple(a for a in ads.primary_actions if self._macro_action(a)) if ads else ()
        actions = self._latest_stages(actions)
        conversions = sum(a.stats.conversions for a in actions)
        events = tuple(sorted({a.ga4_event_name for a in actions if a.ga4_event_name}))
        source = "the GA4 events of its primary macro Google Ads actions"

        def macro_event(name: str) -> bool:
            v = tax.name_verdict(name)
            return v.kind == "macro" and self._returning(v, name) is None

        if ga4 and not any(self._users.get(e, 0) > 0 for e in events):
            keyed = tuple(sorted({k.event_name for k in ga4.key_events if macro_event(k.event_name)}))
            named = tuple(sorted(e.event_name for e in ga4.events if e.total_users > 0 and macro_event(e.event_name)))
            if any(self._users.get(e, 0) > 0 for e in keyed):
                events, source = keyed, "its key events named as macros"
            elif named:  # tracked but never marked as a key event (or imported): still the outcome that pays
                events, source = named, "its GA4 events named as macros"
        live = [e for e in events if self._users.get(e, 0) > 0]
        reference = max(live, key=lambda e: (self._users[e], e)) if live else None
        if not events and not actions:
            return None
        if reference is None and actions:
            source = "its primary macro Google Ads actions (no GA4 users for them)"
        return Macro(events=events, reference=reference, users=self._users.get(reference, 0) if reference else 0,
                     actions=actions, conversions=conversions, source=source)

    def _macro_action(self, a: ConversionAction) -> bool:
        v = self.taxonomy.action_verdict(a)
        return v.kind == "macro" and self._returning(v, a.ga4_event_name) is None

    def _latest_stages(self, actions: tuple[ConversionAction, ...]) -> tuple[ConversionAction, ...]:
        """The primary macros without the earlier stages of another one the account bids on: a raw web lead
        beside a lead qualified in the CRM, an app install beside in-app purchases. The later stage is what pays;
        the earlier one becomes a micro toward it (recorded in `earlier`)."""
        later_lead = [a for a in actions if a.is_crm_lead_import]
        paid_in_app = [a for a in actions if a.is_app_purchase or (a.is_app and a.category in
                                                                    self.taxonomy.revenue_categories)]
        for a in actions:
            if later_lead and a.is_raw_web_lead:
                self.earlier[a.resource_name] = ", ".join(f"'{x.name}'" for x in later_lead)
            elif paid_in_app and a.is_app_install:
                self.earlier[a.resource_name] = ", ".join(f"'{x.name}'" for x in paid_in_app)
        return tuple(a for a in actions if a.resource_name not in self.earlier)

    def is_macro_event(self, name: str) -> bool:
        return (self.macro is not None and name in self.macro.events) or \
            self.taxonomy.name_verdict(name).kind == "macro"

    # -- evidence ------------------------------------------------------------------------------------------------

    def _macro_evidence(self, event: str | None, action: str | None, detail: str) -> Evidence:
        return Evidence(event=event, action=action, strength="macro", basis="name", position="macro", detail=detail)

    def _returning_evidence(self, event: str | None, action: str | None, why: str) -> Evidence:
        users = self._users.get(event or "") or None
        return Evidence(event=event, action=action, strength="low", basis="name" if users is None else "ratio",
                        position="unknown", metric="users" if users else None, period_days=USER_DAYS if users else None,
                        users=users, macro=self.macro.label if self.macro else None, detail=why, returning=True)

    def _event(self, name: str) -> Evidence:
        verdict = self.taxonomy.name_verdict(name)
        if self.macro and name in self.macro.events:
            return self._macro_evidence(name, None, f"the account's macro ({self.macro.source})")
        back = self._returning(verdict, name)
        if back is not None:
            return self._returning_evidence(name, None, back)
        if verdict.kind == "macro":
            return self._macro_evidence(name, None, verdict.detail)
        return self._event_judge(name, None, verdict)

    def _event_judge(self, name: str, action: str | None, verdict: NameVerdict) -> Evidence:
        m = self.macro
        ref = m.reference if m else None
        funnel = self._funnels.get(name)
        target = (funnel.steps[1] if len(funnel.steps) > 1 else ref) if funnel else None
        return judge(verdict, event=name, action=action, metric="users", volume=self._users.get(name) or None,
                     macro=ref, macro_volume=m.users if m and ref else None, tax=self.taxonomy,
                     funnel=funnel, funnel_macro=target)

    def _action(self, a: ConversionAction) -> Evidence:
        verdict = self.taxonomy.action_verdict(a)
        m = self.macro
        primary_macro = m is not None and a in m.actions
        back = None if primary_macro else self._returning(verdict, a.ga4_event_name)
        if back is not None:
            return self._returning_evidence(a.ga4_event_name, a.name, back)
        later = self.earlier.get(a.resource_name)
        if later is not None:  # an earlier stage of what the account bids on: a micro toward it, by conversions
            what = "an app install" if a.is_app_install else "a raw web lead"
            verdict = NameVerdict("micro", "medium", "category", f"{what} ({a.type}, {a.category}), an earlier stage "
                                  f"of {later}")
            label = ", ".join(x.name for x in m.actions) if m else later
            return judge(verdict, event=a.ga4_event_name, action=a.name, metric="conversions",
                         volume=a.stats.conversions or None, macro=label,
                         macro_volume=(m.conversions or None) if m else None, tax=self.taxonomy)
        if primary_macro or verdict.kind == "macro":
            why = "a primary macro action" if primary_macro else verdict.detail
            return self._macro_evidence(a.ga4_event_name, a.name, f"{why} ({a.category})")
        if a.ga4_event_name and self._users.get(a.ga4_event_name, 0) > 0 and m and m.reference:
            return self._event_judge(a.ga4_event_name, a.name, verdict)
        volume = a.stats.conversions or None
        if m and m.conversions > 0 and volume:
            label = ", ".join(x.name for x in m.actions)
            return judge(verdict, event=a.ga4_event_name, action=a.name, metric="conversions", volume=volume,
                         macro=label, macro_volume=m.conversions, tax=self.taxonomy)
        # nothing to compare (no conversions, or no macro conversions): judged by its name, and its own
        # measure is still conversions over 30 days, so a note says so rather than "no users in 28 days"
        return judge(verdict, event=a.ga4_event_name, action=a.name, metric="conversions", volume=volume,
                     macro=m.label if m else None, macro_volume=None, tax=self.taxonomy)

    def event(self, name: str) -> Evidence:
        """Evidence for a GA4 event (one the report does not list has no volume: judged by its name)."""
        hit = self._events.get(name)
        return hit if hit is not None else self._event(name)

    def action(self, a: ConversionAction) -> Evidence:
        hit = self._actions.get(a.resource_name)
        return hit if hit is not None else self._action(a)

    # -- what the rules and the funnel ask -------------------------------------------------------------------

    def considered(self, ladder: Iterable[str] = ()) -> list[Evidence]:
        """Evidence of every event a rule or the funnel looks at (key events, imported events, proxy
        candidates, ladder steps, then Google Ads actions no GA4 event stands for), most users first: the
        account's hierarchy as the report shows it."""
        if self._considered is None:  # all but the ladder's steps, worked out once: the funnel asks, then the report
            self._considered = self._considered_without_ladder()
        names, actions = self._considered
        if self.client.ga4:
            names = names | {n for n in ladder if self._users.get(n)}
        out = sorted((self.event(n) for n in names), key=lambda e: (-(e.users or 0), e.event))
        return out + actions

    def _considered_without_ladder(self) -> tuple[frozenset[str], list[Evidence]]:
        """The events with users that `considered` shows whatever the ladder, and its Google Ads actions, sorted."""
        ga4, ads = self.client.ga4, self.client.ads
        names: set[str] = set()
        if ga4:
            names.update(k.event_name for k in ga4.key_events)
        if ads:
            names.update(a.ga4_event_name for a in ads.enabled_actions if a.ga4_event_name)
        names.update(n for n, ev in self._events.items() if ev.proxy_grade)  # proxy candidates
        if self.macro:
            names.update(self.macro.events)
        actions: list[Evidence] = []
        if ads:  # tags, and imports of events GA4 did not report
            rest = [self.action(a) for a in ads.enabled_actions
                    if not (a.ga4_event_name and self._users.get(a.ga4_event_name))]
            actions = sorted(rest, key=lambda e: (-(e.users or 0), e.action or ""))
        return frozenset(n for n in names if self._users.get(n)), actions

    def proxies(self, min_volume: float) -> list[Proxy]:
        """Micros before the macro, of at least medium strength, with `min_volume` conversions (Ads, 30 days)
        or events (GA4, 28 days): best first, by the highest rate to the macro (a funnel's before an upper
        bound's), then class, then volume."""
        return self._candidates(min_volume, lambda ev: ev.proxy_grade)

    def proxies_unknown(self, min_volume: float) -> list[Proxy]:
        """Micros before the macro with enough volume whose strength the data cannot establish."""
        return self._candidates(min_volume, lambda ev: ev.position == "before" and ev.strength == "unknown")

    def _candidates(self, min_volume: float, keep: Callable[[Evidence], bool]) -> list[Proxy]:
        found: list[Proxy] = []
        seen: set[str] = set()
        tax = self.taxonomy
        if self.client.ads:
            for a in self.client.ads.enabled_actions:
                ev = self.action(a)
                volume = max(a.stats.conversions, a.stats.all_conversions)
                if keep(ev) and ev.strength != "macro" and not a.system_managed and volume >= min_volume:
                    found.append(Proxy(f"Google Ads action '{a.name}'", a.ga4_event_name, volume, "30 days", ev, a))
                if a.ga4_event_name:
                    seen.add(tax.canonical(a.ga4_event_name))
        if self.client.ga4:
            for e in self.client.ga4.events:
                if tax.canonical(e.event_name) in seen or e.event_count < min_volume:
                    continue
                ev = self.event(e.event_name)
                if keep(ev) and ev.strength != "macro":
                    found.append(Proxy(f"GA4 event '{e.event_name}'", e.event_name, e.event_count, "28 days", ev))

        def key(p: Proxy) -> tuple[float, bool, int, float, str]:
            return (-(p.evidence.rate or 0.0), p.evidence.measure != "funnel", _rank(p.evidence.strength),
                    -p.volume, p.label)

        return sorted(found, key=key)

    def funnel_plan(self, low_volume_threshold: float, proxy_min_volume: float,
                    limit: int = MAX_FUNNEL_REPORTS) -> list[tuple[str, str]]:
        """The (micro, macro) event pairs worth a GA4 funnel report: the micros that decide a finding. First the
        GA4 events of primary micro actions (most conversions first), then, while macro volume is below
        `low_volume_threshold`, the best proxy candidates whose names do not already call them weak."""
        m, ga4, ads = self.macro, self.client.ga4, self.client.ads
        if not m or not m.reference or not ga4:
            return []
        picked: list[str] = []

        def want(name: str | None) -> None:
            if name and name not in picked and self._users.get(name, 0) >= m.users > 0 \
                    and not self.is_macro_event(name):
                picked.append(name)

        if ads:
            for a in sorted(ads.primary_actions, key=lambda a: (-a.stats.conversions, a.name)):
                if self.action(a).strength != "macro":
                    want(a.ga4_event_name)
        if ads is not None and m.conversions < low_volume_threshold:  # proxies decide a finding only then
            candidates = []
            for e in ga4.events:
                if e.event_count < proxy_min_volume:
                    continue
                ev = self.event(e.event_name)
                if ev.position == "before" and ev.strength != "low" and ev.rate is not None:
                    candidates.append((-ev.rate, e.event_name))
            for _, name in sorted(candidates):
                want(name)
        return [(n, m.reference) for n in picked[:limit]]

    def to_json(self, ladder: Iterable[str] = ()) -> dict[str, object]:
        return {"macro": self.macro.to_json() if self.macro else None,
                "thresholds": self.taxonomy.thresholds.as_dict(),
                "events": [e.to_json() for e in self.considered(ladder)]}


# --- display helpers shared by the renderers (they receive the JSON dict, possibly from a saved result) ------

HIERARCHY_HEADERS = ["event", "users/conv.", "to macro", "class", "basis"]
HIERARCHY_ROWS_SHOWN = 12


def macro_line(hj: dict[str, Any]) -> str:
    """'macro: generate_lead (29 users in 28 days; the GA4 events of its primary macro Google Ads actions)'."""
    m = hj.get("macro")
    if not m:
        return "macro: not identified (no primary macro Google Ads action, no key event named as a macro)"
    if m.get("reference"):
        return f"macro: {m['reference']} ({count(m['users'])} users in 28 days; {m['source']})"
    return f"macro: {', '.join(m.get('actions') or [])} ({count(m['conversions'])} conv. in 30 days; {m['source']})"


def hierarchy_rows(hj: dict[str, Any], limit: int | None = HIERARCHY_ROWS_SHOWN) -> list[list[str]]:
    """[event, users, to macro, class, basis] per considered event other than the macro, most users first."""
    rows = []
    for e in hj.get("events") or []:
        if e.get("class") == "macro":
            continue
        rate = e.get("rate")
        to_macro = "-" if rate is None else ("" if e.get("measure") == "funnel" else "≤ ") + pct(rate)
        if e.get("position") == "after":
            to_macro = "after macro"
        users = e.get("users")
        label = f"'{e['action']}' (Ads)" if e.get("action") else e.get("event") or "?"
        rows.append([label, "-" if users is None else count(users), to_macro,
                     str(e.get("class", "")).replace("_", " "), str(e.get("basis", ""))])
    return rows if limit is None else rows[:limit]
