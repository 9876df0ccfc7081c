"""A loopback Google Ads API fake that speaks real gRPC (TLS) to the real google-ads client library.

It serves recorded client folders (``<client>/ads/*.json``) by customer id, routes each GAQL query by its FROM
clause (FROM customer: the conversion lag when segments.conversion_lag_bucket is selected, the 30-day stats when
segments.conversion_action is, else the tracking settings), keeps only the SELECTed fields of every row (so a query
that forgets a field the mapping reads shows up as a test failure), rejects fields the API does not know and fields
of a resource the FROM resource cannot select (with metrics only where the resource has them), applies simple
``field = VALUE`` and ``field != VALUE`` WHERE conditions, and can inject faults: UNAVAILABLE N times, UNAVAILABLE
in the middle of a stream, a ``GoogleAdsFailure`` in the ``googleadsfailure-bin`` trailer, fixed latency per call,
and the refusal a Google Cloud project with Test access gets on every production account. The ``developer-token``
header is optional, as the API has it since developer tokens were sunset; a token that is sent is checked when the
fake is given one. A test aid only.

``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` must point at the fake's CA before grpc opens its first secure channel in
the process: call `install_test_ca()` early (session- or module-scoped fixture).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import grpc
import trustme
from google.protobuf import json_format

ADS_FILES_BY_RESOURCE = {
    "conversion_action": "ads/conversion_actions.json",
    "customer": "ads/conversion_stats.json",  # with segments.conversion_action; without: ads/customer.json
    "customer_conversion_goal": "ads/customer_conversion_goals.json",
    "campaign": "ads/campaigns.json",
    "campaign_conversion_goal": "ads/campaign_conversion_goals.json",
    "conversion_goal_campaign_config": "ads/conversion_goal_campaign_configs.json",
    "custom_conversion_goal": "ads/custom_conversion_goals.json",
    "offline_conversion_upload_client_summary": "ads/offline_upload_client_summaries.json",
    "offline_conversion_upload_conversion_action_summary": "ads/offline_upload_action_summaries.json",
}
CUSTOMER_SETTINGS_FILE = "ads/customer.json"
CONVERSION_LAG_FILE = "ads/conversion_lag.json"
# The FROM customer query by segments.conversion_lag_bucket (conversions by days from click), told apart from the
# 30-day stats: name it to deny only that query (`deny(customer, LAG)`).
LAG = "customer:conversion_lag"
# The FROM customer query without segments (the tracking settings), told apart from the 30-day stats: name it
# to deny only that query (`deny(customer, SETTINGS)`).
SETTINGS = "customer:settings"
# FROM resource -> the resources whose fields it may select (itself and its attributed resources, as the API's
# field reference lists them), and whether it may select metrics and segments.
_SELECTABLE: dict[str, tuple[frozenset[str], bool]] = {
    "conversion_action": (frozenset({"conversion_action", "customer"}), True),
    "customer": (frozenset({"customer"}), True),
    "customer_conversion_goal": (frozenset({"customer_conversion_goal", "customer"}), False),
    "campaign": (frozenset({"campaign", "customer", "bidding_strategy", "campaign_budget"}), True),
    "campaign_conversion_goal": (frozenset({"campaign_conversion_goal", "campaign", "customer"}), False),
    "conversion_goal_campaign_config": (frozenset({"conversion_goal_campaign_config", "campaign",
                                                   "custom_conversion_goal", "customer"}), False),
    "custom_conversion_goal": (frozenset({"custom_conversion_goal", "customer"}), False),
    "offline_conversion_upload_client_summary": (frozenset({"offline_conversion_upload_client_summary", "customer"}),
                                                 False),
    "offline_conversion_upload_conversion_action_summary": (
        frozenset({"offline_conversion_upload_conversion_action_summary", "customer"}), False),
    "customer_client": (frozenset({"customer_client", "customer"}), False),
}
_CUSTOMER_IN_RESOURCE = re.compile(r"customers/(\d{10})/")
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<resource>\w+)(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+.+?)?(?:\s+LIMIT\s+\d+)?(?:\s+PARAMETERS\s+.+?)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^([\w.]+)\s*(!?=)\s*(.+)$")

# --- TLS ---------------------------------------------------------------------------------------------------

_CA: trustme.CA | None = None
_CA_LOCK = threading.Lock()


def install_test_ca() -> trustme.CA:
    """Create the process-wide test CA once, write its PEM and point grpc's default roots at it.

    grpc reads its default roots once, when it opens the first secure channel of the process: this must run
    before that, and every TLS fake in the process must reuse this CA.
    """
    global _CA
    with _CA_LOCK:
        if _CA is None:
            ca = trustme.CA()
            fd, path = tempfile.mkstemp(prefix="auditor-test-ca-", suffix=".pem")
            with os.fdopen(fd, "wb") as f:
                f.write(ca.cert_pem.bytes())
            os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = path
            _CA = ca
        return _CA


# --- the fake ----------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One RPC as the fake received it."""

    method: str  # "Search" | "SearchStream"
    customer_id: str
    query: str
    resource: str  # the FROM resource, "" if the query did not parse
    metadata: dict[str, str]


