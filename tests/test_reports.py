"""Renderings of the JSON result: untrusted API text is escaped, the JSON streams as one valid document."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from builders import render

from auditor.audit import audit_folder, result_header, summarise
from auditor.outputs import format_class
from auditor.outputs.escape import md_escape
from auditor.result import ClientResult, Finding
from auditor.ruleset import Ruleset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[ClientResult]:
    """brightcart-home with an action and split event names carrying markup."""
    root = tmp_path_factory.mktemp("evil") / "evil-shop"
    shutil.copytree(FIXTURES / "brightcart-home", root)
    path = root / "ads/conversion_actions.json"
    data = json.loads(path.read_text())
    batches = data if isinstance(data, list) else [data]
    for r in batches[0]["results"]:
        if r["conversionAction"]["name"] == "Page view - product":
            r["conversionAction"]["name"] = f"{EVIL} | [x](javascript:alert(1)) =HYPERLINK(1)"
    path.write_text(json.dumps(data))
    ev = root / "ga4/events.json"
    data = json.loads(ev.read_text())
    body = data[0] if isinstance(data, list) else data
    row = json.loads(json.dumps(body["rows"][0]))
    row["dimensionValues"][0]["value"] = "<img src=x onerror=alert(2)>"
    body["rows"].append(row)
    row2 = json.loads(json.dumps(row))
    row2["dimensionValues"][0]["value"] = "<IMG_src=x onerror=alert(2)>"
    body["rows"].append(row2)
    ev.write_text(json.dumps(data))
    r = audit_folder(root, Ruleset.load())
    assert any(EVIL in f.message for f in r.findings)
    assert any("<img src=x" in f.message for f in r.findings)
    return [r, audit_folder(FIXTURES / "northwind-outfitters", Ruleset.load())]




def test_html_escapes_api_strings(results):
    html = render("html", results)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x" in html
    assert "evil-shop" in html and "Content-Security-Policy" in html


def test_markdown_escapes_api_strings(results):
    md = render("markdown", results)
    assert "<script>" not in md and "<img" not in md and "](javascript:" not in md.replace("\\](", "")
    assert "\\[x\\](javascript:" in md  # the brackets escaped: text, not a link
    assert "&lt;script&gt;" in md and "\\|" in md  # a pipe cannot break the table


def test_csv_neutralises_formulas_and_round_trips(results):
    rows = list(csv.DictReader(io.StringIO(render("csv", results))))
    evil = [r for r in rows if EVIL in r["message"]]
    assert evil and all(not r["message"].startswith("=") for r in rows)
    assert {r["client"] for r in rows} == {"evil-shop", "northwind-outfitters"}


def test_json_stream_is_one_document(results):
    data = json.loads(render("json", results))
    assert [c["name"] for c in data["clients"]] == ["evil-shop", "northwind-outfitters"]
    assert data["summary"]["clients"] == 2 and data["summary"]["ranking"][0]["name"] == "evil-shop"
    empty = io.StringIO()
    r = format_class("json")(empty)
    r.begin(result_header())
    r.end(summarise([]))
    assert json.loads(empty.getvalue())["clients"] == []


def test_table_strips_control_characters():
    r = ClientResult(name="x\x1b[31m", status="ok", profile="ecommerce", score=90, grade="A", coverage=100,
                     findings=[Finding(rule="r", severity="low", category="", message="a\x1b]0;pwned\x07b",
                                       resources=(), remediation="fix\x1b[2J", fingerprint="f")])
    out = io.StringIO()
    format_class("table")(out).client(r)
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()


def test_md_escape():
    assert md_escape("a_b*c") == "a_b\\*c"  # `_` inside a word cannot make emphasis, `*` can
    assert "<" not in md_escape("<b>")


def test_huge_names_and_messages_are_cut_before_layout_and_kept_whole_in_json():
    from auditor.result import ClientResult, Finding
    from auditor.text import MAX_MESSAGE, MAX_NAME

    name, message = "n" * 50_000, "word " * 20_000
    f = Finding(rule="r", severity="high", category="c", message=message, resources=("a",), remediation="fix",
                fingerprint="0" * 16)
    r = ClientResult(name=name, status="ok", profile="ecommerce", score=85, grade="B", coverage=100, findings=[f])
    table = "".join(render("table", [r]).split())  # the layout wraps the name: compare without it
    assert "n" * (MAX_NAME - 1) + "…" in table and "n" * MAX_NAME not in table
    rows = list(csv.DictReader(io.StringIO(render("csv", [r]))))
    assert rows[0]["client"] == "n" * (MAX_NAME - 1) + "…" and len(rows[0]["message"]) == MAX_MESSAGE
    data = json.loads(render("json", [r]))
    assert data["clients"][0]["name"] == name and data["clients"][0]["findings"][0]["message"] == message


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_client_facing_formats_cut_huge_names_and_messages_too(fmt):
    from auditor.result import ClientResult, Finding
    from auditor.text import MAX_MESSAGE, MAX_NAME

    name, message = "n" * 50_000, "w" * 60_000
    f = Finding(rule="r", severity="high", category="c", message=message, resources=("a",), remediation="fix",
                fingerprint="0" * 16)
    r = ClientResult(name=name, status="ok", profile="ecommerce", score=85, grade="B", coverage=100, findings=[f])
    out = render(fmt, [r])
    assert "n" * (MAX_NAME - 1) + "…" in out and "n" * MAX_NAME not in out
    assert "w" * (MAX_MESSAGE - 1) + "…" in out and "w" * MAX_MESSAGE not in out
