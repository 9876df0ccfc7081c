"""customer-data-terms: user-provided data in use while the account has not accepted the customer data terms."""

from __future__ import annotations

from collections.abc import Iterator

from auditor import enums
from auditor.checks.offline_import_health import bid_on
from auditor.engine import CannotRun, Context, Finding, Rule, fmt_count
from auditor.model import Client, UploadSummary

REFUSED = "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS"
WHERE = "Google Ads > Goals > Settings > Customer data terms"


def _refusals(summaries: tuple[UploadSummary, ...] | None) -> list[tuple[UploadSummary, float]]:
    return [(s, al.share) for s in summaries or () for al in s.alerts if al.error == REFUSED]


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags an account that has not accepted the customer data terms
    (`customer.conversion_tracking_setting.accepted_customer_data_terms` false) while it uses user-provided data:
    the upload summaries' alerts show rows refused with CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS, or enhanced
    conversions are on (`effective_enablement_setting` ON). Google Ads then drops the hashed e-mails and phone
    numbers of enhanced conversions (web and leads) and of uploads carrying them; click-id-only uploads do not
    need the terms. When neither shows but the account imports conversions by upload and the upload summaries were
    not collected, whether those uploads carry user data cannot be established: one low finding. Terms accepted,
    or no sign of user-provided data, pass; a response without the setting cannot be judged."""
    ads = client.ads
    assert ads is not None and ads.tracking is not None
    accepted = ads.tracking.accepted_customer_data_terms
    if accepted is None:
        raise CannotRun("ads/customer.json holds no customer row: whether the customer data terms were accepted "
                        "is unknown")
    if accepted:
        return
    by_id = {a.id: a for a in ads.actions}
    evidence = []
    resources = [f"customers/{ads.customer_id}"]
    for s, share in _refusals(ads.upload_action_summaries):
        a = by_id.get(s.action_id or "")
        name = a.name if a is not None else s.action_name
        evidence.append(f"{100 * share:.0f}% of the latest uploads to '{name}' through {s.client} refused with "
                        f"{REFUSED}")
        if a is not None:
            resources.append(a.resource_name)
    if not evidence:
        evidence += [f"{100 * share:.0f}% of the latest uploads through {s.client} refused with {REFUSED}"
                     for s, share in _refusals(ads.upload_client_summaries)]
    if ads.tracking.enhanced_conversions == "ON":
        evidence.append("enhanced conversions are on (conversion_tracking_setting.effective_enablement_setting ON)")
    if evidence:
        yield ctx.finding(
            f"the customer data terms are not accepted in Google Ads account {ads.customer_id} "
            f"(accepted_customer_data_terms false) while it uses user-provided data: {'; '.join(evidence)}; "
            "Google Ads drops the hashed e-mails and phone numbers these conversions carry until the terms are "
            f"accepted ({WHERE})",
            resources,
        )
        return
    uploads = [a for a in ads.enabled_actions if a.type in enums.UPLOAD_TYPES]
    if uploads and ads.upload_action_summaries is None and ads.upload_client_summaries is None:
        bid = [a for a in uploads if bid_on(ads, a)]
        names = ", ".join(f"'{a.name}' ({a.type}, {fmt_count(a.stats.all_conversions)} all conv. in 30 days)"
                          for a in uploads[:3])
        yield ctx.finding(
            f"the customer data terms are not accepted in Google Ads account {ads.customer_id} "
            f"(accepted_customer_data_terms false) and it imports conversions by upload ({names}"
            f"{'; bid on' if bid else ''}): uploads carrying hashed e-mails or phone numbers (enhanced conversions "
            "for leads) are refused until the terms are accepted, click-id-only uploads are not; the upload "
            "summaries were not collected, so which kind these are cannot be established",
            [f"customers/{ads.customer_id}", *(a.resource_name for a in uploads)], severity=ctx.at_most("low"),
        )


RULE = Rule(
    id="customer-data-terms",
    title="Customer data terms not accepted while user-provided data is used",
    category="setup",
    severity="high",
    rationale=("Enhanced conversions (for web and for leads) and conversion uploads that carry hashed e-mail "
               "addresses or phone numbers use customer data, which Google Ads accepts only once the account has "
               "accepted the customer data terms. Until then those conversions are dropped or refused "
               f"({REFUSED} in the upload diagnostics), and bidding loses them without any tag error."),
    remediation=(f"Accept the customer data terms in {WHERE} (an administrator of the account, or of the manager "
                 "account that owns conversion tracking when it is shared); then upload again what was refused."),
    references=("Google Ads Help: Customer data policies", "Google Ads Help: About enhanced conversions",
                "Google Ads API: ConversionTrackingSetting.accepted_customer_data_terms"),
    requires=("ads", "ads.tracking"),
    example=("the customer data terms are not accepted in Google Ads account 4870351926 (accepted_customer_data_terms "
             "false) while it uses user-provided data: 8% of the latest uploads to 'Qualified lead (CRM)' through "
             "GOOGLE_ADS_API refused with CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS; ..."),
    evidence=("The account's accepted_customer_data_terms and enhanced conversions setting (ads/customer.json), the "
              "alerts of the offline conversion upload summaries when collected, and its enabled upload actions."),
    check=check,
)
