"""Live GA4 connector: Admin v1beta (and v1alpha for attribution settings) + Data v1beta (and v1alpha for funnel
reports) responses -> bodies keyed like the ``ga4/*.json`` fixtures.

Imported only on the live path (the Google libraries take ~0.6 s to import). Every call goes through the real
client libraries with an explicit retry and timeout; responses are written back to the API's JSON mapping so
the live path and `audit --offline` share one mapping.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import requests
from google.analytics import admin_v1beta, data_v1beta
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from requests.adapters import HTTPAdapter

from auditor.connectors.ga4_auth import GA4_SCOPES, describe, load_ga4_credentials
from auditor.connectors.retry import TRANSIENT, CallPolicy
from auditor.errors import ConfigError, SourceError

API_VERSIONS = {"admin": "v1beta", "data": "v1beta", "data_funnels": "v1alpha", "admin_attribution": "v1alpha"}

ENV_ADMIN_ENDPOINT = "AUDITOR_GA4_ADMIN_ENDPOINT"
ENV_DATA_ENDPOINT = "AUDITOR_GA4_DATA_ENDPOINT"

KEY_EVENTS_PAGE_SIZE = 200  # the API maximum: one call for any realistic property
REPORT_PAGE_ROWS = 10_000
REPORT_MAX_PAGES = 100  # a runaway guard (1M event names); eventName cardinality is a few hundred at most
REPORT_METRICS = ("eventCount", "totalUsers", "eventValue", "keyEvents")
REPORT_DAYS = ("28daysAgo", "yesterday")  # full days only: today's partial data would skew volumes
# The key events GA4 credits to each Google Ads account: googleAdsCustomerId is attribution-scoped (the account
# whose click GA4 credits with the key event; "(not set)" for every other channel), written as 123-456-7890.
ADS_KEY_EVENTS_DIMENSIONS = ("eventName", "googleAdsCustomerId")
ADS_KEY_EVENTS_METRICS = ("keyEvents",)
FUNNEL_CALL = "runFunnelReport"
BATCH_CALL = "batchRunReports"
ATTRIBUTION_CALL = "getAttributionSettings"
_DATA_CALLS = frozenset({"runReport", BATCH_CALL, FUNNEL_CALL})

EVENTS_FILE = "ga4/events.json"
ADS_KEY_EVENTS_FILE = "ga4/ads_key_events.json"
ATTRIBUTION_FILE = "ga4/attribution_settings.json"

# A connection reset or read timeout over REST is what gRPC reports as UNAVAILABLE / DEADLINE_EXCEEDED, and
# REST maps HTTP 504/502 to GatewayTimeout/BadGateway rather than DeadlineExceeded: retry them all alike.
_NETWORK = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
_RETRYABLE = (*TRANSIENT, gexc.GatewayTimeout, gexc.BadGateway, *_NETWORK)

Bodies = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class GA4Settings:
    credentials: google.auth.credentials.Credentials | None  # None -> application default credentials
    admin_endpoint: str | None = None  # e.g. http://127.0.0.1:8080 for a loopback fake
    data_endpoint: str | None = None
    policy: CallPolicy = field(default_factory=CallPolicy)
    max_connections: int = 16  # HTTP pool per client; set it to the number of worker threads if larger

    @classmethod
    def from_env(cls, credentials: google.auth.credentials.Credentials | None = None) -> GA4Settings:
        return cls(
            credentials=credentials,
            admin_endpoint=os.environ.get(ENV_ADMIN_ENDPOINT) or None,
            data_endpoint=os.environ.get(ENV_DATA_ENDPOINT) or None,
            policy=CallPolicy.from_env(),
        )


class GA4Connector:
    """Builds the Admin and Data clients once (the v1alpha Admin client on the first attribution settings, the
    v1alpha Data client on the first funnel report); `fetch`, `funnel_reports` and `discover` are safe to call
    from several threads."""

    def __init__(self, settings: GA4Settings) -> None:
        self.settings = settings
        creds = settings.credentials
        if creds is None:  # resolve ADC here so both clients share one token and errors can name the account
            creds, _ = load_ga4_credentials(None)
        self._credentials = creds
        self._who = describe(creds)
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._admin = admin_v1beta.AnalyticsAdminServiceClient(
            credentials=creds, transport=self._transport(admin_v1beta.AnalyticsAdminServiceClient),
            client_options=self._options(settings.admin_endpoint))
        self._data = data_v1beta.BetaAnalyticsDataClient(
            credentials=creds, transport=self._transport(data_v1beta.BetaAnalyticsDataClient),
            client_options=self._options(settings.data_endpoint))
        self._alpha: Any = None  # the v1alpha Data client, built on the first funnel report (see _funnel_client)
        self._alpha_lock = threading.Lock()
        self._admin_alpha: Any = None  # the v1alpha Admin client, built on the first getAttributionSettings

    # -- public -------------------------------------------------------------------------------------------

    def fetch(self, property_id: str, links: list[dict[str, Any]] | None = None) -> tuple[Bodies, dict[str, str]]:
        """All GA4 bodies of one property and the optional files that could not be fetched (key -> reason).

        Six calls when nothing pages: properties.get, keyEvents.list, batchRunReports (the 28-day event report
        and the key events GA4 attributes to Google Ads accounts, in one call), getDataRetentionSettings,
        googleAdsLinks.list and getAttributionSettings (Admin v1alpha). `links`: the googleAdsLinks.list pages
        already read (by discovery), not read again. A failing required call raises SourceError with one
        actionable line; an optional one the credentials may not reach is listed under `missing`.
        """
        pid = _property_id(property_id)
        name = f"properties/{pid}"
        bodies: Bodies = {}
        missing: dict[str, str] = {}
        admin = self._admin
        timeout = self.settings.policy.timeout
        bodies["ga4/property.json"] = [self._call(pid, "properties.get", lambda r: admin.get_property(
            name=name, retry=r, timeout=timeout))]
        bodies["ga4/key_events.json"] = self._pages(pid, "keyEvents.list", lambda r: admin.list_key_events(
            request={"parent": name, "page_size": KEY_EVENTS_PAGE_SIZE}, retry=r, timeout=timeout))
        key_events = sorted({str(k.get("eventName")) for page in bodies["ga4/key_events.json"]
                             for k in page.get("keyEvents") or () if k.get("eventName")})
        bodies[EVENTS_FILE], bodies[ADS_KEY_EVENTS_FILE] = self._reports(pid, name, key_events)
        try:
            bodies["ga4/data_retention.json"] = [self._call(
                pid, "getDataRetentionSettings", lambda r: admin.get_data_retention_settings(
                    name=f"{name}/dataRetentionSettings", retry=r, timeout=timeout), optional=True)]
        except OptionalMissing as e:
            missing["ga4/data_retention.json"] = e.reason
        if links is not None:
            bodies["ga4/google_ads_links.json"] = links
        else:
            try:
                bodies["ga4/google_ads_links.json"] = self.ads_links(pid)
            except OptionalMissing as e:
                missing["ga4/google_ads_links.json"] = e.reason
        try:
            bodies[ATTRIBUTION_FILE] = [self._attribution_settings(pid)]
        except OptionalMissing as e:
            missing[ATTRIBUTION_FILE] = e.reason
        return bodies, missing

    def ads_links(self, property_id: str) -> list[dict[str, Any]]:
        """googleAdsLinks.list pages of one property (discovery pairs properties with Ads accounts by them).

        Raises SourceError, or `OptionalMissing` when the credentials may not list links (PERMISSION_DENIED,
        NOT_FOUND): then the property is still audited, without links.
        """
        pid = _property_id(property_id)
        admin = self._admin
        return self._pages(pid, "googleAdsLinks.list", lambda r: admin.list_google_ads_links(
            parent=f"properties/{pid}", retry=r, timeout=self.settings.policy.timeout), optional=True)

    def funnel_reports(self, property_id: str, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """One closed two-step funnel report per (micro, macro) event pair, over the 28 days of the event report:
        how many users who did the micro went on to do the macro. Bodies in `pairs` order (`ga4/funnels.json`).

        Each step is named after its event, so GA4's step values ("1. add_to_cart") explain themselves. Optional:
        PERMISSION_DENIED, NOT_FOUND and INVALID_ARGUMENT (the API is an alpha; a property or request it will
        not serve must not cost the audit) raise `OptionalMissing`; anything else raises SourceError.
        """
        pid = _property_id(property_id)
        if not pairs:
            return []
        alpha, client = self._funnel_client()
        out: list[dict[str, Any]] = []
        for micro, macro in pairs:
            request = alpha.RunFunnelReportRequest(
                property=f"properties/{pid}",
                date_ranges=[alpha.DateRange(start_date=REPORT_DAYS[0], end_date=REPORT_DAYS[1])],
                funnel=alpha.Funnel(is_open_funnel=False, steps=[  # closed: users must enter at the micro
                    alpha.FunnelStep(name=event, filter_expression=alpha.FunnelFilterExpression(
                        funnel_event_filter=alpha.FunnelEventFilter(event_name=event)))
                    for event in (micro, macro)]),
            )
            out.append(self._call(pid, FUNNEL_CALL, lambda r, q=request: client.run_funnel_report(
                request=q, retry=r, timeout=self.settings.policy.timeout), optional=True))
        return out

    def funnels_used(self) -> bool:
        """Whether a funnel report was asked for (the recording's manifest then names the v1alpha API)."""
        return self._alpha is not None

    def attribution_used(self) -> bool:
        """Whether attribution settings were asked for (the manifest then names the Admin v1alpha API)."""
        return self._admin_alpha is not None

    def ensure_token(self) -> None:
        """Fetch the access token once, up front: rejected credentials then fail once, as one line, before any
        client is read, instead of once per client."""
        creds = self._credentials
        if creds.valid:
            return
        from google.auth.transport.requests import Request

        try:
            creds.refresh(Request())
        except google.auth.exceptions.RefreshError as e:
            raise ConfigError(f"GA4: the token endpoint rejected the credentials of {self._who} "
                              f"({_oneline(str(e.args[0]) if e.args else str(e))}); renew the key or re-run "
                              "`gcloud auth application-default login`") from None
        except (google.auth.exceptions.TransportError, *_NETWORK) as e:
            raise SourceError(f"GA4: cannot reach the token endpoint ({_oneline(str(e))})") from None

    def discover(self) -> list[dict[str, str]]:
        """Every property the credentials can read (accountSummaries.list, paged), sorted as the API lists them."""
        found: list[dict[str, str]] = []
        admin = self._admin
        pages = self._pages("", "accountSummaries.list", lambda r: admin.list_account_summaries(
            request={"page_size": 200}, retry=r, timeout=self.settings.policy.timeout), as_json=False)
        for page in pages:
            for acct in page.account_summaries:
                for ps in acct.property_summaries:
                    found.append({
                        "property": ps.property.rsplit("/", 1)[-1],
                        "display_name": ps.display_name,
                        "account": acct.account.rsplit("/", 1)[-1],
                        "account_display_name": acct.display_name,
                        "property_type": getattr(ps.property_type, "name", str(ps.property_type)),
                    })
        return found

    @property
    def credentials(self) -> google.auth.credentials.Credentials:
        """The credentials in use (application default ones resolved)."""
        return self._credentials

    def calls_made(self, property_id: str | None = None) -> int:
        """HTTP calls sent (retries and failed attempts included): for one property, or in total."""
        with self._lock:
            if property_id is None:
                return sum(self._calls.values())
            return self._calls.get(_property_id(property_id), 0)

    # -- calls ----------------------------------------------------------------------------------------------

    def _count(self, pid: str) -> None:
        with self._lock:
            self._calls[pid] = self._calls.get(pid, 0) + 1

    def _retry(self, pid: str) -> gretry.Retry:
        """The policy's Retry (bounded by attempts and time); a failed attempt is a call too (quota is charged)."""
        return self.settings.policy.retry(_RETRYABLE, on_failure=lambda exc, again: self._count(pid))

    def _call(self, pid: str, call: str, fn: Callable[[gretry.Retry], Any], optional: bool = False) -> dict:
        try:
            resp = fn(self._retry(pid))
        except Exception as e:  # every failure becomes one line (or a missing optional file)
            raise self._error(pid, call, e, optional) from None
        self._count(pid)
        return _to_dict(resp)

    def _pages(self, pid: str, call: str, fn: Callable[[gretry.Retry], Any], optional: bool = False,
               as_json: bool = True) -> list[Any]:
        """Every page of a list call; the pager reuses the first call's retry and timeout for later pages."""
        out: list[Any] = []
        try:
            pager = fn(self._retry(pid))
            for page in pager.pages:
                self._count(pid)
                out.append(_to_dict(page) if as_json else page)
        except Exception as e:
            raise self._error(pid, call, e, optional) from None
        return out

    def _reports(self, pid: str, name: str, key_events: Sequence[str]) -> tuple[list[dict], list[dict]]:
        """The 28-day event report (``ga4/events.json``) and the Ads-attributed key events report
        (``ga4/ads_key_events.json``), both first pages in ONE batchRunReports call; a report with more rows
        than a page holds is read on with runReport, by offset, until rowCount rows are read.

        The second report is asked for only when the property has key events (only key events can be imported
        into Google Ads, and the report is filtered to them); without any, its file is the empty report GA4
        would give, so the mapping knows it was collected."""
        requests = [self._events_request()]
        if key_events:
            requests.append(self._ads_key_events_request(key_events))
        batch = data_v1beta.BatchRunReportsRequest(property=name, requests=requests)
        body = self._call(pid, BATCH_CALL, lambda r: self._data.batch_run_reports(
            request=batch, retry=r, timeout=self.settings.policy.timeout))
        reports = list(body.get("reports") or ())
        if len(reports) != len(requests):
            raise SourceError(f"GA4 property {pid}: {BATCH_CALL} answered {len(reports)} reports for "
                              f"{len(requests)} requests")
        pages = [self._rest_of_report(pid, name, request, first) for request, first in zip(
            requests, reports, strict=True)]
        events = pages[0]
        if key_events:
            return events, pages[1]
        return events, [_empty_ads_key_events(events[0])]

    @staticmethod
    def _events_request() -> data_v1beta.RunReportRequest:
        return data_v1beta.RunReportRequest(  # no property: a batch's requests take the batch's
            dimensions=[data_v1beta.Dimension(name="eventName")],
            metrics=[data_v1beta.Metric(name=m) for m in REPORT_METRICS],
            date_ranges=[data_v1beta.DateRange(start_date=REPORT_DAYS[0], end_date=REPORT_DAYS[1])],
            limit=REPORT_PAGE_ROWS,
        )

    @staticmethod
    def _ads_key_events_request(key_events: Sequence[str]) -> data_v1beta.RunReportRequest:
        return data_v1beta.RunReportRequest(
            dimensions=[data_v1beta.Dimension(name=d) for d in ADS_KEY_EVENTS_DIMENSIONS],
            metrics=[data_v1beta.Metric(name=m) for m in ADS_KEY_EVENTS_METRICS],
            date_ranges=[data_v1beta.DateRange(start_date=REPORT_DAYS[0], end_date=REPORT_DAYS[1])],
            dimension_filter=data_v1beta.FilterExpression(filter=data_v1beta.Filter(
                field_name="eventName",
                in_list_filter=data_v1beta.Filter.InListFilter(values=list(key_events), case_sensitive=True))),
            limit=REPORT_PAGE_ROWS,
        )

    def _rest_of_report(self, pid: str, name: str, request: data_v1beta.RunReportRequest,
                        first: dict) -> list[dict]:
        """`first` and the pages after it (runReport by offset) until rowCount rows are read."""
        pages = [first]
        offset = len(first.get("rows") or ())
        for _ in range(REPORT_MAX_PAGES - 1):
            if not pages[-1].get("rows") or offset >= int(pages[-1].get("rowCount") or 0):
                break
            page = data_v1beta.RunReportRequest(request)
            page.property = name
            page.offset = offset
            body = self._call(pid, "runReport", lambda r, q=page: self._data.run_report(
                request=q, retry=r, timeout=self.settings.policy.timeout))
            pages.append(body)
            offset += len(body.get("rows") or ())
        return pages

    def _attribution_settings(self, pid: str) -> dict:
        """properties.getAttributionSettings (Admin API v1alpha only). Optional: raises `OptionalMissing` when
        the credentials may not read it."""
        client = self._attribution_client()
        return self._call(pid, ATTRIBUTION_CALL, lambda r: client.get_attribution_settings(
            name=f"properties/{pid}/attributionSettings", retry=r, timeout=self.settings.policy.timeout),
            optional=True)

    def _attribution_client(self) -> Any:
        """The Admin v1alpha client, imported and built once, on the first attribution settings read (the
        import is not free, and `auth check` or discovery never need it)."""
        with self._alpha_lock:
            if self._admin_alpha is None:
                from google.analytics import admin_v1alpha

                self._admin_alpha = admin_v1alpha.AnalyticsAdminServiceClient(
                    credentials=self._credentials,
                    transport=self._transport(admin_v1alpha.AnalyticsAdminServiceClient),
                    client_options=self._options(self.settings.admin_endpoint))
            return self._admin_alpha

    def _funnel_client(self) -> tuple[Any, Any]:
        """(the data_v1alpha module, its client), imported and built once, on the first funnel report: most
        clients never need one and the import is not free."""
        with self._alpha_lock:
            from google.analytics import data_v1alpha

            if self._alpha is None:
                self._alpha = data_v1alpha.AlphaAnalyticsDataClient(
                    credentials=self._credentials,
                    transport=self._transport(data_v1alpha.AlphaAnalyticsDataClient),
                    client_options=self._options(self.settings.data_endpoint))
            return data_v1alpha, self._alpha

    # -- errors ---------------------------------------------------------------------------------------------

    def _error(self, pid: str, call: str, e: Exception, optional: bool) -> Exception:
        if isinstance(e, gexc.RetryError) and e.cause is not None:
            e = e.cause  # type: ignore[assignment]
        # REST raises the HTTP classes (Forbidden, NotFound...); gRPC's PermissionDenied etc. subclass them
        if optional and isinstance(e, (gexc.Forbidden, gexc.NotFound)):
            status = "permission denied" if isinstance(e, gexc.Forbidden) else "not found"
            return OptionalMissing(f"GA4 {_api(call)} {call}: {status} ({_msg(e)})")
        if optional and call == FUNNEL_CALL and isinstance(e, gexc.BadRequest):
            return OptionalMissing(f"GA4 {_api(call)} {call}: request rejected ({_msg(e)})")
        where = f"GA4 property {pid}" if pid else "GA4 account summaries"
        return SourceError(f"{where}: {self._explain(call, e)}")

    def _explain(self, call: str, e: Exception) -> str:
        api = _api(call)
        host = {"Admin": "analyticsadmin.googleapis.com", "Data": "analyticsdata.googleapis.com"}[api]
        attempts = self.settings.policy.attempts
        if isinstance(e, gexc.GoogleAPICallError):
            text = _msg(e)
            low = text.lower()
            if e.reason == "SERVICE_DISABLED" or "has not been used in project" in low or "it is disabled" in low:
                return (f"the Google Analytics {api} API is disabled in the credentials' Cloud project; enable "
                        f"{host} in Google Cloud console > APIs & Services")
            if e.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" or "insufficient authentication scopes" in low:
                return (f"{self._who} lacks the analytics.readonly scope; re-create the credentials with scope "
                        f"{GA4_SCOPES[0]}")
            if isinstance(e, gexc.Forbidden):
                return (f"permission denied for {self._who}; add it as a Viewer under Admin > Property access "
                        "management (or check the property id)")
            if isinstance(e, gexc.NotFound):
                return f"not found ({call}: {text}); check the property id under Admin > Property settings"
            if isinstance(e, gexc.Unauthorized):
                return (f"credentials of {self._who} were rejected ({text}); renew the key or re-run "
                        "`gcloud auth application-default login`")
            if isinstance(e, gexc.TooManyRequests):
                return f"{api} API quota exhausted on {call} after {attempts} attempts ({text}); retry later"
            if isinstance(e, _RETRYABLE):
                return f"{api} API unavailable on {call} after {attempts} attempts ({text}); retry later"
            if isinstance(e, gexc.BadRequest):
                return f"{call} rejected the request ({text})"
            return f"{call} failed: {e.code.name if hasattr(e.code, 'name') else e.code} {text}"
        if isinstance(e, (google.auth.exceptions.TransportError, *_NETWORK)):
            return f"cannot reach the {api} API on {call} after {attempts} attempts ({_oneline(str(e))})"
        if isinstance(e, google.auth.exceptions.GoogleAuthError):  # RefreshError, InvalidOperation...
            return f"could not get an access token for {self._who} ({_oneline(str(e))}); check the credentials"
        return f"{call} failed: {type(e).__name__}: {_oneline(str(e))}"

    # -- client construction ------------------------------------------------------------------------------

    def _transport(self, client_cls: Any) -> Callable[..., Any]:
        """REST transport factory for `client_cls`.

        REST everywhere (not only against a fake): the production path is then the one the loopback tests
        exercise end to end, there is no gRPC channel to manage across threads, and it needs no TLS roots
        setup. Self-signed JWT is turned off (the generated clients force it on) so a service-account key
        exchanges its assertion at the key's own ``token_uri``, as google-auth does natively.
        """
        rest_cls = client_cls.get_transport_class("rest")
        pool = self.settings.max_connections

        def build(**kwargs: Any) -> Any:
            kwargs["always_use_jwt_access"] = False
            transport = rest_cls(**kwargs)
            session = getattr(transport, "_session", None)
            if isinstance(session, requests.Session) and pool > 10:  # requests' default pool holds 10
                adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
            return transport

        return build

    @staticmethod
    def _options(endpoint: str | None) -> dict[str, Any]:
        # Read-only scope pinned here too: a transport left to resolve ADC itself would ask for analytics.edit.
        options: dict[str, Any] = {"scopes": list(GA4_SCOPES)}
        if endpoint:
            options["api_endpoint"] = endpoint.rstrip("/")  # "http://host:port" is honoured by the REST transport
        return options


class OptionalMissing(Exception):
    """An optional call the credentials may not reach: recorded in `missing`, the client still audits."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _property_id(value: str) -> str:
    text = str(value).strip()
    m = re.fullmatch(r"(?:properties/)?(\d+)", text)
    if not m:
        raise SourceError(f"GA4 property {text!r}: not a property id; expected digits such as 123456789 "
                          "(Admin > Property settings)")
    return m.group(1)


def _api(call: str) -> str:
    return "Data" if call in _DATA_CALLS else "Admin"


def _msg(e: gexc.GoogleAPICallError) -> str:
    return _oneline(e.message or str(e))


def _oneline(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _empty_ads_key_events(events: dict[str, Any]) -> dict[str, Any]:
    """The Ads key events report of a property without key events, as GA4 answers a report with no rows (the
    event report's metadata: same property, same 28 days)."""
    meta = events.get("metadata") or {}
    return _to_dict(data_v1beta.RunReportResponse(
        dimension_headers=[data_v1beta.DimensionHeader(name=d) for d in ADS_KEY_EVENTS_DIMENSIONS],
        metric_headers=[data_v1beta.MetricHeader(name=m, type_=data_v1beta.MetricType.TYPE_FLOAT)
                        for m in ADS_KEY_EVENTS_METRICS],
        metadata=data_v1beta.ResponseMetaData(currency_code=meta.get("currencyCode") or "",
                                              time_zone=meta.get("timeZone") or ""),
        kind="analyticsData#runReport"))


def _to_dict(message: Any) -> dict[str, Any]:
    """A response as ``to_json(use_integers_for_enums=False)`` writes it: the fixture contract of DOMAIN.md.

    camelCase, enum names, int64 as strings, and fields without presence printed even at their default, so a
    recorded ``"custom": false`` stays explicit instead of depending on how a reader fills in absent fields.
    """
    return json.loads(type(message).to_json(message, use_integers_for_enums=False, indent=None))
