"""Every field the connectors ask Google for exists in the installed client libraries' types.

A field Google removes (as v26 removed customer.conversion_tracking_setting.enhanced_conversions_for_leads_enabled)
then fails here instead of in a user's run. Data-driven: it checks whatever queries and requests the connectors
hold when the test runs.

Google Ads: every GAQL query of the Ads connector modules (`auditor/connectors/ads*.py`): module-level strings and
collections of them, f-strings in their code, and every query the connector actually sends (fetch of every sample
client and discovery, through the real google-ads library against the loopback fake), so queries built per request
are caught too. Each field of SELECT, WHERE and ORDER BY is walked through the proto-plus fields of `GoogleAdsRow`
of the connector's API version.

GA4: the connector builds typed requests; from its source, every GA4 type it names must exist, every keyword given
to a request type must be a field of it, every client method it calls must exist with a request type holding the
fields passed (flattened keywords and `request={...}` keys), and any field mask path must resolve. Dimension and
metric names are values, not fields: not checked here.
"""

from __future__ import annotations

import ast
import re
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import proto
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONNECTORS = ROOT / "auditor" / "connectors"
FIXTURES = ROOT / "fixtures"
REMOVED_IN_V26 = "enhanced_conversions_for_leads_enabled"

_GAQL = re.compile(r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<resource>\w+)(?P<rest>.*)$", re.I | re.S)
_CLAUSES = re.compile(r"\b(?:WHERE|ORDER\s+BY|LIMIT|PARAMETERS)\b", re.I)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_FIELD = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\b")
_PLACEHOLDER = "__value__"


# -- Google Ads -------------------------------------------------------------------------------------------------


def _ads_modules() -> list[ModuleType]:
    return [import_module(f"auditor.connectors.{p.stem}") for p in sorted(CONNECTORS.glob("ads*.py"))]


