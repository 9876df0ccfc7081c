"""Renderers of the JSON result: json (canonical), table, markdown, html, csv.

Each renderer receives the same dicts the JSON holds, client by client (begin, client..., end), so reports
stream and any saved JSON result can be re-rendered later without calling an API.

Every string in a result may come from outside (API names, folder names, config values, messages built from
them), so every format neutralises it on the way out: the table through `printable`, Markdown through
`md_escape`, CSV through `csv_safe`, JSON by escaping (`json_text`), HTML by autoescaping plus `printable`
(auditor/report/html.py). No output carries a control character, a bidirectional override or a lone surrogate.
"""

from __future__ import annotations

import csv
import re
from typing import Any, TextIO

from auditor.business_model import profile_label
from auditor.engine import SEVERITIES
from auditor.text import json_text, printable

FORMATS = ("table", "markdown", "json", "html", "csv")


class Renderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def begin(self, header: dict[str, Any]) -> None:
        self.header = header

    def client(self, result: dict[str, Any]) -> None:
        raise NotImplementedError

    def end(self, summary: dict[str, Any]) -> None:
        pass


class JsonRenderer(Renderer):
    """Writes the canonical result incrementally: header, then each client as it is audited, then summary."""

    def begin(self, header: dict[str, Any]) -> None:
        body = json_text(header, indent=2)
        self.out.write(body[:-2] + ',\n  "clients": [')
        self.first = True

    def client(self, result: dict[str, Any]) -> None:
        text = json_text(result, indent=2).replace("\n", "\n    ")
        self.out.write(("\n    " if self.first else ",\n    ") + text)
        self.first = False

    def end(self, summary: dict[str, Any]) -> None:
        text = json_text(summary, indent=2).replace("\n", "\n  ")
        self.out.write(("\n  ]" if not self.first else "]") + ',\n  "summary": ' + text + "\n}\n")


def _score_line(r: dict[str, Any]) -> str:
    if r["score"] is None:
        return "not audited (error)"
    cats = ", ".join(f"{c} {s}" for c, s in r["categories"].items())
    return f"score {r['score']}/100 (grade {r['grade']}), coverage {r['coverage']}%" + (f"; {cats}" if cats else "")


