"""Where the config of a run comes from when `--config` is not given: the working directory, as ruff and sqlfluff
find theirs. Kept apart from auditor.config so that a run without any config never loads pydantic."""

from __future__ import annotations

from pathlib import Path

DISCOVERED = (".auditor.yaml", "pyproject.toml")  # looked for in the working directory when --config is absent


def discover_config(folder: Path | None = None) -> Path | None:
    """The config of the working directory, as ruff and sqlfluff find theirs: `.auditor.yaml`, else a
    `pyproject.toml` with a `[tool.auditor]` table. None when there is neither."""
    folder = folder or Path.cwd()
    own = folder / DISCOVERED[0]
    if own.is_file():
        return own
    pyproject = folder / DISCOVERED[1]
    if pyproject.is_file():
        try:
            text = pyproject.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # somebody else's file we cannot read is not ours to fail on
        if "[tool.auditor" in text:
            return pyproject
    return None
