"""Recorded fixtures on disk -> `RawClient`s, one client folder at a time (streamed, sorted by name)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from auditor.errors import ConfigError, FixtureError
from auditor.raw import ALL_FILES, RawClient

SOURCES = ("ga4", "ads")


def is_client_dir(path: Path) -> bool:
    return any((path / s).is_dir() for s in SOURCES)


def client_dirs(root: Path) -> Iterator[Path]:
    """`root` is one client folder or a folder of client folders. Yields client folders sorted by name.

    A sub-folder with neither ga4/ nor ads/ is still yielded (it is reported as an errored client, not
    silently skipped); hidden folders and plain files are ignored.
    """
    if not root.exists():
        raise ConfigError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory (expected a client folder or a folder of client folders)")
    if is_client_dir(root):
        yield root
        return
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not subdirs:
        raise ConfigError(f"{root}: holds no client folders (expected ga4/ and/or ads/ inside each)")
    yield from subdirs


def read_body_file(path: Path, display: str) -> list[dict]:
    """One fixture file -> list of response bodies. A file holds one body or a JSON array of bodies."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FixtureError(display, f"cannot read: {e.strerror or e}") from None
    if not data.strip():
        raise FixtureError(display, "file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FixtureError(display, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise FixtureError(display, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    bodies = value if isinstance(value, list) else [value]
    for i, b in enumerate(bodies):
        if not isinstance(b, dict):
            where = f"[{i}]" if isinstance(value, list) else None
            raise FixtureError(display, "expected a response object (or a list of them)", where)
    return bodies


def load_client(folder: Path) -> RawClient:
    """Read every fixture file of one client folder. Raises FixtureError on the first unreadable one."""
    raw = RawClient(name=folder.name, origin=str(folder))
    for key in ALL_FILES:
        path = folder / key
        if path.is_file():
            raw.bodies[key] = read_body_file(path, str(path))
    if not raw.bodies:
        found = "empty folder" if not any(folder.iterdir()) else "no ga4/ or ads/ fixture files"
        raise FixtureError(str(folder), f"not a client folder: {found}")
    return raw
