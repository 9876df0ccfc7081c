"""Phrases every format shares, so the terminal, Markdown, HTML and e-mail say the same thing the same way."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from auditor.result import CampaignRow, ClientResult, Finding, FindingRef, Subject
from auditor.text import MAX_MESSAGE, MAX_NAME, clip


def score_line(r: ClientResult) -> str:
    if r.score is None:
        return "not audited (error)"
    cats = ", ".join(f"{c} {s}" for c, s in r.categories.items())
    line = f"score {r.score}/100 (grade {grade_label(r)}), coverage {r.coverage}%" + (f"; {cats}" if cats else "")
    return line + (f"; {r.selection.text}" if r.partial and r.selection else "")


def grade_label(r: ClientResult) -> str:
    """'A', or 'A, partial' when some of the ruleset's rules were left out: never the grade of a full audit."""
    return f"{r.grade}, partial" if r.partial else str(r.grade)


def change_lines(r: ClientResult) -> list[str]:
    """What changed since the previous run, when the result carries it (agency runs with history)."""
    if r.changes is None:
        return []
    from auditor.diff import change_lines as lines

    return lines(r.changes)


# -- client-facing text: names for resource paths, words for API enum values ---------------------------------------
#
# The HTML, PDF, Markdown and e-mail reports go to people who never saw the API: a finding's text names what it is
# about by name ("Keep 'Purchase' as the one primary action"), never by resource path, and an enum value as words
# ("Book appointment", "Target CPA"). The JSON and CSV keep the text exactly as the rule wrote it (paths, enums), and
# so does the terminal table. API hints stay as they are: the "(API: ...)" part of a fix is for whoever makes the
# change through the API, and its values must stay exactly what the API takes.

CATEGORY_LEGEND = ("Category scores apply the same formula to the rules of one category; the total counts every "
                   "rule once, so every category can look fine while the total is low.")

# a resource path of the Google Ads or GA4 Admin API: customers/1/conversionActions/2, properties/3/keyEvents/4,
# properties/3/dataRetentionSettings, customers/1, properties/3
RESOURCE_PATH = re.compile(r"\b(?:customers|properties)/\d+(?:/[A-Za-z][A-Za-z0-9]*(?:/[\w~-]+)?)?")
_NAMED_PATH = re.compile(r"'([^'\n]*)' \((" + RESOURCE_PATH.pattern + r")\)")
_COLLECTIONS = {"conversionActions": "conversion action", "campaigns": "campaign", "keyEvents": "key event",
                "conversionEvents": "key event", "customConversionGoals": "custom goal",
                "dataRetentionSettings": "data retention setting", "attributionSettings": "attribution settings",
                "googleAdsLinks": "Google Ads link", "dataStreams": "data stream"}
# an API enum value: upper case words joined by underscores, or one upper-case word the enums of auditor.enums know
_ENUM = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z]{3,}\b")
# what is left as written: a quoted name, an "(API: ...)" hint (its values are what the API takes), "= VALUE"
_KEEP = re.compile(r"'[^'\n]*'|\(API:[^()]*(?:\([^()]*\)[^()]*)*\)|= [A-Z][A-Z0-9_]*")
_WORDS = {"CPA": "CPA", "CPC": "CPC", "CPM": "CPM", "CPV": "CPV", "ROAS": "ROAS", "GA4": "GA4", "ADS": "Ads",
          "GOOGLE": "Google", "YOUTUBE": "YouTube", "IOS": "iOS", "API": "API", "URL": "URL", "CRM": "CRM",
          "FIREBASE": "Firebase", "ANDROID": "Android", "SALESFORCE": "Salesforce"}
_LABELS = {"PERFORMANCE_MAX": "Performance Max", "DEMAND_GEN": "Demand Gen", "SIGNUP": "Sign-up",
           "MULTI_CHANNEL": "App (multi-channel)", "TARGET_SPEND": "Maximize clicks",
           "WEBPAGE": "Website", "MANY_PER_CLICK": "Every", "ONE_PER_CLICK": "One"}