def printable_lines(text: Any) -> str:
    """Text of several lines: each line through `printable`, the line breaks kept. The last guard of the text
    renderers, applied to everything they write; data never carries a line break this far (each value went
    through `printable` or `md_escape` first)."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


class TableRenderer(Renderer):
    """The terminal view: one table of findings per client, then a ranking of every client."""

    def _write(self, text: str) -> None:
        self.out.write(printable_lines(text))

    def client(self, r: dict[str, Any]) -> None:
        from tabulate import tabulate

        p = printable
        w = self._write
        w(f"\n== {p(r['name'])} [{p(profile_label(r))}]  {p(_score_line(r))}\n")
        for line in _change_lines(r):
            w(f"  {p(line)}\n")
        for e in r["errors"]:
            w(f"  error: {p(e)}\n")
        active = [f for f in r["findings"] if not f.get("suppressed")]
        if active:
            rows = [[p(f["severity"]).upper(), p(f["rule"]), p(f["message"])
                     + ("" if f.get("actionable", True) else " [not actionable]")] for f in active]
            w(tabulate(rows, headers=["severity", "rule", "finding"], tablefmt="simple",
                       maxcolwidths=[None, None, 90]) + "\n")
        elif r["score"] is not None:
            w("  no findings\n")
        not_run = [x for x in r["rules"] if x["status"] in ("not_run", "error")]
        for x in not_run:
            w(f"  not run: {p(x['id'])}: {p(x['reason'])}\n")
        suppressed = len(r["findings"]) - len(active)
        if suppressed:
            w(f"  ({suppressed} suppressed finding(s) not shown)\n")
        fun = r.get("funnel")  # absent from results saved before the funnel view existed
        if fun and fun.get("available"):
            from auditor.funnel import funnel_caption, funnel_rows, funnel_unit

            w(f"  funnel ({p(funnel_caption(fun))}):\n")
            rows = [[p(x) for x in row] for row in funnel_rows(fun)]
            w(tabulate(rows, headers=["step", p(funnel_unit(fun)), "from previous", "from first", "note"],
                       tablefmt="simple", colalign=("left", "right", "right", "right", "left")) + "\n")
            w(f"  {p(fun['summary'])}\n")
        elif fun:
            w(f"  funnel: not available: {p(fun['reason'])}\n")
        hj = r.get("hierarchy")  # absent from results saved before the hierarchy existed
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            rows = [[p(x) for x in row] for row in hierarchy_rows(hj)]
            w(f"  micro hierarchy ({p(macro_line(hj))}):\n")
            if rows:
                w(tabulate(rows, headers=HIERARCHY_HEADERS, tablefmt="simple",
                           colalign=("left", "right", "right", "left", "left")) + "\n")

    def end(self, summary: dict[str, Any]) -> None:
        from tabulate import tabulate

        rows = [[printable(x["name"]), "-" if x["score"] is None else x["score"], printable(x["grade"] or "error")]
                for x in summary["ranking"]]
        self._write("\nClients, worst first\n" + tabulate(rows, headers=["client", "score", "grade"]) + "\n")
        counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
        self._write(f"{summary['clients']} client(s), {summary['errored']} errored; findings: {counts or 'none'}\n")


# -- Markdown ----------------------------------------------------------------------------------------------------
#
# Untrusted text is escaped just enough that it cannot make markup, and no more, so that ordinary names read as
# they are when the Markdown is pasted into a ticket (add_to_cart, (GA4), 12.5%, -3, #1):
#   - control characters, line breaks, bidirectional overrides, lone surrogates: "?" (`printable`);
#   - `&`, `<`, `>`: HTML entities (no raw HTML, no entity tricks, no autolink <...>, no blockquote);
#   - `|`, `` ` ``, `[`, `]`: backslash (no table break, no code span, no link, image, footnote or reference);
#   - a backslash before ASCII punctuation or at the end: doubled (it would otherwise escape what follows);
#   - `*`, `_`, `~` (emphasis, strikethrough): escaped unless they cannot open or close a run: `_` between two
#     letters or digits (CommonMark never emphasises inside a word with `_`), any of them between two spaces;
#   - `://` and `www.`: the colon or the dot (GFM would turn a bare URL into a link: https\://x, www\.x);
#   - at the start of a line (line_start=True: headings, paragraphs, list items): a heading `#`, a list marker
#     (`-`, `+`, `1.`, `1)` followed by a space), a setext or thematic-break line (`=`, `-`), and a closing `#`
#     sequence (a heading would drop it). Inside table cells block syntax does not apply.
# Not escaped: parentheses, `!`, `#` inside text, `.`, `%`, `{}`, leading spaces (four make an indented code
# block: still literal text). An e-mail address may still be shown as a mailto: link by GFM (no escape stops
# that without showing); it shows exactly its target and cannot run a script.

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_BACKSLASH = frozenset("|`[]")
_MD_FLANKING = frozenset("*_~")
_MD_SAFE = re.compile(r"[^&<>|`\[\]\\*_~]*")
_MD_ORDERED = re.compile(r"(\d{1,9})([.)])(?= |$)")
_MD_CLOSING_HASHES = re.compile(r"( )(#+ *)$")
_MD_CODE = re.compile(r"[A-Za-z0-9_.:/-]+")


def md_escape(text: Any, line_start: bool = False) -> str:
    """API-sourced text as Markdown that renders as exactly that text: no markup, link, image or raw HTML can be
    injected, and nothing that needs no escaping is escaped. `line_start`: the text begins a line (a heading, a
    paragraph, a list item), so block syntax at its start is escaped too."""
    s = printable(text)
    if _MD_SAFE.fullmatch(s) and "://" not in s and "www." not in s.lower():
        out = s
    else:
        parts = []
        for i, ch in enumerate(s):
            if ch in _MD_ENTITY:
                parts.append(_MD_ENTITY[ch])
            elif ch in _MD_BACKSLASH:
                parts.append("\\" + ch)
            elif ch == "\\":
                nxt = s[i + 1:i + 2]
                parts.append("\\\\" if not nxt or nxt in _ASCII_PUNCT else "\\")
            elif (ch == ":" and s[i + 1:i + 3] == "//") or (ch == "." and s[max(0, i - 3):i].lower() == "www"):
                parts.append("\\" + ch)  # https://x, www.x: GFM would make a link of it (autolink extension)
            elif ch in _MD_FLANKING:
                prev, nxt = s[i - 1:i] if i else "", s[i + 1:i + 2]
                inert = (prev == " " and nxt == " ") or (ch == "_" and prev.isalnum() and nxt.isalnum())
                parts.append(ch if inert else "\\" + ch)
            else:
                parts.append(ch)
        out = "".join(parts)
    if line_start and out:
        out = _md_block_start(out)
    return out


def _md_block_start(s: str) -> str:
    """Escape what would start a block at the beginning of a line (after up to three spaces of indent)."""
    body = s.lstrip(" ")
    indent = s[:len(s) - len(body)]
    first, nxt = body[:1], body[1:2]
    if first == "#":
        hashes = len(body) - len(body.lstrip("#"))
        if hashes <= 6 and body[hashes:hashes + 1] in ("", " "):
            body = "\\" + body
    elif first in ("-", "+", "=") and not nxt.isalnum():
        body = "\\" + body  # list item, thematic break, setext underline (-5% or +3 stay as they are)
    elif first.isdigit():
        body = _MD_ORDERED.sub(r"\1\\\2", body, count=1) if _MD_ORDERED.match(body) else body
    body = _MD_CLOSING_HASHES.sub(r"\1\\\2", body)  # "## name #": the closing sequence would be dropped
    return indent + body


def md_code(text: Any) -> str:
    """An identifier (a rule id) as a code span when it is plain, else as escaped text."""
    s = printable(text)
    return f"`{s}`" if _MD_CODE.fullmatch(s) else md_escape(s)


class MarkdownRenderer(Renderer):
    def _write(self, text: str) -> None:
        self.out.write(printable_lines(text))

    def begin(self, header: dict[str, Any]) -> None:
        super().begin(header)
        self._write(f"# Conversion audit\n\nGenerated {md_escape(header['generated_at'])} by auditor "
                    f"{md_escape(header['tool']['version'])}.\n")

    def client(self, r: dict[str, Any]) -> None:
        w = self._write
        w(f"\n## {md_escape(r['name'], line_start=True)}\n\n")
        w(f"Profile: {md_escape(profile_label(r))}. {md_escape(_score_line(r))}.\n\n")
        changes = _change_lines(r)
        if changes:
            head, items = changes[0], changes[1:]
            w(f"{md_escape(head[:1].upper() + head[1:], line_start=True)}.\n\n"
              + "".join(f"- {md_escape(x, line_start=True)}\n" for x in items) + ("\n" if items else ""))
        for e in r["errors"]:
            w(f"- **Error:** {md_escape(e)}\n")
        active = [f for f in r["findings"] if not f.get("suppressed")]
        if active:
            w("| severity | rule | finding | fix |\n| --- | --- | --- | --- |\n")
            for f in active:
                note = "" if f.get("actionable", True) else " (not actionable)"
                w(f"| {md_escape(f['severity'])} | {md_code(f['rule'])} | {md_escape(f['message'])}{note} | "
                  f"{md_escape(f['remediation'])} |\n")
        elif r["score"] is not None:
            w("No findings.\n")
        for x in r["rules"]:
            if x["status"] in ("not_run", "error"):
                w(f"\n- Not run: {md_code(x['id'])}: {md_escape(x['reason'])}")
        w("\n")
        fun = r.get("funnel")
        if fun and fun.get("available"):
            from auditor.funnel import funnel_caption, funnel_rows, funnel_unit

            w(f"\n### Funnel\n\n{md_escape(funnel_caption(fun), line_start=True)}.\n\n| step | "
              f"{md_escape(funnel_unit(fun))} | from previous | from first | note |\n"
              "| --- | ---: | ---: | ---: | --- |\n")
            for row in funnel_rows(fun):
                w("| " + " | ".join(md_escape(x) for x in row) + " |\n")
            w(f"\n{md_escape(fun['summary'], line_start=True)}\n")
        elif fun:
            w(f"\n### Funnel\n\nNot available: {md_escape(fun['reason'])}.\n")
        hj = r.get("hierarchy")
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            w(f"\n### Micro hierarchy\n\n{md_escape(macro_line(hj), line_start=True)}.\n")
            rows = hierarchy_rows(hj, limit=None)
            if rows:
                w("\n| " + " | ".join(HIERARCHY_HEADERS) + " |\n| --- | ---: | ---: | --- | --- |\n")
                for row in rows:
                    w("| " + " | ".join(md_escape(x) for x in row) + " |\n")

    def end(self, summary: dict[str, Any]) -> None:
        w = self._write
        w("\n## Summary\n\n| client | score | grade |\n| --- | --- | --- |\n")
        for x in summary["ranking"]:
            w(f"| {md_escape(x['name'])} | {'-' if x['score'] is None else x['score']} | "
              f"{md_escape(x['grade'] or 'error')} |\n")
        w(f"\n### Scoring\n\n{md_escape(self.header['scoring']['formula'], line_start=True)}\n")


# -- CSV ---------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: Any) -> str:
    """A CSV cell from untrusted text: `printable` (no control character, line break, bidirectional override or
    lone surrogate), then a leading quote when a spreadsheet would read a formula (=, +, -, @, tab, CR first,
    after any spaces)."""
    s = printable(text)
    return "'" + s if s.lstrip(" ")[:1] in _FORMULA_START else s


def csv_cell(value: Any) -> Any:
    """Any CSV cell: numbers stay numbers, None is empty, everything else goes through `csv_safe`."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return csv_safe(value)


