"""The raw API responses of one client: the contract shared by fixtures, live connectors and `audit record`.

A `RawClient` maps each fixture file of the layout in DOMAIN.md (``ga4/property.json`` ...) to the list of
response bodies it holds (one body, or several pages / searchStream batches). Live connectors build the same
object from the Google client libraries (``to_json`` with enum names), so everything after it is one path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.model import ClientHistory

# file key -> (required when its source folder is present, what API call produced it)
GA4_FILES: dict[str, tuple[bool, str]] = {
    "ga4/property.json": (True, "GA4 Admin properties.get"),
    "ga4/key_events.json": (True, "GA4 Admin properties.keyEvents.list"),
    "ga4/events.json": (True, "GA4 Data properties:runReport"),
    "ga4/data_retention.json": (False, "GA4 Admin properties.getDataRetentionSettings"),
    "ga4/google_ads_links.json": (False, "GA4 Admin properties.googleAdsLinks.list"),
    "ga4/funnels.json": (False, "GA4 Data v1alpha properties:runFunnelReport"),
    "ga4/attribution_settings.json": (False, "GA4 Admin v1alpha properties.getAttributionSettings"),
    "ga4/ads_key_events.json": (False, "GA4 Data properties:runReport by eventName and googleAdsCustomerId"),
}
ADS_FILES: dict[str, tuple[bool, str]] = {
    "ads/conversion_actions.json": (True, "Google Ads search FROM conversion_action"),
    "ads/conversion_stats.json": (True, "Google Ads search FROM customer, segments.conversion_action"),
    "ads/customer_conversion_goals.json": (False, "Google Ads search FROM customer_conversion_goal"),
    "ads/customer.json": (False, "Google Ads search FROM customer (tracking settings)"),
    "ads/campaigns.json": (False, "Google Ads search FROM campaign, 30 days"),
    "ads/campaign_conversion_goals.json": (False, "Google Ads search FROM campaign_conversion_goal"),
    "ads/conversion_goal_campaign_configs.json": (False, "Google Ads search FROM conversion_goal_campaign_config"),
    "ads/custom_conversion_goals.json": (False, "Google Ads search FROM custom_conversion_goal"),
    "ads/offline_upload_client_summaries.json": (
        False, "Google Ads search FROM offline_conversion_upload_client_summary"),
    "ads/offline_upload_action_summaries.json": (
        False, "Google Ads search FROM offline_conversion_upload_conversion_action_summary"),
    "ads/conversion_lag.json": (
        False, "Google Ads search FROM customer, segments.conversion_action x segments.conversion_lag_bucket, 90 days"),
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
    # The client's earlier complete runs (agency runs with history), for the rules that watch trends.
    history: ClientHistory | None = None
    # The day the data was read (live: the run's date, UTC; offline: `read_on` in the recording's client.yaml),
    # from which every age is measured. None: not known.
    read_on: date | None = None

    def has_source(self, source: str) -> bool:
        return any(k.startswith(source + "/") for k in self.bodies)
