"""Live Google Ads connector: ten GAQL searchStream queries per customer (an eleventh when a campaign bids on a
custom conversion goal) -> the raw bodies of `auditor.raw`.

Only the live path imports this module (the google-ads import costs about a second). Every batch is written
as the API's JSON mapping writes it (camelCase, enum names, int64 as strings, default values omitted), so
live and recorded data take the same path through `auditor.mapping`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import google.auth.credentials
import grpc
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exc
from google.protobuf import json_format

from auditor.connectors.retry import TRANSIENT, Attempts, CallPolicy
from auditor.errors import ConfigError, SourceError

API_VERSION = "v26"  # newest version google-ads 34.x ships

# The library logs every failed request as a WARNING; without a handler of the CLI's, Python would print it
# next to our one-line error. Configured logging (for example a verbose flag on the root logger) still gets it.
logging.getLogger("google.ads.googleads.client").addHandler(logging.NullHandler())

ACTIONS_FILE = "ads/conversion_actions.json"
STATS_FILE = "ads/conversion_stats.json"
GOALS_FILE = "ads/customer_conversion_goals.json"
CUSTOMER_FILE = "ads/customer.json"
CAMPAIGNS_FILE = "ads/campaigns.json"
CAMPAIGN_GOALS_FILE = "ads/campaign_conversion_goals.json"
GOAL_CONFIGS_FILE = "ads/conversion_goal_campaign_configs.json"
CUSTOM_GOALS_FILE = "ads/custom_conversion_goals.json"
UPLOAD_CLIENT_SUMMARIES_FILE = "ads/offline_upload_client_summaries.json"
UPLOAD_ACTION_SUMMARIES_FILE = "ads/offline_upload_action_summaries.json"
CONVERSION_LAG_FILE = "ads/conversion_lag.json"
LAG_DAYS = 90  # the conversion lag query's period: the longest click-through window
# What a query with no rows streams: one batch without results. Also what custom_conversion_goals.json holds when
# no campaign names a custom goal (the query is then not run): collected, and empty.
EMPTY_STREAM: list[dict] = [{}]

ACTIONS_QUERY = """
SELECT conversion_action.resource_name, conversion_action.id, conversion_action.name,
  conversion_action.status, conversion_action.type, conversion_action.category, conversion_action.origin,
  conversion_action.primary_for_goal, conversion_action.counting_type,
  conversion_action.include_in_conversions_metric,
  conversion_action.value_settings.default_value, conversion_action.value_settings.default_currency_code,
  conversion_action.value_settings.always_use_default_value,
  conversion_action.attribution_model_settings.attribution_model,
  conversion_action.attribution_model_settings.data_driven_model_status,
  conversion_action.click_through_lookback_window_days, conversion_action.view_through_lookback_window_days,
  conversion_action.phone_call_duration_seconds,
  conversion_action.google_analytics_4_settings.event_name,
  conversion_action.google_analytics_4_settings.property_id
FROM conversion_action
"""
# FROM conversion_action allows only all_conversions* metrics: conversions per action come from customer.
STATS_QUERY = """
SELECT customer.id, customer.currency_code, customer.descriptive_name,
  segments.conversion_action, segments.conversion_action_name,
  metrics.conversions, metrics.conversions_value, metrics.all_conversions, metrics.all_conversions_value
FROM customer
WHERE segments.date DURING LAST_30_DAYS
"""
GOALS_QUERY = """
SELECT customer_conversion_goal.resource_name, customer_conversion_goal.category,
  customer_conversion_goal.origin, customer_conversion_goal.biddable
FROM customer_conversion_goal
"""
# The account's tracking settings: no segment, so one row.
CUSTOMER_QUERY = """
SELECT customer.id, customer.auto_tagging_enabled,
  customer.conversion_tracking_setting.conversion_tracking_status,
  customer.conversion_tracking_setting.cross_account_conversion_tracking_id,
  customer.conversion_tracking_setting.google_ads_conversion_customer,
  customer.conversion_tracking_setting.accepted_customer_data_terms,
  customer.conversion_tracking_setting.effective_enablement_setting
