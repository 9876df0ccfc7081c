"""The audit pipeline: raw responses -> snapshot -> rules -> the JSON result of one client.

Live and offline runs differ only in where `RawClient`s come from; clients are processed one at a time so an
agency run streams instead of holding every client in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor import __version__, integrity, vitals
from auditor.business_model import ProfileChoice
from auditor.campaigns import campaign_rows
from auditor.connectors.offline import client_dirs, load_client
from auditor.consistency import reconcile
from auditor.engine import SEVERITIES, RuleOutcome, run_rule
from auditor.engine import Finding as EngineFinding
from auditor.errors import AuditorError, FixtureError, describe
from auditor.funnel import account_funnel, build_funnel
from auditor.hierarchy import Hierarchy
from auditor.mapping import map_client
from auditor.model import Client
from auditor.outputs.options import help_url
from auditor.raw import RawClient
from auditor.result import (
    ClientResult,
    Finding,
    Header,
    RuleResult,
    Selection,
    Source,
    Sources,
    Summary,
    SummaryRow,
)
from auditor.ruleset import Ruleset
from auditor.scoring import DEDUCTIONS, FORMULA, GRADES, score_client
from auditor.subjects import Subjects

if TYPE_CHECKING:
    from auditor.model import ClientHistory

CLIENT_FILE = "client.yaml"
_CLIENT_KEYS = {"profile", "recipients", "funnel", "read_on"}


def fingerprint(rule: str, client: str, resources: Iterable[str]) -> str:
    """Stable identity of a finding across runs: rule, client and resources, never the message text."""
    # surrogatepass: a folder name with undecodable bytes must still give a stable fingerprint
    h = hashlib.sha256("\x1f".join([rule, client, *sorted(resources)]).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def now_stamp() -> str:
    """The current time as results write it ('2026-03-01T06:00:00Z'); SOURCE_DATE_EPOCH fixes it (reproducible
    documents)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return now.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def result_header() -> Header:
    return Header(version=__version__, generated_at=now_stamp(), formula=FORMULA, deductions=dict(DEDUCTIONS),
                  grades=dict(GRADES))


def error_result(name: str, errors: list[str], profile: str | None = None, warnings: list[str] | None = None,
                 sources: Sources | None = None) -> ClientResult:
    """The result of a client that could not be audited. Its profile is known only if one was set."""
    return ClientResult(name=name, status="error", profile=profile, sources=sources or Sources(),
                        errors=list(errors), warnings=list(warnings or []))