class CsvRenderer(Renderer):
    """One row per finding (a client without findings still gets a row, so every score is in the file)."""

    COLUMNS = ["client", "profile", "score", "grade", "coverage", "rule", "severity", "category", "message",
               "resources", "remediation", "actionable", "suppressed", "fingerprint", "change"]

    def begin(self, header: dict[str, Any]) -> None:
        super().begin(header)
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.writer.writerow(self.COLUMNS)

    def _row(self, cells: list[Any]) -> None:
        self.writer.writerow([csv_cell(x) for x in cells])

    def client(self, r: dict[str, Any]) -> None:
        base = [r["name"], r.get("profile") or "", r["score"], r["grade"] or "", r["coverage"]]
        from auditor.diff import change_of

        change = change_of(r.get("changes"))  # new | persisting since the previous run (agency runs)
        if not r["findings"]:
            self._row(base + ["", "", "", "; ".join(map(str, r["errors"])), "", "", "", "", "", ""])
        for f in r["findings"]:
            self._row(base + [
                f["rule"], f["severity"], f.get("category", ""), f["message"], " ".join(f["resources"]),
                f["remediation"], str(f.get("actionable", True)).lower(), str(f.get("suppressed", False)).lower(),
                f["fingerprint"], change.get(f["fingerprint"], ""),
            ])
        for f in (r.get("changes") or {}).get("resolved") or []:  # gone since the previous run: one row each
            self._row(base + [f["rule"], f["severity"], "", f["message"], " ".join(f["resources"]), "", "", "",
                              f["fingerprint"], "resolved"])


