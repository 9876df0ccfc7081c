"""Agency runs: audit every client of a config, write each client's reports, history, a summary, e-mail it.

The run streams: a client is audited, suppressions applied, compared with its previous result in the history,
its files written (atomically) and its history row committed before the next client starts. Only a small
summary row per client stays in memory; per-owner e-mails re-read each client's JSON from disk.

`--shard K/N` audits the clients whose name hashes to shard K and writes `shard-K-of-N.json` instead of the
summary; `audit merge` combines the shard files into one summary and sends the e-mails.

Nothing one client does stops the run: reading and auditing it, its suppressions, the comparison with its
history, rendering and writing its reports are one unit, and whatever that unit raises makes that client errored
(one log line naming the client, the file and the cause) while the others go on. Only a failure of the run itself
stops it (`RunFailed`: a full disk or read-only file system, the history database): one line naming the path and
the cause, exit 3, and the history never marks such a run complete. A run is complete once every client's
reports and the summary (or shard file) are on disk; only complete runs are baselines of later runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import click

from auditor import __version__
from auditor.config import ClientTarget, EmailSettings, UserConfig, load_config, resolve_path
from auditor.engine import SEVERITIES
from auditor.errors import AuditorError, ConfigError, describe
from auditor.files import file_stem
from auditor.notices import WarningTally
from auditor.ruleset import Ruleset
from auditor.suppressions import Suppressions, load_suppressions
from auditor.text import printable

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_EMAIL, EXIT_LOCKED = 0, 1, 2, 3, 4, 5
EMAIL_ON = ("always", "change", "failure")
EXTENSIONS = {"json": "json", "html": "html", "csv": "csv", "markdown": "md", "table": "txt"}
CLIENTS_DIR = "clients"
LOCK_FILE = ".audit-run.lock"
SHARD_FILE = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")
# errors of the file system, not of one client: every later write would fail the same way, so the run stops
STOPS_RUN = frozenset(e for e in (errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", None)) if e is not None)
SUMMARY_CSV_COLUMNS = ["rank", "client", "status", "score", "grade", "previous_score", "change", "new", "resolved",
                       "persisting", *SEVERITIES, "suppressed", "coverage", "errors", "report"]


# -- errors --------------------------------------------------------------------------------------------------------

class RunFailed(AuditorError):
    """The run itself cannot go on (output folder, disk or history database unusable). One line naming the path
    and the cause; the run exits 3 and is never marked complete in the history."""


class ClientFileError(Exception):
    """One of a client's reports could not be rendered or written: names the file and keeps the cause."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        super().__init__(f"{path}: {describe(cause)}")
        self.path, self.cause = path, cause


