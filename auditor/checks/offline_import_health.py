"""offline-import-health: offline conversion imports (uploads, CRM imports) that Google Ads diagnoses as failing."""

from __future__ import annotations

from collections.abc import Iterator

from auditor import enums
from auditor.checks._campaigns import default_bids_on
from auditor.engine import CannotRun, Context, Finding, Param, Rule, fmt_count
from auditor.model import Ads, Client, ConversionAction, UploadSummary

BAD_STATUS = frozenset({"NEEDS_ATTENTION", "NO_RECENT_UPLOAD"})
EC_FOR_LEADS_NOTE = ("Enhanced conversions for leads imports show fully only in the Google Ads interface's own "
                     "diagnostics (Goals > Conversions > Summary > Diagnostics), not in these summaries.")


def _pct(rate: float) -> str:
    return f"{100 * rate:.0f}%"


def alerts_text(s: UploadSummary, limit: int = 3) -> str:
    """"CLICK_NOT_FOUND 14%, CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS 8%", the largest first."""
    top = sorted(s.alerts, key=lambda a: (-a.share, a.error))[:limit]
    return ", ".join(f"{a.error} {_pct(a.share)}" for a in top)


def bid_on(ads: Ads, a: ConversionAction) -> bool:
    """Whether the account bids on the action: enabled, primary and in the account-default goals it bids on."""
    return a.enabled and a.primary_for_goal and default_bids_on(ads, a)


