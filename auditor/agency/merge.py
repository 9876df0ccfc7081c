"""`audit merge`: the shard files of `audit run --shard K/N` combined into one summary, delivered once.

Every shard 1..N must be there, from the same run (none more than MERGE_WINDOW_HOURS older than the newest), and
no client in two shards; otherwise it is a usage error (exit 2) and nothing is written or sent.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from auditor.agency.delivery import client_loader, deliver
from auditor.agency.lock import prepare_output, with_lock
from auditor.agency.log import Log
from auditor.agency.reports import write_summary
from auditor.agency.settings import Settings
from auditor.agency.summary import AdsBudget, AgencyRow, RunInfo, SummaryDocument
from auditor.conventions import EXIT_DELIVERY, exit_code
from auditor.errors import ConfigError
from auditor.outputs.formats.summary_base import top_fix

MERGE_WINDOW_HOURS = 20  # shards of one run finish within this; older files are from an earlier run
SHARD_FILE = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")


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


def read_shard(path: Path) -> tuple[int, int, SummaryDocument]:
    """(K, N, document) of a shard file. ConfigError when it is not one."""
    import json

    try:
        doc = SummaryDocument.from_json(json.loads(path.read_text(encoding="utf-8")))
        k, n = (int(x) for x in str(doc.run.shard).split("/"))
        _when(doc.generated_at)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: not a shard result of `audit run --shard` ({type(e).__name__}: {e})") from None
    return k, n, doc


def _rebase(path: str | None, shard_dir: Path, out_dir: Path) -> str | None:
    return os.path.relpath(shard_dir / path, out_dir) if path else None


def merge(st: Settings, inputs: list[Path], log: Log) -> int:
    return with_lock(st.out_dir, None, log, lambda: _merge(st, inputs, log))


def _merge(st: Settings, inputs: list[Path], log: Log) -> int:
    from auditor.audit import result_header

    files = find_shard_files(inputs)
    if not files:
        raise ConfigError(f"no shard-K-of-N.json files in {', '.join(map(str, inputs))}; run `audit run --shard K/N`")
    seen: dict[int, Path] = {}
    total = None
    rows: list[AgencyRow] = []
    names: set[str] = set()
    stamps: dict[int, str] = {}
    budgets: list[AdsBudget] = []  # each shard's share of the Google Ads budget, and what it deferred
    for f in files:
        k, n, doc = read_shard(f)
        stamps[k] = doc.generated_at
        if total is not None and n != total:
            raise ConfigError(f"{f}: shard {k}/{n} does not belong with shards of {total}")
        total = n
        if k in seen:
            raise ConfigError(f"{f}: shard {k}/{n} given twice (also {seen[k]})")
        seen[k] = f
        dupes = names & {r.name for r in doc.clients}
        if dupes:
            raise ConfigError(f"{f}: client {sorted(dupes)[0]} is in two shards; were the shards run with "
                              "different configs?")
        names |= {r.name for r in doc.clients}
        for r in doc.clients:  # each shard's reports stay where it wrote them
            r.json = _rebase(r.json, f.parent, st.out_dir)
            r.html = _rebase(r.html, f.parent, st.out_dir)
        rows += doc.clients
        if doc.run.ads_budget is not None:
            budgets.append(doc.run.ads_budget)
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
    budget = AdsBudget(sum(b.daily_operations for b in budgets), sum(b.planned for b in budgets),
                       [n for b in budgets for n in b.deferred]) if budgets else None
    doc = SummaryDocument(result_header(), RunInfo(None, None, st.formats, merged_shards=total, ads_budget=budget),
                          rows)
    load = client_loader(st.out_dir)
    fix = top_fix(doc.clients, load)
    write_summary(st.out_dir, doc, st.formats, fix)
    log.info(f"merged {total} shard(s), {len(rows)} client(s); summary in {st.out_dir}")
    owners: dict[str, list[str]] = {}
    for c in st.cfg.clients:
        for addr in c.recipients:
            owners.setdefault(addr, []).append(c.name)
    code = exit_code(doc.clients, st.fail_on, st.min_score)
    return code if deliver(st, doc, owners, log, load, fix) else EXIT_DELIVERY
