"""The funnel view: a ladder of events with their 28-day volumes, step rates and the biggest drop.

A pure function of the snapshot and a ladder, returning the JSON-ready dict that every report renders. The
ladder is the client's own when it has one (client.yaml or its config entry); otherwise the account's
(`account_plan`): the profile's required steps in the profile's order (for shops GA4's recommended ecommerce
sequence), plus its own events that measure as strong micros, each placed where its users fit between two
consecutive steps, ending at the account's macro. The profile's side steps (`side_steps:`, such as select_item or
view_cart: people add to cart without them, so their users are no subset of the next step's), custom events that
fit nowhere and a step whose tracking is broken (`tracking_breaks`) are listed beside the ladder, never between
two of its steps, so the biggest drop is always between consecutive ladder steps. Volumes are GA4 users (event
counts where a report has no users), `EventStat.total_users` over 28 days as in the micro hierarchy; a step that
sums several spellings of its name lists each one's count. Steps are not nested sets of people, so a step can
exceed the one before it and its rate is then shown above 100% as it is, never clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from auditor.evidence import count as fmt_count
from auditor.hierarchy import Hierarchy
from auditor.model import Client
from auditor.taxonomy import name_key

PERIOD_DAYS = 28
METRIC_WORDS = {"totalUsers": "users", "eventCount": "events"}
# A step with at most this share of the users of a step that must come after it is not tracked on every page
# (funnel-tracking-break's defaults; the funnel view leaves such a step beside the ladder, not in a drop).
BREAK_RATIO = 0.1
BREAK_MIN_USERS = 50  # ... judged only when the later step has this many users: tiny properties are noise


@dataclass(frozen=True)
class Order:
    """A profile ladder split into its required steps, in order, and its side steps, each with the required
    steps it sits between in the profile's order (None at either end)."""

    required: tuple[str, ...]
    side: tuple[tuple[str, str | None, str | None], ...] = ()

    @classmethod
    def of(cls, ladder: Sequence[str], side_steps: Sequence[str] = ()) -> Order:
        optional = {name_key(s) for s in side_steps}
        required = [s for s in ladder if name_key(s) not in optional]
        side = []
        for i, s in enumerate(ladder):
            if name_key(s) in optional:
                after = next((x for x in reversed(ladder[:i]) if name_key(x) not in optional), None)
                before = next((x for x in ladder[i + 1:] if name_key(x) not in optional), None)
                side.append((s, after, before))
        return cls(tuple(required), tuple(side))

    def later(self, step: str) -> list[tuple[str, bool]]:
        """The steps that must come after required `step`: its side steps (a select_item is a click in a list),
        then every later required step, nearest first; (event, is a side step)."""
        i = self.required.index(step)
        return [(s, True) for s, after, _ in self.side if after == step] + [(s, False) for s in self.required[i + 1:]]


@dataclass(frozen=True)
class Break:
    """A required step recording far fewer users than a step that must come after it."""

    step: str
    count: int
    later: str
    later_count: int
    later_side: bool  # the later step is a side step of this one

    def text(self, unit: str = "users") -> str:
        return (f"{fmt_count(self.count)} {unit} of {self.step} against {fmt_count(self.later_count)} of "
                f"{self.later}, which comes after it")


def volumes(client: Client, metric: str = "totalUsers") -> dict[str, int]:
    """Users (or events) over 28 days per spelling-folded name: addToCart counts toward add_to_cart."""
    out: dict[str, int] = {}
    for e in client.ga4.events if client.ga4 else ():
        n = e.total_users if metric == "totalUsers" else e.event_count
        out[name_key(e.event_name)] = out.get(name_key(e.event_name), 0) + n
    return out


def metric_of(client: Client) -> str:
    """totalUsers, or eventCount for a report without users."""
    with_users = client.ga4 is not None and any(e.total_users > 0 for e in client.ga4.events)
    return "totalUsers" if with_users else "eventCount"


def tracking_breaks(vol: Mapping[str, int], order: Order, ratio: float = BREAK_RATIO,
                    min_users: int = BREAK_MIN_USERS) -> list[Break]:
    """Each required step with at most `ratio` of the volume of a step that must come after it (no volume at
    all included), where that later step has at least `min_users`: one per step, naming the nearest such later
    step (the tightest tie: a select_item can only follow a list view)."""
    out = []
    for step in order.required:
        n = vol.get(name_key(step), 0)
        for later, side in order.later(step):
            m = vol.get(name_key(later), 0)
            if m >= min_users and n <= ratio * m:
                out.append(Break(step, n, later, m, side))
                break
    return out


