"""too-many-primary-macros: more primary macro conversion actions than bidding can use as one clear goal."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a Google Ads account with more than `max_primary_macros` ENABLED primary actions whose category
    or imported GA4 event is a macro conversion (purchase, lead, booking...). Only enabled primaries count:
    secondary actions, REMOVED and HIDDEN ones do not, nor do micros set as primary (micro-primary-goal reports
    those). System-managed actions are counted, since they feed bidding, but never proposed for demotion."""
    ads = client.ads
    assert ads is not None
    limit = int(ctx.params["max_primary_macros"])
    macros = [a for a in ads.primary_actions if ctx.hierarchy.action(a).strength == "macro"]
    if len(macros) <= limit:
        return
    macros.sort(key=lambda a: (-a.stats.conversions, a.name))
    listing = ", ".join(f"'{a.name}' ({a.category}, {fmt_count(a.stats.conversions)} conv.)" for a in macros)
    changeable = [a for a in macros if not a.system_managed]
    candidates = ", ".join(f"'{a.name}'" for a in changeable[limit:]) or "the least important ones"
    yield ctx.finding(
        f"{len(macros)} primary macro actions (threshold {limit}): {listing}",
        [a.resource_name for a in macros],
        actionable=bool(changeable),
        remediation=(f"Keep at most {limit} primary actions, one per business outcome; set the others (for example "
                     f"{candidates}) to Secondary in Google Ads > Goals > Conversions > Summary > action > Edit "
                     "settings (API: ConversionAction.primary_for_goal = false). They stay in All conversions."),
    )


RULE = Rule(
    id="too-many-primary-macros",
    title="Too many primary macro conversion actions",
    category="bidding",
    severity="medium",
    rationale=("Every primary action is summed into Conversions and counted as equally worth bidding for. Many "
               "primary macros usually mean overlapping outcomes (web lead, call, chat lead, CRM import of the "
               "same lead) or stale actions kept primary: bidding optimises a blend nobody chose, and CPA and "
               "ROAS no longer describe one outcome."),
    remediation=("Keep one primary action per business outcome; set the rest to Secondary in Google Ads > Goals > "
                 "Conversions (API: ConversionAction.primary_for_goal = false)."),
    references=("Google Ads Help: About primary and secondary conversion actions",
                "Google Ads Help: About conversion goals"),
    params={"max_primary_macros": Param("Most enabled primary macro actions before the account is flagged.")},
    requires=("ads",),
    example="7 primary macro actions (threshold 5): 'Purchase' (PURCHASE, 612 conv.), 'Phone lead' ...",
    evidence=("The count of enabled primary actions that are macros, by their Ads category or their event's name "
              "(the profile's, the taxonomy's or the config's lists)."),
    check=check,
)
