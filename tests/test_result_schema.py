"""The published result schema (docs/result.schema.json), the reader built on it (auditor.result_schema) and
`audit render`: every document this version writes is valid and described, older ones still load, and a
damaged, foreign or too-new file is refused with one line naming the file and the field."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from auditor.audit import error_result, iter_offline, result_header
from auditor.errors import ConfigError
from auditor.outputs.document import write_document
from auditor.result import SCHEMA_VERSION, CampaignRow, ClientResult, Finding, Header, Subject
from auditor.result_schema import SCHEMA_PATH, json_path, load_client_file, load_document, validate
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SCHEMA_FILE = ROOT / "docs" / "result.schema.json"
RESULTS_V1 = DATA / "results-schema1.json"
AGENCY_CLIENT_V1 = DATA / "agency-client-schema1.json"
AGENCY_SUMMARY_V1 = DATA / "agency-summary-schema1.json"
SAMPLE_CLIENTS = sorted(p.name for p in (ROOT / "fixtures").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def results() -> list[ClientResult]:
    return list(iter_offline(ROOT / "fixtures", Ruleset.load()))


@pytest.fixture(scope="module")
def current(results: list[ClientResult]) -> dict[str, Any]:
    """The sample clients' document exactly as `audit --offline fixtures --format json` writes it."""
    out = io.StringIO()
    write_document(out, "json", result_header(), results)
    return json.loads(out.getvalue())


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(tmp_path: Path, doc: Any, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


# -- the schema file -------------------------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12():
    schema = _read(SCHEMA_FILE)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_loader_finds_the_schema():
    # a checkout reads docs/; an installed wheel its packaged copy, which must be the same file
    assert SCHEMA_PATH.is_file()
    assert _read(SCHEMA_PATH) == _read(SCHEMA_FILE)


def _properties(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for k, v in (node.get("properties") or {}).items():
            yield f"{where}.{k}", v
        for k, v in node.items():
            if k not in ("properties", "if", "then", "client_v2"):  # the version overlay only adds `required`
                yield from _properties(v, f"{where}.{k}")
        for k, v in (node.get("properties") or {}).items():
            yield from _properties(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _properties(v, f"{where}[{i}]")


def test_every_field_of_the_schema_is_described():
    schema = _read(SCHEMA_FILE)
    assert len(schema["description"]) > 500  # versions, compatibility, untrusted text
    undescribed = sorted({w for w, p in _properties(schema, "") if not p.get("description")})
    assert not undescribed, undescribed
    assert all(d.get("description") for d in schema["$defs"].values())


# -- every key a document holds is described -------------------------------------------------------------------

def _deref(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    """`node` and every schema it stands for: its $ref's target and its anyOf/allOf/oneOf branches."""
    out = [node]
    if "$ref" in node:
        out += _deref(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]])
    for key in ("anyOf", "allOf", "oneOf"):
        for branch in node.get(key) or ():
            out += _deref(schema, branch)
    return out


def _member(schema: dict[str, Any], node: dict[str, Any], key: str) -> dict[str, Any] | None:
    for n in _deref(schema, node):
        if key in (n.get("properties") or {}):
            return n["properties"][key]
    for n in _deref(schema, node):
        if isinstance(n.get("additionalProperties"), dict):  # a map: category scores, severity counts
            return n["additionalProperties"]
    return None


def _items(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    return next((n["items"] for n in _deref(schema, node) if isinstance(n.get("items"), dict)), None)


def _undescribed(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            sub = _member(schema, node, k)
            if sub is None:
                yield f"{path}.{k}"
            else:
                yield from _undescribed(schema, sub, v, f"{path}.{k}")
    elif isinstance(value, list):
        sub = _items(schema, node)
        for i, v in enumerate(value):
            if sub is None:
                yield f"{path}[{i}]"
            else:
                yield from _undescribed(schema, sub, v, f"{path}[*]")


def campaign_client() -> ClientResult:
    """A client with every member a campaign row and the vitals can have, and a finding about a campaign."""
    row = CampaignRow(name="Search", resource="customers/1/campaigns/2", status="ENABLED", channel="SEARCH",
                      strategy="TARGET_CPA", target_cpa=25.0, target_roas=400.0, goal_level="custom",
                      custom_goal="Leads", goals=["Lead form"], conversions=12.5, threshold=30.0, volume="under")
    f = Finding(rule="smart-bidding-low-volume", severity="high", category="bidding", message="m",
                resources=(row.resource,), remediation="r", fingerprint="0123456789abcdef", help_url="docs/x",
                subjects=(Subject(row.resource, row.name, "campaign", "https://ads.google.com/aw/campaigns?__e=1"),))
    return ClientResult(name="c", status="ok", profile="ecommerce", score=85, grade="B", findings=[f],
                        campaigns=[row], vitals={"generated_at": "2025-01-13T07:00:00Z",
                                                 "step_rates": [["view_item", "add_to_cart", 0.25]],
                                                 "daily": {"purchase": 2.5, "ads:Purchase": 1.0},
                                                 "key_events": ["purchase"], "primary_actions": ["Purchase"]})


def test_every_key_written_is_described_in_the_schema(current):
    """Fails when a to_json() gains a member the schema does not describe: the sample clients, an agency client
    (changes, a suppressed finding) in this version's shape, a client that could not be audited, and one with
    campaigns and vitals."""
    schema = _read(SCHEMA_FILE)
    _, agency = load_document(AGENCY_CLIENT_V1)
    docs = [current, {**current, "clients": [c.to_json() for c in agency]},
            {**current, "clients": [error_result("x", ["x: cannot read"]).to_json()]},
            {**current, "clients": [campaign_client().to_json()]}]
    assert validate(docs[-1]) == []
    assert any("suppression" in f for c in docs[1]["clients"] for f in c["findings"])
    assert all("changes" in c for c in docs[1]["clients"])
    missing = sorted({p for d in docs for p in _undescribed(schema, schema, d, "document")})
    assert not missing, f"members written but not described in docs/result.schema.json: {missing}"


# -- documents of this version and of schema 1 ------------------------------------------------------------------

def test_every_sample_client_validates(current):
    assert current["schema_version"] == SCHEMA_VERSION
    assert [c["name"] for c in current["clients"]] == SAMPLE_CLIENTS
    assert validate(current) == []
    for c in current["clients"]:  # each alone, as an agency run writes it
        assert validate({**current, "clients": [c]}) == [], c["name"]


def test_round_trip_of_every_sample_client(results):
    assert [r.name for r in results] == SAMPLE_CLIENTS
    for r in results:
        again = ClientResult.from_json(json.loads(json.dumps(r.to_json())))
        assert again == r, r.name
    header = result_header()
    assert Header.from_json(header.to_json()) == header


@pytest.mark.parametrize("path", [RESULTS_V1, AGENCY_CLIENT_V1], ids=lambda p: p.name)
def test_schema_1_documents_validate_and_load(path: Path):
    doc = _read(path)
    assert "schema_version" not in doc
    assert validate(doc) == []
    header, clients = load_document(path)
    assert header.schema_version == 1 and header.generated_at == doc["generated_at"]
    assert [c.name for c in clients] == [c["name"] for c in doc["clients"]]
    for c, raw in zip(clients, doc["clients"], strict=True):
        assert c.score == raw["score"] and c.counts == raw["counts"]
        assert sum(d.points for d in c.deductions) == 100 - c.score or c.score == 0  # recomputed breakdown
        assert ClientResult.from_json(c.to_json()) == c
        upgraded = {**doc, "schema_version": SCHEMA_VERSION, "clients": [c.to_json()]}
        assert validate(upgraded) == [], c.name  # what `audit render --format json` writes of it


def test_agency_client_file_loads_with_changes_and_suppression():
    client = load_client_file(AGENCY_CLIENT_V1)
    assert client.changes is not None and client.changes.previous is not None
    assert client.changes.persisting and client.changes.trend
    (sup,) = [f for f in client.findings if f.suppressed]
    assert sup.suppression is not None and sup.suppression.expires == "2031-03-31"


def test_load_client_file_wants_one_client(tmp_path):
    with pytest.raises(ConfigError, match=r"expected the result of one client, found 6"):
        load_client_file(RESULTS_V1)


def test_version_2_requires_what_it_added_version_1_does_not(current):
    doc = copy.deepcopy(current)
    f = doc["clients"][0]["findings"][0]
    del f["subjects"], f["help_url"]
    del doc["clients"][0]["rules"][0]["title"], doc["clients"][0]["deductions"]
    errors = validate(doc)
    assert errors == ["clients[0]: 'deductions' is a required property",
                      "clients[0].findings[0]: 'subjects' is a required property",
                      "clients[0].findings[0]: 'help_url' is a required property",
                      "clients[0].rules[0]: 'title' is a required property"]
    del doc["schema_version"]
    assert validate(doc) == []


# -- what the schema refuses ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("where, value, expected", [
    (("findings", 0, "severity"), "urgent",
     "clients[0].findings[0].severity: 'urgent' is not one of ['critical', 'high', 'medium', 'low', 'info']"),
    (("findings", 0, "fingerprint"), "143C6F46B25F7414", "clients[0].findings[0].fingerprint: '143C6F46B25F7414' "
                                                          "does not match '^[0-9a-f]{16}$'"),
    (("findings", 0, "resources", 0), 7, "clients[0].findings[0].resources[0]: 7 is not of type 'string'"),
    (("status",), "done", "clients[0].status: 'done' is not one of ['ok', 'incomplete', 'error']"),
    (("rules", 0, "status"), "skipped", "clients[0].rules[0].status: 'skipped' is not one of "
                                        "['pass', 'fail', 'not_run', 'not_applicable', 'error']"),
    (("score",), 101, "clients[0].score: 101 is greater than the maximum of 100"),
    (("score",), 4.5, "clients[0].score: 4.5 is not of type 'integer', 'null'"),
    (("grade",), "E", "clients[0].grade: 'E' is not one of ['A', 'B', 'C', 'D', 'F', None]"),
    (("counts", "low"), -1, "clients[0].counts.low: -1 is less than the minimum of 0"),
    (("funnel", "steps", 0, "count"), "many", "clients[0].funnel.steps[0].count: 'many' is not of type "
                                              "'integer', 'null'"),
    (("funnel", "source"), "guess", "clients[0].funnel.source: 'guess' is not one of "
                                    "['client', 'account', 'profile']"),
    (("hierarchy", "events", 0, "class"), "huge", "clients[0].hierarchy.events[0].class: 'huge' is not one of "
                                                  "['very_high', 'high', 'medium', 'low', 'unknown', 'macro']"),
    (("hierarchy", "macro", "users"), None, "clients[0].hierarchy.macro.users: None is not of type 'integer'"),
    (("sources", "ga4", "property"), None, "clients[0].sources.ga4.property: None is not of type 'string'"),
])
def test_invalid_members_are_named_by_their_path(current, where: tuple[Any, ...], value: Any, expected: str):
    doc = copy.deepcopy(current)
    node = doc["clients"][0]
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    assert validate(doc) == [expected]


def test_a_nullable_object_is_checked_inside(current):
    doc = copy.deepcopy(current)
    finding = next(f for f in doc["clients"][0]["findings"] if f["evidence"])
    i = doc["clients"][0]["findings"].index(finding)
    finding["evidence"]["rate"] = "high"
    assert validate(doc) == [f"clients[0].findings[{i}].evidence.rate: 'high' is not of type 'number', 'null'"]
    finding["evidence"] = None
    assert validate(doc) == []


def test_counts_name_every_severity_and_nothing_else(current):
    doc = copy.deepcopy(current)
    doc["clients"][0]["counts"]["urgent"] = 1
    del doc["summary"]["counts"]["info"]
    assert validate(doc) == [
        "clients[0].counts: 'urgent' is not one of ['critical', 'high', 'medium', 'low', 'info']",
        "summary.counts: 'info' is a required property"]


def test_unknown_members_are_allowed(current):
    doc = copy.deepcopy(current)
    doc["added_later"] = 1
    doc["clients"][0]["added_later"] = {"x": 1}
    doc["clients"][0]["findings"][0]["added_later"] = []
    assert validate(doc) == []


def test_the_agency_summary_is_not_a_result_document():
    assert validate(_read(AGENCY_SUMMARY_V1))


def test_json_path():
    assert json_path(["clients", 2, "findings", 0, "severity"]) == "clients[2].findings[0].severity"
    assert json_path([]) == "document"


# -- load_document refuses with one line naming the file ------------------------------------------------------------

@pytest.mark.parametrize("text, why", [
    ("{", "not an auditor JSON result (invalid JSON: Expecting property name enclosed in double quotes: line 1 "
          "column 2 (char 1))"),
    ('{"a": NaN}', "not an auditor JSON result (invalid JSON: NaN is not a JSON number)"),
    ("[" * 100_000 + "]" * 100_000, "not an auditor JSON result (nested too deeply)"),
    ("[1]", "not an auditor JSON result (a JSON array, not an object)"),
    ("{}", "not an auditor JSON result (document: 'tool' is a required property; and 4 more errors)"),
])
def test_unreadable_documents(tmp_path, text: str, why: str):
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_document(path)
    assert str(e.value) == f"{path}: {why}"


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.json: cannot read: No such file or directory$"):
        load_document(tmp_path / "nope.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ConfigError, match=r"not an auditor JSON result \(not UTF-8 text\)$"):
        load_document(bad)


def test_a_newer_schema_is_refused_before_validation(tmp_path, current):
    path = _write(tmp_path, {**current, "schema_version": 3, "clients": "a shape this version cannot know"})
    with pytest.raises(ConfigError) as e:
        load_document(path)
    assert str(e.value) == (f"{path}: written by a newer auditor (result schema 3); this version reads schema 1 "
                            f"to {SCHEMA_VERSION}: upgrade auditor")


# -- audit render, as a user runs it ---------------------------------------------------------------------------------

def test_render_of_a_schema_1_result_names_every_client():
    p = audit("render", str(RESULTS_V1), "--format", "markdown", "--fail-on", "never")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    for c in _read(RESULTS_V1)["clients"]:
        assert f"## {c['name']}" in p.stdout


def test_render_to_json_writes_this_versions_schema(tmp_path):
    out = tmp_path / "again.json"
    p = audit("render", str(AGENCY_CLIENT_V1), "--format", "json", "-o", str(out), "--fail-on", "never")
    assert p.returncode == 0, p.stderr
    assert p.stderr == f"audit: wrote {out} (1 client(s))\n"
    doc = _read(out)
    assert doc["schema_version"] == SCHEMA_VERSION and validate(doc) == []
    assert doc["clients"][0]["changes"] == _read(AGENCY_CLIENT_V1)["clients"][0]["changes"]
    again = tmp_path / "twice.json"
    assert audit("render", str(out), "--format", "json", "-o", str(again), "-q",
                 "--fail-on", "never").returncode == 0
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")  # a fixed point


def test_render_refuses_a_newer_schema(tmp_path):
    path = _write(tmp_path, {**_read(RESULTS_V1), "schema_version": 99})
    p = audit("render", str(path), "--format", "markdown")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"audit: error: {path}: written by a newer auditor (result schema 99); this version reads "
                        f"schema 1 to {SCHEMA_VERSION}: upgrade auditor\n")


def test_render_refuses_an_agency_summary():
    p = audit("render", str(AGENCY_SUMMARY_V1))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"audit: error: {AGENCY_SUMMARY_V1}: an agency summary, not a result document: render "
                        "clients/<name>.json instead\n")


def test_a_bad_client_entry_is_reported_in_its_place_naming_its_path(tmp_path):
    doc = _read(RESULTS_V1)
    doc["clients"][0]["findings"][0]["severity"] = "urgent"
    path = _write(tmp_path, doc)
    p = audit("render", str(path), "--format", "table")
    assert p.returncode == 3 and "northwind-outfitters" in p.stdout  # the other clients are rendered; as `audit`
    first = doc["clients"][0]["name"]
    assert (f"audit: error: client {first}: clients[0].findings[0].severity: 'urgent' is not one of "
            "['critical', 'high', 'medium', 'low', 'info']: could not be read") in p.stderr


def test_a_damaged_envelope_refuses_the_document_naming_its_path(tmp_path):
    doc = _read(RESULTS_V1)
    doc["scoring"]["deductions"] = "none"
    path = _write(tmp_path, doc)
    p = audit("render", str(path), "--format", "table")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith(f"audit: error: {path}: not an auditor JSON result (scoring.deductions: ")


def test_render_offers_every_format():
    p = audit("render", "--help")
    assert p.returncode == 0
    for option in ("table", "markdown", "json", "html", "csv", "pdf", "--quiet", "--verbose", "--no-color"):
        assert option in p.stdout


def test_the_offline_audit_never_loads_the_schema():
    code = ("import sys; from auditor.cli import main\n"
            "try:\n    main(['--offline', 'fixtures', '--format', 'json', '-o', sys.argv[1]])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('auditor.result_schema', 'jsonschema')))")
    p = subprocess.run([sys.executable, "-c", code, os.devnull], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert p.stdout.strip().splitlines()[-1] == "[]", p.stderr


def test_a_duplicate_key_in_a_saved_result_is_refused_naming_file_and_key(tmp_path):
    text = json.dumps(_read(RESULTS_V1))
    path = tmp_path / "dup.json"
    path.write_text(text.replace('"severity": "high"', '"severity": "info", "severity": "high"', 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_document(path)
    assert str(e.value) == f"{path}: not an auditor JSON result (invalid JSON: duplicate key 'severity')"
    p = audit("render", str(path), "--format", "table")
    assert p.returncode == 2 and p.stdout == "" and "duplicate key 'severity'" in p.stderr


def test_render_exits_3_when_a_client_could_not_be_read_and_0_when_all_were(tmp_path):
    doc = _read(RESULTS_V1)
    assert audit("render", str(_write(tmp_path, doc)), "--format", "csv", "--fail-on", "never").returncode == 0
    doc["clients"][1]["score"] = "high"
    p = audit("render", str(_write(tmp_path, doc, "bad.json")), "--format", "csv", "-q", "--fail-on", "never")
    assert p.returncode == 3 and "could not be read" in p.stderr
    assert {r["client"] for r in csv.DictReader(io.StringIO(p.stdout))} >= {
        c["name"] for c in doc["clients"]}  # every client still in the report
