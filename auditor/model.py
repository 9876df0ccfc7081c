"""Immutable snapshot of one client: what the rules see. Built only by `auditor.mapping`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from auditor import enums
from auditor.enums import SYSTEM_MANAGED_ORIGINS, SYSTEM_MANAGED_TYPES

UNKNOWN = "UNKNOWN"  # an enum value the auditor does not know (kept as read, with a warning)


@dataclass(frozen=True, slots=True)
class Property:
    name: str  # properties/123
    display_name: str = ""
    currency_code: str | None = None
    time_zone: str | None = None
    industry_category: str | None = None

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class KeyEvent:
    name: str  # properties/123/keyEvents/456
    event_name: str
    counting_method: str = UNKNOWN  # ONCE_PER_EVENT | ONCE_PER_SESSION
    default_value: float | None = None
    default_currency: str | None = None
    custom: bool = False  # proto3 JSON: an absent boolean is false
    deletable: bool = False


@dataclass(frozen=True, slots=True)
class EventStat:
    """One row of the 28-day runReport by eventName."""

    event_name: str
    event_count: int = 0
    total_users: int = 0
    event_value: float = 0.0
    key_events: float = 0.0


@dataclass(frozen=True, slots=True)
class DataRetention:
    event_data_retention: str = UNKNOWN  # TWO_MONTHS, FOURTEEN_MONTHS, ...
    user_data_retention: str = UNKNOWN
    reset_user_data_on_new_activity: bool = False


@dataclass(frozen=True, slots=True)
class AdsLink:
    name: str  # properties/123/googleAdsLinks/789
    customer_id: str
    ads_personalization_enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class FunnelMeasure:
    """One closed GA4 funnel report over 28 days: of the users who did `steps[0]`, how many then did each next
    step. Measures a micro's conditional rate to the macro (users[1] / users[0])."""

    steps: tuple[str, ...]  # event names, in order
    users: tuple[int, ...]  # active users reaching each step (0 where the report has no row)

    @property
    def rate(self) -> float | None:
        """Share of the first step's users who reached the last. GA4 leaves out the rows of steps nobody reached,
        so a report with one row says 0."""
        if not self.users or self.users[0] <= 0:
            return None
        return self.users[-1] / self.users[0] if len(self.users) > 1 else 0.0


@dataclass(frozen=True, slots=True)
class AttributionSettings:
    """properties.getAttributionSettings (Admin API v1alpha)."""

    reporting_attribution_model: str = UNKNOWN
    acquisition_lookback: str = UNKNOWN  # acquisition_conversion_event_lookback_window
    other_lookback: str = UNKNOWN  # other_conversion_event_lookback_window
    # Which channels may take credit for the conversions GA4 shares with Google Ads:
    # NOT_SELECTED_YET | PAID_AND_ORGANIC_CHANNELS | GOOGLE_PAID_CHANNELS
    ads_export_scope: str = UNKNOWN


@dataclass(frozen=True, slots=True)
class AdsKeyEvents:
    """One row of the 28-day report by eventName and googleAdsCustomerId: the key events of one event that GA4
    attributes to one Google Ads account (attribution-scoped: only what GA4 credits to that account's clicks)."""

    event_name: str
    customer_id: str  # 10 digits (GA4 writes 123-456-7890)
    key_events: float = 0.0


@dataclass(frozen=True, slots=True)
class GA4:
    property: Property
    key_events: tuple[KeyEvent, ...]
    events: tuple[EventStat, ...]
    retention: DataRetention | None = None  # None: not collected
    ads_links: tuple[AdsLink, ...] | None = None  # None: not collected
    funnels: tuple[FunnelMeasure, ...] = ()  # optional evidence; none recorded: rates rest on user counts
    attribution: AttributionSettings | None = None  # None: not collected
    ads_key_events: tuple[AdsKeyEvents, ...] | None = None  # None: not collected

    def event(self, event_name: str) -> EventStat | None:
        for e in self.events:
            if e.event_name == event_name:
                return e
        return None

    def volumes(self) -> dict[str, int]:
        return {e.event_name: e.event_count for e in self.events}