def _label(a: ConversionAction | None, s: UploadSummary) -> str:
    if a is None:
        return f"conversion action '{s.action_name}' (id {s.action_id})"
    return f"'{a.name}' ({a.type}, {a.category})"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags the offline conversion imports Google Ads' own upload diagnostics find failing
    (offline_conversion_upload_conversion_action_summary, one finding per conversion action and upload client):
    an import the account bids on (enabled, primary, in the account-default goals it bids on) whose status is
    NEEDS_ATTENTION or NO_RECENT_UPLOAD (high; medium for an import it does not bid on); a success rate (successful
    events among those uploaded) below `min_success_rate`, naming the top alerts and their shares (medium); the
    last upload of an enabled upload action more than `max_upload_age_days` days before the day the data was read
    (medium). An upload client (API, web interface, data connector) whose own summary shows these problems while no
    action summary does is one medium finding. Each finding states the status, the event counts, the rate and the
    age. Enhanced conversions for leads imports show fully only in the Google Ads interface's diagnostics. The ages
    are measured from the snapshot's `read_on` date; without it they are not judged (and with nothing else to
    report the rule does not run)."""
    ads = client.ads
    assert ads is not None and ads.upload_action_summaries is not None and ads.upload_client_summaries is not None
    min_rate = float(ctx.params["min_success_rate"])
    max_age = int(ctx.params["max_upload_age_days"])
    by_id = {a.id: a for a in ads.actions}
    read_on = client.read_on
    ages_unknown = False
    flagged_clients: set[str] = set()
    for s in ads.upload_action_summaries:
        a = by_id.get(s.action_id or "")
        if a is not None and not a.enabled:
            continue  # a removed or hidden action's history
        bids = a is not None and bid_on(ads, a)
        severity: str | None = None
        reasons: list[str] = []
        if s.status in BAD_STATUS:
            severity = ctx.severity if bids else ctx.at_most("medium")
            reasons.append(f"status {s.status}")
        rate = s.success_rate
        if rate is not None and rate < min_rate:
            severity = severity or ctx.at_most("medium")
            top = alerts_text(s)
            reasons.append(f"{_pct(rate)} of its uploaded events succeeded (below {_pct(min_rate)})"
                           + (f"; top errors: {top}" if top else ""))
        if s.last_upload is not None and a is not None and a.type in enums.UPLOAD_TYPES:
            if read_on is None:
                ages_unknown = True
            else:
                age = (read_on - s.last_upload.date()).days
                if age > max_age:
                    severity = severity or ctx.at_most("medium")
                    reasons.append(f"last upload {s.last_upload:%Y-%m-%d} ({age} days before the data was read on "
                                   f"{read_on:%Y-%m-%d}, more than {max_age})")
        if severity is None:
            continue
        flagged_clients.add(s.client)
        counts = (f"{fmt_count(s.total)} events uploaded, {fmt_count(s.successful)} successful, "
                  f"{fmt_count(s.pending)} pending")
        if rate is not None and not any("succeeded" in r for r in reasons):
            counts += f" ({_pct(rate)} successful)"
        if s.status not in BAD_STATUS:
            counts += f"; status {s.status}"
        if not any(r.startswith("last upload") for r in reasons) and s.last_upload is not None:
            counts += f"; last upload {s.last_upload:%Y-%m-%d}"
        if a is None:
            stake = "not among the account's conversion actions"
        elif bids:
            stake = f"the account bids on it ({fmt_count(a.stats.conversions)} conv. in 30 days)"
        else:
            stake = f"the account does not bid on it ({fmt_count(a.stats.all_conversions)} all conv. in 30 days)"
        yield ctx.finding(
            f"offline import {_label(a, s)} through {s.client}: {'; '.join(reasons)} — {counts}; {stake}",
            [a.resource_name if a is not None else s.resource_name], severity=severity)
    for s in ads.upload_client_summaries:
        if s.client in flagged_clients:
            continue
        rate = s.success_rate
        reasons = []
        if s.status in BAD_STATUS:
            reasons.append(f"status {s.status}")
        if rate is not None and rate < min_rate:
            top = alerts_text(s)
            reasons.append(f"{_pct(rate)} of its uploaded events succeeded (below {_pct(min_rate)})"
                           + (f"; top errors: {top}" if top else ""))
        if not reasons:
            continue
        yield ctx.finding(
            f"offline conversion uploads through {s.client}: {'; '.join(reasons)} — {fmt_count(s.total)} events "
            f"uploaded, {fmt_count(s.successful)} successful, {fmt_count(s.pending)} pending"
            + (f"; last upload {s.last_upload:%Y-%m-%d}" if s.last_upload is not None else "")
            + "; no conversion action's summary names the import",
            [s.resource_name], severity=ctx.at_most("medium"))
        flagged_clients.add(s.client)
    if ages_unknown and not flagged_clients:
        raise CannotRun("the day the data was read is unknown (read_on in the recording's client.yaml), so the age "
                        "of the last upload cannot be judged")


RULE = Rule(
    id="offline-import-health",
    title="Offline conversion import failing",
    category="tracking",
    severity="high",
    rationale=("Offline imports (click uploads from a CRM, call uploads, data connectors) are often the account's "
               "most valuable conversions: the qualified lead or the closed deal. When Google Ads cannot match the "
               "uploaded clicks, refuses rows or receives nothing for days, bidding loses exactly those signals "
               "and learns from the raw form fills instead. Google Ads keeps its own diagnostics of every import: "
               "a status per upload client and conversion action, success and pending counts, and the errors of "
               "the most recent day. " + EC_FOR_LEADS_NOTE),
    remediation=("Open Google Ads > Goals > Conversions > Summary, select the import and read its Diagnostics: fix "
                 "the errors named (CLICK_NOT_FOUND: send the gclid exactly as captured, within the click-through "
                 "window; CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS: accept the customer data terms; dates and "
                 "time zones: send the conversion time with its offset) and schedule uploads at least daily. "
                 + EC_FOR_LEADS_NOTE),
    references=("Google Ads Help: About offline conversion imports diagnostics",
                "Google Ads API: OfflineConversionUploadConversionActionSummary",
                "Google Ads Help: About enhanced conversions for leads"),
    params={
        "min_success_rate": Param("Share of uploaded events that must succeed (0 to 1).", default=0.9),
        "max_upload_age_days": Param("Days since the last upload of an enabled upload action, from the day the data "
                                     "was read, beyond which it is stale.", default=7),
    },
    requires=("ads", "ads.upload_client_summaries", "ads.upload_action_summaries"),
    example=("offline import 'Qualified lead (CRM)' (UPLOAD_CLICKS, QUALIFIED_LEAD) through GOOGLE_ADS_API: status "
             "NEEDS_ATTENTION; 78% of its uploaded events succeeded (below 90%); top errors: CLICK_NOT_FOUND 14%, "
             "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS 8% — 212 events uploaded, 165 successful, 0 pending; ..."),
    evidence=("Google Ads' offline conversion upload summaries per conversion action and per upload client "
              "(ads/offline_upload_action_summaries.json, ads/offline_upload_client_summaries.json): status, total, "
              "successful and pending events, last upload time and alerts; the actions' status, type and whether "
              "the account bids on them (ads/conversion_actions.json, customer goals when collected); the day the "
              "data was read (client.yaml's read_on offline)."),
    check=check,
)
