"""split-event-naming: one action recorded under several spellings (sign_up, signup, Sign_Up)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def _names(client: Client) -> dict[str, tuple[int, set[str]]]:
    """Every event name the client uses -> (28-day volume, where it appears)."""
    volumes: dict[str, int] = {}
    places: dict[str, set[str]] = {}

    def add(name: str, volume: int, where: str) -> None:
        volumes[name] = max(volumes.get(name, 0), volume)
        places.setdefault(name, set()).add(where)

    if client.ga4:
        for e in client.ga4.events:
            add(e.event_name, e.event_count, "GA4 events")
        for k in client.ga4.key_events:
            add(k.event_name, 0, "GA4 key events")
    if client.ads:
        for a in client.ads.enabled_actions:
            if a.ga4_event_name:
                add(a.ga4_event_name, 0, "Ads GA4 imports")
    return {name: (volume, places[name]) for name, volume in volumes.items()}


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Groups the event names of GA4 events, GA4 key events and the GA4 events imported into Google Ads by
    their spelling-insensitive form (case, separators, camelCase vs snake_case) and configured synonyms
    (signup / sign_up / register). Each group with two or more spellings is one finding naming every variant
    with its 28-day volume and the name to keep: Google's recommended event name if one is in the group (or
    is the group's synonym), else the busiest. Distinct events (view_item vs view_item_list) never merge."""
    tax = ctx.taxonomy
    names = _names(client)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(tax.canonical(n), []).append(n)
    least = int(ctx.params["min_variants"])
    for key, variants in sorted((k, v) for k, v in groups.items() if len(v) >= least):
        variants.sort(key=lambda n: (-names[n][0], n))
        canonical = tax.synonyms.get(key)
        if canonical is None:
            canonical = next((n for n in variants if n in tax.recommended), None)
        keep = canonical if canonical in tax.recommended or canonical in variants else variants[0]
        listing = ", ".join(f"{n} ({fmt_count(names[n][0])}; {', '.join(sorted(names[n][1]))})" for n in variants)
        yield ctx.finding(
            f"{len(variants)} spellings of one action: {listing}; keep '{keep}'",
            variants,
            remediation=(f"Send the event as '{keep}' everywhere (GTM tag or gtag call), update key events and Ads "
                         "imports to that name, and meanwhile merge the variants with a GA4 modify-event rule "
                         "(Admin > Data display > Events > Modify event)."),
        )


RULE = Rule(
    id="split-event-naming",
    title="One action under several event names",
    category="naming",
    severity="medium",
    rationale=("GA4 event names are case-sensitive: sign_up, signup and Sign_Up are three events. The action's "
               "volume is split across them, reports undercount it, and key events or Ads imports catch only "
               "one spelling."),
    remediation="Pick one name (Google's recommended event name where there is one) and send only that.",
    references=("Google Analytics Help: [GA4] Event naming rules", "Google Analytics Help: [GA4] Recommended events"),
    params={"min_variants": Param("Spellings in a group before it is reported.")},
    requires=("ga4|ads",),
    example="3 spellings of one action: sign_up (1,204), signup (310), Sign_Up (12); keep 'sign_up'",
    evidence=("The names of GA4 events, key events and Google Ads imports (case, separators and camelCase folded; "
              "configured synonyms merged) and their 28-day event counts."),
    check=check,
)
