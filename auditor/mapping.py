"""Raw API JSON -> model: the one mapping path for fixtures and live connectors alike.

Accepts what the APIs' JSON mapping writes (camelCase, enums by name, int64 as strings) and what
``to_json(preserving_proto_field_name=True)`` writes (snake_case). Unknown fields are ignored; unknown enum
values are kept as read with a warning naming file and field; a wrong type is a `FixtureError` naming both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from auditor import enums
from auditor.errors import FixtureError
from auditor.model import (
    GA4,
    UNKNOWN,
    ActionStats,
    Ads,
    AdsKeyEvents,
    AdsLink,
    AttributionSettings,
    Campaign,
    CampaignGoal,
    Client,
    ConversionAction,
    ConversionGoal,
    CustomGoal,
    DataRetention,
    EventStat,
    FunnelMeasure,
    KeyEvent,
    LagBucket,
    Property,
    TrackingSettings,
    UploadAlert,
    UploadDay,
    UploadSummary,
)
from auditor.raw import ALL_FILES, RawClient

_MISSING = object()
INT64_MAX = 2**63 - 1  # counts and micros travel as int64: anything beyond is not what the API wrote
# Targets above these are not settings anyone made (Google Ads caps target ROAS at 1,000, i.e. 100,000%): read as
# unknown with a warning, never printed ("target inf%") nor judged.
MAX_TARGET_ROAS = 1000.0
MAX_TARGET_CPA_MICROS = 10**12  # a million in the account's currency per conversion
MAX_AMOUNT = 1e15  # a value or conversion total above a quadrillion is a damaged number, not a result
_SURROGATE = re.compile("[\ud800-\udfff]")


def _camel(key: str) -> str:
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class Obj:
    """A JSON object read from one fixture file, with typed accessors that name file and field on error.

    Its place in the file (`rows[3].metricValues[1]`) is worked out only when a message names it: a report has
    thousands of cells and almost never a bad one."""

    __slots__ = ("data", "file", "warnings", "_parent", "_key", "_index")

    def __init__(self, data: Any, file: str, warnings: list[str], parent: Obj | None = None, key: str = "",
                 index: int | None = None) -> None:
        """`parent` and `key`: the object holding this one under `key` (at `index` when `key` is a list); a
        body of the file has no parent, and `key` is then its path ('' or '[i]' for a page)."""
        self.file, self.warnings, self._parent, self._key, self._index = file, warnings, parent, key, index
        if not isinstance(data, dict):
            raise FixtureError(file, f"expected an object, got {_kind(data)}", self.path or None)
        # snake_case keys (preserving_proto_field_name=True) read as their camelCase JSON names
        self.data = {_camel(k): v for k, v in data.items()} if "_" in "".join(data) else data

    @property
    def path(self) -> str:
        """Where this object is in its file: '' for the body, '[1]' for a page, 'rows[3].metricValues[1]'."""
        if self._parent is None:
            return self._key
        where = self._parent._where(self._key)
        return where if self._index is None else f"{where}[{self._index}]"

    def _where(self, key: str) -> str:
        path = self.path
        return f"{path}.{key}" if path else key

    def raw(self, key: str) -> Any:
        return self.data.get(key, _MISSING)

    def _null(self, key: str) -> None:
        """An explicit null: the APIs' JSON mapping leaves a field at its default out and never writes null, so a
        null is a damaged recording, not a zero or an unknown to guess at."""
        if key in self.data:
            raise FixtureError(self.file, "null where the API always writes a value (a field at its default is "
                                          "left out, never null)", self._where(key))

    def obj(self, key: str) -> Obj | None:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return None
        return Obj(v, self.file, self.warnings, self, key)

    def objs(self, key: str) -> Iterator[Obj]:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return
        if not isinstance(v, list):
            raise FixtureError(self.file, f"expected a list, got {_kind(v)}", self._where(key))
        file, warnings = self.file, self.warnings
        for i, item in enumerate(v):
            yield Obj(item, file, warnings, self, key, i)

    def cell_values(self, key: str) -> list[Any]:
        """The `value` of each object of list `key`, read straight from the JSON: the cells of a report row
        (`[{"value": "12"}, ...]`), thousands in a report. A cell that is not a plain object goes through its
        `cell`, which checks it and folds snake_case keys; a value that needs checking is read through it too."""
        cells = self.data.get(key)
        if cells is None:
            return []
        if not isinstance(cells, list):
            raise FixtureError(self.file, f"expected a list, got {_kind(cells)}", self._where(key))
        return [(c if c.__class__ is dict and "_" not in "".join(c) else self.cell(key, i).data).get("value")
                for i, c in enumerate(cells)]

    def cell(self, key: str, i: int) -> Obj:
        """The `Obj` of item `i` of list `key`: made when a message must name it."""
        return Obj(self.data[key][i], self.file, self.warnings, self, key, i)

    def str(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            if required:
                raise FixtureError(self.file, "required field is missing", self._where(key))
            return default
        if not isinstance(v, str):
            raise FixtureError(self.file, f"expected a string, got {_kind(v)}", self._where(key))
        if not v.isascii() and _SURROGATE.search(v):  # a JSON escape no API writes: not text any output can hold
            self.warnings.append(f"{self.file}: {self._where(key)}: not valid Unicode (a lone surrogate); replaced")
            return _SURROGATE.sub("\ufffd", v)
        return v

    def req(self, key: str) -> str:
        v = self.str(key, required=True)
        assert v is not None
        return v

    def bool(self, key: str, default: bool | None = False) -> bool | None:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return default
        if not isinstance(v, bool):
            raise FixtureError(self.file, f"expected true or false, got {_kind(v)}", self._where(key))
        return v

    def num(self, key: str, default: float | None = 0.0) -> float | None:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return default
        return self._number(v, key)

    def _number(self, v: Any, key: str) -> float:
        """A finite number: JSON numbers, or strings (int64 and special doubles travel as strings). NaN, the
        infinities and numbers beyond a double (1e309) are errors: no report may print 'nan conv.'."""
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise FixtureError(self.file, f"expected a number, got {_kind(v)}", self._where(key))
        try:
            n = float(v)
        except (ValueError, OverflowError):
            raise FixtureError(self.file, f"expected a number, got {_short(v)}", self._where(key)) from None
        if not math.isfinite(n):
            raise FixtureError(self.file, f"expected a finite number, got {_short(v)}", self._where(key))
        return n

    def int(self, key: str, default: int | None = 0) -> int | None:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return default
        n = self._number(v, key)
        if n != int(n) or n < 0 or n > INT64_MAX:
            raise FixtureError(self.file, f"expected a whole number from 0 to 2^63-1, got {_short(v)}",
                               self._where(key))
        return int(n)

    def count(self, key: str, what: str = "") -> float:
        """A count (events, users): never negative and within the API's int64, so anything else is an error
        naming file and field."""
        n = self.num(key) or 0.0
        if n < 0 or n > INT64_MAX:
            label = f" ({what})" if what else ""
            bound = "of at least 0" if n < 0 else "within the API's int64 range"
            raise FixtureError(self.file, f"expected a count {bound}, got {_short(self.data.get(key))}{label}",
                               self._where(key))
        return n

    def amount(self, key: str, default: float | None = 0.0, what: str = "") -> float | None:
        """A value or a conversion total: adjustments and refunds can make one negative, which no rule can
        judge, so it is read as unknown (no value) with a warning naming file and field."""
        n = self.num(key, default)
        if n is not None and (n < 0 or n > MAX_AMOUNT):
            label = f" ({what})" if what else ""
            kind = "negative value" if n < 0 else f"value beyond any account's (above {MAX_AMOUNT:.0e})"
            self.warnings.append(f"{self.file}: {self._where(key)}{label}: {kind} {_short(self.data.get(key))}, "
                                 "treated as unknown")
            return default
        return n

    def ident(self, key: str) -> str | None:
        """An int64 id: a string of digits as the JSON mapping writes it, or a plain number."""
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return None
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 20:
            return str(int(v))  # kept exact: a double would round ids beyond 2**53
        n = self._number(v, key)
        if n != int(n) or n < 0 or n >= 2**64:
            raise FixtureError(self.file, f"expected an id, got {_short(v)}", self._where(key))
        return str(int(n))

    def enum(self, key: str, known: frozenset[str], default: str = UNKNOWN) -> str:
        v = self.data.get(key)
        if v is None:
            self._null(key)
            return default
        if v.__class__ is str and v in known:  # the usual case
            return v
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise FixtureError(self.file, f"expected an enum name, got {_kind(v)}", self._where(key))
        if isinstance(v, int):
            self.warnings.append(
                f"{self.file}: {self._where(key)}: enum given as number {v}; "
                "record with use_integers_for_enums=False; read as UNKNOWN")
            return UNKNOWN
        if v not in known:
            self.warnings.append(f"{self.file}: {self._where(key)}: unknown value {v!r}, treated as unknown")
        return v


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):  # as the JSON had it (1e309 reads as Infinity)
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(v)]
    text = repr(v) if isinstance(v, str) else str(v)
    return text if len(text) <= 40 else f"{text[:37]}... ({len(text)} characters)"


class _Source:
    """The bodies of one fixture file as `Obj`s, with the file's display name for messages."""

    def __init__(self, raw: RawClient, key: str, warnings: list[str]) -> None:
        self.key, self.warnings = key, warnings
        self.file = f"{raw.origin.rstrip('/')}/{key}" if raw.origin else key
        self.bodies = raw.bodies.get(key)

    @property
    def present(self) -> bool:
        return self.bodies is not None

    def pages(self) -> Iterator[Obj]:
        bodies = self.bodies or []
        for i, body in enumerate(bodies):
            yield Obj(body, self.file, self.warnings, key=f"[{i}]" if len(bodies) > 1 else "")

    def first(self) -> Obj:
        bodies = self.bodies or []
        if not bodies:
            raise FixtureError(self.file, "holds no response body")
        return Obj(bodies[0], self.file, self.warnings)

    def items(self, key: str) -> Iterator[Obj]:
        for page in self.pages():
            yield from page.objs(key)


