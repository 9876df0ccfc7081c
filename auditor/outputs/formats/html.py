"""HTML: a self-contained page for a client or an agency; Jinja templates in auditor/outputs/templates.

The page is responsive (no horizontal scroll on a phone, findings as cards, tables stacked) and prints to A4
(`@media print`): the PDF format prints this same page."""

from __future__ import annotations

from auditor.engine import SEVERITIES
from auditor.outputs.base import Format
from auditor.result import ClientResult, Header, Summary


class HtmlFormat(Format):
    """A self-contained page; every API-sourced string is escaped by Jinja's autoescaping and made printable by
    the environment's finalize hook (auditor/outputs/html_env.py)."""

    name = "html"
    expand = False  # <details> (the passed checks) open: paper cannot be clicked (set by the PDF format)

    def begin(self, header: Header) -> None:
        super().begin(header)
        from auditor.outputs.html_env import environment

        self.env = environment()
        self.out.write(self.env.get_template("head.html.j2").render(header=header, branding=self.options.branding))

    def client(self, r: ClientResult) -> None:
        self.out.write(self.env.get_template("client.html.j2").render(c=r, severities=SEVERITIES,
                                                                      expand=self.expand))

    def end(self, summary: Summary) -> None:
        self.out.write(self.env.get_template("foot.html.j2").render(summary=summary, header=self.header,
                                                                    single=self.options.single))
