"""Which clients a run audits, and their results one at a time: offline from client folders, live through the
Google APIs; `--shard K/N` keeps the clients whose name hashes to shard K."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.agency.log import Log
from auditor.agency.settings import Settings
from auditor.config import ClientTarget
from auditor.errors import ConfigError, describe
from auditor.history import HistoryError
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

if TYPE_CHECKING:
    from auditor.model import ClientHistory

# A client's earlier complete runs, by client name (agency runs with history); None: no history kept.
Earlier = Callable[[str], "ClientHistory | None"]


@dataclass
class Target:
    name: str
    profile: str | None = None
    recipients: list[str] = field(default_factory=list)
    folder: Path | None = None  # offline
    configured: bool = False  # listed in the config (its recipients come from there, not from client.yaml)
    spec: Any = None  # live: the target as resolve_targets returned it, handed back to iter_live


Audited = tuple[Target, ClientResult, list[str]]  # (target, result, extra recipients from client.yaml)


def shard_index(name: str, n: int) -> int:
    """1-based shard of a client: a hash of its name, so it stays in its shard as clients come and go (and
    per-shard history keeps working). Not Python's hash(): that differs between processes."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % n + 1


def folder_client_name(name: str) -> str:
    """The client name of a folder: its name, unless that is not valid UTF-8 (undecodable bytes cannot be written
    to a report): then the bytes become U+FFFD plus a short hash of them, so two such folders stay apart."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        return f"{raw.decode('utf-8', 'replace')}-{hashlib.sha256(raw).hexdigest()[:8]}"


def targets_of(st: Settings, log: Log) -> list[Target]:
    """The run's clients, this shard's only."""
    targets = offline_targets(st, log) if st.offline is not None else live_targets(st, log)
    if st.shard:
        k, n = st.shard
        targets = [t for t in targets if shard_index(t.name, n) == k]
    return targets


def offline_targets(st: Settings, log: Log) -> list[Target]:
    """Config clients map to DIR/<name>. With no clients in the config, every client folder in DIR is audited."""
    assert st.offline is not None
    return folder_targets(st.offline, st.cfg.clients, log.info)


def folder_targets(root: Path, clients: list[ClientTarget], info: Callable[[str], None]) -> list[Target]:
    """The clients of an offline run, as `audit run` and `audit --offline` both choose them: the config's clients
    map to ROOT/<name> (a missing folder is that client's error); with no clients in the config, every client
    folder in ROOT. `info` is told how many folders the config leaves out."""
    from auditor.connectors.offline import client_dirs, is_client_dir

    folders = list(client_dirs(root))  # ConfigError (exit 2) when DIR is missing or empty
    if not clients:
        return [Target(folder_client_name(f.name), folder=f) for f in folders]
    by_name = {f.name: f for f in folders}
    if is_client_dir(root):
        by_name = {root.name: root}
    targets = [Target(c.name, c.profile, list(c.recipients), by_name.get(c.name), configured=True)
               for c in clients]
    extra = len(set(by_name) - {c.name for c in clients})
    if extra:
        info(f"{extra} client folder(s) in {root} are not in the config and were skipped")
    return targets


def audit_targets(targets: list[Target], ruleset: Ruleset, root: Path) -> Generator[ClientResult, None, None]:
    """The results of offline targets, one at a time, as `audit run` audits them (without history)."""
    from auditor.audit import recorded_missing

    missing = recorded_missing(root)
    for t in targets:
        yield _audit_offline(t, ruleset, missing.get(t.folder.name) if t.folder else None)[0]


def live_targets(st: Settings, log: Log) -> list[Target]:
    """The config's clients as auditor.live targets (the Google client libraries load only now)."""
    try:
        from auditor.live import Live, resolve_targets
    except ImportError as e:
        raise ConfigError(f"live auditing is not available ({e}); use --offline DIR") from None
    if not st.cfg.clients:
        raise ConfigError(f"{st.config_path or 'no config given'}: no clients to audit; list them under clients: "
                          "or audit recorded responses with --offline DIR")
    st.live = Live(st.ga4_credentials, st.ads_config, st.jobs, detail=log.detail)
    conf: dict[str, ClientTarget] = {c.name: c for c in st.cfg.clients}
    out = []
    for spec in resolve_targets(st.ruleset, None, None, False, None, st.live, warn=log.warn):
        c = conf.get(spec.name or "")
        out.append(Target(spec.label(), spec.profile, list(c.recipients) if c else [], configured=c is not None,
                          spec=spec))
    return out


def _audit_offline(t: Target, ruleset: Ruleset, missing: dict[str, str] | None,
                   history: ClientHistory | None = None) -> tuple[ClientResult, list[str]]:
    """One offline client -> (result, recipients from its client.yaml), audited with its earlier runs."""
    from auditor.audit import audit_client_folder, error_result

    if t.folder is None or not t.folder.is_dir():
        where = t.folder or f"{t.name}/"
        return error_result(t.name, [f"offline: no client folder {where} (config clients map to DIR/<name>)"],
                            t.profile), []
    result, settings = audit_client_folder(t.folder, ruleset, name=t.name, profile=t.profile, missing=missing,
                                           history=history)
    recipients = settings.get("recipients") or []
    return result, recipients if isinstance(recipients, list) else [recipients]


def iter_results(st: Settings, targets: list[Target], earlier: Earlier | None = None) -> Generator[Audited, None, None]:
    """(target, result, extra recipients), one client at a time; every target gets a result. `earlier` gives a
    client's earlier complete runs (read just before the client is audited), for the rules that watch trends."""
    if st.offline is not None:
        from auditor.audit import recorded_missing

        missing = recorded_missing(st.offline)  # a recording's partial clients stay partial
        for t in targets:  # audit_client_folder never raises: whatever one client raises is its own error
            history = earlier(t.name) if earlier is not None else None
            result, extra = _audit_offline(t, st.ruleset, missing.get(t.folder.name) if t.folder else None, history)
            yield t, result, extra
        return
    if not targets:
        return
    from auditor.live import Live, iter_live

    # iter_live yields in target order; the name check guards against a connector renaming a client
    live = st.live if st.live is not None else Live(jobs=st.jobs)
    results = iter_live([t.spec for t in targets], st.ruleset, st.jobs, live, history=earlier)
    stopped: str | None = None
    try:
        for t in targets:
            if stopped is None:
                try:
                    result = next(results)
                except StopIteration:
                    stopped = "the live connector returned no result for it"
                except HistoryError:  # the run's own database: it stops the run, not a client
                    raise
                except Exception as e:  # a generator that raised is finished: the clients after it are not read
                    stopped = f"live: {describe(e)}"
                    yield t, _not_audited(t, f"cannot audit: {stopped}"), []
                    stopped = f"not read: the live connector stopped at an earlier client ({stopped})"
                    continue
                else:
                    yield (t if result.name == t.name else Target(result.name)), result, []
                    continue
            yield t, _not_audited(t, stopped), []
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _not_audited(t: Target, message: str) -> ClientResult:
    from auditor.audit import error_result

    return error_result(t.name, [message], t.profile)


def recipients_of(t: Target, extra: list[str], log: Log) -> list[str]:
    """The owners of a client: the config's, else the valid addresses of its folder's client.yaml."""
    from auditor.config import check_address

    if t.configured:
        return t.recipients
    ok = []
    for a in extra:  # from a fixture's client.yaml: validated like the config's
        try:
            ok.append(check_address(str(a)))
        except ValueError:
            log.warn(f"{t.name}: client.yaml: recipients: not a plain e-mail address; skipped")
    return ok
