"""Rule registry, selection and running.

A rule is metadata beside a pure function of a client snapshot. Built-in rules register through the
`auditor.rules` entry-point group, the same one third-party packages use.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from auditor.evidence import Evidence
from auditor.evidence import count as fmt_count
from auditor.hierarchy import Hierarchy
from auditor.model import Client
from auditor.taxonomy import Taxonomy

__all__ = ["CannotRun", "Context", "Evidence", "Finding", "Hierarchy", "NotApplicable", "Param", "Rule",
           "RuleOutcome", "RuleSetting", "SEVERITIES", "cap", "fmt_count", "registry", "run_rule"]

ENTRY_POINT_GROUP = "auditor.rules"
# Verdicts a finding can give a resource; KEEP-side and DROP-side verdicts contradict each other.
KEEP, PROMOTE, DEMOTE, REMOVE, UNMARK = "keep", "promote", "demote", "remove", "unmark"
ADVICE = (KEEP, PROMOTE, DEMOTE, REMOVE, UNMARK)
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # lower is worse
Status = Literal["pass", "fail", "not_run", "not_applicable", "error"]


@dataclass(frozen=True)
class Param:
    """A rule threshold: documented here, valued in the ruleset (rules/default.yaml) or by `default`."""

    doc: str
    default: Any = None


@dataclass(frozen=True)
class Rule:
    id: str  # kebab-case slug
    title: str
    category: str
    severity: str  # default severity
    rationale: str
    remediation: str
    check: Callable[[Client, Context], Iterable[Finding]]
    references: tuple[str, ...] = ()
    params: Mapping[str, Param] = field(default_factory=dict)
    # Data the rule reads. "ga4" / "ads": the source must be present, else the rule does not apply.
    # "ga4|ads": either. "ga4.retention", "ga4.ads_links", "ga4.attribution", "ga4.ads_key_events",
    # "ads.goals", "ads.tracking", "ads.campaigns", "ads.custom_goals", "ads.upload_client_summaries",
    # "ads.upload_action_summaries", "ads.conversion_lag": optional files; when absent the rule
    # could not run, which lowers coverage (never a pass). "history": the client's earlier runs; without them
    # (a plain audit) the rule does not apply.
    requires: tuple[str, ...] = ()
    example: str = ""
    # What the rule's judgement rests on, for `audit explain` and docs/rules.md (counts, rates, names, config).
    evidence: str = ""

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()

    @property
    def rests_on(self) -> str:
        return self.evidence or "the snapshot's settings, as described above."


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    resources: tuple[str, ...] = ()
    remediation: str = ""
    category: str = ""
    actionable: bool = True
    evidence: Evidence | None = None  # what a finding that rests on a classification rests on
    # What the finding tells the user to do with each resource it names, where that is a verdict on the resource:
    # (resource, one of ADVICE). The consistency pass (auditor.consistency) reads it so that no resource is told
    # to be kept by one finding and demoted by another.
    advice: tuple[tuple[str, str], ...] = ()


class CannotRun(Exception):
    """Raised by a check when the snapshot lacks what it needs: reported as not run, never as a pass."""


class NotApplicable(Exception):
    """Raised by a check when the rule does not apply to this client (too few earlier runs to compare): reported
    as not applicable, never as a pass, and it does not lower coverage."""


@dataclass(frozen=True)
class Context:
    """What a check may use besides the snapshot: its effective settings, the taxonomy and the client's
    measured micro hierarchy (its macro and every event's strength toward it)."""

    rule: Rule
    severity: str
    params: Mapping[str, Any]
    taxonomy: Taxonomy
    hierarchy: Hierarchy

    def finding(self, message: str, resources: Iterable[str] = (), *, severity: str | None = None,
                remediation: str | None = None, actionable: bool = True,
                evidence: Evidence | None = None, advice: Mapping[str, str] | None = None) -> Finding:
        return Finding(
            rule=self.rule.id, severity=severity or self.severity, message=message,
            resources=tuple(resources), remediation=remediation or self.rule.remediation,
            category=self.rule.category, actionable=actionable, evidence=evidence,
            advice=tuple((advice or {}).items()),
        )

    def at_most(self, severity: str) -> str:
        """The rule's severity, capped: what the data cannot establish is never reported above `severity`."""
        return cap(self.severity, severity)


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    status: Status
    findings: tuple[Finding, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class RuleSetting:
    """The effective setting of one rule for one client (ruleset, then profile, then user config)."""

    enabled: bool
    severity: str
    params: Mapping[str, Any]


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, Rule]:
    """Every installed rule by id, built-in and third-party alike, loaded once per process."""
    rules: dict[str, Rule] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as e:  # a broken plugin must not take the audit down
            print(f"warning: rule plugin {ep.name!r} ({ep.value}) failed to load: {e}", file=sys.stderr)
            continue
        for rule in obj if isinstance(obj, (list, tuple)) else [obj]:
            if not isinstance(rule, Rule):
                print(f"warning: rule plugin {ep.name!r} is not an auditor Rule; ignored", file=sys.stderr)
                continue
            rules.setdefault(rule.id, rule)
    return rules


def _available(client: Client, need: str) -> bool | None:
    """True: present; None: source absent (rule not applicable); False: optional data not collected."""
    if "|" in need:
        for n in need.split("|"):
            if _available(client, n):
                return True
        return None
    source, _, part = need.partition(".")
    obj = getattr(client, source, None)
    if obj is None:
        return None
    return True if not part else getattr(obj, part) is not None


# optional data a rule may require -> (what it is, the file that holds it)
OPTIONAL_DATA = {
    "ga4.retention": ("GA4 data retention settings", "ga4/data_retention.json"),
    "ga4.ads_links": ("GA4 Google Ads links", "ga4/google_ads_links.json"),
    "ga4.attribution": ("GA4 attribution settings", "ga4/attribution_settings.json"),
    "ga4.ads_key_events": ("GA4 key events attributed to Google Ads", "ga4/ads_key_events.json"),
    "ads.goals": ("Google Ads customer conversion goals", "ads/customer_conversion_goals.json"),
    "ads.tracking": ("Google Ads tracking settings", "ads/customer.json"),
    "ads.campaigns": ("Google Ads campaigns", "ads/campaigns.json"),
    "ads.custom_goals": ("Google Ads custom conversion goals", "ads/custom_conversion_goals.json"),
    "ads.upload_client_summaries": ("Google Ads offline conversion upload summaries",
                                    "ads/offline_upload_client_summaries.json"),
    "ads.upload_action_summaries": ("Google Ads offline conversion upload summaries per conversion action",
                                    "ads/offline_upload_action_summaries.json"),
    "ads.conversion_lag": ("Google Ads conversions by days from click", "ads/conversion_lag.json"),
}
_NOT_COLLECTED = {need: file for need, (_, file) in OPTIONAL_DATA.items()}
_NOT_APPLICABLE = {"history": "no earlier runs of this client to compare with (an agency run with history has them)"}


def cap(severity: str, ceiling: str) -> str:
    """The milder of two severities."""
    return severity if SEVERITY_RANK[severity] >= SEVERITY_RANK[ceiling] else ceiling


def run_rule(rule: Rule, setting: RuleSetting, client: Client, taxonomy: Taxonomy,
             hierarchy: Hierarchy | None = None) -> RuleOutcome:
    """Run one rule on one client. `hierarchy` is built once per client by the caller (built here if not)."""
    broken: dict[str, str] = {}
    for key, why in client.unusable:
        broken.setdefault(key, why)  # the first problem found names the piece
    for need in rule.requires:
        if need in broken or need.split(".")[0] in broken:  # present but not to be trusted: never a pass
            why = broken.get(need) or broken[need.split(".")[0]]
            return RuleOutcome(rule, "not_run", reason=f"cannot run: {why}")
        ok = _available(client, need)
        if ok is None:
            reason = _NOT_APPLICABLE.get(need) or f"no {need.replace('|', ' or ')} data for this client"
            return RuleOutcome(rule, "not_applicable", reason=reason)
        if not ok:
            return RuleOutcome(rule, "not_run", reason=f"{_NOT_COLLECTED.get(need, need)} was not collected")
    ctx = Context(rule=rule, severity=setting.severity, params=setting.params, taxonomy=taxonomy,
                  hierarchy=hierarchy if hierarchy is not None else Hierarchy(client, taxonomy))
    try:
        findings = tuple(rule.check(client, ctx))
    except CannotRun as e:
        return RuleOutcome(rule, "not_run", reason=str(e))
    except NotApplicable as e:
        return RuleOutcome(rule, "not_applicable", reason=str(e))
    except Exception as e:  # a crashing rule marks the audit incomplete; the other rules still run
        return RuleOutcome(rule, "error", reason=f"rule crashed: {type(e).__name__}: {e}")
    return RuleOutcome(rule, "fail" if findings else "pass", findings=findings)

