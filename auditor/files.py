"""Atomic file output: a temporary file in the target's folder, then a rename, so a crash never leaves half a
report (the previous version stays until the new one is complete).

The temporary file is `.<name>.audit-<12 random hex digits>.tmp` next to the target, created exclusively
(O_CREAT|O_EXCL|O_NOFOLLOW: a file or symlink planted at that name is never opened, another name is drawn), held
under an advisory lock (flock) while it is written, fsynced before the rename and the folder fsynced after it
(where the platform allows). A process killed mid-write (kill -9, OOM, power loss) leaves its temporary file
behind; `remove_stale_temp_files` deletes such leftovers of earlier runs, never a file that a live writer still
holds (a concurrent `audit run --shard` writing into the same folder).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

try:  # advisory locks: POSIX only; elsewhere the age of a leftover alone decides
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TEMP_MARK = "audit-"
TEMP_SUFFIX = ".tmp"
# ours: .<name>.audit-<hex>.tmp; written by auditor versions before this one: .<name>.<pid>.tmp
TEMP_PATTERN = re.compile(r"^\..+\.(?:audit-[0-9a-f]{12}|[0-9]+)\.tmp$", re.DOTALL)
STALE_AFTER = 60.0  # seconds since a leftover was last written; a live writer holds its lock anyway
STALE_AFTER_UNLOCKABLE = 3600.0  # where locks are unavailable (some network file systems): age alone decides
_MAX_TEMP_STEM = 200  # bytes of the target's name kept in the temporary name (NAME_MAX is 255 on common systems)
_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0))


MAX_STEM_BYTES = 100  # a client's file name (without extension) longer than this is shortened, see file_stem
_UNSAFE_CHARS = '/\\:*?"<>|'  # a path separator, or refused by Windows file systems and mail clients
_UNSAFE_IN_NAMES = re.compile(f"[{re.escape(_UNSAFE_CHARS)}]")


def _token() -> str:
    return secrets.token_hex(6)


def clip_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def _lock(fd: int, blocking: bool) -> bool | None:
    """flock(LOCK_EX) on fd: True when held, False when another open file holds it, None when unsupported."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EOPNOTSUPP, EINVAL: the file system has no locks


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty, locked temporary file for `folder/name`: (fd, path)."""
    stem = clip_utf8(name, _MAX_TEMP_STEM)
    for _ in range(100):
        tmp = folder / f".{stem}.{TEMP_MARK}{_token()}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, _CREATE_FLAGS, 0o666)  # the umask applies, as for any new file
        except FileExistsError:  # taken, or something planted there: never opened, draw another name
            continue
        _lock(fd, blocking=True)
        if _same_file(fd, tmp):  # a cleaner may have removed it between creation and lock: start over
            return fd, tmp
        os.close(fd)
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def fsync_dir(folder: str | Path) -> None:
    """Make renames in `folder` durable. Best effort: some platforms and file systems cannot sync a folder."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _special(target: Path) -> bool:
    try:
        return not stat.S_ISREG(os.stat(target).st_mode) and not stat.S_ISDIR(os.stat(target).st_mode)
    except OSError:  # absent (the usual case), or unreadable: the atomic path reports it
        return False


@contextmanager
def atomic_writer(path: str | Path, *, sync_dir: bool = True) -> Iterator[TextIO]:
    """Write `path` atomically: readers see the previous version until the new one is complete and on disk.

    With sync_dir=False the caller fsyncs the folder itself (`fsync_dir`), once for several files."""
    target = Path(path)
    if _special(target):  # a device or a pipe (/dev/stdout, /dev/null): written to, never replaced by a file
        with open(target, "w", encoding="utf-8", newline="") as special:
            yield special
        return
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(folder, target.name)
    try:
        fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        tmp.unlink(missing_ok=True)
        os.close(fd)
        raise
    done = False
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        if not _same_file(fh.fileno(), tmp):
            raise FileNotFoundError(errno.ENOENT, "the temporary file was removed or replaced while written", str(tmp))
        os.replace(tmp, target)
        done = True
    finally:
        if not done:
            tmp.unlink(missing_ok=True)  # still locked: no cleaner can race this
            try:
                fh.close()
            except OSError:  # flushing the rest of a failed write (a full disk): the file is gone anyway
                pass
        else:
            fh.close()  # releases the lock, after the rename
    if sync_dir:
        fsync_dir(folder)


