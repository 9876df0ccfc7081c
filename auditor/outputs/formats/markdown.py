"""Markdown: a document to paste into a ticket or a wiki. Untrusted text goes through `md_escape`.

Findings are in the client's words (auditor.outputs.wording: names for resource paths, words for API enum values);
each rule links to its entry in the appendix "About these checks" at the end of the document (`#rule-<id>`, an
`<a id>` the document writes itself), so the links work wherever the file is pasted or sent."""

from __future__ import annotations

from auditor.business_model import profile_label
from auditor.outputs.base import Format
from auditor.outputs.digest import deduction_line, fix_first, not_run, passed
from auditor.outputs.escape import md_code, md_escape, printable_lines
from auditor.outputs.options import rule_anchor
from auditor.outputs.wording import (
    CATEGORY_LEGEND,
    change_lines,
    client_campaign_cells,
    client_text,
    finding_text,
    score_line,
    with_short_name,
)
from auditor.result import ClientResult, Header, Summary
from auditor.text import MAX_NAME, clip


class MarkdownFormat(Format):
    name = "markdown"

    def _write(self, text: str) -> None:
        self.out.write(printable_lines(text))

    def begin(self, header: Header) -> None:
        super().begin(header)
        from auditor.outputs.appendix import RuleNotes

        self.notes = RuleNotes()
        self._write(f"# Conversion audit\n\nGenerated {md_escape(header.generated_at)} by auditor "
                    f"{md_escape(header.version)}.\n")

    def client(self, r: ClientResult) -> None:
        r = with_short_name(r)  # cut before layout; messages are cut by client_text
        w = self._write
        w(f"\n## {md_escape(r.name, line_start=True)}\n\n")
        w(f"Profile: {md_escape(client_text(profile_label(r)))}. {md_escape(score_line(r))}.\n\n")
        if r.categories:
            w(f"{md_escape(CATEGORY_LEGEND, line_start=True)}\n\n")
        line = deduction_line(r)
        if line:
            w(f"Score: {md_escape(line)}.\n\n")
        fixes = fix_first(r)
        if fixes:
            w("**Fix these first:**\n\n")
            for i, fx in enumerate(fixes, 1):
                w(f"{i}. {_rule_link(fx.finding.rule)} ({fx.gain}): "
                  f"{md_escape(finding_text(fx.finding)[1])}\n")
            w("\n")
        changes = change_lines(r)
        if changes:
            head, items = changes[0], changes[1:]
            w(f"{md_escape(head[:1].upper() + head[1:], line_start=True)}.\n\n"
              + "".join(f"- {md_escape(client_text(x), line_start=True)}\n" for x in items) + ("\n" if items else ""))
        for e in r.errors:
            w(f"- **Error:** {md_escape(e)}\n")
        active = r.active
        if active:
            w("| severity | rule | finding | fix |\n| --- | --- | --- | --- |\n")
            for f in active:
                note = "" if f.actionable else " (not actionable)"
                message, fix = finding_text(f)
                w(f"| {md_escape(f.severity)} | {_rule_link(f.rule)} | {md_escape(message)}{note} | "
                  f"{md_escape(fix)} |\n")
        elif r.score is not None:
            w("No findings.\n")
        for x in not_run(r):
            w(f"\n- Not run: {md_code(x.id)}: {md_escape(x.reason)}")
        ok = passed(r)
        if ok:
            w(f"\n\nPassed ({len(ok)}): " + ", ".join(md_code(x.id) for x in ok) + ".")
        w("\n")
        if r.campaigns is not None:
            from auditor.campaigns import CAMPAIGN_HEADERS, campaigns_line

            w(f"\n### Campaigns\n\n{md_escape(campaigns_line(r), line_start=True)}.\n")
            rows = client_campaign_cells(r)
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
        self.notes.add(r)  # last: a client that failed to render names no rule in the appendix

    def end(self, summary: Summary) -> None:
        w = self._write
        if not self.options.single:
            w("\n## Summary\n\n| client | score | grade |\n| --- | --- | --- |\n")
            for x in summary.ranking:
                w(f"| {md_escape(clip(x.name, MAX_NAME))} | {'-' if x.score is None else x.score} | "
                  f"{md_escape(x.grade_label)} |\n")
        notes = self.notes.notes()
        if notes:
            from auditor.outputs.appendix import APPENDIX_ID, APPENDIX_TITLE

            w(f'\n<a id="{APPENDIX_ID}"></a>\n\n## {APPENDIX_TITLE}\n\nEach check with a finding in this report: why '
              "it matters and how to fix it.\n")
            for n in notes:  # the anchor is made of [a-z0-9-] alone (rule_anchor): safe as raw HTML
                w(f'\n<a id="{n.anchor}"></a>\n\n### {md_escape(n.title, line_start=True)} ({md_code(n.id)})\n\n')
                if n.why:
                    w(f"**Why it matters.** {md_escape(n.why)}\n\n")
                if n.fix:
                    w(f"**How to fix.** {md_escape(n.fix)}\n\n")
                if not n.why and not n.fix:
                    w("This check is not part of this installation of auditor: its finding says what it found and "
                      "how to fix it.\n\n")
                if n.url and _linkable(n.url):
                    w(f"[Full documentation of this check]({n.url})\n")
        w(f"\n### Scoring\n\n{md_escape(self.header.formula, line_start=True)}\n")


def _rule_link(rule: str) -> str:
    """A rule id linked to its entry in the document's appendix."""
    return f"[{md_escape(rule)}](#{rule_anchor(rule)})"


def _linkable(url: str) -> bool:
    """An external link the document may carry: an http(s) URL without markup characters or spaces."""
    return url.startswith(("https://", "http://")) and not any(c in url for c in " ()<>[]`\\")