def map_client(raw: RawClient, profile: str) -> Client:
    """Build the immutable snapshot of one client from its raw bodies."""
    warnings: list[str] = list(raw.warnings)
    unusable: list[tuple[str, str]] = []  # (data a rule may require, why it cannot be trusted)
    for key, (required, _) in ALL_FILES.items():
        source = key.split("/", 1)[0]
        if required and raw.has_source(source) and key not in raw.bodies:
            reason = raw.missing.get(key, "required file is missing")
            name = f"{raw.origin.rstrip('/')}/{key}" if raw.origin else key
            raise FixtureError(name, reason)
    ga4 = _map_ga4(raw, warnings) if raw.has_source("ga4") else None
    ads = _map_ads(raw, warnings, unusable) if raw.has_source("ads") else None
    if ga4 is None and ads is None:
        raise FixtureError(raw.origin or raw.name, "no ga4/ or ads/ responses found")
    return Client(name=raw.name, profile=profile, ga4=ga4, ads=ads, warnings=tuple(warnings), history=raw.history,
                  unusable=tuple(unusable), read_on=raw.read_on)


def _map_ga4(raw: RawClient, warnings: list[str]) -> GA4:
    p = _Source(raw, "ga4/property.json", warnings).first()
    prop = Property(
        name=p.req("name"), display_name=p.str("displayName", "") or "", currency_code=p.str("currencyCode"),
        time_zone=p.str("timeZone"), industry_category=p.str("industryCategory"),
    )
    key_events = []
    for k in _Source(raw, "ga4/key_events.json", warnings).items("keyEvents"):
        dv = k.obj("defaultValue")
        key_events.append(KeyEvent(
            name=k.str("name", "") or "", event_name=k.req("eventName"),
            counting_method=k.enum("countingMethod", enums.COUNTING_METHOD),
            default_value=dv.amount("numericValue", None) if dv else None,
            default_currency=dv.str("currencyCode") if dv else None,
            custom=bool(k.bool("custom")), deletable=bool(k.bool("deletable")),
        ))
    events = _map_report(_Source(raw, "ga4/events.json", warnings))
    retention = None
    src = _Source(raw, "ga4/data_retention.json", warnings)
    if src.present:
        r = src.first()
        retention = DataRetention(
            event_data_retention=r.enum("eventDataRetention", enums.RETENTION),
            user_data_retention=r.enum("userDataRetention", enums.RETENTION),
            reset_user_data_on_new_activity=bool(r.bool("resetUserDataOnNewActivity")),
        )
    links = None
    src = _Source(raw, "ga4/google_ads_links.json", warnings)
    if src.present:
        links = tuple(
            AdsLink(name=l.str("name", "") or "", customer_id=_customer_ids(l.req("customerId")),
                    ads_personalization_enabled=l.bool("adsPersonalizationEnabled", None))
            for l in src.items("googleAdsLinks")
        )
    src = _Source(raw, "ga4/funnels.json", warnings)
    funnels = _map_funnels(src) if src.present else ()
    src = _Source(raw, "ga4/attribution_settings.json", warnings)
    attribution = _map_attribution(src.first()) if src.present else None
    src = _Source(raw, "ga4/ads_key_events.json", warnings)
    ads_key_events = _map_ads_key_events(src) if src.present else None
    return GA4(property=prop, key_events=tuple(key_events), events=events, retention=retention, ads_links=links,
               funnels=funnels, attribution=attribution, ads_key_events=ads_key_events)


