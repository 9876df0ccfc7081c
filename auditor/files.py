"""Atomic file output: a temporary file in the target's folder, then a rename, so a crash never leaves half a
report (the previous version stays until the new one is complete)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[TextIO]:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


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
