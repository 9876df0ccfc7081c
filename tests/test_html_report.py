"""The client-ready HTML report and its PDF, checked as a reader gets them: laid out by a real headless Chromium
at a phone's width (390 px) and a laptop's (1,280 px), printed to A4 and read back with pypdf.

Layout is measured through the DevTools protocol over a pipe (`--remote-debugging-pipe`: commands on fd 3,
replies on fd 4), so the page is the one users get, its Content-Security-Policy included, and the phone is
emulated as a phone (meta viewport honoured, the viewport widened if the content overflows: exactly what a
reader would see and what a no-overflow check must catch)."""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from auditor.audit import error_result, iter_offline, result_header
from auditor.outputs import digest
from auditor.outputs.document import write_document
from auditor.outputs.html_env import DEFAULT_ACCENT, accent, logo_src, safe_url
from auditor.outputs.options import Branding, RenderOptions, rule_anchor
from auditor.outputs.wording import finding_text
from auditor.result import ClientResult, Deduction, Subject
from auditor.ruleset import Ruleset

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
WIDTHS = (390, 1280)
PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAA"
       "AABJRU5ErkJggg==")
BRAND = Branding(agency_name="Acme & Partners Analytics", logo=PNG, accent_color="#ff6600")
LONG = "x" * 400  # one word no screen can hold
NO_BRAND = Branding()


def chromium() -> str | None:
    return os.environ.get("AUDITOR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (Debian package "
                                    "`chromium`; or set AUDITOR_CHROMIUM)")


# -- rendering -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clients() -> list[ClientResult]:
    return list(iter_offline(FIXTURES, Ruleset.load()))


def html_of(results: list[ClientResult], single: bool, branding: Branding = NO_BRAND) -> str:
    out = io.StringIO()
    write_document(out, "html", result_header(), results, options=RenderOptions(single=single, branding=branding))
    return out.getvalue()


def pdf_of(results: list[ClientResult], single: bool, branding: Branding = NO_BRAND) -> bytes:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    write_document(out, "pdf", result_header(), results, options=RenderOptions(single=single, branding=branding))
    out.flush()
    return out.buffer.getvalue()


@pytest.fixture(scope="module")
def pages(clients: list[ClientResult], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every sample client's own report (single, branded) and the agency document of all of them."""
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for r in clients:
        out[r.name] = folder / f"{r.name}.html"
        out[r.name].write_text(html_of([r], single=True, branding=BRAND), encoding="utf-8")
    out["all clients"] = folder / "all.html"
    broken = error_result("broken-client", [f"ga4: permission denied on properties/{'1' * 300}"])
    out["all clients"].write_text(html_of([*clients, broken], single=False), encoding="utf-8")
    return out


def hostile(r: ClientResult) -> ClientResult:
    """A copy of a result whose every API-sourced string is an attack or a word too long for any screen."""
    r = ClientResult.from_json(json.loads(json.dumps(r.to_json())))
    r.name = "<script>alert('client')</script>" + "n" * 200
    bad_urls = ["javascript:alert(1)", "JaVaScRiPt:alert(2)", "data:text/html,<script>alert(3)</script>",
                "//evil.example/x", " https://evil.example", "vbscript:x", "https://ok.example/\" onmouseover=\"x"]
    for i, f in enumerate(r.findings):
        f.help_url = bad_urls[i % len(bad_urls)]
        f.message = f"<img src=x onerror=alert(4)> {LONG}"
        f.remediation = f"<b>bold</b> {LONG} end-of-fix-{i}"
        f.subjects = (Subject(resource=f"customers/1/conversionActions/{'9' * 300}",
                              name=f"<script>alert('subject')</script>{LONG}", kind="conversion_action",
                              url=bad_urls[(i + 1) % len(bad_urls)]),)
    if r.funnel and r.funnel.get("available"):
        r.funnel["steps"][0]["event"] = "e" * 300
    r.errors = [f"<script>alert('error')</script>{LONG}"]
    return r


# -- a small DOM of the report, for structure checks without a browser -------------------------------------------

VOID = {"meta", "br", "img", "hr", "input", "link", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else "" if c.tag == "wbr" else " " + c.text() + " "
                                for c in self.children).split())  # <wbr>: a break point inside a word, no space

    def walk(self) -> Iterator[Node]:
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [n for n in self.walk() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)]


