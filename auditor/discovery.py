"""Where the config of a run comes from when `--config` is not given: the working directory, then each parent up
to the file system's root, as ruff finds its own. Kept apart from auditor.config so that a run without any config
never loads pydantic."""

from __future__ import annotations

from pathlib import Path

DISCOVERED = (".auditor.yaml", "pyproject.toml")  # looked for in each folder, nearest first, when --config is absent


def _pyproject_with_table(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False  # somebody else's file we cannot read is not ours to fail on
    return "[tool.auditor" in text


def discover_config(folder: Path | None = None) -> Path | None:
    """The config nearest to `folder` (default: the working directory), walking up to the root: in each folder
    `.auditor.yaml`, else a `pyproject.toml` with a `[tool.auditor]` table. None when no folder has either."""
    start = (folder or Path.cwd()).absolute()
    for here in (start, *start.parents):
        own = here / DISCOVERED[0]
        if own.is_file():
            return own
        pyproject = here / DISCOVERED[1]
        if pyproject.is_file() and _pyproject_with_table(pyproject):
            return pyproject
    return None


def where_found(path: Path, folder: Path | None = None) -> str:
    """'in the working directory' or 'in /srv, a parent of the working directory': how a discovered config was
    found, for `-v`."""
    start = (folder or Path.cwd()).absolute()
    parent = path.absolute().parent
    return "in the working directory" if parent == start else f"in {parent}, a parent of the working directory"
