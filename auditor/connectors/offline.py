"""Recorded fixtures on disk -> `RawClient`s, one client folder at a time (streamed, sorted by name)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from auditor.errors import ConfigError, FixtureError
from auditor.raw import ALL_FILES, RawClient
from auditor.text import printable

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
    try:
        names = sorted(name for name, e in _entries(root).items() if not name.startswith((".", "_")) and _is_dir(e))
    except OSError as e:
        raise ConfigError(f"{root}: cannot read: {e.strerror or e}") from None
    if not names:
        raise ConfigError(f"{root}: holds no client folders (expected ga4/ and/or ads/ inside each)")
    yield from (root / name for name in names)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json keeps the last of two equal keys, the Google client libraries' parser refuses them: a recording that
    # says two things about one field is not what the API wrote
    out = dict(pairs)  # built in C; only an object with a repeated key takes the slow path below
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _keys_written(t: str) -> int:
    """How many keys a JSON text writes, counted in C: every key ends `":` (the APIs write no space before the
    colon); an escaped quote before a colon inside a string (`\\":`) is no key, an escaped backslash before a
    key's quote (`\\\\":`) is. Inside a string value the count can be off, the same way in both texts compared."""
    return t.count('":') - t.count('\\":') + t.count('\\\\":')


_LONG_NUMBER = re.compile(r"[:\[,]\s*-?\d{19}")  # a bare number of 19 digits or more


def _strict_loads(text: str) -> object:
    """JSON with every key once. orjson parses (several times faster than the standard library with a hook per
    object); a file whose parsed keys are fewer than the keys written in it is parsed again, slowly, to name the
    repeated key. Anything orjson refuses (NaN, an integer beyond 64 bits) goes to the standard library, which
    says what is wrong as before."""
    if _LONG_NUMBER.search(text):  # orjson reads an integer beyond 64 bits as a float: keep it exact
        return json.loads(text, object_pairs_hook=_unique_keys)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text, object_pairs_hook=_unique_keys)
    # the parsed value written back (orjson, compact) holds each key once: fewer keys than the file wrote means one
    # was repeated
    if _keys_written(orjson.dumps(value).decode()) != _keys_written(text):
        return json.loads(text, object_pairs_hook=_unique_keys)
    return value


def read_body_file(path: str | os.PathLike[str], display: str) -> list[dict]:
    """One fixture file -> list of response bodies. A file holds one body or a JSON array of bodies."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise FixtureError(display, f"cannot read: {e.strerror or e}") from None
    if not data.strip():
        raise FixtureError(display, "file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FixtureError(display, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    try:
        value = _strict_loads(text)
    except _DuplicateKey as e:
        raise FixtureError(display, "invalid JSON: the key appears twice in one object (the API never writes "
                                    "that; which one is meant is unknown)", printable(e.key)) from None
    except json.JSONDecodeError as e:
        raise FixtureError(display, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise FixtureError(display, "invalid JSON: nested too deeply") from None
    except ValueError as e:  # an integer too long to convert, for one
        raise FixtureError(display, f"invalid JSON: {str(e).splitlines()[0][:120]}") from None
    bodies = value if isinstance(value, list) else [value]
    for i, b in enumerate(bodies):
        if not isinstance(b, dict):
            where = f"[{i}]" if isinstance(value, list) else None
            raise FixtureError(display, "expected a response object (or a list of them)", where)
    return bodies


def _inside(path: Path, folder: Path) -> None:
    """Refuse a symbolic link that loops, or that leads out of the client folder: a recording holds its own
    files, and a link back to its client would make a source look present but empty."""
    if not path.is_symlink():
        return
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise FixtureError(str(path), "a symbolic link that loops or leads nowhere; refused") from None
    root = folder.resolve()
    if target == root or root not in target.parents:
        raise FixtureError(str(path), "a symbolic link that leads out of the client folder; refused")


def _entries(folder: Path | str) -> dict[str, os.DirEntry[str]]:
    """A folder's entries by name (one directory read: whether each is a symbolic link comes with it)."""
    with os.scandir(folder) as it:
        return {e.name: e for e in it}


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether an entry is a folder, a symbolic link followed as `Path.is_dir` follows it (one that loops or leads
    nowhere is not a folder)."""
    return Path(entry.path).is_dir() if entry.is_symlink() else entry.is_dir()


# per source folder: file name -> file key of the layout (events.json -> ga4/events.json)
_LAYOUT: dict[str, dict[str, str]] = {
    source: {k.split("/", 1)[1]: k for k in ALL_FILES if k.startswith(source + "/")} for source in SOURCES
}


def load_client(folder: Path) -> RawClient:
    """Read every fixture file of one client folder. Raises FixtureError on the first unreadable one.

    A source folder (ga4/, ads/) that exists is a promise: one that holds no file of the layout is an error for
    that source, never a client without it (which would skip its rules and raise the score)."""
    raw = RawClient(name=folder.name, origin=str(folder))
    try:
        entries = _entries(folder)
    except OSError as e:
        raise FixtureError(str(folder), f"cannot read: {e.strerror or e}") from None
    for source in SOURCES:
        entry = entries.get(source)
        if entry is None:
            continue
        src = folder / source
        if entry.is_symlink():
            _inside(src, folder)
        if not _is_dir(entry):
            raise FixtureError(str(src), "expected a folder of response files")
        where = str(src)
        try:
            present = _entries(where)
        except OSError as e:
            raise FixtureError(where, f"cannot read: {e.strerror or e}") from None
        expected = _LAYOUT[source]
        layout = sorted(present.keys() & expected.keys())
        for name in layout:
            if present[name].is_symlink():
                _inside(src / name, folder)
            path = os.path.join(where, name)
            raw.bodies[expected[name]] = read_body_file(path, path)
        unknown = sorted(n for n in present.keys() - expected.keys() if n.endswith(".json"))
        if not layout:
            found = f"only {', '.join(unknown[:3])}" if unknown else "no file" if not present else "no .json file"
            raise FixtureError(where, f"holds no response file of the layout ({found}; expected "
                                      f"{', '.join(sorted(expected))})")
        for n in unknown:
            raw.warnings.append(f"{src / n}: not a file of the layout; ignored")
    if not raw.bodies:
        found = "empty folder" if not entries else "no ga4/ or ads/ fixture files"
        raise FixtureError(str(folder), f"not a client folder: {found}")
    return raw