# Enum names of the newer optional files (Admin API v1alpha AttributionSettings; Google Ads v26), by name as the
# JSON mapping writes them; a value outside them is kept as read with a warning, like every enum.
_REPORTING_MODEL = frozenset({"REPORTING_ATTRIBUTION_MODEL_UNSPECIFIED", "PAID_AND_ORGANIC_CHANNELS_DATA_DRIVEN",
                              "PAID_AND_ORGANIC_CHANNELS_LAST_CLICK", "GOOGLE_PAID_CHANNELS_LAST_CLICK"})
_ACQUISITION_LOOKBACK = frozenset({"ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_UNSPECIFIED",
                                   "ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_7_DAYS",
                                   "ACQUISITION_CONVERSION_EVENT_LOOKBACK_WINDOW_30_DAYS"})
_OTHER_LOOKBACK = frozenset({"OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_UNSPECIFIED",
                             "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_30_DAYS",
                             "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_60_DAYS",
                             "OTHER_CONVERSION_EVENT_LOOKBACK_WINDOW_90_DAYS"})
_EXPORT_SCOPE = frozenset({"ADS_WEB_CONVERSION_DATA_EXPORT_SCOPE_UNSPECIFIED", "NOT_SELECTED_YET",
                           "PAID_AND_ORGANIC_CHANNELS", "GOOGLE_PAID_CHANNELS"})
_TRACKING_STATUS = frozenset({"UNSPECIFIED", "UNKNOWN", "NOT_CONVERSION_TRACKED", "CONVERSION_TRACKING_MANAGED_BY_SELF",
                              "CONVERSION_TRACKING_MANAGED_BY_THIS_MANAGER",
                              "CONVERSION_TRACKING_MANAGED_BY_ANOTHER_MANAGER"})
