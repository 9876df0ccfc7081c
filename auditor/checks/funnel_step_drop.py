"""funnel-step-drop: a funnel step, a key micro or a conversion that fell or went silent since earlier runs."""

from __future__ import annotations

from collections.abc import Iterator
from statistics import median

from auditor.engine import Context, Finding, NotApplicable, Param, Rule, fmt_count
from auditor.evidence import pct
from auditor.hierarchy import Hierarchy
from auditor.model import Client, EarlierRun
from auditor.vitals import ADS_PREFIX, daily_volume, measure, steps

GA4_DAYS, ADS_DAYS = 28, 30


def _date(run: EarlierRun) -> str:
    return run.generated_at[:10] or "undated"


def _dates(runs: list[EarlierRun]) -> str:
    return ", ".join(_date(r) for r in runs)


def _what(name: str) -> tuple[str, int, str]:
    """(label, period days, unit) of a `daily` entry."""
    if name.startswith(ADS_PREFIX):
        return f"Google Ads primary action '{name[len(ADS_PREFIX):]}'", ADS_DAYS, "conv."
    return f"GA4 event {name}", GA4_DAYS, "users"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Compares this run's vitals (auditor.vitals: the funnel's step rates along the account's ladder, the daily
    volume of the ladder steps, key micros and macros, the key events and primary actions with volume) with the
    client's earlier complete runs, by rate first. Flags (1) a funnel step whose rate from the previous ladder
    step fell by more than `drop_threshold` against the median of the earlier runs that measured it (at least
    two), with both steps' users then and now beside it ("add_to_cart: 11.0% → 4.0% of view_item users");
    (2) when every ladder step's users fell by more than `drop_threshold` while no step rate did, one traffic
    finding at most low ("traffic fell, the funnel holds"), not a broken step; (3) the daily volume of a primary
    action, a key event, the macro or a micro strong enough to be a proxy that fell by more than
    `drop_threshold` against that median, except a GA4 ladder step with a rate to compare (its rate says whether
    the step broke: a volume that fell with a rate that held is traffic), another GA4 event that fell no more
    than the traffic (the first ladder step's users; a side step such as view_cart has no rate of its own) and
    an Ads import that fell no more than its GA4 ladder event (said by that step); traffic and weak events, such
    as session_start or page_view, swing with the season: the step rates watch them; (4) a primary action or key
    event that went silent since the last run (volume then, none now). Changes too small to tell from noise are
    left out: a step or volume whose earlier median implies fewer than `min_volume` users, events or
    conversions over the period. An action removed, renamed or set to secondary, or an event no longer marked
    as a key event that still fires, is a change of setup, not a drop. Needs at least two earlier runs; a plain
    audit has none, and the rule then does not apply (never a pass)."""
    assert client.history is not None
    runs = list(client.history.runs)
    if len(runs) < 2:
        raise NotApplicable(f"{len(runs)} earlier run(s) of this client: at least 2 are needed to compare")
    threshold = float(ctx.params["drop_threshold"])
    min_volume = float(ctx.params["min_volume"])
    h, tax = ctx.hierarchy, ctx.taxonomy
    now = measure(client, h, tax, "")
    ladder, current_steps = steps(client, h, tax)
    current = dict(now.daily)
    users = _Users(client, runs, current)
    rates = [{(a, b): r for a, b, r in run.step_rates} for run in runs]
    compared: set[str] = set()  # ladder steps whose rate was compared: their volume is said by the rate
    fell = False
    for a, b, rate, base in current_steps:
        seen = [(run, r[(a, b)]) for run, r in zip(runs, rates, strict=True) if (a, b) in r]
        if len(seen) < 2:
            continue
        med = median(r for _, r in seen)
        if med <= 0 or med * base < min_volume:
            continue
        compared.add(b)
        if rate >= med * (1 - threshold):
            continue
        fell = True
        drop = 1 - rate / med
        yield ctx.finding(
            f"funnel step {a} → {b}: {pct(med)} → {pct(rate)} of {a} users go on to {b} (median over {len(seen)} "
            f"earlier runs ({_dates([r for r, _ in seen])}): down {drop:.0%}, threshold {threshold:.0%}); "
            f"{users.beside([a, b])}",
            [a, b],
            remediation=(f"Look for what changed on the way from {a} to {b} since {_date(seen[-1][0])}: a site or "
                         "tag release (GTM version history), a consent banner change, a broken page or form, or "
                         "a new traffic source; GA4 Explore > Funnel exploration shows the step by day."),
        )
    if not fell and compared:
        yield from _traffic(ctx, ladder, users, threshold, min_volume)
    traffic = users.ratio(ladder[0]) if ladder else None
    keyed = set(runs[-1].key_events) | set(now.key_events)
    names = sorted({n for run in runs for n, _ in run.daily})
    for name in names:
        if not name.startswith(ADS_PREFIX) and name not in keyed and not _key_micro(h, name):
            continue  # traffic (session_start, page_view) and weak events: a swing, not a broken setup
        if name in compared or (ladder and name == ladder[0]):
            continue  # a ladder step: its rate says whether it broke; the first step is traffic
        seen_d = [(run, v) for run in runs for n, v in run.daily if n == name]
        if len(seen_d) < 2:
            continue
        label, days, unit = _what(name)
        med = median(v for _, v in seen_d)
        cur = current.get(name)
        if cur is None:
            cur = daily_volume(client, name)
        if cur is None or med * days < min_volume or cur >= med * (1 - threshold):
            continue
        if cur == 0 and _silent_since_last(name, runs[-1]):
            continue  # said below, as silence since the last run
        if _follows_its_event(client, name, cur / med, compared, users, threshold):
            continue
        if not name.startswith(ADS_PREFIX) and traffic is not None and cur / med >= traffic * (1 - threshold):
            continue  # it fell with the traffic: no sign that its tag broke
        yield ctx.finding(
            f"{label}: {cur:,.1f} {unit} a day now ({days} days), against a median of {med:,.1f} a day over "
            f"{len(seen_d)} earlier runs ({_dates([r for r, _ in seen_d])}): down {1 - cur / med:.0%} (threshold "
            f"{threshold:.0%})",
            _resources(client, name),
            remediation=("Check the tag or import behind it since the last run: GTM version history, the site's "
                         "releases, consent mode, and for an import the GA4 link and the action's status in Google "
                         "Ads > Goals > Conversions."),
        )
    yield from _silent(client, ctx, runs[-1], min_volume)


class _Users:
    """A GA4 event's users over 28 days: the median of the earlier runs' (their daily volume x 28) and now."""

    def __init__(self, client: Client, runs: list[EarlierRun], current: dict[str, float]) -> None:
        self.client, self.runs, self.current = client, runs, current

    def then(self, name: str) -> float | None:
        seen = [v for run in self.runs for n, v in run.daily if n == name]
        return median(seen) * GA4_DAYS if len(seen) >= 2 else None

    def now(self, name: str) -> float | None:
        v = self.current.get(name)
        if v is None:
            v = daily_volume(self.client, name)
        return None if v is None else v * GA4_DAYS

    def ratio(self, name: str) -> float | None:
        """Now / the earlier median, or None when either is unknown."""
        then, now = self.then(name), self.now(name)
        return now / then if then and now is not None else None

    def beside(self, names: list[str]) -> str:
        """'users in 28 days, earlier median → now: view_item 9,800 → 9,750, add_to_cart 1,078 → 390'."""
        parts = []
        for n in names:
            then, now = self.then(n), self.now(n)
            if now is not None:
                parts.append(f"{n} {fmt_count(round(then))} → {fmt_count(round(now))}" if then is not None
                             else f"{n} {fmt_count(round(now))} now")
        return "users in 28 days, earlier median → now: " + ", ".join(parts) if parts else "no volumes to compare"


def _traffic(ctx: Context, ladder: list[str], users: _Users, threshold: float,
             min_volume: float) -> Iterator[Finding]:
    """One finding when every ladder step with earlier volumes lost more than `threshold` of its users while no
    step rate fell: fewer people came, the funnel holds."""
    moves = []
    for n in ladder:
        then, now = users.then(n), users.now(n)
        if then is None or now is None or then < min_volume:
            continue
        moves.append((n, then, now))
    if len(moves) < 2 or any(now >= then * (1 - threshold) for _, then, now in moves):
        return
    parts = ", ".join(f"{n} {fmt_count(round(then))} → {fmt_count(round(now))} (-{1 - now / then:.0%})"
                      for n, then, now in moves)
    yield ctx.finding(
        f"traffic fell, the funnel holds: every ladder step lost more than {threshold:.0%} of its users against the "
        f"median of the earlier runs (users in 28 days: {parts}) while no step rate from the previous step fell by "
        f"more than {threshold:.0%}: fewer people came, no step broke",
        ladder,
        severity=ctx.at_most("low"),
        remediation=("Fewer visitors, not a broken funnel: check the traffic sources (GA4 Reports > Acquisition > "
                     "Traffic acquisition), campaign budgets and status in Google Ads, and the season; a site-wide "
                     "drop of every event at once can also be a consent banner or tag change (GTM version history)."),
    )


def _follows_its_event(client: Client, name: str, ratio: float, compared: set[str], users: _Users,
                       threshold: float) -> bool:
    """An Ads primary action importing a GA4 ladder step whose rate was compared, that fell no more than that
    event's users (within `threshold`): the step's rate, or the traffic, says what happened."""
    if not name.startswith(ADS_PREFIX) or client.ads is None:
        return False
    events = {a.ga4_event_name for a in client.ads.primary_actions if a.name == name[len(ADS_PREFIX):]}
    for e in events:
        if e and e in compared:
            moved = users.ratio(e)
            if moved is not None and ratio >= moved * (1 - threshold):
                return True
    return False


def _key_micro(h: Hierarchy, name: str) -> bool:
    """A macro event, or a micro strong enough to be a proxy: the volumes worth watching besides key events."""
    ev = h.event(name)
    return ev.strength == "macro" or ev.proxy_grade


def _resources(client: Client, name: str) -> list[str]:
    """The subjects of a `daily` entry: the primary actions of that name, or the GA4 event."""
    if name.startswith(ADS_PREFIX) and client.ads is not None:
        return [a.resource_name for a in client.ads.primary_actions if a.name == name[len(ADS_PREFIX):]] or [name]
    return [name]


def _silent_since_last(name: str, last: EarlierRun) -> bool:
    if name.startswith(ADS_PREFIX):
        return name[len(ADS_PREFIX):] in last.primary_actions
    return name in last.key_events


def _silent(client: Client, ctx: Context, last: EarlierRun, min_volume: float) -> Iterator[Finding]:
    """Primary actions and key events with volume in the last earlier run and none now."""
    before = dict(last.daily)
    when = _date(last)
    if client.ads is not None:
        for name in last.primary_actions:
            hits = [a for a in client.ads.primary_actions if a.name == name]
            if not hits or any(a.stats.conversions > 0 for a in hits):
                continue  # removed, renamed or secondary: a change of setup; or still converting
            was = before.get(ADS_PREFIX + name)
            if was is not None and was * ADS_DAYS < min_volume / 6:
                continue  # a few conversions a month: a silent month can be chance
            then = f"{was:,.1f} conv. a day" if was is not None else "conversions"
            yield ctx.finding(
                f"Google Ads primary action '{name}' recorded no conversion in 30 days; the last run ({when}) "
                f"measured {then}: it went silent",
                [a.resource_name for a in hits],
                severity=ctx.severity if was is not None else ctx.at_most("medium"),
                remediation=("Check the action in Google Ads > Goals > Conversions (status, tag diagnostics), the "
                             "tag on the site (GTM version history, a site release), and for a GA4 import the link "
                             "and the key event in GA4."),
            )
    ga4 = client.ga4
    if ga4 is not None:
        for name in last.key_events:
            e = ga4.event(name)
            if e is not None and e.event_count > 0:
                continue
            was = before.get(name)
            if was is not None and was * GA4_DAYS < min_volume / 6:
                continue
            then = f"{was:,.1f} users a day" if was is not None else "events"
            keyed = any(k.event_name == name for k in ga4.key_events)
            yield ctx.finding(
                f"key event {name} has no events in 28 days{'' if keyed else ' (and is no longer a key event)'}; "
                f"the last run ({when}) measured {then}: it went silent",
                [name],
                severity=ctx.severity if was is not None else ctx.at_most("medium"),
                remediation=(f"Check the tag that sends {name} (GTM version history, a site release, a renamed "
                             "event: GA4 Reports > Engagement > Events lists what arrives now)."),
            )


RULE = Rule(
    id="funnel-step-drop",
    title="Funnel step or conversion dropped since earlier runs",
    category="monitoring",
    severity="high",
    rationale=("A conversion setup breaks quietly: a site release drops a tag, a consent banner change loses "
               "events, a form stops sending its event. The account keeps bidding on what still arrives. "
               "Comparing each run with the client's own earlier runs catches a step that suddenly loses a third "
               "of its users, or a conversion that stops, within a week instead of at the next quarterly review."),
    remediation=("Find what changed since the earlier runs: the tag manager's version history, site releases, "
                 "consent settings, the GA4 link (GA4 Admin > Product links > Google Ads links; API: "
                 "properties.googleAdsLinks.list) and the action in Google Ads > Goals > Conversions (API: "
                 "ConversionAction.status); fix the tag, then watch the next run."),
    references=("Google Analytics Help: [GA4] Funnel exploration",
                "Google Ads Help: Troubleshoot conversion tracking"),
    params={
        "drop_threshold": Param("Relative fall against the earlier median that is flagged (0.3 = 30%).",
                                default=0.3),
        "min_volume": Param("Users, events or conversions over the period that the earlier median must imply for "
                            "a fall to be told from noise (a sixth of it for silence).", default=30),
    },
    requires=("history",),
    example=("funnel step view_item → add_to_cart: 11.0% → 4.0% of view_item users go on to add_to_cart (median "
             "over 4 earlier runs (2025-05-05, 2025-05-12, 2025-05-19, 2025-05-26): down 64%, threshold 30%); users "
             "in 28 days, earlier median → now: view_item 9,800 → 9,750, add_to_cart 1,078 → 390"),
    evidence=("This run's vitals and those of the client's earlier complete runs (auditor.vitals: funnel step "
              "rates along the account's ladder from 28-day GA4 users, daily users of the ladder steps, key events "
              "and considered micros, daily conversions of primary actions over 30 days, and which key events and "
              "primary actions had volume); the median of the earlier runs is the yardstick. A step is judged by "
              "its rate from the previous ladder step, its users shown beside; a fall of every step's users with "
              "every rate held is traffic, reported once and at most low."),
    check=check,
)