_CHANNELS = frozenset({"SEARCH", "DISPLAY", "SHOPPING", "VIDEO", "HOTEL", "LOCAL", "SMART", "TRAVEL", "DEMAND_GEN",
                       "PERFORMANCE_MAX", "MULTI_CHANNEL", "LOCAL_SERVICES", "DISCOVERY"})
_STRATEGIES = frozenset({"MANUAL_CPC", "MANUAL_CPM", "MANUAL_CPV", "TARGET_CPA", "TARGET_ROAS", "TARGET_SPEND",
                         "MAXIMIZE_CONVERSIONS", "MAXIMIZE_CONVERSION_VALUE", "TARGET_IMPRESSION_SHARE",
                         "ENHANCED_CPC", "COMMISSION", "PERCENT_CPC", "TARGET_CPM", "FIXED_CPM"})


@functools.lru_cache(maxsize=1)
def _known_enums() -> frozenset[str]:
    """Every enum value auditor.enums lists, the campaign channels and bidding strategies: the single words
    (SEARCH, PURCHASE, REMOVED) a text may hold as an enum rather than as an acronym (GA4, USD, CPA)."""
    from auditor import enums

    known = {v for x in vars(enums).values() if isinstance(x, frozenset) for v in x if isinstance(v, str)}
    return frozenset(known | _CHANNELS | _STRATEGIES)


def enum_label(value: str) -> str:
    """An API enum value as words: BOOK_APPOINTMENT -> Book appointment, TARGET_CPA -> Target CPA,
    GOOGLE_ADS_LAST_CLICK -> Google Ads last click, PERFORMANCE_MAX -> Performance Max."""
    if value in _LABELS:
        return _LABELS[value]
    words = [_WORDS.get(w, w.lower()) for w in value.split("_") if w]
    if not words:
        return value
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def _words(text: str) -> str:
    """The enum values of a text outside what `_KEEP` keeps, as words; one known to no list stays as written
    when it is a single word (an acronym: USD, GA4)."""
    known = _known_enums()

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        return enum_label(token) if "_" in token or token in known else token

    out, at = [], 0
    for keep in _KEEP.finditer(text):
        out.append(_ENUM.sub(one, text[at:keep.start()]))
        out.append(keep.group(0))
        at = keep.end()
    out.append(_ENUM.sub(one, text[at:]))
    return "".join(out)


def resource_label(path: str, subjects: Iterable[Subject] = ()) -> str:
    """A resource path as a reader names it ("'Purchase'", "GA4 property 'Shop'", "conversion action 702633918");
    anything that is not a resource path stays as it is."""
    names = {x.resource: x for x in subjects}
    return _path_label(path, names) if RESOURCE_PATH.fullmatch(path) else path


def resource_id(path: str) -> str:
    """The id a console shows for a resource path: its last part when that is a number ("702633918"), else ""."""
    last = str(path).rsplit("/", 1)[-1]
    return last if last.isdigit() and "/" in str(path) else ""


def _path_label(path: str, names: dict[str, Subject]) -> str:
    """A resource path as a reader names it: the subject's name, else what it is and its id."""
    s = names.get(path)
    if s is not None and s.name:
        if s.kind == "property":
            return f"GA4 property '{s.name}'"
        if s.kind == "data_retention":
            return "the data retention setting"
        return f"'{s.name}'"
    parts = path.split("/")
    if len(parts) == 2:
        return f"{'Google Ads account' if parts[0] == 'customers' else 'GA4 property'} {parts[1]}"
    what = _COLLECTIONS.get(parts[2], parts[2])
    return what if len(parts) == 3 else f"{what} {parts[3]}"


