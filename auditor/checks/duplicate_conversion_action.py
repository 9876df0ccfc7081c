"""duplicate-conversion-action: one business event counted by two enabled conversion actions."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client, ConversionAction
from auditor.taxonomy import name_key

_TAG_TYPES = frozenset({"WEBPAGE", "WEBPAGE_CODELESS"})
_VAGUE = frozenset({"UNKNOWN", "UNSPECIFIED", "DEFAULT"})


def _why(a: ConversionAction, b: ConversionAction) -> str | None:
    if a.ga4_event_name and b.ga4_event_name:
        if a.ga4_event_name == b.ga4_event_name and a.ga4_property_id == b.ga4_property_id:
            return f"GA4 event '{a.ga4_event_name}' is imported twice"
        return None
    if {a.type, b.type} & _TAG_TYPES and a.is_ga4_import != b.is_ga4_import:
        tag, imp = (a, b) if a.type in _TAG_TYPES else (b, a)
        same_event = (imp.ga4_event_name and name_key(imp.ga4_event_name) == name_key(tag.name)) or (
            a.category == b.category and a.category not in _VAGUE)
        if same_event and a.primary_for_goal and b.primary_for_goal:
            return f"a Google Ads tag and a GA4 import both count {a.category} as primary"
        return None
    if name_key(a.name) == name_key(b.name) and a.category == b.category:
        return f"same name after normalising ('{name_key(a.name)}') and category {a.category}"
    return None


def _keep_rank(a: ConversionAction) -> tuple:
    """Which copy to keep: a system-managed one (it cannot be changed), then the Google Ads tag over a GA4
    import (the tag is deduplicated by Google Ads and not delayed by GA4 processing), then the primary one,
    then the one that counts most, then the oldest id."""
    return (not a.system_managed, a.is_ga4_import, not a.primary_for_goal, -a.stats.all_conversions,
            int(a.id) if a.id.isdigit() else 0)


def _groups(actions: tuple[ConversionAction, ...]) -> list[tuple[list[ConversionAction], list[str]]]:
    """Connected groups of actions that pairwise count the same event, with the reasons that tie them."""
    parent = list(range(len(actions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    reasons: dict[int, list[str]] = {}
    for (i, a), (j, b) in combinations(enumerate(actions), 2):
        why = _why(a, b)
        if why:
            parent[root(i)] = root(j)
            reasons.setdefault(i, []).append(why)
    groups: dict[int, list[int]] = {}
    for i in range(len(actions)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) > 1:
            whys = sorted({w for i in members for w in reasons.get(i, [])})
            out.append(([actions[i] for i in members], whys))
    return out


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags ENABLED conversion actions that count one business event twice: a Google Ads tag and a GA4
    import of the same event both primary; one GA4 event imported twice; or actions whose names are the same
    after normalising and that share a category. REMOVED and HIDDEN actions are history and never flagged.
    One finding per group of copies, naming every resource, the one to keep and the ones to demote (never a
    system-managed one)."""
    ads = client.ads
    assert ads is not None
    for members, whys in _groups(ads.enabled_actions):
        members.sort(key=_keep_rank)
        keep, demote = members[0], [m for m in members[1:] if not m.system_managed]
        listing = ", ".join(f"'{m.name}' ({fmt_count(m.stats.all_conversions)} conv.)" for m in members)
        any_primary = any(m.primary_for_goal for m in members)
        severity = None if any_primary else str(ctx.params["both_secondary_severity"])
        if not demote:
            yield ctx.finding(f"{listing} count one event {_times(len(members))}: {'; '.join(whys)}; "
                              "all are managed by Google", [m.resource_name for m in members],
                              severity="info", actionable=False,
                              remediation="System-managed actions cannot be changed; nothing to do on them.")
            continue
        primary = [m for m in demote if m.primary_for_goal]
        secondary = [m for m in demote if not m.primary_for_goal]
        todo = "; ".join(part for part in (
            f"demote {_names(primary)} to secondary" if primary else "",
            f"remove {_names(secondary)} (already secondary, still counted in All conversions)" if secondary else "",
        ) if part)
        yield ctx.finding(
            f"{listing} count one event {_times(len(members))}: {'; '.join(whys)}; keep '{keep.name}', {todo}",
            [m.resource_name for m in members], severity=severity,
            remediation=(f"Keep '{keep.name}' ({keep.resource_name}) as the one primary action. In Google Ads > "
                         "Goals > Conversions set each copy to Secondary (API: primary_for_goal = false) or remove "
                         "it (status REMOVED) if nothing else uses it: "
                         + ", ".join(m.resource_name for m in demote) + "."),
        )


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
    params={"both_secondary_severity": Param("Severity when both copies are secondary.")},
    requires=("ads",),
    example="'Purchase' (512 conv.) and 'purchase (GA4)' (498 conv.) count one event twice: ...",
    evidence=("The enabled actions' types, categories, names (normalised), imported GA4 events, primary flags and "
              "30-day conversions."),
    check=check,
)


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"
