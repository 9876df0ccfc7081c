"""short-data-retention: GA4 event data kept for two months only, the default nobody changed."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Rule
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags a GA4 property whose event data retention is TWO_MONTHS, the default for new properties.
    Explorations (funnel, path, segment overlap) can then look back two months only, so year-over-year and
    seasonal funnel analysis is impossible. Standard reports, which use aggregated data, are not affected.
    Needs the data retention settings (ga4/data_retention.json); without them the rule does not run."""
    ga4 = client.ga4
    assert ga4 is not None and ga4.retention is not None
    if ga4.retention.event_data_retention != "TWO_MONTHS":
        return
    yield ctx.finding(
        "event data retention is TWO_MONTHS: explorations and funnel analysis cannot look back further than two "
        "months",
        [f"{ga4.property.name}/dataRetentionSettings"],
    )


RULE = Rule(
    id="short-data-retention",
    title="Event data retention left at two months",
    category="setup",
    severity="medium",
    rationale=("GA4 keeps event-level data for two months unless told otherwise. Explorations, including the "
               "funnel explorations that show where users drop off, only reach back that far, and the data "
               "older than the window is deleted for good: the longer setting is not retroactive."),
    remediation=("Set GA4 Admin > Data collection and modification > Data retention > Event data retention to 14 "
                 "months, or longer on Analytics 360 (API: DataRetentionSettings.event_data_retention = "
                 "FOURTEEN_MONTHS)."),
    references=("Google Analytics Help: [GA4] Data retention",),
    requires=("ga4.retention",),
    example="event data retention is TWO_MONTHS: explorations and funnel analysis cannot look back further ...",
    evidence=("The property's event data retention setting."),
    check=check,
)