class Tree(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = self.cur = Node("#document", {}, None)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag: str) -> None:
        n: Node | None = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        assert n is not None and n.parent is not None, f"</{tag}> closes nothing"
        self.cur = n.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def dom(html: str) -> Node:
    return Tree(html).root


def sections(root: Node) -> list[Node]:
    return root.find("section", "client")


# -- the structure: summary, findings, passed checks, the single-client document --------------------------------

def test_executive_summary_shows_the_deductions_that_make_the_score(clients):
    for r in clients:
        (sec,) = sections(dom(html_of([r], single=True)))
        ded = sec.find("li", "deduction")
        assert [int(d.attrs["data-points"]) for d in ded] == [d.points for d in digest.counted(r)]
        total = sum(int(d.attrs["data-points"]) for d in ded)
        floored = digest.floored(r)
        assert total == 100 - r.score or (floored and r.score == 0 and total > 100), r.name
        (score,) = sec.find("span", "score")
        assert score.text() == str(r.score)
        if ded:
            tail = " (the deductions exceed 100: floored at 0)" if floored else ""
            assert sec.find("li", "total")[0].text() == f"= {r.score} score{tail}"
            for node, d in zip(ded, digest.counted(r), strict=True):
                assert d.rule in node.text() and digest.title_of(r, d.rule) in node.text()
    brightcart = next(r for r in clients if r.name == "brightcart-home")
    assert brightcart.score <= 10 and len(digest.counted(brightcart)) >= 7  # the sample with the most to fix


def test_floored_score_says_so(clients):
    r = ClientResult.from_json(next(c for c in clients if c.name == "brightcart-home").to_json())
    r.deductions = r.deductions + [Deduction("extra-a", "critical", 30), Deduction("extra-b", "critical", 30)]
    r.score = 0
    (sec,) = sections(dom(html_of([r], single=True)))
    assert "floored at 0" in sec.find("li", "total")[0].text()


def test_fix_first_lists_at_most_three_by_points_with_the_fix(clients):
    seen = 0
    for r in clients:
        (sec,) = sections(dom(html_of([r], single=True)))
        items = sec.find("li", "fix-item")
        fixes = digest.fix_first(r)
        assert len(items) == len(fixes) <= 3
        points = [int(i.attrs["data-points"]) for i in items]  # the score's real change: 0 under the floor
        assert points == sorted(points, reverse=True) and all(fx.deduction.points > 0 for fx in fixes)
        for item, fx in zip(items, fixes, strict=True):
            assert fx.gain in item.text() and (fx.points > 0) == ("+" in fx.gain)
            assert " ".join(finding_text(fx.finding)[1].split()) in item.text()  # in the client's words
        seen += len(items)
    assert seen >= 3


def test_findings_name_their_subjects_with_the_resource_secondary(clients):
    r = next(c for c in clients if c.name == "brightcart-home")
    (sec,) = sections(dom(html_of([r], single=True)))
    cards = sec.find("div", "finding")
    assert len(cards) == len(r.active)
    for card, f in zip(cards, r.active, strict=True):
        message, fix = finding_text(f)  # the client's words: names for resource paths
        assert card.find("p", "msg")[0].text() == " ".join(message.split())
        assert card.find("p", "remediation")[0].text() == " ".join(fix.split())
        (title,) = card.find("span", "title")
        # the rule's entry in the document's own appendix, which is also the finding's help_url (no docs_url set)
        assert [a.attrs["href"] for a in title.find("a")] == ["#" + rule_anchor(f.rule)] == [f.help_url]
        items = card.find("li")
        assert len(items) == len(f.subjects)
        for li, s in zip(items, f.subjects, strict=True):
            link = li.children[0]
            assert link.tag == "a" and link.attrs["href"] == s.url and link.text() == s.label  # name first, linked
            # the console's id of the resource, never its API path
            last = s.resource.rsplit("/", 1)[-1]
            secondary = [f"ID {last}"] if s.name and s.name != s.resource and last.isdigit() else []
            assert [x.text() for x in li.find("span", "res")] == secondary
    assert "customers/7356021984/conversionActions/702633918" not in " ".join(
        a.text() for c in cards for a in c.find("a"))  # ids are never the link text where a name is known