Kind = Literal["optional", "tracking_break", "unplaced"]


@dataclass(frozen=True)
class Beside:
    """An event shown beside the ladder, and why it is not on it."""

    event: str
    kind: Kind
    after: str | None = None
    before: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Plan:
    ladder: list[str]
    source: str
    note: str
    beside: tuple[Beside, ...] = ()


def _side(order: Order, breaks: Sequence[Break], unit: str) -> list[Beside]:
    out = [Beside(s, "optional", after, before) for s, after, before in order.side]
    for b in breaks:
        if b.count:  # a step with no volume is said as untracked
            i = order.required.index(b.step)
            out.append(Beside(b.step, "tracking_break", order.required[i - 1] if i else None,
                              order.required[i + 1] if i + 1 < len(order.required) else None,
                              f"tracking break: {b.text(unit)}"))
    return out


def account_plan(h: Hierarchy, profile_ladder: Sequence[str], side_steps: Sequence[str] = ()) -> Plan:
    """The funnel around the account's own macro. Required steps keep the profile's order: those before the
    macro in that order (or, when the profile's ladder does not name the macro, those with at least the macro's
    users) that the account has, a step whose tracking is broken set beside. Then the events the hierarchy
    measures as strong micros, most users first, each placed between the first two consecutive steps whose users
    enclose its own, else beside. Without an identified macro with users, the profile's required steps."""
    order = Order.of(list(profile_ladder), side_steps)
    m, ga4 = h.macro, h.client.ga4
    users = volumes(h.client)
    breaks = tracking_breaks(users, order)
    broken = {name_key(b.step) for b in breaks if b.count}
    beside = _side(order, breaks, "users")
    if ga4 is None or m is None or not m.reference:
        return Plan([s for s in order.required if name_key(s) not in broken], "profile",
                    "the account's macro could not be identified: the profile's ladder", tuple(beside))
    macro_key = name_key(m.reference)
    keys = [name_key(s) for s in order.required]
    at = keys.index(macro_key) if macro_key in keys else None
    steps: list[str] = []
    after: list[str] = []
    for i, step in enumerate(order.required):
        k = keys[i]
        n = users.get(k, 0)
        if k == macro_key or not n or k in broken:
            continue
        if (at is not None and i > at) or (at is None and n < m.users):
            after.append(step)
        elif not h.is_macro_event(step):  # another outcome with more users is not a step toward this one
            steps.append(step)
    untracked = [s for s in profile_ladder if not users.get(name_key(s)) and name_key(s) != macro_key]
    ladder = [*steps, m.reference]
    taken = {name_key(s) for s in profile_ladder} | {macro_key}
    customs = []
    for ev in h.considered(profile_ladder):
        if ev.event and ev.proxy_grade and name_key(ev.event) not in taken:
            customs.append(ev.event)
            taken.add(name_key(ev.event))
    for c in sorted(customs, key=lambda e: (-users.get(name_key(e), 0), e)):
        u = users.get(name_key(c), 0)
        gap = next((i for i in range(len(ladder) - 1)
                    if users.get(name_key(ladder[i]), 0) >= u >= users.get(name_key(ladder[i + 1]), 0)), None)
        if gap is None:
            beside.append(Beside(c, "unplaced", note="beside the ladder: its users fit between no two steps"))
        else:
            ladder.insert(gap + 1, c)
    notes = [f"after or beside the macro, left out: {', '.join(after)}" if after else "",
             f"no users in 28 days: {', '.join(untracked)}" if untracked else ""]
    return Plan(ladder, "account", "; ".join(n for n in notes if n), tuple(beside))


def account_ladder(h: Hierarchy, profile_ladder: Sequence[str],
                   side_steps: Sequence[str] = ()) -> tuple[list[str], str, str]:
    """(ladder, source, note) of `account_plan`."""
    p = account_plan(h, profile_ladder, side_steps)
    return p.ladder, p.source, p.note


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d > 0 else None


def _pct(r: float) -> str:
    return f"{100 * r:.1f}%"


