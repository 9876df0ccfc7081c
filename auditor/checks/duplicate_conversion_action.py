"""duplicate-conversion-action: one business event counted by two enabled conversion actions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations

from auditor.checks._campaigns import bids, default_bids_on
from auditor.engine import DEMOTE, KEEP, REMOVE, Context, Finding, Param, Rule, fmt_count
from auditor.evidence import conversions
from auditor.model import Ads, Client, ConversionAction
from auditor.taxonomy import name_key

_TAG_TYPES = frozenset({"WEBPAGE", "WEBPAGE_CODELESS"})
_VAGUE = frozenset({"UNKNOWN", "UNSPECIFIED", "DEFAULT"})
_APP_SOURCES = frozenset({"Firebase", "Google Play", "app analytics"})


@dataclass(frozen=True)
class Tie:
    """Why two actions count one event: `proven` by their configuration (one GA4 event imported twice, a tag and
    an import of the same event, the same name), or only likely (two sources of one category bid on together)."""

    why: str
    proven: bool = True
    platforms: bool = False  # web and app: usually different sales


def _why(a: ConversionAction, b: ConversionAction, together: bool, tolerance: float) -> Tie | None:
    if a.ga4_event_name and b.ga4_event_name:
        if a.ga4_event_name == b.ga4_event_name and a.ga4_property_id == b.ga4_property_id:
            return Tie(f"GA4 event '{a.ga4_event_name}' is imported twice")
        return None
    if {a.type, b.type} & _TAG_TYPES and a.is_ga4_import != b.is_ga4_import:
        tag, imp = (a, b) if a.type in _TAG_TYPES else (b, a)
        same_event = (imp.ga4_event_name and name_key(imp.ga4_event_name) == name_key(tag.name)) or (
            a.category == b.category and a.category not in _VAGUE)
        if same_event and a.primary_for_goal and b.primary_for_goal:
            return Tie(f"a Google Ads tag and a GA4 import both count {a.category} as primary")
    if name_key(a.name) == name_key(b.name) and a.category == b.category:
        return Tie(f"same name after normalising ('{name_key(a.name)}') and category {a.category}")
    if not together or a.source == b.source or _stages(a, b) or (a.system_managed and b.system_managed):
        return None
    if a.category == b.category and a.category not in _VAGUE:
        platforms = (a.source in _APP_SOURCES) != (b.source in _APP_SOURCES)
        agree = _agree(a, b, tolerance)
        return Tie(f"two sources ({a.source}, {b.source}) both count {a.category} as primary, bid on together"
                   + (f"; {agree}" if agree else ""), proven=False, platforms=platforms)
    if a.category in LEAD_FAMILY and b.category in LEAD_FAMILY:
        agree = _agree(a, b, tolerance)
        if agree:  # leads of any lead category count one enquiry alike; the counts say it is the same one
            return Tie(f"two sources ({a.source} {a.category}, {b.source} {b.category}) count one lead alike, bid "
                       f"on together; {agree}", proven=False)
    return None


# Lead categories count one enquiry alike: a form tag, a contact URL rule and a quote import of one enquiry.
LEAD_FAMILY = frozenset({"SUBMIT_LEAD_FORM", "CONTACT", "REQUEST_QUOTE", "BOOK_APPOINTMENT", "IMPORTED_LEAD"})


def _agree(a: ConversionAction, b: ConversionAction, tolerance: float) -> str:
    """'their 30-day counts agree within 4% (212 and 204)' when they do (at least 5 each), else ''."""
    x, y = a.stats.all_conversions, b.stats.all_conversions
    if min(x, y) < 5 or abs(x - y) > tolerance * max(x, y):
        return ""
    return f"their 30-day counts agree within {abs(x - y) / max(x, y):.0%} ({fmt_count(x)} and {fmt_count(y)})"


def _stages(a: ConversionAction, b: ConversionAction) -> bool:
    """A raw web lead and a lead qualified in the CRM count two stages of one lead, not one event twice."""
    return (a.is_raw_web_lead and b.is_crm_lead_import) or (b.is_raw_web_lead and a.is_crm_lead_import)


def _together(ads: Ads) -> Callable[[ConversionAction, ConversionAction], bool]:
    """Whether two primary actions are bid on together: by the account-default goals, or by one campaign."""
    pairs: set[frozenset[str]] = set()
    for c in ads.campaigns or ():
        if c.status == "ENABLED":
            names = [a.resource_name for a in bids(ads, c).actions]
            pairs.update(frozenset((x, y)) for x, y in combinations(names, 2))

    def together(a: ConversionAction, b: ConversionAction) -> bool:
        if not (a.primary_for_goal and b.primary_for_goal):
            return False
        return (default_bids_on(ads, a) and default_bids_on(ads, b)) or \
            frozenset((a.resource_name, b.resource_name)) in pairs

    return together


# Which copy to keep, closest to the business event first: an upload from the order or CRM system (net of
# cancellations, valued per conversion), a Google Ads tag on the event itself (a form's submit, an order;
# deduplicated by Google Ads, not delayed by GA4 processing), an app's own measurement, a URL rule (a page load,
# reloads and stray visits included), a call, then a GA4 import.
_SOURCE_RANK = {"upload": 0, "web tag": 1, "Firebase": 2, "Google Play": 2, "app analytics": 2, "URL rule": 3,
                "call": 4, "GA4 import": 5}


def _valued(a: ConversionAction) -> bool:
    return (a.default_value or 0) > 0 or a.stats.conversions_value > 0


def _keep_rank(a: ConversionAction) -> tuple:
    """Which copy to keep: a system-managed one (it cannot be changed), then a counted one over one outside the
    Conversions column, then the one closest to the business event (`_SOURCE_RANK`), then the primary one, then
    a valued one, then the one that counts most, then the oldest id."""
    return (not a.system_managed, a.include_in_conversions_metric is False, _SOURCE_RANK.get(a.source, 6),
            not a.primary_for_goal, not _valued(a), -a.stats.all_conversions, int(a.id) if a.id.isdigit() else 0)


def _fixed_values(members: list[ConversionAction]) -> str:
    """'; two fixed values (40.00 and 25.00) for one event' when copies always use different default values."""
    fixed = sorted({m.default_value for m in members if m.always_use_default_value and m.default_value})
    if len(fixed) < 2:
        return ""
    return (f"; {'two' if len(fixed) == 2 else len(fixed)} fixed values ({' and '.join(f'{v:,.2f}' for v in fixed)})"
            " for one event: which one bidding sees depends on which action fires")


def _codeless(demote: list[ConversionAction]) -> str:
    rules = [m for m in demote if m.type == "WEBPAGE_CODELESS"]
    if not rules:
        return ""
    return (f" {_names(rules)} {'is a URL rule' if len(rules) == 1 else 'are URL rules'} (codeless): change or "
            "remove it in the Google Ads interface (Goals > Conversions), where it was set up.")


def _groups(actions: tuple[ConversionAction, ...], together: Callable[[ConversionAction, ConversionAction], bool],
            tolerance: float) -> list[tuple[list[ConversionAction], list[Tie]]]:
    """Connected groups of actions that pairwise count the same event, with the ties that bind them."""
    parent = list(range(len(actions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ties: dict[int, list[Tie]] = {}
    for (i, a), (j, b) in combinations(enumerate(actions), 2):
        tie = _why(a, b, together(a, b), tolerance)
        if tie:
            parent[root(i)] = root(j)
            ties.setdefault(i, []).append(tie)
    groups: dict[int, list[int]] = {}
    for i in range(len(actions)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) > 1:
            found = sorted({t for i in members for t in ties.get(i, [])}, key=lambda t: (not t.proven, t.why))
            out.append(([actions[i] for i in members], found))
    return out


def _side_by_side(m: ConversionAction) -> str:
    return (f"'{m.name}' ({m.source}, {m.type}, origin {m.origin}, {fmt_count(m.stats.conversions)} conv. / "
            f"{fmt_count(m.stats.all_conversions)} all conv. in 30 days)")


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED conversion actions that count one business event twice: a Google Ads tag and a GA4
    import of the same event both primary; one GA4 event imported twice; actions whose names are the same
    after normalising and that share a category; and, at `cross_source_severity`, two primary actions of one
    category from different sources (web tag, GA4 import, upload or CRM import, app, call) that the account
    default or one campaign bids on together, such as a purchase counted by a GA4 import and by an upload. The
    API cannot prove that two sources count the same sales, so that finding names both side by side (source,
    type, origin, 30-day counts) and says how to check before demoting one; web against app actions usually count
    different sales and are reported at `platform_severity`. Lead categories (SUBMIT_LEAD_FORM, CONTACT,
    REQUEST_QUOTE, BOOK_APPOINTMENT, IMPORTED_LEAD) count one enquiry alike: two lead actions of different sources
    bid on together whose 30-day counts agree within `count_tolerance` are paired whatever their category (a
    form tag, a thank-you page URL rule and a GA4 import of that page's view). The API does not expose a URL
    rule's page, so the counts (and names) are the evidence, and the finding says how to confirm. Copies that
    always use different fixed values are named with both values. A raw web lead beside a lead qualified in the
    CRM is two stages of one lead, not a copy (micro-primary-goal judges it). REMOVED and HIDDEN actions are
    history and never flagged. One finding per group of copies, naming every resource, the one to keep and why
    (counted over uncounted; then closest to the business event: an upload from the order or CRM system, a tag
    on the event itself, an app's own measurement, a URL rule, a call, a GA4 import; then primary, valued, the
    one that counts most), and the ones to demote (never a system-managed one; a URL rule is changed in the
    interface where it was set up)."""
    ads = client.ads
    assert ads is not None
    for members, ties in _groups(ads.enabled_actions, _together(ads), float(ctx.params["count_tolerance"])):
        members.sort(key=_keep_rank)
        keep, demote = members[0], [m for m in members[1:] if not m.system_managed]
        whys = [t.why for t in ties]
        proven = any(t.proven for t in ties)
        listing = ", ".join(f"'{m.name}' ({conversions(m.stats.conversions, m.stats.all_conversions)})"
                            for m in members)
        any_primary = any(m.primary_for_goal for m in members)
        if not demote:
            yield ctx.finding(f"{listing} count one event {_times(len(members))}: {'; '.join(whys)}; "
                              "all are managed by Google", [m.resource_name for m in members],
                              severity="info", actionable=False,
                              remediation="System-managed actions cannot be changed; nothing to do on them.")
            continue
        if not proven:
            platforms = all(t.platforms for t in ties)
            severity = str(ctx.params["platform_severity" if platforms else "cross_source_severity"])
            side = "; ".join(_side_by_side(m) for m in members)
            yield ctx.finding(
                f"{' and '.join(_side_by_side(m) for m in members[:1])} may count the same conversions as "
                f"{_names(members[1:])}: {'; '.join(whys)}{_fixed_values(members)}. Side by side: {side}. If they "
                f"overlap, keep '{keep.name}' ({_keep_why(keep)}) and set {_names(demote)} to Secondary",
                [m.resource_name for m in members], severity=severity,
                advice={keep.resource_name: KEEP, **{m.resource_name: DEMOTE for m in demote}},
                remediation=("Check before demoting one: compare the two actions' conversions by day and by order or "
                             "lead id (Google Ads > Goals > Conversions > the action > segment by day; the upload's "
                             "source file or CRM export), and ask whether the upload covers only sales the tag "
                             "cannot see (offline or phone sales" + (", or in-app against web purchases" if platforms
                                                                      else "") + "). If they count the same sales, "
                             f"keep '{keep.name}' primary and set the other to Secondary (API: primary_for_goal = "
                             "false); if they count different sales, nothing to change." + _codeless(demote)),
            )
            continue
        severity = None if any_primary else str(ctx.params["both_secondary_severity"])
        primary = [m for m in demote if m.primary_for_goal]
        secondary = [m for m in demote if not m.primary_for_goal]
        todo = "; ".join(part for part in (
            f"demote {_names(primary)} to secondary" if primary else "",
            f"remove {_names(secondary)} (already secondary, still counted in All conversions)" if secondary else "",
        ) if part)
        yield ctx.finding(
            f"{listing} count one event {_times(len(members))}: {'; '.join(whys)}{_fixed_values(members)}; keep "
            f"'{keep.name}', {todo} (keep '{keep.name}': {_keep_why(keep)})",
            [m.resource_name for m in members], severity=severity,
            advice={keep.resource_name: KEEP, **{m.resource_name: DEMOTE for m in primary},
                    **{m.resource_name: REMOVE for m in secondary}},
            remediation=(f"Keep '{keep.name}' ({keep.resource_name}) as the one primary action. In Google Ads > "
                         "Goals > Conversions set each copy to Secondary (API: primary_for_goal = false) or remove "
                         "it (status REMOVED) if nothing else uses it: "
                         + ", ".join(m.resource_name for m in demote) + "." + _codeless(demote)),
        )


