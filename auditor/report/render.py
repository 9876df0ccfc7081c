"""Renderers of the JSON result: json (canonical), table, markdown, html, csv.

Each renderer receives the same dicts the JSON holds, client by client (begin, client..., end), so reports
stream and any saved JSON result can be re-rendered later without calling an API.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any, TextIO

from auditor.business_model import profile_label
from auditor.engine import SEVERITIES

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
        body = json.dumps(header, indent=2, ensure_ascii=False)
        self.out.write(body[:-2] + ',\n  "clients": [')
        self.first = True

    def client(self, result: dict[str, Any]) -> None:
        text = json.dumps(result, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        self.out.write(("\n    " if self.first else ",\n    ") + text)
        self.first = False

    def end(self, summary: dict[str, Any]) -> None:
        text = json.dumps(summary, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        self.out.write(("\n  ]" if not self.first else "]") + ',\n  "summary": ' + text + "\n}\n")


def _score_line(r: dict[str, Any]) -> str:
    if r["score"] is None:
        return "not audited (error)"
    cats = ", ".join(f"{c} {s}" for c, s in r["categories"].items())
    return f"score {r['score']}/100 (grade {r['grade']}), coverage {r['coverage']}%" + (f"; {cats}" if cats else "")


class TableRenderer(Renderer):
    """The terminal view: one table of findings per client, then a ranking of every client."""

    def client(self, r: dict[str, Any]) -> None:
        from tabulate import tabulate

        w = self.out.write
        w(f"\n== {_plain(r['name'])} [{_plain(profile_label(r))}]  {_score_line(r)}\n")
        for line in _change_lines(r):
            w(f"  {_plain(line)}\n")
        for e in r["errors"]:
            w(f"  error: {_plain(e)}\n")
        active = [f for f in r["findings"] if not f.get("suppressed")]
        if active:
            rows = [[f["severity"].upper(), f["rule"], _plain(f["message"])
                     + ("" if f.get("actionable", True) else " [not actionable]")] for f in active]
            w(tabulate(rows, headers=["severity", "rule", "finding"], tablefmt="simple",
                       maxcolwidths=[None, None, 90]) + "\n")
        elif r["score"] is not None:
            w("  no findings\n")
        not_run = [x for x in r["rules"] if x["status"] in ("not_run", "error")]
        for x in not_run:
            w(f"  not run: {x['id']}: {_plain(x['reason'])}\n")
        suppressed = len(r["findings"]) - len(active)
        if suppressed:
            w(f"  ({suppressed} suppressed finding(s) not shown)\n")
        fun = r.get("funnel")  # absent from results saved before the funnel view existed
        if fun and fun.get("available"):
            from auditor.funnel import funnel_caption, funnel_rows, funnel_unit

            w(f"  funnel ({_plain(funnel_caption(fun))}):\n")
            rows = [[_plain(x) for x in row] for row in funnel_rows(fun)]
            w(tabulate(rows, headers=["step", funnel_unit(fun), "from previous", "from first", "note"],
                       tablefmt="simple", colalign=("left", "right", "right", "right", "left")) + "\n")
            w(f"  {_plain(fun['summary'])}\n")
        elif fun:
            w(f"  funnel: not available: {_plain(fun['reason'])}\n")
        hj = r.get("hierarchy")  # absent from results saved before the hierarchy existed
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            rows = [[_plain(x) for x in row] for row in hierarchy_rows(hj)]
            w(f"  micro hierarchy ({_plain(macro_line(hj))}):\n")
            if rows:
                w(tabulate(rows, headers=HIERARCHY_HEADERS, tablefmt="simple",
                           colalign=("left", "right", "right", "left", "left")) + "\n")

    def end(self, summary: dict[str, Any]) -> None:
        from tabulate import tabulate

        rows = [[x["name"], "-" if x["score"] is None else x["score"], x["grade"] or "error"]
                for x in summary["ranking"]]
        self.out.write("\nClients, worst first\n" + tabulate(rows, headers=["client", "score", "grade"]) + "\n")
        counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
        self.out.write(f"{summary['clients']} client(s), {summary['errored']} errored; findings: {counts or 'none'}\n")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_escape(text: Any) -> str:
    """Escape API-sourced text for Markdown: no markup, links or raw HTML can get through."""
    s = _MD_SPECIAL.sub(r"\\\1", str(text).replace("\r", " ").replace("\n", " "))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: Any) -> str:
    """Terminal text: drop control characters (an event name could carry escape sequences)."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


