"""The appendix "About these checks" of the HTML, PDF and Markdown reports: for each rule with a finding in the
document, its title, why it matters and how it is fixed, from the rule's own metadata (the text of `audit explain`
and docs/rules.md, in the client-facing wording of auditor.outputs.wording). A finding's rule links to its entry
(`#rule-<id>`, auditor.outputs.options.rule_anchor), so the links of a report work wherever the file goes: no link
points at a file the reader does not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditor.outputs.options import rule_anchor
from auditor.outputs.wording import client_text
from auditor.result import ClientResult

APPENDIX_TITLE = "About these checks"
APPENDIX_ID = "about-checks"


@dataclass(frozen=True, slots=True)
class RuleNote:
    """One rule of the appendix."""

    id: str
    anchor: str  # the id of its entry: rule-<id>
    title: str
    why: str  # why it matters
    fix: str  # how to fix
    url: str | None  # its documentation online, when the config's report.docs_url made help_url absolute


class RuleNotes:
    """The rules a document's findings name, collected client by client as the document is rendered."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}  # rule id -> (title as the result recorded it, help_url)

    def add(self, r: ClientResult) -> None:
        titles = {x.id: x.title for x in r.rules if x.title}
        for f in r.findings:
            if f.rule not in self.seen:
                self.seen[f.rule] = (titles.get(f.rule, ""), f.help_url)

    def notes(self) -> list[RuleNote]:
        return rule_notes(self.seen.items())


def rule_notes(rules: Iterable[tuple[str, tuple[str, str]]]) -> list[RuleNote]:
    """Each rule's entry, by id: its metadata from the installed rules; a rule this installation does not know (a
    saved result of a plugin rule) keeps the title its result recorded and says so."""
    from auditor.engine import registry

    known = registry()
    out = []
    for rid, (title, url) in sorted(rules):
        rule = known.get(rid)
        link = url if url.startswith(("https://", "http://")) else None
        if rule is None:
            out.append(RuleNote(rid, rule_anchor(rid), title or rid, "", "", link))
            continue
        out.append(RuleNote(rid, rule_anchor(rid), rule.title, client_text(" ".join(rule.rationale.split())),
                            client_text(" ".join(rule.remediation.split())), link))
    return out