FROM customer
"""
# One row per campaign: no segment is selected, so the date range aggregates. A campaign with no impressions in
# the 30 days may have no row.
CAMPAIGNS_QUERY = """
SELECT campaign.resource_name, campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type,
  campaign.bidding_strategy_type, campaign.target_cpa.target_cpa_micros, campaign.target_roas.target_roas,
  campaign.maximize_conversions.target_cpa_micros, campaign.maximize_conversion_value.target_roas,
  metrics.conversions, metrics.conversions_value, metrics.all_conversions, metrics.cost_micros
FROM campaign
WHERE segments.date DURING LAST_30_DAYS AND campaign.status != 'REMOVED'
"""
CAMPAIGN_GOALS_QUERY = """
SELECT campaign_conversion_goal.resource_name, campaign_conversion_goal.campaign,
  campaign_conversion_goal.category, campaign_conversion_goal.origin, campaign_conversion_goal.biddable
FROM campaign_conversion_goal
"""
GOAL_CONFIGS_QUERY = """
SELECT conversion_goal_campaign_config.resource_name, conversion_goal_campaign_config.campaign,
  conversion_goal_campaign_config.goal_config_level, conversion_goal_campaign_config.custom_conversion_goal
FROM conversion_goal_campaign_config
"""
CUSTOM_GOALS_QUERY = """
SELECT custom_conversion_goal.resource_name, custom_conversion_goal.name,
  custom_conversion_goal.conversion_actions, custom_conversion_goal.status
FROM custom_conversion_goal
"""
# Google Ads' own diagnostics of offline conversion imports (uploads through the API, the web interface or a data
# connector): per upload client, and per conversion action. No date range: the resource covers recent uploads.
UPLOAD_CLIENT_SUMMARIES_QUERY = """
SELECT offline_conversion_upload_client_summary.resource_name, offline_conversion_upload_client_summary.client,
  offline_conversion_upload_client_summary.status, offline_conversion_upload_client_summary.total_event_count,
  offline_conversion_upload_client_summary.successful_event_count,
  offline_conversion_upload_client_summary.success_rate,
  offline_conversion_upload_client_summary.pending_event_count,
  offline_conversion_upload_client_summary.pending_rate,
  offline_conversion_upload_client_summary.last_upload_date_time,
  offline_conversion_upload_client_summary.daily_summaries, offline_conversion_upload_client_summary.alerts
FROM offline_conversion_upload_client_summary
"""
UPLOAD_ACTION_SUMMARIES_QUERY = """
SELECT offline_conversion_upload_conversion_action_summary.resource_name,
  offline_conversion_upload_conversion_action_summary.client,
  offline_conversion_upload_conversion_action_summary.conversion_action_id,
  offline_conversion_upload_conversion_action_summary.conversion_action_name,
  offline_conversion_upload_conversion_action_summary.status,
  offline_conversion_upload_conversion_action_summary.total_event_count,
  offline_conversion_upload_conversion_action_summary.successful_event_count,
  offline_conversion_upload_conversion_action_summary.pending_event_count,
  offline_conversion_upload_conversion_action_summary.last_upload_date_time,
  offline_conversion_upload_conversion_action_summary.daily_summaries,
  offline_conversion_upload_conversion_action_summary.alerts
FROM offline_conversion_upload_conversion_action_summary
"""
# All conversions by action and days from click over the last 90 days (GAQL's date literals stop at LAST_30_DAYS):
# the two dates are filled in from the run's date, yesterday and 90 days before today.
CONVERSION_LAG_QUERY = """
SELECT segments.conversion_action, segments.conversion_lag_bucket, metrics.all_conversions
FROM customer
WHERE segments.date BETWEEN '{start}' AND '{end}'
"""


def conversion_lag_query(today: date) -> str:
    """The conversion lag query over the `LAG_DAYS` full days before `today`."""
    start, end = today - timedelta(days=LAG_DAYS), today - timedelta(days=1)
    return CONVERSION_LAG_QUERY.format(start=start.isoformat(), end=end.isoformat())


# The optional queries, in the order they run (the custom goals one follows, when a campaign names one; then the
# upload summaries and the conversion lag).
OPTIONAL_QUERIES = (
    (GOALS_FILE, GOALS_QUERY),
    (CUSTOMER_FILE, CUSTOMER_QUERY),
    (CAMPAIGNS_FILE, CAMPAIGNS_QUERY),
    (CAMPAIGN_GOALS_FILE, CAMPAIGN_GOALS_QUERY),
    (GOAL_CONFIGS_FILE, GOAL_CONFIGS_QUERY),
)
# Cancelled or suspended clients would only fail on fetch (CUSTOMER_NOT_ENABLED): leave them out.
CLIENTS_QUERY = """
SELECT customer_client.id, customer_client.descriptive_name, customer_client.currency_code,
  customer_client.manager, customer_client.status, customer_client.level