def _row_type() -> Any:
    from auditor.connectors.ads import API_VERSION

    return import_module(f"google.ads.googleads.{API_VERSION}.services.types.google_ads_service").GoogleAdsRow


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Strings in a module-level value: itself, or inside tuples, lists, sets and dicts (a few levels)."""
    if isinstance(value, str):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for x in (k, v) for s in _strings(x, depth + 1)]
    if isinstance(value, (tuple, list, set, frozenset)):
        return [s for x in value for s in _strings(x, depth + 1)]
    return []


def constant_queries() -> dict[str, str]:
    """GAQL held by the Ads connector modules: module-level values, and f-strings in their code (formatted parts
    replaced by a placeholder). Keyed by where they were found."""
    found: dict[str, str] = {}
    for module in _ads_modules():
        for name, value in vars(module).items():
            for i, text in enumerate(_strings(value)):
                if _GAQL.match(text):
                    found.setdefault(" ".join(text.split()), f"{module.__name__}.{name}" + (f"[{i}]" if i else ""))
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else f" {_PLACEHOLDER} " for v in node.values)
                if _GAQL.match(text):
                    found.setdefault(" ".join(text.split()), f"{module.__name__}: f-string at line {node.lineno}")
    return {where: query for query, where in found.items()}


def query_fields(query: str) -> tuple[str, list[str]]:
    """(FROM resource, field paths of SELECT, WHERE and ORDER BY) of one GAQL query."""
    m = _GAQL.match(query)
    assert m, f"not a GAQL query: {query!r}"
    fields = [f.strip() for f in m.group("select").split(",") if f.strip()]
    rest = _QUOTED.sub("''", m.group("rest"))
    fields += [f for f in _FIELD.findall(rest) if not _CLAUSES.fullmatch(f)]
    return m.group("resource"), fields


def field_problem(row: Any, path: str) -> str | None:
    """Why `path` is not a field of `row` (a proto-plus message class), or None when it is one. Proto-plus names a
    field that is a Python keyword or builtin with a trailing underscore (type -> type_)."""
    message = row
    walked: list[str] = []
    for part in path.split("."):
        if message is None:
            return f"{'.'.join(walked)} is not a message, so it has no field {part!r}"
        fields = message.meta.fields
        f = fields.get(part) or fields.get(part + "_")
        if f is None:
            where = ".".join(walked) or type(row).__name__
            return f"{where or 'GoogleAdsRow'} has no field {part!r}"
        walked.append(part)
        message = f.message if isinstance(f.message, type) and issubclass(f.message, proto.Message) else None
    return None


def gaql_problems(query: str, row: Any) -> list[str]:
    resource, fields = query_fields(query)
    problems = []
    if resource not in row.meta.fields:
        problems.append(f"FROM {resource}: not a resource of GoogleAdsRow")
    for path in fields:
        if _PLACEHOLDER in path:
            continue  # a formatted value: what it holds is checked where the query is sent (sent_queries)
        problem = field_problem(row, path)
        if problem:
            problems.append(f"{path}: {problem}")
    if REMOVED_IN_V26 in query:
        problems.append(f"{REMOVED_IN_V26} was removed in v26 and must never be selected")
    return problems


@pytest.fixture(scope="module")
def sent_queries() -> list[str]:
    """Every query the Ads connector sends while reading each sample client and discovering accounts under a
    manager: the real google-ads library against the loopback fake, no developer token."""
    from google.oauth2.credentials import Credentials

    from auditor.connectors.ads import AdsConnector, AdsSettings
    from auditor.connectors.retry import CallPolicy
    from auditor.errors import SourceError
    from tests.fakes.ads_server import FakeAdsServer, install_test_ca

    install_test_ca()
    manager = "9999999999"
    with FakeAdsServer(FIXTURES) as srv:
        srv.clients = {manager: [{"id": int(c), "manager": False, "status": "ENABLED"} for c in srv.customers]}
        assert srv.customers, "no sample client with ads/ under fixtures/"
        connector = AdsConnector(AdsSettings(credentials=Credentials(token="test-access-token"),
                                             endpoint=srv.endpoint, policy=CallPolicy(attempts=1, timeout=20)))
        try:
            for customer in sorted(srv.customers):
                try:
                    connector.fetch(customer)
                except SourceError:  # a query the fake refused is still in its log: checked below
                    pass
            connector.discover(manager)
        finally:
            connector.close()
        return list(dict.fromkeys(" ".join(c.query.split()) for c in srv.calls))


def test_every_constant_gaql_query_selects_fields_of_the_installed_version() -> None:
    row = _row_type()
    queries = constant_queries()
    from auditor.connectors import ads

    # the check sees the connector's queries (guards against a collector that finds nothing)
    texts = {" ".join(q.split()) for q in queries.values()}
    assert {" ".join(q.split()) for q in (ads.ACTIONS_QUERY, ads.STATS_QUERY, ads.CLIENTS_QUERY)} <= texts
    assert {" ".join(q.split()) for _, q in ads.OPTIONAL_QUERIES} <= texts
    problems = [f"{where}: {p}" for where, q in queries.items() for p in gaql_problems(q, row)]
    assert problems == []


def test_every_query_sent_selects_fields_of_the_installed_version(sent_queries: list[str]) -> None:
    row = _row_type()
    resources = {query_fields(q)[0] for q in sent_queries}
    # every query of a fetch and of discovery ran (custom goals: a sample client bids on one)
    assert {"conversion_action", "customer", "customer_conversion_goal", "campaign", "campaign_conversion_goal",
            "conversion_goal_campaign_config", "custom_conversion_goal", "customer_client"} <= resources
    problems = [f"{q[:60]}...: {p}" for q in sent_queries for p in gaql_problems(q, row)]
    assert problems == []
    assert not any(REMOVED_IN_V26 in q for q in sent_queries)


def test_the_field_check_catches_a_removed_field() -> None:
    row = _row_type()
    bad = ("SELECT customer.id, customer.conversion_tracking_setting.enhanced_conversions_for_leads_enabled, "
           "conversion_action.type, metrics.no_such_metric FROM customer WHERE segments.nope = 'x' "
           "AND campaign.status != 'REMOVED' ORDER BY metrics.conversions DESC")
    problems = gaql_problems(bad, row)
    assert [p.split(":")[0] for p in problems] == [
        "customer.conversion_tracking_setting.enhanced_conversions_for_leads_enabled", "metrics.no_such_metric",
        "segments.nope", REMOVED_IN_V26 + " was removed in v26 and must never be selected"]
    assert field_problem(row, "conversion_action.type") is None  # proto-plus: type_
    assert field_problem(row, "customer.id.more") == "customer.id is not a message, so it has no field 'more'"
    assert gaql_problems("SELECT x.id FROM no_such_resource", row)[0] == (
        "FROM no_such_resource: not a resource of GoogleAdsRow")


# -- GA4 --------------------------------------------------------------------------------------------------------

GA4_MODULES = ("admin_v1beta", "data_v1beta", "admin_v1alpha", "data_v1alpha")
# Local names the GA4 connector gives a library module that are not import names (funnel_reports: `alpha`, the
# data_v1alpha module _funnel_client returns). A GA4 type reached through any other unknown name fails the test.
ALIASES = {"alpha": "data_v1alpha"}
# Receivers whose client is known from the connector (admin: the v1beta Admin client; _data: the v1beta Data one);
# any other receiver may be any client that has the method.
RECEIVERS = {"admin": "admin_v1beta", "_admin": "admin_v1beta", "_data": "data_v1beta"}
_NOT_FIELDS = frozenset({"request", "retry", "timeout", "metadata"})


def _ga4() -> dict[str, ModuleType]:
    return {name: import_module(f"google.analytics.{name}") for name in GA4_MODULES}


def _clients(module: ModuleType) -> list[type]:
    return [v for k, v in vars(module).items() if k.endswith("Client") and isinstance(v, type)
            and not k.endswith("AsyncClient")]


def _is_message(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, proto.Message)


def _chain(node: ast.AST) -> list[str] | None:
    """a.b.C -> ["a", "b", "C"]; None when the chain does not start at a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _receiver(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _message_path_problem(message: Any, path: str) -> str | None:
    for part in path.split("."):
        if not _is_message(message):
            return f"{path}: not a message before {part!r}"
        f = message.meta.fields.get(part) or message.meta.fields.get(part + "_")
        if f is None:
            return f"{path}: {message.__name__} has no field {part!r}"
        message = f.message
    return None


def ga4_problems(source: str, modules: dict[str, ModuleType]) -> tuple[list[str], dict[str, int]]:
    """(problems, what was checked) for GA4 connector source code."""
    tree = ast.parse(source)
    names = dict(ALIASES)
    for node in ast.walk(tree):  # `from google.analytics import data_v1beta [as x]`, at any level
        if isinstance(node, ast.ImportFrom) and node.module == "google.analytics":
            names.update({a.asname or a.name: a.name for a in node.names if a.name in modules})
    methods: dict[str, list[str]] = {}  # client method -> modules whose client has it and its request type
    for mod_name, module in modules.items():
        for client in _clients(module):
            for attr in dir(client):
                camel = "".join(p.title() for p in attr.split("_")) + "Request"
                if not attr.startswith("_") and _is_message(getattr(module, camel, None)):
                    methods.setdefault(attr, []).append(mod_name)
    every_type = {k for m in modules.values() for k, v in vars(m).items() if _is_message(v)}
    problems: list[str] = []
    checked = {"types": 0, "fields": 0, "methods": 0, "masks": 0}

    def resolve(chain: list[str], line: int) -> Any:
        module = modules[names[chain[0]]]
        value: Any = module
        for part in chain[1:]:
            value = getattr(value, part, None)
            if value is None:
                problems.append(f"line {line}: {'.'.join(chain)}: {names[chain[0]]} has no {part!r}")
                return None
        checked["types"] += 1
        return value

    def check_mask(value: ast.AST, request: Any, line: int) -> None:
        # FieldMask(paths=[...]), {"paths": [...]} or "a,b": the strings in lists, or the string itself
        items = [e for n in ast.walk(value) if isinstance(n, (ast.List, ast.Tuple)) for e in n.elts]
        paths = [n.value for n in (items or [value]) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        targets = [f.message for k, f in request.meta.fields.items() if not k.endswith("_mask") and _is_message(
            f.message)]
        for path in paths:
            checked["masks"] += 1
            for p in path.split(","):
                if all(_message_path_problem(t, p.strip()) for t in targets):
                    problems.append(f"line {line}: field mask path {p.strip()!r} is not a field of "
                                    f"{[t.__name__ for t in targets]}")

    def check_fields(request: Any, keys: list[tuple[str, ast.AST | None]], line: int, what: str) -> None:
        for key, value in keys:
            checked["fields"] += 1
            if key not in request.meta.fields and key + "_" not in request.meta.fields:
                problems.append(f"line {line}: {what}: {request.__name__} has no field {key!r}")
            elif key.endswith("_mask") and value is not None:
                check_mask(value, request, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None), ast.Store):
            chain = _chain(node)
            if chain and chain[0] in names and len(chain) > 1:
                resolve(chain, node.lineno)
            elif chain and chain[0] not in names and chain[-1] in every_type and len(chain) == 2:
                problems.append(f"line {node.lineno}: {'.'.join(chain)}: unknown module name {chain[0]!r} for a "
                                "GA4 type; add it to ALIASES")
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        chain = _chain(node.func)
        keys = [(k.arg, k.value) for k in node.keywords if k.arg]
        if chain and chain[0] in names:  # a GA4 type: its keywords are its fields
            target = resolve(chain, node.lineno)
            if _is_message(target):
                check_fields(target, keys, node.lineno, ".".join(chain))
            continue
        method = node.func.attr
        if method not in methods:
            continue
        receiver = _receiver(node.func.value)
        candidates = methods[method]
        if receiver in RECEIVERS:
            if RECEIVERS[receiver] not in candidates:
                problems.append(f"line {node.lineno}: {receiver}.{method}: the {RECEIVERS[receiver]} client has no "
                                f"method {method!r}")
                continue
            candidates = [RECEIVERS[receiver]]
        checked["methods"] += 1
        camel = "".join(p.title() for p in method.split("_")) + "Request"
        fields = [(k, v) for k, v in keys if k not in _NOT_FIELDS]
        request_kw = next((v for k, v in keys if k == "request"), None)
        if isinstance(request_kw, ast.Dict):
            fields += [(k.value, v) for k, v in zip(request_kw.keys, request_kw.values, strict=True)
                       if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        ok = []
        for mod_name in candidates:
            before = len(problems)
            check_fields(getattr(modules[mod_name], camel), fields, node.lineno, f"{receiver}.{method}")
            ok.append(len(problems) == before)
            del problems[before:]
        if not any(ok):  # valid in none of the clients that have the method: report against the first
            check_fields(getattr(modules[candidates[0]], camel), fields, node.lineno, f"{receiver}.{method}")
    problems = list(dict.fromkeys(problems))  # a type in a call is seen as an attribute and as a call
    problems.sort(key=lambda p: int(p.split(":", 1)[0].removeprefix("line ")))  # ast.walk is breadth first
    return problems, checked


def test_every_ga4_request_field_exists_in_the_installed_types() -> None:
    modules = _ga4()
    files = sorted(CONNECTORS.glob("ga4*.py"))
    problems: list[str] = []
    total = {"types": 0, "fields": 0, "methods": 0, "masks": 0}
    for path in files:
        found, checked = ga4_problems(path.read_text(encoding="utf-8"), modules)
        problems += [f"{path.name}: {p}" for p in found]
        total = {k: total[k] + checked[k] for k in total}
    assert problems == []
    # what the connector sends today was seen: typed requests (RunReportRequest, RunFunnelReportRequest...) and the
    # calls of a fetch (get_property, list_key_events, batch_run_reports, run_funnel_report...)
    assert total["types"] >= 15 and total["fields"] >= 20 and total["methods"] >= 9


def test_the_ga4_check_catches_a_field_or_type_that_is_gone() -> None:
    modules = _ga4()
    source = (
        "from google.analytics import data_v1beta, admin_v1beta as adm\n"
        "def f(admin, client, alpha):\n"
        "    data_v1beta.RunReportRequest(property='p', no_such_field=1)\n"
        "    data_v1beta.NoSuchRequest()\n"
        "    admin.get_property(name='x', nme='y', retry=None)\n"
        "    admin.list_key_events(request={'parent': 'p', 'page_sise': 2})\n"
        "    client.get_attribution_settings(name='x')\n"
        "    adm.UpdatePropertyRequest(update_mask={'paths': ['display_name', 'no_such']})\n"
        "    datav1.RunFunnelReportRequest()\n")
    problems, _ = ga4_problems(source, modules)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "data_v1beta.RunReportRequest: RunReportRequest has no field 'no_such_field'",
        "data_v1beta.NoSuchRequest: data_v1beta has no 'NoSuchRequest'",
        "admin.get_property: GetPropertyRequest has no field 'nme'",
        "admin.list_key_events: ListKeyEventsRequest has no field 'page_sise'",
        "field mask path 'no_such' is not a field of ['Property']",
        "datav1.RunFunnelReportRequest: unknown module name 'datav1' for a GA4 type; add it to ALIASES",
    ]