@dataclass(frozen=True, slots=True)
class ActionStats:
    """Last-30-day metrics of one conversion action."""

    conversions: float = 0.0
    conversions_value: float = 0.0
    all_conversions: float = 0.0
    all_conversions_value: float = 0.0


@dataclass(frozen=True, slots=True)
class ConversionAction:
    resource_name: str  # customers/1234567890/conversionActions/111
    id: str
    name: str
    status: str = UNKNOWN  # ENABLED | REMOVED | HIDDEN
    type: str = UNKNOWN  # WEBPAGE, GOOGLE_ANALYTICS_4_CUSTOM, GOOGLE_ANALYTICS_4_PURCHASE, ...
    category: str = UNKNOWN  # PURCHASE, PAGE_VIEW, ADD_TO_CART, ...
    origin: str = UNKNOWN  # WEBSITE, GOOGLE_HOSTED, APP, CALL_FROM_ADS, STORE, ...
    primary_for_goal: bool = False
    counting_type: str = UNKNOWN  # ONE_PER_CLICK | MANY_PER_CLICK
    include_in_conversions_metric: bool | None = None
    default_value: float | None = None
    default_currency: str | None = None
    always_use_default_value: bool = False
    attribution_model: str | None = None
    data_driven_model_status: str | None = None
    click_through_lookback_window_days: int | None = None
    view_through_lookback_window_days: int | None = None
    # Calls at least this long count as conversions (call actions; None: not in the response)
    phone_call_duration_seconds: int | None = None
    ga4_event_name: str | None = None
    ga4_property_id: str | None = None
    stats: ActionStats = field(default_factory=ActionStats)

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED"

    @property
    def system_managed(self) -> bool:
        """Managed by Google (Smart campaign, Google-hosted, store actions): the user cannot edit or remove it."""
        return self.type in SYSTEM_MANAGED_TYPES or self.origin in SYSTEM_MANAGED_ORIGINS

    @property
    def is_ga4_import(self) -> bool:
        return self.type.startswith("GOOGLE_ANALYTICS_4") or self.ga4_event_name is not None

    @property
    def source(self) -> str:
        """Where its conversions come from, by type: 'web tag', 'URL rule', 'GA4 import', 'upload', 'Firebase',
        'Google Play', 'app analytics', 'call', 'Google-hosted', 'store' or 'other' (two sources can count one sale
        twice)."""
        t = self.type
        if t == "WEBPAGE_CODELESS":  # a URL rule set up in the interface: counts page loads, not the event itself
            return "URL rule"
        if t in enums.WEB_TAG_TYPES:
            return "web tag"
        if t.startswith(enums.ANALYTICS_IMPORT_PREFIXES) or self.ga4_event_name is not None:
            return "GA4 import"
        if t in enums.UPLOAD_TYPES:
            return "upload"
        if t.startswith("FIREBASE_"):
            return "Firebase"
        if t.startswith(("GOOGLE_PLAY_", "ANDROID_")):
            return "Google Play"
        if t.startswith("THIRD_PARTY_APP_ANALYTICS_"):
            return "app analytics"
        if t in enums.CALL_TYPES or self.origin == "CALL_FROM_ADS":
            return "call"
        if self.system_managed:
            return "store" if self.origin == "STORE" or t.startswith("STORE") else "Google-hosted"
        return "other"

    @property
    def is_app(self) -> bool:
        return self.type.startswith(enums.APP_TYPE_PREFIXES) or self.origin == "APP"

    @property
    def is_app_install(self) -> bool:
        return self.type in enums.APP_INSTALL_TYPES

    @property
    def is_app_purchase(self) -> bool:
        return self.type in enums.APP_PURCHASE_TYPES

    @property
    def is_crm_lead_import(self) -> bool:
        """A lead qualified or closed after the first contact, sent back to Google Ads: an upload or CRM import in
        a lead category, a QUALIFIED_LEAD / CONVERTED_LEAD action, or GA4's or Firebase's qualify / close events."""
        return (self.category in enums.QUALIFIED_LEAD_CATEGORIES or self.type in enums.QUALIFIED_LEAD_TYPES
                or (self.type in enums.UPLOAD_TYPES and self.category in enums.LEAD_CATEGORIES))

    @property
    def is_raw_web_lead(self) -> bool:
        """The website's own lead (a form, quote request, booking or contact), counted when it is sent."""
        if self.is_crm_lead_import or self.type in enums.UPLOAD_TYPES or self.is_app:
            return False
        return self.category in enums.RAW_WEB_LEAD_CATEGORIES or self.type == "GOOGLE_ANALYTICS_4_GENERATE_LEAD"