def test_passed_checks_listed_collapsed_and_not_run_visible(clients):
    for r in clients:
        (sec,) = sections(dom(html_of([r], single=True)))
        ok = digest.passed(r)
        details = sec.find("details", "passed")
        if not ok:
            assert not details
            continue
        (d,) = details
        assert "open" not in d.attrs  # collapsed on screen
        assert [li.text() for li in d.find("li")] == [" ".join(filter(None, (x.title, x.id))) for x in ok]
        assert d.find("summary")[0].text() == f"Passed checks ({len(ok)})"
        notes = sec.find("p", "notrun")
        assert len(notes) == len(digest.not_run(r))
        assert all(n.parent is sec for n in notes)  # outside any <details>
    assert any(digest.not_run(r) for r in clients)


def test_single_client_document_has_no_summary_block(clients):
    one = dom(html_of(clients[:1], single=True))
    assert not one.find("section", "summary") and "client(s)" not in one.text()
    assert one.find("section", "scoring")  # the formula stays
    many = dom(html_of(clients, single=False))
    (summary,) = many.find("section", "summary")
    assert [a.text() for a in summary.find("a")] == [x.name for x in sorted(
        clients, key=lambda r: (r.score is not None, r.score or 0, r.name))]
    assert f"{len(clients)} client(s), 0 errored" in summary.text()


def test_a_client_not_audited_has_no_summary(pages):
    root = dom(pages["all clients"].read_text(encoding="utf-8"))
    sec = next(s for s in sections(root) if s.attrs["id"] == "client-broken-client")
    assert "Not audited." in sec.text() and "permission denied" in sec.text()
    assert not sec.find("div", "exec") and not sec.find("div", "finding")
    assert "1 errored" in root.find("section", "summary")[0].text()


def test_single_client_cli_report(tmp_path):
    out = tmp_path / "one.html"
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", str(FIXTURES / "harbor-dental"), "--format",
                        "html", "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    root = dom(out.read_text(encoding="utf-8"))
    assert len(sections(root)) == 1 and not root.find("section", "summary")


def test_branding_in_the_header_and_as_accent(clients):
    html = html_of(clients[:1], single=True, branding=BRAND)
    root = dom(html)
    (head,) = root.find("header", "masthead")
    assert head.find("div", "agency")[0].text() == BRAND.agency_name
    assert [i.attrs["src"] for i in head.find("img")] == [PNG]
    assert "--accent:#ff6600;" in html and "Acme &amp; Partners Analytics" in html


@pytest.mark.parametrize("bad", ["red", "#ff660", "#ff6600;}body{display:none}", "#ff6600 url(x)",
                                 "expression(alert(1))", "</style><script>alert(1)</script>"])
def test_a_bad_accent_is_not_injected(clients, bad):
    html = html_of(clients[:1], single=True, branding=Branding(agency_name="A", accent_color=bad))
    assert f"--accent:{DEFAULT_ACCENT};" in html and html.count("--accent:") == 1
    assert "<script" not in html and "body{display:none}" not in html and "url(x)" not in html


@pytest.mark.parametrize("logo", ["javascript:alert(1)", "http://plain.example/logo.png", "data:text/html,<b>",
                                  "data:image/svg+xml,<svg onload=alert(1)>", "https://x.example/a\" onerror=\"x"])
def test_a_bad_logo_is_not_shown(clients, logo):
    html = html_of(clients[:1], single=True, branding=Branding(logo=logo))
    assert "<img" not in html


def test_no_branding_is_neutral(clients):
    html = html_of(clients[:1], single=True)
    assert f"--accent:{DEFAULT_ACCENT};" in html and "<img" not in html and 'class="agency"' not in html


@pytest.mark.parametrize(("url", "ok"), [
    ("https://ads.google.com/aw/conversions?__e=1", True), ("http://example.com/x", True),
    ("docs/rules.md#micro-primary-goal", True), ("javascript:alert(1)", False), ("JAVASCRIPT:alert(1)", False),
    ("data:text/html,x", False), ("//evil.example", False), ("https:///x", False), (" https://x.example", False),
    ("https://x.example/a b", False), ('https://x.example/"><script>', False), ("vbscript:x", False),
    ("docs/../x\n", False), ("", False), (None, False), ("/etc/passwd", False), ("file:///etc/passwd", False),
])
def test_safe_url(url, ok):
    assert safe_url(url) == (url if ok else "")


