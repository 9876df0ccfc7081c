"""The output folder of a run: its lock (one run at a time per folder and shard) and its preparation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditor.agency.failures import RunFailed
from auditor.agency.log import Log
from auditor.conventions import EXIT_INCOMPLETE, EXIT_LOCKED
from auditor.errors import ConfigError, describe

LOCK_FILE = ".audit-run.lock"


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