FROM customer_client
WHERE customer_client.manager = FALSE AND customer_client.status = 'ENABLED'
"""

# Since developer tokens were sunset (9 September 2026), API access belongs to the Google Cloud project of the OAuth
# client or service account: Test (test accounts only), Explorer, Basic or Standard.
TEST_ACCESS_HINT = ("the Google Cloud project of these credentials has Test access to the Google Ads API (test "
                    "accounts only): apply for Explorer access in the Cloud console > Google Ads API overview > "
                    "Explorer access")
NO_TOKEN_HINT = ("a developer token is no longer needed: remove developer_token from the Google Ads settings (or "
                 "unset GOOGLE_ADS_DEVELOPER_TOKEN)")
# What to do about the errors a user can fix, by GoogleAdsFailure error code.
_HINTS = {
    "USER_PERMISSION_DENIED": "the signed-in user cannot access this account; if it is reached through a manager "
                              "account, set login_customer_id to that manager's 10-digit id",
    "CUSTOMER_NOT_ENABLED": "the account is cancelled, suspended or not set up yet; leave it out of the audit",
    "CUSTOMER_NOT_FOUND": "check the customer id",
    "INVALID_CUSTOMER_ID": "check the customer id (10 digits)",
    "INVALID_LOGIN_CUSTOMER_ID": "login_customer_id must be the 10-digit id of a manager that links this account",
    # v25+ answer CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION, older versions DEVELOPER_TOKEN_NOT_APPROVED: one cause
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION": TEST_ACCESS_HINT,
    "DEVELOPER_TOKEN_NOT_APPROVED": TEST_ACCESS_HINT,
    # a general permission error; a Test-level project is only one of its causes
    "ACTION_NOT_PERMITTED": "the credentials may not do this on this account: check the signed-in user's access "
                            "to it; one possible cause is a Google Cloud project with Test access to the Google Ads "
                            "API (test accounts only: apply for Explorer access in the Cloud console > Google Ads "
                            "API overview)",
    "PROJECT_DISABLED": "enable the Google Ads API in the credentials' Google Cloud project (Cloud console > APIs & "
                        "Services)",
    "MISSING_TOS": "accept the Google Ads API terms in the Cloud console > Google Ads API overview",
    "DEVELOPER_TOKEN_PROHIBITED": NO_TOKEN_HINT,
    "DEVELOPER_TOKEN_NOT_ON_ALLOWLIST": NO_TOKEN_HINT,
    "DEVELOPER_TOKEN_INVALID": NO_TOKEN_HINT,
    "NOT_ADS_USER": "the Google account behind the credentials has no Google Ads access",
    "OAUTH_TOKEN_INVALID": "create a new refresh token",
    "OAUTH_TOKEN_EXPIRED": "create a new refresh token",
    "OAUTH_TOKEN_REVOKED": "create a new refresh token",
    "OAUTH_TOKEN_DISABLED": "create a new refresh token",
    "RESOURCE_EXHAUSTED": "API quota exhausted; run again later or audit fewer accounts at once (ads.daily_operations "
                          "in the config caps what a run spends)",
    "RESOURCE_TEMPORARILY_EXHAUSTED": "API quota exhausted for now; run again in a few minutes",
}
_QUERY_BUG = "the auditor's query was rejected; please report this with the auditor version"


def normalise_customer_id(value: str | int, what: str = "customer id") -> str:
    """'123-456-7890' or 1234567890 -> '1234567890'; anything else is a ConfigError."""
    cid = re.sub(r"[\s-]", "", str(value))
    if not re.fullmatch(r"\d{10}", cid):
        raise ConfigError(f"Google Ads {what} {str(value)!r}: expected 10 digits, like 123-456-7890")
    return cid


@dataclass(frozen=True)
class AdsSettings:
    credentials: google.auth.credentials.Credentials = field(repr=False)
    # Optional since developer tokens were sunset (access belongs to the credentials' Google Cloud project): sent
    # only when configured, ignored by the API. A secret: never printed.
    developer_token: str | None = field(default=None, repr=False)
    login_customer_id: str | None = None  # 10 digits, no dashes
    endpoint: str | None = None  # AUDITOR_ADS_ENDPOINT, e.g. "localhost:PORT"
    policy: CallPolicy = CallPolicy()

    def __post_init__(self) -> None:
        if not self.developer_token:  # "" in a settings file means not configured, never an empty header
            object.__setattr__(self, "developer_token", None)
        if self.login_customer_id is not None:
            object.__setattr__(self, "login_customer_id",
                               normalise_customer_id(self.login_customer_id, "login_customer_id"))


class AdsConnector:
    """Reads the conversion setup of Google Ads customers. Thread-safe: one gRPC channel per login id."""

    def __init__(self, settings: AdsSettings) -> None:
        self.settings = settings
        self._policy = settings.policy
        self._clients: dict[str | None, GoogleAdsClient] = {}
        self._services: dict[str | None, Any] = {}
        self._login_for: dict[str, str] = {}  # customer -> manager it was discovered under
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._calls = 0
        self._retries = 0
        # Built once, directly: the load_from_* helpers would refresh the OAuth token here (a network call).
        self._client(settings.login_customer_id)

    # --- public -------------------------------------------------------------------------------------------

    def fetch(
        self, customer_id: str, login_customer_id: str | None = None, today: date | None = None,
    ) -> tuple[dict[str, list[dict]], dict[str, str]]:
        """Bodies keyed by fixture file, and optional files that could not be fetched -> reason.

        Ten searchStream queries, one per resource: conversion actions and their 30-day stats (required),
        then customer goals, tracking settings, campaigns, campaign goals and campaign goal configs (optional);
        an eighth, custom conversion goals, only when a goal config names one (otherwise the file is an empty
        stream: collected, none used). Then the offline conversion upload summaries (per upload client and per
        conversion action) and the conversion lag of the 90 days before `today` (the run's date). An optional
        query the API refuses (permission, not found, a rejected query) is listed under `missing`; one still
        unavailable after its retries fails the customer.
        """
        cid = normalise_customer_id(customer_id)
        login = (normalise_customer_id(login_customer_id, "login_customer_id") if login_customer_id
                 else self._login_for.get(cid, self.settings.login_customer_id))
        bodies = {
            ACTIONS_FILE: self._stream(cid, ACTIONS_QUERY, login),
            STATS_FILE: self._stream(cid, STATS_QUERY, login),
        }
        missing: dict[str, str] = {}

        def optional(key: str, query: str) -> None:
            try:
                bodies[key] = self._stream(cid, query, login)
            except Unavailable:
                raise
            except SourceError as e:  # optional: the rules that need it report that they could not run
                missing[key] = str(e)

        for key, query in OPTIONAL_QUERIES:
            optional(key, query)
        configs = bodies.get(GOAL_CONFIGS_FILE)
        if configs is None:
            missing[CUSTOM_GOALS_FILE] = (f"not read: {GOAL_CONFIGS_FILE} was not collected, so which custom "
                                          "goals campaigns use is unknown")
        elif not custom_goals_named(configs):
            bodies[CUSTOM_GOALS_FILE] = [dict(b) for b in EMPTY_STREAM]
        else:
            optional(CUSTOM_GOALS_FILE, CUSTOM_GOALS_QUERY)
        if today is None:
            from auditor.clock import run_date

            today = run_date()
        for key, query in ((UPLOAD_CLIENT_SUMMARIES_FILE, UPLOAD_CLIENT_SUMMARIES_QUERY),
                           (UPLOAD_ACTION_SUMMARIES_FILE, UPLOAD_ACTION_SUMMARIES_QUERY),
                           (CONVERSION_LAG_FILE, conversion_lag_query(today))):
            optional(key, query)
        return bodies, missing

    def discover(self, manager_id: str) -> list[dict]:
        """The client (non-manager, enabled) accounts under a manager, at every level below it."""
        mid = normalise_customer_id(manager_id, "manager id")
        found = []
        for body in self._stream(mid, CLIENTS_QUERY, mid):
            for row in body.get("results", []):
                c = row.get("customerClient", {})
                if not c.get("id"):
                    continue
                cid = str(c["id"])
                found.append({"customer": cid, "descriptive_name": c.get("descriptiveName"),
                              "currency_code": c.get("currencyCode")})
                # its data is reached through this manager unless the caller says otherwise
                self._login_for.setdefault(cid, mid)
        return found

    def calls_made(self) -> int:
        """API calls issued (one per query; retried attempts are counted by `retries_made`)."""
        with self._lock:
            return self._calls

    def retries_made(self) -> int:
        with self._lock:
            return self._retries

    def close(self) -> None:
        """Close the gRPC channels (a later call opens new ones)."""
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for service in services:
            service.transport.close()

    def __enter__(self) -> AdsConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls --------------------------------------------------------------------------------------------

    def _client(self, login: str | None) -> GoogleAdsClient:
        with self._lock:
            client = self._clients.get(login)
            if client is None:
                client = GoogleAdsClient(
                    credentials=self.settings.credentials, developer_token=self.settings.developer_token,
                    login_customer_id=login, endpoint=self.settings.endpoint, version=API_VERSION,
                    use_proto_plus=True)
                self._clients[login] = client
            return client

    def _service(self, login: str | None) -> Any:
        client = self._client(login)
        with self._lock:
            service = self._services.get(login)
            if service is None:
                service = self._services[login] = client.get_service("GoogleAdsService", version=API_VERSION)
            return service

    def _retry(self, tries: Attempts) -> gretry.Retry:
        """The policy's Retry, bounded by attempts (and time). `tries` counts the failed attempts of the whole
        query, re-runs of a broken stream included, for the bound and the message."""

        def on_failure(exc: Exception, again: bool) -> None:
            if again:
                with self._lock:
                    self._retries += 1

        return self._policy.retry(TRANSIENT, on_failure=on_failure, attempts=tries)

    def _stream(self, customer_id: str, query: str, login: str | None) -> list[dict]:
        """Run one searchStream query to the end; each batch -> its JSON body. Raises SourceError."""
        self._ensure_token()
        service = self._service(login)
        query = " ".join(query.split())
        tries = Attempts()
        with self._lock:
            self._calls += 1
        while True:
            started = False
            try:
                stream = service.search_stream(customer_id=customer_id, query=query, retry=self._retry(tries),
                                               timeout=self._policy.timeout)
                started = True  # the first batch arrived (api-core prefetches it inside the retry)
                bodies = [_body(batch) for batch in stream]
                return bodies or [{"results": []}]
            except TRANSIENT as e:
                # A stream broken after its first batch is not retried by api-core: run the query again.
                if started:
                    tries.failed += 1
                if not started or tries.failed >= self._policy.attempts:
                    raise Unavailable(str(_source_error(customer_id, e, login, tries.failed))) from None
                time.sleep(self._policy.backoff(tries.failed))
                with self._lock:
                    self._retries += 1
            except (GoogleAdsException, gexc.GoogleAPIError, grpc.RpcError, auth_exc.GoogleAuthError) as e:
                error = _source_error(customer_id, e, login, tries.failed)
                raise (Unavailable(str(error)) if _transient(e) else error) from None

    def ensure_token(self) -> None:
        """Fetch the OAuth access token now (once per connector): the live run does it before reading any
        client, so rejected credentials fail once, as one line."""
        self._ensure_token()

    def _ensure_token(self) -> None:
        """Fetch the first OAuth access token ourselves, once: a bad refresh token then fails at once with a
        clear message instead of as retried UNAVAILABLE errors from inside grpc's auth plugin."""
        creds = self.settings.credentials
        if creds.valid:
            return
        with self._token_lock:
            if creds.valid:
                return
            from google.auth.transport.requests import Request

            try:
                creds.refresh(Request())
            except auth_exc.RefreshError as e:
                raise ConfigError(f"Google Ads OAuth: {_auth_reason(e)}; check client_id, client_secret and "
                                  "refresh_token (or the service-account key), or create a new refresh token"
                                  ) from None
            except auth_exc.TransportError as e:
                raise SourceError(f"Google Ads OAuth: cannot reach the token endpoint: {_first_line(e)}") from None


class Unavailable(SourceError):
    """A query still failing transiently (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL) after its
    retries: the customer cannot be read now, even when the query is an optional one."""


_TRANSIENT_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL})


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, TRANSIENT):
        return True
    call = getattr(exc, "error", None) if isinstance(exc, GoogleAdsException) else exc
    code = getattr(call, "code", None)
    try:
        return callable(code) and code() in _TRANSIENT_CODES
    except Exception:  # a call object without a status says nothing more
        return False


