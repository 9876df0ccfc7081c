"""Live audits: which clients to read (targets) and reading them concurrently through the connectors.

A live run reads each client with a fixed number of calls when nothing pages: GA4 6 (properties.get, keyEvents.list,
batchRunReports with the 28-day event report and the Ads-attributed key events, getDataRetentionSettings,
googleAdsLinks.list, getAttributionSettings), Google Ads 10 searchStream queries (conversion actions, 30-day stats,
customer goals, tracking settings, campaigns, campaign goals, campaign goal configs, offline conversion upload
summaries per upload client and per conversion action, 90-day conversion lag) and an 11th, custom conversion goals,
only when a campaign bids on one; plus up to 3 GA4 funnel reports (v1alpha runFunnelReport) for the micro
events that decide a finding, planned from the bodies already read (`auditor.audit.plan_funnels`), on a bounded
thread pool. Both connectors are built once and shared by every worker. The client libraries are imported only
when a connector is built, so `audit --help` and offline runs never load them.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, ConfigError
from auditor.raw import RawClient

if TYPE_CHECKING:
    from auditor.connectors.ads import AdsConnector
    from auditor.connectors.ga4 import GA4Connector
    from auditor.model import ClientHistory
    from auditor.result import ClientResult
    from auditor.ruleset import Ruleset

# Default --jobs. Each worker reads one client at a time, call after call, so 4 workers keep at most 4 requests in
# flight. GA4 Admin allows 600 requests per minute per user (1,200 per project) and a client with both sources
# costs 5 Admin calls of its 13: 4 workers at 0.25 s or more per call send at most ~370 Admin requests a minute
# (GA4-only clients, 5 of 6, up to ~800: RESOURCE_EXHAUSTED is retried with backoff). The Data API's 10
# concurrent requests per property are never approached (one Data call per property at a time; funnel reports
# have their own quota category). Google Ads counts operations per day (one per query, 10 or 11 per
# client), which concurrency does not change.
DEFAULT_JOBS = 4
# When nothing pages; see the module docstring. "ads_custom_goals" is the query added only when a campaign's goal
# config names a custom conversion goal. "ga4_funnels" is a maximum (auditor.hierarchy.MAX_FUNNEL_REPORTS): none
# for a client whose plan is empty (no GA4, no macro with users, no micro worth measuring).
CALLS_PER_CLIENT = {"ga4": 6, "ads": 10, "ads_custom_goals": 1, "ga4_funnels": 3}
# Google Ads operations a client account may cost: one per query (streamed or paged), the custom goals query counted
# for every account, so a run never spends more than it planned.
ADS_OPERATIONS_PER_CLIENT = CALLS_PER_CLIENT["ads"] + CALLS_PER_CLIENT["ads_custom_goals"]

_PROPERTY = re.compile(r"(?:properties/)?(\d+)")
_SERVICE_ACCOUNT = re.compile(r"@[A-Za-z0-9.-]*\.gserviceaccount\.com$")

Warn = Callable[[str], None]
# The (micro, macro) event pairs to read GA4 funnel reports for, from a client's GA4 and Ads bodies.
Planner = Callable[[RawClient], list[tuple[str, str]]]


@dataclass(frozen=True)
class Target:
    """One client of a live run: a GA4 property and/or a Google Ads customer."""

    name: str | None  # None: named after the account once it is read (a client given by --property/--customer)
    property: str | None = None  # digits
    customer: str | None = None  # 10 digits
    profile: str | None = None
    manager: str | None = None  # login customer id for this customer's Ads calls (None: the settings' one)

    def label(self) -> str:
        if self.name:
            return self.name
        return "-".join(x for x in (self.property and f"property-{self.property}",
                                    self.customer and f"customer-{self.customer}") if x)


@dataclass
class Fetched:
    """What one target gave: its raw bodies, or the one-line reasons it could not be read."""

    target: Target
    name: str
    raw: RawClient | None
    errors: list[str] = field(default_factory=list)


def ads_operations(targets: Iterable[Target]) -> int:
    """Google Ads operations the targets cost at most (GA4-only clients cost none)."""
    return sum(ADS_OPERATIONS_PER_CLIENT for t in targets if t.customer)


# -- ids --------------------------------------------------------------------------------------------------------

def property_id(value: str) -> str:
    m = _PROPERTY.fullmatch(str(value).strip())
    if not m:
        raise ConfigError(f"GA4 property {value!r}: expected digits such as 123456789 (Admin > Property settings; "
                          "a G-XXXX measurement id is not a property id)")
    return m.group(1)


def customer_id(value: str, what: str = "customer id") -> str:
    cid = re.sub(r"[\s-]", "", str(value)).removeprefix("customers/")
    if not re.fullmatch(r"\d{10}", cid):
        raise ConfigError(f"Google Ads {what} {str(value)!r}: expected 10 digits, like 123-456-7890")
    return cid


def scrub(text: str) -> str:
    """Secrets and personal e-mail addresses out of a message, as a recording is redacted (service-account
    addresses stay: the fix names them)."""
    from auditor.connectors.redact import scrub as redact_text

    return redact_text(text, keep=lambda address: _SERVICE_ACCOUNT.search(address) is not None)


def slug(text: str) -> str:
    """A client folder name from an account name: 'Northwind Outfitters' -> 'northwind-outfitters'."""
    from auditor.connectors.redact import scrub as redact_text

    text = redact_text(text, replacement="")  # a name holding an address must not leak it into a folder name
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")


# -- the run's connectors ----------------------------------------------------------------------------------------

class Live:
    """Credentials and connectors of one live run. Each connector is built once, on first need, and shared by
    every worker (both are thread-safe); `prepare` builds them and fetches tokens up front.

    `planner` picks the funnel reports to read for a client (`funnel_planner(ruleset)`; `iter_live` sets it when
    it is None). Without one, no funnel report is read. `detail` takes the lines -v shows (how the connectors were
    set up, what the run will spend)."""

    def __init__(self, ga4_credentials: str | None = None, ads_config: str | None = None,
                 jobs: int = DEFAULT_JOBS, planner: Planner | None = None, detail: Warn | None = None) -> None:
        self.ga4_credentials, self.ads_config, self.jobs = ga4_credentials, ads_config, jobs
        self.planner = planner
        self.detail: Warn = detail or (lambda _: None)
        self._lock = threading.Lock()
        self._ga4: GA4Connector | None = None
        self._ads: AdsConnector | None = None
        self._links: dict[str, list[dict[str, Any]]] = {}  # property -> googleAdsLinks pages read by discovery

    def ga4(self) -> GA4Connector:
        with self._lock:
            if self._ga4 is None:
                from dataclasses import replace

                from auditor.connectors.ga4 import GA4Connector, GA4Settings
                from auditor.connectors.ga4_auth import load_ga4_credentials

                creds = load_ga4_credentials(self.ga4_credentials)[0] if self.ga4_credentials else None
                settings = GA4Settings.from_env(creds)  # None: application default credentials
                settings = replace(settings, max_connections=max(settings.max_connections, 2 * self.jobs))
                self._ga4 = GA4Connector(settings)
            return self._ga4

    def ads(self) -> AdsConnector:
        with self._lock:
            if self._ads is None:
                from auditor.connectors.ads import AdsConnector
                from auditor.connectors.ads_auth import load_ads_settings, token_note

                self._ads = AdsConnector(load_ads_settings(self.ads_config))
                self.detail(token_note(self._ads.settings))
            return self._ads

    def prepare(self, targets: Iterable[Target]) -> None:
        """Build the connectors the targets need and get their tokens: missing or rejected credentials fail
        here, once, as one line (exit 2), before any client is read or any report line written."""
        targets = list(targets)
        if any(t.property for t in targets):
            self.ga4().ensure_token()
        if any(t.customer for t in targets):
            self.ads().ensure_token()
            assert self._ads is not None
            accounts, spent = sum(1 for t in targets if t.customer), self._ads.calls_made()  # spent: discovery
            self.detail(f"Google Ads: this run spends at most {ads_operations(targets) + spent:,} operations: "
                        f"{accounts} client account(s) x {ADS_OPERATIONS_PER_CLIENT} ({CALLS_PER_CLIENT['ads']} "
                        f"searchStream queries, +{CALLS_PER_CLIENT['ads_custom_goals']} when a campaign bids on a "
                        f"custom goal)" + (f", plus {spent} spent on discovery" if spent else "")
                        + "; one query is one operation")

    def calls(self) -> dict[str, int]:
        """API calls made so far: GA4 (failed attempts included), Ads queries and Ads retries."""
        out: dict[str, int] = {}
        if self._ga4 is not None:
            out["ga4"] = self._ga4.calls_made()
        if self._ads is not None:
            out["ads"] = self._ads.calls_made()
            out["ads_retries"] = self._ads.retries_made()
        return out

    def api_versions(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self._ga4 is not None:
            from auditor.connectors.ga4 import API_VERSIONS

            out.update({"ga4_admin": API_VERSIONS["admin"], "ga4_data": API_VERSIONS["data"]})
            if self._ga4.attribution_used():
                out["ga4_admin_attribution"] = API_VERSIONS["admin_attribution"]
            if self._ga4.funnels_used():
                out["ga4_data_funnels"] = API_VERSIONS["data_funnels"]
        if self._ads is not None:
            from auditor.connectors.ads import API_VERSION

            out["google_ads"] = API_VERSION
        return out

    def close(self) -> None:
        if self._ads is not None:
            self._ads.close()

    # -- reading one target -------------------------------------------------------------------------------------

    def fetch(self, target: Target) -> Fetched:
        """Every body of one target. Never raises: a source that fails is one line in `errors`.

        Once both sources are read, the planner (if any) picks the GA4 funnel reports worth reading from those
        bodies; they land in ``ga4/funnels.json``, or, when the API refuses them, under `missing`."""
        bodies: dict[str, list[dict[str, Any]]] = {}
        missing: dict[str, str] = {}
        errors: list[str] = []
        if target.property:
            try:
                b, m = self.ga4().fetch(target.property, links=self._links.pop(target.property, None))
                bodies.update(b)
                missing.update(m)
            except AuditorError as e:
                errors.append(scrub(str(e)))
            except Exception as e:  # a bug must cost one client, not the run
                errors.append(f"GA4 property {target.property}: internal error: {type(e).__name__}: {e}")
        from auditor.clock import run_date

        read_on = run_date()  # the day this client's data is read: its ages are measured from it
        if target.customer:
            try:
                b, m = self.ads().fetch(target.customer, login_customer_id=target.manager, today=read_on)
                bodies.update(b)
                missing.update(m)
            except AuditorError as e:
                errors.append(scrub(str(e)))
            except Exception as e:
                errors.append(f"Google Ads customer {target.customer}: internal error: {type(e).__name__}: {e}")
        name = target.name or _name_from_bodies(bodies) or target.label()
        if errors:
            return Fetched(target, name, None, errors)
        raw = RawClient(name=name, bodies=bodies, profile=target.profile, origin=name, missing=missing,
                        read_on=read_on)
        if target.property and self.planner is not None:
            error = self._funnels(target.property, raw, self.planner)
            if error:
                return Fetched(target, name, None, [error])
        raw.missing = {k: scrub(v) for k, v in raw.missing.items()}
        return Fetched(target, name, raw)

    def _funnels(self, property_id: str, raw: RawClient, planner: Planner) -> str | None:
        """Read the funnel reports `planner` asks for into `raw`. Returns the line that makes the client errored,
        if any: the same rules as the other GA4 calls (refused is missing, unreachable is an error)."""
        from auditor.connectors.ga4 import OptionalMissing

        try:
            pairs = planner(raw)
            if pairs:
                raw.bodies["ga4/funnels.json"] = self.ga4().funnel_reports(property_id, pairs)
        except OptionalMissing as e:
            raw.missing["ga4/funnels.json"] = e.reason
        except AuditorError as e:
            return scrub(str(e))
        except Exception as e:  # a bug in the planner or the call must cost this client, not the run
            return f"GA4 property {property_id}: funnel reports: internal error: {type(e).__name__}: {e}"
        return None


def _name_from_bodies(bodies: dict[str, list[dict[str, Any]]]) -> str | None:
    """The Ads account name (usually the business), else the GA4 property name, as a folder-safe slug."""
    for body in bodies.get("ads/conversion_stats.json") or ():
        for row in body.get("results") or ():
            name = slug((row.get("customer") or {}).get("descriptiveName") or "")
            if name:
                return name
    for body in bodies.get("ga4/property.json") or ():
        name = slug(body.get("displayName") or "")
        if name:
            return name
    return None


# -- targets -----------------------------------------------------------------------------------------------------

def resolve_targets(ruleset: Ruleset, property_arg: str | None, customer_arg: str | None, discover: bool,
                    manager_arg: str | None, live: Live | None = None, warn: Warn | None = None) -> list[Target]:
    """The clients of a live run, in the order they are reported.

    --property/--customer: one client. --discover: every property the GA4 credentials reach and every client
    account under the manager (--manager, else the Ads settings' login_customer_id), paired through each
    property's Google Ads links. Otherwise the config file's clients. --manager is also the login customer id
    of the Ads calls.
    """
    manager = customer_id(manager_arg, "manager id") if manager_arg else None
    user = ruleset.user
    configured = list(user.clients) if user else []
    if property_arg or customer_arg:
        if discover:
            raise ConfigError("give --property/--customer for one client, or --discover, not both")
        return [Target(None, property_id(property_arg) if property_arg else None,
                       customer_id(customer_arg) if customer_arg else None, None, manager)]
    if discover:
        return _discover(live or Live(), manager, configured, warn or (lambda _: None))
    if not configured:
        hint = " (--manager needs --discover, --customer or config clients)" if manager else ""
        raise ConfigError(f"no clients to audit: give --property and/or --customer, --discover, or a config file "
                          f"with clients{hint}")
    # A target's profile is the client's own; the run's (--profile, config profile/defaults.profile) lives in the
    # ruleset, so the result can say which of the two it came from.
    return [Target(c.name, c.property, c.customer, c.profile, manager) for c in configured]


def _discover(live: Live, manager: str | None, configured: list[Any], warn: Warn) -> list[Target]:
    properties: list[dict[str, str]] = []
    accounts: list[dict[str, Any]] = []
    ga4_error: ConfigError | None = None
    try:
        live.ga4().ensure_token()
        properties = live.ga4().discover()
    except ConfigError as e:  # no GA4 credentials: fine when Ads discovery is asked for explicitly
        ga4_error = e
        if manager is None:
            raise
        warn(f"GA4 properties not discovered: {scrub(str(e))}")
    ads_manager = manager
    if ads_manager is None:
        try:
            ads_manager = live.ads().settings.login_customer_id
        except ConfigError as e:
            warn(f"Google Ads accounts not discovered: {scrub(str(e))}")
        else:
            if ads_manager is None:
                warn("Google Ads accounts not discovered: give --manager (or login_customer_id in the Google Ads "
                     "settings) naming the manager account to list client accounts under")
    if ads_manager is not None:
        live.ads().ensure_token()
        accounts = live.ads().discover(ads_manager)
    if ga4_error is None and not properties:
        warn("the GA4 credentials reach no property (accountSummaries.list is empty)")

    # Pairing needs every property's links: read them now, concurrently, and hand them to the fetch later so a
    # client still costs 6 GA4 calls.
    links: dict[str, list[dict[str, Any]]] = {}
    if properties and accounts:
        from auditor.connectors.ga4 import OptionalMissing

        def read(pid: str) -> tuple[str, list[dict[str, Any]] | None]:
            try:
                return pid, live.ga4().ads_links(pid)
            except (OptionalMissing, AuditorError):  # unpaired; the fetch will read (and report) them again
                return pid, None

        with ThreadPoolExecutor(max_workers=live.jobs, thread_name_prefix="auditor-links") as pool:
            for pid, pages in pool.map(read, [p["property"] for p in properties]):
                if pages is not None:
                    links[pid] = pages
    by_customer = {a["customer"]: a for a in accounts}
    paired: dict[str, str] = {}  # property -> customer
    taken: set[str] = set()
    for p in properties:
        for page in links.get(p["property"]) or ():
            ids = sorted(re.sub(r"\D", "", str(link.get("customerId") or ""))
                         for link in page.get("googleAdsLinks") or ())
            cid = next((c for c in ids if c in by_customer and c not in taken), None)
            if cid:
                paired[p["property"]] = cid
                taken.add(cid)
                break
    live._links.update(links)

    by_property = {c.property: c for c in configured if c.property}
    by_account = {c.customer: c for c in configured if c.customer}
    found: list[tuple[str, str | None, str | None, Any]] = []
    for p in properties:
        cid = paired.get(p["property"])
        account = by_customer.get(cid) if cid else None
        name = slug((account or {}).get("descriptive_name") or "") or slug(p.get("display_name") or "")
        found.append((name or f"property-{p['property']}", p["property"], cid,
                      by_property.get(p["property"]) or (by_account.get(cid) if cid else None)))
    for a in accounts:
        if a["customer"] not in taken:
            found.append((slug(a.get("descriptive_name") or "") or f"customer-{a['customer']}", None, a["customer"],
                          by_account.get(a["customer"])))
    targets: list[Target] = []
    used: set[str] = set()
    for name, pid, cid, conf in found:
        if conf is not None:  # a configured client keeps its own name and profile
            name = conf.name
        if name in used:  # two accounts with one name: the id tells them apart
            name = f"{name}-{pid or cid}"
        used.add(name)
        profile = conf.profile if conf is not None else None
        targets.append(Target(name, pid, cid, profile, ads_manager if cid else None))
    return sorted(targets, key=lambda t: t.name or "")


# -- reading many targets -----------------------------------------------------------------------------------------

def funnel_planner(ruleset: Ruleset) -> Planner:
    """The run's funnel-report planner: the pairs the audit of a client's data under `ruleset` will judge."""
    from auditor.audit import plan_funnels  # imported here, not at module level, like iter_live's audit imports

    return lambda raw: plan_funnels(raw, ruleset)


def iter_fetched(targets: Iterable[Target], jobs: int, live: Live) -> Iterator[Fetched]:
    """Fetch targets on `jobs` threads, yielded in target order. At most 2 x jobs are in flight or waiting to
    be consumed, so memory stays flat however many clients there are (a slow client holds back the ones after
    it, not the pool)."""
    window = max(1, 2 * jobs)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="auditor-fetch")
    pending: deque[Future[Fetched]] = deque()
    todo = iter(targets)
    try:
        for t in todo:
            pending.append(pool.submit(live.fetch, t))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # interrupted or closed early: drop what has not started
        pool.shutdown(wait=False, cancel_futures=True)


def iter_live(targets: list[Target], ruleset: Ruleset, jobs: int = DEFAULT_JOBS, live: Live | None = None,
              history: Callable[[str], ClientHistory | None] | None = None) -> Iterator[ClientResult]:
    """Audit results of `targets`, in target order (see `iter_fetched`); `history` gives a client's earlier
    complete runs by name (agency runs), read here, when the client is audited.

    Not a generator itself: connectors are built and tokens fetched now, so missing or rejected credentials
    raise (one line, exit 2) before the caller writes any report. A client whose data could not be read is
    an errored result naming the reason; one whose optional calls failed is incomplete, never a pass.
    """
    from auditor.audit import audit_raw, error_result

    live = live or Live(jobs=jobs)
    if live.planner is None:
        live.planner = funnel_planner(ruleset)
    if not targets:
        raise ConfigError("no clients to audit: discovery found no property or client account")
    live.prepare(targets)

    def results() -> Iterator[ClientResult]:
        try:
            for f in iter_fetched(targets, jobs, live):
                if f.raw is None:
                    yield error_result(f.name, f.errors, f.target.profile or ruleset.configured_profile)
                else:
                    yield audit_raw(f.raw, ruleset, history=history(f.raw.name) if history is not None else None)
        finally:
            live.close()

    return results()