class MarkdownRenderer(Renderer):
    def begin(self, header: dict[str, Any]) -> None:
        super().begin(header)
        self.out.write(f"# Conversion audit\n\nGenerated {header['generated_at']} by auditor "
                       f"{header['tool']['version']}.\n")

    def client(self, r: dict[str, Any]) -> None:
        w = self.out.write
        w(f"\n## {md_escape(r['name'])}\n\n")
        w(f"Profile: {md_escape(profile_label(r))}. {md_escape(_score_line(r))}.\n\n")
        changes = _change_lines(r)
        if changes:
            head, items = changes[0], changes[1:]
            w(f"{md_escape(head[:1].upper() + head[1:])}.\n\n" + "".join(f"- {md_escape(x)}\n" for x in items)
              + ("\n" if items else ""))
        for e in r["errors"]:
            w(f"- **Error:** {md_escape(e)}\n")
        active = [f for f in r["findings"] if not f.get("suppressed")]
        if active:
            w("| severity | rule | finding | fix |\n| --- | --- | --- | --- |\n")
            for f in active:
                note = "" if f.get("actionable", True) else " (not actionable)"
                w(f"| {f['severity']} | `{f['rule']}` | {md_escape(f['message'])}{note} | "
                  f"{md_escape(f['remediation'])} |\n")
        elif r["score"] is not None:
            w("No findings.\n")
        for x in r["rules"]:
            if x["status"] in ("not_run", "error"):
                w(f"\n- Not run: `{x['id']}`: {md_escape(x['reason'])}")
        w("\n")
        fun = r.get("funnel")
        if fun and fun.get("available"):
            from auditor.funnel import funnel_caption, funnel_rows, funnel_unit

            w(f"\n### Funnel\n\n{md_escape(funnel_caption(fun))}.\n\n| step | {funnel_unit(fun)} | from previous | "
              "from first | note |\n| --- | ---: | ---: | ---: | --- |\n")
            for row in funnel_rows(fun):
                w("| " + " | ".join(md_escape(x) for x in row) + " |\n")
            w(f"\n{md_escape(fun['summary'])}\n")
        elif fun:
            w(f"\n### Funnel\n\nNot available: {md_escape(fun['reason'])}.\n")
        hj = r.get("hierarchy")
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            w(f"\n### Micro hierarchy\n\n{md_escape(macro_line(hj))}.\n")
            rows = hierarchy_rows(hj, limit=None)
            if rows:
                w("\n| " + " | ".join(HIERARCHY_HEADERS) + " |\n| --- | ---: | ---: | --- | --- |\n")
                for row in rows:
                    w("| " + " | ".join(md_escape(x) for x in row) + " |\n")

    def end(self, summary: dict[str, Any]) -> None:
        w = self.out.write
        w("\n## Summary\n\n| client | score | grade |\n| --- | --- | --- |\n")
        for x in summary["ranking"]:
            w(f"| {md_escape(x['name'])} | {'-' if x['score'] is None else x['score']} | {x['grade'] or 'error'} |\n")
        w(f"\n### Scoring\n\n{md_escape(self.header['scoring']['formula'])}\n")


class CsvRenderer(Renderer):
    """One row per finding (a client without findings still gets a row, so every score is in the file)."""

    COLUMNS = ["client", "profile", "score", "grade", "coverage", "rule", "severity", "category", "message",
               "resources", "remediation", "actionable", "suppressed", "fingerprint", "change"]

    def begin(self, header: dict[str, Any]) -> None:
        super().begin(header)
        self.writer = csv.writer(self.out, lineterminator="\n")
        self.writer.writerow(self.COLUMNS)

    def client(self, r: dict[str, Any]) -> None:
        base = [r["name"], r.get("profile") or "", r["score"] if r["score"] is not None else "", r["grade"] or "",
                r["coverage"]]
        from auditor.diff import change_of

        change = change_of(r.get("changes"))  # new | persisting since the previous run (agency runs)
        if not r["findings"]:
            self.writer.writerow(base + ["", "", "", "; ".join(r["errors"]), "", "", "", "", "", ""])
        for f in r["findings"]:
            self.writer.writerow(base + [
                f["rule"], f["severity"], f.get("category", ""), csv_safe(f["message"]),
                csv_safe(" ".join(f["resources"])), csv_safe(f["remediation"]),
                str(f.get("actionable", True)).lower(), str(f.get("suppressed", False)).lower(), f["fingerprint"],
                change.get(f["fingerprint"], ""),
            ])
        for f in (r.get("changes") or {}).get("resolved") or []:  # gone since the previous run: one row each
            self.writer.writerow(base + [f["rule"], f["severity"], "", csv_safe(f["message"]),
                                         csv_safe(" ".join(f["resources"])), "", "", "", f["fingerprint"],
                                         "resolved"])


def _change_lines(r: dict[str, Any]) -> list[str]:
    """What changed since the previous run, when the result carries it (agency runs with history)."""
    if not r.get("changes"):
        return []
    from auditor.diff import change_lines

    return change_lines(r["changes"])


def csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in API-sourced text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class HtmlRenderer(Renderer):
    """A self-contained page; every API-sourced string is escaped by Jinja's autoescaping."""

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