@dataclass
class _Denial:
    status: grpc.StatusCode
    error_field: str  # ErrorCode oneof member, e.g. "authorization_error"
    error_value: str  # its enum name, e.g. "USER_PERMISSION_DENIED"
    message: str


@dataclass
class _Faults:
    unavailable: list[tuple[str | None, int]] = field(default_factory=list)  # (resource or None, times left)
    mid_stream: list[tuple[str | None, int]] = field(default_factory=list)
    denials: dict[tuple[str, str | None], _Denial] = field(default_factory=dict)  # (customer, resource)
    test_project: frozenset[str] | None = None  # Test access: only these (test) accounts answer
    operations: dict[str, tuple[tuple[str, str], str, bool]] = field(default_factory=dict)  # resource -> failure


@dataclass
class Mutate:
    """One Mutate* RPC as the fake received it."""

    service: str  # ConversionActionService ...
    customer_id: str
    validate_only: bool
    partial_failure: bool
    operations: list[tuple[str, list[str]]]  # (resource name, update mask paths)


class _Abort(Exception):
    def __init__(self, status: grpc.StatusCode, details: str, trailer: list[tuple[str, Any]] | None = None):
        super().__init__(details)
        self.status, self.details, self.trailer = status, details, trailer or []


class FakeAdsServer:
    """GoogleAdsService (Search, SearchStream) on ``localhost:<port>`` over TLS signed by `install_test_ca`.

    fixtures: a client folder or a folder of client folders; each ``ads/conversion_actions.json`` names its
    customer in its resource names. clients: manager id -> customer_client rows (snake_case dicts such as
    ``{"id": 1234567890, "descriptive_name": "Shop", "currency_code": "EUR", "manager": False}``).
    batch_rows: split every recorded batch into stream messages of at most this many rows.
    """

    def __init__(
        self,
        fixtures: Path | str | None = None,
        *,
        version: str = "v26",
        clients: dict[str, list[dict[str, Any]]] | None = None,
        batch_rows: int | None = None,
        page_size: int = 10_000,
        latency: float = 0.0,
        developer_token: str | None = None,
        bearer: str | None = None,
    ) -> None:
        self.version = version
        self._svc = import_module(f"google.ads.googleads.{version}.services.types.google_ads_service")
        self._errors = import_module(f"google.ads.googleads.{version}.errors.types.errors")
        self.failure_key = f"google.ads.googleads.{version}.errors.googleadsfailure-bin"
        self.customers: dict[str, Path] = {}
        if fixtures is not None:
            self.add_fixtures(Path(fixtures))
        self.clients = {k: list(v) for k, v in (clients or {}).items()}
        self.batch_rows, self.page_size, self.latency = batch_rows, page_size, latency
        self.developer_token, self.bearer = developer_token, bearer
        self.calls: list[Call] = []
        self._faults = _Faults()
        # Writes (the Mutate* methods of `MUTATE_SERVICES`): the served rows a mutate changed, by (customer, file),
        # as snake_case JSON batches; read before the recorded files. `reset_state` forgets them.
        self.state: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
        self.mutates: list[Mutate] = []
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.port = 0

    # --- setup --------------------------------------------------------------------------------------------

    def add_fixtures(self, root: Path) -> None:
        """Serve every client folder under root (or root itself) that holds ads/conversion_actions.json."""
        folders = [root] if (root / "ads").is_dir() else sorted(p for p in root.iterdir() if p.is_dir())
        for folder in folders:
            path = folder / "ads" / "conversion_actions.json"
            if path.is_file():
                found = _CUSTOMER_IN_RESOURCE.search(path.read_text(encoding="utf-8-sig"))
                if found:
                    self.customers[found.group(1)] = folder

    @property
    def endpoint(self) -> str:
        return f"localhost:{self.port}"

    def start(self) -> FakeAdsServer:
        ca = install_test_ca()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        creds = grpc.ssl_server_credentials(
            [(cert.private_key_pem.bytes(), b"".join(b.bytes() for b in cert.cert_chain_pems))])
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        svc = self._svc
        handler = grpc.method_handlers_generic_handler(
            f"google.ads.googleads.{self.version}.services.GoogleAdsService",
            {
                "Search": grpc.unary_unary_rpc_method_handler(
                    self._search, request_deserializer=svc.SearchGoogleAdsRequest.deserialize,
                    response_serializer=svc.SearchGoogleAdsResponse.serialize),
                "SearchStream": grpc.unary_stream_rpc_method_handler(
                    self._search_stream, request_deserializer=svc.SearchGoogleAdsStreamRequest.deserialize,
                    response_serializer=svc.SearchGoogleAdsStreamResponse.serialize),
            },
        )
        server.add_generic_rpc_handlers((handler, *self._mutate_handlers()))
        self.port = server.add_secure_port("localhost:0", creds)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> FakeAdsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- fault injection and inspection -------------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls (searches and mutates) and faults (latency, tokens and served data stay)."""
        with self._lock:
            self.calls.clear()
            self.mutates.clear()
            self._faults = _Faults()

    def fail_unavailable(self, times: int, resource: str | None = None) -> None:
        """The next `times` calls (FROM `resource`, or any) fail with UNAVAILABLE before sending anything."""
        with self._lock:
            self._faults.unavailable.append((resource, times))

    def fail_mid_stream(self, times: int, resource: str | None = None) -> None:
        """The next `times` SearchStream calls send their first message, then fail with UNAVAILABLE."""
        with self._lock:
            self._faults.mid_stream.append((resource, times))

    def deny(
        self,
        customer_id: str,
        resource: str | None = None,
        *,
        error: tuple[str, str] = ("authorization_error", "USER_PERMISSION_DENIED"),
        message: str = "User doesn't have permission to access customer. Note: If you're accessing a client "
                       "customer, the manager's customer id must be set in the 'login-customer-id' header.",
        status: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED,
    ) -> None:
        """Calls for `customer_id` (FROM `resource`, `SETTINGS` for the FROM customer query without segments, or
        any) fail with a GoogleAdsFailure in the trailer."""
        with self._lock:
            self._faults.denials[(customer_id, resource)] = _Denial(status, error[0], error[1], message)

    def refuse_as_test_project(self, test_accounts: tuple[str, ...] = ()) -> None:
        """Answer as the API answers a Google Cloud project with Test access: every account but `test_accounts`
        fails with CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION (until `reset`)."""
        with self._lock:
            self._faults.test_project = frozenset(test_accounts)

    def fail_operation(self, resource: str, error: tuple[str, str] = ("conversion_action_error",
                                                                      "DATA_DRIVEN_MODEL_WAS_NEVER_GENERATED"),
                       message: str = "The operation was refused.", validate: bool = True) -> None:
        """A mutate operation on `resource` fails with this error: in validation and for real, or (validate=False)
        only when it is made for real (a validate_only request passes)."""
        with self._lock:
            self._faults.operations[resource] = (error, message, validate)

    def reset_state(self) -> None:
        """Serve the recorded files again, as before any mutate."""
        with self._lock:
            self.state.clear()
            self.mutates.clear()

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self.calls)

    # --- RPCs ---------------------------------------------------------------------------------------------

    def _search_stream(self, request: Any, context: grpc.ServicerContext):
        try:
            resource, rows, mask = self._prepare("SearchStream", request, context)
            batches = self._batches(resource, request.customer_id, rows)
            request_id = uuid.uuid4().hex[:22]
            for i, batch in enumerate(batches):
                if i == 1 and self._take(self._faults.mid_stream, resource.split(":")[0]):
                    raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable (mid-stream).")
                yield self._svc.SearchGoogleAdsStreamResponse(
                    results=batch, field_mask=mask, request_id=request_id)
        except _Abort as a:
            self._abort(context, a)

    def _search(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            _, rows, mask = self._prepare("Search", request, context)
            start = int(request.page_token or 0)
            end = start + self.page_size
            return self._svc.SearchGoogleAdsResponse(
                results=rows[start:end], next_page_token=str(end) if end < len(rows) else "",
                total_results_count=len(rows), field_mask=mask)
        except _Abort as a:
            self._abort(context, a)

    def _abort(self, context: grpc.ServicerContext, a: _Abort) -> None:
        context.set_trailing_metadata([("request-id", uuid.uuid4().hex[:22]), *a.trailer])
        context.abort(a.status, a.details)

    def _prepare(self, method: str, request: Any, context: grpc.ServicerContext) -> tuple[str, list[Any], Any]:
        """Log the call, apply faults and checks, and return (resource, selected rows, field mask)."""
        if self.latency:
            time.sleep(self.latency)
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        m = _QUERY.match(request.query)
        resource = m.group("resource").lower() if m else ""
        with self._lock:
            self.calls.append(Call(method, request.customer_id, request.query, resource, metadata))
        self._check_headers(metadata)
        if self._take(self._faults.unavailable, resource):
            raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
        customer = request.customer_id
        if not m:
            raise self._failure(grpc.StatusCode.INVALID_ARGUMENT, "query_error", "UNEXPECTED_END_OF_QUERY",
                                "Error in query: the query could not be parsed.")
        select = [s.strip() for s in m.group("select").split(",") if s.strip()]
        source = resource
        if resource == "customer" and "segments.conversion_lag_bucket" in select:
            source = LAG  # conversions by action and days from click
        elif resource == "customer" and "segments.conversion_action" not in select:
            source = SETTINGS  # the tracking settings, one row
        with self._lock:
            denial = (self._faults.denials.get((customer, source)) or self._faults.denials.get((customer, resource))
                      or self._faults.denials.get((customer, None)))
        if denial:
            raise self._failure(denial.status, denial.error_field, denial.error_value, denial.message)
        with self._lock:
            test_only = self._faults.test_project
        if test_only is not None and customer not in test_only:
            raise self._failure(grpc.StatusCode.PERMISSION_DENIED, "authorization_error",
                                "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION",
                                "The Google Cloud project is only approved for use with test accounts. To access "
                                "non-test accounts, apply for Explorer, Basic or Standard access.")
        proto_paths = []
        for path in select:
            proto_path = self._proto_path(path)
            if proto_path is None:
                raise self._failure(grpc.StatusCode.INVALID_ARGUMENT, "query_error", "UNRECOGNIZED_FIELD",
                                    f"Error in SELECT clause: unrecognized field '{path}'.")
            self._check_selectable(resource, path)
            proto_paths.append(proto_path)
        where = m.group("where")
        rows = [self._select(r, proto_paths, resource) for r in self._rows(source, customer)
                if _where_matches(r, where, self._proto_path)]
        row_pb = self._svc.GoogleAdsRow.pb()
        return source, [self._svc.GoogleAdsRow(json_format.ParseDict(r, row_pb())) for r in rows], {"paths": select}

    def _check_selectable(self, resource: str, path: str) -> None:
        top = path.split(".", 1)[0]
        allowed, metrics = _SELECTABLE.get(resource, (frozenset({resource}), True))
        if top in ("metrics", "segments"):
            if not metrics:
                raise self._failure(grpc.StatusCode.INVALID_ARGUMENT, "query_error",
                                    "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE" if top == "metrics" else
                                    "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
                                    f"Error in SELECT clause: '{path}' cannot be selected with FROM {resource}.")
        elif top not in allowed:
            raise self._failure(grpc.StatusCode.INVALID_ARGUMENT, "query_error",
                                "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
                                f"Error in SELECT clause: '{path}' cannot be selected with FROM {resource}.")

    def _check_headers(self, metadata: dict[str, str]) -> None:
        token = metadata.get("developer-token")  # optional: access is the Cloud project's
        if token is not None and self.developer_token is not None and token != self.developer_token:
            raise self._failure(grpc.StatusCode.UNAUTHENTICATED, "authentication_error", "DEVELOPER_TOKEN_INVALID",
                                "The developer token is not valid.")
        auth = metadata.get("authorization", "")
        if not auth.startswith("Bearer ") or (self.bearer is not None and auth != f"Bearer {self.bearer}"):
            raise self._failure(grpc.StatusCode.UNAUTHENTICATED, "authentication_error", "OAUTH_TOKEN_INVALID",
                                "Invalid OAuth access token.")
        login = metadata.get("login-customer-id")
        if login is not None and not re.fullmatch(r"\d{10}", login):
            raise self._failure(grpc.StatusCode.INVALID_ARGUMENT, "header_error", "INVALID_LOGIN_CUSTOMER_ID",
                                "The login customer ID could not be validated.")

    def _failure(self, status: grpc.StatusCode, error_field: str, error_value: str, message: str) -> _Abort:
        request_id = uuid.uuid4().hex[:22]
        failure = self._errors.GoogleAdsFailure(
            errors=[self._errors.GoogleAdsError(error_code={error_field: error_value}, message=message)],
            request_id=request_id)
        return _Abort(status, message, [(self.failure_key, self._errors.GoogleAdsFailure.serialize(failure))])

    def _take(self, queue: list[tuple[str | None, int]], resource: str) -> bool:
        with self._lock:
            for i, (res, left) in enumerate(queue):
                if res in (None, resource) and left > 0:
                    queue[i] = (res, left - 1)
                    return True
        return False

    def _mutate_handlers(self) -> list[Any]:
        """Generic handlers for the Mutate* methods of `MUTATE_SERVICES`: updates with a field mask change the served
        rows (unless validate_only); create and remove operations are refused (the auditor never sends them)."""
        handlers = []
        for service, (method, module, _field, key, row_key, single) in MUTATE_SERVICES.items():
            types = import_module(f"google.ads.googleads.{self.version}.services.types.{module}")
            req_t, resp_t, result_t = (getattr(types, n) for n in _REQUESTS[method])

            def handle(request: Any, context: grpc.ServicerContext, *, _svc: str = service, _key: str = key,
                       _row: str = row_key, _single: bool = single, _resp: Any = resp_t,
                       _result: Any = result_t) -> Any:
                try:
                    return self._mutate(_svc, _key, _row, _single, request, context, _resp, _result)
                except _Abort as a:
                    self._abort(context, a)

            handlers.append(grpc.method_handlers_generic_handler(
                f"google.ads.googleads.{self.version}.services.{service}",
                {method: grpc.unary_unary_rpc_method_handler(handle, request_deserializer=req_t.deserialize,
                                                             response_serializer=resp_t.serialize)}))
        return handlers


    def _mutate(self, service: str, key: str, row_key: str, single: bool, request: Any,
                context: grpc.ServicerContext, resp_t: Any, result_t: Any) -> Any:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self._check_headers(metadata)
        customer = request.customer_id
        ops = [request.operation] if single else list(request.operations)
        partial = bool(getattr(request, "partial_failure", False))
        parsed = []
        for op in ops:
            pb = type(op).pb(op)
            kind = pb.WhichOneof("operation")
            update = json_format.MessageToDict(pb.update, preserving_proto_field_name=True) if kind == "update" else {}
            parsed.append((kind, update, list(pb.update_mask.paths)))
        with self._lock:
            self.mutates.append(Mutate(service, customer, request.validate_only, partial,
                                       [(u.get("resource_name", ""), paths) for _, u, paths in parsed]))
            denial = self._faults.denials.get((customer, f"mutate:{service}")) or self._faults.denials.get(
                (customer, "mutate"))
        if denial:
            raise self._failure(denial.status, denial.error_field, denial.error_value, denial.message)
        if customer not in self.customers:
            raise self._failure(grpc.StatusCode.PERMISSION_DENIED, "authorization_error", "USER_PERMISSION_DENIED",
                                f"User doesn't have permission to access customer {customer}.")
        with self._lock:
            batches = self.state.get((customer, key))
        if batches is None:
            batches = self._recorded(SETTINGS if key == CUSTOMER_SETTINGS_FILE else _resource_of(key), customer)
        rows = {((r.get(row_key) or {}).get("resource_name")): r for b in batches for r in b}
        errors: list[tuple[int, tuple[str, str], str]] = []
        for i, (kind, update, paths) in enumerate(parsed):
            name = update.get("resource_name", "")
            if kind != "update":
                errors.append((i, ("mutate_error", "MUTATE_NOT_ALLOWED"), f"{kind} is not served by this fake"))
            elif name not in rows:
                errors.append((i, ("mutate_error", "RESOURCE_NOT_FOUND"), f"Resource {name} was not found."))
            elif not paths:
                errors.append((i, ("field_mask_error", "FIELD_MASK_MISSING"), "The field mask is missing."))
            elif any(self._proto_path(f"{row_key}.{p}") is None for p in paths):
                errors.append((i, ("field_mask_error", "FIELD_NOT_FOUND"), f"Field mask {paths} names an unknown "
                               "field."))
            else:
                with self._lock:
                    fault = self._faults.operations.get(name)
                if fault is not None and (fault[2] or not request.validate_only):
                    errors.append((i, fault[0], fault[1]))
        failed = {i for i, _, _ in errors}
        if errors and (request.validate_only or not partial):
            raise self._operation_failure(errors, "operation" if single else "operations")
        results = []
        if not request.validate_only:
            with self._lock:
                for i, (_kind, update, paths) in enumerate(parsed):
                    if i in failed:
                        results.append(result_t())
                        continue
                    obj = rows[update["resource_name"]].setdefault(row_key, {})
                    for path in paths:
                        value: Any = update
                        for part in path.split("."):
                            value = value.get(part) if isinstance(value, dict) else None
                        target = obj
                        parts = path.split(".")
                        for part in parts[:-1]:
                            target = target.setdefault(part, {})
                        if value is None:
                            target.pop(parts[-1], None)  # the field's default: absent in the JSON mapping
                        else:
                            target[parts[-1]] = value
                    results.append(result_t(resource_name=update["resource_name"]))
                self.state[(customer, key)] = batches
        if single:
            return resp_t(result=results[0] if results else result_t())
        response = resp_t(results=results)
        if errors:
            from google.protobuf import any_pb2
            from google.rpc import status_pb2

            failure = self._failure_message(errors)
            detail = any_pb2.Any(type_url=f"type.googleapis.com/google.ads.googleads.{self.version}.errors."
                                          "GoogleAdsFailure", value=self._errors.GoogleAdsFailure.serialize(failure))
            response.partial_failure_error = status_pb2.Status(code=3, message=errors[0][2], details=[detail])
        return response

    def _failure_message(self, errors: list[tuple[int, tuple[str, str], str]], where: str = "operations") -> Any:
        e = self._errors
        return e.GoogleAdsFailure(errors=[e.GoogleAdsError(
            error_code={code[0]: code[1]}, message=message,
            location=e.ErrorLocation(field_path_elements=[e.ErrorLocation.FieldPathElement(field_name=where, index=i)]))
            for i, code, message in errors], request_id=uuid.uuid4().hex[:22])

    def _operation_failure(self, errors: list[tuple[int, tuple[str, str], str]], where: str) -> _Abort:
        failure = self._failure_message(errors, where)
        return _Abort(grpc.StatusCode.INVALID_ARGUMENT, errors[0][2],
                      [(self.failure_key, self._errors.GoogleAdsFailure.serialize(failure))])

    # --- data ---------------------------------------------------------------------------------------------

    def _recorded(self, resource: str, customer: str) -> list[list[dict[str, Any]]]:
        """Recorded batches of one customer for one FROM resource, each a list of JSON rows."""
        folder = self.customers.get(customer)
        if folder is None:
            raise self._failure(grpc.StatusCode.PERMISSION_DENIED, "authorization_error", "USER_PERMISSION_DENIED",
                                f"User doesn't have permission to access customer {customer}.")
        key = {SETTINGS: CUSTOMER_SETTINGS_FILE, LAG: CONVERSION_LAG_FILE}.get(resource) or ADS_FILES_BY_RESOURCE.get(
            resource)
        if key is None:
            return [[]]
        with self._lock:
            changed = self.state.get((customer, key))
        if changed is not None:
            return [[dict(r) for r in b] for b in changed]
        path = folder / key
        if not path.is_file():
            return [[]]
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        bodies = data if isinstance(data, list) else [data]
        batches = []
        for body in bodies:
            # through the proto JSON parser, as the real API would hold them, then back to plain JSON rows
            msg = self._svc.SearchGoogleAdsStreamResponse.from_json(json.dumps(body), ignore_unknown_fields=True)
            pb = self._svc.SearchGoogleAdsStreamResponse.pb(msg)
            batches.append([json_format.MessageToDict(r, preserving_proto_field_name=True) for r in pb.results])
        return batches or [[]]

    def _rows(self, resource: str, customer: str) -> list[dict[str, Any]]:
        if resource == "customer_client":
            if customer not in self.clients:
                raise self._failure(grpc.StatusCode.PERMISSION_DENIED, "authorization_error",
                                    "USER_PERMISSION_DENIED",
                                    f"User doesn't have permission to access customer {customer}.")
            return [{"customer_client": {"resource_name": f"customers/{customer}/customerClients/{c['id']}",
                                         "client_customer": f"customers/{c['id']}", **c}}
                    for c in self.clients[customer]]
        return [row for batch in self._recorded(resource, customer) for row in batch]

    def _batches(self, resource: str, customer: str, rows: list[Any]) -> list[list[Any]]:
        """Rows regrouped as recorded (one message per recorded batch), split further by batch_rows."""
        if resource in ADS_FILES_BY_RESOURCE or resource in (SETTINGS, LAG):
            sizes = [len(b) for b in self._recorded(resource, customer)]
        else:
            sizes = [len(rows)]
        if sum(sizes) != len(rows):  # a WHERE filter dropped rows: keep one batch
            sizes = [len(rows)]
        out, i = [], 0
        for n in sizes:
            chunk = rows[i:i + n]
            i += n
            step = self.batch_rows or max(len(chunk), 1)
            out.extend(chunk[j:j + step] for j in range(0, max(len(chunk), 1), step))
        return out or [[]]

    def _proto_path(self, path: str) -> str | None:
        """A GAQL field path -> the descriptor's path (proto-plus names ``type`` as ``type_``), or None."""
        desc = self._svc.GoogleAdsRow.pb().DESCRIPTOR
        parts = []
        for part in path.split("."):
            fields = desc.fields_by_name if desc is not None else {}
            fd = fields.get(part) or fields.get(part + "_")
            if fd is None:
                return None
            parts.append(fd.name)
            desc = fd.message_type
        return ".".join(parts)

    @staticmethod
    def _select(row: dict[str, Any], select: list[str], resource: str) -> dict[str, Any]:
        """Keep only selected paths (the API also returns the resource_name of every selected resource)."""
        keep = set(select) | {f"{resource}.resource_name"}
        keep |= {f"{p.split('.', 1)[0]}.resource_name" for p in select
                 if p.split(".", 1)[0] not in ("metrics", "segments")}
        return _prune(row, "", keep)