@dataclass(frozen=True, slots=True)
class ConversionGoal:
    resource_name: str
    category: str
    origin: str
    biddable: bool


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    """ads/customer.json: the account's tracking settings (FROM customer, without segments)."""

    auto_tagging_enabled: bool | None = None  # None: not in the response
    conversion_tracking_status: str = UNKNOWN  # customer.conversion_tracking_setting.conversion_tracking_status
    cross_account_conversion_tracking_id: str | None = None
    google_ads_conversion_customer: str | None = None  # customers/N of the account that owns the conversions
    accepted_customer_data_terms: bool | None = None
    # conversion_tracking_setting.effective_enablement_setting: enhanced conversions ON | OFF (UNKNOWN: not read)
    enhanced_conversions: str = UNKNOWN


@dataclass(frozen=True, slots=True)
class CampaignGoal:
    """One campaign_conversion_goal row: whether the campaign bids on a category x origin of conversions."""

    category: str
    origin: str
    biddable: bool = False


@dataclass(frozen=True, slots=True)
class Campaign:
    """One campaign (status not REMOVED) with its last-30-day metrics, bidding strategy and goals."""

    resource_name: str  # customers/1234567890/campaigns/111
    id: str
    name: str
    status: str = UNKNOWN  # ENABLED | PAUSED
    channel_type: str = UNKNOWN  # advertising_channel_type: SEARCH, PERFORMANCE_MAX, SHOPPING, DISPLAY...
    bidding_strategy_type: str = UNKNOWN  # as the API names it: TARGET_CPA, MAXIMIZE_CONVERSION_VALUE, MANUAL_CPC...
    target_cpa_micros: int | None = None  # the strategy's target when set
    target_roas: float | None = None
    conversions: float = 0.0  # 30 days, on the goals this campaign bids on
    conversions_value: float = 0.0
    all_conversions: float = 0.0
    cost_micros: int = 0
    goals: tuple[CampaignGoal, ...] | None = None  # campaign_conversion_goals.json; None: not collected
    goal_config_level: str | None = None  # CUSTOMER (account default goals) | CAMPAIGN; None: not collected
    custom_goal: str | None = None  # customers/N/customConversionGoals/M when the campaign bids on one


@dataclass(frozen=True, slots=True)
class CustomGoal:
    """custom_conversion_goal: a named set of conversion actions a campaign can bid on instead of goals."""

    resource_name: str
    name: str
    actions: tuple[str, ...] = ()  # conversion action resource names
    status: str = UNKNOWN  # ENABLED | REMOVED


@dataclass(frozen=True, slots=True)
class UploadAlert:
    """One error of the offline conversion upload diagnostics, with its share of the events of the most recent
    day with upload stats."""

    error: str  # the error code's name, such as CLICK_NOT_FOUND
    share: float = 0.0  # error_percentage, 0 to 1
    kind: str = ""  # its error enum, such as conversion_upload_error


@dataclass(frozen=True, slots=True)
class UploadDay:
    """One day of an upload summary's daily history."""

    day: date
    successful: int = 0
    failed: int = 0
    pending: int = 0


