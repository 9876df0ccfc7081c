"""Nothing passes unseen: hostile names (escape sequences, BEL, CR/LF, a bidirectional override, a lone
surrogate, a spreadsheet formula, <script>, a Markdown link, a pipe) in client, event and action names flow
through every output (table, Markdown, JSON, HTML, CSV, `audit render`, the e-mail bodies, Subject and
attachments, and a real terminal) without raising, and come out without a control character or live markup."""

from __future__ import annotations

import copy
import csv
import dataclasses
import email
import io
import json
import os
import re
import shutil
import subprocess
import sys
from email import policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from builders import render, run_on_terminal

from auditor.audit import audit_folder, result_header, summarise, summary_row
from auditor.diff import compute_changes
from auditor.outputs import format_class
from auditor.outputs.escape import csv_safe, md_escape
from auditor.result import (
    ClientResult,
    Deduction,
    Finding,
    Header,
    RuleResult,
    Source,
    Sources,
    Subject,
    TrendPoint,
)
from auditor.ruleset import Ruleset
from auditor.text import json_text, printable

ROOT = Path(__file__).resolve().parent.parent
ESC, BEL, RLO, LONE = "\x1b", "\x07", "\u202e", "\ud800"
# "\r\nFORGED" would forge a line: everywhere it must come out as "??FORGED" (or as JSON's "\r\n" escape)
EVENT = f"hv{ESC}[2J{ESC}]0;t{BEL}{RLO}|<script>alert(1)</script>[x](javascript:alert(1))*em*\r\nFORGED=HYPERLINK(1)"
ACTION = f'=HYPERLINK("http://x","y") {ESC}[31m{RLO}<img src=x onerror=alert(2)> [a](javascript:b) | \r\nFORGED'
CLIENT = f"=cl{ESC}[2J{ESC}]0;pwned{BEL}{RLO}|<script>[x](javascript:y)\r\nFORGED"
LONE_CLIENT = f"@lone{LONE}{ESC}]8;;http://evil{ESC}\\link"  # OSC 8: a terminal hyperlink
HTML_TAGS = {  # every tag the report and e-mail templates write; anything else was injected
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "strong", "em", "code", "br",
    "section", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "div", "a", "svg", "text", "tspan",
    "rect", "header", "details", "summary", "nav", "wbr",
}


def hostile_fixture(parent: Path, name: str = CLIENT) -> Path:
    """lumen-analytics in a folder called `name`, with one GA4 event and one Ads action renamed everywhere."""
    dst = parent / name
    shutil.copytree(ROOT / "fixtures" / "lumen-analytics", dst)
    ev, ac = json.dumps(EVENT)[1:-1], json.dumps(ACTION)[1:-1]
    for p in dst.rglob("*.json"):
        if p.name == "funnels.json":  # step names are validated strictly, and a step must be an event it has:
            bodies = json.loads(p.read_text(encoding="utf-8"))  # leave out the report of the renamed event
            p.write_text(json.dumps([b for b in bodies if "hero_video_play" not in json.dumps(b)]), encoding="utf-8")
            continue
        p.write_text(p.read_text(encoding="utf-8").replace("hero_video_play", ev)
                     .replace('"Hero video play"', f'"{ac}"'), encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[ClientResult]:
    """The audited hostile client (with changes since a previous run, an error, a rule not run, a hostile funnel
    step and profile evidence), and a copy named with a lone surrogate and an OSC 8 hyperlink."""
    r = audit_folder(hostile_fixture(tmp_path_factory.mktemp("hostile")), Ruleset.load())
    assert r.name == CLIENT and r.score is not None and not r.errors
    text = json.dumps(r.to_json())
    assert json.dumps(EVENT)[1:-1] in json.dumps([f.to_json() for f in r.findings])
    assert json.dumps(ACTION)[1:-1] in text
    assert json.dumps(EVENT)[1:-1] in json.dumps(r.hierarchy)
    fun = json.loads(json.dumps(r.funnel).replace('"form_start"', json.dumps(EVENT)))
    assert fun["available"] and json.dumps(EVENT)[1:-1] in json.dumps(fun)
    r.funnel = fun
    r.profile_evidence = [f"primary action {ACTION}"]
    r.errors = [f"ga4: {EVENT}"]
    r.rules.append(RuleResult(id="x-rule", category="setup", status="not_run", reason=f"no {EVENT}"))
    prev = copy.deepcopy(r)
    prev.findings = prev.findings[:1]
    prev.findings[0] = dataclasses.replace(prev.findings[0], fingerprint="0" * 16, message=f"gone {ACTION}")
    prev.score, prev.grade, prev.generated_at = 70, "C", "2025-01-06T07:00:00Z"
    r.changes = compute_changes(r, prev, [TrendPoint(generated_at="2025-01-06", score=70, grade="C")],
                                "2025-01-13T07:00:00Z")
    assert r.changes.new and r.changes.resolved
    lone = copy.deepcopy(r)
    lone.name = LONE_CLIENT
    lone.findings[0].message += LONE
    lone.errors.append(f"bad {LONE}")
    return [r, lone]




def assert_clean(text: str, json_escaped: bool = False, also: frozenset[str] = frozenset()) -> None:
    """No character a terminal, a reader or an encoder could trip on; no forged line: "\\r\\nFORGED" comes out
    as "??FORGED" (JSON: its escape; `also`: other encodings, such as a percent-encoded link)."""
    bad = {c for c in text if not (c.isprintable() or c == "\n")}
    assert not bad, f"non-printable characters in the output: {sorted(map(ascii, bad))}"
    text.encode("utf-8")  # strict: no lone surrogate
    before = set(re.findall(r"(.{2})FORGED", text))
    assert before and before <= ({"\\n"} if json_escaped else {"??"}) | also, before


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)


