"""HTML: a self-contained page for a client or an agency; Jinja templates in auditor/outputs/templates."""

from __future__ import annotations

from auditor.engine import SEVERITIES
from auditor.outputs.base import Format
from auditor.result import ClientResult, Header, Summary


class HtmlFormat(Format):
    """A self-contained page; every API-sourced string is escaped by Jinja's autoescaping and made printable by
    the environment's finalize hook (auditor/outputs/html_env.py)."""

    name = "html"

    def begin(self, header: Header) -> None:
        super().begin(header)
        from auditor.outputs.html_env import environment

        self.env = environment()
        self.out.write(self.env.get_template("head.html.j2").render(header=header))

    def client(self, r: ClientResult) -> None:
        self.out.write(self.env.get_template("client.html.j2").render(c=r, severities=SEVERITIES))

    def end(self, summary: Summary) -> None:
        self.out.write(self.env.get_template("foot.html.j2").render(summary=summary, header=self.header))
