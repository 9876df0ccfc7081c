"""The agency summary: one small typed row per client and the document written as summary.json (and as a shard's
shard-K-of-N.json). `to_json` keeps the keys summary.json always had (plus `funnel_drops`, read as 0 from older
files); `from_json` reads them back for `audit merge`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.result import JSON, SEVERITIES, ClientResult, Header, Summary, SummaryRow

FUNNEL_DROP = "funnel-step-drop"  # its findings lead the summary's lines


@dataclass(slots=True)
class AgencyRow(SummaryRow):
    """What the run keeps of a client (about 1 KB): its summary row, what changed since its previous complete run,
    and where its reports are (relative to the output folder). No addresses."""

    previous_score: int | None = None
    delta: int | None = None  # score change since the previous complete run
    new: int = 0
    resolved: int = 0
    persisting: int = 0
    changed: bool = True  # a first audit counts as a change
    trend: list[int | None] = field(default_factory=list)  # scores of the last runs, oldest first, this one last
    suppressed: int = 0
    funnel_drops: int = 0  # open funnel-step-drop findings: a step or conversion that fell since earlier runs
    json: str | None = None  # clients/<stem>.json; None when it could not be written
    html: str | None = None

    @property
    def got_worse(self) -> bool:
        """Something got worse for this client since its previous run: a new finding, or a lower score."""
        return self.new > 0 or (self.delta or 0) < 0

    @property
    def first_run(self) -> bool:
        """No earlier scored result to compare with (or no history kept)."""
        return self.previous_score is None and self.delta is None

    @classmethod
    def of(cls, r: ClientResult, out_dir: Path, paths: Mapping[str, Path]) -> AgencyRow:
        ch = r.changes
        prev = ch.previous if ch else None
        return cls(
            r.name, r.status, r.score, r.grade, r.coverage, dict(r.counts), len(r.errors),
            partial=r.selection.text if r.partial and r.selection else None,
            previous_score=prev.score if prev else None, delta=ch.score_delta if ch else None,
            new=len(ch.new) if ch else 0, resolved=len(ch.resolved) if ch else 0,
            persisting=len(ch.persisting) if ch else 0, changed=True if ch is None else ch.changed,
            trend=[p.score for p in ch.trend] if ch and ch.trend else [r.score],
            suppressed=sum(1 for f in r.findings if f.suppressed),
            funnel_drops=sum(1 for f in r.active if f.rule == FUNNEL_DROP),
            json=os.path.relpath(paths["json"], out_dir) if "json" in paths else None,
            html=os.path.relpath(paths["html"], out_dir) if "html" in paths else None,
        )

    def to_json(self) -> JSON:
        return {"name": self.name, "status": self.status, "score": self.score, "grade": self.grade,
                "coverage": self.coverage, "counts": dict(self.counts), "errors": self.errors,
                "previous_score": self.previous_score, "delta": self.delta, "new": self.new,
                "resolved": self.resolved, "persisting": self.persisting, "changed": self.changed,
                "trend": list(self.trend), "suppressed": self.suppressed, "funnel_drops": self.funnel_drops,
                "json": self.json, "html": self.html, **({"partial": self.partial} if self.partial else {})}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgencyRow:
        counts = d.get("counts") or {}
        return cls(
            str(d["name"]), str(d["status"]), d.get("score"), d.get("grade"), int(d.get("coverage") or 0),
            {s: int(counts.get(s, 0)) for s in SEVERITIES}, int(d.get("errors") or 0),
            previous_score=d.get("previous_score"), delta=d.get("delta"), new=int(d.get("new") or 0),
            resolved=int(d.get("resolved") or 0), persisting=int(d.get("persisting") or 0),
            changed=bool(d.get("changed", True)), trend=list(d.get("trend") or []),
            suppressed=int(d.get("suppressed") or 0), funnel_drops=int(d.get("funnel_drops") or 0),
            json=d.get("json"), html=d.get("html"), partial=d.get("partial") or None,
        )


def rank(rows: list[AgencyRow]) -> list[AgencyRow]:
    """Worst first: not audited, then lowest score, then the biggest drop, then by name."""
    return sorted(rows, key=lambda r: (r.score is not None, r.score or 0, r.delta or 0, r.name))


@dataclass(slots=True)
class AgencySummary:
    """The run's totals: the summary of `audit` without its ranking (the ranked rows are the document's
    clients), plus what changed since the previous run."""

    clients: int
    errored: int
    incomplete: int
    average_score: float | None
    counts: dict[str, int]
    worse: int = 0  # clients that got worse: a new finding or a lower score (AgencyRow.got_worse)
    better: int = 0
    new: int = 0  # new findings, all clients
    resolved: int = 0
    changed: int = 0  # clients with any change (a first audit counts)

    @classmethod
    def of(cls, rows: list[AgencyRow]) -> AgencySummary:
        s = Summary.of(list(rows))
        return cls(s.clients, s.errored, s.incomplete, s.average_score, s.counts,
                   worse=sum(1 for r in rows if r.got_worse), better=sum(1 for r in rows if (r.delta or 0) > 0),
                   new=sum(r.new for r in rows), resolved=sum(r.resolved for r in rows),
                   changed=sum(1 for r in rows if r.changed))

    def to_json(self) -> JSON:
        return {"clients": self.clients, "errored": self.errored, "incomplete": self.incomplete,
                "average_score": self.average_score, "counts": dict(self.counts), "worse": self.worse,
                "better": self.better, "new": self.new, "resolved": self.resolved, "changed": self.changed}


@dataclass(slots=True)
class AdsBudget:
    """The run's Google Ads operation budget (`ads.daily_operations`, a shard's share of it), the operations it
    planned at most, and the clients it deferred to the next run (not errors: not audited this time)."""

    daily_operations: int
    planned: int
    deferred: list[str] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {"daily_operations": self.daily_operations, "planned_operations": self.planned,
                "deferred": list(self.deferred)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AdsBudget:
        return cls(int(d.get("daily_operations") or 0), int(d.get("planned_operations") or 0),
                   [str(n) for n in d.get("deferred") or ()])


@dataclass(slots=True)
class RunInfo:
    """How the summary was made: a shard of a run, a merge of shards, or a whole run."""

    shard: str | None = None  # "K/N" in a shard file
    history: bool | None = None  # compared with a history (None: not known, a merge of older shard files)
    formats: list[str] = field(default_factory=list)
    merged_shards: int | None = None  # set by `audit merge`
    ads_budget: AdsBudget | None = None  # a live run with `ads.daily_operations`

    @property
    def deferred(self) -> list[str]:
        return self.ads_budget.deferred if self.ads_budget else []

    def to_json(self) -> JSON:
        out: JSON = {"shard": self.shard}
        if self.merged_shards is not None:
            out["merged_shards"] = self.merged_shards
        out.update({"history": self.history, "formats": list(self.formats)})
        if self.ads_budget is not None:
            out["ads_budget"] = self.ads_budget.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunInfo:
        budget = d.get("ads_budget")
        return cls(d.get("shard"), d.get("history"), list(d.get("formats") or []), d.get("merged_shards"),
                   AdsBudget.from_json(budget) if isinstance(budget, Mapping) else None)


@dataclass(slots=True)
class SummaryDocument:
    """summary.json: the run's header, how it was made, its totals and every client worst first."""

    header: Header
    run: RunInfo
    clients: list[AgencyRow]
    summary: AgencySummary = field(init=False)

    def __post_init__(self) -> None:
        self.clients = rank(self.clients)
        self.summary = AgencySummary.of(self.clients)

    @property
    def generated_at(self) -> str:
        return self.header.generated_at

    def to_json(self) -> JSON:
        head = self.header.to_json()
        head.pop("schema_version", None)  # the summary's keys are those it always had; the version is the result's
        return {**head, "run": self.run.to_json(), "summary": self.summary.to_json(),
                "clients": [r.to_json() for r in self.clients]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SummaryDocument:
        return cls(Header.from_json(d), RunInfo.from_json(d.get("run") or {}),
                   [AgencyRow.from_json(r) for r in d["clients"]])
