"""Markdown: a document to paste into a ticket or a wiki. Untrusted text goes through `md_escape`."""

from __future__ import annotations

from auditor.business_model import profile_label
from auditor.outputs.base import Format
from auditor.outputs.digest import deduction_line, fix_first, not_run, passed
from auditor.outputs.escape import md_code, md_escape, printable_lines
from auditor.outputs.wording import change_lines, score_line
from auditor.result import ClientResult, Header, Summary


class MarkdownFormat(Format):
    name = "markdown"

    def _write(self, text: str) -> None:
        self.out.write(printable_lines(text))

    def begin(self, header: Header) -> None:
        super().begin(header)
        self._write(f"# Conversion audit\n\nGenerated {md_escape(header.generated_at)} by auditor "
                    f"{md_escape(header.version)}.\n")

    def client(self, r: ClientResult) -> None:
        w = self._write
        w(f"\n## {md_escape(r.name, line_start=True)}\n\n")
        w(f"Profile: {md_escape(profile_label(r))}. {md_escape(score_line(r))}.\n\n")
        line = deduction_line(r)
        if line:
            w(f"Score: {md_escape(line)}.\n\n")
        fixes = fix_first(r)
        if fixes:
            w("**Fix these first:**\n\n")
            for i, fx in enumerate(fixes, 1):
                w(f"{i}. {md_code(fx.finding.rule)} (+{fx.points} points): {md_escape(fx.finding.remediation)}\n")
            w("\n")
        changes = change_lines(r)
        if changes:
            head, items = changes[0], changes[1:]
            w(f"{md_escape(head[:1].upper() + head[1:], line_start=True)}.\n\n"
              + "".join(f"- {md_escape(x, line_start=True)}\n" for x in items) + ("\n" if items else ""))
        for e in r.errors:
            w(f"- **Error:** {md_escape(e)}\n")
        active = r.active
        if active:
            w("| severity | rule | finding | fix |\n| --- | --- | --- | --- |\n")
            for f in active:
                note = "" if f.actionable else " (not actionable)"
                rule = f"[{md_escape(f.rule)}]({f.help_url})" if _linkable(f.help_url) else md_code(f.rule)
                w(f"| {md_escape(f.severity)} | {rule} | {md_escape(f.message)}{note} | "
                  f"{md_escape(f.remediation)} |\n")
        elif r.score is not None:
            w("No findings.\n")
        for x in not_run(r):
            w(f"\n- Not run: {md_code(x.id)}: {md_escape(x.reason)}")
        ok = passed(r)
        if ok:
            w(f"\n\nPassed ({len(ok)}): " + ", ".join(md_code(x.id) for x in ok) + ".")
        w("\n")
        if r.campaigns is not None:
            from auditor.campaigns import CAMPAIGN_HEADERS, campaign_cells, campaigns_line

            w(f"\n### Campaigns\n\n{md_escape(campaigns_line(r), line_start=True)}.\n")
            rows = campaign_cells(r)
            if rows:
                w("\n| " + " | ".join(CAMPAIGN_HEADERS) + " |\n| --- | --- | --- | --- | ---: | --- |\n")
                for row in rows:
                    w("| " + " | ".join(md_escape(x) for x in row) + " |\n")
        fun = r.funnel
        if fun and fun.get("available"):
            from auditor.funnel import funnel_beside, funnel_caption, funnel_rows, funnel_unit

            w(f"\n### Funnel\n\n{md_escape(funnel_caption(fun), line_start=True)}.\n\n| step | "
              f"{md_escape(funnel_unit(fun))} | from previous | from first | note |\n"
              "| --- | ---: | ---: | ---: | --- |\n")
            for row in funnel_rows(fun):
                w("| " + " | ".join(md_escape(x) for x in row) + " |\n")
            beside = funnel_beside(fun)
            if beside:
                w("\n" + "".join(f"- {md_escape(b, line_start=True)}\n" for b in beside))
            w(f"\n{md_escape(fun['summary'], line_start=True)}\n")
        elif fun:
            w(f"\n### Funnel\n\nNot available: {md_escape(fun['reason'])}.\n")
        hj = r.hierarchy
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            w(f"\n### Micro hierarchy\n\n{md_escape(macro_line(hj), line_start=True)}.\n")
            rows = hierarchy_rows(hj, limit=None)
            if rows:
                w("\n| " + " | ".join(HIERARCHY_HEADERS) + " |\n| --- | ---: | ---: | --- | --- |\n")
                for row in rows:
                    w("| " + " | ".join(md_escape(x) for x in row) + " |\n")

    def end(self, summary: Summary) -> None:
        w = self._write
        if not self.options.single:
            w("\n## Summary\n\n| client | score | grade |\n| --- | --- | --- |\n")
            for x in summary.ranking:
                w(f"| {md_escape(x.name)} | {'-' if x.score is None else x.score} | "
                  f"{md_escape(x.grade or 'error')} |\n")
        w(f"\n### Scoring\n\n{md_escape(self.header.formula, line_start=True)}\n")


def _linkable(url: str) -> bool:
    """A help link the document may carry: our own catalogue path or an https URL without markup characters."""
    return bool(url) and (url.startswith(("https://", "http://", "docs/"))) and not any(c in url for c in " ()<>[]")
