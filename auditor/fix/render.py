"""A plan as people read it: the terminal diff and the Markdown beside the JSON."""

from __future__ import annotations

from auditor.fix.model import FIXES, GOOGLE_ADS, Change, ClientPlan, Plan, show
from auditor.text import printable

_WHERE = {GOOGLE_ADS: "Google Ads", "ga4_admin": "GA4"}


def _score(cp: ClientPlan) -> str:
    if cp.score_now is None:
        return "not audited"
    return f"score {cp.score_now} ({cp.grade_now}) -> {cp.score_after} ({cp.grade_after})"


def change_line(c: Change) -> str:
    rules = ", ".join(c.rules)
    alone = f"; alone: score {c.score_after}" if c.score_after is not None else ""
    if c.fix == "key_event":
        verb = f"unmark key event {c.name}" if c.after is None else f"mark {c.name} as a key event again"
        return f"{_WHERE[c.api]} {verb} ({show(c.now if c.after is None else c.after)}) [{rules or 'undo'}{alone}]"
    return f"{_WHERE[c.api]} '{c.name}' {c.field}: {show(c.now)} -> {show(c.after)} [{rules or 'undo'}{alone}]"


def terminal(plan: Plan) -> str:
    lines: list[str] = []
    for cp in plan.clients:
        lines.append(printable(f"== {cp.name}: {_score(cp)}; {len(cp.changes)} change(s), {len(cp.manual)} manual"))
        for e in cp.errors:
            lines.append(printable(f"  ! {e}"))
        for c in cp.changes:
            lines.append(printable(f"  ~ {change_line(c)}"))
        for m in cp.manual:
            lines.append(printable(f"  . manual {m.rule} ({m.severity}): {m.why}"))
        if cp.raised:
            lines.append(printable("  + the changes would raise: " + ", ".join(r.rule for r in cp.raised)))
    total = sum(len(c.changes) for c in plan.clients)
    lines.append(f"{total} change(s) for {sum(1 for c in plan.clients if c.changes)} client(s); nothing is changed "
                 "until `audit fix --apply`")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return printable(text).replace("|", "\\|").replace("\n", " ")


def markdown(plan: Plan) -> str:
    out = [f"# Fix {'plan' if plan.kind == 'plan' else 'undo plan'}", "",
           f"Generated {plan.generated_at} from {plan.source or 'live data'}. Nothing changes until "
           "`audit fix --apply` runs on the JSON plan beside this file.", ""]
    for cp in plan.clients:
        out += [f"## {_md(cp.name)}", "", f"{_md(_score(cp))}.", ""]
        for e in cp.errors:
            out.append(f"- error: {_md(e)}")
        if cp.changes:
            out += ["| where | resource | field | now | after | resolves | score alone |",
                    "| --- | --- | --- | --- | --- | --- | --- |"]
            for c in cp.changes:
                out.append(f"| {_WHERE[c.api]} | {_md(c.name)} (`{c.resource}`) | `{c.field}` | {_md(show(c.now))} | "
                           f"{_md(show(c.after))} | {_md(', '.join(c.rules) or 'undo')} | "
                           f"{'' if c.score_after is None else c.score_after} |")
            out.append("")
        if cp.manual:
            out += ["Manual (not applied):", ""]
            for m in cp.manual:
                out.append(f"- **{_md(m.rule)}** ({m.severity}): {_md(m.message)}. Fix: {_md(m.fix)} ({_md(m.why)})")
            out.append("")
    out += ["Fixes the auditor makes: " + "; ".join(f"`{k}`: {f.what}" for k, f in FIXES.items()) + ".", ""]
    return "\n".join(out)
