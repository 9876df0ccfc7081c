"""overflagged-key-events: too many GA4 key events, weak micros as key events, key events that dwarf the macro."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def _listing(names: list[str], volumes: dict[str, int]) -> str:
    return ", ".join(f"{n} ({fmt_count(volumes.get(n, 0))})" for n in names)


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a GA4 property whose key events are not a short list of business outcomes: more key events than
    `max_key_events`; key events on weak micros or automatically collected events (page_view, scroll,
    session_start, video_start, file_download, form_start...); and key events whose 28-day volume is more than
    `dwarf_ratio` times the property's macro outcome volume."""
    ga4 = client.ga4
    assert ga4 is not None
    volumes = ga4.volumes()
    tax = ctx.taxonomy
    key_names = sorted({k.event_name for k in ga4.key_events}, key=lambda n: (-volumes.get(n, 0), n))
    limit = int(ctx.params["max_key_events"])
    if len(key_names) > limit:
        yield ctx.finding(
            f"{len(key_names)} key events (threshold {limit}); 28-day volumes: {_listing(key_names, volumes)}",
            [k.name or k.event_name for k in ga4.key_events],
            remediation=(f"Keep at most {limit} key events, the business outcomes. In GA4 Admin > Data display > "
                         "Key events, unmark the rest; they stay tracked as events."),
        )
    weak = [n for n in key_names if tax.event_kind(n) == "weak_micro"]
    if weak:
        yield ctx.finding(
            f"{len(weak)} key event(s) on weak micros or automatically collected events: "
            f"{_listing(weak, volumes)}",
            [k.name or k.event_name for k in ga4.key_events if k.event_name in weak],
        )
    macro = [n for n in key_names if tax.event_kind(n) == "macro"]
    macro_volume = sum(volumes.get(n, 0) for n in macro)
    ratio = float(ctx.params["dwarf_ratio"])
    if macro_volume > 0:
        dwarfs = [n for n in key_names if n not in macro and n not in weak and volumes.get(n, 0) > ratio * macro_volume]
        if dwarfs:
            yield ctx.finding(
                f"key event(s) {_listing(dwarfs, volumes)} exceed {fmt_count(ratio)}x the macro outcome volume "
                f"({_listing(macro, volumes)}): the key event rate no longer tracks the business",
                [k.name or k.event_name for k in ga4.key_events if k.event_name in dwarfs],
                severity="medium" if ctx.severity in ("critical", "high") else ctx.severity,
            )


RULE = Rule(
    id="overflagged-key-events",
    title="Too many or weak GA4 key events",
    category="key-events",
    severity="high",
    rationale=("Key events should be the few actions that pay. Marking many events, or engagement events such as "
               "page_view and scroll, makes the key event rate meaningless, and imported into Google Ads they "
               "teach Smart Bidding to chase cheap actions. Practitioners keep 1 to 5 key events."),
    remediation=("In GA4 Admin > Data display > Key events, unmark the events that are not business outcomes "
                 "(API: properties.keyEvents.delete; the event itself keeps being collected). Keep micros as "
                 "plain events for funnel analysis and audiences."),
    references=("Google Analytics Help: About key events",
                "Google Analytics Help: [GA4] Automatically collected events"),
    params={"max_key_events": Param("Most key events before the property is over-flagged."),
            "dwarf_ratio": Param("A key event above this multiple of the macro outcome's volume dwarfs it.")},
    requires=("ga4",),
    example="12 key events (threshold 5); 28-day volumes: page_view (184,220), scroll (96,410), ...",
    check=check,
)