def client_text(text: str, subjects: Iterable[Subject] = ()) -> str:
    """A finding's message or fix as a client reads it (HTML, PDF, Markdown, e-mail): each resource path replaced by
    the name of the resource (from the finding's `subjects`), "'Purchase' (customers/1/conversionActions/2)" made
    "'Purchase'", and API enum values as words outside the "(API: ...)" hints. Plain text in, plain text out: the
    caller escapes it for its medium as before. Cut at MAX_MESSAGE characters first: layout stays linear."""
    s = clip(str(text), MAX_MESSAGE)
    names = {x.resource: x for x in subjects}
    if "customers/" in s or "properties/" in s:
        s = _NAMED_PATH.sub(lambda m: m.group(0) if (names.get(m.group(2)) or Subject("")).name != m.group(1)
                            else f"'{m.group(1)}'", s)
        s = RESOURCE_PATH.sub(lambda m: _path_label(m.group(0), names), s)
    return _words(s)


def finding_text(f: Finding) -> tuple[str, str]:
    """(message, remediation) of a finding for a client-facing format (see `client_text`)."""
    return client_text(f.message, f.subjects), client_text(f.remediation, f.subjects)


def _amount(value: float) -> str:
    """350 -> '350', 35.5 -> '35.50': a target as a person writes it."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bidding_words(row: CampaignRow, currency: str | None = None) -> str:
    """A campaign's bidding in words: 'Target CPA (350 USD)', 'Maximize conversion value (target 400%)',
    'Manual CPC' (the JSON, CSV and terminal keep the API's TARGET_CPA (target 350.00 USD))."""
    label = enum_label(row.strategy) if row.strategy else "?"
    if row.target_cpa and row.strategy in ("TARGET_CPA", "MAXIMIZE_CONVERSIONS"):
        target = _amount(row.target_cpa) + (f" {currency}" if currency else "")
        return f"{label} ({target})" if row.strategy == "TARGET_CPA" else f"{label} (target CPA {target})"
    if row.target_roas and row.strategy in ("TARGET_ROAS", "MAXIMIZE_CONVERSION_VALUE"):
        return f"{label} ({row.target_roas:.0f}%)" if row.strategy == "TARGET_ROAS" else (
            f"{label} (target ROAS {row.target_roas:.0f}%)")
    return label


def client_campaign_cells(r: ClientResult) -> list[list[str]]:
    """The campaigns table of a client-facing format: [campaign, type, bidding, goals, conv., volume] per campaign
    in words ('Search', 'Target CPA (350 USD)', 'campaign: Book appointment (Website)')."""
    from auditor.campaigns import goals_label, volume_label
    from auditor.evidence import count

    def name(c: CampaignRow) -> str:  # a name is the account's own: never reworded
        return (c.name or c.resource) + ("" if c.status in ("ENABLED", "") else f" ({enum_label(c.status)})")

    def goals(c: CampaignRow) -> str:  # categories as words; a custom goal's action names as they are
        return goals_label(c) if c.goal_level == "custom" else _words(goals_label(c))

    currency = r.sources.ads.currency if r.sources.ads else None
    return [[name(c), enum_label(c.channel) if c.channel else "?", bidding_words(c, currency), goals(c),
             count(c.conversions), volume_label(c)] for c in r.campaigns or []]


def client_message(f: Finding | FindingRef) -> str:
    """A finding's message in the client's words (a resolved finding's reference has no subjects: paths become
    what they are and their id)."""
    return client_text(f.message, getattr(f, "subjects", ()) or ())


def client_fix(f: Finding) -> str:
    return client_text(f.remediation, f.subjects)


def subject_labels(f: Finding | FindingRef) -> list[str]:
    """What a finding is about, by name where its subjects know one (for the e-mails' line under a finding)."""
    known = {s.resource: s for s in getattr(f, "subjects", ()) or () if s.name}
    return [known[r].label if r in known else resource_label(r) for r in f.resources]


def with_short_name(r: ClientResult) -> ClientResult:
    """The result with its name cut at MAX_NAME characters for layout (the JSON keeps it whole)."""
    if len(r.name) <= MAX_NAME:
        return r
    from dataclasses import replace

    return replace(r, name=clip(r.name, MAX_NAME))
