"""The terminal view: each client's findings with their fixes, its funnel and micro hierarchy, then a ranking of
every client. No line is wider than `options.width` (the terminal's columns); severities are coloured when
`options.color` says the output is a terminal that wants colour.

Layout of a finding, stacked so that it reads the same at 60 columns as at 200:

      HIGH      missing-conversion-value
        primary action 'Sign up' (SIGNUP) has no value: no default value and 0
        conversion value over 251 conv. in 30 days
        fix: Send the transaction value with the tag (or a credible proxy for
             leads) and set a default value: ...
"""

from __future__ import annotations

from typing import Any

from auditor.business_model import profile_label
from auditor.outputs.base import Format
from auditor.outputs.digest import deduction_line
from auditor.outputs.terminal import paint, safe, table, wrap
from auditor.outputs.wording import change_lines, score_line
from auditor.result import ClientResult, Finding, Header, Summary
from auditor.text import MAX_MESSAGE, MAX_NAME, clip

_LABEL = 8  # the longest severity label, CRITICAL: rules line up after it
_BODY = "    "  # a finding's message and fix, under its severity
_FIX = "fix: "
_NOT_ACTIONABLE = "[not actionable]"
OVERVIEW_NOTE = ("Several clients: each is shown below as it is audited; the overview of every client, worst first, "
                 "comes at the end (an HTML report, `--format html -o report.html`, opens with it).")