_CAMPAIGN_STATUS = frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"})
_CHANNEL_TYPE = frozenset({"UNSPECIFIED", "UNKNOWN", "SEARCH", "DISPLAY", "SHOPPING", "HOTEL", "VIDEO",
                           "MULTI_CHANNEL", "LOCAL", "SMART", "PERFORMANCE_MAX", "LOCAL_SERVICES", "TRAVEL",
                           "DEMAND_GEN"})
_BIDDING_STRATEGY = frozenset({
    "UNSPECIFIED", "UNKNOWN", "COMMISSION", "ENHANCED_CPC", "FIXED_CPM", "FIXED_SHARE_OF_VOICE", "INVALID",
    "MANUAL_CPA", "MANUAL_CPC", "MANUAL_CPM", "MANUAL_CPV", "MAXIMIZE_CONVERSIONS", "MAXIMIZE_CONVERSION_VALUE",
    "PAGE_ONE_PROMOTED", "PERCENT_CPC", "TARGET_CPA", "TARGET_CPC", "TARGET_CPM", "TARGET_CPV",
    "TARGET_IMPRESSION_SHARE", "TARGET_OUTRANK_SHARE", "TARGET_ROAS", "TARGET_SPEND",
})
_GOAL_CONFIG_LEVEL = frozenset({"UNSPECIFIED", "UNKNOWN", "CUSTOMER", "CAMPAIGN"})
_CUSTOM_GOAL_STATUS = frozenset({"UNSPECIFIED", "UNKNOWN", "ENABLED", "REMOVED"})
_ENHANCED_CONVERSIONS = frozenset({"UNSPECIFIED", "UNKNOWN", "OFF", "ON"})
_UPLOAD_STATUS = frozenset({"UNSPECIFIED", "UNKNOWN", "EXCELLENT", "GOOD", "NEEDS_ATTENTION", "NO_RECENT_UPLOAD"})
_UPLOAD_CLIENT = frozenset({"UNSPECIFIED", "UNKNOWN", "GOOGLE_ADS_API", "GOOGLE_ADS_WEB_CLIENT", "ADS_DATA_CONNECTOR"})
_LAG_BUCKET = frozenset({"UNSPECIFIED", "UNKNOWN", *enums.LAG_BUCKET_DAYS})


def _map_attribution(a: Obj) -> AttributionSettings:
    """properties.getAttributionSettings -> AttributionSettings (enum names kept as the API writes them)."""
    return AttributionSettings(
        reporting_attribution_model=a.enum("reportingAttributionModel", _REPORTING_MODEL),
        acquisition_lookback=a.enum("acquisitionConversionEventLookbackWindow", _ACQUISITION_LOOKBACK),
        other_lookback=a.enum("otherConversionEventLookbackWindow", _OTHER_LOOKBACK),
        ads_export_scope=a.enum("adsWebConversionDataExportScope", _EXPORT_SCOPE),
    )


_CUSTOMER_ID = re.compile(r"^\d{1,10}$")


def _customer_id(v: str) -> str | None:
    """A Google Ads customer id as 10 digits ('123-456-7890', '1234567890', '123456789' -> padded); None for
    anything else."""
    digits = v.replace("-", "").replace(" ", "").strip()
    return digits.zfill(10) if _CUSTOMER_ID.match(digits) else None


def _customer_ids(v: str) -> str:
    """A customer id as every source compares it: 10 digits (see `_customer_id`), or as written when it is not
    one (the rules then simply find no match)."""
    return _customer_id(v) or v.replace("-", "")


def _map_ads_key_events(src: _Source) -> tuple[AdsKeyEvents, ...]:
    """runReport pages by eventName and googleAdsCustomerId with the keyEvents metric -> one AdsKeyEvents per
    (event, account), duplicate rows summed. Rows of sessions no Google Ads account takes credit for ('(not
    set)', empty) are skipped; an id that is not a customer id is skipped with a warning."""
    totals: dict[tuple[str, str], float] = {}
    for page in src.pages():
        dims = [d.str("name", "") for d in page.objs("dimensionHeaders")]
        mets = [m.str("name", "") for m in page.objs("metricHeaders")]
        if page.raw("rows") in (_MISSING, None, []):
            continue
        for need in ("eventName", "googleAdsCustomerId"):
            if need not in dims:
                raise FixtureError(src.file, f"report has no {need} dimension", f"{page.path}.dimensionHeaders"
                                   if page.path else "dimensionHeaders")
        metric = next((m for m in ("keyEvents", "conversions") if m in mets), None)
        if metric is None:
            raise FixtureError(src.file, "report has no keyEvents metric",
                               f"{page.path}.metricHeaders" if page.path else "metricHeaders")
        ei, ci, mi = dims.index("eventName"), dims.index("googleAdsCustomerId"), mets.index(metric)
        for row in page.objs("rows"):
            dvals = list(row.objs("dimensionValues"))
            mvals = list(row.objs("metricValues"))
            if len(dvals) <= max(ei, ci) or len(mvals) <= mi:
                raise FixtureError(src.file, "row has fewer values than headers", row.path)
            event = dvals[ei].str("value", "") or ""
            raw_id = (dvals[ci].str("value", "") or "").strip()
            if not raw_id or raw_id == "(not set)":
                continue
            cid = _customer_id(raw_id)
            if cid is None:
                src.warnings.append(f"{src.file}: {dvals[ci].path}: {_short(raw_id)} is not a Google Ads customer id; "
                                    "row skipped")
                continue
            n = mvals[mi].count("value", metric)
            totals[(event, cid)] = totals.get((event, cid), 0.0) + n
    return tuple(AdsKeyEvents(event_name=e, customer_id=c, key_events=n) for (e, c), n in totals.items())


