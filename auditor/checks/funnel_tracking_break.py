"""funnel-tracking-break: a funnel step that records far fewer users than a step that must come after it."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.engine import Context, Finding, Param, Rule, fmt_count
from auditor.evidence import pct
from auditor.funnel import (
    BREAK_MIN_USERS,
    BREAK_RATIO,
    METRIC_WORDS,
    Break,
    Order,
    metric_of,
    tracking_breaks,
    volumes,
)
from auditor.model import Client

THIN = 5  # a later step with fewer than THIN x min_users users is thin evidence: capped at medium

# The likely cause per step: where its tag usually goes missing.
CAUSES = {
    "view_item_list": ("the view_item_list tag is missing on a list template (category, search results, "
                       "recommendation blocks) or its GTM trigger does not fire there"),
    "view_item": "the view_item tag is missing on a product page template or its GTM trigger does not fire there",
    "add_to_cart": ("some add-to-cart buttons (quick add in lists, the product page, an AJAX cart) do not send "
                    "add_to_cart"),
    "begin_checkout": ("the checkout's first page does not send begin_checkout (a hosted checkout on another "
                       "domain without the tag or cross-domain measurement)"),
    "add_shipping_info": ("the shipping step does not send add_shipping_info (a one-page or hosted checkout, or an "
                          "express checkout such as PayPal or Apple Pay that skips the step)"),
    "add_payment_info": ("the payment step does not send add_payment_info (a hosted payment page, or an express "
                         "checkout such as PayPal or Apple Pay that skips the step)"),
}
GENERIC = "the tag is missing on that page template or its GTM trigger no longer fires"


def _severity(ctx: Context, b: Break, min_users: int) -> str:
    if not b.count:
        return ctx.at_most("low")  # never implemented, or sent under another name: no sign it broke
    if b.later_count < THIN * min_users:
        return ctx.at_most("medium")
    return ctx.severity


def check(client: Client, ctx: Context) -> Iterator[Finding]:
    """Compares the 28-day users (events, in a report without users) of the profile's required funnel steps
    (`funnel:` without its `side_steps:`; spelling folded, as in the funnel view) in the profile's order. A step
    that records at most `ratio` of the users of a step that must come after it is a tracking break: every later
    required step must come after it, and so must its own side steps (a select_item is a click in a product list,
    so it cannot outnumber view_item_list tenfold). One finding per step, naming the nearest such later step and
    both counts, with the likely cause. Judged only when the later step has at least `min_users`: in a tiny
    property a gap of a few users is noise. Severity: the rule's (high) when the later step has at least five
    times `min_users`; medium below that (a bot, a test order or a short outage can make a gap that small); low
    for a step with no users at all, which the data cannot tell from a step never implemented or sent under
    another name. Users are not joined across steps, so the comparison is of totals; a later step sent twice (a
    purchase on every reload) makes the same gap, and the message says so."""
    order = Order.of(ctx.taxonomy.funnel, ctx.taxonomy.side_steps)
    if len(order.required) < 2:
        return
    ratio, min_users = float(ctx.params["ratio"]), int(ctx.params["min_users"])
    metric = metric_of(client)
    unit = METRIC_WORDS[metric]
    for b in tracking_breaks(volumes(client, metric), order, ratio, min_users):
        tie = "a click in its list, which can only follow it" if b.later_side else "which comes after it"
        if b.count:
            head = (f"{b.step} is not tracked everywhere it happens: {fmt_count(b.count)} {unit} of {b.step} "
                    f"against {fmt_count(b.later_count)} of {b.later}, {tie} ({pct(b.count / b.later_count)}, "
                    f"at most {pct(ratio)} is a break)")
        else:
            head = (f"{b.step} is not tracked: no {unit} in 28 days against {fmt_count(b.later_count)} of "
                    f"{b.later}, {tie} (never implemented, or sent under another name)")
        cause = CAUSES.get(b.step, GENERIC)
        yield ctx.finding(
            f"{head}; likely cause: {cause}, unless {b.later} is counted twice",
            [b.step, b.later],
            severity=_severity(ctx, b, min_users),
            remediation=(f"Open a page where {b.step} should fire in GTM Preview or Tag Assistant and check that the "
                         f"tag fires (GA4 Admin > DebugView shows what arrives), fix its trigger or add it to the "
                         f"missing template, then watch {b.step} in GA4 Reports > Engagement > Events. If "
                         f"{b.later} fires twice per action instead, deduplicate it."),
        )


RULE = Rule(
    id="funnel-tracking-break",
    title="Funnel step with far fewer users than a later step",
    category="tracking",
    severity="high",
    rationale=("A shop's funnel is a sequence: nobody clicks a product in a list they never saw, or pays without "
               "reaching the checkout. When a step records a tenth of the users of a step after it, its tag is "
               "missing on some pages (a list template, a hosted checkout), and the funnel's biggest drop, the "
               "audiences and any bidding on that step are built on a fraction of the people who took it. Nothing "
               "in GA4 flags it: the event still arrives, just rarely."),
    remediation=("Find the pages where the step's event does not fire (GTM Preview or Tag Assistant on each "
                 "template; GA4 Admin > DebugView), fix the trigger or add the tag to the template that lacks "
                 "it, then compare the two steps' users again (GA4 Reports > Engagement > Events; API: "
                 "properties:runReport with eventName and totalUsers)."),
    references=("Google Analytics Help: [GA4] Recommended events",
                "Google Analytics Help: [GA4] Measure ecommerce",
                "Google Analytics Help: [GA4] Funnel exploration"),
    params={
        "ratio": Param("A step recording at most this share of the users of a step that must come after it is a "
                       "break (0.1 = a tenth). The funnel view sets such a step beside the ladder at 0.1.",
                       default=BREAK_RATIO),
        "min_users": Param("Users (events, in a report without users) over 28 days the later step needs before a "
                           "gap is judged: a tiny property is noise. Below five times this, a break is at most "
                           "medium.", default=BREAK_MIN_USERS),
    },
    requires=("ga4",),
    example=("view_item_list is not tracked everywhere it happens: 41 users of view_item_list against 5,210 of "
             "select_item, a click in its list, which can only follow it (0.8%, at most 10.0% is a break); likely "
             "cause: the view_item_list tag is missing on a list template (category, search results, "
             "recommendation blocks) or its GTM trigger does not fire there, unless select_item is counted twice"),
    evidence=("The 28-day GA4 users (event counts in a report without users) of the profile's funnel steps, "
              "spelling folded, compared pairwise in the profile's order (rules/profiles/<profile>.yaml `funnel:` "
              "and `side_steps:`); the same counts the funnel view shows."),
    check=check,
)