def read_client_settings(folder: Path) -> dict[str, Any]:
    """The optional client.yaml of a fixture folder: {profile, recipients, funnel}."""
    path = folder / CLIENT_FILE
    if not path.is_file():
        return {}
    import yaml

    from auditor import yaml_strict

    try:
        data = yaml_strict.load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise FixtureError(str(path), f"cannot read: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise FixtureError(str(path), "expected a mapping such as 'profile: lead-gen'")
    unknown = sorted(set(data) - _CLIENT_KEYS)
    if unknown:
        raise FixtureError(str(path), f"unknown key (expected {', '.join(sorted(_CLIENT_KEYS))})", unknown[0])
    if "profile" in data and not isinstance(data["profile"], str):
        raise FixtureError(str(path), "expected a profile name", "profile")
    funnel = data.get("funnel")
    if funnel is not None and (not isinstance(funnel, list) or not all(isinstance(e, str) and e for e in funnel)):
        raise FixtureError(str(path), "expected a list of event names such as [session_start, purchase]", "funnel")
    if "read_on" in data:
        data["read_on"] = _read_on(data["read_on"], str(path))
    return data


def _read_on(value: Any, path: str) -> date:
    """client.yaml's `read_on`: the day the recording's data was read (YAML reads 2026-01-31 as a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FixtureError(path, f"expected a date such as 2026-01-31, got {str(value)[:40]!r}", "read_on") from None


def _funnel_ladder(name: str, ruleset: Ruleset, funnel: list[str] | None) -> list[str] | None:
    """The client's own ladder: client.yaml first, then the config's entry for this client name."""
    if funnel:
        return funnel
    target = next((c for c in ruleset.user.clients if c.name == name), None) if ruleset.user else None
    return list(target.funnel) if target and target.funnel else None


def _snapshot(raw: RawClient, ruleset: Ruleset) -> tuple[Client, ProfileChoice]:
    """The client's snapshot under the profile it is audited with (its own, the run's, else its data's)."""
    if raw.profile:
        ruleset.check_profile(raw.profile, f"{raw.origin or raw.name}: profile")
    client = integrity.check(map_client(raw, raw.profile or ruleset.default_profile), raw.origin)
    choice = ruleset.choose_profile(client, raw.profile)
    return replace(client, profile=choice.name), choice


def resource_names(client: Client) -> dict[str, str]:
    """Readable names of a client's resources (conversion actions, key events), for notes between findings."""
    out: dict[str, str] = {}
    if client.ads is not None:
        out.update((a.resource_name, a.name) for a in client.ads.actions)
    if client.ga4 is not None:
        out.update((k.name, k.event_name) for k in client.ga4.key_events if k.name)
    return out


def unforeseen(where: str, e: BaseException, what: str = "could not be audited") -> str:
    """One line for an exception nobody foresaw: where, what failed, and why (`errors.describe`)."""
    return f"{where}: {what}: {describe(e)}"


def audit_raw(raw: RawClient, ruleset: Ruleset, funnel: list[str] | None = None,
              history: ClientHistory | None = None) -> ClientResult:
    """Audit one client's raw responses. Never raises: bad data, and any failure while auditing it, land in
    that client's result as an error, so one client can never stop a run.

    `funnel` is the client's own funnel ladder, if it has one; else the account's is built around its macro.
    `history`, when given, is the client's earlier complete runs (agency runs with history): it becomes
    `raw.history`, which the rules that watch trends compare with; a plain audit has none."""
    if history is not None:
        raw.history = history
        raw.warnings.extend(w for w in history.warnings if w not in raw.warnings)
    try:
        return _audit_raw(raw, ruleset, funnel)
    except Exception as e:  # a bug or an input nobody foresaw costs this client, never the run
        return error_result(raw.name, [unforeseen(raw.origin or raw.name, e)],
                            raw.profile or ruleset.configured_profile)


def run_rules(client: Client, ruleset: Ruleset, hierarchy: Hierarchy) -> tuple[list[RuleOutcome],
                                                                              list[EngineFinding]]:
    """Every rule the run keeps for the client's profile -> (each rule's outcome, the findings with one verdict
    per resource across the rules). The one place rules run: the audit, the fix planner and the tests share it."""
    settings = ruleset.for_profile(client.profile)[1]
    outcomes: list[RuleOutcome] = []
    found: list[EngineFinding] = []
    for rid, rule in ruleset.rules.items():
        setting = settings[rid]
        if not setting.enabled or not ruleset.runs(rid):
            continue
        outcome = run_rule(rule, setting, client, hierarchy.taxonomy, hierarchy)
        outcomes.append(outcome)
        found.extend(outcome.findings)
    return outcomes, reconcile(found, resource_names(client))


def _audit_raw(raw: RawClient, ruleset: Ruleset, funnel: list[str] | None) -> ClientResult:
    try:
        client, choice = _snapshot(raw, ruleset)
    except AuditorError as e:
        return error_result(raw.name, [str(e)], raw.profile or ruleset.configured_profile)
    taxonomy, settings = ruleset.for_profile(choice.name)
    hierarchy = Hierarchy(client, taxonomy)
    subjects = Subjects(client)
    docs = ruleset.docs_url
    rules: list[RuleResult] = []
    findings: list[Finding] = []
    errors = [f"{raw.origin or raw.name}: {key}: not collected: {why}" for key, why in sorted(raw.missing.items())]
    # data that does not add up makes the client incomplete: the rules needing it said "not run"
    errors.extend(dict.fromkeys(f"{why}: the rules that need it did not run" for _, why in client.unusable))
    outcomes, found = run_rules(client, ruleset, hierarchy)
    for outcome in outcomes:
        rule = outcome.rule
        rules.append(RuleResult(rule.id, rule.category, outcome.status, outcome.reason, rule.title))
        if outcome.status == "error":
            errors.append(f"{raw.name}: rule {rule.id}: {outcome.reason}")
    for f in found:
        findings.append(Finding(
            rule=f.rule, severity=f.severity, category=f.category, message=f.message,
            resources=tuple(f.resources), remediation=f.remediation, actionable=f.actionable,
            evidence=f.evidence.to_json() if f.evidence else None,
            fingerprint=fingerprint(f.rule, raw.name, f.resources), help_url=help_url(f.rule, docs),
            subjects=subjects.of(f.resources),
        ))
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.rule, f.resources))
    sources = Sources(
        ga4=None if client.ga4 is None else Source(client.ga4.property.name, client.ga4.property.display_name,
                                                   client.ga4.property.currency_code),
        ads=None if client.ads is None else Source(client.ads.customer_id, client.ads.descriptive_name,
                                                   client.ads.currency_code),
    )
    result = ClientResult(name=raw.name, status="incomplete" if errors else "ok", profile=choice.name,
                          profile_source=choice.source, profile_evidence=list(choice.evidence), sources=sources,
                          errors=errors, warnings=list(client.warnings), rules=rules, findings=findings)
    result.rescore(score_client(rules, findings))
    result.selection = selection_of(ruleset, choice.name, settings, [r.id for r in rules])
    own = _funnel_ladder(raw.name, ruleset, funnel)
    if own:
        result.funnel = build_funnel(client, own, "client")
    else:
        result.funnel = account_funnel(client, hierarchy, taxonomy.funnel)
    result.hierarchy = hierarchy.to_json(result.funnel["ladder"])
    where = raw.origin or raw.name
    try:
        result.campaigns = campaign_rows(client, settings)
    except Exception as e:  # a view nobody foresaw failing costs the view, not the audit
        result.errors.append(unforeseen(where, e, "campaigns could not be listed"))
    try:
        result.vitals = vitals.to_json(vitals.measure(client, hierarchy, taxonomy, now_stamp()))
    except Exception as e:
        result.errors.append(unforeseen(where, e, "vitals could not be measured"))
    if result.errors:
        result.status = "incomplete"
    return result