def assert_html_inert(html: str, own_links: frozenset[str] = frozenset()) -> None:
    """`own_links`: the links the report makes itself, which it may write (see `own_links`)."""
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    p = Tags()
    p.feed(html)
    assert p.tags <= HTML_TAGS, p.tags - HTML_TAGS
    assert not [a for a, _ in p.attrs if a.startswith("on")]
    for a, v in p.attrs:
        if a == "href":  # a fragment of this page, a relative path or a link of its own: never javascript:
            assert v and (v.startswith(("#client-", "clients/")) or v in own_links
                          or re.fullmatch(r"#(?:rule-[a-z0-9-]+|summary|about-checks|scoring)", v)), v


def own_links(results: list[ClientResult]) -> frozenset[str]:
    """The links a report makes itself: each finding's rule help (the catalogue's section) and the Google console
    screen of its subjects, built from ids, never from names; none of them can be a script."""
    links = frozenset(f.help_url for r in results for f in r.findings) | frozenset(
        s.url for r in results for f in r.findings for s in f.subjects if s.url)
    assert links and all(u.startswith(("#rule-", "https://")) for u in links), links
    return links


def assert_csv_safe(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert len({len(r) for r in rows}) == 1  # no row broken by a line break or a quote
    for row in rows[1:]:
        for cell in row:
            if cell.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a number may start like a formula
    return rows


# -- every format ------------------------------------------------------------------------------------------------

def test_table(results):
    out = render("table", results)
    assert_clean(out)
    assert f"== {printable(CLIENT)} [" in out and printable(LONE_CLIENT) in out
    assert "?[2J?]0;pwned?" in out and f"{ESC}" not in out


def test_markdown_escapes_markup_and_drops_controls(results):
    md = render("markdown", results)
    assert_clean(md)
    assert "<script" not in md.lower() and "<img" not in md.lower() and "&lt;script&gt;" in md
    # the only links are the report's own: each finding's rule id to its entry in the appendix of the document
    own = {f"[{md_escape(f.rule)}]({f.help_url})" for r in results for f in r.findings}
    assert all(f.help_url.startswith("#rule-") and f'<a id="{f.help_url[1:]}"></a>' in md
               for r in results for f in r.findings)
    assert own and all(link in md for link in own)
    data = md
    for link in own:
        data = data.replace(link, "")
    assert not re.search(r"(?<!\\)[\[\]]", data), "an unescaped bracket could make a link"
    assert "\\[x\\](javascript:alert(1))" in md and "\\*em\\*" in md and "http\\://x" in md
    table: list[int] = []
    for line in md.split("\n") + [""]:  # every row of a table has as many cell separators as its header
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, table
            table = []
    assert f"## {md_escape(CLIENT, line_start=True)}\n" in md


def test_markdown_reads_naturally():
    assert md_escape("add_to_cart (GA4) 12.5% -3 #1 a.b R2-D2") == "add_to_cart (GA4) 12.5% -3 #1 a.b R2-D2"
    assert md_escape("_private *bold* ~strike~ 5 * 3") == "\\_private \\*bold\\* \\~strike\\~ 5 * 3"
    assert md_escape("[x](javascript:y) ![i](y) `c` a|b") == "\\[x\\](javascript:y) !\\[i\\](y) \\`c\\` a\\|b"
    assert md_escape("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert md_escape("https://x.example www.y.example") == "https\\://x.example www\\.y.example"
    assert md_escape("C:\\dir\\[x") == "C:\\dir\\\\\\[x"  # a backslash cannot undo the escape after it
    assert md_escape(f"a{ESC}b\r\nc{RLO}{LONE}") == "a?b??c??"
    assert md_escape("# h") == "# h" and md_escape("# h", line_start=True) == "\\# h"
    assert md_escape("- item", line_start=True) == "\\- item" and md_escape("-5%", line_start=True) == "-5%"
    assert md_escape("1. x", line_start=True) == "1\\. x" and md_escape("12.5%", line_start=True) == "12.5%"
    assert md_escape("---", line_start=True) == "\\---" and md_escape("name #", line_start=True) == "name \\#"


def test_json_keeps_the_data_escaped(results):
    text = render("json", results)
    assert_clean(text, json_escaped=True)
    data = json.loads(text)
    assert [c["name"] for c in data["clients"]] == [CLIENT, LONE_CLIENT]  # exactly, lone surrogate included
    assert data["clients"][1]["findings"][0]["message"].endswith(LONE)
    assert json.loads(json_text({"a": "\U000e0001\x85"}, indent=2)) == {"a": "\U000e0001\x85"}
    assert json_text({"a": "b"}, indent=2) == json.dumps({"a": "b"}, indent=2)


def test_html(results):
    html = render("html", results)
    assert_clean(html)
    assert_html_inert(html, own_links(results))
    assert f"id=\"client-{printable(CLIENT).replace('<', '&lt;').replace('>', '&gt;')}\"" in html


def test_csv_every_column(results):
    text = render("csv", results)
    assert_clean(text)
    rows = assert_csv_safe(text)
    header = rows[0]
    clients = {r[header.index("client")] for r in rows[1:]}
    assert clients == {"'" + printable(CLIENT), "'" + printable(LONE_CLIENT)}
    assert {r[header.index("score")] for r in rows[1:]} == {str(results[0].score)}  # numbers stay numbers
    assert any(r[header.index("change")] == "resolved" for r in rows[1:])
    assert csv_safe("  =1+1") == "'  =1+1" and csv_safe(f"\t=1{ESC}") == "?=1?" and csv_safe("-") == "'-"


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "html", "csv"])
def test_lone_surrogates_and_controls_anywhere_never_raise(fmt):
    """Every string of a result, not only names: rule ids, severities, categories, grades, headers."""
    from auditor.engine import SEVERITIES

    bad = f"x{LONE}{ESC}[2J\r\nFORGED"
    r = ClientResult(
        name=bad, profile=bad, profile_source="inferred", profile_evidence=[bad], status="ok",
        sources=Sources(ga4=Source(bad, bad, bad), ads=Source(bad, bad, bad)),
        score=50, grade=bad, coverage=90, categories={bad: 50}, counts={s: 0 for s in SEVERITIES},
        deductions=[Deduction(rule=bad, severity="high", points=15, category=bad)],
        errors=[bad], warnings=[bad], rules=[RuleResult(id=bad, category=bad, status="error", reason=bad, title=bad)],
        findings=[Finding(rule=bad, severity="high", category=bad, message=bad, resources=(bad,), remediation=bad,
                          actionable=False, fingerprint=bad, suppressed=False, help_url=bad,
                          subjects=(Subject(resource=bad, name=bad, kind="event", url=bad),))],
        funnel={"available": False, "reason": bad})
    out = io.StringIO()
    renderer = format_class(fmt)(out)
    renderer.begin(dataclasses.replace(result_header(), generated_at=bad))
    renderer.client(r)
    renderer.end(summarise([summary_row(r)]))
    assert_clean(out.getvalue(), json_escaped=fmt == "json")
    if fmt == "json":
        assert json.loads(out.getvalue())["clients"][0] == r.to_json()