_STEP = re.compile(r"^(\d+)\.\s?(.*)$")


def _map_funnels(src: _Source) -> tuple[FunnelMeasure, ...]:
    """runFunnelReport responses -> one FunnelMeasure each, from the funnel table's `funnelStepName` rows
    ("1. add_to_cart": GA4 prefixes the step's ordinal) and their `activeUsers`. Rows of a breakdown other than
    its total are skipped; a response without rows (nobody did the first step) measures nothing."""
    out: list[FunnelMeasure] = []
    for page in src.pages():
        table = page.obj("funnelTable")
        if table is None:
            continue
        dims = [d.str("name", "") for d in table.objs("dimensionHeaders")]
        mets = [m.str("name", "") for m in table.objs("metricHeaders")]
        if "funnelStepName" not in dims or "activeUsers" not in mets:
            if table.raw("rows") in (_MISSING, None, []):
                continue
            raise FixtureError(src.file, "funnel table has no funnelStepName dimension or activeUsers metric",
                               table.path or "funnelTable")
        si, ui = dims.index("funnelStepName"), mets.index("activeUsers")
        steps: dict[int, tuple[str, int]] = {}
        for row in table.objs("rows"):
            dvals = [d.str("value", "") or "" for d in row.objs("dimensionValues")]
            mvals = list(row.objs("metricValues"))
            if len(dvals) <= si or len(mvals) <= ui:
                raise FixtureError(src.file, "row has fewer values than headers", row.path)
            if any(v != "RESERVED_TOTAL" for i, v in enumerate(dvals) if i != si):
                continue  # one value of a breakdown: the total row carries the step's users
            m = _STEP.match(dvals[si])
            if not m:
                raise FixtureError(src.file, f"expected a step name such as '1. add_to_cart', got {dvals[si]!r}",
                                   row.path)
            steps[int(m.group(1))] = (m.group(2), int(mvals[ui].count("value", "activeUsers")))
        if steps:
            ordered = [steps[i] for i in sorted(steps)]
            out.append(FunnelMeasure(steps=tuple(n for n, _ in ordered), users=tuple(u for _, u in ordered)))
    return tuple(out)


_REPORT_METRICS = {"eventCount": "event_count", "totalUsers": "total_users", "eventValue": "event_value",
                   "keyEvents": "key_events", "conversions": "key_events"}


def _plain_number(v: Any) -> float | None:
    """A finite number of at least 0, as JSON or a string; None for anything else (an `Obj` then reads it)."""
    if v.__class__ is str or v.__class__ is int or v.__class__ is float:
        try:
            n = float(v)
        except (ValueError, OverflowError):
            return None
        if 0 <= n <= INT64_MAX:
            return n
    return None


def _map_report(src: _Source) -> tuple[EventStat, ...]:
    """runReport pages -> one EventStat per event name (pages concatenated, duplicate rows summed)."""
    totals: dict[str, dict[str, float]] = {}
    for page in src.pages():
        dims = [d.str("name", "") for d in page.objs("dimensionHeaders")]
        mets = [m.str("name", "") for m in page.objs("metricHeaders")]
        if "eventName" not in dims and page.raw("rows") not in (_MISSING, None, []):
            raise FixtureError(src.file, "report has no eventName dimension", f"{page.path}.dimensionHeaders")
        di = dims.index("eventName") if "eventName" in dims else 0
        read = [(j, metric, field) for j, metric in enumerate(mets) if (field := _REPORT_METRICS.get(metric or ""))]
        for row in page.objs("rows"):
            dvals, mvals = row.cell_values("dimensionValues"), row.cell_values("metricValues")
            if len(dvals) <= di:
                raise FixtureError(src.file, "row has fewer dimension values than headers", row.path)
            name = dvals[di]
            if name.__class__ is not str or not name.isascii():  # absent, not text, or text to check: its Obj reads it
                name = row.cell("dimensionValues", di).str("value", "") or ""
            acc = totals.setdefault(name, {})
            for j, metric, field in read:
                if j < len(mvals):
                    n = _plain_number(mvals[j])  # the usual cell: a count, as a string
                    if n is None:  # anything else is read, and reported, by the cell's Obj
                        cell = row.cell("metricValues", j)
                        n = cell.amount("value", what=metric) if field == "event_value" else cell.count("value", metric)
                    acc[field] = acc.get(field, 0.0) + (n or 0.0)
    return tuple(
        EventStat(event_name=n, event_count=int(m.get("event_count", 0)), total_users=int(m.get("total_users", 0)),
                  event_value=m.get("event_value", 0.0), key_events=m.get("key_events", 0.0))
        for n, m in totals.items()
    )


_NO_STATS = ActionStats()  # immutable: one instance serves every action without a stats row