def selection_of(ruleset: Ruleset, profile: str, settings: dict[str, Any], audited: list[str]) -> Selection | None:
    """What a partial audit left out of the shipped ruleset for this profile (--select/--ignore, the config's
    select:/ignore:, or its `enabled: false`); None when every rule a full audit runs was audited."""
    done = set(audited)
    left_out = sorted(rid for rid in ruleset.shipped(profile) if rid not in done)
    if not left_out:
        return None
    disabled = [rid for rid in left_out if not settings[rid].enabled]
    return Selection(rules=len(done), of=len(done) + len(left_out), left_out=left_out,
                     select=list(ruleset.selected), ignore=list(ruleset.ignored), disabled=disabled)


def plan_funnels(raw: RawClient, ruleset: Ruleset) -> list[tuple[str, str]]:
    """The (micro, macro) GA4 funnel reports a live run reads for this client, at most 3: the micros that decide
    a finding, chosen from the data already fetched, exactly as the audit of that data will judge them."""
    try:
        client, choice = _snapshot(raw, ruleset)
    except AuditorError:
        return []  # the audit reports the bad data; no funnel can help it
    taxonomy, settings = ruleset.for_profile(choice.name)
    params = settings["low-bidding-volume"].params  # its thresholds decide which micros are proxy candidates
    return Hierarchy(client, taxonomy).funnel_plan(float(params["low_volume_threshold"]),
                                                   float(params["proxy_min_volume"]))


def iter_offline(root: Path, ruleset: Ruleset) -> Iterator[ClientResult]:
    """Audit every client folder under `root`, one at a time."""
    missing = recorded_missing(root)
    for folder in client_dirs(root):
        yield audit_folder(folder, ruleset, missing=missing.get(folder.name))


def recorded_missing(root: Path) -> dict[str, dict[str, str]]:
    """Per client, the files `audit record` could not fetch (from its manifest.json), so a recording of a
    partial live run is audited as partial too, not as a client whose optional files were never asked for."""
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        clients = json.loads(path.read_text(encoding="utf-8")).get("clients") or []
        return {c["name"]: dict(c["missing"]) for c in clients if isinstance(c, dict) and c.get("missing")}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # a manifest is informative; a damaged one must not stop the audit


def audit_folder(folder: Path, ruleset: Ruleset, missing: dict[str, str] | None = None) -> ClientResult:
    return audit_client_folder(folder, ruleset, missing=missing)[0]


def audit_client_folder(folder: Path, ruleset: Ruleset, *, name: str | None = None, profile: str | None = None,
                        missing: dict[str, str] | None = None,
                        history: ClientHistory | None = None) -> tuple[ClientResult, dict[str, Any]]:
    """Audit one fixture folder -> (result, its client.yaml settings). `name` and `profile`, when given (an
    agency config's entry), win over the folder name and client.yaml; `history` (an agency run's) is the client's
    earlier complete runs."""
    name = name or folder.name
    try:
        settings = read_client_settings(folder)
        raw = load_client(folder)
    except AuditorError as e:
        return error_result(name, [str(e)], profile), {}
    except Exception as e:  # an unreadable folder or a file nobody foresaw costs this client only
        return error_result(name, [unforeseen(str(folder), e)], profile), {}
    raw.name = name
    raw.profile = profile or settings.get("profile")
    raw.read_on = settings.get("read_on")
    raw.missing.update(missing or {})
    return audit_raw(raw, ruleset, funnel=settings.get("funnel"), history=history), settings


def summary_row(result: ClientResult) -> SummaryRow:
    """What the end-of-run summary keeps of a client: small, so agency runs stay flat in memory."""
    return SummaryRow.of(result)


def summarise(rows: list[SummaryRow]) -> Summary:
    return Summary.of(rows)