@contextmanager
def output_stream(path: str | None) -> Iterator[TextIO]:
    """stdout for None or "-", else an atomically written file."""
    if not path or path == "-":
        yield sys.stdout
        return
    with atomic_writer(path) as fh:
        yield fh


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_writer(path) as fh:
        fh.write(text)


def check_writable(folder: str | Path) -> None:
    """Create and remove a temporary file in `folder`: raises OSError when it cannot be written."""
    fd, tmp = _create_temp(Path(folder), ".probe")
    try:
        tmp.unlink()
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: str | Path, *, now: float | None = None) -> list[Path]:
    """Delete the temporary files that writers of this tool left in `folder` when they were killed.

    Only names of the tool's own pattern (`.<name>.audit-<hex>.tmp`, and `.<name>.<pid>.tmp` of earlier
    versions), only regular files (never a symlink or a folder) owned by this user, only when no live process
    holds the file's lock and it was last written more than STALE_AFTER seconds ago (STALE_AFTER_UNLOCKABLE
    where the file system has no locks). Returns the removed paths; a file that cannot be examined is left.
    """
    root = Path(folder)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_PATTERN.match(entry.name):
            continue
        path = root / entry.name
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_CLOEXEC", 0))
        except OSError:  # a symlink (ELOOP), vanished, unreadable: not ours to judge
            continue
        try:
            st = os.fstat(fd)
            getuid = getattr(os, "geteuid", None)
            if not stat.S_ISREG(st.st_mode) or (getuid is not None and st.st_uid != getuid()):
                continue
            held = _lock(fd, blocking=False)
            if held is False:  # a live writer holds it
                continue
            limit = STALE_AFTER if held else STALE_AFTER_UNLOCKABLE
            if now - st.st_mtime < limit or not _same_file(fd, path):
                continue
            path.unlink()  # under our lock: a writer that reopens this name gets a new file
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def file_stem(name: str, taken: set[str] | None = None) -> str:
    """The file name (without extension) of a client's reports.

    The client's name itself when it can safely be one on any common file system and as an e-mail attachment:
    printable (no control, format or separator characters but the space: no CR, LF or ESC), none of
    `/ \\ : * ? " < > |`, not starting with `.` (hidden files, and the temporary files' pattern), at most
    MAX_STEM_BYTES bytes of UTF-8. Otherwise the name with each such character made `_`, leading dots dropped,
    cut to 64 bytes, plus `-` and the first 10 hex digits of the SHA-256 of the full name: stable from run to
    run, distinct for distinct names. `taken` (case-folded stems of this run) keeps two
    clients from sharing a file, on case-insensitive file systems too: a later clash gets a longer hash."""
    raw = name.encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(raw).hexdigest()
    safe = bool(name) and name.isprintable() and not _UNSAFE_IN_NAMES.search(name) \
        and not name.startswith(".") and len(raw) <= MAX_STEM_BYTES
    base = clip_utf8("".join("_" if not ch.isprintable() or ch in _UNSAFE_CHARS else ch for ch in name).lstrip("."),
                     64)
    base = base or "client"
    stem = name if safe else f"{base}-{digest[:10]}"
    if taken is not None:
        n = 1
        while stem.casefold() in taken:
            n += 1
            stem = f"{base}-{digest[:16]}" + (f"-{n}" if n > 2 else "")
        taken.add(stem.casefold())
    return stem