def _prune(node: dict[str, Any], prefix: str, keep: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in keep or any(path.startswith(k + ".") for k in keep):
            out[key] = value
        elif isinstance(value, dict) and any(k.startswith(path + ".") for k in keep):
            sub = _prune(value, path + ".", keep)
            if sub:
                out[key] = sub
    return out


def _where_matches(row: dict[str, Any], where: str | None, proto_path: Callable[[str], str | None]) -> bool:
    """Apply ``field = VALUE`` and ``field != VALUE`` conditions joined by AND; anything else (DURING, IN, ...)
    is ignored."""
    if not where:
        return True
    for cond in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        m = _CONDITION.match(cond.strip())
        if not m:
            continue
        value: Any = row
        for part in (proto_path(m.group(1)) or m.group(1)).split("."):
            value = value.get(part) if isinstance(value, dict) else None
        want = m.group(3).strip().strip("'\"").lower()
        have = "" if value is None else str(value).lower()
        equal = have == want or (value is None and want in ("false", "0", ""))
        if equal != (m.group(2) == "="):
            return False
    return True


# --- writes ------------------------------------------------------------------------------------------------

# service -> (its Mutate method, request type, response type, resource field of an operation, the file whose
# rows hold the resource, the resource's key in those rows, whether the request takes one operation)
MUTATE_SERVICES: dict[str, tuple[str, str, str, str, str, bool]] = {
    "ConversionActionService": ("MutateConversionActions", "conversion_action_service", "conversion_action",
                                "ads/conversion_actions.json", "conversion_action", False),
    "CustomerService": ("MutateCustomer", "customer_service", "customer", CUSTOMER_SETTINGS_FILE, "customer", True),
    "CampaignConversionGoalService": ("MutateCampaignConversionGoals", "campaign_conversion_goal_service",
                                      "campaign_conversion_goal", "ads/campaign_conversion_goals.json",
                                      "campaign_conversion_goal", False),
    "CustomerConversionGoalService": ("MutateCustomerConversionGoals", "customer_conversion_goal_service",
                                      "customer_conversion_goal", "ads/customer_conversion_goals.json",
                                      "customer_conversion_goal", False),
}
_REQUESTS = {"MutateConversionActions": ("MutateConversionActionsRequest", "MutateConversionActionsResponse",
                                         "MutateConversionActionResult"),
             "MutateCustomer": ("MutateCustomerRequest", "MutateCustomerResponse", "MutateCustomerResult"),
             "MutateCampaignConversionGoals": ("MutateCampaignConversionGoalsRequest",
                                               "MutateCampaignConversionGoalsResponse",
                                               "MutateCampaignConversionGoalResult"),
             "MutateCustomerConversionGoals": ("MutateCustomerConversionGoalsRequest",
                                               "MutateCustomerConversionGoalsResponse",
                                               "MutateCustomerConversionGoalResult")}


def _resource_of(key: str) -> str:
    return next(r for r, k in ADS_FILES_BY_RESOURCE.items() if k == key)