def _map_ads(raw: RawClient, warnings: list[str], unusable: list[tuple[str, str]]) -> Ads:
    stats: dict[str, ActionStats] = {}
    customer_id = currency = descriptive = None
    for row in _Source(raw, "ads/conversion_stats.json", warnings).items("results"):
        cust = row.obj("customer")
        if cust is not None:
            customer_id = customer_id or cust.ident("id")
            currency = currency or cust.str("currencyCode")
            descriptive = descriptive or cust.str("descriptiveName")
        seg = row.obj("segments")
        action = seg.str("conversionAction") if seg else None
        if not action:
            continue
        m = row.obj("metrics")
        prev = stats.get(action, _NO_STATS)
        if m is None:
            stats[action] = prev
            continue
        conv, all_conv = m.amount("conversions", None), m.amount("allConversions", None)
        for key, n in (("conversions", conv), ("allConversions", all_conv)):
            if n is None and m.raw(key) is not _MISSING:  # negative: unknown, and a count no rule may read as 0
                unusable.append(("ads", f"{m.file}: {m._where(key)}: negative conversions, unknown"))
        stats[action] = ActionStats(  # one action may span several rows (dates, devices): sum them
            conversions=prev.conversions + (conv or 0.0),
            conversions_value=prev.conversions_value + (m.amount("conversionsValue") or 0.0),
            all_conversions=prev.all_conversions + (all_conv or 0.0),
            all_conversions_value=prev.all_conversions_value + (m.amount("allConversionsValue") or 0.0),
        )
    actions = []
    for row in _Source(raw, "ads/conversion_actions.json", warnings).items("results"):
        a = row.obj("conversionAction")
        if a is None:
            raise FixtureError(row.file, "result has no conversionAction", row.path)
        resource = a.req("resourceName")
        vs = a.obj("valueSettings")
        am = a.obj("attributionModelSettings")
        g4 = a.obj("googleAnalytics4Settings")
        actions.append(ConversionAction(
            resource_name=resource, id=_id(a, resource), name=a.str("name", "") or "",
            status=a.enum("status", enums.ACTION_STATUS), type=a.enum("type", enums.ACTION_TYPE),
            category=a.enum("category", enums.ACTION_CATEGORY), origin=a.enum("origin", enums.ACTION_ORIGIN),
            primary_for_goal=bool(a.bool("primaryForGoal")),
            counting_type=a.enum("countingType", enums.COUNTING_TYPE),
            include_in_conversions_metric=a.bool("includeInConversionsMetric", None),
            default_value=vs.amount("defaultValue", None) if vs else None,
            default_currency=vs.str("defaultCurrencyCode") if vs else None,
            always_use_default_value=bool(vs.bool("alwaysUseDefaultValue")) if vs else False,
            attribution_model=am.enum("attributionModel", enums.ATTRIBUTION_MODEL) if am else None,
            data_driven_model_status=am.enum("dataDrivenModelStatus", enums.DATA_DRIVEN_STATUS) if am else None,
            click_through_lookback_window_days=a.int("clickThroughLookbackWindowDays", None),
            view_through_lookback_window_days=a.int("viewThroughLookbackWindowDays", None),
            phone_call_duration_seconds=a.int("phoneCallDurationSeconds", None),
            ga4_event_name=g4.str("eventName") if g4 else None,
            ga4_property_id=g4.ident("propertyId") if g4 else None,
            stats=stats.get(resource, _NO_STATS),
        ))
        if customer_id is None:
            customer_id = resource.split("/")[1] if resource.startswith("customers/") else None
    goals = None
    src = _Source(raw, "ads/customer_conversion_goals.json", warnings)
    if src.present:
        goals = tuple(
            ConversionGoal(
                resource_name=g.str("resourceName", "") or "",
                category=g.enum("category", enums.GOAL_CATEGORY), origin=g.enum("origin", enums.GOAL_ORIGIN),
                biddable=bool(g.bool("biddable")),
            )
            for row in src.items("results") if (g := row.obj("customerConversionGoal")) is not None
        )
    tracking = None
    src = _Source(raw, "ads/customer.json", warnings)
    if src.present:
        tracking = _map_tracking(src)
    custom_goals = None
    src = _Source(raw, "ads/custom_conversion_goals.json", warnings)
    if src.present:
        custom_goals = tuple(
            CustomGoal(resource_name=g.req("resourceName"), name=g.str("name", "") or "",
                       actions=tuple(_strings(g, "conversionActions")),
                       status=g.enum("status", _CUSTOM_GOAL_STATUS))
            for row in src.items("results") if (g := row.obj("customConversionGoal")) is not None
        )
    src = _Source(raw, "ads/campaigns.json", warnings)
    campaigns = _map_campaigns(raw, src, warnings, unusable) if src.present else None
    src = _Source(raw, "ads/offline_upload_client_summaries.json", warnings)
    client_summaries = _map_upload_summaries(src, "offlineConversionUploadClientSummary") if src.present else None
    src = _Source(raw, "ads/offline_upload_action_summaries.json", warnings)
    action_summaries = (_map_upload_summaries(src, "offlineConversionUploadConversionActionSummary")
                        if src.present else None)
    src = _Source(raw, "ads/conversion_lag.json", warnings)
    lag = _map_conversion_lag(src) if src.present else None
    return Ads(customer_id=_customer_ids(customer_id or ""), actions=tuple(actions), currency_code=currency,
               descriptive_name=descriptive, goals=goals, tracking=tracking, campaigns=campaigns,
               custom_goals=custom_goals, upload_client_summaries=client_summaries,
               upload_action_summaries=action_summaries, conversion_lag=lag)