@dataclass(frozen=True, slots=True)
class UploadSummary:
    """offline_conversion_upload_client_summary (`action_id` None) or
    offline_conversion_upload_conversion_action_summary: Google Ads' own diagnostics of imported conversions, per
    upload client (GOOGLE_ADS_API, GOOGLE_ADS_WEB_CLIENT, ADS_DATA_CONNECTOR) and, for an action summary, per
    conversion action."""

    resource_name: str
    client: str = UNKNOWN  # the upload client
    status: str = UNKNOWN  # EXCELLENT | GOOD | NEEDS_ATTENTION | NO_RECENT_UPLOAD
    total: int = 0  # uploaded events
    successful: int = 0
    pending: int = 0
    last_upload: datetime | None = None  # in the account's time zone
    alerts: tuple[UploadAlert, ...] = ()
    daily: tuple[UploadDay, ...] = ()
    action_id: str | None = None  # conversion action id (action summaries)
    action_name: str = ""

    @property
    def success_rate(self) -> float | None:
        """Successful events among the uploaded ones (the client summary's `success_rate`, computed the same way for
        an action); None without events."""
        return self.successful / self.total if self.total > 0 else None


@dataclass(frozen=True, slots=True)
class LagBucket:
    """All conversions of one action that came a given number of days after the click (90 days)."""

    action: str  # conversion action resource name
    bucket: str  # segments.conversion_lag_bucket, such as TWENTY_ONE_TO_THIRTY_DAYS
    all_conversions: float = 0.0


@dataclass(frozen=True, slots=True)
class Ads:
    customer_id: str
    actions: tuple[ConversionAction, ...]
    currency_code: str | None = None
    descriptive_name: str | None = None
    goals: tuple[ConversionGoal, ...] | None = None  # None: not collected
    tracking: TrackingSettings | None = None  # ads/customer.json; None: not collected
    campaigns: tuple[Campaign, ...] | None = None  # ads/campaigns.json; None: not collected
    custom_goals: tuple[CustomGoal, ...] | None = None  # None: not collected
    # ads/offline_upload_client_summaries.json and ads/offline_upload_action_summaries.json; None: not collected
    upload_client_summaries: tuple[UploadSummary, ...] | None = None
    upload_action_summaries: tuple[UploadSummary, ...] | None = None
    conversion_lag: tuple[LagBucket, ...] | None = None  # ads/conversion_lag.json, 90 days; None: not collected
    # Derived from `actions` once, when the snapshot is built: every rule asks for them.
    enabled_actions: tuple[ConversionAction, ...] = field(init=False, repr=False, compare=False)
    primary_actions: tuple[ConversionAction, ...] = field(init=False, repr=False, compare=False)  # enabled ones

    def __post_init__(self) -> None:
        enabled = tuple(a for a in self.actions if a.enabled)
        object.__setattr__(self, "enabled_actions", enabled)  # frozen: set once, here
        object.__setattr__(self, "primary_actions", tuple(a for a in enabled if a.primary_for_goal))


@dataclass(frozen=True, slots=True)
class EarlierRun:
    """What one earlier complete run measured of a client: the vitals the trend rules compare."""

    generated_at: str
    step_rates: tuple[tuple[str, str, float], ...] = ()  # funnel (from step, to step, rate from previous)
    daily: tuple[tuple[str, float], ...] = ()  # (GA4 event or "ads:" action name, daily volume)
    key_events: tuple[str, ...] = ()  # key events with volume in that run
    primary_actions: tuple[str, ...] = ()  # enabled primary actions with conversions in that run


@dataclass(frozen=True, slots=True)
class ClientHistory:
    """The client's earlier complete runs, oldest first (agency runs with history)."""

    runs: tuple[EarlierRun, ...] = ()
    warnings: tuple[str, ...] = ()  # stored runs that could not be read and were skipped, one line each


@dataclass(frozen=True, slots=True)
class Client:
    """Everything known about one client: a GA4 property and/or a Google Ads customer."""

    name: str
    profile: str
    ga4: GA4 | None = None
    ads: Ads | None = None
    warnings: tuple[str, ...] = ()
    history: ClientHistory | None = None  # None: no history (a plain audit); the trend rules do not apply
    # The day the data was read, from which ages are measured (live: the run's date; offline: client.yaml's
    # read_on, written by `audit record`). None: not known, and no age can be judged.
    read_on: date | None = None
    # Data present but not to be trusted (a broken reference, an unknown count): (what a rule may require, such
    # as "ads.campaigns", why). A rule requiring it reports not run, never pass (auditor.integrity).
    unusable: tuple[tuple[str, str], ...] = ()