def _change_lines(r: dict[str, Any]) -> list[str]:
    """What changed since the previous run, when the result carries it (agency runs with history)."""
    if not r.get("changes"):
        return []
    from auditor.diff import change_lines

    return change_lines(r["changes"])


class HtmlRenderer(Renderer):
    """A self-contained page; every API-sourced string is escaped by Jinja's autoescaping and made printable by
    the environment's finalize hook (auditor/report/html.py)."""

    def begin(self, header: dict[str, Any]) -> None:
        super().begin(header)
        from auditor.report.html import environment

        self.env = environment()
        self.out.write(self.env.get_template("head.html.j2").render(header=header))

    def client(self, r: dict[str, Any]) -> None:
        self.out.write(self.env.get_template("client.html.j2").render(c=r, severities=SEVERITIES))

    def end(self, summary: dict[str, Any]) -> None:
        self.out.write(self.env.get_template("foot.html.j2").render(summary=summary, header=self.header))


RENDERERS: dict[str, type[Renderer]] = {
    "json": JsonRenderer, "table": TableRenderer, "markdown": MarkdownRenderer, "csv": CsvRenderer,
    "html": HtmlRenderer,
}


def write_document(out: TextIO, fmt: str, header: dict[str, Any], clients: list[dict[str, Any]]) -> None:
    """A whole report of `clients` in format `fmt`, as `audit --format FMT` writes it, with their summary."""
    from auditor.audit import summarise, summary_row

    r = RENDERERS[fmt](out)
    r.begin(header)
    for c in clients:
        r.client(c)
    r.end(summarise([summary_row(c) for c in clients]))