def account_funnel(client: Client, hierarchy: Hierarchy, profile_ladder: Sequence[str],
                   side_steps: Sequence[str] | None = None) -> dict[str, Any]:
    """The funnel along the account's own ladder (`account_plan`), built once per client: the report, the
    vitals and the trend rule all read it. `side_steps`: the profile's (the hierarchy's taxonomy) unless given."""
    key = "account_funnel"
    if key not in hierarchy.derived:
        side = hierarchy.taxonomy.side_steps if side_steps is None else side_steps
        p = account_plan(hierarchy, profile_ladder, side)
        hierarchy.derived[key] = build_funnel(client, p.ladder, p.source, p.note, p.beside)
    return hierarchy.derived[key]


def _hits(by_key: dict[str, list[tuple[str, int]]], event: str) -> tuple[int | None, list[str], list[int]]:
    """(summed volume or None, matched names, their volumes), most volume first."""
    hits = sorted(by_key.get(name_key(event), []), key=lambda h: (-h[1], h[0]))
    return (sum(n for _, n in hits) if hits else None), [n for n, _ in hits], [n for _, n in hits]


def build_funnel(client: Client, ladder: Sequence[str], source: str = "profile", note: str = "",
                 beside: Sequence[Beside] = ()) -> dict[str, Any]:
    """The funnel of `client` along `ladder`. Each step counts the users (or, in a report without users, the
    events) of the events whose name matches the step's after spelling folding (addToCart counts toward
    add_to_cart; the names are listed under `matched`, each one's own count under `matched_counts`). A step
    with no events has `count` null and is bridged: the next step's rate is taken from the last step with data,
    named in `previous`. The biggest drop is the step with the lowest rate from its previous step: always two
    consecutive ladder steps. `beside` (side steps, tracking breaks, custom events that fit nowhere) is listed
    under `side_steps`, those with data only, with no rate: their users are no subset of a ladder step's."""
    ladder = [str(s) for s in ladder]
    metric = metric_of(client)
    out: dict[str, Any] = {
        "available": False, "source": source, "ladder": ladder, "period_days": PERIOD_DAYS, "metric": metric,
        "steps": [], "missing": [], "biggest_drop": None, "summary": "", "reason": None, "note": note or None,
        "side_steps": [],
    }
    if not ladder:
        out["reason"] = "no funnel ladder is configured for this profile or client"
        return out
    if client.ga4 is None:
        out["reason"] = "no GA4 data for this client: the funnel is built from GA4 event volumes"
        return out
    by_key: dict[str, list[tuple[str, int]]] = {}
    for e in client.ga4.events:
        volume = e.total_users if metric == "totalUsers" else e.event_count
        if volume > 0:
            by_key.setdefault(name_key(e.event_name), []).append((e.event_name, volume))
    steps: list[dict[str, Any]] = []
    first: int | None = None
    prev: dict[str, Any] | None = None
    for event in ladder:
        count, matched, counts = _hits(by_key, event)
        step: dict[str, Any] = {"event": event, "count": count, "available": count is not None,
                                "matched": matched, "matched_counts": counts, "previous": None,
                                "rate_from_previous": None, "rate_from_first": None}
        if count is not None:
            if first is None:
                first = count
            step["rate_from_first"] = _rate(count, first)
            if prev is not None:
                step["previous"] = prev["event"]
                step["rate_from_previous"] = _rate(count, prev["count"])
            prev = step
        steps.append(step)
    out["steps"] = steps
    for b in beside:
        count, matched, counts = _hits(by_key, b.event)
        if count is not None and b.event not in ladder:
            out["side_steps"].append({"event": b.event, "kind": b.kind, "count": count, "matched": matched,
                                      "matched_counts": counts, "after": b.after, "before": b.before,
                                      "note": b.note or None})
    out["missing"] = [s["event"] for s in steps if not s["available"]]
    with_data = [s for s in steps if s["available"]]
    missing = out["missing"]
    gap = (f"; no events in 28 days for {', '.join(missing)} (not tracked under "
           f"{'that name' if len(missing) == 1 else 'those names'}, or renamed)") if missing else ""
    if len(with_data) < 2:
        out["reason"] = f"only {len(with_data)} of {len(ladder)} ladder steps have events in 28 days{gap}"
        return out
    out["available"] = True
    rated = [s for s in with_data if s["rate_from_previous"] is not None]
    worst = min(rated, key=lambda s: s["rate_from_previous"]) if rated else None
    if worst is not None and worst["rate_from_previous"] < 1:
        before = next(s for s in with_data if s["event"] == worst["previous"])
        rate = worst["rate_from_previous"]
        out["biggest_drop"] = {"from": before["event"], "to": worst["event"], "rate": rate,
                               "drop": round(1 - rate, 4), "lost": before["count"] - worst["count"]}
        out["summary"] = (f"Biggest drop: {before['event']} → {worst['event']}: {_pct(rate)} continue, "
                          f"{_pct(1 - rate)} lost ({fmt_count(before['count'] - worst['count'])} "
                          f"{METRIC_WORDS[metric]}): the highest-leverage fix{gap}.")
    else:
        out["summary"] = f"No step loses volume{gap}."
    broken = [f"{s['event']} ({s['note'].removeprefix('tracking break: ')})" for s in out["side_steps"]
              if s["kind"] == "tracking_break" and s.get("note")]
    if broken:
        out["summary"] += f" Tracking break, beside the ladder and not a drop: {'; '.join(broken)}."
    return out