# -- e-mail ------------------------------------------------------------------------------------------------------

HEADER = Header(version="test", generated_at="2025-01-13T07:00:00Z", formula="f", deductions={}, grades={})


def summary_document(names: list[str]) -> Any:
    from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument

    rows = [AgencyRow(n, "error" if i else "ok", 55, "F", 100, {"critical": 0, "high": 1, "medium": 0, "low": 0,
                                                                  "info": 0}, 0, previous_score=60, delta=-5, new=1,
                      changed=True, trend=[60, 55], json=f"clients/{n}.json", html=f"clients/{n}.html")
            for i, n in enumerate(names)]
    return SummaryDocument(HEADER, RunInfo(history=True, formats=["json", "html"]), rows)


def test_owner_email_bodies_subject_and_attachments(results):
    from auditor.outputs.channels.email import attachment_name, build_message, result_attachments
    from auditor.outputs.formats.email_owner import owner_subject, render_owner

    text, html = render_owner(results, HEADER)
    assert_clean(text)
    assert_clean(html)
    assert_html_inert(html)
    single_text, single_html = render_owner(results[1:], HEADER)  # the title names the client
    for body in (single_text, single_html):
        body.encode("utf-8")
        assert LONE not in body and ESC not in body
    for clients in (results[:1], results[1:], results):
        subject = owner_subject(None, clients)
        assert subject.isprintable(), subject
    files = result_attachments(results, HEADER)
    names = [n for n, _ in files]
    # per client: the HTML an account manager forwards (and its PDF where Chromium prints), then JSON and CSV
    exts = (".html", ".pdf", ".json", ".csv") if any(n.endswith(".pdf") for n in names) else (".html", ".json",
                                                                                             ".csv")
    assert names == [attachment_name(c.name) + ext for c in results for ext in exts]
    assert len(set(names)) == len(names)
    for n in names:
        assert n.isprintable() and not re.search(r'[\\/:*?"<>|]', n), n
    data = dict(files)
    for c, name in zip(results, [n for n in names if n.endswith(".json")], strict=True):
        doc = json.loads(data[name].decode("utf-8"))
        assert [x["name"] for x in doc["clients"]] == [c.name]  # exactly, lone surrogate included
    for name in [n for n in names if n.endswith(".html")]:
        html_text = data[name].decode("utf-8")
        assert ESC not in html_text and LONE not in html_text and "<script>" not in html_text
    for name in [n for n in names if n.endswith(".csv")]:
        csv_text = data[name].decode("utf-8")
        assert_clean(csv_text)
        assert_csv_safe(csv_text)

    msg = build_message("robot@agency.example", ["owner@client.example"],
                        owner_subject(None, results[:1]), text, html,
                        files + [(f"../{ESC}]0;x{BEL}\r\nevil.csv", b"=1+1\n")])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Subject"].isprintable() and printable(CLIENT) in parsed["Subject"]
    got = {p.get_filename(): p.get_content() for p in parsed.iter_attachments()}
    hostile = attachment_name(f"../{ESC}]0;x{BEL}\r\nevil.csv")  # neutralised like a report file name
    assert hostile.startswith("__]0;x___evil-") and hostile.endswith(".csv") and hostile.isprintable()
    assert set(got) == {*names, hostile}
    body = parsed.get_body(preferencelist=("plain",)).get_content()
    assert ESC not in body and RLO not in body and "??FORGED" in body