def custom_goals_named(config_bodies: list[dict]) -> list[str]:
    """The custom conversion goals the campaign goal configs name (resource names, in order, once each)."""
    named: list[str] = []
    for body in config_bodies:
        for row in body.get("results") or ():
            goal = (row.get("conversionGoalCampaignConfig") or {}).get("customConversionGoal")
            if goal and goal not in named:
                named.append(goal)
    return named


def _body(batch: Any) -> dict:
    """One SearchGoogleAdsStreamResponse -> the dict its JSON mapping gives, as the REST API writes it:
    ``to_json(batch, use_integers_for_enums=False, always_print_fields_with_no_presence=False)`` (unset fields
    left out, else every row lists dozens of UNSPECIFIED segments), except for the field mask, see below."""
    pb = type(batch).pb(batch)
    # protobuf's JSON printer cannot write a FieldMask path like google_analytics_4_settings (a digit after
    # "_") and fails the whole batch: write the mask ourselves.
    paths = list(pb.field_mask.paths)
    pb.ClearField("field_mask")
    body = json_format.MessageToDict(pb)
    if paths:
        body["fieldMask"] = ",".join(_camel_path(p) for p in paths)
    return body


def _camel_path(path: str) -> str:
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part) for part in path.split("."))


def _source_error(customer_id: str, exc: BaseException, login: str | None, tries: int = 0) -> SourceError:
    """One actionable line naming the customer and the API's error code and message."""
    via = login if login and login != customer_id else None
    head = f"Google Ads customer {customer_id}" + (f" (via manager {via})" if via else "")
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        exc = exc.cause
    retried = f" after {tries} attempts" if tries > 1 else ""
    failure = getattr(exc, "failure", None)
    if failure is None:  # errors api-core converted still carry the trailer (quota: RESOURCE_EXHAUSTED)
        failure = _failure_from_trailer(getattr(exc, "response", None))
    if failure is not None and failure.errors:
        code, message = _error_code(failure.errors[0])
        more = f" (+{len(failure.errors) - 1} more errors)" if len(failure.errors) > 1 else ""
        if code == "USER_PERMISSION_DENIED" and via:
            hint = f"check that manager {via} links this account and that the signed-in user can access it"
        else:
            hint = _HINTS.get(code) or (_QUERY_BUG if _error_field(failure.errors[0]) == "query_error" else "")
        text = _first_line(message).rstrip(". ")
        return SourceError(f"{head}: {code}{retried}: {text}{more}" + (f"; {hint}" if hint else ""))
    if isinstance(exc, gexc.GoogleAPICallError):
        status = exc.grpc_status_code.name if exc.grpc_status_code else str(exc.code)
        msg = f"{head}: {status}{retried}: {_first_line(exc.message).rstrip('. ')}"
        if isinstance(exc, TRANSIENT):
            msg += "; the API was unavailable or too slow, run again later"
        return SourceError(msg)
    if isinstance(exc, grpc.RpcError) and isinstance(exc, grpc.Call):
        return SourceError(f"{head}: {exc.code().name}: {_first_line(exc.details() or '')}")
    if isinstance(exc, auth_exc.RefreshError):
        return SourceError(f"{head}: OAuth: {_auth_reason(exc)}; create a new refresh token")
    return SourceError(f"{head}: {type(exc).__name__}: {_first_line(str(exc))}")


def _error_field(error: Any) -> str:
    return type(error.error_code).pb(error.error_code).WhichOneof("error_code") or ""


def _error_code(error: Any) -> tuple[str, str]:
    name = _error_field(error)
    value = getattr(error.error_code, name, None) if name else None
    code = "UNKNOWN_ERROR" if value is None else (getattr(value, "name", None) or str(value))
    return code, error.message


def _failure_from_trailer(call: Any) -> Any:
    trailer = getattr(call, "trailing_metadata", None)
    if not callable(trailer):
        return None
    key = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
    try:
        for k, v in trailer() or ():
            if k == key:
                from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

                return GoogleAdsFailure.deserialize(v)
    except Exception:  # an unreadable trailer only costs the detail
        return None
    return None


def _auth_reason(exc: BaseException) -> str:
    # RefreshError args: (message, response body); the body may be long, the message says enough
    return _first_line(str(exc.args[0]) if exc.args else str(exc))


def _first_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"