def _map_upload_summaries(src: _Source, resource: str) -> tuple[UploadSummary, ...]:
    """Offline conversion upload summaries (per upload client, or per conversion action and client) -> typed
    summaries. The success rate is computed from the counts (action summaries have none of their own)."""
    out = []
    for row in src.items("results"):
        o = row.obj(resource)
        if o is None:
            continue
        alerts = []
        for al in o.objs("alerts"):
            err = al.obj("error")
            kind, code = "", UNKNOWN
            if err is not None:
                for k in err.data:  # a oneof: the one field set names the error enum
                    kind, code = k, err.str(k, UNKNOWN) or UNKNOWN
                    break
            share = al.num("errorPercentage", 0.0) or 0.0
            if not 0.0 <= share <= 1.0:
                raise FixtureError(al.file, f"expected a share from 0 to 1, got {_short(share)}",
                                   al._where("errorPercentage"))
            alerts.append(UploadAlert(error=code, share=share, kind=kind))
        daily = []
        for d in o.objs("dailySummaries"):
            day = _date(d, "uploadDate")
            if day is None:
                continue
            daily.append(UploadDay(day=day, successful=int(d.count("successfulCount")),
                                   failed=int(d.count("failedCount")), pending=int(d.count("pendingCount"))))
        total, successful = int(o.count("totalEventCount")), int(o.count("successfulEventCount"))
        if successful > total:
            raise FixtureError(o.file, f"successful events ({successful}) exceed the total ({total})",
                               o._where("successfulEventCount"))
        out.append(UploadSummary(
            resource_name=o.str("resourceName", "") or "", client=o.enum("client", _UPLOAD_CLIENT),
            status=o.enum("status", _UPLOAD_STATUS), total=total, successful=successful,
            pending=int(o.count("pendingEventCount")), last_upload=_datetime(o, "lastUploadDateTime"),
            alerts=tuple(alerts), daily=tuple(daily), action_id=o.ident("conversionActionId"),
            action_name=o.str("conversionActionName", "") or ""))
    return tuple(out)


def _date(o: Obj, key: str) -> date | None:
    """A 'yyyy-mm-dd' date as Google Ads writes it; None when absent."""
    text = o.str(key)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise FixtureError(o.file, f"expected a date such as 2026-01-31, got {_short(text)}", o._where(key)) from None


def _datetime(o: Obj, key: str) -> datetime | None:
    """A 'yyyy-mm-dd hh:mm:ss' time in the account's time zone as Google Ads writes it; None when absent."""
    text = o.str(key)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise FixtureError(o.file, f"expected a date and time such as 2026-01-31 14:05:00, got {_short(text)}",
                           o._where(key)) from None


def _map_conversion_lag(src: _Source) -> tuple[LagBucket, ...]:
    """All conversions by conversion action and conversion lag bucket (rows of one pair summed)."""
    totals: dict[tuple[str, str], float] = {}
    for row in src.items("results"):
        seg = row.obj("segments")
        action = seg.str("conversionAction") if seg else None
        if not action or seg is None:
            continue
        bucket = seg.enum("conversionLagBucket", _LAG_BUCKET)
        m = row.obj("metrics")
        n = m.count("allConversions", "all conversions") if m is not None else 0.0
        totals[(action, bucket)] = totals.get((action, bucket), 0.0) + n
    return tuple(LagBucket(action=a, bucket=b, all_conversions=n) for (a, b), n in totals.items())


def _strings(o: Obj, key: str) -> list[str]:
    """A list of strings (resource names), each checked."""
    v = o.raw(key)
    if v is _MISSING or v is None:
        return []
    if not isinstance(v, list):
        raise FixtureError(o.file, f"expected a list, got {_kind(v)}", o._where(key))
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, str):
            raise FixtureError(o.file, f"expected a string, got {_kind(item)}", f"{o._where(key)}[{i}]")
        out.append(item)
    return out


def _map_tracking(src: _Source) -> TrackingSettings:
    """ads/customer.json: one row FROM customer -> the account's tracking settings (a response without a row
    says nothing: every setting unknown)."""
    c = next((c for row in src.items("results") if (c := row.obj("customer")) is not None), None)
    if c is None:
        return TrackingSettings()
    t = c.obj("conversionTrackingSetting")
    return TrackingSettings(
        auto_tagging_enabled=c.bool("autoTaggingEnabled", None),
        conversion_tracking_status=t.enum("conversionTrackingStatus", _TRACKING_STATUS) if t else UNKNOWN,
        cross_account_conversion_tracking_id=t.ident("crossAccountConversionTrackingId") if t else None,
        google_ads_conversion_customer=t.str("googleAdsConversionCustomer") if t else None,
        # a plain proto3 bool (not `optional`, unlike autoTaggingEnabled): the JSON mapping leaves out false
        accepted_customer_data_terms=t.bool("acceptedCustomerDataTerms", False) if t else None,
        enhanced_conversions=t.enum("effectiveEnablementSetting", _ENHANCED_CONVERSIONS) if t else UNKNOWN,
    )


