"""short-call-duration: a primary call action that counts calls too short to be real enquiries."""

from __future__ import annotations

from collections.abc import Iterator

from auditor import enums
from auditor.checks.offline_import_health import bid_on
from auditor.engine import CannotRun, Context, Finding, Param, Rule, fmt_count
from auditor.model import Client


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags each enabled primary call action (calls from ads, calls to a website number...) that counts a call as
    a conversion once it lasts `phone_call_duration_seconds`, when that is below `min_call_seconds`: wrong numbers,
    hang-ups and accidental taps then count as leads and bidding buys them. The finding states the duration and the
    action's conversions. A call action whose response does not carry the duration (a recording made before it was
    read) cannot be judged: with no other call action to judge, the rule does not run."""
    ads = client.ads
    assert ads is not None
    floor = int(ctx.params["min_call_seconds"])
    calls = [a for a in ads.primary_actions if a.type in enums.CALL_TYPES or a.origin == "CALL_FROM_ADS"]
    judged = [a for a in calls if a.phone_call_duration_seconds is not None]
    if calls and not judged:
        raise CannotRun("ads/conversion_actions.json does not carry the call actions' "
                        "phone_call_duration_seconds")
    for a in judged:
        seconds = a.phone_call_duration_seconds
        assert seconds is not None
        if seconds >= floor:
            continue
        bids = "bid on" if bid_on(ads, a) else "counted"
        yield ctx.finding(
            f"call action '{a.name}' ({a.type}, {a.category}) counts every call of {seconds} seconds or longer as a "
            f"conversion (below {floor}): accidental and wrong-number calls are {bids} as leads "
            f"({fmt_count(a.stats.conversions)} conv. in 30 days)",
            [a.resource_name],
        )


RULE = Rule(
    id="short-call-duration",
    title="Call conversions counted from too short a call",
    category="counting",
    severity="low",
    rationale=("A call action counts a call as a conversion once it lasts its minimum duration (60 seconds by "
               "default). Set below about 30 seconds, wrong numbers, hang-ups and accidental taps on a call "
               "extension count as leads, and Smart Bidding buys more of them."),
    remediation=("In Google Ads > Goals > Conversions > Summary, open the call action and set 'Call length' to at "
                 "least 30 seconds, about the time a real enquiry takes to start (API: "
                 "ConversionAction.phone_call_duration_seconds)."),
    references=("Google Ads Help: Set up call conversion tracking", "Google Ads API: ConversionAction"),
    params={"min_call_seconds": Param("Shortest call, in seconds, that may count as a conversion.", default=30)},
    requires=("ads",),
    example=("call action 'Calls from ads' (AD_CALL, PHONE_CALL_LEAD) counts every call of 10 seconds or longer as a "
             "conversion (below 30): accidental and wrong-number calls are bid on as leads (40 conv. in 30 days)"),
    evidence="Each enabled primary call action's phone_call_duration_seconds and 30-day conversions "
             "(ads/conversion_actions.json, ads/conversion_stats.json).",
    check=check,
)