def test_summary_email(results):
    from auditor.outputs.formats.email_summary import render_summary, summary_subject
    from auditor.outputs.formats.summary_base import SummaryView
    from auditor.outputs.html_env import url_path

    names = [CLIENT, LONE_CLIENT, "[x](javascript:alert(1))", "javascript:alert(1)"]
    doc = summary_document(names)
    text, html = render_summary(SummaryView(doc, links=True))
    assert_clean(text.replace("FORGED", "") + "??FORGED")  # the 32-character name column may cut it
    assert_clean(html, also=frozenset({"0A"}))  # ...%0D%0AFORGED.html in a link
    assert_html_inert(html)
    assert 'href="clients/javascript%3Aalert%281%29.html"' in html
    assert summary_subject(None, doc.summary).isprintable()
    assert url_path("clients/a b\udcff.html") == "clients/a%20b%FF.html"  # a file-system byte stays that byte
    assert url_path(f"clients/{LONE}.html") == "clients/%3F.html"


def test_header_injection_is_impossible():
    from auditor.outputs.channels.email import build_message

    msg = build_message("robot@agency.example", ["owner@client.example"], "hi\r\nBcc: victim@example.com",
                        f"text {LONE}", f"<p>{LONE}</p>")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "hi??Bcc: victim@example.com"


