"""Offline audits of many clients on every core: each client folder is audited in a worker process, results come
back in folder order and stream into the report as they arrive (a bounded number in flight).

Auditing is CPU-bound pure Python, so threads would not help; processes forked from the run inherit its loaded
ruleset and modules, which costs milliseconds. Where fork is not the platform's way (macOS, Windows), or for a
handful of clients, the audit runs in the process itself: the same results, in the same order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from multiprocessing.pool import AsyncResult
from pathlib import Path

from auditor.audit import audit_folder, error_result, recorded_missing, unforeseen
from auditor.connectors.offline import client_dirs
from auditor.result import ClientResult
from auditor.ruleset import Ruleset

MIN_PER_WORKER = 25  # fewer clients than this per worker: forking costs more than it saves
CHUNK = 64  # most folders handed to a worker at a time: few round trips (a third of the time at 8), results stream

_ruleset: Ruleset | None = None  # set in the parent before forking; the workers inherit it


def workers(jobs: int, clients: int) -> int:
    """How many processes audit `clients` folders: at most `jobs`, the cores, and one per MIN_PER_WORKER."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(jobs, os.cpu_count() or 1, clients // MIN_PER_WORKER))


def audit_tree(root: Path, ruleset: Ruleset, jobs: int = 1, folders: list[Path] | None = None
               ) -> Iterator[ClientResult]:
    """Audit every client folder under `root` (`folders`, when the caller listed them with `client_dirs`), in
    name order."""
    folders = folders if folders is not None else list(client_dirs(root))
    missing = recorded_missing(root)
    tasks = [(f, missing.get(f.name)) for f in folders]
    n = workers(jobs, len(tasks))
    if n <= 1:
        for folder, gone in tasks:
            yield audit_folder(folder, ruleset, missing=gone)
        return
    global _ruleset
    _ruleset = ruleset
    size = max(1, min(CHUNK, len(tasks) // (4 * n)))  # at least four chunks per worker keep both busy
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    with multiprocessing.get_context("fork").Pool(n) as pool:
        # At most two chunks per worker in flight: results wait for the report a bounded while, so memory stays
        # flat however many clients there are (a pool's own queue would take every result the workers finish).
        pending: deque[AsyncResult[list[bytes | ClientResult]]] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_audit_chunk, (chunk,)))
            if len(pending) >= 2 * n:
                yield from map(_received, pending.popleft().get())
        while pending:
            yield from map(_received, pending.popleft().get())


def _audit_chunk(chunk: list[tuple[Path, dict[str, str] | None]]) -> list[bytes | ClientResult]:
    return [_audit(task) for task in chunk]


def _audit(task: tuple[Path, dict[str, str] | None]) -> bytes | ClientResult:
    folder, gone = task
    try:
        assert _ruleset is not None
        result = audit_folder(folder, _ruleset, missing=gone)
    except BaseException as e:  # audit_folder never raises; a worker must not either, whatever happens
        result = error_result(folder.name, [unforeseen(str(folder), e)])
    return _sent(result)


def _sent(result: ClientResult) -> bytes | ClientResult:
    """A result on its way to the parent as its canonical JSON: a third cheaper than pickling the objects. A name
    JSON cannot carry as such (a lone surrogate from the file system) goes pickled."""
    try:
        import orjson

        return orjson.dumps(result.to_json())
    except Exception:
        return result


def _received(sent: bytes | ClientResult) -> ClientResult:
    if isinstance(sent, ClientResult):
        return sent
    import orjson

    return ClientResult.from_json(orjson.loads(sent))
