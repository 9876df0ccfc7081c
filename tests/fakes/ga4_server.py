"""A loopback fake of GA4 Admin v1beta (and v1alpha getAttributionSettings) + Data v1beta (runReport,
batchRunReports; v1alpha runFunnelReport) over REST, and of Google's OAuth token endpoint.

Test aid only. It speaks the wire protocol the real google-analytics-admin / google-analytics-data REST
transports send (paths, query parameters, JSON bodies, Google's JSON error bodies), so tests exercise the real
client libraries, their pagers and google-auth's token exchange. Data comes from fixture client folders
(`fixtures/<client>/ga4/*.json`): each property is found by the "name" in its ga4/property.json.

Enums are served by name even though the clients ask for ``$alt=json;enum-encoding=int``: the clients' JSON
parser accepts both, and names keep the served bodies identical to the fixtures.

Reports are served from the recorded report of the same shape, checked as GA4 checks them: by eventName alone
from ga4/events.json, by eventName and googleAdsCustomerId (metric keyEvents only) from ga4/ads_key_events.json
(when not recorded: every key event of events.json credited to no Ads account, "(not set)"); any other
dimension set is INVALID_ARGUMENT, a dimensionFilter is applied (an inListFilter on eventName), and
batchRunReports takes at most 5 requests whose property is unset or the batch's, and fails whole when one does.

runFunnelReport answers with the folder's recorded ga4/funnels.json response for the requested steps when it
holds one, else with a deterministic funnel synthesized from ga4/events.json (see `FakeGA4._funnel`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from auditor.connectors.offline import client_dirs, read_body_file
from auditor.raw import GA4_FILES

GA4_KEYS = tuple(GA4_FILES)

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
           504: "DEADLINE_EXCEEDED"}
_CODE = {v: k for k, v in _STATUS.items()}
EDIT_SCOPE = "https://www.googleapis.com/auth/analytics.edit"
WRITES = frozenset({"deleteKeyEvent", "updateKeyEvent", "createKeyEvent", "updateDataRetentionSettings",
                    "updateAttributionSettings"})

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/v1beta/properties/(\d+)"), "getProperty"),
    ("GET", re.compile(r"/v1beta/properties/(\d+)/keyEvents"), "listKeyEvents"),
    ("GET", re.compile(r"/v1beta/properties/(\d+)/dataRetentionSettings"), "getDataRetentionSettings"),
    ("GET", re.compile(r"/v1beta/properties/(\d+)/googleAdsLinks"), "listGoogleAdsLinks"),
    ("POST", re.compile(r"/v1beta/properties/(\d+):runReport"), "runReport"),
    ("POST", re.compile(r"/v1beta/properties/(\d+):batchRunReports"), "batchRunReports"),
    ("GET", re.compile(r"/v1alpha/properties/(\d+)/attributionSettings"), "getAttributionSettings"),
    ("POST", re.compile(r"/v1alpha/properties/(\d+):runFunnelReport"), "runFunnelReport"),
    ("GET", re.compile(r"/v1beta/accountSummaries"), "listAccountSummaries"),
    # writes (audit fix --apply): they need a token with the analytics.edit scope
    ("GET", re.compile(r"/v1beta/properties/(\d+)/keyEvents/\d+"), "getKeyEvent"),
    ("DELETE", re.compile(r"/v1beta/properties/(\d+)/keyEvents/\d+"), "deleteKeyEvent"),
    ("PATCH", re.compile(r"/v1beta/properties/(\d+)/keyEvents/\d+"), "updateKeyEvent"),
    ("POST", re.compile(r"/v1beta/properties/(\d+)/keyEvents"), "createKeyEvent"),
    ("PATCH", re.compile(r"/v1beta/properties/(\d+)/dataRetentionSettings"), "updateDataRetentionSettings"),
    ("PATCH", re.compile(r"/v1alpha/properties/(\d+)/attributionSettings"), "updateAttributionSettings"),
    ("POST", re.compile(r"/token"), "token"),
]


@dataclass
class Logged:
    """One request the fake received."""

    method: str  # RPC name: getProperty, listKeyEvents, runReport, ..., token
    property_id: str | None
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None
    status: int = 200


@dataclass
class Fault:
    method: str  # RPC name, or "*"
    property_id: str | None  # None: any property
    status: str  # UNAVAILABLE, PERMISSION_DENIED, ...
    times: int | None  # None: forever
    message: str = ""


@dataclass
class _Property:
    bodies: dict[str, list[dict[str, Any]]]
    account: str = "accounts/1000"
    account_name: str = "Test account"


@dataclass
class FakeGA4:
    """Start with `with FakeGA4(root) as fake:`; point the connector at `fake.url`."""

    root: Path | None = None
    latency: float = 0.0  # seconds added to every API call (not to token calls)
    max_page_size: int | None = None  # server-side cap, to force pagination whatever the client asks
    require_auth: bool = True
    properties: dict[str, _Property] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)  # decoded token requests (grant, JWT claims)
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._recorded: dict[str, dict[str, list[dict[str, Any]]]] = {}  # as loaded, for reset_state
        self._server: ThreadingHTTPServer | None = None
        self._issued = 0
        if self.root is not None:
            self.load(Path(self.root))

    # -- data -------------------------------------------------------------------------------------------

    def load(self, root: Path) -> list[str]:
        """Serve every client folder under `root` (or `root` itself) that has ga4/property.json."""
        added = []
        for folder in client_dirs(root):
            if (folder / "ga4" / "property.json").is_file():
                bodies = {k: read_body_file(folder / k, str(folder / k)) for k in GA4_KEYS if (folder / k).is_file()}
                added.append(self.add_property(bodies))
        return added

    def add_property(self, bodies: dict[str, list[dict[str, Any]]], account: str = "accounts/1000",
                     account_name: str = "Test account") -> str:
        name = bodies["ga4/property.json"][0]["name"]
        pid = name.rsplit("/", 1)[-1]
        parent = bodies["ga4/property.json"][0].get("parent")
        self.properties[pid] = _Property(bodies, parent or account, account_name)
        self._recorded[pid] = copy.deepcopy(bodies)
        return pid

    def reset_state(self) -> None:
        """Serve every property as loaded, before any write."""
        with self._lock:
            for pid, bodies in self._recorded.items():
                self.properties[pid].bodies = copy.deepcopy(bodies)

    # -- faults and log ---------------------------------------------------------------------------------

    def fail(self, method: str, status: str = "UNAVAILABLE", times: int | None = 1,
             property_id: str | None = None, message: str = "") -> None:
        """The next `times` calls of `method` ("*" for any) answer with `status` (a google.rpc code name)."""
        with self._lock:
            self.faults.append(Fault(method, property_id, status, times, message))

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.log.clear()
            self.tokens.clear()
        self.latency, self.max_page_size, self.require_auth = 0.0, None, True

    def calls(self, method: str | None = None, property_id: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if (method is None or r.method == method)
                    and (property_id is None or r.property_id == property_id) and r.method != "token"]

    # -- server -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    def start(self) -> FakeGA4:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
            disable_nagle_algorithm = True  # headers and body go out separately: avoid 40 ms delayed-ACK stalls

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_PATCH(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-ga4",
                         daemon=True).start()  # a short poll keeps stop() fast
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGA4:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- service-account key ----------------------------------------------------------------------------

    def service_account_key(self, path: Path, email: str = "auditor-test@example-project.iam.gserviceaccount.com",
                            ) -> Path:
        """Write a service-account key JSON whose token_uri is this fake."""
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "example-project", "private_key_id": "test-key-1",
            "private_key": _test_private_key(), "client_email": email, "client_id": "1234567890",
            "token_uri": self.token_uri,
        }))
        return path

    def service_account_keys(self, folder: Path, ga4_email: str, ads_email: str) -> dict[str, Path]:
        """A key for the GA4 calls and one for the Google Ads calls, both signed against this fake's token URI."""
        return {"ga4": self.service_account_key(folder / "ga4-sa.json", email=ga4_email),
                "ads": self.service_account_key(folder / "ads-sa.json", email=ads_email)}

    # -- request handling -------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        method, pid = "unknown", None
        for verb, pattern, name in _ROUTES:
            m = pattern.fullmatch(parts.path)
            if m and verb == h.command:
                method, pid = name, (m.group(1) if m.groups() else None)
                break
        body: Any = None
        if method == "token":
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        entry = Logged(method, pid, parts.path, query, body, h.headers.get("Authorization"))
        with self._lock:
            self.log.append(entry)
        status, payload = self._dispatch(entry)
        entry.status = status
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _dispatch(self, r: Logged) -> tuple[int, Any]:
        if r.method == "unknown":
            return _error("NOT_FOUND", f"no such method: {r.path}")
        if r.method == "token":
            return self._token(r)
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(r)
        if fault is not None:
            return _error(fault.status, fault.message or f"injected {fault.status} for {r.method}")
        if self.require_auth and not (r.authorization or "").startswith("Bearer "):
            return _error("UNAUTHENTICATED", "Request is missing required authentication credential.")
        if r.method in WRITES and not self._may_write(r.authorization):
            return _error("PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                          reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT")
        if r.method == "listAccountSummaries":
            return 200, self._account_summaries(r)
        prop = self.properties.get(r.property_id or "")
        if prop is None:  # what GA4 answers for a property the caller cannot see, existing or not
            return _error("PERMISSION_DENIED", "User does not have sufficient permissions for this property. "
                          "To learn more about Property ID, see https://developers.google.com/analytics/...")
        handler = {
            "getProperty": lambda: self._single(prop, "ga4/property.json"),
            "listKeyEvents": lambda: self._list(prop, r, "ga4/key_events.json", "keyEvents", 50, 200),
            "getDataRetentionSettings": lambda: self._single(prop, "ga4/data_retention.json"),
            "listGoogleAdsLinks": lambda: self._list(prop, r, "ga4/google_ads_links.json", "googleAdsLinks",
                                                     200, 200),
            "runReport": lambda: self._report(prop, r.body if isinstance(r.body, dict) else {}),
            "batchRunReports": lambda: self._batch(prop, r),
            "getAttributionSettings": lambda: self._single(prop, "ga4/attribution_settings.json"),
            "runFunnelReport": lambda: self._funnel(prop, r),
            "getKeyEvent": lambda: self._key_event(prop, r),
            "deleteKeyEvent": lambda: self._key_event(prop, r, delete=True),
            "updateKeyEvent": lambda: self._key_event(prop, r, patch=True),
            "createKeyEvent": lambda: self._create_key_event(prop, r),
            "updateDataRetentionSettings": lambda: self._patch_single(prop, r, "ga4/data_retention.json"),
            "updateAttributionSettings": lambda: self._patch_single(prop, r, "ga4/attribution_settings.json"),
        }[r.method]
        with self._lock if r.method in WRITES else _NO_LOCK:
            return handler()

    # -- writes -----------------------------------------------------------------------------------------

    def _may_write(self, authorization: str | None) -> bool:
        """A token this fake issued for a JWT grant carries its scopes: writes need analytics.edit. A token from a
        refresh-token grant (its scopes are the refresh token's) is taken as it is."""
        token = (authorization or "").removeprefix("Bearer ")
        issued = next((t for t in self.tokens if t["token"] == token), None)
        if issued is None or issued["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return True
        return EDIT_SCOPE in str(issued["claims"].get("scope", "")).split()

    @staticmethod
    def _names(body: dict[str, Any]) -> dict[str, Any]:
        """A written body with its enums by name, as GA4 stores and serves them (the clients send numbers)."""
        from google.analytics import admin_v1alpha, admin_v1beta

        enums = {"countingMethod": admin_v1beta.KeyEvent.CountingMethod,
                 "eventDataRetention": admin_v1beta.DataRetentionSettings.RetentionDuration,
                 "userDataRetention": admin_v1beta.DataRetentionSettings.RetentionDuration,
                 "adsWebConversionDataExportScope": admin_v1alpha.AttributionSettings.AdsWebConversionDataExportScope}
        return {k: enums[k](v).name if k in enums and isinstance(v, int) else v for k, v in body.items()}

    @staticmethod
    def _mask(r: Logged) -> list[str]:
        paths = ",".join(r.query.get("updateMask") or []).split(",")
        return [re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), p.strip()) for p in paths if p.strip()]

    def _key_event(self, prop: _Property, r: Logged, delete: bool = False, patch: bool = False) -> tuple[int, Any]:
        name = r.path.removeprefix("/v1beta/")
        for page in prop.bodies.get("ga4/key_events.json") or ():
            for k in page.get("keyEvents") or ():
                if k.get("name") != name:
                    continue
                if delete:
                    if not k.get("deletable", False):
                        return _error("INVALID_ARGUMENT", f"key event {name} cannot be deleted")
                    page["keyEvents"] = [x for x in page["keyEvents"] if x is not k]
                    return 200, {}
                if patch:
                    body = self._names(r.body if isinstance(r.body, dict) else {})
                    mask = self._mask(r)
                    if not mask or set(mask) - {"countingMethod", "defaultValue"}:
                        return _error("INVALID_ARGUMENT", f"updateMask {mask}: only countingMethod, defaultValue")
                    for path in mask:
                        if path in body:
                            k[path] = body[path]
                        else:
                            k.pop(path, None)
                return 200, k
        return _error("NOT_FOUND", f"{name} not found")

    def _create_key_event(self, prop: _Property, r: Logged) -> tuple[int, Any]:
        body = self._names(r.body if isinstance(r.body, dict) else {})
        event = body.get("eventName")
        pages = prop.bodies.setdefault("ga4/key_events.json", [{}])
        existing = [k for p in pages for k in p.get("keyEvents") or ()]
        if not event:
            return _error("INVALID_ARGUMENT", "eventName is required")
        if any(k.get("eventName") == event for k in existing):
            return _error("ALREADY_EXISTS", f"{event} is a key event already")
        pid = r.property_id
        number = max([int(str(k.get("name", "0")).rsplit("/", 1)[-1]) for k in existing] + [90_000_000_000]) + 1
        created = {"name": f"properties/{pid}/keyEvents/{number}", "eventName": event,
                   "createTime": "2026-01-01T00:00:00Z", "deletable": True, "custom": True,
                   "countingMethod": body.get("countingMethod") or "ONCE_PER_EVENT"}
        if body.get("defaultValue"):
            created["defaultValue"] = body["defaultValue"]
        pages[-1].setdefault("keyEvents", []).append(created)
        return 200, created

    def _patch_single(self, prop: _Property, r: Logged, key: str) -> tuple[int, Any]:
        bodies = prop.bodies.get(key)
        if not bodies:
            return _error("NOT_FOUND", f"{key} not recorded for this property")
        body = self._names(r.body if isinstance(r.body, dict) else {})
        mask = self._mask(r)
        if not mask or any(p not in ("eventDataRetention", "resetUserDataOnNewActivity",
                                     "adsWebConversionDataExportScope", "reportingAttributionModel") for p in mask):
            return _error("INVALID_ARGUMENT", f"updateMask {mask} is not allowed")
        for path in mask:
            bodies[0][path] = body.get(path)
        return 200, bodies[0]

    def _take_fault(self, r: Logged) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.method in ("*", r.method) and f.property_id in (None, r.property_id):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self.faults.remove(f)
                    return f
        return None

    def _token(self, r: Logged) -> tuple[int, Any]:
        form = r.body or {}
        fault = self._take_fault(r)
        if fault is not None:
            return 400, {"error": "invalid_grant", "error_description": fault.message or "injected token failure"}
        grant = form.get("grant_type", "")
        claims: dict[str, Any] = {}
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = _jwt_claims(form.get("assertion", ""))
        elif grant != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": grant}
        with self._lock:
            self._issued += 1
            token = f"fake-access-token-{self._issued}"
            self.tokens.append({"grant_type": grant, "claims": claims, "form": form, "token": token})
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _single(self, prop: _Property, key: str) -> tuple[int, Any]:
        bodies = prop.bodies.get(key)
        if not bodies:
            return _error("NOT_FOUND", f"{key} not recorded for this property")
        return 200, bodies[0]

    def _page(self, r: Logged, items: list[Any], default: int, maximum: int) -> tuple[list[Any], str]:
        size = int((r.query.get("pageSize") or [0])[0]) or default
        size = min(size, maximum, self.max_page_size or maximum)
        start = int(_b64d((r.query.get("pageToken") or [""])[0]) or 0)
        end = start + size
        return items[start:end], (_b64e(str(end)) if end < len(items) else "")

    def _list(self, prop: _Property, r: Logged, key: str, field_name: str, default: int,
              maximum: int) -> tuple[int, Any]:
        bodies = prop.bodies.get(key)
        if bodies is None:
            return _error("NOT_FOUND", f"{key} not recorded for this property")
        items = [item for b in bodies for item in b.get(field_name, ())]  # recorded pages re-paginated
        page, token = self._page(r, items, default, maximum)
        out: dict[str, Any] = {field_name: page} if page else {}
        if token:
            out["nextPageToken"] = token
        return 200, out

    def _batch(self, prop: _Property, r: Logged) -> tuple[int, Any]:
        req = r.body if isinstance(r.body, dict) else {}
        requests = req.get("requests") or []
        if not 1 <= len(requests) <= 5:
            return _error("INVALID_ARGUMENT", "batchRunReports takes 1 to 5 requests")
        reports = []
        for sub in requests:
            if sub.get("property") not in (None, "", f"properties/{r.property_id}"):
                return _error("INVALID_ARGUMENT", "a request's property must be unset or the batch's")
            status, report = self._report(prop, sub)
            if status != 200:
                return status, report  # one bad request fails the batch
            reports.append(report)
        return 200, {"reports": reports, "kind": "analyticsData#batchRunReports"}

    def _report(self, prop: _Property, req: dict[str, Any]) -> tuple[int, Any]:
        want_dims = [d.get("name") for d in req.get("dimensions", [])]
        want_mets = [m.get("name") for m in req.get("metrics", [])]
        if "dateRanges" not in req or not want_mets:
            return _error("INVALID_ARGUMENT", "runReport needs dateRanges and metrics")
        if want_dims == ["eventName"]:
            pages = prop.bodies.get("ga4/events.json") or [{}]
        elif want_dims == ["eventName", "googleAdsCustomerId"]:
            if want_mets != ["keyEvents"]:
                return _error("INVALID_ARGUMENT", "this fake serves googleAdsCustomerId with keyEvents only")
            pages = prop.bodies.get("ga4/ads_key_events.json") or [_unattributed(prop.bodies)]
        else:
            return _error("INVALID_ARGUMENT", f"this fake serves reports by [eventName] or [eventName, "
                          f"googleAdsCustomerId], not {want_dims}")
        keep = _event_filter(req.get("dimensionFilter"))
        if keep is False:
            return _error("INVALID_ARGUMENT", "this fake applies an inListFilter on eventName only")
        dims = [d.get("name") for d in pages[0].get("dimensionHeaders", [])]
        mets = [m.get("name") for m in pages[0].get("metricHeaders", [])]
        alias = {"keyEvents": "conversions", "conversions": "keyEvents"}
        rows = []
        for page in pages:
            for row in page.get("rows", ()):
                dv, mv = row.get("dimensionValues", []), row.get("metricValues", [])
                if keep is not None and "eventName" in dims and dv[dims.index("eventName")].get("value") not in keep:
                    continue
                rows.append({
                    "dimensionValues": [dv[dims.index(d)] if d in dims else {"value": "(not set)"} for d in want_dims],
                    "metricValues": [_metric(mv, mets, m, alias.get(m)) for m in want_mets],
                })
        limit = int(req.get("limit") or 10000)  # int64 arrives as a JSON string
        offset = int(req.get("offset") or 0)
        out: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in want_dims],
            "metricHeaders": [{"name": m, "type": _metric_type(pages[0], m)} for m in want_mets],
        }
        if rows[offset:offset + limit]:
            out["rows"] = rows[offset:offset + limit]
        out["rowCount"] = len(rows)
        out["metadata"] = pages[0].get("metadata") or _metadata(prop.bodies)
        out["kind"] = "analyticsData#runReport"
        return 200, out

    def _funnel(self, prop: _Property, r: Logged) -> tuple[int, Any]:
        """A closed funnel of event steps: the recorded response for these steps, else one synthesized from the
        28-day totalUsers of ga4/events.json. Step 1 = the first event's users; a later step = 80% of its event's
        users (some reach it by another path), at most 60% of the step before (a closed funnel only loses users).
        As GA4 does, a step nobody reached has no row."""
        req = r.body if isinstance(r.body, dict) else {}
        names: list[str] = []
        events: list[str] = []
        for step in (req.get("funnel") or {}).get("steps") or []:
            event = ((step.get("filterExpression") or {}).get("funnelEventFilter") or {}).get("eventName")
            if not step.get("name") or not event:  # the auditor only sends named single-event steps
                return _error("INVALID_ARGUMENT", "funnel steps need a name and a funnelEventFilter.eventName")
            names.append(step["name"])
            events.append(event)
        if "dateRanges" not in req or len(names) < 2:
            return _error("INVALID_ARGUMENT", "runFunnelReport needs dateRanges and at least two funnel steps")
        recorded = _recorded_funnel(prop.bodies.get("ga4/funnels.json") or [], names)
        if recorded is not None:
            return 200, recorded
        users_of = _event_users(prop.bodies.get("ga4/events.json") or [])
        users: list[int] = []
        for i, event in enumerate(events):
            own = users_of.get(event, 0)
            users.append(own if i == 0 else min(int(own * 0.8), int(users[-1] * 0.6)))
        rows, visual = [], []
        for i, (name, n) in enumerate(zip(names, users, strict=True)):
            if n <= 0:
                break  # no row for a step nobody reached (nor for the ones after it)
            nxt = users[i + 1] if i + 1 < len(users) else 0
            last = i + 1 == len(users)
            lost = 0 if last else n - nxt
            step = {"value": f"{i + 1}. {name}"}
            rows.append({"dimensionValues": [step], "metricValues": [  # the last step completes: rate 1
                {"value": str(n)}, {"value": "1" if last else _rate(nxt, n)}, {"value": str(lost)},
                {"value": "0" if last else _rate(lost, n)}]})
            visual.append({"dimensionValues": [step], "metricValues": [{"value": str(n)}]})
        table: dict[str, Any] = {  # typed as the sample fixtures record them (TYPE_INTEGER, rates included)
            "dimensionHeaders": [{"name": "funnelStepName"}],
            "metricHeaders": [{"name": m, "type": "TYPE_INTEGER"} for m in FUNNEL_METRICS],
        }
        visualization: dict[str, Any] = {"dimensionHeaders": [{"name": "funnelStepName"}],
                                         "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}]}
        if rows:
            table["rows"], visualization["rows"] = rows, visual
        return 200, {"funnelTable": table, "funnelVisualization": visualization,
                     "kind": "analyticsData#runFunnelReport"}

    def _account_summaries(self, r: Logged) -> dict[str, Any]:
        accounts: dict[str, dict[str, Any]] = {}
        for pid, prop in sorted(self.properties.items()):
            acct = accounts.setdefault(prop.account, {
                "name": f"accountSummaries/{prop.account.rsplit('/', 1)[-1]}", "account": prop.account,
                "displayName": prop.account_name, "propertySummaries": []})
            body = prop.bodies["ga4/property.json"][0]
            acct["propertySummaries"].append({
                "property": f"properties/{pid}", "displayName": body.get("displayName", ""),
                "propertyType": body.get("propertyType", "PROPERTY_TYPE_ORDINARY"), "parent": prop.account})
        page, token = self._page(r, list(accounts.values()), 50, 200)
        out: dict[str, Any] = {"accountSummaries": page} if page else {}
        if token:
            out["nextPageToken"] = token
        return out


@functools.lru_cache(maxsize=1)
def _test_private_key() -> str:
    """One RSA key per test process (generating one takes ~0.1 s)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _metric(values: list[dict[str, Any]], names: list[str], name: str, alias: str | None) -> dict[str, Any]:
    for n in (name, alias):
        if n in names and names.index(n) < len(values):
            return values[names.index(n)]
    return {"value": "0"}


def _metric_type(page: dict[str, Any], name: str) -> str:
    for m in page.get("metricHeaders", ()):
        if m.get("name") == name and m.get("type"):
            return m["type"]
    return {"eventValue": "TYPE_CURRENCY", "keyEvents": "TYPE_FLOAT"}.get(name, "TYPE_INTEGER")


def _metadata(bodies: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    events = bodies.get("ga4/events.json") or [{}]
    return events[0].get("metadata") or {"currencyCode": "USD", "timeZone": "Etc/UTC"}


def _event_filter(expression: Any) -> set[str] | None | bool:
    """The event names an inListFilter on eventName keeps; None without a filter; False for any other filter
    (the auditor sends no other)."""
    if not expression:
        return None
    f = expression.get("filter") if isinstance(expression, dict) else None
    values = ((f or {}).get("inListFilter") or {}).get("values")
    if not f or f.get("fieldName") != "eventName" or values is None:
        return False
    return set(values)


def _unattributed(bodies: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The Ads key events report of a property whose folder records none: every key event of events.json
    credited to no Google Ads account ("(not set)"), as GA4 reports a property without Ads traffic."""
    pages = bodies.get("ga4/events.json") or [{}]
    mets = [m.get("name") for m in pages[0].get("metricHeaders", [])]
    rows = []
    for page in pages:
        for row in page.get("rows", ()):
            value = _metric(row.get("metricValues", []), mets, "keyEvents", "conversions")["value"]
            if float(value or 0) > 0:
                rows.append({"dimensionValues": [row["dimensionValues"][0], {"value": "(not set)"}],
                             "metricValues": [{"value": value}]})
    return {"dimensionHeaders": [{"name": "eventName"}, {"name": "googleAdsCustomerId"}],
            "metricHeaders": [{"name": "keyEvents", "type": "TYPE_FLOAT"}], "rows": rows}


_NO_LOCK = contextlib.nullcontext()
FUNNEL_METRICS = ("activeUsers", "funnelStepCompletionRate", "funnelStepAbandonments", "funnelStepAbandonmentRate")
_STEP = re.compile(r"^(\d+)\.\s?(.*)$")


def _recorded_funnel(bodies: list[dict[str, Any]], names: list[str]) -> dict[str, Any] | None:
    """The recorded response for these step names: each funnel-table row's "N. name" is the Nth requested step.
    A response naming every step wins over one whose later steps have no row (nobody reached them)."""
    partial = None
    for body in bodies:
        rows = (body.get("funnelTable") or {}).get("rows") or []
        seen: set[int] = set()
        for row in rows:
            values = [v.get("value", "") for v in row.get("dimensionValues") or ()]
            m = next((m for m in map(_STEP.match, values) if m), None)
            if m is None or not 1 <= int(m.group(1)) <= len(names) or names[int(m.group(1)) - 1] != m.group(2):
                break
            seen.add(int(m.group(1)))
        else:
            if seen == set(range(1, len(names) + 1)):
                return body
            if seen and partial is None and seen == set(range(1, max(seen) + 1)):
                partial = body
    return partial


def _event_users(pages: list[dict[str, Any]]) -> dict[str, int]:
    """eventName -> totalUsers of a recorded runReport (0 when the metric was not recorded)."""
    out: dict[str, int] = {}
    for page in pages:
        dims = [d.get("name") for d in page.get("dimensionHeaders", [])]
        mets = [m.get("name") for m in page.get("metricHeaders", [])]
        if "eventName" not in dims or "totalUsers" not in mets:
            continue
        di, mi = dims.index("eventName"), mets.index("totalUsers")
        for row in page.get("rows", ()):
            dv, mv = row.get("dimensionValues", []), row.get("metricValues", [])
            if di < len(dv) and mi < len(mv):
                name = dv[di].get("value", "")
                out[name] = out.get(name, 0) + int(float(mv[mi].get("value") or 0))
    return out


def _rate(part: int, whole: int) -> str:
    return repr(part / whole) if whole else "0"


def _error(status: str, message: str, reason: str | None = None) -> tuple[int, dict[str, Any]]:
    code = _CODE.get(status, 500)
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                             "domain": "googleapis.com"}]
    return code, {"error": error}


def _jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def _b64e(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _b64d(text: str) -> str:
    return base64.urlsafe_b64decode(text.encode()).decode() if text else ""


def iter_fixture_clients(root: Path) -> Iterator[Path]:
    """Client folders under `root` that hold a GA4 property (for tests parametrised over sample fixtures)."""
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if (folder / "ga4" / "property.json").is_file():
            yield folder