# -- the command line --------------------------------------------------------------------------------------------

def _audit(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "html", "csv"])
def test_audit_render_of_a_hostile_saved_result(results, tmp_path, fmt):
    saved = tmp_path / "saved.json"
    saved.write_text(render("json", results), encoding="utf-8")
    p = _audit("render", str(saved), "--format", fmt, cwd=tmp_path)
    assert p.returncode == 1, p.stderr  # findings at or above the fail level, as `audit` exits on them
    assert_clean(p.stderr.decode("utf-8"))
    out = p.stdout.decode("utf-8")  # strict: a lone surrogate never reaches the bytes
    assert_clean(out, json_escaped=fmt == "json")
    if fmt == "json":
        assert [c["name"] for c in json.loads(out)["clients"]] == [CLIENT, LONE_CLIENT]


def test_audit_render_error_line_is_printable(tmp_path):
    bad = tmp_path / f"r{ESC}]0;x{BEL}.json"
    bad.write_text("{}", encoding="utf-8")
    p = _audit("render", str(bad), cwd=tmp_path)
    assert p.returncode == 2 and b"not an auditor JSON result" in p.stderr
    assert b"\x1b" not in p.stderr and b"\x07" not in p.stderr


def without_own_sequences(screen: bytes) -> bytes:
    """The screen without what the auditor itself writes on a terminal: its progress bar on stderr (drawn in place
    after a carriage return and an erase-line, "\\r\\x1b[K", its text made printable) and the table's colours (one
    style of auditor.outputs.terminal.STYLES around text holding no escape, then a reset). Anything else that
    remains came from the data."""
    from auditor.outputs.terminal import STYLES

    screen = re.sub(rb"\r\x1b\[K|\r(?=auditing )", b"", screen)
    codes = b"|".join(re.escape(code.encode()) for code in sorted(STYLES.values(), key=len, reverse=True))
    return re.sub(rb"\x1b\[(?:" + codes + rb")m([^\x1b\r\n]*)\x1b\[0m", rb"\1", screen)


@pytest.mark.parametrize("flags", [[], ["--verbose"]], ids=["progress-bar", "verbose"])
def test_terminal_shows_no_escape_from_data(tmp_path, flags):
    """A real pseudo-terminal: stdout and stderr of `audit --offline` on hostile folder and event names."""

    fx = tmp_path / "fx"
    hostile_fixture(fx)
    shutil.copytree(os.fsencode(ROOT / "fixtures" / "harbor-dental"), os.fsencode(fx) + b"/osc\xff\x1b]8;;e\x1b\\x")
    code, screen = run_on_terminal([sys.executable, "-m", "auditor", "--offline", str(fx), *flags], cwd=tmp_path,
                                   env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"})
    assert code in (0, 1)
    screen = without_own_sequences(screen)
    for seq in (b"\x1b", b"\x07", b"\x9b", b"\xc2\x9b", RLO.encode(), b"\xff"):
        assert seq not in screen, seq
    assert b"\r" not in screen.replace(b"\r\n", b"")  # the terminal turns \n into \r\n; no other CR
    text = screen.decode("utf-8")
    assert printable(CLIENT) in text and "?[2J?]0;t?" in text  # the data did reach the screen, neutralised
    assert "osc??]8;;e?\\x" in text
    assert set(re.findall(r"(.{2})FORGED", text)) == {"??"}