def test_logo_and_accent_filters():
    assert logo_src(PNG) == PNG and logo_src("https://cdn.example/l.png") == "https://cdn.example/l.png"
    assert logo_src("data:image/png;base64,AAA=\" onerror=\"x") == "" and logo_src("http://x/l.png") == ""
    assert accent("#A1b2C3") == "#A1b2C3" and accent("#abc") == DEFAULT_ACCENT and accent(None) == DEFAULT_ACCENT


def test_hostile_result_stays_escaped_and_unlinked(clients):
    r = hostile(next(c for c in clients if c.name == "brightcart-home"))
    html = html_of([r], single=True)
    root = dom(html)
    assert not root.find("script") and not root.find("img") and not root.find("b")
    for n in root.walk():
        assert not [a for a in n.attrs if a.startswith("on")], n.attrs
        if "href" in n.attrs:
            href = n.attrs["href"] or ""
            assert href.startswith(("https://", "http://", "docs/", "#client-", "#rule-")), href
            assert '"' not in href and " " not in href
    (sec,) = sections(root)
    assert "<script>alert('client')</script>" in sec.find("h2")[0].text()  # shown as text
    # no bad URL became a link: a card links only to its rule's entry in the appendix
    assert {a.attrs["href"] for c in sec.find("div", "finding") for a in c.find("a")} <= {
        "#" + rule_anchor(f.rule) for f in r.findings}
    assert all("<script>alert('subject')</script>" in li.text() for li in sec.find("ul", "subjects")[0].find("li"))


# -- in the browser: no horizontal scroll, readable funnel, nothing spilling out of its card -----------------------

