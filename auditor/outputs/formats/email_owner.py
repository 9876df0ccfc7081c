"""An account owner's e-mail (plain text and HTML): three lines first (the clients and their score, what got worse,
what to fix first), then for each client its score and trend, what got worse (only when something did), what was
resolved, and every other open finding. Each finding is listed once: a new finding under "What got worse" with its
fix, the others under "Still open".

A funnel drop (a funnel-step-drop finding: a funnel step, a key micro or a conversion that fell or went silent
since the client's earlier runs) is what an owner must read first: the e-mail then opens with it, a line above the
three and a block above every client, each drop listed there once, with its step, earlier and current rate and
fix; the Subject says so too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.business_model import profile_label
from auditor.diff import changes_line
from auditor.outputs.digest import Fix, fix_first
from auditor.outputs.formats.email_env import (
    TrendCell,
    gist,
    html_env,
    signed,
    subject,
    text_env,
    trend_cells,
    trend_text,
)
from auditor.outputs.wording import client_text
from auditor.result import SEVERITIES, ClientResult, Finding, FindingRef, Header

FUNNEL_DROP = "funnel-step-drop"  # the rule whose findings lead the e-mail

if TYPE_CHECKING:
    from auditor.config import EmailSettings
    from auditor.outputs.options import Branding


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """One rule's findings in an e-mail: listed under the rule's title, the worst rule first."""

    rule: str
    title: str
    severity: str  # its worst finding's
    findings: list[Finding]


def rule_groups(r: ClientResult, findings: list[Finding]) -> list[RuleGroup]:
    """`findings` under their rules' titles: the rule with the worst finding first (then the most findings, then
    by id), each rule's findings worst first as the result orders them."""
    from auditor.outputs.digest import title_of

    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    groups = [RuleGroup(rule, title_of(r, rule), min((f.severity for f in fs), key=SEVERITIES.index),
                        sorted(fs, key=lambda f: SEVERITIES.index(f.severity)))
              for rule, fs in by_rule.items()]
    return sorted(groups, key=lambda g: (SEVERITIES.index(g.severity), -len(g.findings), g.rule))


@dataclass(slots=True)
class OwnerClient:
    """One client of the e-mail, split the way it is read."""

    result: ClientResult
    since: str = ""  # date of the previous complete run ("" on a first audit or without history)
    worse: bool = False
    drop: str = ""  # "−15 (70 → 55)" when the score dropped
    new: list[Finding] = field(default_factory=list)  # new since the previous run, with their fix
    resolved: list[FindingRef] = field(default_factory=list)
    open: list[Finding] = field(default_factory=list)  # every other open finding
    drops: list[Finding] = field(default_factory=list)  # funnel drops: listed first, not under new or open
    new_all: list[Finding] = field(default_factory=list)  # every new finding, funnel drops included
    trend: list[TrendCell] = field(default_factory=list)
    trend_text: str = ""
    changes_line: str = ""

    @property
    def new_groups(self) -> list[RuleGroup]:
        return rule_groups(self.result, self.new)

    @property
    def open_groups(self) -> list[RuleGroup]:
        return rule_groups(self.result, self.open)

    @classmethod
    def of(cls, r: ClientResult) -> OwnerClient:
        ch = r.changes
        v = cls(r)
        if ch is not None and ch.previous is not None:  # a first audit is said once, in the three lines
            v.changes_line = changes_line(ch)
            v.since = str(ch.previous.generated_at or "")[:10] if ch.previous else ""
            if len(ch.trend) > 1:
                v.trend, v.trend_text = trend_cells(ch.trend), trend_text(ch.trend)
        new_fps = {f.fingerprint for f in ch.new} if ch and ch.previous else set()
        active = r.active
        v.drops = funnel_drops(active)
        listed = [f for f in active if f.rule != FUNNEL_DROP]
        v.new_all = [f for f in active if f.fingerprint in new_fps]
        v.new = [f for f in listed if f.fingerprint in new_fps]
        v.open = [f for f in listed if f.fingerprint not in new_fps]
        if ch is not None and ch.previous is not None:
            v.resolved = list(ch.resolved)
            if ch.score_delta is not None and ch.score_delta < 0:
                v.drop = f"{signed(ch.score_delta)} ({ch.previous.score} \u2192 {r.score})"
            v.worse = bool(v.new_all or v.drop)
        return v


def funnel_drops(findings: list[Finding]) -> list[Finding]:
    """The funnel-step-drop findings among `findings`: a funnel step's rate first (what "funnel drop" says
    best), then a key micro's or a conversion's volume, each in the findings' order."""
    drops = [f for f in findings if f.rule == FUNNEL_DROP]
    return sorted(drops, key=lambda f: not _step_drop(f))


