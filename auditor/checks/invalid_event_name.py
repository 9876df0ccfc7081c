"""invalid-event-name: GA4 event names that break Google's naming rules (length, prefix, characters)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.model import Client

MAX_LENGTH = 40
RESERVED_PREFIXES = ("ga_", "google_", "firebase_")
# Placeholders GA4 writes into reports, not names anyone sent.
_REPORT_PLACEHOLDERS = frozenset({"(other)", "(not set)"})
# Anything but Unicode letters, digits and underscores: GA4 accepts non-English letters
_NOT_WORD = re.compile(r"\W")


def problems(name: str) -> list[str]:
    """What is wrong with an event name under GA4's rules, in words; empty when it is valid."""
    return list(_problems(name))


@functools.lru_cache(maxsize=8192)
def _problems(name: str) -> tuple[str, ...]:
    """`problems`, once per name: every client sends the same standard events, every run asks again."""
    out = []
    if len(name) > MAX_LENGTH:
        out.append(f"{len(name)} characters (limit {MAX_LENGTH})")
    lower = name.lower()
    prefix = next((p for p in RESERVED_PREFIXES if lower.startswith(p)), None)
    if prefix:
        out.append(f"reserved prefix '{prefix}'")
    bad = sorted(set(_NOT_WORD.findall(name)))
    if bad:
        out.append("invalid character(s) " + " ".join(repr(ch) for ch in bad))
    if name and not name[0].isalpha():
        out.append("does not start with a letter")
    return tuple(out)


def suggest(name: str) -> str:
    """A valid snake_case name close to `name`: separators to '_', reserved prefix dropped, cut at 40."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"\W+", "_", s).strip("_").lower()
    for p in RESERVED_PREFIXES:
        s = s.removeprefix(p)
    s = re.sub(r"_+", "_", s).lstrip("_0123456789") or "event"
    while len(s) > MAX_LENGTH and "_" in s:
        s = s.rsplit("_", 1)[0]
    return s[:MAX_LENGTH]


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags event names that break GA4's naming rules: longer than 40 characters, a reserved prefix (ga_,
    google_, firebase_), characters other than letters, digits and underscores (spaces, hyphens, dots), or a
    first character that is not a letter. Names are taken from the 28-day event report, the key events and
    the GA4 events imported into Google Ads. A key event breaking a rule is reported at `key_event_severity`:
    a key event name over 40 characters is not reported as a key event at all. GA4's report placeholders
    ((other), (not set)) and the names in `ignore_events` (events Google itself collects with a reserved
    prefix, such as firebase_campaign) are not flagged. Each finding proposes a valid name."""
    ignore = {str(n) for n in ctx.params["ignore_events"]}
    volumes: dict[str, int] = {}  # every name -> its 28-day volume
    named_by: dict[str, list[str]] = {}  # name -> the key events and imports that use it
    key_events: set[str] = set()

    def add(name: str, volume: int = 0, resource: str | None = None) -> None:
        volumes[name] = max(volumes.get(name, 0), volume)
        if resource:
            named_by.setdefault(name, []).append(resource)

    if client.ga4:
        for e in client.ga4.events:
            add(e.event_name, e.event_count)
        for k in client.ga4.key_events:
            add(k.event_name, resource=k.name or None)
            key_events.add(k.event_name)
    if client.ads:
        for a in client.ads.enabled_actions:
            if a.ga4_event_name:
                add(a.ga4_event_name, resource=a.resource_name)
    for name in sorted(volumes):
        if name in _REPORT_PLACEHOLDERS or name in ignore:
            continue
        found = _problems(name)
        if not found:
            continue
        volume, resources, is_key = volumes[name], named_by.get(name, []), name in key_events
        good = suggest(name)
        over = len(name) > MAX_LENGTH
        yield ctx.finding(
            f"{'key event' if is_key else 'event'} '{name}' ({fmt_count(volume)} events in 28 days): "
            + "; ".join(found)
            + (": GA4 does not report it as a key event" if is_key and over else ""),
            resources or [name],
            severity=str(ctx.params["key_event_severity"]) if is_key else None,
            remediation=(f"Send the event as '{good}' (rename it in the GTM tag or gtag call; meanwhile a GA4 "
                         "Admin > Data display > Events > Modify event rule can rewrite it)"
                         + (f", mark '{good}' as the key event and delete the old one (API: "
                            "properties.keyEvents.create / .delete)" if is_key else "")
                         + ", and repoint any Google Ads import to the new name."),
        )


RULE = Rule(
    id="invalid-event-name",
    title="Event name that breaks GA4's naming rules",
    category="naming",
    severity="medium",
    rationale=("GA4 event names must start with a letter, use only letters, digits and underscores, stay within "
               "40 characters and avoid the reserved ga_, google_ and firebase_ prefixes. Names that break the "
               "rules are rejected, collide with Google's own events or, for a key event over 40 characters, are "
               "never reported as key events: the conversion silently disappears."),
    remediation=("Rename the event to a short snake_case name that starts with a letter, in the tag that sends it "
                 "(GTM or gtag; meanwhile GA4 Admin > Data display > Events > Modify event), then mark the new name "
                 "as key event (API: properties.keyEvents.create) and repoint Google Ads imports to it."),
    references=("Google Analytics Help: [GA4] Event naming rules",
                "Google Analytics Help: [GA4] Modify and create events through the user interface"),
    params={
        "key_event_severity": Param("Severity when the name belongs to a key event."),
        "ignore_events": Param("Names never flagged: events Google collects itself with a reserved prefix."),
    },
    requires=("ga4|ads",),
    example="key event 'newsletter_signup_article_footer_inline_form' (1,207 events in 28 days): 44 characters ...",
    evidence=("The event names of the 28-day report, the key events and the Google Ads imports, against GA4's "
              "naming rules."),
    check=check,
)
