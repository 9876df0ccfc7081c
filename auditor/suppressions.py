"""Acknowledged findings: a YAML file of suppressions applied to each client's JSON result before it is scored.

A suppression names a rule, a client and a resource (anchored globs for the last two) with a required reason,
an optional owner and an optional expiry date. A suppressed finding stays in the result, marked
``suppressed`` with the reason, and counts neither in the score nor in the exit code. An expired suppression
no longer applies (its finding counts again) and is warned about; so is one that matched nothing.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.config import line_of, read_yaml_mapping, validation_message
from auditor.errors import ConfigError, suggest
from auditor.result import ClientResult
from auditor.result import Suppression as FindingSuppression
from auditor.scoring import score_client


class Suppression(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    client: str = Field(min_length=1)  # anchored glob on the client name ("*" for every client)
    resource: str = Field(min_length=1)  # anchored glob on a finding's resources ("*" for any)
    reason: str = Field(min_length=3)
    owner: str | None = None  # who acknowledged it; kept in this file only, never copied into reports
    expires: dt.date | None = None  # last day the suppression applies

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a reason is required")
        return v.strip()


class SuppressionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    suppressions: list[Suppression] = Field(default_factory=list)


@dataclass
class _Entry:
    index: int
    line: int | None
    s: Suppression
    expired: bool
    client_re: re.Pattern[str]
    resource_re: re.Pattern[str]
    used: int = 0
    in_scope: bool = False  # matched a client audited in this run (a shard sees only some clients)


@dataclass
class Suppressions:
    """The parsed file plus usage counters; `apply` mutates client results one at a time."""

    path: Path | None
    entries: list[_Entry] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Suppressions:
        return cls(None)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def apply(self, result: ClientResult) -> int:
        """Mark the client's findings matched by a live suppression and re-score it. Returns how many."""
        if not self.entries:
            return 0
        name = result.name
        live = [e for e in self.entries if e.client_re.match(name)]
        for e in live:
            e.in_scope = True
        live = [e for e in live if not e.expired]
        n = 0
        for f in result.findings:
            hit = next((e for e in live if e.s.rule == f.rule
                        and any(e.resource_re.match(r) for r in (f.resources or [""]))), None)
            if hit is None:
                continue
            hit.used += 1
            n += 1
            f.suppressed = True
            f.suppression = FindingSuppression(hit.s.reason, hit.s.expires.isoformat() if hit.s.expires else None)
        if n and result.score is not None:
            result.rescore(score_client(result.rules, result.findings))
        return n

    def warnings(self) -> list[str]:
        """End-of-run warnings: expired suppressions and ones that matched no finding of the audited clients."""
        out = []
        for e in self.entries:
            where = f"{self.path}: {'line ' + str(e.line) + ': ' if e.line else ''}suppressions[{e.index}]"
            what = f"rule {e.s.rule}, client {e.s.client}, resource {e.s.resource}"
            if e.expired:
                out.append(f"{where}: expired on {e.s.expires} ({what}); its findings count again")
            elif e.in_scope and not e.used:
                out.append(f"{where}: matched no finding ({what}); remove it if the problem is fixed")
        return out


def glob_re(pattern: str) -> re.Pattern[str]:
    """Anchored glob: the whole string must match; `*` also spans '/'; case-sensitive (resource ids are)."""
    return re.compile(fnmatch.translate(pattern))


def load_suppressions(path: str | Path, rule_ids: list[str] | None = None,
                      today: dt.date | None = None) -> Suppressions:
    """Read and validate a suppressions file. Raises ConfigError naming the file, the line and the key."""
    p = Path(path)
    data, text = read_yaml_mapping(p, "suppressions", "a mapping with a 'suppressions:' list")
    try:
        parsed = SuppressionFile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_message(p, text, e, SuppressionFile)) from None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    out = Suppressions(p)
    for i, s in enumerate(parsed.suppressions):
        if rule_ids is not None and s.rule not in rule_ids:
            line = line_of(text, ("suppressions", i, "rule"))
            raise ConfigError(f"{p}: {f'line {line}: ' if line else ''}suppressions[{i}].rule: unknown rule id "
                              f"{s.rule!r}{suggest(s.rule, rule_ids)}")
        out.entries.append(_Entry(i, line_of(text, ("suppressions", i)), s,
                                  expired=s.expires is not None and s.expires < today,
                                  client_re=glob_re(s.client), resource_re=glob_re(s.resource)))
    return out