class Browser:
    """Headless Chromium driven over --remote-debugging-pipe."""

    def __init__(self, binary: str, timeout: float = 60) -> None:
        import fcntl

        self.timeout = timeout
        self.dir = tempfile.TemporaryDirectory(prefix="auditor-cdp-")
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()

        def wire() -> None:  # fds 3 and 4 in the child, whatever numbers the pipes got here
            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={self.dir.name}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(cmd_r)
        os.close(out_w)
        self.w, self.r = cmd_w, out_r
        self.buf, self.n, self.events = b"", 0, []

    def _message(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.n += 1
        msg: dict[str, Any] = {"id": self.n, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._message()
            if m.get("id") == self.n:
                assert "error" not in m, (method, m["error"])
                return m["result"]
            self.events.append(m)

    def _event(self, method: str, session: str) -> None:
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    del self.events[i]
                    return
            self.events.append(self._message())

    def evaluate(self, page: Path, width: int, expression: str, media: str = "") -> Any:
        """`expression`'s value in `page` laid out `width` CSS px wide (below 600: a phone, meta viewport on);
        `media="print"`: laid out with the print style sheet, as the PDF is."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        s = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        try:
            self.call("Emulation.setDeviceMetricsOverride", s, width=width, height=900, deviceScaleFactor=1,
                      mobile=width < 600)
            if media:
                self.call("Emulation.setEmulatedMedia", s, media=media)
            self.call("Page.enable", s)
            self.call("Page.navigate", s, url=page.resolve().as_uri())
            self._event("Page.loadEventFired", s)
            r = self.call("Runtime.evaluate", s, expression=expression, returnByValue=True)
            assert "exceptionDetails" not in r, r
            return r["result"]["value"]
        finally:
            self.call("Target.closeTarget", targetId=target)

    def close(self) -> None:
        for fd in (self.w, self.r):
            os.close(fd)
        try:
            self.proc.terminate()
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.dir.cleanup()


# Every element's box against the viewport width W and against its client card; the funnel labels' font size
# as rendered (an SVG text's size times its scale, for the old chart: kept so the measure means the same).
MEASURE = r"""(function (W) {
  var out = {inner: window.innerWidth, scroll: document.documentElement.scrollWidth, wide: [], spill: [], labels: []};
  function name(e) { return e.tagName.toLowerCase() + (e.getAttribute('class') ? '.' + e.getAttribute('class') : ''); }
  document.querySelectorAll('body *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (!r.width) return;
    if (r.right > W + 0.5 || r.left < -0.5) out.wide.push(name(e) + ' ' + r.left + '..' + r.right);
    var card = e.closest('section.client');
    if (card && card !== e) {
      var c = card.getBoundingClientRect();
      if (r.right > c.right + 0.5 || r.left < c.left - 0.5) out.spill.push(name(e));
    }
  });
  document.querySelectorAll('ol.funnel .label, svg text').forEach(function (e) {
    var size = parseFloat(getComputedStyle(e).fontSize);
    if (e instanceof SVGElement) { var m = e.getScreenCTM(); size *= m ? m.a : 1; }
    out.labels.push(size);
  });
  var head = document.querySelector('.masthead');
  out.accent = head ? getComputedStyle(head).borderBottomColor : null;
  return out;
})(%d)"""


def assert_fits(m: dict[str, Any], width: int, what: str) -> None:
    assert m["scroll"] <= width and m["inner"] == width, f"{what} at {width}px: page {m['scroll']}px wide"
    assert not m["wide"], f"{what} at {width}px: wider than the viewport: {m['wide'][:5]}"
    assert not m["spill"], f"{what} at {width}px: out of the client's card: {m['spill'][:5]}"


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_overflow(browser, pages, width):
    for what, page in pages.items():
        assert_fits(browser.evaluate(page, width, MEASURE % width), width, what)


@needs_chromium
def test_funnel_labels_readable_on_a_phone(browser, pages):
    sizes = []
    for page in pages.values():
        sizes += browser.evaluate(page, 390, MEASURE % 390)["labels"]
    assert sizes and min(sizes) >= 11, sorted(sizes)[:5]


@needs_chromium
def test_accent_colour_applied(browser, pages):
    m = browser.evaluate(pages["brightcart-home"], 1280, MEASURE % 1280)
    assert m["accent"] == "rgb(255, 102, 0)"


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_hostile_result_within_the_viewport(browser, clients, tmp_path, width):
    r = hostile(next(c for c in clients if c.name == "brightcart-home"))
    page = tmp_path / "hostile.html"
    page.write_text(html_of([r], single=True, branding=Branding(agency_name="<b>" + LONG, accent_color="red")),
                    encoding="utf-8")
    assert_fits(browser.evaluate(page, width, MEASURE % width), width, "hostile")
    seen = browser.evaluate(page, width, "[document.scripts.length, document.querySelectorAll('img,b,a[href^=j]')"
                                         ".length, document.querySelector('h2').textContent]")
    assert seen[:2] == [0, 0] and seen[2].startswith("<script>alert('client')</script>")


# -- the PDF -------------------------------------------------------------------------------------------------------

def pdf_text(data: bytes) -> tuple[str, Any]:
    """The text of a PDF with every space and line break removed (a long id may be broken across lines), soft
    hyphens gone."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    text = "".join(p.extract_text() for p in reader.pages)
    return squash(text), reader


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("\u00ad", ""))


@needs_chromium
def test_pdf_holds_every_fix_whole(clients):
    start = time.monotonic()
    data = pdf_of(clients, single=False)
    per_client = (time.monotonic() - start) / len(clients)
    assert data.startswith(b"%PDF")
    text, reader = pdf_text(data)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    for r in clients:
        assert squash(r.name) in text
        for f in r.active:
            message, fix = finding_text(f)  # in the client's words
            assert squash(fix) in text, (r.name, f.rule, fix)
            assert squash(message) in text, (r.name, f.rule)
        for x in digest.passed(r):  # printed open: paper cannot expand a <details>
            assert squash(x.title) in text
    assert squash("Fix these first") in text and squash("Summary") in text
    print(f"PDF of {len(clients)} clients, {len(reader.pages)} pages: {per_client:.2f} s per client")