# --- display helpers shared by the renderers (they receive the JSON dict, possibly from a saved result) ------

def funnel_caption(f: dict[str, Any]) -> str:
    """'account ladder, GA4 users, last 28 days' (results saved before users were counted say event counts)."""
    what = "GA4 users" if f.get("metric") == "totalUsers" else "GA4 event counts"
    note = f"; {f['note']}" if f.get("note") else ""
    return f"{f['source']} ladder, {what}, last {f['period_days']} days{note}"


def funnel_unit(f: dict[str, Any]) -> str:
    return "users" if f.get("metric") == "totalUsers" else "events"


def _is_worst(f: dict[str, Any], s: dict[str, Any]) -> bool:
    d = f.get("biggest_drop")
    return bool(d) and s.get("event") == d["to"] and s.get("previous") == d["from"]


def _label(s: dict[str, Any]) -> str:
    others = [n for n in s.get("matched") or [] if n != s["event"]]
    return s["event"] + (f" (+ {', '.join(others)})" if others else "")


def spellings(s: dict[str, Any]) -> str:
    """'add_to_cart 900 + addToCart 100' for a step that sums several spellings (results saved before each
    spelling's count was kept: ''), so its count reads apart from the hierarchy's per-event one."""
    names, counts = s.get("matched") or [], s.get("matched_counts") or []
    if len(names) < 2 or len(counts) != len(names):
        return ""
    return " + ".join(f"{n} {fmt_count(c)}" for n, c in zip(names, counts, strict=True))


def side_note(s: dict[str, Any]) -> str:
    """Why an entry of `side_steps` is beside the ladder: 'side step between view_item_list and view_item'."""
    if s.get("note"):
        return str(s["note"])
    a, b = s.get("after"), s.get("before")
    where = f" between {a} and {b}" if a and b else f" after {a}" if a else f" before {b}" if b else ""
    return f"side step{where}"


def funnel_rows(f: dict[str, Any]) -> list[list[str]]:
    """[step, events, from previous, from first, note] per ladder step, as text (notes stay short: the table
    must fit a terminal; what sits beside the ladder is in `funnel_beside`)."""
    rows = []
    ladder = [s["event"] for s in f.get("steps") or []]
    for i, s in enumerate(f.get("steps") or []):
        if not s.get("available"):
            rows.append([_label(s), "no data", "-", "-", ""])
            continue
        rp, rf = s.get("rate_from_previous"), s.get("rate_from_first")
        note = "biggest drop" if _is_worst(f, s) else ""
        if s.get("previous") and i > 0 and s["previous"] != ladder[i - 1]:
            note = "; ".join(x for x in (note, f"from {s['previous']}") if x)
        rows.append([_label(s), fmt_count(s["count"]), "-" if rp is None else _pct(rp),
                     "-" if rf is None else _pct(rf), note])
    return rows


def funnel_beside(f: dict[str, Any]) -> list[str]:
    """One line per event beside the ladder ('select_item: 33,019 users, side step between view_item_list and
    view_item'), then one per step summing several spellings ('add_to_cart counts add_to_cart 3,390 +
    addToCart 2,206 users'). Results saved before these were kept have none."""
    unit = funnel_unit(f)
    lines = [f"beside the ladder: {_label(s)}: {fmt_count(s['count'])} {unit}, {side_note(s)}"
             + (f" (sum of {spellings(s)})" if spellings(s) else "") for s in f.get("side_steps") or []]
    lines += [f"{s['event']} counts {spellings(s)} {unit}" for s in f.get("steps") or [] if spellings(s)]
    return lines
