"""lookback-window-short: a click-through window that cuts off real conversions of a slow-converting action."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.checks.offline_import_health import bid_on
from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.enums import LAG_BUCKET_DAYS
from auditor.model import Client, ConversionAction

MAX_CLICK_WINDOW = 90  # Google Ads allows 1 to 90 days
LAG_PERIOD = 90  # days the conversion lag file covers


def late_buckets(window: int) -> tuple[str, ...]:
    """The lag buckets that start in the last third of a `window`-day click-through window (from 2/3 of it)."""
    return tuple(b for b, (start, _) in LAG_BUCKET_DAYS.items() if window * 2 / 3 <= start < window)


def _days(buckets: tuple[str, ...]) -> str:
    start = min(LAG_BUCKET_DAYS[b][0] for b in buckets)
    end = max(LAG_BUCKET_DAYS[b][1] for b in buckets)
    return f"{start}-{end}"


def _label(a: ConversionAction) -> str:
    return f"'{a.name}' ({a.type}, {a.category})"


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Flags each conversion action the account bids on (enabled, primary, in the account-default goals it bids on)
    with at least `min_conversions` conversions in 90 days (all conversions, ads/conversion_lag.json) of which
    `late_share` or more came in the lag buckets that start in the last third of its click-through lookback window
    (`conversion_action.click_through_lookback_window_days`): so many arriving just before the window closes means
    the window cuts off real conversions that come later, typical of long sales cycles and CRM imports. The finding
    states the share, the conversions and the window, and proposes a longer one (up to 90 days). An action whose
    window is already 90 days is not flagged. Separately (low), each enabled action whose view-through window is
    longer than its click-through window: an impression is weaker evidence than a click, so a longer view-through
    window is a mistake."""
    ads = client.ads
    assert ads is not None and ads.conversion_lag is not None
    share_min = float(ctx.params["late_share"])
    min_conv = float(ctx.params["min_conversions"])
    lag: dict[str, dict[str, float]] = {}
    for row in ads.conversion_lag:
        lag.setdefault(row.action, {})[row.bucket] = lag.get(row.action, {}).get(row.bucket, 0.0) + row.all_conversions
    for a in ads.enabled_actions:
        window = a.click_through_lookback_window_days
        if not bid_on(ads, a) or window is None or window >= MAX_CLICK_WINDOW:
            continue
        buckets = lag.get(a.resource_name, {})
        total = sum(buckets.values())
        late = late_buckets(window)
        if total < min_conv or not late:
            continue
        n = sum(buckets.get(b, 0.0) for b in late)
        share = n / total
        if share < share_min:
            continue
        longer = min(MAX_CLICK_WINDOW, 2 * window if window >= 30 else 30)
        yield ctx.finding(
            f"{_label(a)}: {100 * share:.0f}% of its {fmt_count(total)} conv. in {LAG_PERIOD} days "
            f"({fmt_count(n)}) came {_days(late)} days after the click, the last third of its {window}-day "
            f"click-through window (threshold {100 * share_min:.0f}%): conversions after day {window} are not "
            f"counted; extend the window to {longer} days (at most {MAX_CLICK_WINDOW})",
            [a.resource_name],
            remediation=(f"In Google Ads > Goals > Conversions > Summary, open '{a.name}' and set the click-through "
                         f"conversion window to {longer} days (API: ConversionAction."
                         "click_through_lookback_window_days, 1 to 90); conversions already past the old window "
                         "are not recovered."),
        )
    for a in ads.enabled_actions:
        ct, vt = a.click_through_lookback_window_days, a.view_through_lookback_window_days
        if ct is not None and vt is not None and vt > ct:
            yield ctx.finding(
                f"{_label(a)} counts view-through conversions for {vt} days after an impression but click-through "
                f"ones for only {ct} days after a click: an impression then earns credit longer than a click",
                [a.resource_name], severity=ctx.at_most("low"),
                remediation=(f"Set the view-through window of '{a.name}' to at most its click-through window ({ct} "
                             "days; Google Ads > Goals > Conversions > Summary > the action; API: ConversionAction."
                             "view_through_lookback_window_days, 1 to 30)."),
            )


RULE = Rule(
    id="lookback-window-short",
    title="Click-through window shorter than the time to convert",
    category="attribution",
    severity="medium",
    rationale=("Google Ads counts a conversion only within the action's click-through window (1 to 90 days from "
               "the click). For leads qualified in a CRM or purchases considered for weeks, many conversions arrive "
               "late; when a large share already lands just before the window closes, the tail after it is lost: "
               "bidding undervalues the campaigns that start long journeys. Google Ads splits conversions by days "
               "from click (segments.conversion_lag_bucket), which shows where the window cuts."),
    remediation=("Extend the click-through window (Google Ads > Goals > Conversions > Summary > the action > "
                 "Click-through conversion window; API: ConversionAction.click_through_lookback_window_days) to "
                 "cover the sales cycle, up to 90 days."),
    references=("Google Ads Help: About conversion windows", "Google Ads API: ConversionLagBucket"),
    params={
        "late_share": Param("Share of an action's 90-day conversions in the last third of its click-through window "
                            "from which the window is too short (0 to 1).", default=0.15),
        "min_conversions": Param("Conversions in 90 days an action needs before its lag is judged.", default=20),
    },
    requires=("ads", "ads.conversion_lag"),
    example=("'Qualified lead (CRM)' (UPLOAD_CLICKS, QUALIFIED_LEAD): 25% of its 156 conv. in 90 days (39) came "
             "21-30 days after the click, the last third of its 30-day click-through window (threshold 15%): ..."),
    evidence=("All conversions of the last 90 days by conversion action and days from click "
              "(ads/conversion_lag.json, segments.conversion_lag_bucket), each action's click-through and "
              "view-through windows, and whether the account bids on it (ads/conversion_actions.json, customer "
              "goals when collected)."),
    check=check,
)
