"""What a judgement rests on: one event's or action's strength toward the account's macro, with its numbers.

Rules attach an `Evidence` to every finding that rests on a classification; its `text()` goes into the finding's
message and `to_json()` into the JSON result, so a reader sees why an event was called strong, weak or unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from auditor.taxonomy import PROXY_STRENGTHS, Strength

# funnel: a GA4 funnel report (conditional rate); ratio: macro users / event users (an upper bound) or, for
# Google Ads actions without GA4 users, macro conversions / action conversions; config: the user's taxonomy;
# name: the taxonomy's lists or the words of the name; category: the Google Ads category; none: nothing.
Basis = Literal["funnel", "ratio", "config", "name", "category", "none"]
# Where the event sits relative to the macro: a step before it, after or beside it (fewer users: a funnel
# narrows, so it cannot come before), the macro itself, or unknown (no volume to compare).
Position = Literal["before", "after", "macro", "unknown"]
Metric = Literal["users", "conversions"]

_CLASS_LABEL = {"very_high": "very high", "high": "high", "medium": "medium", "low": "low", "unknown": "unknown",
                "macro": "macro"}


def pct(rate: float) -> str:
    return f"{100 * rate:.1f}%" if rate < 0.9995 else f"{100 * rate:.0f}%"


def count(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"


def conversions(conv: float, all_conv: float) -> str:
    """An action's 30-day counts, each labelled: '431 conv., 446 all conv.', or '431 conv.' when they agree
    (Conversions counts primary actions only; All conversions every action)."""
    if abs(all_conv - conv) < 0.05:
        return f"{count(conv)} conv."
    return f"{count(conv)} conv., {count(all_conv)} all conv."


@dataclass(frozen=True)
class Evidence:
    """The strength of one event or Google Ads action toward the macro, and what that rests on."""

    event: str | None  # GA4 event name
    action: str | None  # Google Ads action name, when the subject is an action
    strength: Strength | Literal["macro"]
    basis: Basis
    position: Position = "unknown"
    metric: Metric | None = None
    period_days: int | None = None
    users: float | None = None  # the subject's users (28 days) or conversions (30 days), per `metric`
    macro: str | None = None  # the account's macro it is measured against
    macro_users: float | None = None
    rate: float | None = None  # share of the subject's users reaching the macro (funnel), or its upper bound
    measure: Literal["funnel", "ratio"] | None = None  # what `rate` is: a funnel report's, or the upper bound
    detail: str = ""  # what the config, the name or the category says
    returning: bool = False  # a returning-user action (log in, app open): counts people who already converted
    funnel_users: float | None = None  # a funnel report's base: its active users at the step (measure "funnel")

    @property
    def subject(self) -> str:
        return f"'{self.action}'" if self.action else (self.event or "?")

    @property
    def proxy_grade(self) -> bool:
        """Strong enough to stand in for the macro as a bidding goal, and not measured after it (without volume
        to place it, the name's expectation is all there is, and the evidence says so)."""
        return self.position in ("before", "unknown") and self.strength in PROXY_STRENGTHS

    @property
    def label(self) -> str:
        return _CLASS_LABEL[self.strength]

    def measured(self) -> str:
        """The numbers alone: '6.6% of its 122 users then did generate_lead (GA4 funnel report, 28 days)'."""
        if self.rate is None or self.users is None:
            return ""
        if self.measure == "funnel":
            base = self.funnel_users if self.funnel_users is not None else self.users
            return (f"{pct(self.rate)} of its {count(base)} users in a GA4 funnel report then did {self.macro} "
                    f"({self.period_days} days)")
        if self.metric == "conversions":
            return (f"up to {pct(self.rate)}: {count(self.macro_users or 0)} macro conv. to its "
                    f"{count(self.users)} conv. ({self.period_days} days)")
        return (f"up to {pct(self.rate)} of its {count(self.users)} users did {self.macro} "
                f"({count(self.macro_users or 0)} users, {self.period_days} days)")

    def text(self) -> str:
        """One clause for a finding's message, starting with the class."""
        if self.strength == "macro":
            return f"macro: {self.detail}"
        if self.returning:
            return f"a returning-user action, never a conversion ({self.detail})"
        measured = self.measured()
        if self.position == "after" and self.users is not None:
            unit = "users" if self.metric == "users" else "conv."
            lead = "low, and " if self.strength == "low" else ""
            return (f"{lead}after or beside the macro: {count(self.users)} {unit}, fewer than the "
                    f"{count(self.macro_users or 0)} of {self.macro} ({self.period_days} days); a funnel narrows, "
                    "so it cannot be a step before it")
        if self.basis == "funnel":
            return f"{self.label}: {measured}"
        if self.basis == "config":
            return f"{self.label} by config ({self.detail})" + (f"; measured {measured}" if measured else "")
        if self.basis == "ratio":
            if self.strength == "unknown":
                return (f"unknown: {measured}, but that ratio is only an upper bound (the users are not joined) "
                        "and the name says nothing" + (f" ({self.detail})" if self.detail else ""))
            return f"{self.label}: {measured}; an upper bound, the users are not joined"
        if measured:  # the name or category capped what the ratio allowed
            return f"{self.label} by {self.basis} ({self.detail}); the ratio, {measured}, is only an upper bound"
        if self.basis in ("name", "category"):
            return f"{self.label} by {self.basis} ({self.detail}); no volume to measure it" + (
                f": {self.note}" if self.note else "")
        return f"unknown: {self.note or 'no volume to measure it and the name says nothing'}"

    @property
    def note(self) -> str:
        if self.macro is None:
            return "the account's macro outcome could not be identified"
        if not self.users:
            return f"no {self.metric or 'users'} in {self.period_days or 28} days"
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event, "action": self.action, "class": self.strength, "basis": self.basis,
            "position": self.position, "metric": self.metric, "period_days": self.period_days, "users": self.users,
            "macro": self.macro, "macro_users": self.macro_users,
            "rate": None if self.rate is None else round(self.rate, 4), "measure": self.measure,
            "detail": self.detail, "returning": self.returning, "funnel_users": self.funnel_users,
            "text": self.text(),
        }
