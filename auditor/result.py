"""The typed result of an audit, from `audit_raw` to every format, channel, suppression and diff.

One serialisation: `to_json()` gives the canonical JSON (key order fixed, documented in docs/result.schema.json),
`from_json()` reads it back, from this version or an older one (`schema_version` absent = 1: the fields added
since take their defaults). Reading a document from disk goes through `auditor.result_schema.load_document`,
which validates it first so a damaged or foreign file is refused with the path of the offending field.

`funnel` and `hierarchy` stay JSON objects here: they are views built by `auditor.funnel` and
`auditor.hierarchy`, read only through those modules' display helpers, and their shape is in the schema. So do
`vitals` (`auditor.vitals.to_json`: what this run measured, which later runs of an agency history compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 2
SEVERITIES = ("critical", "high", "medium", "low", "info")
JSON = dict[str, Any]


@dataclass(slots=True)
class Suppression:
    reason: str
    expires: str | None = None

    def to_json(self) -> JSON:
        return {"reason": self.reason, "expires": self.expires}


@dataclass(slots=True)
class Subject:
    """What a finding is about, for a reader: the action's or event's name first, its API resource second, and
    the screen where the fix is made when Google's console has a stable address for it."""

    resource: str
    name: str = ""
    kind: str = ""  # conversion_action | key_event | event | property | data_retention | campaign | ""
    url: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.resource

    def to_json(self) -> JSON:
        return {"resource": self.resource, "name": self.name, "kind": self.kind, "url": self.url}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Subject:
        return cls(d["resource"], d.get("name") or "", d.get("kind") or "", d.get("url"))


@dataclass(slots=True)
class Finding:
    rule: str
    severity: str
    category: str
    message: str
    resources: tuple[str, ...]
    remediation: str
    fingerprint: str
    actionable: bool = True
    evidence: JSON | None = None  # auditor.evidence.Evidence.to_json()
    suppressed: bool = False
    suppression: Suppression | None = None
    help_url: str = ""
    subjects: tuple[Subject, ...] = ()

    def to_json(self) -> JSON:
        out: JSON = {
            "rule": self.rule, "severity": self.severity, "category": self.category, "message": self.message,
            "resources": list(self.resources), "subjects": [s.to_json() for s in self.subjects],
            "remediation": self.remediation, "help_url": self.help_url, "actionable": self.actionable,
            "evidence": self.evidence, "fingerprint": self.fingerprint, "suppressed": self.suppressed,
        }
        if self.suppression is not None:
            out["suppression"] = self.suppression.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Finding:
        sup = d.get("suppression")
        return cls(
            rule=d["rule"], severity=d["severity"], category=d.get("category") or "", message=d["message"],
            resources=tuple(d.get("resources") or ()), remediation=d.get("remediation") or "",
            fingerprint=d["fingerprint"], actionable=d.get("actionable", True), evidence=d.get("evidence"),
            suppressed=bool(d.get("suppressed")),
            suppression=Suppression(sup["reason"], sup.get("expires")) if sup else None,
            help_url=d.get("help_url") or "",
            subjects=tuple(Subject.from_json(s) for s in d.get("subjects") or ()),
        )


@dataclass(slots=True)
class RuleResult:
    id: str
    category: str
    status: str  # pass | fail | not_run | not_applicable | error
    reason: str = ""
    title: str = ""

    @property
    def ran(self) -> bool:
        return self.status in ("pass", "fail")

    def to_json(self) -> JSON:
        return {"id": self.id, "category": self.category, "status": self.status, "reason": self.reason,
                "title": self.title}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RuleResult:
        return cls(d["id"], d.get("category") or "", d["status"], d.get("reason") or "", d.get("title") or "")


@dataclass(slots=True)
class Deduction:
    """One failed rule's share of the score: its worst unsuppressed finding's deduction."""

    rule: str
    severity: str
    points: int
    category: str = ""

    def to_json(self) -> JSON:
        return {"rule": self.rule, "severity": self.severity, "points": self.points, "category": self.category}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Deduction:
        return cls(d["rule"], d["severity"], int(d["points"]), d.get("category") or "")


