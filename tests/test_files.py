"""auditor.files: atomic writes with unpredictable, exclusively created temporary files, and the removal of the
temporary files that killed runs leave behind (never one a live writer holds)."""

from __future__ import annotations

import fcntl
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor import files
from auditor.files import TEMP_PATTERN, atomic_writer, check_writable, clip_utf8, remove_stale_temp_files

OLD = time.time() - 3600 * 24 * 7  # a week ago: last Monday's killed run


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def backdate(path: Path, when: float = OLD) -> None:
    os.utime(path, (when, when), follow_symlinks=False)


def test_atomic_write_leaves_no_temp_file_and_respects_the_umask(tmp_path):
    target = tmp_path / "sub" / "report.json"
    with atomic_writer(target) as fh:
        fh.write("one")
        (name,) = temps(target.parent)  # while written: a hidden, unpredictable name next to the target
        assert re.fullmatch(r"\.report\.json\.audit-[0-9a-f]{12}\.tmp", name) and TEMP_PATTERN.match(name)
        assert not target.exists()
    assert target.read_text() == "one" and temps(target.parent) == []
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # as for any new file, not mkstemp's 0600
    with atomic_writer(target) as fh:
        fh.write("two")
    assert target.read_text() == "two"


def test_a_failed_write_keeps_the_previous_version_and_no_temp_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as fh:
            fh.write("<section>half")
            fh.flush()
            raise RuntimeError("renderer crashed")
    assert target.read_text() == "previous" and temps(tmp_path) == []


def test_a_symlink_planted_at_the_temp_name_is_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    # the name the pre-fix writer used (pid-based, predictable) and the next name the writer will draw
    legacy = out / f".report.json.{os.getpid()}.tmp"
    legacy.symlink_to(victim)
    drawn = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(files, "_token", lambda: next(drawn))
    planted = out / ".report.json.audit-aaaaaaaaaaaa.tmp"
    planted.symlink_to(victim)
    dangling = out / ".summary.json.audit-aaaaaaaaaaaa.tmp"
    dangling.symlink_to(tmp_path / "created-by-attacker")
    with atomic_writer(out / "report.json") as fh:  # draws aaaa (taken: skipped, never opened), then bbbb
        fh.write("report")
    assert (out / "report.json").read_text() == "report" and not (out / "report.json").is_symlink()
    assert victim.read_text() == "precious"
    assert planted.is_symlink() and legacy.is_symlink()  # left alone, never written through
    drawn = iter(["aaaaaaaaaaaa", "cccccccccccc"])
    with atomic_writer(out / "summary.json") as fh:  # a dangling link is not followed to create its target
        fh.write("{}")
    assert not (tmp_path / "created-by-attacker").exists()
    # the cleaner does not remove symlinks either, however old (they are not its files)
    for p in (planted, legacy, dangling):
        backdate(p)
    assert remove_stale_temp_files(out) == []
    assert victim.read_text() == "precious"


def test_stale_temp_files_of_killed_writers_are_removed_and_nothing_else(tmp_path):
    d = tmp_path
    stale = d / ".client-a.html.audit-0123456789ab.tmp"
    legacy = d / ".client-b.json.4242.tmp"  # left by an auditor before this version
    fresh = d / ".client-c.csv.audit-fedcba987654.tmp"  # maybe a writer on a host whose locks we cannot see
    keep = [d / ".notes.tmp", d / "report.json.tmp", d / ".x.json.audit-xyz.tmp", d / "client.json",
            d / ".client-d.json.audit-0123456789ab.tmp.bak"]
    for p in (stale, legacy, fresh, *keep):
        p.write_text("x")
    (d / ".dir.json.audit-0123456789ab.tmp").mkdir()
    for p in (stale, legacy, *keep, d / ".dir.json.audit-0123456789ab.tmp"):
        backdate(p)
    removed = remove_stale_temp_files(d)
    assert sorted(removed) == sorted([stale, legacy])
    assert fresh.exists() and all(p.exists() for p in keep) and (d / ".dir.json.audit-0123456789ab.tmp").is_dir()
    # a week later the fresh one is stale too
    assert remove_stale_temp_files(d, now=time.time() + 3600 * 24 * 7) == [fresh]


def test_a_temp_file_held_by_a_live_writer_is_never_removed(tmp_path):
    """A concurrent `audit run --shard` writing into the same folder holds its temp file's lock."""
    held = tmp_path / ".client-x.json.audit-00000000000a.tmp"
    held.write_text("being written")
    backdate(held)  # even if it looks old (a slow renderer)
    code = ("import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        assert remove_stale_temp_files(tmp_path) == [] and held.exists()
    finally:
        writer.kill()
        writer.wait()
    assert remove_stale_temp_files(tmp_path) == [held]  # its writer is gone: the lock went with it
    # and this process's own writer holds its lock while it writes
    target = tmp_path / "report.json"
    with atomic_writer(target) as fh:
        fh.write("x")
        (name,) = temps(tmp_path)
        backdate(tmp_path / name)
        assert remove_stale_temp_files(tmp_path, now=time.time() + 10**6) == []
    assert target.read_text() == "x"


def test_writer_lock_is_released_when_the_writer_is_killed(tmp_path):
    """kill -9 in the middle of a write: the temp file stays, its lock does not; the next run removes it."""
    code = ("import sys, time\nfrom auditor.files import atomic_writer\n"
            "with atomic_writer(sys.argv[1]) as fh:\n    fh.write('half'); fh.flush()\n"
            "    print('writing', flush=True)\n    time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r.json")], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert p.stdout.readline().strip() == "writing"
    (name,) = temps(tmp_path)
    fd = os.open(tmp_path / name, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):  # held while the writer lives
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    p.kill()
    p.wait()
    assert temps(tmp_path) == [name] and not (tmp_path / "r.json").exists()
    backdate(tmp_path / name)
    assert remove_stale_temp_files(tmp_path) == [tmp_path / name] and temps(tmp_path) == []


def test_long_names_fit_the_temp_name_and_cuts_keep_characters_whole(tmp_path):
    name = "é" * 120 + ".json"  # 245 bytes: the temp name may not add 24 more
    with atomic_writer(tmp_path / name) as fh:
        fh.write("x")
    assert (tmp_path / name).read_text() == "x"
    assert clip_utf8("aé", 2) == "a" and clip_utf8("abc", 5) == "abc"


def test_check_writable(tmp_path):
    check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OSError):
        check_writable(tmp_path / "missing")