def _keep_why(a: ConversionAction) -> str:
    if a.system_managed:
        return "managed by Google: it cannot be changed"
    return {"upload": "an upload from the order or CRM system, closest to the business event",
            "web tag": "the Google Ads tag on the event itself: deduplicated by Google Ads and not delayed by GA4 "
                       "processing",
            "URL rule": "a URL rule: it counts page loads",
            "GA4 import": "the GA4 import"}.get(a.source, f"the {a.source} action") + (
        "" if a.include_in_conversions_metric is not False else "; note: not counted in Conversions") + (
        ", with a value" if _valued(a) else "")


def _names(actions: list[ConversionAction]) -> str:
    return ", ".join(f"'{m.name}'" for m in actions)


RULE = Rule(
    id="duplicate-conversion-action",
    title="One business event counted twice",
    category="deduplication",
    severity="critical",
    rationale=("Two live actions for one purchase or lead double the conversions bidding learns from, inflate "
               "ROAS and make the Conversions column untrustworthy. The classic case is a Google Ads tag and a "
               "GA4 import of the same purchase, both primary."),
    remediation="Keep one action per business event as primary; set the copy to Secondary or remove it.",
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: Import Google Analytics conversions"),
    params={"both_secondary_severity": Param("Severity when both copies are secondary."),
            "cross_source_severity": Param("Severity of two sources of one category bid on together (the API "
                                           "cannot prove they count the same sales).", default="medium"),
            "count_tolerance": Param("Largest relative gap between two sources' 30-day counts that still says they "
                                     "count the same conversions (lead categories alike).", default=0.15),
            "platform_severity": Param("Severity when one of those sources is an app and the other the web "
                                       "(usually different sales).", default="low")},
    requires=("ads",),
    example="'Purchase' (512 conv.) and 'purchase (GA4)' (498 conv.) count one event twice: ...",
    evidence=("The enabled actions' types and sources (web tag, GA4 import, upload, app, call), categories, names "
              "(normalised), imported GA4 events, primary flags, the goals and campaigns that bid on them (when "
              "collected) and 30-day conversions."),
    check=check,
)


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"