@dataclass(slots=True)
class Source:
    """The GA4 property (`id` = properties/N) or Ads customer (`id` = 10 digits) a client was audited from."""

    id: str
    display_name: str | None = None
    currency: str | None = None


@dataclass(slots=True)
class Sources:
    ga4: Source | None = None
    ads: Source | None = None

    def to_json(self) -> JSON:
        return {
            "ga4": None if self.ga4 is None else {"property": self.ga4.id, "display_name": self.ga4.display_name,
                                                  "currency": self.ga4.currency},
            "ads": None if self.ads is None else {"customer": self.ads.id, "display_name": self.ads.display_name,
                                                  "currency": self.ads.currency},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Sources:
        d = d or {}
        g, a = d.get("ga4"), d.get("ads")
        return cls(None if not g else Source(g["property"], g.get("display_name"), g.get("currency")),
                   None if not a else Source(a["customer"], a.get("display_name"), a.get("currency")))


@dataclass(slots=True)
class FindingRef:
    """A finding as the comparison with an earlier run keeps it."""

    fingerprint: str
    rule: str
    severity: str
    message: str
    resources: tuple[str, ...] = ()

    def to_json(self) -> JSON:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "severity": self.severity,
                "message": self.message, "resources": list(self.resources)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FindingRef:
        return cls(d["fingerprint"], d["rule"], d["severity"], d["message"], tuple(d.get("resources") or ()))

    @classmethod
    def of(cls, f: Finding) -> FindingRef:
        return cls(f.fingerprint, f.rule, f.severity, f.message, f.resources)


@dataclass(slots=True)
class TrendPoint:
    generated_at: str | None
    score: int | None
    grade: str | None

    def to_json(self) -> JSON:
        return {"generated_at": self.generated_at, "score": self.score, "grade": self.grade}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TrendPoint:
        return cls(d.get("generated_at"), d.get("score"), d.get("grade"))


@dataclass(slots=True)
class PreviousRun:
    generated_at: str | None
    score: int | None
    grade: str | None
    status: str

    def to_json(self) -> JSON:
        return {"generated_at": self.generated_at, "score": self.score, "grade": self.grade, "status": self.status}


@dataclass(slots=True)
class Changes:
    """What changed since the client's previous complete run (agency runs with history)."""

    previous: PreviousRun | None = None
    score_delta: int | None = None
    new: list[FindingRef] = field(default_factory=list)
    resolved: list[FindingRef] = field(default_factory=list)
    persisting: list[FindingRef] = field(default_factory=list)
    not_checked: int = 0
    trend: list[TrendPoint] = field(default_factory=list)
    changed: bool = True
    # the deductions' sums before and now (the score is 100 minus them, floored at 0: under the floor a real fix
    # changes them, not the score); None when either result was not scored
    deductions_before: int | None = None
    deductions_now: int | None = None

    def to_json(self) -> JSON:
        out: JSON = {
            "previous": None if self.previous is None else self.previous.to_json(),
            "score_delta": self.score_delta, "new": [f.to_json() for f in self.new],
            "resolved": [f.to_json() for f in self.resolved], "persisting": [f.to_json() for f in self.persisting],
            "not_checked": self.not_checked, "trend": [t.to_json() for t in self.trend], "changed": self.changed,
        }
        if self.deductions_before is not None and self.deductions_now is not None:
            out["deductions"] = {"previous": self.deductions_before, "current": self.deductions_now}
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Changes:
        p = d.get("previous")
        return cls(
            previous=PreviousRun(p.get("generated_at"), p.get("score"), p.get("grade"), p.get("status") or "ok")
            if p else None,
            score_delta=d.get("score_delta"),
            new=[FindingRef.from_json(f) for f in d.get("new") or ()],
            resolved=[FindingRef.from_json(f) for f in d.get("resolved") or ()],
            persisting=[FindingRef.from_json(f) for f in d.get("persisting") or ()],
            not_checked=int(d.get("not_checked") or 0),
            trend=[TrendPoint.from_json(t) for t in d.get("trend") or ()],
            changed=bool(d.get("changed", True)),
            deductions_before=(d.get("deductions") or {}).get("previous"),
            deductions_now=(d.get("deductions") or {}).get("current"),
        )


@dataclass(slots=True)
class CampaignRow:
    """One Google Ads campaign as the report shows it (built by `auditor.campaigns.campaign_rows`)."""

    name: str
    resource: str  # customers/N/campaigns/M
    status: str  # ENABLED | PAUSED, as the API names it
    channel: str  # advertising_channel_type: SEARCH, PERFORMANCE_MAX...
    strategy: str  # bidding_strategy_type as the API names it: TARGET_CPA, MAXIMIZE_CONVERSIONS, MANUAL_CPC...
    target_cpa: float | None = None  # in the account's currency, when the strategy sets one
    target_roas: float | None = None  # a percentage (400.0 = 400%), when the strategy sets one
    goal_level: str | None = None  # account | campaign | custom; None: not collected
    custom_goal: str | None = None  # the custom goal's name (goal_level custom)
    goals: list[str] | None = None  # what it bids on (categories, "CATEGORY (ORIGIN)", action names); None: unknown
    conversions: float = 0.0  # 30 days
    threshold: float | None = None  # the Smart Bidding volume bar it is measured against; None: manual bidding
    volume: str | None = None  # under | over (the threshold); None: a strategy that does not bid on conversions

    def to_json(self) -> JSON:
        return {"name": self.name, "resource": self.resource, "status": self.status, "channel": self.channel,
                "strategy": self.strategy, "target_cpa": self.target_cpa, "target_roas": self.target_roas,
                "goal_level": self.goal_level, "custom_goal": self.custom_goal,
                "goals": None if self.goals is None else list(self.goals), "conversions": self.conversions,
                "threshold": self.threshold, "volume": self.volume}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CampaignRow:
        goals = d.get("goals")
        return cls(name=d.get("name") or "", resource=d["resource"], status=d.get("status") or "",
                   channel=d.get("channel") or "", strategy=d.get("strategy") or "",
                   target_cpa=d.get("target_cpa"), target_roas=d.get("target_roas"),
                   goal_level=d.get("goal_level"), custom_goal=d.get("custom_goal"),
                   goals=None if goals is None else [str(g) for g in goals],
                   conversions=d.get("conversions") or 0.0, threshold=d.get("threshold"), volume=d.get("volume"))


@dataclass(slots=True)
class Selection:
    """A partial audit: rules of the shipped ruleset this run left out (--select/--ignore, `select:`/`ignore:` of a
    config, or a config that disables rules). A result without one audited every rule the ruleset runs."""

    rules: int  # rules this run audited for the client
    of: int  # rules a full audit runs for the client (the shipped ruleset for its profile, plus any the config adds)
    left_out: list[str] = field(default_factory=list)  # the shipped ruleset's rules this run did not audit, by id
    select: list[str] = field(default_factory=list)  # --select / select: of the run, as given
    ignore: list[str] = field(default_factory=list)  # --ignore / ignore: of the run, as given
    disabled: list[str] = field(default_factory=list)  # rules the config disables (`rules: ID: enabled: false`)

    @property
    def label(self) -> str:
        """'partial score: 4 of 29 rules'."""
        return f"partial score: {self.rules} of {self.of} rules"

    @property
    def why(self) -> str:
        """'--select naming; disabled in the config: split-event-naming' (what left the rules out)."""
        parts = []
        if self.select:
            parts.append("selected: " + ", ".join(self.select))
        if self.ignore:
            parts.append("ignored: " + ", ".join(self.ignore))
        if self.disabled:
            parts.append("disabled in the config: " + ", ".join(self.disabled))
        return "; ".join(parts)

    @property
    def text(self) -> str:
        """'partial score: 4 of 29 rules (selected: naming)': what every format says beside a partial score."""
        return self.label + (f" ({self.why})" if self.why else "")

    def to_json(self) -> JSON:
        return {"rules": self.rules, "of": self.of, "left_out": list(self.left_out), "select": list(self.select),
                "ignore": list(self.ignore), "disabled": list(self.disabled)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Selection:
        return cls(int(d["rules"]), int(d["of"]), [str(x) for x in d.get("left_out") or ()],
                   [str(x) for x in d.get("select") or ()], [str(x) for x in d.get("ignore") or ()],
                   [str(x) for x in d.get("disabled") or ()])


@dataclass(slots=True)
class Score:
    """What `auditor.scoring.score_client` computes: recomputed whenever suppressions change a finding."""

    score: int | None
    grade: str | None
    coverage: int
    categories: dict[str, int]
    counts: dict[str, int]
    deductions: list[Deduction]


@dataclass(slots=True)
class ClientResult:
    name: str
    status: str  # ok | incomplete | error
    profile: str | None = None
    profile_source: str | None = None  # client | config | inferred | default
    profile_evidence: list[str] = field(default_factory=list)
    sources: Sources = field(default_factory=Sources)
    score: int | None = None
    grade: str | None = None
    coverage: int = 0
    selection: Selection | None = None  # set when the run left rules of the ruleset out: a partial score
    categories: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SEVERITIES})
    deductions: list[Deduction] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: list[RuleResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    funnel: JSON | None = None
    hierarchy: JSON | None = None
    campaigns: list[CampaignRow] | None = None  # None: campaigns not collected (or not audited)
    vitals: JSON | None = None  # auditor.vitals.to_json of this run's measure; None: not audited
    changes: Changes | None = None
    generated_at: str | None = None  # set only on results paired across documents (audit diff)

    @property
    def active(self) -> list[Finding]:
        """The findings that count: not suppressed."""
        return [f for f in self.findings if not f.suppressed]

    @property
    def audited(self) -> bool:
        return self.score is not None

    @property
    def partial(self) -> bool:
        """Scored on some of the ruleset's rules only: its score and grade are not those of a full audit."""
        return self.selection is not None and self.score is not None

    def rescore(self, score: Score) -> None:
        self.score, self.grade, self.coverage = score.score, score.grade, score.coverage
        self.categories, self.counts, self.deductions = score.categories, score.counts, score.deductions

    def to_json(self) -> JSON:
        out: JSON = {
            "name": self.name, "profile": self.profile, "profile_source": self.profile_source,
            "profile_evidence": list(self.profile_evidence), "status": self.status,
            "sources": self.sources.to_json(), "score": self.score, "grade": self.grade,
            "coverage": self.coverage, "categories": dict(self.categories), "counts": dict(self.counts),
            "deductions": [d.to_json() for d in self.deductions], "errors": list(self.errors),
            "warnings": list(self.warnings), "rules": [r.to_json() for r in self.rules],
            "findings": [f.to_json() for f in self.findings], "funnel": self.funnel, "hierarchy": self.hierarchy,
            "campaigns": None if self.campaigns is None else [c.to_json() for c in self.campaigns],
            "vitals": self.vitals,
        }
        if self.selection is not None:  # only a partial audit writes it: absent = every rule of the ruleset ran
            out["selection"] = self.selection.to_json()
        if self.changes is not None:
            out["changes"] = self.changes.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ClientResult:
        """A client of a validated document (schema 1 or 2)."""
        r = cls(
            name=d["name"], status=d["status"], profile=d.get("profile"), profile_source=d.get("profile_source"),
            profile_evidence=list(d.get("profile_evidence") or ()), sources=Sources.from_json(d.get("sources")),
            score=d.get("score"), grade=d.get("grade"), coverage=int(d.get("coverage") or 0),
            categories=dict(d.get("categories") or {}),
            counts={s: int((d.get("counts") or {}).get(s, 0)) for s in SEVERITIES},
            deductions=[Deduction.from_json(x) for x in d.get("deductions") or ()],
            errors=[str(e) for e in d.get("errors") or ()], warnings=[str(w) for w in d.get("warnings") or ()],
            rules=[RuleResult.from_json(x) for x in d.get("rules") or ()],
            findings=[Finding.from_json(x) for x in d.get("findings") or ()],
            funnel=d.get("funnel"), hierarchy=d.get("hierarchy"),
            campaigns=None if d.get("campaigns") is None else [CampaignRow.from_json(x) for x in d["campaigns"]],
            vitals=d.get("vitals"),
            changes=Changes.from_json(d["changes"]) if d.get("changes") else None,
            generated_at=d.get("generated_at"),
            selection=Selection.from_json(d["selection"]) if d.get("selection") else None,
        )
        if r.score is not None and "deductions" not in d:  # schema 1 did not carry the score's breakdown
            from auditor.scoring import score_client

            r.deductions = score_client(r.rules, r.findings).deductions
        return r


@dataclass(slots=True)
class Header:
    """The document's head: who wrote it, when, and the scoring it applied."""

    version: str
    generated_at: str
    formula: str
    deductions: dict[str, int]
    grades: dict[str, int]
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> JSON:
        return {"schema_version": self.schema_version, "tool": {"name": "auditor", "version": self.version},
                "generated_at": self.generated_at,
                "scoring": {"formula": self.formula, "deductions": dict(self.deductions),
                            "grades": dict(self.grades)}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Header:
        s = d.get("scoring") or {}
        return cls(version=(d.get("tool") or {}).get("version") or "", generated_at=d.get("generated_at") or "",
                   formula=s.get("formula") or "", deductions=dict(s.get("deductions") or {}),
                   grades=dict(s.get("grades") or {}), schema_version=int(d.get("schema_version") or 1))


@dataclass(slots=True)
class SummaryRow:
    """What the end-of-run summary keeps of a client: small, so runs of many clients stay flat in memory."""

    name: str
    status: str
    score: int | None
    grade: str | None
    coverage: int
    counts: dict[str, int]
    errors: int
    partial: str | None = None  # "partial score: 4 of 29 rules (selected: naming)" when rules were left out

    @classmethod
    def of(cls, r: ClientResult) -> SummaryRow:
        return cls(r.name, r.status, r.score, r.grade, r.coverage, dict(r.counts), len(r.errors),
                   partial=r.selection.text if r.partial and r.selection else None)


@dataclass(slots=True)
class Ranked:
    name: str
    score: int | None
    grade: str | None
    partial: bool = False  # scored on some of the ruleset's rules only (the client's `selection`)

    @property
    def grade_label(self) -> str:
        """'A', 'A (partial)', or 'error' for a client not audited."""
        return "error" if self.grade is None else f"{self.grade} (partial)" if self.partial else self.grade

    def to_json(self) -> JSON:
        out: JSON = {"name": self.name, "score": self.score, "grade": self.grade}
        if self.partial:
            out["partial"] = True
        return out


@dataclass(slots=True)
class Summary:
    clients: int
    errored: int
    incomplete: int
    average_score: float | None
    counts: dict[str, int]
    ranking: list[Ranked]

    def to_json(self) -> JSON:
        return {"clients": self.clients, "errored": self.errored, "incomplete": self.incomplete,
                "average_score": self.average_score, "counts": dict(self.counts),
                "ranking": [r.to_json() for r in self.ranking]}

    @classmethod
    def of(cls, rows: list[SummaryRow]) -> Summary:
        scored = [r.score for r in rows if r.score is not None]
        return cls(
            clients=len(rows), errored=sum(1 for r in rows if r.status == "error"),
            incomplete=sum(1 for r in rows if r.status == "incomplete"),
            average_score=round(sum(scored) / len(scored), 1) if scored else None,
            counts={s: sum(r.counts.get(s, 0) for r in rows) for s in SEVERITIES},
            ranking=[Ranked(r.name, r.score, r.grade, bool(r.partial))
                     for r in sorted(rows, key=lambda r: (r.score is not None, r.score or 0, r.name))],
        )