def stops_run(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in STOPS_RUN


# -- settings: config file + command line -----------------------------------------------------------------------

@dataclasses.dataclass
class Settings:
    """Everything a run needs, resolved once: config values with paths made absolute, then CLI overrides."""

    cfg: UserConfig
    config_path: Path | None
    ruleset: Ruleset
    out_dir: Path
    formats: list[str]
    history_path: Path | None
    keep_runs: int | None
    suppressions: Suppressions
    email: EmailSettings | None
    email_on: str | None  # None: send nothing
    password: str | None
    fail_on: str
    min_score: int | None
    offline: Path | None = None
    shard: tuple[int, int] | None = None
    jobs: int = 4
    quiet: bool = False
    progress: bool = False
    ga4_credentials: str | None = None  # live: as `audit --ga4-credentials`
    ads_config: str | None = None  # live: as `audit --ads-config`
    live: Any = None  # live: the auditor.live.Live session of this run


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise ConfigError(f"--shard: expected K/N with 1 <= K <= N (for example 2/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def shard_index(name: str, n: int) -> int:
    """1-based shard of a client: a hash of its name, so it stays in its shard as clients come and go (and
    per-shard history keeps working). Not Python's hash(): that differs between processes."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % n + 1


def load_settings(config: str | None, *, offline: Path | None = None, output: str | None = None,
                  history: str | None = None, no_history: bool = False, suppressions: str | None = None,
                  shard: str | None = None, email_on: str | None = None, no_email: bool = False,
                  fail_on: str | None = None, min_score: int | None = None, profile: str | None = None,
                  jobs: int = 4, quiet: bool = False, merging: bool = False, ga4_credentials: str | None = None,
                  ads_config: str | None = None) -> Settings:
    """Config file + command line -> Settings. Raises ConfigError (exit 2) before anything is audited."""
    if config:
        cfg, cfg_path = load_config(config)
        base = cfg_path.resolve().parent
    else:
        cfg, cfg_path, base = UserConfig(), None, Path.cwd()
    ruleset = Ruleset.load(cfg, cfg_path, profile or cfg.defaults.profile)
    out_dir = Path(output).expanduser() if output else resolve_path(base, cfg.output.dir)
    assert out_dir is not None
    formats = list(dict.fromkeys(["json", *cfg.output.formats]))  # JSON is the canonical result: always
    history_path = None
    if history:
        history_path = Path(history).expanduser()
    elif cfg.history.enabled and not no_history:
        history_path = resolve_path(base, cfg.history.path) or out_dir / "history.sqlite"
    if no_history:
        history_path = None
    sup_path = Path(suppressions).expanduser() if suppressions else resolve_path(base, cfg.suppressions)
    sups = load_suppressions(sup_path, list(ruleset.rules)) if sup_path and not merging else Suppressions.empty()
    email, password, mode = cfg.email, None, None
    if email_on and email is None:
        where = cfg_path or "the config (none given)"
        raise ConfigError(f"--email-on {email_on}: {where} has no email: section (host, sender, summary_to...)")
    shard_t = parse_shard(shard) if shard else None
    if email is not None and not no_email and not shard_t:
        mode = email_on or email.when
        if email.ca_file:
            ca = resolve_path(base, email.ca_file)
            if ca is None or not ca.is_file():
                raise ConfigError(f"{cfg_path}: email.ca_file: {ca}: no such file")
            email = email.model_copy(update={"ca_file": str(ca)})
        from auditor.config import config_error
        from auditor.notify import smtp_password

        try:
            password = smtp_password(email)  # missing: a config error now, not a mail failure after auditing
        except ConfigError as e:
            if cfg_path is None:
                raise
            key, _, msg = str(e).partition(": ")
            raise config_error(cfg_path, ("email", *key.split(".")[1:]), msg) from None
    return Settings(cfg=cfg, config_path=cfg_path, ruleset=ruleset, out_dir=out_dir, formats=formats,
                    history_path=history_path, keep_runs=cfg.history.keep_runs, suppressions=sups, email=email,
                    email_on=mode, password=password,
                    fail_on=fail_on or cfg.defaults.fail_on or "low",
                    min_score=min_score if min_score is not None else cfg.defaults.min_score,
                    offline=offline, shard=shard_t, jobs=jobs, quiet=quiet,
                    progress=not quiet and sys.stderr.isatty(), ga4_credentials=ga4_credentials,
                    ads_config=ads_config)


# -- logging -----------------------------------------------------------------------------------------------------

class Log:
    """Plain lines on stderr (cron mails or log files read them); --quiet leaves the errors only.

    Every message is one line, always: control characters (CR, LF, ESC...) in client names or messages become
    "?" (`auditor.text.printable`), so no untrusted text can forge a line or drive the terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.held: list[str] | None = None  # while a progress bar is drawn, lines wait until it is done

    def _emit(self, line: str) -> None:
        line = printable(line)
        if self.held is not None:
            self.held.append(line)
        else:
            click.echo(line, err=True)

    def info(self, msg: str) -> None:
        if not self.quiet:
            self._emit(f"audit: {msg}")

    def warn(self, msg: str) -> None:
        if not self.quiet:
            self._emit(f"audit: warning: {msg}")

    def error(self, msg: str) -> None:
        self._emit(f"audit: error: {msg}")

    def flush(self) -> None:
        held, self.held = self.held or [], None
        for line in held:
            click.echo(line, err=True)


# -- targets -----------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    name: str
    profile: str | None = None
    recipients: list[str] = dataclasses.field(default_factory=list)
    folder: Path | None = None  # offline
    configured: bool = False  # listed in the config (its recipients come from there, not from client.yaml)
    spec: Any = None  # live: the target as resolve_targets returned it, handed back to iter_live


def offline_targets(st: Settings, log: Log) -> list[Target]:
    """Config clients map to DIR/<name>. With no clients in the config, every client folder in DIR is audited."""
    from auditor.connectors.offline import client_dirs, is_client_dir

    assert st.offline is not None
    root = st.offline
    folders = list(client_dirs(root))  # ConfigError (exit 2) when DIR is missing or empty
    if not st.cfg.clients:
        return [Target(folder_client_name(f.name), folder=f) for f in folders]
    by_name = {f.name: f for f in folders}
    if is_client_dir(root):
        by_name = {root.name: root}
    targets = [Target(c.name, c.profile, list(c.recipients), by_name.get(c.name), configured=True)
               for c in st.cfg.clients]
    extra = len(set(by_name) - {c.name for c in st.cfg.clients})
    if extra:
        log.info(f"{extra} client folder(s) in {root} are not in the config and were skipped")
    return targets


def folder_client_name(name: str) -> str:
    """The client name of a folder: its name, unless that is not valid UTF-8 (undecodable bytes cannot be written
    to a report): then the bytes become U+FFFD plus a short hash of them, so two such folders stay apart."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        return f"{raw.decode('utf-8', 'replace')}-{hashlib.sha256(raw).hexdigest()[:8]}"


def _audit_offline(t: Target, ruleset: Ruleset, missing: dict[str, str] | None) -> tuple[dict[str, Any], list[str]]:
    """One offline client -> (result, recipients from its client.yaml)."""
    from auditor.audit import audit_client_folder, error_result

    if t.folder is None or not t.folder.is_dir():
        where = t.folder or f"{t.name}/"
        return error_result(t.name, [f"offline: no client folder {where} (config clients map to DIR/<name>)"],
                            t.profile), []
    result, settings = audit_client_folder(t.folder, ruleset, name=t.name, profile=t.profile, missing=missing)
    recipients = settings.get("recipients") or []
    return result, recipients if isinstance(recipients, list) else [recipients]


Audited = tuple[Target, dict[str, Any], list[str]]  # (target, result, extra recipients)


def iter_results(st: Settings, targets: list[Target]) -> Generator[Audited, None, None]:
    """(target, result, extra recipients), one client at a time."""
    if st.offline is not None:
        from auditor.audit import recorded_missing

        missing = recorded_missing(st.offline)  # a recording's partial clients stay partial
        for t in targets:  # audit_client_folder never raises: whatever one client raises is its own error
            result, extra = _audit_offline(t, st.ruleset, missing.get(t.folder.name) if t.folder else None)
            yield t, result, extra
        return
    if not targets:
        return
    from auditor.live import iter_live

    # iter_live yields in target order; the name check guards against a connector renaming a client
    results = iter_live([t.spec for t in targets], st.ruleset, st.jobs, st.live)
    stopped: str | None = None
    try:
        for t in targets:
            if stopped is None:
                try:
                    result = next(results)
                except StopIteration:
                    stopped = "the live connector returned no result for it"
                except Exception as e:  # a generator that raised is finished: the clients after it are not read
                    stopped = f"live: {describe(e)}"
                    yield t, _not_audited(t, f"cannot audit: {stopped}"), []
                    stopped = f"not read: the live connector stopped at an earlier client ({stopped})"
                    continue
                else:
                    yield (t if result["name"] == t.name else Target(result["name"])), result, []
                    continue
            yield t, _not_audited(t, stopped), []
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _not_audited(t: Target, message: str) -> dict[str, Any]:
    from auditor.audit import error_result

    return error_result(t.name, [message], t.profile)


def live_targets(st: Settings, log: Log) -> list[Target]:
    """The config's clients as auditor.live targets (the Google client libraries load only now)."""
    try:
        from auditor.live import Live, resolve_targets
    except ImportError as e:
        raise ConfigError(f"live auditing is not available ({e}); use --offline DIR") from None
    if not st.cfg.clients:
        raise ConfigError(f"{st.config_path or 'no config given'}: no clients to audit; list them under clients: "
                          "or audit recorded responses with --offline DIR")
    st.live = Live(st.ga4_credentials, st.ads_config, st.jobs)
    conf: dict[str, ClientTarget] = {c.name: c for c in st.cfg.clients}
    out = []
    for spec in resolve_targets(st.ruleset, None, None, False, None, st.live, warn=log.warn):
        c = conf.get(spec.name or "")
        out.append(Target(spec.label(), spec.profile, list(c.recipients) if c else [], configured=c is not None,
                          spec=spec))
    return out


# -- per-client outputs ------------------------------------------------------------------------------------------

def write_client(out_dir: Path, result: dict[str, Any], header: dict[str, Any], formats: list[str],
                 stem: str | None = None, *, strict: bool = True) -> dict[str, Path]:
    """Each chosen rendering of one client (the same shapes as `audit --format X`), written atomically, as
    clients/<stem>.<ext> (`file_stem`). A rendering or write that fails raises ClientFileError naming the file;
    with strict=False it is skipped (the previous version of that file stays) and the others are written."""
    from auditor.files import atomic_writer, fsync_dir
    from auditor.report.render import write_document

    stem = stem or file_stem(result["name"])
    folder = out_dir / CLIENTS_DIR
    paths = {}
    try:
        for fmt in formats:
            path = folder / f"{stem}.{EXTENSIONS[fmt]}"
            try:
                with atomic_writer(path, sync_dir=False) as fh:
                    write_document(fh, fmt, header, [result])
            except Exception as e:
                if strict:
                    raise ClientFileError(path, e) from e
                continue
            paths[fmt] = path
    finally:
        if paths:
            fsync_dir(folder)  # once for the client's files: the renames are durable
    return paths


def agency_row(result: dict[str, Any], out_dir: Path, paths: dict[str, Path]) -> dict[str, Any]:
    """The summary row of a client: what stays in memory for the rest of the run. No addresses."""
    from auditor.audit import summary_row

    row = summary_row(result)
    ch = result.get("changes")
    prev = (ch or {}).get("previous") or {}
    row.update({
        "previous_score": prev.get("score"),
        "delta": (ch or {}).get("score_delta"),
        "new": len((ch or {}).get("new") or []),
        "resolved": len((ch or {}).get("resolved") or []),
        "persisting": len((ch or {}).get("persisting") or []),
        "changed": True if ch is None else bool(ch.get("changed")),
        "trend": [p["score"] for p in (ch or {}).get("trend") or []] or [result["score"]],
        "suppressed": sum(1 for f in result["findings"] if f.get("suppressed")),
        "json": os.path.relpath(paths["json"], out_dir) if "json" in paths else None,
        "html": os.path.relpath(paths["html"], out_dir) if "html" in paths else None,
    })
    return row


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst first: not audited, then lowest score, then the biggest drop, then by name."""
    return sorted(rows, key=lambda r: (r["score"] is not None, r["score"] or 0, r["delta"] or 0, r["name"]))


def agency_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from auditor.audit import summarise

    s = summarise(rows)
    s.pop("ranking", None)  # the ranked rows are the document's "clients"
    s.update({"worse": sum(1 for r in rows if (r["delta"] or 0) < 0),
              "better": sum(1 for r in rows if (r["delta"] or 0) > 0),
              "new": sum(r["new"] for r in rows), "resolved": sum(r["resolved"] for r in rows),
              "changed": sum(1 for r in rows if r["changed"])})
    return s


def _summary_doc(header: dict[str, Any], rows: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    return {**header, "run": run, "summary": agency_summary(rows), "clients": rows}


@contextlib.contextmanager
def _run_file(path: Path, what: str) -> Iterator[Any]:
    """Write one of the run's own files (summary, shard file) atomically; any failure stops the run: RunFailed
    naming the file and the cause (the previous version of the file stays)."""
    from auditor.files import atomic_writer

    try:
        with atomic_writer(path) as fh:
            yield fh
    except RunFailed:
        raise
    except Exception as e:
        raise RunFailed(f"{path}: cannot write {what}: {describe(e)}") from None


def _write_json(path: Path, doc: dict[str, Any], what: str = "the summary") -> None:
    from auditor.text import json_text

    with _run_file(path, what) as fh:
        fh.write(json_text(doc, indent=2) + "\n")


def write_summary(out_dir: Path, doc: dict[str, Any], formats: list[str]) -> list[Path]:
    """summary.json and summary.csv always (they are the e-mail attachments), plus html/md/txt as chosen.
    Raises RunFailed naming the file that could not be written."""
    import csv

    from auditor.notify import stream_summary
    from auditor.report.render import csv_cell, md_escape

    rows, summary = doc["clients"], doc["summary"]
    written = [out_dir / "summary.json", out_dir / "summary.csv"]
    _write_json(written[0], doc)
    with _run_file(written[1], "the summary") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SUMMARY_CSV_COLUMNS)
        for i, r in enumerate(rows, 1):
            w.writerow([csv_cell(x) for x in (
                i, r["name"], r["status"], r["score"], r["grade"], r["previous_score"], r["delta"], r["new"],
                r["resolved"], r["persisting"], *(r["counts"].get(s, 0) for s in SEVERITIES), r["suppressed"],
                r["coverage"], r["errors"], r["json"])])
    for fmt, kind in (("html", "html"), ("table", "text")):
        if fmt in formats:
            path = out_dir / f"summary.{EXTENSIONS[fmt]}"
            with _run_file(path, "the summary") as fh:
                fh.writelines(stream_summary(kind, rows, summary, doc))
            written.append(path)
    if "markdown" in formats:
        path = out_dir / "summary.md"
        with _run_file(path, "the summary") as fh:
            fh.write(f"# Agency summary\n\nGenerated {doc['generated_at']}. {summary['clients']} client(s), "
                     "worst first.\n\n| # | client | score | grade | change | new | resolved | "
                     + " | ".join(SEVERITIES) + " |\n|" + " --- |" * (7 + len(SEVERITIES)) + "\n")
            for i, r in enumerate(rows, 1):
                grade = md_escape(r["grade"] or "error")
                fh.write(f"| {i} | {md_escape(r['name'])} | {_blank(r['score']) or '-'} | {grade} | "
                         f"{'-' if r['delta'] is None else format(r['delta'], '+d')} | {r['new']} | {r['resolved']} | "
                         + " | ".join(str(r["counts"].get(s, 0)) for s in SEVERITIES) + " |\n")
        written.append(path)
    return written


def _blank(v: Any) -> Any:
    return "" if v is None else v


# -- the run -----------------------------------------------------------------------------------------------------

def lock_path(out_dir: Path, shard: tuple[int, int] | None) -> Path:
    return out_dir / (f".audit-run-shard-{shard[0]}-of-{shard[1]}.lock" if shard else LOCK_FILE)


def with_lock(out_dir: Path, shard: tuple[int, int] | None, log: Log, body: Callable[[], int]) -> int:
    """Run `body` holding the run lock of the output folder; another holder means exit 5, nothing audited.

    An output folder that cannot be created or written is a usage error (exit 2, nothing audited); a RunFailed
    raised by `body` is logged as one line and exits 3."""
    from filelock import FileLock, Timeout

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{out_dir}: cannot create the output folder: {e.strerror or e}") from None
    lock = FileLock(str(lock_path(out_dir, shard)), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        log.error(f"another run holds {lock.lock_file}; this run did nothing (exit {EXIT_LOCKED})")
        return EXIT_LOCKED
    except OSError as e:  # a read-only folder, a lock file we may not open
        raise ConfigError(f"{out_dir}: cannot write the output folder ({lock.lock_file}: "
                          f"{e.strerror or e}); nothing was audited") from None
    try:
        return body()
    except RunFailed as e:
        log.error(f"{e} (exit {EXIT_INCOMPLETE})")
        return EXIT_INCOMPLETE
    finally:
        lock.release()


def prepare_output(folders: list[Path], log: Log) -> None:
    """Before anything is audited: remove the temporary files that killed runs left in the output folders, and
    prove each folder writable. A folder that cannot be written is a usage error (exit 2), nothing audited."""
    from auditor.files import check_writable, remove_stale_temp_files

    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            removed = remove_stale_temp_files(folder)
            check_writable(folder)
        except OSError as e:
            raise ConfigError(f"{folder}: cannot write the output folder: {describe(e)}; nothing was audited") \
                from None
        if removed:
            log.info(f"removed {len(removed)} temporary file(s) that an interrupted run left in {folder}")


def run(st: Settings, log: Log) -> int:
    return with_lock(st.out_dir, st.shard, log, lambda: _run(st, log))


def _client_line(i: int, n: int, row: dict[str, Any]) -> str:
    score = "not audited" if row["score"] is None else f"{row['score']}/100 {row['grade']}"
    change = "" if row["delta"] is None else f", {row['delta']:+d} since last run"
    news = f", {row['new']} new, {row['resolved']} resolved" if row["previous_score"] is not None else ""
    status = "" if row["status"] == "ok" else f" ({row['status']})"
    return f"[{i}/{n}] {printable(row['name'])}: {score}{change}{news}{status}"


@dataclasses.dataclass
class _Clients:
    """What the per-client units of one run share."""

    st: Settings
    header: dict[str, Any]
    history: Any  # auditor.history.History | None
    shard: str | None
    run_id: int | None = None  # begun with the first result: a run that fails to start leaves no trace
    taken: set[str] = dataclasses.field(default_factory=set)  # file stems of this run (case-folded)
    unwritten: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # errored, no JSON on disk

    @property
    def generated_at(self) -> str:
        return str(self.header["generated_at"])

    def begin(self) -> None:
        if self.history is not None and self.run_id is None:
            self.run_id = self.history.begin_run(self.generated_at, self.shard, __version__)

    def one(self, t: Target, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Suppressions, history comparison, rendering and writing of one client: (summary row, result as
        reported). Whatever fails makes the client errored; HistoryError and a full or read-only disk stop the
        run (RunFailed)."""
        from auditor.diff import compute_changes
        from auditor.history import HistoryError

        st, history = self.st, self.history
        name = str(result.get("name") or t.name)
        stem = file_stem(name, self.taken)
        where, what = str(st.suppressions.path or "suppressions"), "cannot apply the suppressions"
        try:
            st.suppressions.apply(result)
            if history is not None:
                where, what = str(history.path), "cannot compare with the history"
                result["changes"] = compute_changes(result, history.previous(name, self.run_id),
                                                    history.trend(name, self.run_id), self.generated_at)
            where, what = str(st.out_dir / CLIENTS_DIR / stem), "cannot write the report"
            paths = write_client(st.out_dir, result, self.header, st.formats, stem)
            if history is not None:
                where, what = str(history.path), "cannot record the result in the history"
                history.record(self.run_id, result, self.generated_at)
            return agency_row(result, st.out_dir, paths), result
        except HistoryError:
            raise
        except ClientFileError as e:
            where, cause = str(e.path), e.cause
        except Exception as e:
            cause = e
        if stops_run(cause):
            raise RunFailed(f"{where}: {what} of client {name}: {describe(cause)}") from None
        return self.errored(t, result, name, stem, f"{where}: {what}: {describe(cause)}")

    def errored(self, t: Target, result: dict[str, Any], name: str, stem: str,
                message: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The client as errored: its reports (whichever can be written) and history row say why."""
        from auditor.audit import error_result
        from auditor.diff import compute_changes
        from auditor.history import HistoryError

        st, history = self.st, self.history
        err = error_result(name, [*(str(e) for e in result.get("errors") or []), message],
                           result.get("profile") or t.profile, [str(w) for w in result.get("warnings") or []])
        if history is not None:
            try:
                err["changes"] = compute_changes(err, history.previous(name, self.run_id),
                                                 history.trend(name, self.run_id), self.generated_at)
            except HistoryError:
                raise
            except Exception:  # the comparison is what failed: report without it
                err.pop("changes", None)
        paths = write_client(st.out_dir, err, self.header, st.formats, stem, strict=False)
        if history is not None:
            history.record(self.run_id, err, self.generated_at)
        if "json" not in paths:
            self.unwritten[name] = err  # owners' e-mails take it from memory
        return agency_row(err, st.out_dir, paths), err


def _run(st: Settings, log: Log) -> int:
    from auditor.audit import result_header
    from auditor.cli import exit_code

    started = time.monotonic()
    header = result_header()
    prepare_output([st.out_dir, st.out_dir / CLIENTS_DIR], log)
    targets = offline_targets(st, log) if st.offline is not None else live_targets(st, log)
    if st.shard:
        k, n = st.shard
        targets = [t for t in targets if shard_index(t.name, n) == k]
    shard = f"{st.shard[0]}/{st.shard[1]}" if st.shard else None
    history = None
    if st.history_path:
        from auditor.history import History

        history = History.open(st.history_path)
    cl = _Clients(st, header, history, shard)
    rows: list[dict[str, Any]] = []
    owners: dict[str, list[str]] = {}
    bar = None
    complete = summarised = False
    failure: BaseException | None = None
    try:
        if history is not None:
            stale = history.abort_stale(shard)  # under this shard's lock: their runs were killed
            if stale:
                log.warn(f"{history.path}: {stale} earlier run(s){f' of shard {shard}' if shard else ''} did not "
                         "finish (killed or interrupted); marked aborted, never a baseline")
        results = iter_results(st, targets)
        tally = WarningTally()
        try:
            if st.progress and targets:  # a terminal: a bar; log lines wait until it is done
                log.held = []
                bar = click.progressbar(length=len(targets), label="auditing", file=sys.stderr, show_pos=True)
                bar.render_progress()
            for i, (t, result, extra) in enumerate(results, 1):
                cl.begin()
                row, result = cl.one(t, result)
                rows.append(row)
                for w in result["warnings"]:
                    tally.add(t.name, w)
                for e in result["errors"]:
                    log.error(f"client {t.name}: {e}")
                for addr in _recipients(t, extra, log):
                    owners.setdefault(addr, []).append(t.name)
                if bar is not None:
                    bar.update(1)
                else:
                    log.info(_client_line(i, len(targets), row))
        finally:
            results.close()  # a live session stops fetching when the run stops early
            if bar is not None:
                bar.render_finish()
                log.flush()
        for line in tally.lines():  # once per file and field, with a count: not a line per action per client
            log.warn(line)
        for w in st.suppressions.warnings():
            log.warn(w)
        rows = rank(rows)
        run_meta = {"shard": shard, "history": history is not None, "formats": st.formats}
        doc = _summary_doc(header, rows, run_meta)
        if st.shard:
            path = st.out_dir / f"shard-{st.shard[0]}-of-{st.shard[1]}.json"
            _write_json(path, doc, "the shard file")
        else:
            write_summary(st.out_dir, doc, st.formats)
        summarised = True
        if history is not None and cl.run_id is not None:  # every promised file is on disk: complete
            history.finish_run(cl.run_id, result_header()["generated_at"], len(rows))
        complete = True
        if history is not None and st.keep_runs:
            try:
                history.prune(st.keep_runs)
            except AuditorError as e:  # housekeeping: the run is complete all the same
                log.warn(f"{e}; old runs not pruned")
    except BaseException as e:
        failure = e
        if not isinstance(e, AuditorError) or isinstance(e, ConfigError):
            raise
        from auditor.history import HistoryError

        if not isinstance(e, (RunFailed, HistoryError)):
            raise
        summary = "shard file" if st.shard else "summary"
        if summarised:
            state = f"every report and the {summary} are on disk, but"
        else:
            done = sum(1 for r in rows if r.get("json"))
            state = (f"the run stopped after {len(rows)} of {len(targets)} client(s) ({done} report(s) on disk), "
                     f"no {summary},")
        raise RunFailed(f"{e}; {state} no e-mail sent, not marked complete in the history") from None
    finally:
        if history is not None:
            if cl.run_id is not None and not complete:
                from auditor.history import ABORTED, FAILED

                status = FAILED if isinstance(failure, AuditorError) else ABORTED
                try:
                    history.end_unfinished(cl.run_id, status, len(rows))
                except Exception:  # the database may be what failed; the run stays `running`, i.e. aborted
                    pass
            history.close()
    took = f"{time.monotonic() - started:.1f} s"
    if st.shard:
        log.info(f"shard {st.shard[0]}/{st.shard[1]}: {len(rows)} client(s) audited in {took}; wrote "
                 f"{st.out_dir / f'shard-{st.shard[0]}-of-{st.shard[1]}.json'}; `audit merge` writes the summary "
                 "and sends the e-mail")
        return exit_code(rows, st.fail_on, st.min_score)
    log.info(f"{len(rows)} client(s) audited in {took}; reports in {st.out_dir}")
    return finish(st, doc, owners, log, cl.unwritten)


def _recipients(t: Target, extra: list[str], log: Log) -> list[str]:
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


def finish(st: Settings, doc: dict[str, Any], owners: dict[str, list[str]], log: Log,
           unwritten: dict[str, dict[str, Any]] | None = None) -> int:
    """After the summary is on disk: e-mail, then the exit code (4 when mail failed, over 3 and 1)."""
    from auditor.cli import exit_code

    rows = doc["clients"]
    code = exit_code(rows, st.fail_on, st.min_score)
    if st.email is None or st.email_on is None:
        return code
    ok = send_emails(st, doc, owners, log, unwritten)
    return code if ok else EXIT_EMAIL


# -- e-mail ------------------------------------------------------------------------------------------------------

def send_emails(st: Settings, doc: dict[str, Any], owners: dict[str, list[str]], log: Log,
                unwritten: dict[str, dict[str, Any]] | None = None) -> bool:
    """The summary to `email.summary_to`, then one e-mail per owner address covering that owner's clients that
    meet --email-on. Returns False when any message could not be delivered (the reports stay on disk).

    An errored client whose JSON report could not be written is taken from `unwritten` (or, in a merge, told
    as not reported) instead of being read from disk."""
    from auditor.cli import exit_code
    from auditor.notify import (
        DeliveryError,
        Mailer,
        build_message,
        owner_subject,
        render_owner,
        render_summary,
        result_attachments,
        summary_subject,
    )
    from auditor.text import json_text

    assert st.email is not None
    email = st.email
    rows, summary = doc["clients"], doc["summary"]
    header = {k: doc[k] for k in ("tool", "generated_at", "scoring")}

    def wanted(r: dict[str, Any]) -> bool:
        if st.email_on == "change":
            return bool(r["changed"])
        if st.email_on == "failure":
            return exit_code([r], st.fail_on, st.min_score) != EXIT_OK
        return True

    by_name = {r["name"]: r for r in rows}
    rank_of = {r["name"]: i for i, r in enumerate(rows)}  # an owner's clients, worst first like the summary
    outbox: list[tuple[str, list[str], Callable[[], Any]]] = []
    if email.summary_to and any(wanted(r) for r in rows):
        def summary_msg() -> Any:
            text, html = render_summary(rows, summary, header)
            # compact JSON: the same document as summary.json without indentation (a third of the size)
            files = [("summary.json", json_text(doc, separators=(",", ":")).encode("utf-8")),
                     ("summary.csv", (st.out_dir / "summary.csv").read_bytes())]
            return build_message(email.sender, email.summary_to, summary_subject(email, summary), text, html, files)
        outbox.append(("summary", list(email.summary_to), summary_msg))
    for addr in sorted(owners):
        names = sorted((n for n in set(owners[addr]) if n in by_name and wanted(by_name[n])), key=rank_of.get)
        if not names:
            continue

        def owner_msg(addr: str = addr, names: list[str] = names) -> Any:
            clients = [_client_of(st.out_dir, by_name[n], unwritten) for n in names]
            text, html = render_owner(clients, header)
            stem = names[0] if len(names) == 1 else f"audit-{header['generated_at'][:10]}"
            return build_message(email.sender, [addr], owner_subject(email, clients), text, html,
                                 result_attachments(clients, header, stem))
        outbox.append(("owner", [addr], owner_msg))
    if not outbox:
        log.info(f"email: nothing to send (--email-on {st.email_on})")
        return True
    sent = {"summary": 0, "owner": 0}
    failed = 0
    first_error = None
    with Mailer(email, st.password) as mailer:
        for i, (kind, to, make) in enumerate(outbox):
            try:
                msg = make()
            except Exception as e:  # a report vanished or is unreadable, a rendering failed
                failed += 1
                first_error = first_error or f"cannot build the {kind} e-mail: {describe(e)}"
                continue
            try:
                mailer.send(msg, to)
                sent[kind] += 1
            except DeliveryError as e:
                failed += 1
                first_error = first_error or str(e)
                if mailer.smtp is None:  # no session (cannot connect or log in): the rest would fail the same way
                    failed += len(outbox) - i - 1
                    break
    if sent["summary"] or sent["owner"]:
        log.info(f"email: sent {sent['summary']} summary and {sent['owner']} owner report(s)")
    if failed:
        log.error(f"email: {first_error}; {failed} of {len(outbox)} message(s) not sent; every report is on disk in "
                  f"{st.out_dir} (exit {EXIT_EMAIL})")
        return False
    return True


def _load_client(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["clients"][0]


def _client_of(out_dir: Path, row: dict[str, Any], unwritten: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    if row.get("json"):
        return _load_client(out_dir / row["json"])
    if unwritten and row["name"] in unwritten:
        return unwritten[row["name"]]
    from auditor.audit import error_result

    return error_result(row["name"], ["its report could not be written; the run's log says why"])


# -- merge -------------------------------------------------------------------------------------------------------

MERGE_WINDOW_HOURS = 20  # shards of one run finish within this; older files are from an earlier run


def _when(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def find_shard_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if SHARD_FILE.match(f.name))
        elif p.is_file():
            found.append(p)
        else:
            raise ConfigError(f"{p}: no such file or directory")
    return found


def merge(st: Settings, inputs: list[Path], log: Log) -> int:
    return with_lock(st.out_dir, None, log, lambda: _merge(st, inputs, log))


def _rebase(path: str | None, shard_dir: Path, out_dir: Path) -> str | None:
    return os.path.relpath(shard_dir / path, out_dir) if path else None


def _merge(st: Settings, inputs: list[Path], log: Log) -> int:
    from auditor.audit import result_header

    files = find_shard_files(inputs)
    if not files:
        raise ConfigError(f"no shard-K-of-N.json files in {', '.join(map(str, inputs))}; run `audit run --shard K/N`")
    seen: dict[int, Path] = {}
    total = None
    rows: list[dict[str, Any]] = []
    names: set[str] = set()
    stamps: dict[int, str] = {}
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            k, n = (int(x) for x in doc["run"]["shard"].split("/"))
            shard_rows = doc["clients"]
            stamps[k] = doc["generated_at"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{f}: not a shard result of `audit run --shard` ({type(e).__name__}: {e})") from None
        if total is not None and n != total:
            raise ConfigError(f"{f}: shard {k}/{n} does not belong with shards of {total}")
        total = n
        if k in seen:
            raise ConfigError(f"{f}: shard {k}/{n} given twice (also {seen[k]})")
        seen[k] = f
        dupes = names & {r["name"] for r in shard_rows}
        if dupes:
            raise ConfigError(f"{f}: client {sorted(dupes)[0]} is in two shards; were the shards run with "
                              "different configs?")
        names |= {r["name"] for r in shard_rows}
        for r in shard_rows:
            r["json"] = _rebase(r.get("json"), f.parent, st.out_dir)
            r["html"] = _rebase(r.get("html"), f.parent, st.out_dir)
        rows += shard_rows
    assert total is not None
    missing = sorted(set(range(1, total + 1)) - set(seen))
    if missing:
        raise ConfigError(f"shard {missing[0]}/{total} missing ({len(seen)} of {total} shard file(s) found); "
                          "merge once every shard has finished")
    # a shard that failed this time leaves last week's file behind: never merge it silently
    newest = max(_when(t) for t in stamps.values())
    stale = sorted(k for k, t in stamps.items() if (newest - _when(t)).total_seconds() > MERGE_WINDOW_HOURS * 3600)
    if stale:
        raise ConfigError(f"shard {stale[0]}/{total} is from {stamps[stale[0]]}, more than {MERGE_WINDOW_HOURS} h "
                          f"before the newest shard ({seen[stale[0]]}); rerun it, then merge")
    prepare_output([st.out_dir], log)
    header = result_header()
    rows = rank(rows)
    doc = _summary_doc(header, rows, {"shard": None, "merged_shards": total, "history": None,
                                      "formats": st.formats})
    write_summary(st.out_dir, doc, st.formats)
    log.info(f"merged {total} shard(s), {len(rows)} client(s); summary in {st.out_dir}")
    owners: dict[str, list[str]] = {}
    for c in st.cfg.clients:
        for addr in c.recipients:
            owners.setdefault(addr, []).append(c.name)
    return finish(st, doc, owners, log)