def _map_campaigns(raw: RawClient, src: _Source, warnings: list[str],
                   unusable: list[tuple[str, str]]) -> tuple[Campaign, ...]:
    """ads/campaigns.json (campaigns with their 30-day metrics, rows of one campaign summed) joined with the
    campaign goals (campaign_conversion_goals.json: `goals` stays None when absent) and the goal configs
    (conversion_goal_campaign_configs.json: `goal_config_level` stays None when absent), by campaign resource."""
    goals: dict[str, list[CampaignGoal]] | None = None
    gsrc = _Source(raw, "ads/campaign_conversion_goals.json", warnings)
    if gsrc.present:
        goals = {}
        for row in gsrc.items("results"):
            g = row.obj("campaignConversionGoal")
            if g is None:
                continue
            goals.setdefault(g.req("campaign"), []).append(CampaignGoal(
                category=g.enum("category", enums.GOAL_CATEGORY), origin=g.enum("origin", enums.GOAL_ORIGIN),
                biddable=bool(g.bool("biddable"))))
    configs: dict[str, tuple[str, str | None]] | None = None
    csrc = _Source(raw, "ads/conversion_goal_campaign_configs.json", warnings)
    if csrc.present:
        configs = {}
        for row in csrc.items("results"):
            g = row.obj("conversionGoalCampaignConfig")
            if g is None:
                continue
            configs[g.req("campaign")] = (g.enum("goalConfigLevel", _GOAL_CONFIG_LEVEL),
                                          g.str("customConversionGoal") or None)
    order: list[str] = []
    base: dict[str, dict[str, Any]] = {}
    metrics: dict[str, list[float]] = {}
    for row in src.items("results"):
        c = row.obj("campaign")
        if c is None:
            raise FixtureError(row.file, "result has no campaign", row.path)
        resource = c.req("resourceName")
        if resource not in base:
            order.append(resource)
            base[resource] = _campaign_fields(c, resource)
            metrics[resource] = [0.0, 0.0, 0.0, 0.0]
        m = row.obj("metrics")
        if m is not None:  # one campaign may span several rows (dates, devices): sum them
            acc = metrics[resource]
            conv = m.amount("conversions", None, what="conversions")
            all_conv = m.amount("allConversions", None, what="all conversions")
            for key, n in (("conversions", conv), ("allConversions", all_conv)):
                if n is None and m.raw(key) is not _MISSING:  # unknown: never printed or judged as 0 conv.
                    unusable.append(("ads.campaigns", f"{m.file}: {m._where(key)}: negative conversions, unknown"))
            acc[0] += conv or 0.0
            acc[1] += m.amount("conversionsValue", what="conversions value") or 0.0
            acc[2] += all_conv or 0.0
            acc[3] += m.count("costMicros", "cost")
    out = []
    for resource in order:
        conv, value, all_conv, cost = metrics[resource]
        level, custom = configs.get(resource, (None, None)) if configs is not None else (None, None)
        out.append(Campaign(
            **base[resource], conversions=conv, conversions_value=value, all_conversions=all_conv,
            cost_micros=int(cost), goal_config_level=level, custom_goal=custom,
            goals=None if goals is None else tuple(goals.get(resource, ())),
        ))
    return tuple(out)


def _campaign_fields(c: Obj, resource: str) -> dict[str, Any]:
    """A campaign's settings; its strategy's target from whichever strategy field carries one."""
    cpa = roas = None
    for key in ("targetCpa", "maximizeConversions"):
        o = c.obj(key)
        if o is not None and cpa is None:
            cpa = o.int("targetCpaMicros", None) or None
            if cpa is not None and cpa > MAX_TARGET_CPA_MICROS:
                c.warnings.append(f"{c.file}: {o._where('targetCpaMicros')}: {cpa} is beyond any target CPA "
                                  f"(above {MAX_TARGET_CPA_MICROS}), treated as unknown")
                cpa = None
    for key in ("targetRoas", "maximizeConversionValue"):
        o = c.obj(key)
        if o is not None and roas is None:
            roas = o.num("targetRoas", None) or None
            if roas is not None and not 0 < roas <= MAX_TARGET_ROAS:
                c.warnings.append(f"{c.file}: {o._where('targetRoas')}: {_short(o.data.get('targetRoas'))} is not a "
                                  f"target ROAS (Google Ads allows above 0 up to {MAX_TARGET_ROAS:g}), treated as "
                                  "unknown")
                roas = None
    return {"resource_name": resource, "id": _id(c, resource), "name": c.str("name", "") or "",
            "status": c.enum("status", _CAMPAIGN_STATUS),
            "channel_type": c.enum("advertisingChannelType", _CHANNEL_TYPE),
            "bidding_strategy_type": c.enum("biddingStrategyType", _BIDDING_STRATEGY),
            "target_cpa_micros": cpa, "target_roas": roas}


def _id(a: Obj, resource: str) -> str:
    return a.ident("id") or resource.rsplit("/", 1)[-1]