def _step_drop(f: Finding) -> bool:
    """A drop of a funnel step's rate (the rule's words), rather than of one event's or action's volume."""
    return f.message.startswith("funnel step ") or any(x.startswith("funnel:") for x in f.resources)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _severities(findings: list[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def _score(r: ClientResult) -> str:
    if r.score is None:
        return "not audited"
    partial = f", {r.selection.label}" if r.partial and r.selection else ""
    return f"{r.score}/100 ({r.grade}{partial})"


def _change(v: OwnerClient) -> str:
    ch = v.result.changes
    if ch is None:
        return ""
    if ch.previous is None:
        return "first audit"
    if ch.score_delta is None:
        return f"not comparable with {v.since}"
    return f"unchanged since {v.since}" if ch.score_delta == 0 else f"{signed(ch.score_delta)} since {v.since}"


def best_fix(clients: list[OwnerClient]) -> tuple[OwnerClient, Fix] | None:
    """The fix worth the most points among the clients (the worse client first on a tie)."""
    found = [(v, fx) for v in clients for fx in fix_first(v.result, 1)]
    return max(found, key=lambda x: x[1].points, default=None)


def drop_line(clients: list[OwnerClient]) -> str | None:
    """'Funnel drop: funnel step add_to_cart → begin_checkout: 21.0% of ... down 45% (threshold 30%).': the first
    drop in full (the step, earlier and current), how many more there are; None without a drop."""
    drops = [(v, f) for v in clients for f in v.drops]
    if not drops:
        return None
    v, f = drops[0]
    who = "" if len(clients) == 1 else f"{v.result.name}: "
    more = f" (and {len(drops) - 1} more below)" if len(drops) > 1 else ""
    return f"Funnel drop: {who}{f.message}{more}."


def headline(clients: list[OwnerClient]) -> list[str]:
    """Three lines: the clients and their score, what got worse, what to fix first; led by a funnel drop's line
    when there is one."""
    one = len(clients) == 1
    if one:
        v = clients[0]
        change = _change(v)
        lines = [f"{v.result.name}: {'score ' if v.result.score is not None else ''}{_score(v.result)}"
                 + (f", {change}" if change else "") + "."]
    elif len(clients) <= 3:
        lines = [f"{len(clients)} clients: " + "; ".join(
            f"{v.result.name} {_score(v.result)}" + (f", {_change(v)}" if _change(v) else "") for v in clients) + "."]
    else:
        scored = [v.result.score for v in clients if v.result.score is not None]
        avg = f", average {sum(scored) / len(scored):.0f}" if scored else ""
        worst = clients[0].result
        lines = [f"{len(clients)} clients, lowest {worst.name} {_score(worst)}{avg}."]
    worse = [v for v in clients if v.worse]
    compared = [v for v in clients if v.since]
    if worse:
        def what(v: OwnerClient) -> str:
            parts = [f"score {v.drop}"] if v.drop else []
            if v.new_all:
                parts.append(f"{_count(len(v.new_all), 'new finding')} ({_severities(v.new_all)})")
            return " and ".join(parts)

        lines.append("Got worse: " + ("; ".join(f"{v.result.name}: {what(v)}" for v in worse) if not one
                                      else what(worse[0])) + ".")
    elif compared:
        resolved = sum(len(v.resolved) for v in clients)
        since = f" since {compared[0].since}" if one else " since the last run"
        lines.append(f"Nothing got worse{since}" + (f"; {_count(resolved, 'finding')} resolved" if resolved else "")
                     + ".")
    elif any(v.result.changes is not None for v in clients):
        lines.append("First audit: nothing to compare with yet.")
    fix = best_fix(clients)
    if fix is not None:
        v, fx = fix
        who = "" if one else f"{v.result.name}: "
        fix = client_text(fx.finding.remediation, fx.finding.subjects)  # names, not resource paths
        lines.append(f"Fix first: {who}{fx.finding.rule} ({fx.gain}): {gist(fix)}")
    elif any(v.result.score is not None for v in clients):
        lines.append("Nothing to fix first: no open finding costs points.")
    drop = drop_line(clients)
    return [drop, *lines] if drop else lines


def owner_context(clients: list[ClientResult], header: Header, branding: Branding | None = None) -> dict[str, Any]:
    views = [OwnerClient.of(c) for c in clients]
    title = (f"Conversion audit: {clients[0].name}" if len(clients) == 1
             else f"Conversion audit: {len(clients)} clients")
    drops = [(v.result.name, f) for v in views for f in v.drops]
    from auditor.outputs.formats.pdf import find_engine

    return {"title": title, "clients": views, "header": header, "lines": headline(views), "drops": drops,
            "named_drops": len(views) > 1, "agency": branding.agency_name if branding else None,
            "profile_label": profile_label, "pdf": find_engine() is not None}


def render_owner(clients: list[ClientResult], header: Header, branding: Branding | None = None) -> tuple[str, str]:
    """(plain text, HTML) of one owner's clients (full results, with `changes` when history is on), worst
    first as given."""
    ctx = owner_context(clients, header, branding)
    return (text_env().get_template("email_owner.txt.j2").render(ctx),
            html_env().get_template("email_owner.html.j2").render(ctx))


def owner_subject(settings: EmailSettings | None, clients: list[ClientResult]) -> str:
    new = sum(len(c.changes.new) for c in clients if c.changes)
    news = f", {new} new finding(s)" if new else ""
    dropped = [c for c in clients if funnel_drops(c.active)]
    if len(clients) == 1:
        c = clients[0]
        score = "not audited" if c.score is None else f"{c.score}/100 ({c.grade}{', partial' if c.partial else ''})"
        return subject(settings, f"{c.name}: {'funnel drop; ' if dropped else ''}{score}{news}")
    worst = min(clients, key=lambda c: (c.score is not None, c.score or 0))
    score = "not audited" if worst.score is None else f"{worst.score}/100"
    drop = f"funnel drop at {dropped[0].name}{' and more' if len(dropped) > 1 else ''}; " if dropped else ""
    return subject(settings, f"{drop}{len(clients)} clients{news}; lowest {worst.name} {score}")