@needs_chromium
def test_pdf_of_one_client_from_the_cli(tmp_path):
    out = tmp_path / "one.pdf"
    p = subprocess.run([sys.executable, "-m", "auditor", "--offline", str(FIXTURES / "fieldnotes-media"),
                        "--format", "pdf", "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode in (0, 1), p.stderr
    text, _ = pdf_text(out.read_bytes())
    assert squash("fieldnotes-media") in text and squash("Fix these first") in text
    assert squash("client(s)") not in text  # no "Summary / 1 client(s)" block


def test_pdf_without_chromium_exits_2_with_what_to_install(tmp_path):
    bare = tmp_path / "bin"  # a PATH with python and nothing else
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    base = {k: v for k, v in os.environ.items() if k not in ("AUDITOR_CHROMIUM", "PATH")}
    for extra in ({"AUDITOR_CHROMIUM": str(tmp_path / "nowhere/chromium")}, {}):
        env = {**base, **extra, "PATH": str(bare)}
        p = subprocess.run([sys.executable, "-m", "auditor", "--offline", "fixtures/", "--format", "pdf", "-o",
                            str(tmp_path / "x.pdf")], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert p.returncode == 2, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert "apt-get install chromium" in lines[0] and "AUDITOR_CHROMIUM" in lines[0], lines[0]
        assert ("nowhere" in lines[0]) == bool(extra)
        assert not (tmp_path / "x.pdf").exists()


def test_a_failed_print_is_one_line(tmp_path, monkeypatch):
    from auditor.outputs.formats import pdf

    fail = tmp_path / "fail"
    fail.write_text("#!/bin/sh\necho 'first line' >&2\necho 'crashed: no display' >&2\nexit 3\n")
    idle = tmp_path / "idle"
    idle.write_text("#!/bin/sh\nexec sleep 30\n")
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    for f in (fail, idle, silent):
        f.chmod(0o755)
    with pytest.raises(pdf.PrintError, match=r"exited with status 3: crashed: no display$"):
        pdf.print_pdf("<p>x</p>", engine=str(fail))
    start = time.monotonic()
    with pytest.raises(pdf.PrintError, match="did not finish printing within 1 s"):
        pdf.print_pdf("<p>x</p>", engine=str(idle), timeout=1)
    assert time.monotonic() - start < 10
    with pytest.raises(pdf.PrintError, match="wrote no PDF"):
        pdf.print_pdf("<p>x</p>", engine=str(silent))
    monkeypatch.setenv("AUDITOR_CHROMIUM", str(silent))
    assert pdf.require_engine() == str(silent)


def test_pdf_module_imports_only_the_standard_library():
    code = ("import sys; before = set(sys.modules); import auditor.outputs.formats.pdf; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('jinja2', 'pypdf')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.stdout.strip() == "[]", p.stdout + p.stderr


def test_pdf_restores_a_half_rendered_client():
    from auditor.outputs.formats.pdf import PdfFormat

    fmt = PdfFormat(io.TextIOWrapper(io.BytesIO()), RenderOptions())
    fmt.html.write("<head>")
    state = fmt.state()
    fmt.html.write("<half a client")
    fmt.restore(state)
    fmt.html.write("<next>")
    assert fmt.html.getvalue() == "<head><next>"


# -- a document that travels: summary first, links inside the document, the client's words, nothing cut -----------

RESOURCE_PATH = re.compile(r"\b(?:customers|properties)/\d+/")


def ids_and_links(root: Node) -> tuple[set[str], list[str]]:
    ids = {n.attrs["id"] for n in root.walk() if n.attrs.get("id")}
    return ids, [n.attrs["href"] for n in root.walk() if n.tag == "a" and (n.attrs.get("href") or "").startswith("#")]


def test_several_clients_open_with_contents_and_summary_then_clients_then_the_appendix(clients):
    root = dom(html_of(clients, single=False))
    (body,) = root.find("body")
    order = [n.tag + "." + ".".join(sorted(n.classes)) for n in body.children if isinstance(n, Node)]
    blocks = [x for x in order if x in ("nav.toc", "section.summary", "section.client", "section.appendix",
                                       "section.scoring")]
    assert blocks[:2] == ["nav.toc", "section.summary"] and blocks[-2:] == ["section.appendix", "section.scoring"]
    assert blocks[2:-2] == ["section.client"] * len(clients)
    (toc,) = root.find("nav", "toc")
    ids, _ = ids_and_links(root)
    toc_links = [a.attrs["href"] for a in toc.find("a")]
    assert {"#summary", "#about-checks", "#scoring"} <= set(toc_links) and all(h[1:] in ids for h in toc_links)
    assert [h for h in toc_links if h.startswith("#client-")][1:] == [f"#client-{r.name}" for r in clients]
    (summary,) = root.find("section", "summary")
    rows = summary.find("tr")[1:]
    assert [int(r.find("td")[2].text()) for r in rows] == sorted(r.score for r in clients)  # worst first
    brightcart = next(r for r in clients if r.name == "brightcart-home")
    fix = digest.fix_first(brightcart, 1)[0]
    assert f"{digest.title_of(brightcart, fix.finding.rule)} ({fix.gain})" in rows[0].text()


def test_every_rule_link_and_help_url_resolves_inside_the_document(clients):
    for results, single in ((clients, False), (clients[:1], True)):
        root = dom(html_of(results, single=single))
        ids, links = ids_and_links(root)
        assert links and all(h[1:] in ids for h in links), sorted(h for h in links if h[1:] not in ids)
        (appendix,) = root.find("section", "appendix")
        assert appendix.find("h2")[0].text() == "About these checks"
        rules = {f.rule for r in results for f in r.findings}
        assert {n.attrs["id"] for n in appendix.find("div", "rulenote")} == {rule_anchor(x) for x in rules}
        for r in results:
            for f in r.findings:
                assert f.help_url == "#" + rule_anchor(f.rule) and f.help_url[1:] in ids  # the JSON's link, too
    from auditor.engine import registry

    note = next(n for n in root.find("div", "rulenote") if n.attrs["id"] == "rule-micro-primary-goal")
    rule = registry()["micro-primary-goal"]
    assert rule.title in note.text() and "Why it matters." in note.text() and "How to fix." in note.text()


def test_a_configured_docs_url_is_absolute_and_linked_from_the_appendix(clients):
    r = ClientResult.from_json(json.loads(json.dumps(clients[0].to_json())))
    for f in r.findings:
        f.help_url = f"https://wiki.agency.example/rules#{f.rule}"
    root = dom(html_of([r], single=True))
    ids, links = ids_and_links(root)
    assert all(h[1:] in ids for h in links)  # the rule links stay inside the document
    outside = {a.attrs["href"] for a in root.find("section", "appendix")[0].find("a")}
    assert outside == {f.help_url for f in r.findings}


def test_client_formats_name_resources_and_json_keeps_the_paths(clients):
    assert any(RESOURCE_PATH.search(f.message + f.remediation) for r in clients for f in r.findings)
    html = html_of(clients, single=False)
    out = io.StringIO()
    write_document(out, "markdown", result_header(), clients, options=RenderOptions())
    for text in (html, out.getvalue()):
        assert not RESOURCE_PATH.search(text), RESOURCE_PATH.search(text)
    out = io.StringIO()
    write_document(out, "json", result_header(), clients, options=RenderOptions())
    data = json.loads(out.getvalue())
    paths = [f["remediation"] for c in data["clients"] for f in c["findings"] if RESOURCE_PATH.search(f["remediation"])]
    assert paths  # the canonical result keeps the rule's own text
    brightcart = next(r for r in clients if r.name == "brightcart-home")
    f = next(f for f in brightcart.findings if f.rule == "duplicate-conversion-action")
    assert finding_text(f)[1].startswith("Keep 'Purchase' as the one primary action.")
    # API enum values in words, API hints kept exactly
    lumen = next(r for r in clients if r.name == "lumen-analytics")
    sec = next(s for s in sections(dom(html)) if s.attrs["id"] == "client-lumen-analytics")
    text = sec.text()
    assert "Target CPA (350 USD)" in text and "Book appointment" in text and "TARGET_CPA" not in text
    assert "BOOK_APPOINTMENT" not in text and "primary_for_goal = false" in text
    assert any("TARGET_CPA" in f.message for f in lumen.findings)
    assert "Category scores apply the same formula" in text


WORDS_BROKEN = r"""(function () {
  var bad = [], cells = document.querySelectorAll('td, th');
  cells.forEach(function (cell) {
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), node, prev = null, prevCh = ' ';
    while ((node = walker.nextNode())) {
      var before = node.previousSibling;
      if (before && before.nodeName === 'WBR') prev = null;  // a break point the report offers on purpose
      for (var i = 0; i < node.data.length; i++) {
        var ch = node.data[i];
        if (/\s/.test(ch)) { prev = null; prevCh = ch; continue; }
        var range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
        var rect = range.getClientRects()[0];
        if (!rect || !rect.width) continue;
        if (prev && rect.top > prev.top + 2 && !/[-\/]/.test(prevCh))
          bad.push(cell.textContent.trim().slice(0, 50) + ' | ' + prevCh + '/' + ch);
        prev = rect; prevCh = ch;
      }
    }
  });
  return bad;
})()"""


@needs_chromium
@pytest.mark.parametrize(("width", "media"), [(390, ""), (1280, ""), (695, "print")])
def test_no_word_is_broken_inside_a_table_cell(browser, pages, width, media):
    """Every table cell wraps at spaces (or after a hyphen or slash), never inside a word: on a phone, on a laptop
    and in print (A4 between its margins is about 695 CSS px)."""
    broken = browser.evaluate(pages["all clients"], width, WORDS_BROKEN, media=media)
    assert not broken, broken[:10]
    assert browser.evaluate(pages["all clients"], width, "getComputedStyle(document.querySelector('td'))"
                                                         ".overflowWrap") == "break-word"


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_summary_comes_before_the_first_client_on_screen(browser, pages, width):
    top = browser.evaluate(pages["all clients"], width, "[document.querySelector('section.summary')"
                                                        ".getBoundingClientRect().top, document.querySelector("
                                                        "'section.client').getBoundingClientRect().top]")
    assert top[0] < top[1]


def agency_summary_page(tmp_path: Path, links: bool) -> Path:
    """The lead's summary (summary.html; the e-mail body without links) of a few clients, one with a long name."""
    from auditor.agency.summary import AgencyRow, RunInfo, SummaryDocument
    from auditor.outputs.formats.email_summary import email_view, render_summary, stream_summary
    from auditor.outputs.formats.summary_base import SummaryView

    counts = {"critical": 1, "high": 17, "medium": 9, "low": 1, "info": 0}
    rows = [AgencyRow(name, "ok", score, grade, 100, counts, 0, previous_score=score + 5, delta=-5, new=2,
                      resolved=1, changed=True, trend=[score + 9, score + 5, score], json=f"clients/{name}.json",
                      html=f"clients/{name}.html")
            for name, score, grade in (("brightcart-home", 0, "F"), ("a-very-long-client-name-" + "x" * 60, 46, "F"),
                                       ("northwind-outfitters", 90, "A"))]
    doc = SummaryDocument(result_header(), RunInfo(history=True, formats=["json", "html"]), rows)
    view = SummaryView(doc, top_fix="brightcart-home: duplicate-conversion-action (+30 points): Keep 'Purchase' "
                                    "as the one primary action.", links=links)
    html = "".join(stream_summary("html", view)) if links else render_summary(email_view(view))[1]
    page = tmp_path / ("summary.html" if links else "summary-email.html")
    page.write_text(html, encoding="utf-8")
    return page


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("links", [True, False], ids=["summary-page", "summary-email"])
def test_agency_summary_fits_a_phone_and_a_laptop(browser, tmp_path, width, links):
    page = agency_summary_page(tmp_path, links)
    assert_fits(browser.evaluate(page, width, MEASURE % width), width, page.name)
    title = browser.evaluate(page, width, "(function () { var h = document.querySelector('h1'); "
                                          "return [h.scrollWidth, h.clientWidth, h.textContent]; })()")
    assert title[0] <= title[1] and title[2].startswith("Agency summary: 3 client(s)")  # not truncated


HEADINGS = re.compile(r"^(?:Findings \(\d+\)|Campaigns|Funnel|Micro hierarchy|Fix these first|Score|Summary|Contents|"
                      r"About these checks|How the score is computed)$")


@needs_chromium
def test_pdf_opens_with_the_summary_and_ends_with_the_appendix(clients):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_of(clients, single=False)))
    pages = [p.extract_text() or "" for p in reader.pages]
    first = squash(pages[0])
    assert squash("Contents") in first and squash("Summary") in first
    assert all(squash(r.name) in first for r in clients)  # the whole ranking on page 1
    worst = min(clients, key=lambda r: r.score)
    assert first.index(squash("Summary")) < first.index(squash(worst.name))
    tail = squash("".join(pages[-3:]))
    assert squash("About these checks") in squash("".join(pages)) and squash("How the score is computed") in tail
    # no heading is left alone at the foot of a page
    for i, text in enumerate(pages[:-1]):
        lines = [x.strip() for x in text.splitlines() if x.strip()]
        assert lines and not HEADINGS.match(lines[-1]), (i + 1, lines[-3:])
