"""The raw API responses of one client: the contract shared by fixtures, live connectors and `audit record`.

A `RawClient` maps each fixture file of the layout in DOMAIN.md (``ga4/property.json`` ...) to the list of
response bodies it holds (one body, or several pages / searchStream batches). Live connectors build the same
object from the Google client libraries (``to_json`` with enum names), so everything after it is one path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# file key -> (required when its source folder is present, what API call produced it)
GA4_FILES: dict[str, tuple[bool, str]] = {
    "ga4/property.json": (True, "GA4 Admin properties.get"),
    "ga4/key_events.json": (True, "GA4 Admin properties.keyEvents.list"),
    "ga4/events.json": (True, "GA4 Data properties:runReport"),
    "ga4/data_retention.json": (False, "GA4 Admin properties.getDataRetentionSettings"),
    "ga4/google_ads_links.json": (False, "GA4 Admin properties.googleAdsLinks.list"),
    "ga4/funnels.json": (False, "GA4 Data v1alpha properties:runFunnelReport"),
}
ADS_FILES: dict[str, tuple[bool, str]] = {
    "ads/conversion_actions.json": (True, "Google Ads search FROM conversion_action"),
    "ads/conversion_stats.json": (True, "Google Ads search FROM customer, segments.conversion_action"),
    "ads/customer_conversion_goals.json": (False, "Google Ads search FROM customer_conversion_goal"),
}
ALL_FILES: dict[str, tuple[bool, str]] = {**GA4_FILES, **ADS_FILES}

Body = dict[str, Any]


@dataclass
class RawClient:
    """Raw response bodies of one client, keyed by fixture file (``ga4/events.json``)."""

    name: str
    bodies: dict[str, list[Body]] = field(default_factory=dict)
    profile: str | None = None  # from client.yaml / config, if any
    origin: str = ""  # folder or "live", for messages
    # Files a source could not deliver (for example an API error on an optional call): key -> reason.
    missing: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what reading the files noticed (an unknown file name)

    def has_source(self, source: str) -> bool:
        return any(k.startswith(source + "/") for k in self.bodies)
