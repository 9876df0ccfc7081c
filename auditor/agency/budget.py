"""The Google Ads operation budget of an agency run (`ads: {daily_operations: ...}` in the config).

Access to the Google Ads API is the level of the credentials' Google Cloud project, and Explorer and Basic access
allow so many operations a day (one per query, streamed or paged). A client account may cost
`auditor.live.ADS_OPERATIONS_PER_CLIENT` of them. A run whose clients would cost more than the budget audits the
clients it can afford, longest unaudited first (the history says when each was last audited; never audited
first), and defers the rest: they are listed in the summary, are not errors, and, not audited this time, come
first in the next run. A shard of N spends at most its share, the budget / N. GA4-only clients cost no Google Ads
operation and are always audited. Offline runs spend nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from auditor.agency.log import Log
from auditor.agency.settings import Settings
from auditor.agency.summary import AdsBudget
from auditor.agency.targets import Target

if TYPE_CHECKING:
    from auditor.history import History

T = TypeVar("T")


@dataclass(frozen=True)
class Plan(Generic[T]):
    """Which clients a run audits (in this order) and which it defers, and the operations it plans at most."""

    audit: list[T]
    deferred: list[T] = field(default_factory=list)
    operations: int = 0  # at most, for the clients audited
    budget: int | None = None  # None: no budget


def plan(targets: Sequence[T], cost: Callable[[T], int], budget: int | None,
         last_audited: Callable[[T], int | None]) -> Plan[T]:
    """Every target when they fit the budget (in their own order); else the ones that fit, longest unaudited first
    (`last_audited`: the run that last audited it, None if never; the targets' order breaks ties)."""
    total = sum(cost(t) for t in targets)
    if budget is None or total <= budget:
        return Plan(list(targets), [], total, budget)

    def age(i: int) -> tuple[int, int]:
        last = last_audited(targets[i])
        return (-1 if last is None else last, i)

    audit: list[T] = []
    deferred: list[T] = []
    left = budget
    for i in sorted(range(len(targets)), key=age):
        c = cost(targets[i])
        if c <= left:
            audit.append(targets[i])
            left -= c
        else:
            deferred.append(targets[i])
    return Plan(audit, deferred, budget - left, budget)


def shard_budget(daily_operations: int | None, shard: tuple[int, int] | None) -> int | None:
    """A shard's share of the day's operations (the shards of a run share one Cloud project)."""
    if daily_operations is None or shard is None:
        return daily_operations
    return daily_operations // shard[1]


def within_budget(st: Settings, targets: list[Target], history: History | None,
                  log: Log) -> tuple[list[Target], AdsBudget | None]:
    """The clients this run audits under its Google Ads budget, and the budget as the summary tells it (None:
    no budget, or an offline run)."""
    daily = shard_budget(st.cfg.ads.daily_operations, st.shard)
    if daily is None or st.offline is not None:
        return targets, None
    from auditor.live import ADS_OPERATIONS_PER_CLIENT

    def cost(t: Target) -> int:
        return ADS_OPERATIONS_PER_CLIENT if t.spec is not None and t.spec.customer else 0

    last = history.last_audited([t.name for t in targets]) if history is not None else {}
    p = plan(targets, cost, daily, lambda t: last.get(t.name))
    share = f" (this shard's share of {st.cfg.ads.daily_operations:,})" if st.shard else ""
    if p.deferred:
        names = ", ".join(t.name for t in p.deferred[:5]) + (" ..." if len(p.deferred) > 5 else "")
        log.info(f"Google Ads budget: {daily:,} operations a day{share} at {ADS_OPERATIONS_PER_CLIENT} per client "
                 f"account: {len(p.audit)} of {len(targets)} client(s) audited, longest unaudited first; "
                 f"{len(p.deferred)} deferred to the next run: {names}")
    else:
        log.detail(f"Google Ads budget: {daily:,} operations a day{share}; this run plans at most {p.operations:,}")
    return p.audit, AdsBudget(daily, p.operations, [t.name for t in p.deferred])
