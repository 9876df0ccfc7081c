"""The terminal view: one table of findings per client, then a ranking of every client."""

from __future__ import annotations

from auditor.business_model import profile_label
from auditor.outputs.base import Format
from auditor.outputs.escape import printable_lines
from auditor.outputs.wording import change_lines, score_line
from auditor.result import ClientResult, Summary
from auditor.text import printable


class TableFormat(Format):
    name = "table"

    """The terminal view: one table of findings per client, then a ranking of every client."""

    def _write(self, text: str) -> None:
        self.out.write(printable_lines(text))

    def client(self, r: ClientResult) -> None:
        from tabulate import tabulate

        p = printable
        w = self._write
        w(f"\n== {p(r.name)} [{p(profile_label(r))}]  {p(score_line(r))}\n")
        for line in change_lines(r):
            w(f"  {p(line)}\n")
        for e in r.errors:
            w(f"  error: {p(e)}\n")
        active = r.active
        if active:
            rows = [[p(f.severity).upper(), p(f.rule), p(f.message)
                     + ("" if f.actionable else " [not actionable]")] for f in active]
            w(tabulate(rows, headers=["severity", "rule", "finding"], tablefmt="simple",
                       maxcolwidths=[None, None, 90]) + "\n")
        elif r.score is not None:
            w("  no findings\n")
        not_run = [x for x in r.rules if x.status in ("not_run", "error")]
        for x in not_run:
            w(f"  not run: {p(x.id)}: {p(x.reason)}\n")
        suppressed = len(r.findings) - len(active)
        if suppressed:
            w(f"  ({suppressed} suppressed finding(s) not shown)\n")
        fun = r.funnel  # absent from results saved before the funnel view existed
        if fun and fun.get("available"):
            from auditor.funnel import funnel_caption, funnel_rows, funnel_unit

            w(f"  funnel ({p(funnel_caption(fun))}):\n")
            rows = [[p(x) for x in row] for row in funnel_rows(fun)]
            w(tabulate(rows, headers=["step", p(funnel_unit(fun)), "from previous", "from first", "note"],
                       tablefmt="simple", colalign=("left", "right", "right", "right", "left")) + "\n")
            w(f"  {p(fun['summary'])}\n")
        elif fun:
            w(f"  funnel: not available: {p(fun['reason'])}\n")
        hj = r.hierarchy  # absent from results saved before the hierarchy existed
        if hj and (hj.get("macro") or hj.get("events")):
            from auditor.hierarchy import HIERARCHY_HEADERS, hierarchy_rows, macro_line

            rows = [[p(x) for x in row] for row in hierarchy_rows(hj)]
            w(f"  micro hierarchy ({p(macro_line(hj))}):\n")
            if rows:
                w(tabulate(rows, headers=HIERARCHY_HEADERS, tablefmt="simple",
                           colalign=("left", "right", "right", "left", "left")) + "\n")

    def end(self, summary: Summary) -> None:
        from tabulate import tabulate

        rows = [[printable(x.name), "-" if x.score is None else x.score, printable(x.grade or "error")]
                for x in summary.ranking]
        self._write("\nClients, worst first\n" + tabulate(rows, headers=["client", "score", "grade"]) + "\n")
        counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
        self._write(f"{summary.clients} client(s), {summary.errored} errored; findings: {counts or 'none'}\n")