class TableFormat(Format):
    """The terminal view: one block of findings per client, then a ranking of every client."""

    name = "table"

    @property
    def width(self) -> int:
        return self.options.width

    def begin(self, header: Header) -> None:
        """A document of several clients says first where its overview is: the clients stream as they are audited
        (each is on screen as soon as it is done), so the ranking of every client can only come last."""
        super().begin(header)
        if not self.options.single:
            self._lines(wrap(OVERVIEW_NOTE, self.width, "", "  "))

    def _lines(self, lines: list[str]) -> None:
        """Lines built here from `safe` text (the colour codes are `paint`'s own) written as one string."""
        self.out.write("\n".join(lines) + "\n")

    def _wrap(self, text: Any, indent: str = "  ", hang: str | None = None) -> list[str]:
        return wrap(text, self.width, indent, hang if hang is not None else indent + "  ")

    def client(self, r: ClientResult) -> None:
        """The client's blocks, a blank line between them: heading (with changes and errors), each finding,
        what was not run or shown, the funnel, the micro hierarchy."""
        head = self._heading(r)
        for line in change_lines(r):
            head += self._wrap(line)
        for e in r.errors:
            head += self._labelled("error:", "error", e)
        blocks = [head, *(self._finding(f) for f in r.active), self._notes(r), self._campaigns(r),
                  self._funnel(r.funnel), self._hierarchy(r.hierarchy)]
        lines: list[str] = []
        for block in blocks:
            if block:
                lines += ["", *block]
        self._lines(lines)

    def _labelled(self, label: str, style: str, text: Any, indent: str = "  ") -> list[str]:
        """'label text' wrapped under `indent`, the label coloured."""
        first, *rest = wrap(f"{label} {safe(text)}", self.width, indent, indent + "  ")
        return [indent + paint(label, style, self.options.color) + first[len(indent) + len(label):], *rest]

    def _heading(self, r: ClientResult) -> list[str]:
        """'== name [profile]  score ...' on one line when it fits, else the score on its own lines below."""
        color = self.options.color
        who, score = f"== {safe(clip(r.name, MAX_NAME))} [{safe(profile_label(r))}]", safe(score_line(r))
        made = deduction_line(r)  # what makes the score: a low total beside high category scores is no riddle
        breakdown = wrap(f"score: {safe(made)}", self.width, "   ", "     ") if made else []
        if len(who) + 2 + len(score) <= self.width:
            return [paint(who, "heading", color) + "  " + score, *breakdown]
        return [*(paint(x, "heading", color) for x in wrap(who, self.width, "", "   ")),
                *wrap(score, self.width, "   "), *breakdown]

    def _notes(self, r: ClientResult) -> list[str]:
        """No findings, the rules not run, the suppressed findings not shown."""
        lines: list[str] = []
        active = r.active
        if not active and r.score is not None:
            lines.append("  no findings")
        for x in r.rules:
            if x.status in ("not_run", "error"):
                lines += self._wrap(f"not run: {safe(x.id)}: {safe(x.reason)}")
        suppressed = len(r.findings) - len(active)
        if suppressed:
            lines.append(f"  ({suppressed} suppressed finding(s) not shown)")
        return lines

    def _finding(self, f: Finding) -> list[str]:
        label = safe(f.severity).upper()
        hang = " " * (4 + _LABEL)
        head = wrap(f"{label.ljust(_LABEL)}  {safe(f.rule)}", self.width, "  ", hang)
        if not f.actionable:  # whole, on the rule's line when it fits
            fits = len(head[-1]) + len(_NOT_ACTIONABLE) + 2 <= self.width
            head[-1:] = [head[-1] + "  " + _NOT_ACTIONABLE] if fits else [head[-1], hang + _NOT_ACTIONABLE]
        if head[0].startswith("  " + label):  # not when an absurd severity was itself cut
            head[0] = "  " + paint(label, f.severity, self.options.color) + head[0][2 + len(label):]
        fix = wrap(f"{_FIX}{safe(f.remediation or '-')}", self.width, _BODY, " " * (len(_BODY) + len(_FIX)))
        fix[0] = _BODY + paint(_FIX.rstrip(), "fix", self.options.color) + fix[0][len(_BODY) + len(_FIX) - 1:]
        return [*head, *wrap(clip(f.message, MAX_MESSAGE), self.width, _BODY), *fix]  # cut before layout

    def _campaigns(self, r: ClientResult) -> list[str]:
        """The campaigns table (the first CAMPAIGN_ROWS_SHOWN; the other formats list them all)."""
        if r.campaigns is None:
            return []
        from auditor.campaigns import (
            CAMPAIGN_ALIGN,
            CAMPAIGN_HEADERS,
            CAMPAIGN_ROWS_SHOWN,
            campaign_cells,
            campaigns_line,
        )

        lines = self._wrap(f"campaigns ({safe(campaigns_line(r))}):")
        rows = campaign_cells(r, CAMPAIGN_ROWS_SHOWN)
        if rows:
            lines += table(CAMPAIGN_HEADERS, rows, CAMPAIGN_ALIGN, self.width, "  ")
        more = len(r.campaigns) - len(rows)
        if more > 0:
            lines += self._wrap(f"... and {more} more campaign(s) (every one in the JSON, HTML and CSV reports)")
        return lines

    def _funnel(self, fun: dict[str, Any] | None) -> list[str]:
        if not fun:  # absent from results saved before the funnel view existed
            return []
        if not fun.get("available"):
            return self._wrap(f"funnel: not available: {safe(fun['reason'])}")
        from auditor.funnel import funnel_beside, funnel_caption, funnel_rows, funnel_unit

        headers = ["step", funnel_unit(fun), "from previous", "from first", "note"]
        beside = [line for b in funnel_beside(fun) for line in self._wrap(safe(b))]
        return [*self._wrap(f"funnel ({safe(funnel_caption(fun))}):"),
                *table(headers, funnel_rows(fun), ("left", "right", "right", "right", "left"), self.width, "  "),
                *beside, *self._wrap(fun["summary"])]

    def _hierarchy(self, hj: dict[str, Any] | None) -> list[str]:
        if not hj or not (hj.get("macro") or hj.get("events")):  # absent from results saved before it existed
            return []
        from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

        lines = self._wrap(f"micro hierarchy ({safe(macro_line(hj))}):")
        rows = hierarchy_rows(hj)
        if rows:
            lines += table(HIERARCHY_HEADERS, rows, ("left", "right", "right", "left", "left"), self.width, "  ")
        return lines

    def end(self, summary: Summary) -> None:
        rows = [[clip(x.name, MAX_NAME), "-" if x.score is None else str(x.score), x.grade_label]
                for x in summary.ranking]
        counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
        ranking = [] if self.options.single else [  # one client has nothing to be ranked against
            "", "Clients, worst first", *table(["client", "score", "grade"], rows, ("left", "right", "left"),
                                                self.width)]
        self._lines([*ranking, "",
                     *wrap(f"{summary.clients} client(s), {summary.errored} errored; findings: {counts or 'none'}",
                           self.width, "", "  ")])
